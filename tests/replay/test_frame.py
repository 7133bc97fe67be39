"""pywb's frame around an archived page, as bewaar serves it: the archived page first, the banner
after it; pywb's static files cacheable; nothing of the banner inside a page replayed without
the frame. (What this buys is measured by benchmarks/replay_speed.py, not here.)

Real pywb, a real Chromium, on 127.0.0.1."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bewaar.config import ReplayConfig
from bewaar.model import Root
from bewaar.sites.synth import Synth, post, post_page, profile, profile_page
from crawler.indexer import reindex
from replay.server import ReplayServer

PROFILE = profile()
FIRST, SECOND = post("1", "Een bericht over de Woo"), post("2", "Nog een bericht")
PROFILE_URL = PROFILE["url"]


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    s = Synth(tmp_path_factory.mktemp("frame") / "root")
    s.crawl("2024-05-01T10:00:00Z", [profile_page(PROFILE, FIRST, SECOND), post_page(FIRST), post_page(SECOND)])
    reindex(s.coll)
    return s.root.path


@pytest.fixture(scope="module")
def replay(root: Path) -> Iterator[str]:
    with ReplayServer(Root(root), ReplayConfig(), "127.0.0.1", 0, echo_errors=False) as url:
        yield url


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_pywb_static_files_are_cacheable(replay: str) -> None:
    status, headers, body = _get(f"{replay}/static/vue/vueui.js")
    assert status == 200 and len(body) > 1_000_000  # the banner's 1.5 MB, once per hour at most
    assert "max-age=3600" in headers["Cache-Control"] and headers["ETag"].startswith('"pywb-')
    status, headers, body = _get(f"{replay}/static/wombat.js", {"If-None-Match": headers["ETag"]})
    assert status == 304 and body == b""
    # archived resources keep the headers they were captured with
    status, headers, _ = _get(f"{replay}/gov/2024id_/{PROFILE_URL}")
    assert status == 200 and "pywb-" not in headers.get("ETag", "")


def test_a_page_without_the_frame_gets_no_banner_scripts(replay: str) -> None:
    """pywb puts its banner template into the head of every page replayed without the frame,
    where nothing starts the banner: 1.5 MB of script and Bootstrap's styles the page never had."""
    status, _, body = _get(f"{replay}/gov/2024mp_/{PROFILE_URL}")
    html = body.decode()
    assert status == 200 and "wombat.js" in html
    assert "vueui.js" not in html and "bootstrap" not in html and "banner_info" not in html
    frame_status, _, frame = _get(f"{replay}/gov/2024/{PROFILE_URL}")
    assert frame_status == 200 and b"vueui.js" in frame  # the frame itself still has its banner


def test_the_archived_page_loads_first_and_the_banner_follows_it(replay: str, browser: Any) -> None:
    page = browser.new_page()
    order: list[str] = []
    page.on("request", lambda r: order.append(r.url))
    try:
        page.goto(f"{replay}/gov/2024/{PROFILE_URL}", wait_until="load")
        frame = page.frame_locator("#replay_iframe")
        frame.locator("body").wait_for(timeout=30000)
        # the banner attaches to the frame once the archived page is quiet
        page.wait_for_function("window.cframe && window.cframe.wbBanner && window.WBBanner", timeout=30000)
        for _ in range(300):  # the banner asks pywb for the page's captures, for its timeline
            if any("/gov/cdx?" in u for u in order):
                break
            page.wait_for_timeout(100)
        archived = next(i for i, u in enumerate(order) if "mp_/" in u)
        banner = next(i for i, u in enumerate(order) if u.endswith("/vue/vueui.js"))
        captures = next(i for i, u in enumerate(order) if "/gov/cdx?" in u)
        assert archived < banner < captures, order
        # a link followed inside the frame reaches the banner (ContentFrame passes it on)
        inner = next(f for f in page.frames if "mp_/" in f.url)
        inner.evaluate("(u) => { window.WB_wombat_location.href = u; }", FIRST["url"])  # as the page's own script
        page.wait_for_function("(u) => window.cframe.last_url === u", arg=FIRST["url"], timeout=30000)
        assert FIRST["url"] in page.url  # the top frame's address follows the archived page
        page.wait_for_function("window.WBBanner.lastSurt.endsWith(')/@minbzk/1')", timeout=30000)
    finally:
        page.close()


def test_framed_replay_can_be_turned_off_through_replay_pywb(root: Path, tmp_path: Path) -> None:
    """`bewaar qa` and anyone with `replay.pywb: {framed_replay: false}` get the page alone."""
    cfg = ReplayConfig.model_validate({"pywb": {"framed_replay": False}})
    with ReplayServer(Root(root), cfg, "127.0.0.1", 0, state=tmp_path / "state", echo_errors=False) as url:
        status, _, body = _get(f"{url}/gov/2024/{PROFILE_URL}")
    assert status == 200 and b"replay_iframe" not in body and b"vueui.js" not in body
    assert yaml.safe_load((tmp_path / "state" / "config.yaml").read_text())["framed_replay"] is False

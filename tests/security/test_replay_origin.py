"""Replay is where archived JavaScript runs, so it is attacked from there: pywb's own pages must
not reflect a request URL into a script (its 2.10 frame template did), and a replayed page must
get nothing from the overview, which lives on another origin.

Real pywb, a real Chromium, real servers on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bewaar.config import ReplayConfig
from bewaar.sites.synth import Synth, post, post_page, profile, profile_page
from crawler.indexer import reindex
from replay.server import ReplayServer

XSS_PATHS = [
    # the reported one: the decoded URL closed pywb's inline script string
    '/gov/2024/http://x/%22%3E%3Cscript%3Ealert(1)%3C/script%3E',
    '/gov/2024/http://x/%3C/script%3E%3Cscript%3Ealert(2)%3C/script%3E',
    "/gov/2024/http://x/%27%3E%3Cimg%20src=x%20onerror=alert(3)%3E",
    '/gov/2024/http://x/%22);alert(4);//',
    "/gov/2024/http://x/\\u0022);alert(5);//",
    '/gov/*/http://x/%22%3E%3Cscript%3Ealert(6)%3C/script%3E',
    '/gov/2024/http://x/%22%3E%3Csvg%20onload=alert(7)%3E#%22%3E%3Cscript%3Ealert(8)%3C/script%3E',
]


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    s = Synth(tmp_path_factory.mktemp("replay-origin") / "root")
    a = post("1", "Een bericht")
    s.crawl("2024-05-01T10:00:00Z", [profile_page(profile(), a), post_page(a)])
    reindex(s.coll)
    return s.root.path


@pytest.fixture(scope="module")
def replay(synth_root: Path) -> Iterator[str]:
    from bewaar.model import Root

    with ReplayServer(Root(synth_root), ReplayConfig(), "127.0.0.1", 0, echo_errors=False) as url:
        yield url


@pytest.mark.parametrize("path", XSS_PATHS)
def test_no_request_url_reaches_a_replay_page_unescaped(replay: str, browser: Any, path: str) -> None:
    page = browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        resp = page.goto(replay + path, wait_until="load")
        assert resp is not None and resp.status < 500
        page.wait_for_timeout(300)
        injected = page.evaluate(
            """() => [
                ...[...document.scripts].filter(s => /^\\s*alert\\(/.test(s.textContent)),
                ...document.querySelectorAll('img[onerror], svg[onload], [onload*=alert]'),
            ].map(e => e.outerHTML)"""
        )
        frames = [f.url for f in page.frames]
    finally:
        page.close()
    assert dialogs == [], (path, dialogs)
    assert injected == [], (path, injected)
    assert all("javascript:" not in u for u in frames)

"""`bewaar demo` as a user runs it: the whole story on 127.0.0.1, and stopping it.

One run of the demo (module fixture) is checked while it serves: what it printed (the changes
between its two crawls, the QA scores, the verification), the overview it serves (posts of both
platform accounts, the edited and the deleted post, the QA column), the package (verified again
here by `bewaar verify`) and the ReplayWeb.page link (opened in Chromium, replaying a post from
the package). Then SIGTERM stops it: exit 130, no traceback, no port left listening. Two more
runs are stopped mid-crawl, by SIGTERM and by a terminal's Ctrl-C (SIGINT to its process group).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from bewaar.errors import INTERRUPTED
from tests.conftest import BIN, free_port, run_bewaar
from tests.replaywebpage import Viewer, frame_text

pytestmark = pytest.mark.slow

SERVING = "press Ctrl-C to stop"
EDITED_POST = "1790000000000000004"
DELETED_POST = "1790000000000000006"
STOP_WITHIN_S = 40  # a crawl gets 10 s to finish its pages, then a second SIGTERM


@dataclass
class Demo:
    root: Path
    proc: subprocess.Popen[str]
    out_path: Path
    err_path: Path

    @property
    def out(self) -> str:
        return self.out_path.read_text(encoding="utf-8", errors="replace")

    @property
    def err(self) -> str:
        return self.err_path.read_text(encoding="utf-8", errors="replace")

    def url(self, label: str) -> str:
        m = re.search(rf"^{label}:\s+(http://\S+)", self.out, re.M)
        assert m, f"no {label} URL in:\n{self.out}"
        return m.group(1)

    def ports(self) -> set[int]:
        """Every port the demo said it serves on (sites, TSA, replay, overview, viewer)."""
        return {int(p) for p in re.findall(r"http://127\.0\.0\.1:(\d+)", self.out)}


def start_demo(tmp: Path) -> Demo:
    out, err = tmp / "stdout.txt", tmp / "stderr.txt"
    env = dict(os.environ)
    env.pop("BEWAAR_DEBUG", None)
    proc = subprocess.Popen(
        [str(BIN), "demo", "--root", str(tmp / "root"), "--port", str(free_port())],
        stdout=out.open("w"), stderr=err.open("w"), text=True, env=env,
        start_new_session=True,  # its own process group, as in a terminal: Ctrl-C reaches it all
    )  # fmt: skip
    return Demo(tmp / "root", proc, out, err)


def wait_for(demo: Demo, text: str, where: str = "out", timeout: float = 420) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in (demo.out if where == "out" else demo.err):
            return
        if demo.proc.poll() is not None:
            raise AssertionError(f"demo exited ({demo.proc.returncode}) before {text!r}:\n{demo.out}\n{demo.err[-3000:]}")
        time.sleep(0.2)
    demo.proc.kill()
    raise AssertionError(f"no {text!r} within {timeout} s:\n{demo.out}\n{demo.err[-3000:]}")


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def processes_naming(text: str) -> list[str]:
    """Command lines of live processes that mention TEXT (the demo's root: its child steps)."""
    found = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmd and "pytest" not in cmd:
            found.append(f"{p.name}: {cmd[:200]}")
    return found


def assert_stopped_cleanly(demo: Demo, ports: set[int]) -> None:
    try:
        code = demo.proc.wait(STOP_WITHIN_S)
    except subprocess.TimeoutExpired:
        demo.proc.kill()
        raise AssertionError(f"demo still running {STOP_WITHIN_S} s after the signal:\n{demo.err[-3000:]}") from None
    err = demo.err
    assert code == INTERRUPTED, err[-3000:]
    assert "Traceback" not in err, err
    assert err.rstrip().endswith("bewaar: interrupted; files already finished are kept"), err[-2000:]
    assert ports and not [p for p in ports if listening(p)], f"still listening: {[p for p in ports if listening(p)]}"
    assert not processes_naming(str(demo.root)), processes_naming(str(demo.root))


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as resp:
        assert resp.status == 200
        return resp.read().decode("utf-8")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    d = start_demo(tmp_path_factory.mktemp("demo"))
    try:
        wait_for(d, SERVING)
        yield d
    finally:
        if d.proc.poll() is None:
            d.proc.kill()
            d.proc.wait()


def test_demo_tells_the_story(demo: Demo) -> None:
    out = demo.out
    for step in range(1, 7):
        assert f"[{step}/6]" in out
    assert re.search(r"^Fixture site \(mastodon\): http://127\.0\.0\.1:\d+", out, re.M)
    assert re.search(r"^Fixture site \(x\): http://127\.0\.0\.1:\d+", out, re.M)
    # the changes between the two crawls, with links into the replay the demo serves
    replay = demo.url("Replay")
    replay_base = replay.split("/demo/")[0]
    for kind, post in (("edited", EDITED_POST), ("deleted", DELETED_POST)):
        assert re.search(rf"mastodon:\S+ {kind} +{post} ", out), out
    assert "{+jaarverslag+}" in out
    assert f"replay: {replay_base}/demo/" in out
    # the crawl summaries say the same
    assert re.search(r"catalog: mastodon:\S+: 1 new, 1 edited, 1 deleted", demo.err)
    # QA scores of the second crawl, for both accounts
    qa = {a: (float(mean), float(low))
          for a, mean, low in re.findall(r"QA (\S+): \d+ page\(s\), mean ([\d.]+), lowest ([\d.]+)", out)}
    assert any(a.startswith("mastodon:") for a in qa) and any(a.startswith("x:") for a in qa), out
    assert all(0 < low <= mean <= 1 for mean, low in qa.values()), qa
    # a signed, timestamped package, and everything verified
    # a WARC file per account and crawl: two accounts, two crawls
    assert re.search(r"wrote \S+demo\.wacz: 4 WARC file\(s\), \d+ page\(s\), signed; timestamp granted", out)
    # pywb's access log (a line per record lookup) is not echoed to the terminal
    assert "resource/postreq" not in out + demo.err
    m = re.search(r"verify: (\d+) of (\d+) checks passed", out)
    assert m and m.group(1) == m.group(2) and int(m.group(1)) > 10, out
    assert "(answers)" in out


def test_overview_shows_both_accounts_posts_changes_and_qa(demo: Demo) -> None:
    overview = demo.url("Overview")
    html = get(overview)
    assert "mastodon:minbzk@" in html and "x:MinBZK" in html
    platforms = set(re.findall(r'<td data-label="Platform">(\w+)</td>', html))
    assert platforms == {"mastodon", "x"}, platforms
    edited = re.findall(r'<td data-label="Edited">(\d+)</td>', html)
    deleted = re.findall(r'<td data-label="Deleted">(\d+)</td>', html)
    assert sorted(edited) == ["0", "1"] and sorted(deleted) == ["0", "1"], (edited, deleted)
    scores = re.findall(r'<td data-label="QA"><span class="qa[^"]*"[^>]*>([\d.]+)</span>', html)
    assert len(scores) == 2, html[:3000]
    # posts of both platforms are listed
    posts = re.findall(r'<li class="post[^"]*" data-post-id="(\d+)">.*?<span class="sub">(\w+)</span>', html, re.S)
    assert {p for _, p in posts} == {"mastodon", "x"}, posts
    # the changes, filtered as a reader would
    page = get(f"{overview}?change=edited")
    assert f'data-post-id="{EDITED_POST}"' in page and "jaarverslag" in page
    page = get(f"{overview}?change=deleted")
    assert re.search(rf'class="post is-deleted" data-post-id="{DELETED_POST}"', page), page[:3000]


def test_package_verifies(demo: Demo) -> None:
    m = re.search(r"^Package:\s+(\S+\.wacz)$", demo.out, re.M)
    assert m, demo.out
    proc = run_bewaar("verify", "--root", str(demo.root), m.group(1), timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "[FAIL" not in proc.stdout


class PrintedViewer:
    """The viewer the demo serves, opened at the links it printed."""

    def __init__(self, link: str) -> None:
        self.link = link

    def view_url(self, name: str, url: str | None = None, ts: str | None = None) -> str:
        return self.link


def test_replaywebpage_link_replays_a_post_of_the_package(demo: Demo, chromium_browser: Any) -> None:
    link = demo.url("ReplayWeb.page")
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/view/demo-\w+\.wacz", link), link
    site = demo.url(r"Fixture site \(mastodon\)")
    post_link = demo.url(r"  edited post")
    assert post_link == f"{link}?{urlencode({'url': f'{site}/@minbzk/{EDITED_POST}'})}"
    context = chromium_browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        viewer = Viewer(PrintedViewer(post_link), context)  # type: ignore[arg-type]
        page, frame, _ = viewer.open("", "")
        deadline = time.monotonic() + 30
        while "open data" not in frame_text(frame, 5000) and time.monotonic() < deadline:
            page.wait_for_timeout(250)
        assert "open data" in frame_text(frame, 5000), frame_text(frame)
        page.close()
    finally:
        context.close()


def test_sigterm_while_serving_stops_everything(demo: Demo) -> None:
    ports = demo.ports()
    assert len(ports) >= 6 and all(listening(p) for p in ports), ports  # 2 sites, TSA, 3 servers
    demo.proc.send_signal(signal.SIGTERM)
    assert_stopped_cleanly(demo, ports)


@pytest.mark.parametrize("how", ["SIGTERM", "Ctrl-C"])
def test_interrupt_mid_crawl_stops_everything(how: str, tmp_path: Path) -> None:
    demo = start_demo(tmp_path)
    try:
        wait_for(demo, "[1/6]")
        wait_for(demo, " done, ", where="err", timeout=180)  # the crawl stored its first page
        ports = demo.ports()
        assert any(listening(p) for p in ports)
        if how == "SIGTERM":
            demo.proc.send_signal(signal.SIGTERM)
        else:  # a terminal sends SIGINT to its foreground process group
            os.killpg(demo.proc.pid, signal.SIGINT)
        assert_stopped_cleanly(demo, ports)
        assert "[2/6]" not in demo.out
    finally:
        if demo.proc.poll() is None:
            demo.proc.kill()
            demo.proc.wait()


def test_demo_refuses_a_root_it_did_not_make(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    proc = run_bewaar("demo", "--root", str(tmp_path), "--no-serve", timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("bewaar: error: ") and "was not made by `bewaar demo`" in proc.stderr
    assert (tmp_path / "notes.txt").read_text() == "mine"

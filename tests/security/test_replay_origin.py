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


# --------------------------------------------------------------------------- the overview's origin

# Archived JavaScript that tries to read and drive the overview. pywb's wombat rewrites the
# page's own fetch/iframe/window.open into the archive, so the script steps around it the way
# an attacker would (a blob: frame is a document of the replay origin without wombat), and
# does everything twice: against the overview, and against a page of the replay origin itself
# (the control: it shows the same code does read and drive a page it is allowed to).
ATTACK = """<!doctype html><html><head><title>archived page</title></head><body>
<pre id="out"></pre>
<script>
const TARGETS = {overview: "__OV__", control: "__REPLAY__gov/"};
const PROBE = `
const sleep = ms => new Promise(r => setTimeout(r, ms));
async function read(url) {
  const got = {};
  try { const r = await fetch(url, {credentials: "include"}); got.fetch = (await r.text()).slice(0, 4000); }
  catch (e) { got.fetch = "ERR " + e; }
  const f = document.createElement("iframe"); f.src = url; document.body.append(f);
  await sleep(2500);
  try { got.iframe = f.contentDocument.documentElement.outerHTML.slice(0, 4000); } catch (e) { got.iframe = "ERR " + e; }
  try { f.contentWindow.location.href = url + "?driven=1"; got.iframe_drive = String(f.contentWindow.location.href); }
  catch (e) { got.iframe_drive = "ERR " + e; }
  const w = window.open(url);
  await sleep(2500);
  try { got.open = w.document.documentElement.outerHTML.slice(0, 4000); } catch (e) { got.open = "ERR " + e; }
  try { w.document.title = "driven"; got.open_drive = w.document.title; } catch (e) { got.open_drive = "ERR " + e; }
  try { w.close(); } catch (e) {}
  return got;
}
(async () => {
  const out = {};
  for (const [name, url] of Object.entries(TARGETS)) out[name] = await read(url);
  parent.postMessage({bewaarProbe: out}, "*");
})();`;
addEventListener("message", e => {
  if (e.data && e.data.bewaarProbe) document.getElementById("out").textContent = JSON.stringify(e.data.bewaarProbe);
});
const f = document.createElement("iframe");
f.src = URL.createObjectURL(new Blob(["<body><script>const TARGETS = " + JSON.stringify(TARGETS) + ";" +
  PROBE + "<" + "/script></body>"], {type: "text/html"}));
document.body.append(f);
</script></body></html>"""


def _port_pair() -> int:
    """A free port whose next port is free too (replay, and the overview on port + 1)."""
    import socket

    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with socket.socket() as t:
            try:
                t.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise AssertionError("no two free ports in a row")


def test_archived_javascript_gets_nothing_from_the_overview(tmp_path: Path, browser: Any) -> None:
    import json
    import time
    import urllib.request

    from bewaar.app.serve import Servers
    from bewaar.model import Root
    from bewaar.sites.synth import _exchange
    from catalog.api import update_after_crawl
    from crawler.warc_writer import WarcFiles, warcinfo_fields

    port = _port_pair()
    overview = f"http://127.0.0.1:{port + 1}/_overview/"
    s = Synth(tmp_path / "root")
    a = post("1", "Een bericht over de Woo")
    update_after_crawl(s.root.path, "gov", s.crawl("2024-05-01T10:00:00Z", [profile_page(profile(), a), post_page(a)]))
    page_html = ATTACK.replace("__OV__", overview).replace("__REPLAY__", f"http://127.0.0.1:{port}/")
    files = WarcFiles(s.coll, "attack", warcinfo_fields("bewaar/test", {}))
    files.write_page(
        [_exchange("http://attacker.example/", 200, page_html.encode(), "text/html", time.time(), main=True)],
        main_url="http://attacker.example/",
    )
    files.close()
    reindex(s.coll)
    with Servers(Root(s.root.path), ReplayConfig(), "127.0.0.1", port, None) as (replay, served):
        assert served == overview  # the overview's own origin: the next port
        with urllib.request.urlopen(overview, timeout=30) as resp:  # it is there to be stolen
            assert b"bewaar \xc2\xb7 overview" in resp.read()
        page = browser.new_page()
        try:
            page.goto(f"{replay}/gov/2024/http://attacker.example/", wait_until="load")
            out = page.frame_locator("#replay_iframe").locator("#out")
            out.filter(has_text="{").wait_for(timeout=60000)
            got = json.loads(out.inner_text())
        finally:
            for p in page.context.pages:
                if p is not page:
                    p.close()
            page.close()
    control, stolen = got["control"], got["overview"]
    # the control: the very same code reads and drives a page of the origin it runs on
    assert "<html" in control["fetch"].lower() and "<html" in control["iframe"].lower(), control
    assert "<html" in control["open"].lower() and control["open_drive"] == "driven", control
    # the overview: nothing read, nothing driven
    for how, result in stolen.items():
        assert "overview" not in result.lower() or result.startswith("ERR"), (how, result)
        assert "Een bericht" not in result, (how, result)
    assert stolen["fetch"].startswith("ERR"), stolen
    assert stolen["iframe"].startswith("ERR") and stolen["open"].startswith("ERR"), stolen
    assert stolen["open_drive"].startswith("ERR") and stolen["iframe_drive"].startswith("ERR"), stolen


def test_replay_server_in_process_survives_pywb_output(replay_root_server: tuple[str, Any]) -> None:
    """pywb writes a line to stderr for every request; an in-process ReplayServer (the demo,
    tests) reads it as it comes. 400 requests put about 13 pipe buffers through
    stderr (each line names the 2 KB URL): undrained, pywb froze after about 200."""
    import http.client

    url, server = replay_root_server
    port = int(url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        for i in range(400):
            conn.request("GET", f"/gov/2024mp_/http://x.example/{i}/" + "a" * 2000)
            resp = conn.getresponse()
            resp.read()
            assert resp.status in (200, 404), resp.status
    finally:
        conn.close()
    with __import__("urllib.request").request.urlopen(url + "/gov/", timeout=30) as resp:
        assert resp.status == 200
    assert server.proc is not None and server.proc.poll() is None
    # the output was really read: the last lines name the last requests
    assert any("%2F399%2F" in line for line in server.output), list(server.output)[-3:]


@pytest.fixture(scope="module")
def replay_root_server(synth_root: Path) -> Iterator[tuple[str, Any]]:
    from bewaar.model import Root

    server = ReplayServer(Root(synth_root), ReplayConfig(), "127.0.0.1", 0, echo_errors=False)
    with server as url:
        yield url, server

"""ReplayWeb.page in the test browser, for the export's WACZ.

Serves ReplayWeb.page's own `ui.js` and `sw.js` (npm package `replaywebpage`, unpacked by
`make test-tools` into .venv/replaywebpage/package) and WACZ files from 127.0.0.1 with byte
ranges (wabac.js reads a WACZ by ranges), and a page that embeds
`<replay-web-page source=... url=...>`. The replayed page is the nested frame whose URL
contains `mp_/`; the first load only installs the service worker.

The interface (`add(path) -> name`, `open(name, url) -> (page, frame, failed requests)`) is
the one of the shared harness tests/replaywebpage.py being written on another branch, so the
export test can switch to it when that lands.
"""

from __future__ import annotations

import html
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.conftest import REPO

RWP_DIR = REPO / ".venv" / "replaywebpage" / "package"
FRAME_TIMEOUT_S = 60
PAGE = """<!doctype html><html><head><meta charset="utf-8"><script src="/ui.js"></script></head>
<body style="margin:0"><replay-web-page style="width:100vw;height:100vh;display:block"
source="{source}" url="{url}" replayBase="/replay/" embed="replay-with-info"></replay-web-page></body></html>"""


def rwp_files() -> Path:
    if not (RWP_DIR / "ui.js").is_file() or not (RWP_DIR / "sw.js").is_file():
        raise AssertionError(
            f"ReplayWeb.page is not installed in {RWP_DIR}: run `make test-tools` "
            "(npm pack replaywebpage) — it is a dependency of the export tests"
        )
    return RWP_DIR


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    files: dict[str, Path] = {}  # noqa: RUF012 - set per server class below

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        path = self.path.split("?")[0]
        if path.startswith("/page/"):
            name, _, url = path[len("/page/"):].partition("/")
            body = PAGE.format(source=f"/w/{html.escape(name)}", url=html.escape(url, quote=True)).encode()
            return self._send(200, body, "text/html; charset=utf-8")
        if path in ("/ui.js", "/sw.js", "/replay/sw.js"):
            data = (rwp_files() / path.rsplit("/", 1)[-1]).read_bytes()
            return self._send(200, data, "application/javascript", {"Service-Worker-Allowed": "/"})
        if path.startswith("/w/") and path[3:] in self.files:
            return self._range(self.files[path[3:]])
        return self._send(404, b"not found", "text/plain")

    def do_HEAD(self) -> None:  # noqa: N802
        path = self.path.split("?")[0]
        if path.startswith("/w/") and path[3:] in self.files:
            size = self.files[path[3:]].stat().st_size
            self.send_response(200)
            for k, v in (("Content-Length", str(size)), ("Accept-Ranges", "bytes"),
                         ("Content-Type", "application/wacz")):  # fmt: skip
                self.send_header(k, v)
            self.end_headers()
        else:
            self._send(404, b"", "text/plain")

    def _range(self, file: Path) -> None:
        size = file.stat().st_size
        m = re.fullmatch(r"bytes=(\d*)-(\d*)", self.headers.get("Range", ""))
        if not m:
            return self._send(200, file.read_bytes(), "application/wacz", {"Accept-Ranges": "bytes"})
        start = int(m.group(1)) if m.group(1) else max(0, size - int(m.group(2)))
        end = int(m.group(2)) if m.group(1) and m.group(2) else size - 1
        end = min(end, size - 1)
        with file.open("rb") as fh:
            fh.seek(start)
            data = fh.read(end - start + 1)
        self._send(206, data, "application/wacz",
                   {"Content-Range": f"bytes {start}-{end}/{size}", "Accept-Ranges": "bytes"})  # fmt: skip

    def _send(self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)


class ReplayWebPage:
    """`with ReplayWebPage(context) as rwp: name = rwp.add(wacz); rwp.open(name, url)`."""

    def __init__(self, context: Any) -> None:
        rwp_files()
        handler = type("Handler", (_Handler,), {"files": {}})
        self.files: dict[str, Path] = handler.files
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.context = context
        self.warm = False

    def __enter__(self) -> ReplayWebPage:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add(self, wacz: Path) -> str:
        name = f"{len(self.files)}-{wacz.name}"
        self.files[name] = wacz
        return name

    def open(self, name: str, url: str) -> tuple[Any, Any, list[str]]:
        if not self.warm:
            page, _frame, _failed = self._open(name, url)  # installs the service worker
            page.close()
            self.warm = True
        return self._open(name, url)

    def _open(self, name: str, url: str) -> tuple[Any, Any, list[str]]:
        page = self.context.new_page()
        failed: list[str] = []
        page.on("requestfailed", lambda r: failed.append(f"{r.url} {r.failure}")
                if "ERR_ABORTED" not in str(r.failure) else None)  # fmt: skip
        page.goto(f"{self.base}/page/{name}/{url}")
        deadline = time.monotonic() + FRAME_TIMEOUT_S
        while time.monotonic() < deadline:
            frame = next((f for f in page.frames if "mp_/" in f.url), None)
            if frame is not None:
                try:
                    frame.wait_for_load_state("load", timeout=15000)
                    return page, frame, failed
                except Exception:  # noqa: BLE001 - the frame navigated meanwhile: look again
                    pass
            page.wait_for_timeout(250)
        raise AssertionError(f"ReplayWeb.page showed no replayed frame for {url}: frames {[f.url for f in page.frames]}")

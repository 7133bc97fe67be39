"""Open WACZ packages in ReplayWeb.page, served from 127.0.0.1.

ReplayWeb.page is static: `ui.js` (the `<replay-web-page>` element) and `sw.js` (a service worker
running wabac.js, which reads the WACZ by HTTP range requests and replays it inside the browser).
A page must be served over http(s) for the service worker to register, and the WACZ must be
served with byte ranges; `file://` and `python -m http.server` (no ranges) both fail. This module
is that small server: the viewer files bewaar setup installed, one page per package, and the
packages themselves. It is written on the standard library because all it does is serve files
with single byte ranges.

`bewaar view PACKAGE.wacz…` runs it for a person; the tests run it to replay every package bewaar
writes in the real viewer.
"""

from __future__ import annotations

import argparse
import errno
import hashlib
import html
import json
import re
import sys
import threading
import zipfile
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from bewaar.environment import REPLAYWEBPAGE_VERSION, find_replaywebpage
from bewaar.errors import EnvironmentProblem, InputError

CHUNK = 256 * 1024
RANGE = re.compile(r"bytes=(\d*)-(\d*)$")
PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} — ReplayWeb.page</title>
<script src="/ui.js"></script>
<style>html, body {{ margin: 0; height: 100%; }}
replay-web-page {{ display: block; width: 100%; height: 100vh; }}</style>
</head><body>
<replay-web-page {attrs}></replay-web-page>
</body></html>
"""
# What /replay/ answers until the service worker controls it. ReplayWeb.page reloads its frame
# only three times, 100 ms apart, waiting for a worker that can take longer than that to start
# on a busy machine (sw.js is 1.2 MB of JavaScript), and then shows this server's answer for
# good. This page waits for the worker and reloads once it is ready; for 20 s at most, so a
# worker that is ready but does not serve /replay/ shows this page instead of reloading forever.
STARTING = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Starting ReplayWeb.page</title></head>
<body><p>Starting ReplayWeb.page…</p><script>
const key = "bewaar-replaywebpage-starting", now = Date.now();
let since = Number(sessionStorage.getItem(key) || 0);
if (!since || now - since > 60000) { since = now; sessionStorage.setItem(key, String(now)); }
if ("serviceWorker" in navigator && now - since < 20000) {
  navigator.serviceWorker.ready.then(() => setTimeout(() => location.reload(), 200));
}
</script></body></html>
"""
INDEX = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>WACZ packages — ReplayWeb.page</title></head>
<body><h1>WACZ packages</h1><p>Opened in ReplayWeb.page {version}, served from this machine.</p>
<ul>{items}</ul></body></html>
"""


@dataclass(frozen=True)
class Package:
    name: str  # the name in URLs: the file's stem plus a fingerprint of this version of the file
    path: Path
    title: str


def _fingerprint(path: Path) -> str:
    """Changes when the file does (size, time, inode), without reading gigabytes: ReplayWeb.page
    keeps what it learned about a source URL in the browser, so a rewritten package gets a new URL."""
    st = path.stat()
    key = f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}:{path.resolve()}"
    return hashlib.sha256(key.encode()).hexdigest()[:10]


def _title(path: Path) -> str:
    """The package's datapackage.json title, else its file name."""
    try:
        with zipfile.ZipFile(path) as z:
            title = json.loads(z.read("datapackage.json")).get("title")
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return path.name
    return str(title) if title else path.name


class ReplayWebPage:
    """`with ReplayWebPage() as rwp: rwp.add(path); rwp.view_url(name, url)`.

    Serves /ui.js, /replay/sw.js (the service worker's scope is /replay/), /view/NAME (a page with
    `<replay-web-page source=… url=…>`), /wacz/NAME (the package, with byte ranges) and / (a list)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, viewer: Path | None = None) -> None:
        self.viewer = viewer or find_replaywebpage()
        self.host = host
        self.port = port
        self.packages: dict[str, Package] = {}
        # (method, path, status) of recent requests: what the tests see wabac.js ask for
        self.requests: deque[tuple[str, str, int]] = deque(maxlen=100_000)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- packages ------------------------------------------------------------------------
    def add(self, wacz: Path, title: str | None = None) -> str:
        """Serve a package; returns its name in URLs."""
        path = Path(wacz).resolve()
        if not path.is_file():
            raise InputError(f"{wacz}: no such file")
        if not zipfile.is_zipfile(path):
            raise InputError(f"{wacz} is not a WACZ package (not a zip file)")
        stem = re.sub(r"[^A-Za-z0-9._-]+", "-", path.name.removesuffix(".wacz")) or "package"
        name = f"{stem}-{_fingerprint(path)}.wacz"
        self.packages[name] = Package(name, path, title or _title(path))
        return name

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def source_url(self, name: str) -> str:
        return f"{self.url}/wacz/{quote(name)}"

    def view_url(self, name: str, url: str | None = None, ts: str | None = None, embed: str | None = None) -> str:
        """The page that opens package `name` in ReplayWeb.page, at `url` if given (else its
        list of pages)."""
        query = {k: v for k, v in (("url", url), ("ts", ts), ("embed", embed)) if v}
        return f"{self.url}/view/{quote(name)}" + (f"?{urlencode(query)}" if query else "")

    # -- server --------------------------------------------------------------------------
    def start(self) -> ReplayWebPage:
        handler = _handler(self)
        try:
            self._server = _Server((self.host, self.port), handler)
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise EnvironmentProblem(
                    f"port {self.port} on {self.host} is in use: pick another with --port"
                ) from None
            raise EnvironmentProblem(f"cannot serve on {self.host}:{self.port}: {e.strerror}") from None
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait(self) -> None:
        """Block until stopped (Ctrl-C or SIGTERM raise KeyboardInterrupt in the main thread)."""
        assert self._thread is not None
        while self._thread.is_alive():
            self._thread.join(0.5)

    def __enter__(self) -> ReplayWebPage:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # a browser cancelling a range read mid-way is normal: no traceback for it
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


def _handler(app: ReplayWebPage) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "bewaar-replaywebpage"

        def log_message(self, *args: Any) -> None:  # quiet: the command says what it serves
            pass

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            path = parts.path
            if path in ("/ui.js", "/replay/ui.js", "/replay/sw.js"):
                # the replay frame's own page (made by the service worker) loads ./ui.js too
                self._file(app.viewer / path.rsplit("/", 1)[-1], "application/javascript")
            elif path in ("/replay/", "/replay/index.html"):
                self._send(404, STARTING.encode(), "text/html; charset=utf-8")
            elif path == "/favicon.ico":
                self._send(204, b"", "image/x-icon")
            elif path.startswith("/wacz/") and path[6:] in app.packages:
                self._file(app.packages[path[6:]].path, "application/wacz", ranges=True)
            elif path.startswith("/view/") and path[6:] in app.packages:
                self._view(app.packages[path[6:]], parse_qs(parts.query))
            elif path in ("/", "/index.html"):
                items = "".join(
                    f'<li><a href="/view/{quote(p.name)}">{html.escape(p.title)}</a> '
                    f"({html.escape(str(p.path))})</li>"
                    for p in app.packages.values()
                )
                self._send(200, INDEX.format(version=REPLAYWEBPAGE_VERSION, items=items).encode(),
                           "text/html; charset=utf-8")
            else:
                self._send(404, b"not found\n", "text/plain")

        def _view(self, pkg: Package, query: dict[str, list[str]]) -> None:
            attrs = {"source": app.source_url(pkg.name), "replaybase": "/replay/"}
            for key in ("url", "ts", "embed"):
                if query.get(key):
                    attrs[key] = query[key][0]
            text = PAGE.format(
                title=html.escape(pkg.title),
                attrs=" ".join(f'{k}="{html.escape(v)}"' for k, v in attrs.items()),
            )
            self._send(200, text.encode(), "text/html; charset=utf-8")

        def _send(self, status: int, body: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            app.requests.append((self.command, self.path, status))
            if self.command != "HEAD":
                self.wfile.write(body)

        def _file(self, path: Path, ctype: str, ranges: bool = False) -> None:
            size = path.stat().st_size
            start, end, status = 0, size - 1, 200
            rng = self.headers.get("Range") if ranges else None
            m = RANGE.match(rng.strip()) if rng else None
            if m and (m.group(1) or m.group(2)):
                if m.group(1):
                    start = int(m.group(1))
                    end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
                else:  # a suffix: the last N bytes
                    start = max(size - int(m.group(2)), 0)
                if start >= size or start > end:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{size}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    app.requests.append((self.command, self.path, 416))
                    return
                status = 206
            length = end - start + 1
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(length))
            if ranges:
                self.send_header("Accept-Ranges", "bytes")
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.end_headers()
            app.requests.append((self.command, self.path, status))
            if self.command == "HEAD":
                return
            with path.open("rb") as fh:
                fh.seek(start)
                left = length
                while left > 0:
                    chunk = fh.read(min(CHUNK, left))
                    if not chunk:
                        break
                    self.wfile.write(chunk)
                    left -= len(chunk)

    return Handler


# ------------------------------------------------------------------------------- command
def cmd_view(args: argparse.Namespace) -> int:
    rwp = ReplayWebPage(args.host, args.port)
    names = [rwp.add(Path(p)) for p in args.packages]
    rwp.start()
    try:
        print(f"ReplayWeb.page {REPLAYWEBPAGE_VERSION} at {rwp.url}/ "
              f"({len(names)} package(s), served from this machine only)")
        for name in names:
            pkg = rwp.packages[name]
            print(f"  {rwp.view_url(name, args.url)}  — {pkg.title} ({pkg.path})")
        print("Press Ctrl-C to stop.", flush=True)
        rwp.wait()
    except KeyboardInterrupt:
        pass
    finally:
        rwp.stop()
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("view", help="open WACZ packages in ReplayWeb.page, served on 127.0.0.1")
    p.add_argument("packages", nargs="+", metavar="PACKAGE.wacz", help="WACZ files to open")
    p.add_argument("--url", help="open this captured URL (default: the package's list of pages)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: not public)")
    p.add_argument("--port", type=int, default=8090, help="port (default 8090; 0 picks a free one)")
    p.set_defaults(func=cmd_view)

"""A small threaded HTTP/1.1 server for fixture sites, bound to 127.0.0.1 only.

Fixture sites behave like real platforms (JSON APIs, POST bodies, gzip, byte ranges,
redirects), so the server answers with exact status lines and headers the test controls.
Written on the standard library so fixtures need nothing beyond Python itself.
"""

from __future__ import annotations

import gzip
import json
import mimetypes
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def arg(self, name: str, default: str | None = None) -> str | None:
        return self.query.get(name, [default])[0]

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    reason: str | None = None
    gzip: bool = False  # compress when the client accepts gzip

    @classmethod
    def html(cls, text: str, status: int = 200, **kw: Any) -> Response:
        return cls(status, text.encode(), [("Content-Type", "text/html; charset=utf-8")], **kw)

    @classmethod
    def json(cls, data: Any, status: int = 200, **kw: Any) -> Response:
        body = json.dumps(data, ensure_ascii=False).encode()
        return cls(status, body, [("Content-Type", "application/json; charset=utf-8")], **kw)

    @classmethod
    def redirect(cls, location: str, status: int = 301) -> Response:
        return cls(status, b"", [("Location", location)])

    @classmethod
    def file(cls, path: Path, content_type: str | None = None, **kw: Any) -> Response:
        ctype = content_type or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return cls(200, path.read_bytes(), [("Content-Type", ctype)], **kw)


Handler = Callable[[Request, re.Match[str]], Response]


class _QuietServer(ThreadingHTTPServer):
    """A browser closing a page mid-download is normal; no traceback for it."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class FixtureServer:
    """Route table + server thread. Routes are (method, path regex, handler)."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host  # another loopback address (127.0.0.2) stands in for an intranet host
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.log: list[tuple[str, str]] = []  # (method, path?query) of every request
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._port = 0  # kept after stop(): tests name URLs of a site that is gone

    def route(self, method: str, pattern: str) -> Callable[[Handler], Handler]:
        def deco(fn: Handler) -> Handler:
            self.routes.append((method.upper(), re.compile(pattern + "$"), fn))
            return fn

        return deco

    @property
    def port(self) -> int:
        assert self._port, "server not started"
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, port: int = 0) -> FixtureServer:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                req = Request(
                    self.command,
                    parts.path,
                    parse_qs(parts.query, keep_blank_values=True),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                server.log.append((self.command, self.path))
                resp = server.dispatch(req)
                self._send(req, resp)

            def _send(self, req: Request, resp: Response) -> None:
                body = resp.body
                headers = list(resp.headers)
                status, reason = resp.status, resp.reason
                if resp.gzip and "gzip" in req.headers.get("accept-encoding", ""):
                    body = gzip.compress(body, mtime=0)
                    headers.append(("Content-Encoding", "gzip"))
                    headers.append(("Vary", "Accept-Encoding"))
                rng = req.headers.get("range")
                if rng and status == 200 and not resp.gzip:
                    m = re.match(r"bytes=(\d*)-(\d*)$", rng.strip())
                    if m:
                        size = len(body)
                        start = int(m.group(1)) if m.group(1) else size - int(m.group(2) or 0)
                        end = int(m.group(2)) if m.group(1) and m.group(2) else size - 1
                        end = min(end, size - 1)
                        if start >= size:
                            status, body = 416, b""
                            headers.append(("Content-Range", f"bytes */{size}"))
                        else:
                            status = 206
                            headers.append(("Content-Range", f"bytes {start}-{end}/{size}"))
                            body = body[start : end + 1]
                if any(k.lower() == "content-type" for k, _ in headers) and status in (200, 206):
                    headers.append(("Accept-Ranges", "bytes"))
                self.send_response(status, reason)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_POST = do_HEAD = do_PUT = do_OPTIONS = _handle

        self._server = _QuietServer((self.host, port), _Handler)
        self._server.daemon_threads = True
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def dispatch(self, req: Request) -> Response:
        method = "GET" if req.method == "HEAD" else req.method
        for m, rx, fn in self.routes:
            if m != method:
                continue
            match = rx.match(req.path)
            if match:
                try:
                    return fn(req, match)
                except Exception as e:  # noqa: BLE001 - a fixture bug shows as a 500, not a hang
                    return Response.html(f"<h1>fixture error</h1><pre>{e!r}</pre>", 500)
        return Response.html("<h1>Not found</h1>", 404)

    def __enter__(self) -> FixtureServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

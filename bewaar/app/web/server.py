"""The web pages bewaar serves itself (the overview; later login and exports), on their own
origin: another port than pywb's replay, so that archived JavaScript replayed on the replay
origin cannot read or drive them (browsers isolate origins by port).

Served with waitress (a production WSGI server, pure Python) in a thread of the `bewaar
replay` process; it stops with that process.
"""

from __future__ import annotations

import threading
from typing import Any

from bewaar.errors import EnvironmentProblem
from bewaar.model import Root

OVERVIEW_PREFIX = "/_overview"


class Dispatch:
    """/_overview to the overview; / redirects there; anything else is 404."""

    def __init__(self, overview: Any) -> None:
        self.overview = overview

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == OVERVIEW_PREFIX or path.startswith(OVERVIEW_PREFIX + "/"):
            return self.overview(environ, start_response)
        if path in ("", "/"):
            start_response("302 Found", [("Location", OVERVIEW_PREFIX + "/"), ("Content-Length", "0")])
            return [b""]
        body = b"not found"
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]


def make_app(root: Root, replay_base: str) -> Any:
    from bewaar.app.web.overview import OverviewApp

    return Dispatch(OverviewApp(root.catalog_file, prefix=OVERVIEW_PREFIX, replay_base=replay_base))


class WebServer:
    """`with WebServer(root, host, port, replay_base) as url:`; port 0 picks a free one."""

    def __init__(self, root: Root, host: str, port: int, replay_base: str) -> None:
        self.root, self.host, self.port, self.replay_base = root, host, port, replay_base
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> str:
        from waitress.server import create_server

        try:
            self._server = create_server(
                make_app(self.root, self.replay_base), host=self.host, port=self.port,
                threads=4, ident="bewaar", clear_untrusted_proxy_headers=True,
            )  # fmt: skip
        except OSError as e:
            raise EnvironmentProblem(
                f"cannot listen on {self.host}:{self.port} for the overview ({e.strerror or e}): "
                "choose another with --overview-port"
            ) from None
        self.port = int(self._server.effective_port)
        self._thread = threading.Thread(target=self._server.run, name="bewaar-web", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


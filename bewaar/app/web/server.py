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
    """/_overview to the overview; / redirects there; anything else is 404. (/_login and
    /_logout are answered by the auth middleware in front of this.)"""

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


def make_app(root: Root, replay_base: str, access: Any = None, mode: str = "open") -> Any:
    """The overview behind sign-in (bewaar/app/web/auth.py) when `access` is given."""
    from bewaar.app.web.overview import OverviewApp

    overview = OverviewApp(root.catalog_file, prefix=OVERVIEW_PREFIX, replay_base=replay_base,
                           access=access)  # fmt: skip
    app: Any = Dispatch(overview)
    if access is not None:
        from bewaar.app.web.auth import AuthMiddleware

        app = AuthMiddleware(app, access, mode, overview.render)
    app.overview = overview
    return app


class WebServer:
    """`with WebServer(root, host, port, replay_base) as url:`; port 0 picks a free one."""

    def __init__(
        self, root: Root, host: str, port: int, replay_base: str, access: Any = None,
        mode: str = "open",
    ) -> None:  # fmt: skip
        self.root, self.host, self.port, self.replay_base = root, host, port, replay_base
        self.access, self.mode = access, mode
        self.app: Any = None
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def set_replay(self, url: str, port: int) -> None:
        """Links into replay (and sign-in's `next`) once pywb has its port."""
        self.replay_base = url
        self.app.overview.set_replay_base(url)
        if hasattr(self.app, "replay_port"):
            self.app.replay_port = port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> str:
        from waitress.server import create_server

        self.app = make_app(self.root, self.replay_base, self.access, self.mode)
        # with trusted proxies configured, bewaar itself takes X-Forwarded-Proto from them
        # only (bewaar/app/web/auth.py); otherwise waitress drops every proxy header
        own_proxies = self.access is not None and bool(self.access.trusted)
        try:
            self._server = create_server(
                self.app, host=self.host, port=self.port,
                threads=4, ident="bewaar", clear_untrusted_proxy_headers=not own_proxies,
            )  # fmt: skip
        except OSError as e:
            raise EnvironmentProblem(
                f"cannot listen on {self.host}:{self.port} for the overview ({e.strerror or e}): "
                "choose another with --overview-port"
            ) from None
        self.port = int(self._server.effective_port)
        if hasattr(self.app, "own_port"):
            self.app.own_port = self.port
        self._thread = threading.Thread(target=self._serve, name="bewaar-web", daemon=True)
        self._thread.start()
        return self.url

    def _serve(self) -> None:
        server = self._server
        try:
            server.run()
        except (OSError, ValueError):
            if self._server is server:  # not closed by stop(): a real failure
                raise
            # closed under its own loop by stop(): waitress's loop ends with a closed socket

    def stop(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            server.close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


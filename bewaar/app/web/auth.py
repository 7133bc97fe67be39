"""Sign-in for bewaar's own pages (and, through the same session, for replay).

/_login shows a form and checks the password (argon2id, in bewaar/app/access/store.py); a
success starts a session: a random token in a cookie (HttpOnly, SameSite=Strict, Secure over
TLS), only its hash stored. /_logout ends it. Failed logins are counted per account and per
address; past the limit (replay.auth.max_failures within lockout_minutes) the form answers
429 without checking the password. Every login, failure and logout is in the audit trail.

The cookie is set by the overview's origin without a Domain, so the browser also sends it to
the replay origin (same host, another port): that is how replay knows the user. Archived
JavaScript running there cannot read it (HttpOnly), and pywb never sees it (the gate removes
it before pywb does). A POST here must come from this origin (Origin / Sec-Fetch-Site), so a
replayed page cannot sign a user in or out.

In header mode the proxy signs users in: there is no form, and a request that did not come
through a trusted proxy gets 401.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from bewaar.app.access import COOKIE, Access, User
from bewaar.app.access.store import AccessStore

StartResponse = Callable[..., Any]
LOGIN, LOGOUT = "/_login", "/_logout"
MAX_FORM = 4096


class AuthMiddleware:
    """Identifies the user of every request (environ["bewaar.user"]) and serves the login
    and logout pages; a request from nobody is sent to the login page."""

    def __init__(self, app: Any, access: Access, mode: str, render: Callable[..., str]) -> None:
        self.app = app
        self.access = access
        self.mode = mode
        self.render = render  # (template, **context) -> HTML
        self.replay_port: int | None = None  # `next` may point at the replay origin
        self.own_port: int | None = None

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == LOGIN:
            if method == "POST":
                return self.login(environ, start_response)
            return self.login_form(environ, start_response)
        if path == LOGOUT:
            return self.logout(environ, start_response)
        if path.startswith("/_overview/static/"):
            return self.app(environ, start_response)
        user, why = self.access.identify(environ, self.mode)
        if user is None:
            if self.mode == "users":
                here = path + ("?" + environ["QUERY_STRING"] if environ.get("QUERY_STRING") else "")
                return _redirect(start_response, f"{LOGIN}?next={quote(here, safe='')}")
            return self._page(start_response, "401 Unauthorized", "Sign-in required",
                              f"Sign in through your organisation's sign-on ({why}).")  # fmt: skip
        environ["bewaar.user"] = user
        environ["bewaar.mode"] = self.mode
        return self.app(environ, start_response)

    # -- pages -------------------------------------------------------------------------
    def login_form(
        self, environ: dict[str, Any], start_response: StartResponse, error: str = "",
        status: str = "200 OK", name: str = "",
    ) -> list[bytes]:  # fmt: skip
        if self.mode != "users":
            why = ("Sign-in is handled by your organisation's sign-on." if self.mode == "header"
                   else "This archive has no accounts: everyone sees what readers may see.")  # fmt: skip
            return self._page(start_response, "404 Not Found", "No sign-in here", why)
        params = parse_qs(environ.get("QUERY_STRING", ""))
        nxt = self._safe_next(environ, (params.get("next") or [""])[-1])
        body = self.render("login.html", error=error, next=nxt, name=name, title="Sign in")
        return _send(start_response, status, body)

    def login(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        if self.mode != "users":
            return self.login_form(environ, start_response)
        if not _same_origin(environ):
            return self._page(
                start_response, "403 Forbidden", "Refused", "A sign-in must come from this page."
            )
        form = _form(environ)
        name = (form.get("name") or "").strip().lower()
        password = form.get("password") or ""
        nxt = self._safe_next(environ, form.get("next") or "")
        address = environ.get("REMOTE_ADDR", "")
        cfg = self.access.cfg
        with AccessStore.open(self.access.root) as store:
            if store.locked_out(name, address, cfg.max_failures, cfg.lockout_minutes):
                self.access.log("login", User(name), name, "locked", address=address)
                return self.login_form(
                    environ, start_response, status="429 Too Many Requests", name=name,
                    error=f"Too many failed sign-ins: try again in {cfg.lockout_minutes} minutes.",
                )  # fmt: skip
            user = store.check_password(name, password) if name and password else None
            if user is None:
                store.record_failure(name, address)
                self.access.log("login", User(name), name, "failed", address=address)
                return self.login_form(environ, start_response, status="401 Unauthorized",
                                       error="Unknown name or wrong password.", name=name)  # fmt: skip
            store.clear_failures(name)
            token = store.new_session(user, cfg.session_hours, address)
        self.access.log("login", user, name, "ok", address=address)
        cookie = (f"{COOKIE}={token}; Path=/; Max-Age={int(cfg.session_hours * 3600)}; "
                  "HttpOnly; SameSite=Strict" + ("; Secure" if self._tls(environ) else ""))  # fmt: skip
        return _redirect(
            start_response, nxt or "/_overview/", [("Set-Cookie", cookie)], "303 See Other"
        )

    def logout(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        if environ.get("REQUEST_METHOD") != "POST":
            return self._page(start_response, "405 Method Not Allowed", "Sign out",
                              "Use the sign-out button.")  # fmt: skip
        if not _same_origin(environ):
            return self._page(
                start_response, "403 Forbidden", "Refused", "A sign-out must come from this site."
            )
        user, _ = self.access.identify(environ, self.mode)
        from bewaar.app.access import cookie_values

        with AccessStore.open(self.access.root) as store:
            for token in cookie_values(environ.get("HTTP_COOKIE", ""), COOKIE):
                store.end_session(token)
        if user is not None:
            self.access.log("logout", user, user.name, "ok", address=environ.get("REMOTE_ADDR", ""))
        expire = (f"{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"
                  + ("; Secure" if self._tls(environ) else ""))  # fmt: skip
        return _redirect(start_response, LOGIN, [("Set-Cookie", expire)], "303 See Other")

    # -- helpers -----------------------------------------------------------------------
    def _tls(self, environ: dict[str, Any]) -> bool:
        """Served over TLS: directly, or by a trusted proxy that says so."""
        if environ.get("wsgi.url_scheme") == "https":
            return True
        return environ.get(
            "HTTP_X_FORWARDED_PROTO", ""
        ).lower() == "https" and self.access.from_trusted_proxy(environ.get("REMOTE_ADDR", ""))

    def _safe_next(self, environ: dict[str, Any], nxt: str) -> str:
        """Where to go after signing in: a path here, or the replay origin of this host."""
        if nxt.startswith("/") and not nxt.startswith("//"):
            return nxt
        parts = urlsplit(nxt)
        host = (environ.get("HTTP_HOST") or "").rsplit(":", 1)[0]
        if (
            parts.scheme in ("http", "https")
            and parts.hostname
            and host
            and parts.hostname == host.strip("[]")
            and parts.port in (self.replay_port, self.own_port)
        ):
            return nxt
        return ""

    def _page(
        self, start_response: StartResponse, status: str, title: str, message: str
    ) -> list[bytes]:
        return _send(
            start_response, status, self.render("message.html", title=title, message=message)
        )


def _same_origin(environ: dict[str, Any]) -> bool:
    """A browser names where a POST comes from; it must be this origin (not the replay
    origin on another port, which is the same *site*). A client that names nothing is not a
    browser, and cannot be made to post by a page."""
    site = environ.get("HTTP_SEC_FETCH_SITE")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = environ.get("HTTP_ORIGIN")
    if origin is None:
        return True
    return origin != "null" and urlsplit(origin).netloc == environ.get("HTTP_HOST", "")


def _form(environ: dict[str, Any]) -> dict[str, str]:
    try:
        size = min(int(environ.get("CONTENT_LENGTH") or 0), MAX_FORM)
    except ValueError:
        size = 0
    data = environ["wsgi.input"].read(size).decode("utf-8", "replace") if size else ""
    return {k: v[-1] for k, v in parse_qs(data).items()}


def _send(start_response: StartResponse, status: str, body: str) -> list[bytes]:
    data = body.encode("utf-8")
    start_response(status, [
        ("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(data))),
        ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"),
        ("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'"),
        ("Referrer-Policy", "same-origin"),
    ])  # fmt: skip
    return [data]


def _redirect(
    start_response: StartResponse, location: str, headers: list[tuple[str, str]] | None = None,
    status: str = "302 Found",
) -> list[bytes]:  # fmt: skip
    start_response(status, [("Location", location), ("Content-Length", "0"),
                            ("Cache-Control", "no-store"), *(headers or [])])  # fmt: skip
    return [b""]

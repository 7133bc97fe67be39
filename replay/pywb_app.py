"""Runs inside pywb's own environment (not bewaar's): pywb with bewaar's configuration.

Started by `bewaar replay` as `<pywb python> pywb_app.py --root R --config C --rules X ...`.
It imports only pywb, its dependencies and the standard library. bewaar's learned fuzzy rules
are placed in front of pywb's default rules (replay/pywb_rules.py writes the merged file);
everything is pywb's FrontEndApp, unpatched. (The overview is served by bewaar itself, on
another origin.)

In front of it sits the gate (`Gate`, a WSGI wrapper; docs/access.md): it finds out who asks
(a session cookie bewaar's login page set, looked up in ROOT/access/access.sqlite; or a user
named by a trusted reverse proxy), keeps users to their collections, and tells pywb the role
through pywb's own ACL user header, which it first removes from every request — a client can
never set it. pywb's access-control lists (written by bewaar from its restrictions) then decide
what each role may replay. Page views and CDX queries are reported on stdout as audit events,
one JSON line each after RS + "bewaar-audit "; bewaar appends them to its audit trail.
"""

from gevent import monkey

monkey.patch_all()  # as pywb's own `wayback` does, before anything opens a socket

import argparse  # noqa: E402
import contextlib  # noqa: E402
import hashlib  # noqa: E402
import html  # noqa: E402
import ipaddress  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import sqlite3  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402
from urllib.parse import quote  # noqa: E402

from gevent.pywsgi import WSGIServer  # noqa: E402
from pywb import __version__ as pywb_version  # noqa: E402
from pywb.apps.frontendapp import FrontEndApp  # noqa: E402
from pywb_rules import final_config  # noqa: E402 - replay/pywb_rules.py, beside this script

AUDIT_MARK = "\x1ebewaar-audit "
ACL_HEADER = "HTTP_X_PYWB_ACL_USER"
# the same query as bewaar/app/access/store.py's SESSION_QUERY (this process cannot import it)
SESSION_QUERY = (
    "SELECT u.name, u.role, u.collections FROM sessions s JOIN users u ON u.name = s.user"
    " WHERE s.token_hash = ? AND s.expires_at > ?"
)
REPLAY_PATH = re.compile(r"^/([^/]+)/(\d*|\*)([a-z]{2}_)?/")
USER_QUERY = "SELECT name, role, collections FROM users WHERE name = ?"
PAGE = (
    "<!doctype html><html lang=en><meta charset=utf-8><title>{title}</title>"
    "<body style='font-family:sans-serif;max-width:40em;margin:3em auto'><h1>{title}</h1>"
    "<p>{message}</p></body></html>"
)


class Gate:
    """Authentication and the ACL user in front of pywb; settings from bewaar (gate.json)."""

    def __init__(self, app: Any, settings: dict[str, Any]) -> None:
        self.app = app
        self.mode = settings["mode"]  # open | users | header
        self.secret = settings["secret"]
        self.db_path = settings.get("db") or ""
        self.cookie = settings.get("cookie", "bewaar_session")
        self.header = "HTTP_" + settings.get("header", "X-Remote-User").upper().replace("-", "_")
        self.trusted = [
            ipaddress.ip_network(n, strict=False) for n in settings.get("trusted_proxies", [])
        ]
        self.default_role = settings.get("default_role")
        self.login_port = settings.get("login_port")
        self.collections = set(settings.get("collections", []))
        self._db: sqlite3.Connection | None = None

    # -- who asks ----------------------------------------------------------------------
    def _query(self, sql: str, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        if not self.db_path or not os.path.exists(self.db_path):
            return None
        try:
            if self._db is None:
                uri = Path(self.db_path).resolve().as_uri() + "?mode=ro"
                self._db = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=5)
            return self._db.execute(sql, args).fetchone()
        except sqlite3.Error as e:
            print(f"bewaar gate: {self.db_path}: {e}", file=sys.stderr)
            self._db = None
            return None

    def identify(self, environ: dict[str, Any], tokens: list[str]) -> tuple[Any, str]:
        """((name, role, [collections]), "") or (None, why not)."""
        if self.mode == "open":
            return ("", "reader", []), ""
        if self.mode == "header":
            try:
                addr = ipaddress.ip_address(environ.get("REMOTE_ADDR", ""))
            except ValueError:
                return None, "no address"
            if not any(addr in net for net in self.trusted):
                return None, "not through the trusted proxy"  # its header is ignored
            name = (environ.get(self.header) or "").strip().lower()
            if not name:
                return None, "the proxy named no user"
            row = self._query(USER_QUERY, (name,))
            if row is None:
                if not self.default_role:
                    return None, "not a user of this archive"
                row = (name, self.default_role, "")
        else:
            row = None
            for token in tokens:
                h = hashlib.sha256(token.encode("utf-8")).hexdigest()
                row = self._query(SESSION_QUERY, (h, time.time()))
                if row:
                    break
            if row is None:
                return None, "not signed in"
        name, role, colls = row
        return (name, role, [c for c in (colls or "").split(",") if c]), ""

    # -- the request -------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        environ.pop(ACL_HEADER, None)  # only the gate sets pywb's ACL user
        tokens = self._take_cookie(environ)
        path = environ.get("PATH_INFO") or "/"
        if path.startswith("/static/"):
            return self.app(environ, start_response)
        action = self._action(environ, path)
        user, why = self.identify(environ, tokens)
        if user is None:
            return self._refuse(environ, start_response, action, why)
        name, role, colls = user
        coll = path.split("/")[1] if path.count("/") >= 1 else ""
        if colls and coll and coll not in colls and coll in self.collections:
            return self._page(
                environ,
                start_response,
                "403 Forbidden",
                action,
                user,
                "Not your collection",
                "Your account does not include this collection.",
            )
        if colls and path in ("/", "/collinfo.json"):
            return self._page(
                environ,
                start_response,
                "403 Forbidden",
                action,
                user,
                "Collections",
                "Your collections: " + ", ".join(html.escape(c) for c in colls),
            )
        if role in ("archivist", "admin"):
            environ[ACL_HEADER] = f"{role}.{self.secret}"
        status: list[str] = []

        def respond(st: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status.append(st)
            headers = [
                (k, v)
                for k, v in headers
                if not (k.lower() == "set-cookie" and v.split("=", 1)[0].strip() == self.cookie)
            ]
            return (
                start_response(st, headers, exc_info) if exc_info else start_response(st, headers)
            )

        target = self._target(environ)  # before pywb's routing rewrites PATH_INFO
        result = self.app(environ, respond)
        if action:
            self._event(action, user, environ, status[0].split(" ")[0] if status else "", target)
        return result

    def _take_cookie(self, environ: dict[str, Any]) -> list[str]:
        """Our session cookie's values; the cookie itself never reaches pywb."""
        raw = environ.get("HTTP_COOKIE")
        if not raw:
            return []
        tokens, rest = [], []
        for part in raw.split(";"):
            k, _, v = part.strip().partition("=")
            if k == self.cookie:
                if v:
                    tokens.append(v.strip().strip('"'))
            elif part.strip():
                rest.append(part.strip())
        if rest:
            environ["HTTP_COOKIE"] = "; ".join(rest)
        else:
            environ.pop("HTTP_COOKIE", None)
        return tokens

    @staticmethod
    def _action(environ: dict[str, Any], path: str) -> str:
        """What goes into the audit trail. A page view is the archived document itself: in
        framed replay that is the mp_ document inside pywb's frame (the frame is not counted,
        so a refused page shows as refused), else a document the browser navigated to
        (Sec-Fetch-Dest); a client that sends no Sec-Fetch-Dest is counted per request. CDX,
        timemap and calendar queries are searches. A page's resources are not logged."""
        if path.endswith("/cdx") or "/timemap/" in path:
            return "search"
        m = REPLAY_PATH.match(path)
        if not m:
            return ""
        dest = environ.get("HTTP_SEC_FETCH_DEST")
        if m.group(2) == "*":
            return "search" if dest in (None, "document") else ""
        if dest is None:
            return "view"
        mod = m.group(3)
        if mod == "mp_":
            return "view" if dest in ("document", "iframe") else ""
        return "view" if mod and dest == "document" else ""

    @staticmethod
    def _target(environ: dict[str, Any]) -> str:
        raw = environ.get("REQUEST_URI") or environ.get("RAW_URI")
        if raw:
            return str(raw)
        target = environ.get("PATH_INFO", "")
        if environ.get("QUERY_STRING"):
            target += "?" + environ["QUERY_STRING"]
        return target

    def _event(
        self, action: str, user: Any, environ: dict[str, Any], outcome: str, target: str = ""
    ) -> None:
        target = target or self._target(environ)
        name, role, _ = user if user else ("", "", [])
        ev = {
            "action": action,
            "user": name,
            "role": role,
            "target": target,
            "outcome": outcome,
            "address": environ.get("REMOTE_ADDR", ""),
            "where": "replay",
        }
        sys.stdout.write(AUDIT_MARK + json.dumps(ev, ensure_ascii=False) + "\n")
        sys.stdout.flush()

    def _login_url(self, environ: dict[str, Any]) -> str | None:
        if self.mode != "users" or not self.login_port:
            return None
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "127.0.0.1")
        hostname = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        scheme = environ.get("wsgi.url_scheme", "http")
        here = f"{scheme}://{host}{self._target(environ)}"
        return f"{scheme}://{hostname}:{self.login_port}/_login?next={quote(here, safe='')}"

    def _refuse(self, environ: dict[str, Any], start_response: Any, action: str, why: str) -> Any:
        login = self._login_url(environ)
        if login and (environ.get("HTTP_SEC_FETCH_DEST") in (None, "document", "iframe")):
            if action:
                self._event(action, None, environ, "302")
            body = b""
            start_response(
                "302 Found",
                [("Location", login), ("Content-Length", "0"), ("Cache-Control", "no-store")],
            )
            return [body]
        message = (
            "Sign in first."
            if self.mode == "users"
            else "Sign in through your organisation's sign-on: " + html.escape(why) + "."
        )
        if login:
            message += f' <a href="{html.escape(login)}">Sign in</a>'
        return self._page(
            environ, start_response, "401 Unauthorized", action, None, "Sign-in required", message
        )

    def _page(
        self,
        environ: dict[str, Any],
        start_response: Any,
        status: str,
        action: str,
        user: Any,
        title: str,
        message: str,
    ) -> Any:
        if action:
            self._event(action, user, environ, status.split(" ")[0])
        body = PAGE.format(title=html.escape(title), message=message).encode("utf-8")
        start_response(
            status,
            [
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
            ],
        )
        return [body]


class StaticCache:
    """Lets browsers keep pywb's own static files (its frame's and banner's scripts, styles and
    fonts, wombat.js): pywb serves them with no caching headers at all, so every replayed page
    fetched about 2 MB again (vueui.js alone is 1.5 MB). They change only with pywb itself: the
    ETag names pywb's version, and after an hour a browser asks again and gets a 304."""

    def __init__(self, app: Any, version: str) -> None:
        self.app = app
        self.etag = f'"pywb-{version}"'

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if not (environ.get("PATH_INFO") or "").startswith("/static/"):
            return self.app(environ, start_response)
        if self.etag in (environ.get("HTTP_IF_NONE_MATCH") or ""):
            start_response("304 Not Modified", [("ETag", self.etag), ("Cache-Control", STATIC_CACHE)])
            return [b""]

        def respond(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            if status.startswith("200"):
                headers = [(k, v) for k, v in headers if k.lower() not in ("cache-control", "etag")]
                headers += [("Cache-Control", STATIC_CACHE), ("ETag", self.etag)]
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        return self.app(environ, respond)


STATIC_CACHE = "public, max-age=3600"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)  # collections_root in the config points into it
    ap.add_argument("--config", required=True)
    ap.add_argument("--rules", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--gate", help="the gate's settings (JSON, written by bewaar)")
    args = ap.parse_args()

    config_path = Path(args.config).resolve()
    # pywb reads ./templates before its own templates: bewaar's (written next to the config)
    # replace the frame and banner templates that wrote the request URL into scripts unescaped
    os.chdir(config_path.parent)
    final = final_config(config_path, Path(args.rules).resolve())
    app: Any = StaticCache(FrontEndApp(config_file=str(final)), pywb_version)
    if args.gate:
        app = Gate(app, json.loads(Path(args.gate).read_text(encoding="utf-8")))
    server = WSGIServer((args.host, args.port), app, log=None, error_log=sys.stderr)
    server.init_socket()
    print(json.dumps({"ready": True, "host": args.host, "port": server.server_port}), flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())

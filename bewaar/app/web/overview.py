"""The overview at /_overview: every account and post in the catalog, searchable, linked into
replay. A WSGI app served by bewaar/app/web/server.py on its own origin (another port than
pywb's), so archived JavaScript running on the replay origin can neither read nor drive it. It
opens ROOT/catalog.sqlite read-only through catalog/query.py (one connection per request: a
rebuilt catalog is seen at once, and a crawl writing never blocks a reader).

Pages (server-rendered; the small script only adds keyboard shortcuts):
  /_overview                  accounts with their latest capture, change counts and QA score
                              (`bewaar qa`), the pages below the QA threshold; posts
                              filtered by keyword (FTS5 over every version), account,
                              platform, change type and date range
  /_overview/post/ID          one post: its versions, diffs, re-checks, each replayable
  /_overview/account/ID       one account: profile versions, crawls, changes
  /_overview/static/NAME      the CSS and script (no external CDN: the archive is offline)
  /_overview/export?...       the current search result as a ZIP of an export (bewaar export:
                              WACZ, PDF/A, HTML, XML, EML), selected with the same filter
"""

from __future__ import annotations

import json
import mimetypes
import re
import sqlite3
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from catalog import query as cq
from replay import qa_report

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
POST_CHANGES = cq.POST_CHANGES
CHANGE_LABELS = {
    "new": "new",
    "found": "first seen (older)",
    "edited": "edited",
    "deleted": "deleted",
    "restored": "restored",
    "unverified": "not verifiable",
    "profile": "profile changed",
    "counts": "counts changed",
}

RELATION_LABELS = {
    "own": "its own posts",
    "own_reply": "its replies in others' threads",
    "comment": "replies and comments by others",
    "context": "posts it replied to (thread context)",
    "received": "posts mentioning or tagging it",
    "story": "stories (temporary content)",
}

StartResponse = Callable[..., Any]


def _admin() -> Any:
    from bewaar.app.access.store import User

    return User("", "admin")


_ADMIN = _admin()
EXPORT_FORMATS = ("wacz", "pdf", "html", "xml", "eml")


class NotFound(Exception):
    pass


class BadRequest(Exception):
    """Input no page can be made of (a NUL in the search, a page number past any catalog):
    400 with the reason, never a 500."""


MAX_PAGE = 100_000  # 5 million posts at PAGE_SIZE 50; beyond that a page number is a mistake
MAX_ID = 2**63 - 1  # SQLite's INTEGER
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


CatalogUnavailable = cq.CatalogUnavailable


fts_query = cq.fts_query
replay_url = cq.replay_path


def when(iso: str | None) -> str:
    """2024-05-01T09:30:00Z -> 2024-05-01 09:30:00 UTC"""
    if not iso:
        return "—"
    return iso.replace("T", " ").rstrip("Z")[:19] + " UTC"


def diff_html(ops: Iterable[list[str]] | None) -> Markup:
    out = []
    for op, text in ops or []:
        t = escape(text)
        if op == "-":
            out.append(Markup('<del aria-label="removed">{}</del>').format(t))
        elif op == "+":
            out.append(Markup('<ins aria-label="added">{}</ins>').format(t))
        else:
            out.append(t)
    return Markup("").join(out)


def snippet_html(snip: str | None) -> Markup:
    t = str(escape(snip or ""))
    return Markup(t.replace(cq.HIT_OPEN, "<mark>").replace(cq.HIT_CLOSE, "</mark>"))


def _day(value: str | None) -> str | None:
    """YYYY-MM-DD only (fromisoformat also takes 20240501 and week dates)."""
    if not value or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        return None
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        return None


def _row_id(digits: str) -> int:
    n = int(digits)
    if not 0 < n <= MAX_ID:
        raise NotFound(digits)
    return n


class OverviewApp:
    def __init__(
        self, catalog: Path, prefix: str = "/_overview", replay_base: str = "", access: Any = None
    ) -> None:
        """`access` (bewaar.app.access.Access): what each user may see, and the audit trail;
        None shows everything (the benchmark's bare catalog)."""
        self.catalog = Path(catalog)
        self.access = access
        self.prefix = prefix.rstrip("/")
        self.replay_base = replay_base.rstrip("/")  # the replay origin: links go there
        self.env = Environment(
            loader=FileSystemLoader(str(TEMPLATES)),
            autoescape=select_autoescape(("html",)),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(when=when, diff=diff_html, snippet=snippet_html)
        self.env.globals.update(
            replay=self.replay_link, prefix=self.prefix, labels=CHANGE_LABELS, json=json,
            replay_base=self.replay_base,
        )  # fmt: skip

    def set_replay_base(self, replay_base: str) -> None:
        self.replay_base = replay_base.rstrip("/")
        self.env.globals["replay_base"] = self.replay_base

    def view(self, user: Any, con: sqlite3.Connection) -> cq.View:
        if self.access is None or user is None:
            return cq.EVERYTHING
        return self.access.view(user, con)

    def replay_link(self, collection: str, iso: str | None, url: str | None) -> str | None:
        path = replay_url(collection, iso, url)
        return self.replay_base + path if path else None

    # -- WSGI ---------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        path = environ.get("PATH_INFO", "")[len(self.prefix) :] or "/"
        query = parse_qs(environ.get("QUERY_STRING", ""))
        params = {k: v[-1] for k, v in query.items()}
        if environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
            return self._send(start_response, "405 Method Not Allowed", b"GET only", "text/plain")
        user = environ.get("bewaar.user")
        try:
            if path.startswith("/static/"):
                return self._static(start_response, path[len("/static/") :])
            if path == "/export":
                return self.export(environ, start_response, query)
            if path in ("/", ""):
                body = self.index(params, user)
            elif m := re.fullmatch(r"/post/(\d{1,19})", path):
                body = self.post(_row_id(m.group(1)), user)
            elif m := re.fullmatch(r"/account/(\d{1,19})", path):
                body = self.account(_row_id(m.group(1)), user)
            else:
                raise NotFound(path)
        except NotFound:
            body = self.render("message.html", user, title="Not found", message="No such page in the overview.")
            return self._send(start_response, "404 Not Found", body)
        except BadRequest as e:
            body = self.render("message.html", title="Bad request", message=str(e))
            return self._send(start_response, "400 Bad Request", body)
        except CatalogUnavailable as e:
            body = self.render("message.html", user, title="Catalog unavailable", message=str(e))
            return self._send(start_response, "503 Service Unavailable", body)
        except sqlite3.Error as e:
            # the right version but broken inside (no tables, a damaged file): not the
            # visitor's fault and not a crash either
            body = self.render(
                "message.html", title="Catalog unavailable",
                message=f"The catalog {self.catalog} cannot be read ({e}): run "
                "`bewaar catalog rebuild`.",
            )  # fmt: skip
            return self._send(start_response, "503 Service Unavailable", body)
        return self._send(start_response, "200 OK", body)

    def _send(
        self, start_response: StartResponse, status: str, body: str | bytes,
        ctype: str = "text/html; charset=utf-8", cache: str = "no-store",
    ) -> list[bytes]:  # fmt: skip
        data = body.encode("utf-8") if isinstance(body, str) else body
        start_response(
            status,
            [
                ("Content-Type", ctype),
                ("Content-Length", str(len(data))),
                ("Cache-Control", cache),
                # everything is served from here: no CDN, no inline script
                ("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; "
                 "frame-ancestors 'self'"),
                ("X-Content-Type-Options", "nosniff"),
                ("Referrer-Policy", "same-origin"),
            ],
        )  # fmt: skip
        return [data]

    def _static(self, start_response: StartResponse, name: str) -> list[bytes]:
        if not re.fullmatch(r"[A-Za-z0-9_-]+\.[a-z0-9]+", name):
            raise NotFound(name)  # a plain file name: no '..', no NUL, no sub-folders
        path = (STATIC / name).resolve()
        if STATIC.resolve() not in path.parents or not path.is_file():
            raise NotFound(name)
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype.endswith("javascript"):
            ctype += "; charset=utf-8"
        return self._send(start_response, "200 OK", path.read_bytes(), ctype, "max-age=3600")

    def render(self, template: str, user: Any = None, **ctx: Any) -> str:
        signed_in = user is not None and not user.anonymous
        return self.env.get_template(template).render(user=user if signed_in else None, **ctx)

    def _audit(self, action: str, user: Any, target: str, outcome: str = "ok", **detail: Any) -> None:
        if self.access is not None:
            self.access.log(action, user, target, outcome, where="overview", **detail)

    # -- catalog ------------------------------------------------------------------------
    def connect(self) -> sqlite3.Connection:
        con = cq.connect_readonly(self.catalog)
        if cq.schema_of(con) < 1:
            con.close()
            raise CatalogUnavailable("The catalog is empty: run a crawl first.")
        return con

    def index(self, params: dict[str, str], user: Any = None) -> str:
        con = self.connect()
        try:
            view = self.view(user, con)
            accounts = cq.accounts_summary(con, view)
            f, errors = self._filters(params, accounts)
            posts, more = cq.search_posts(con, self.post_filter(f), view=view)
            totals = cq.totals(con, view)
        finally:
            con.close()
        asked = {k: v for k, v in params.items() if v and k != "page"}
        if asked:
            self._audit("search", user, urlencode(asked), "ok", results=len(posts))
        platforms = sorted({a["platform"] for a in accounts})
        qa = qa_report.load(self.catalog.parent)
        for a in accounts:
            a["qa"] = qa.by_account.get((a["collection"], a["name"]))
        page = f["page"]
        base = {k: v for k, v in params.items() if k != "page" and v}
        nav = {
            "prev": f"?{urlencode({**base, 'page': page - 1})}" if page > 1 else None,
            "next": f"?{urlencode({**base, 'page': page + 1})}" if more else None,
        }
        return self.render(
            "index.html", user, accounts=accounts, posts=posts, f=f, errors=errors, qa=qa,
            platforms=platforms, change_types=POST_CHANGES, totals=totals, nav=nav,
            filtered=any(base.get(k) for k in ("q", "account", "platform", "change", "from", "to", "relation", "scope")),
            relation_labels=RELATION_LABELS,
            export_params=sorted(base.items()), export_formats=EXPORT_FORMATS,
            may_export=self.may_export(user),
        )  # fmt: skip

    def _filters(
        self, params: dict[str, str], accounts: list[dict[str, Any]]
    ) -> tuple[dict[str, Any], list[str]]:
        errors = []
        for key, value in params.items():
            if _CONTROL.search(value) or _CONTROL.search(key):
                raise BadRequest(f"The field {key[:40]!r} holds control characters.")
        f: dict[str, Any] = {
            "q": (params.get("q") or "").strip()[:200],
            "account": None, "platform": None, "change": None,
            "from": None, "to": None, "date_of": "published",
            "replies": params.get("replies") == "1", "page": 1,
            "relation": None, "scope": "all",
        }  # fmt: skip
        if params.get("relation") in cq.RELATIONS:
            f["relation"] = params["relation"]
        if params.get("scope") in cq.SCOPES:
            f["scope"] = params["scope"]
        if params.get("account"):
            ids = {str(a["id"]) for a in accounts}
            if params["account"] in ids:
                f["account"] = int(params["account"])
            else:
                errors.append("Unknown account: showing all accounts.")
        if params.get("platform") in {a["platform"] for a in accounts}:
            f["platform"] = params["platform"]
        if params.get("change") in POST_CHANGES:
            f["change"] = params["change"]
        for key in ("from", "to"):
            if params.get(key):
                f[key] = _day(params[key])
                if f[key] is None:
                    errors.append(f"'{params[key]}' is not a date (YYYY-MM-DD): ignored.")
        if params.get("date_of") in ("published", "captured", "changed"):
            f["date_of"] = params["date_of"]
        if params.get("page"):
            page = params["page"]
            if not (page.isascii() and page.isdigit()) or not 0 < int(page) <= MAX_PAGE:
                raise BadRequest(f"Page {page[:40]!r} is not a page number from 1 to {MAX_PAGE}.")
            f["page"] = int(page)
        if f["q"] and not fts_query(f["q"]):
            errors.append("The search has no words to look for.")
        return f, errors

    @staticmethod
    def post_filter(f: dict[str, Any]) -> cq.PostFilter:
        return cq.PostFilter(
            q=f["q"], account=f["account"], platform=f["platform"], change=f["change"],
            date_from=f["from"], date_to=f["to"], date_of=f["date_of"], replies=f["replies"],
            page=f["page"], relation=f["relation"], scope=f["scope"],
        )  # fmt: skip

    def post(self, post_id: int, user: Any = None) -> str:
        con = self.connect()
        try:
            found = cq.post_detail(con, post_id, self.view(user, con))
        finally:
            con.close()
        self._audit("view", user, f"overview/post/{post_id}", "ok" if found else "404")
        if found is None:
            raise NotFound(post_id)
        return self.render("post.html", user, **found)

    def account(self, account_id: int, user: Any = None) -> str:
        con = self.connect()
        try:
            found = cq.account_detail(con, account_id, self.view(user, con))
        finally:
            con.close()
        if found is None:
            raise NotFound(account_id)
        return self.render("account.html", user, relation_labels=RELATION_LABELS, **found)

    # -- export of a search result ------------------------------------------------------
    def may_export(self, user: Any) -> bool:
        """With access control on, exports are made by archivists (and admins); in open mode
        (no users, loopback) by whoever uses the overview. Either way an export holds only what
        the requesting user may see (bewaar/app/export/restrictions.py)."""
        if self.access is None or self.access.mode == "open":
            return True
        return user is not None and user.role in ("archivist", "admin")

    def export(self, environ: dict[str, Any], start_response: StartResponse, query: dict[str, list[str]]) -> Any:
        """The search result (every page of it) exported in the chosen formats, as a ZIP."""
        import shutil
        import tempfile
        import zipfile

        from bewaar.app.export.restrictions import ViewAccess
        from bewaar.app.export.run import run_export
        from bewaar.app.export.selection import Request
        from bewaar.errors import BewaarError

        user = environ.get("bewaar.user")
        if not self.may_export(user):
            self._audit("export", user, "overview", "403")
            body = self.render("message.html", user, title="Not allowed",
                               message="Exports are made by archivists: sign in as one.")  # fmt: skip
            return self._send(start_response, "403 Forbidden", body)
        params = {k: v[-1] for k, v in query.items()}
        formats = [f for f in EXPORT_FORMATS if f in query.get("format", [])]
        if not formats:
            body = self.render("message.html", user, title="Nothing to export", message="Choose at least one format.")
            return self._send(start_response, "400 Bad Request", body)
        con = self.connect()
        try:
            view = self.view(user, con)
            accounts = cq.accounts_summary(con, view)
            reasons = dict(self.view(_ADMIN, con).marks) if self.access is not None else {}
        finally:
            con.close()
        f, _errors = self._filters(params, accounts)
        req = Request(filter=self.post_filter(f), with_replies=params.get("with_replies") == "1",
                      requested_by=getattr(user, "name", "") or "")  # fmt: skip
        tmp = Path(tempfile.mkdtemp(prefix="bewaar-export-"))
        try:
            outcome = run_export(self.catalog.parent, req, formats, tmp / "export", access=ViewAccess(view, reasons),
                                 title="Export from the overview", progress=lambda _line: None)  # fmt: skip
            self._audit("export", user, "overview", "ok", items=outcome.items, left_out=outcome.left_out,
                        redacted=outcome.redacted, formats=formats, query=urlencode(params))  # fmt: skip
            archive = tmp / "export.zip"
            with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
                for path in sorted((tmp / "export").rglob("*")):
                    if path.is_file():
                        stored = path.suffix in (".wacz", ".pdf", ".png", ".jpg", ".mp4", ".webm", ".gz")
                        z.write(path, path.relative_to(tmp / "export").as_posix(),
                                compress_type=zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)  # fmt: skip
        except BewaarError as e:
            shutil.rmtree(tmp, ignore_errors=True)
            self._audit("export", user, "overview", "failed", error=str(e)[:200])
            body = self.render("message.html", user, title="Export not made", message=str(e))
            return self._send(start_response, "400 Bad Request", body)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        size = archive.stat().st_size
        start_response("200 OK", [
            ("Content-Type", "application/zip"), ("Content-Length", str(size)),
            ("Content-Disposition", 'attachment; filename="bewaar-export.zip"'),
            ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"),
        ])  # fmt: skip

        def stream() -> Any:
            try:
                with archive.open("rb") as fh:
                    while chunk := fh.read(1024 * 1024):
                        yield chunk
            finally:
                shutil.rmtree(tmp, ignore_errors=True)

        return stream()

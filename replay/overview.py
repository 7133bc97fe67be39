"""The overview at /_overview: every account and post in the catalog, searchable, linked into
replay. A WSGI app mounted by replay/pywb_app.py inside pywb's own environment, so it uses only
the standard library and jinja2, and opens ROOT/catalog.sqlite read-only (one connection per
request: a rebuilt catalog is seen at once, and a crawl writing never blocks a reader).

Pages (server-rendered; the small script only adds keyboard shortcuts):
  /_overview                  accounts with their latest capture, change counts and QA score
                              (`bewaar qa`), the pages below the QA threshold; posts
                              filtered by keyword (FTS5 over every version), account,
                              platform, change type and date range
  /_overview/post/ID          one post: its versions, diffs, re-checks, each replayable
  /_overview/account/ID       one account: profile versions, crawls, changes
  /_overview/static/NAME      the CSS and script (no external CDN: the archive is offline)
"""

from __future__ import annotations

import json
import mimetypes
import re
import sqlite3
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

try:
    from replay import qa_report
except ImportError:  # in pywb's environment, replay/ itself is on the path
    import qa_report  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "overview_templates"
STATIC = HERE / "overview_static"
SUPPORTED_SCHEMA = 2  # catalog/db.py SCHEMA_VERSION this page was written for
PAGE_SIZE = 50
POST_CHANGES = ("new", "found", "edited", "deleted", "restored", "unverified")
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
_TOKEN = re.compile(r'"([^"]*)"|(\S+)')
_HIT_OPEN, _HIT_CLOSE = "\x02", "\x03"

StartResponse = Callable[..., Any]


class NotFound(Exception):
    pass


class CatalogUnavailable(Exception):
    pass


def fts_query(text: str) -> str:
    """User words -> an FTS5 query that cannot be a syntax error: each word or "quoted
    phrase" quoted, all required; a trailing * keeps prefix search."""
    parts = []
    for m in _TOKEN.finditer(text or ""):
        phrase = m.group(1) if m.group(1) is not None else m.group(2)
        prefix = phrase.endswith("*") and m.group(1) is None
        phrase = phrase.rstrip("*").replace('"', "")
        if not re.search(r"\w", phrase):
            continue
        parts.append('"' + phrase + '"' + ("*" if prefix else ""))
    return " ".join(parts)


def ts14(iso: str | None) -> str:
    return re.sub(r"\D", "", iso or "")[:14]


def replay_url(collection: str, iso: str | None, url: str | None) -> str | None:
    if not (collection and iso and url):
        return None
    return f"/{quote(collection)}/{ts14(iso)}/{url}"


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
    return Markup(t.replace(_HIT_OPEN, "<mark>").replace(_HIT_CLOSE, "</mark>"))


def _in_range(col: str, lo: str | None, hi: str | None, where: list[str], args: list[Any]) -> None:
    """`lo <= col < hi`, either end open, as SQL conditions with their arguments."""
    if lo:
        where.append(f"{col} >= ?")
        args.append(lo)
    if hi:
        where.append(f"{col} < ?")
        args.append(hi)


def _day(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        return None


class OverviewApp:
    def __init__(self, catalog: Path, prefix: str = "/_overview") -> None:
        self.catalog = Path(catalog)
        self.prefix = prefix.rstrip("/")
        self.env = Environment(
            loader=FileSystemLoader(str(TEMPLATES)),
            autoescape=select_autoescape(("html",)),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(when=when, diff=diff_html, snippet=snippet_html)
        self.env.globals.update(
            replay=replay_url, prefix=self.prefix, labels=CHANGE_LABELS, json=json
        )

    # -- WSGI ---------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        path = environ.get("PATH_INFO", "")[len(self.prefix) :] or "/"
        params = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        if environ.get("REQUEST_METHOD", "GET") not in ("GET", "HEAD"):
            return self._send(start_response, "405 Method Not Allowed", b"GET only", "text/plain")
        try:
            if path.startswith("/static/"):
                return self._static(start_response, path[len("/static/") :])
            if path in ("/", ""):
                body = self.index(params)
            elif m := re.fullmatch(r"/post/(\d+)", path):
                body = self.post(int(m.group(1)))
            elif m := re.fullmatch(r"/account/(\d+)", path):
                body = self.account(int(m.group(1)))
            else:
                raise NotFound(path)
        except NotFound:
            body = self.render("message.html", title="Not found", message="No such page in the overview.")
            return self._send(start_response, "404 Not Found", body)
        except CatalogUnavailable as e:
            body = self.render("message.html", title="Catalog unavailable", message=str(e))
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
        path = (STATIC / name).resolve()
        if STATIC.resolve() not in path.parents or not path.is_file():
            raise NotFound(name)
        ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype.endswith("javascript"):
            ctype += "; charset=utf-8"
        return self._send(start_response, "200 OK", path.read_bytes(), ctype, "max-age=3600")

    def render(self, template: str, **ctx: Any) -> str:
        return self.env.get_template(template).render(**ctx)

    # -- catalog ------------------------------------------------------------------------
    def connect(self) -> sqlite3.Connection:
        if not self.catalog.exists():
            raise CatalogUnavailable(
                f"There is no catalog at {self.catalog} yet: it is made by the first crawl "
                "(or `bewaar catalog rebuild`)."
            )
        try:
            con = sqlite3.connect(f"file:{self.catalog}?mode=ro", uri=True, timeout=10)
            con.row_factory = sqlite3.Row
            version = con.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.Error as e:
            raise CatalogUnavailable(f"The catalog cannot be read: {e}") from None
        if version > SUPPORTED_SCHEMA:
            con.close()
            raise CatalogUnavailable(
                f"The catalog has schema {version}, newer than this overview knows "
                f"({SUPPORTED_SCHEMA}): upgrade bewaar."
            )
        if version < 1:
            con.close()
            raise CatalogUnavailable("The catalog is empty: run a crawl first.")
        return con

    def index(self, params: dict[str, str]) -> str:
        con = self.connect()
        try:
            accounts = self._accounts(con)
            f, errors = self._filters(params, accounts)
            posts, more = self._posts(con, f)
            totals = {
                "posts": con.execute("SELECT count(*) FROM posts WHERE reply_to IS NULL").fetchone()[0],
                "versions": con.execute("SELECT count(*) FROM post_versions").fetchone()[0],
                "crawls": con.execute("SELECT count(*) FROM crawls").fetchone()[0],
            }
        finally:
            con.close()
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
            "index.html", accounts=accounts, posts=posts, f=f, errors=errors, qa=qa,
            platforms=platforms, change_types=POST_CHANGES, totals=totals, nav=nav,
            filtered=any(base.get(k) for k in ("q", "account", "platform", "change", "from", "to")),
        )  # fmt: skip

    def _accounts(self, con: sqlite3.Connection) -> list[dict[str, Any]]:
        """Accounts with post and change counts and their latest capture: a few grouped
        queries, not a few per account (hundreds of accounts stay quick)."""
        rows = [dict(r) for r in con.execute("SELECT * FROM accounts ORDER BY platform, name, collection")]
        posts = dict(con.execute(
            "SELECT account, count(*) FROM posts WHERE reply_to IS NULL GROUP BY account"
        ).fetchall())  # fmt: skip
        counts: dict[int, dict[str, int]] = {}
        for r in con.execute("SELECT account, type, count(*) AS n FROM changes GROUP BY account, type"):
            counts.setdefault(r["account"], {})[r["type"]] = r["n"]
        # SQLite takes the other columns of an aggregate query from the row with the max()
        last = {
            r["account"]: dict(r)
            for r in con.execute(
                "SELECT account, url, outcome, reason, max(captured_at) AS captured_at FROM pages"
                " WHERE kind IN ('profile', 'page') GROUP BY account"
            )
        }
        last_ok = {
            r["account"]: dict(r)
            for r in con.execute(
                "SELECT account, url, max(captured_at) AS captured_at FROM pages"
                " WHERE kind IN ('profile', 'page') AND outcome = 'ok' GROUP BY account"
            )
        }
        for a in rows:
            a["posts"] = posts.get(a["id"], 0)
            a["changes"] = counts.get(a["id"], {})
            a["last"] = last.get(a["id"])
            a["last_profile"] = last_ok.get(a["id"])
        return rows

    def _filters(
        self, params: dict[str, str], accounts: list[dict[str, Any]]
    ) -> tuple[dict[str, Any], list[str]]:
        errors = []
        f: dict[str, Any] = {
            "q": (params.get("q") or "").strip()[:200],
            "account": None, "platform": None, "change": None,
            "from": None, "to": None, "date_of": "published",
            "replies": params.get("replies") == "1", "page": 1,
        }  # fmt: skip
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
        if (params.get("page") or "").isdigit() and int(params["page"]) > 0:
            f["page"] = int(params["page"])
        if f["q"] and not fts_query(f["q"]):
            errors.append("The search has no words to look for.")
        return f, errors

    def _posts(self, con: sqlite3.Connection, f: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
        where: list[str] = []
        args: list[Any] = []
        q = fts_query(f["q"])
        if q:
            where.append(
                "p.id IN (SELECT v2.post FROM post_text JOIN post_versions v2"
                " ON v2.id = post_text.rowid WHERE post_text MATCH ?)"
            )
            args.append(q)
        if not f["replies"]:
            where.append("p.reply_to IS NULL")
        if f["account"] is not None:
            where.append("p.account = ?")
            args.append(f["account"])
        if f["platform"]:
            where.append("a.platform = ?")
            args.append(f["platform"])
        lo = f["from"] + "T00:00:00Z" if f["from"] else None
        hi = (date.fromisoformat(f["to"]) + timedelta(days=1)).isoformat() + "T00:00:00Z" if f["to"] else None
        change_cond, change_args = [], []
        if f["change"]:
            change_cond.append("c.type = ?")
            change_args.append(f["change"])
        if f["date_of"] == "changed":
            _in_range("c.detected_at", lo, hi, change_cond, change_args)
        if change_cond:
            types = ",".join(f"'{t}'" for t in POST_CHANGES)
            where.append(
                f"EXISTS (SELECT 1 FROM changes c WHERE c.post = p.id AND c.type IN ({types})"
                f" AND {' AND '.join(change_cond)})"
            )
            args += change_args
        if f["date_of"] == "published":
            _in_range("coalesce(p.published_at, p.first_seen)", lo, hi, where, args)
        elif f["date_of"] == "captured" and (lo or hi):  # any sighting in the range
            cond = ["s.post = p.id"]
            _in_range("s.captured_at", lo, hi, cond, args)
            where.append(f"EXISTS (SELECT 1 FROM post_sightings s WHERE {' AND '.join(cond)})")
        sql = (
            "SELECT p.*, a.name AS account_name, a.platform, a.collection, a.display_name,"
            " v.text, v.title, v.captured_at, v.page_url, v.media, v.seq"
            " FROM posts p JOIN accounts a ON a.id = p.account"
            " JOIN post_versions v ON v.id = p.latest_version"
            + (" WHERE " + " AND ".join(where) if where else "")
            + " ORDER BY coalesce(p.published_at, p.first_seen) DESC, p.id DESC LIMIT ? OFFSET ?"
        )
        args += [PAGE_SIZE + 1, (f["page"] - 1) * PAGE_SIZE]
        rows = [dict(r) for r in con.execute(sql, args)]
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        if not rows:
            return rows, more
        ids = [r["id"] for r in rows]
        marks = ",".join("?" * len(ids))
        changes: dict[int, list[str]] = {}
        for c in con.execute(
            f"SELECT post, type FROM changes WHERE post IN ({marks}) GROUP BY post, type"
            " ORDER BY min(detected_at)",
            ids,
        ):
            changes.setdefault(c["post"], []).append(c["type"])
        hits: dict[int, dict[str, Any]] = {}
        if q:
            for h in con.execute(
                "SELECT v.post, v.seq, v.captured_at,"
                f" snippet(post_text, 1, '{_HIT_OPEN}', '{_HIT_CLOSE}', '…', 24) AS snip"
                " FROM post_text JOIN post_versions v ON v.id = post_text.rowid"
                f" WHERE post_text MATCH ? AND v.post IN ({marks}) ORDER BY v.seq DESC",
                [q, *ids],
            ):
                hits.setdefault(h["post"], dict(h))  # the newest matching version
        for r in rows:
            r["changes"] = changes.get(r["id"], [])
            r["hit"] = hits.get(r["id"])
            r["media"] = json.loads(r["media"] or "[]")
            r["replay"] = self._best_capture(con, r["latest_version"], r["page_url"], r["captured_at"])
            r["replay_url"] = replay_url(r["collection"], r["replay"][1], r["replay"][0])
        return rows, more

    @staticmethod
    def _best_capture(con: sqlite3.Connection, version: int, url: str, at: str) -> tuple[str, str]:
        own = con.execute(
            "SELECT pg.url, pg.captured_at FROM post_sightings s JOIN pages pg ON pg.id = s.page"
            " WHERE s.version = ? AND s.source = 'post' ORDER BY s.captured_at LIMIT 1",
            (version,),
        ).fetchone()
        return (own["url"], own["captured_at"]) if own else (url, at)

    def post(self, post_id: int) -> str:
        con = self.connect()
        try:
            p = con.execute(
                "SELECT p.*, a.name AS account_name, a.platform, a.collection, a.display_name"
                " FROM posts p JOIN accounts a ON a.id = p.account WHERE p.id = ?",
                (post_id,),
            ).fetchone()
            if p is None:
                raise NotFound(post_id)
            p = dict(p)
            versions = []
            for v in con.execute(
                "SELECT * FROM post_versions WHERE post = ? ORDER BY seq DESC", (post_id,)
            ):
                d = dict(v)
                d["media"] = json.loads(d["media"] or "[]")
                d["counts"] = json.loads(d["counts"] or "{}")
                d["captures"] = [
                    dict(s)
                    for s in con.execute(
                        "SELECT pg.url, s.captured_at, s.source FROM post_sightings s"
                        " JOIN pages pg ON pg.id = s.page WHERE s.version = ?"
                        " ORDER BY s.captured_at",
                        (v["id"],),
                    )
                ]
                change = con.execute(
                    "SELECT detail FROM changes WHERE version = ? AND type = 'edited'", (v["id"],)
                ).fetchone()
                d["detail"] = json.loads(change["detail"]) if change else None
                best = self._best_capture(con, v["id"], v["page_url"], v["captured_at"])
                d["replay_url"] = replay_url(p["collection"], best[1], best[0])
                versions.append(d)
            checks = [
                dict(r)
                for r in con.execute(
                    "SELECT url, captured_at, outcome, reason, status FROM pages"
                    " WHERE account = ? AND kind = 'recheck' AND post_id = ? ORDER BY captured_at",
                    (p["account"], p["post_id"]),
                )
            ]
            changes = [
                dict(r)
                for r in con.execute(
                    "SELECT c.type, c.detected_at, c.detail, pg.url, pg.captured_at FROM changes c"
                    " LEFT JOIN pages pg ON pg.id = c.page WHERE c.post = ? ORDER BY c.detected_at",
                    (post_id,),
                )
            ]
            replies = [
                dict(r)
                for r in con.execute(
                    "SELECT p.id, p.author, v.text FROM posts p JOIN post_versions v"
                    " ON v.id = p.latest_version WHERE p.account = ? AND p.reply_to = ?"
                    " ORDER BY coalesce(p.published_at, p.first_seen)",
                    (p["account"], p["post_id"]),
                )
            ]
        finally:
            con.close()
        return self.render("post.html", p=p, versions=versions, checks=checks, changes=changes,
                           replies=replies)  # fmt: skip

    def account(self, account_id: int) -> str:
        con = self.connect()
        try:
            a = con.execute("SELECT * FROM accounts WHERE id = ?", (account_id,)).fetchone()
            if a is None:
                raise NotFound(account_id)
            a = dict(a)
            profiles = []
            for v in con.execute(
                "SELECT pv.*, pg.url AS page_url FROM profile_versions pv"
                " JOIN pages pg ON pg.id = pv.page WHERE pv.account = ? ORDER BY pv.seq DESC",
                (account_id,),
            ):
                d = dict(v)
                change = con.execute(
                    "SELECT detail FROM changes WHERE type = 'profile' AND version = ?", (v["id"],)
                ).fetchone()
                d["fields"] = json.loads(change["detail"]).get("fields") if change else None
                d["links"] = json.loads(d["links"] or "[]")
                d["counts"] = json.loads(d["counts"] or "{}")
                profiles.append(d)
            crawls = [
                dict(r)
                for r in con.execute(
                    "SELECT ac.*, c.crawl_id, pg.url AS profile_url, pg.captured_at AS profile_at"
                    " FROM account_crawls ac JOIN crawls c ON c.id = ac.crawl"
                    " LEFT JOIN pages pg ON pg.id = ac.profile_page"
                    " WHERE ac.account = ? ORDER BY ac.started DESC LIMIT 200",
                    (account_id,),
                )
            ]
            for c in crawls:
                c["counts"] = json.loads(c["counts"] or "{}") if c["counts"] else {}
            changes = [
                dict(r)
                for r in con.execute(
                    "SELECT c.*, p.post_id, p.id AS post_row, v.text FROM changes c"
                    " LEFT JOIN posts p ON p.id = c.post LEFT JOIN post_versions v"
                    " ON v.id = c.version AND c.post IS NOT NULL"
                    " WHERE c.account = ? ORDER BY c.detected_at DESC, c.id DESC LIMIT 500",
                    (account_id,),
                )
            ]
            for c in changes:
                c["detail"] = json.loads(c["detail"] or "{}")
        finally:
            con.close()
        return self.render("account.html", a=a, profiles=profiles, crawls=crawls, changes=changes)

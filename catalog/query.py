"""Every read query of the catalog, in one place: the overview, `bewaar changes` and exports
select with these functions, so what a researcher finds on the overview is what an export
contains.

Out-of-scope posts (a hybrid or personal account's private or party-political posts, marked by
its seed's rules) stay visible to archivists and are counted apart; exports leave them out by
selecting with `PostFilter(scope="in")` (EXPORT_SCOPE).

The overview (bewaar/app/web) reads through it; nothing here writes.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bewaar.timeutil import ts14

SCHEMA_VERSION = 4  # PRAGMA user_version; catalog/db.py migrates files up to it

TYPES = ("new", "found", "edited", "deleted", "restored", "unverified", "profile", "counts")
DEFAULT_TYPES = tuple(t for t in TYPES if t != "counts")  # counts change on every crawl
POST_CHANGES = ("new", "found", "edited", "deleted", "restored", "unverified")
PAGE_SIZE = 50
EXPORT_SCOPE = "in"  # exports select in-scope posts only: PostFilter(scope=EXPORT_SCOPE)
RELATIONS = ("own", "own_reply", "comment", "context", "received", "story")
SCOPES = ("all", "in", "out")
HIT_OPEN, HIT_CLOSE = "\x02", "\x03"  # around search hits in snippets
_TOKEN = re.compile(r'"([^"]*)"|(\S+)')


class CatalogUnavailable(Exception):
    """The catalog cannot be read (none yet, unreadable, empty, or from a newer bewaar)."""

    def __init__(self, message: str, newer: bool = False, missing: bool = False) -> None:
        super().__init__(message)
        self.newer = newer
        self.missing = missing


def readonly_uri(path: Path) -> str:
    """A read-only SQLite URI for a path; the path is percent-encoded, so a root whose name
    holds '#' or '?' still opens the right file."""
    return Path(path).resolve().as_uri() + "?mode=ro"


def connect_readonly(path: Path, wait: float = 10.0) -> sqlite3.Connection:
    """A read-only connection (rows as sqlite3.Row) to a catalog of this schema or older."""
    path = Path(path)
    if not path.exists():
        raise CatalogUnavailable(
            f"There is no catalog at {path} yet: it is made by the first crawl "
            "(or `bewaar catalog rebuild`).",
            missing=True,
        )
    try:
        con = sqlite3.connect(readonly_uri(path), uri=True, isolation_level=None, timeout=wait)
        con.row_factory = sqlite3.Row
        con.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
        version = con.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.Error as e:
        raise CatalogUnavailable(f"The catalog {path} cannot be read: {e}") from None
    if version > SCHEMA_VERSION:
        con.close()
        raise CatalogUnavailable(
            f"{path}: catalog schema {version} is newer than this bewaar knows "
            f"({SCHEMA_VERSION}): upgrade bewaar",
            newer=True,
        )
    return con


def schema_of(con: sqlite3.Connection) -> int:
    return int(con.execute("PRAGMA user_version").fetchone()[0])


def replay_path(collection: str, iso: str | None, url: str | None) -> str | None:
    """pywb's /COLLECTION/TIMESTAMP/URL for a capture."""
    if not (collection and iso and url):
        return None
    return f"/{quote(collection)}/{ts14(iso)}/{url}"


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


def _day_after(day: str | None) -> str | None:
    """The start of the day after `day` (an exclusive upper bound); None (open) after the
    calendar's last day, 9999-12-31."""
    if not day:
        return None
    d = date.fromisoformat(day)
    return None if d == date.max else (d + timedelta(days=1)).isoformat() + "T00:00:00Z"


def _in_range(col: str, lo: str | None, hi: str | None, where: list[str], args: list[Any]) -> None:
    """`lo <= col < hi`, either end open, as SQL conditions with their arguments."""
    if lo:
        where.append(f"{col} >= ?")
        args.append(lo)
    if hi:
        where.append(f"{col} < ?")
        args.append(hi)


# --------------------------------------------------------------------------- posts


@dataclass
class PostFilter:
    """What the overview's search form (and an export's selection) asks for."""

    q: str = ""  # words, "phrases", prefix* (full text over every version)
    account: int | None = None
    accounts: list[int] = field(default_factory=list)
    platform: str | None = None
    change: str | None = None  # one of POST_CHANGES
    date_from: str | None = None  # YYYY-MM-DD, inclusive
    date_to: str | None = None  # YYYY-MM-DD, inclusive
    date_of: str = "published"  # published | captured | changed
    replies: bool = False  # also replies, comments, context and received posts
    post_ids: list[int] = field(default_factory=list)  # catalog row ids
    collection: str | None = None
    page: int = 1
    relation: str | None = None  # only posts of this relation to the account (RELATIONS)
    scope: str = "all"  # all | in (exports: government information only) | out


@dataclass(frozen=True)
class View:
    """What one user may see of the catalog. The application computes it from the access
    restrictions (bewaar/app/access/policy.py: view_for); every query here takes one, so a
    search, a count, a snippet and a post page leave out the same things. The default sees
    everything."""

    collections: tuple[str, ...] | None = None  # None: every collection
    hidden_posts: frozenset[int] = frozenset()  # post row ids (replies to them included)
    hidden_accounts: frozenset[int] = frozenset()
    pseudonyms: Mapping[int, str] = field(default_factory=dict)  # reply id -> "person 3"
    no_replay: frozenset[int] = frozenset()  # posts shown without replay links
    marks: Mapping[int, str] = field(default_factory=dict)  # post id -> restriction note

    @property
    def everything(self) -> bool:
        return self.collections is None and not (self.hidden_posts or self.hidden_accounts)

    def where(self, post: str | None = "p", account: str = "a") -> tuple[list[str], list[Any]]:
        """SQL conditions (and their arguments) that keep what this view may see; `post` is
        the alias of posts (None when the query has no post), `account` of accounts."""
        where: list[str] = []
        args: list[Any] = []
        if self.collections is not None:
            where.append(f"{account}.collection IN (SELECT value FROM json_each(?))")
            args.append(json.dumps(list(self.collections)))
        if self.hidden_accounts:
            where.append(f"{account}.id NOT IN (SELECT value FROM json_each(?))")
            args.append(json.dumps(sorted(self.hidden_accounts)))
        if post and self.hidden_posts:
            where.append(f"{post}.id NOT IN (SELECT value FROM json_each(?))")
            args.append(json.dumps(sorted(self.hidden_posts)))
        return where, args

    def may_see_post(self, post_id: int, account_id: int, collection: str) -> bool:
        return (
            post_id not in self.hidden_posts
            and account_id not in self.hidden_accounts
            and (self.collections is None or collection in self.collections)
        )

    def may_see_account(self, account_id: int, collection: str) -> bool:
        return account_id not in self.hidden_accounts and (
            self.collections is None or collection in self.collections
        )

    def present(self, row: dict[str, Any], id_key: str = "id") -> dict[str, Any]:
        """A post row as this view shows it: a pseudonym instead of a restricted reply's
        author, no replay link where it may not be replayed, the archivist's note."""
        pid = row.get(id_key)
        alias = self.pseudonyms.get(pid) if pid is not None else None
        if alias:
            row["author"] = row["author_name"] = alias
            row["pseudonymous"] = True
            for key in ("url", "page_url"):
                if key in row:
                    row[key] = None
        if pid in self.no_replay or alias:
            for key in ("replay_url", "replay"):
                if key in row:
                    row[key] = None
        if pid in self.marks:
            row["restricted"] = self.marks[pid]
        return row


EVERYTHING = View()


def _and(sql_where: list[str]) -> str:
    return (" WHERE " + " AND ".join(sql_where)) if sql_where else ""


def totals(con: sqlite3.Connection, view: View = EVERYTHING) -> dict[str, int]:
    where, args = view.where()
    join = " FROM posts p JOIN accounts a ON a.id = p.account"
    crawl_where = ""
    crawl_args: list[Any] = []
    if view.collections is not None:
        crawl_where = " WHERE collection IN (SELECT value FROM json_each(?))"
        crawl_args = [json.dumps(list(view.collections))]
    return {
        "posts": con.execute(
            "SELECT count(*)" + join + _and(["p.relation = 'own'", *where]), args
        ).fetchone()[0],
        "out_of_scope": con.execute(
            "SELECT count(*)" + join
            + _and(["p.relation = 'own'", "p.out_of_scope IS NOT NULL", *where]), args
        ).fetchone()[0],
        "versions": con.execute(
            "SELECT count(*) FROM post_versions v JOIN posts p ON p.id = v.post"
            " JOIN accounts a ON a.id = p.account" + _and(where), args
        ).fetchone()[0],
        "crawls": con.execute("SELECT count(*) FROM crawls" + crawl_where, crawl_args).fetchone()[0],
    }


def accounts_summary(con: sqlite3.Connection, view: View = EVERYTHING) -> list[dict[str, Any]]:
    """Accounts with post and change counts and their latest capture: a few grouped
    queries, not a few per account (hundreds of accounts stay quick)."""
    acc_where, acc_args = view.where(post=None)
    rows = [dict(r) for r in con.execute(
        "SELECT a.* FROM accounts a" + _and(acc_where) + " ORDER BY platform, name, collection",
        acc_args,
    )]  # fmt: skip
    hidden = json.dumps(sorted(view.hidden_posts))
    posts = dict(con.execute(
        "SELECT account, count(*) FROM posts WHERE relation = 'own'"
        " AND id NOT IN (SELECT value FROM json_each(?)) GROUP BY account", (hidden,)
    ).fetchall())  # fmt: skip
    apart: dict[int, dict[str, int]] = {}
    for r in con.execute(
        "SELECT account, coalesce(sum(out_of_scope IS NOT NULL), 0) AS out_of_scope,"
        " coalesce(sum(in_browser = 0 AND in_export = 1), 0) AS export_only"
        " FROM posts WHERE relation = 'own' AND id NOT IN (SELECT value FROM json_each(?))"
        " GROUP BY account", (hidden,),
    ):  # fmt: skip
        apart[r["account"]] = {"out_of_scope": r["out_of_scope"], "export_only": r["export_only"]}
    gaps = {
        r["account"]: json.loads(r["gaps"])
        for r in con.execute(
            "SELECT account, gaps, max(started) FROM account_crawls WHERE gaps IS NOT NULL"
            " AND pages_ok > 0 GROUP BY account"
        )
    }
    counts: dict[int, dict[str, int]] = {}
    for r in con.execute(
        "SELECT account, type, count(*) AS n FROM changes WHERE post IS NULL"
        " OR post NOT IN (SELECT value FROM json_each(?)) GROUP BY account, type", (hidden,)
    ):  # fmt: skip
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
        a.update(apart.get(a["id"], {"out_of_scope": 0, "export_only": 0}))
        a["gaps"] = gaps.get(a["id"])
        a["changes"] = counts.get(a["id"], {})
        a["last"] = last.get(a["id"])
        a["last_profile"] = last_ok.get(a["id"])
    return rows


def search_posts(
    con: sqlite3.Connection, f: PostFilter, page_size: int = PAGE_SIZE, view: View = EVERYTHING
) -> tuple[list[dict[str, Any]], bool]:
    """Posts matching the filter, newest first, one page of `page_size` (0: all), and whether
    there are more. The overview's search and exports select with this one query; `view`
    leaves out what the user may not see (before paging, so pages and counts stay right)."""
    where, args = view.where()
    q = fts_query(f.q)
    if q:
        where.append(
            "p.id IN (SELECT v2.post FROM post_text JOIN post_versions v2"
            " ON v2.id = post_text.rowid WHERE post_text MATCH ?)"
        )
        args.append(q)
    if f.relation:
        where.append("p.relation = ?")
        args.append(f.relation)
    elif not f.replies:
        where.append("p.relation IN ('own', 'story')")
    if f.scope == "in":
        where.append("p.out_of_scope IS NULL")
    elif f.scope == "out":
        where.append("p.out_of_scope IS NOT NULL")
    if f.account is not None:
        where.append("p.account = ?")
        args.append(f.account)
    if f.accounts:
        where.append(f"p.account IN ({','.join('?' * len(f.accounts))})")
        args += list(f.accounts)
    if f.post_ids:
        where.append(f"p.id IN ({','.join('?' * len(f.post_ids))})")
        args += list(f.post_ids)
    if f.platform:
        where.append("a.platform = ?")
        args.append(f.platform)
    if f.collection:
        where.append("a.collection = ?")
        args.append(f.collection)
    lo = f.date_from + "T00:00:00Z" if f.date_from else None
    hi = _day_after(f.date_to)
    change_cond, change_args = [], []
    if f.change:
        change_cond.append("c.type = ?")
        change_args.append(f.change)
    if f.date_of == "changed":
        _in_range("c.detected_at", lo, hi, change_cond, change_args)
    if change_cond:
        types = ",".join(f"'{t}'" for t in POST_CHANGES)
        where.append(
            f"EXISTS (SELECT 1 FROM changes c WHERE c.post = p.id AND c.type IN ({types})"
            f" AND {' AND '.join(change_cond)})"
        )
        args += change_args
    if f.date_of == "published":
        _in_range("coalesce(p.published_at, p.first_seen)", lo, hi, where, args)
    elif f.date_of == "captured" and (lo or hi):  # any sighting in the range
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
    if page_size:
        args += [page_size + 1, (f.page - 1) * page_size]
    else:
        sql = sql.replace(" LIMIT ? OFFSET ?", "")
    rows = [dict(r) for r in con.execute(sql, args)]
    more = bool(page_size) and len(rows) > page_size
    rows = rows[:page_size] if page_size else rows
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
            f" snippet(post_text, 1, '{HIT_OPEN}', '{HIT_CLOSE}', '…', 24) AS snip"
            " FROM post_text JOIN post_versions v ON v.id = post_text.rowid"
            f" WHERE post_text MATCH ? AND v.post IN ({marks}) ORDER BY v.seq DESC",
            [q, *ids],
        ):
            hits.setdefault(h["post"], dict(h))  # the newest matching version
    for r in rows:
        r["out_of_scope"] = json.loads(r["out_of_scope"]) if r.get("out_of_scope") else None
        r["changes"] = changes.get(r["id"], [])
        r["hit"] = hits.get(r["id"])
        r["media"] = json.loads(r["media"] or "[]")
        r["replay"] = best_capture(con, r["latest_version"], r["page_url"], r["captured_at"])
        r["replay_url"] = replay_path(r["collection"], r["replay"][1], r["replay"][0])
        view.present(r)
    return rows, more


def best_capture(con: sqlite3.Connection, version: int, url: str, at: str) -> tuple[str, str]:
    """Where a version is best replayed: its first capture on the post's own page, else
    the page it was first read from."""
    own = con.execute(
        "SELECT pg.url, pg.captured_at FROM post_sightings s JOIN pages pg ON pg.id = s.page"
        " WHERE s.version = ? AND s.source = 'post' ORDER BY s.captured_at LIMIT 1",
        (version,),
    ).fetchone()
    return (own["url"], own["captured_at"]) if own else (url, at)


def post_detail(con: sqlite3.Connection, post_id: int, view: View = EVERYTHING) -> dict[str, Any] | None:
    """One post with every version, its captures, diffs, re-checks, changes and replies;
    None when there is none or `view` may not see it."""
    p = con.execute(
        "SELECT p.*, a.name AS account_name, a.platform, a.collection, a.display_name"
        " FROM posts p JOIN accounts a ON a.id = p.account WHERE p.id = ?",
        (post_id,),
    ).fetchone()
    if p is None or not view.may_see_post(p["id"], p["account"], p["collection"]):
        return None
    p = dict(p)
    p["out_of_scope"] = json.loads(p["out_of_scope"]) if p.get("out_of_scope") else None
    hide_replay = post_id in view.no_replay or post_id in view.pseudonyms
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
        best = best_capture(con, v["id"], v["page_url"], v["captured_at"])
        d["replay_url"] = None if hide_replay else replay_path(p["collection"], best[1], best[0])
        if hide_replay:
            d["captures"] = [{**c, "url": None} for c in d["captures"]]
            d["page_url"] = None
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
        view.present(dict(r))
        for r in con.execute(
            "SELECT p.id, p.author, p.author_name, v.text FROM posts p JOIN post_versions v"
            " ON v.id = p.latest_version WHERE p.account = ? AND p.reply_to = ?"
            " ORDER BY coalesce(p.published_at, p.first_seen)",
            (p["account"], p["post_id"]),
        )
        if r["id"] not in view.hidden_posts
    ]
    view.present(p)
    if hide_replay:
        checks = [{**c, "url": None} for c in checks]
        changes = [{**c, "url": None} for c in changes]
    return {"p": p, "versions": versions, "checks": checks, "changes": changes, "replies": replies}


def account_detail(
    con: sqlite3.Connection, account_id: int, view: View = EVERYTHING
) -> dict[str, Any] | None:
    """One account with its profile versions, crawls and changes (none of posts `view` may
    not see); None when there is none or `view` may not see it."""
    a = con.execute("SELECT * FROM accounts WHERE id = ?", (account_id,)).fetchone()
    if a is None or not view.may_see_account(a["id"], a["collection"]):
        return None
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
        c["gaps"] = json.loads(c["gaps"]) if c.get("gaps") else None
    relations = [
        dict(r)
        for r in con.execute(
            "SELECT * FROM relations WHERE account = ? ORDER BY type, first_seen, handle LIMIT 2000",
            (account_id,),
        )
    ]
    hidden = json.dumps(sorted(view.hidden_posts))
    kinds = {
        r["relation"]: {"posts": r["n"], "out_of_scope": r["oos"]}
        for r in con.execute(
            "SELECT relation, count(*) AS n, coalesce(sum(out_of_scope IS NOT NULL), 0) AS oos"
            " FROM posts WHERE account = ? AND id NOT IN (SELECT value FROM json_each(?))"
            " GROUP BY relation", (account_id, hidden),
        )
    }  # fmt: skip
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
    changes = [c for c in changes if c["post_row"] not in view.hidden_posts]
    for c in changes:
        c["detail"] = json.loads(c["detail"] or "{}")
        if c["post_row"] in view.pseudonyms:
            c["pseudonymous"] = view.pseudonyms[c["post_row"]]
        if c["post_row"] in view.no_replay or c["post_row"] in view.pseudonyms:
            c["no_replay"] = True
    return {"a": a, "profiles": profiles, "crawls": crawls, "changes": changes,
            "relations": relations, "kinds": kinds}  # fmt: skip


def gap_reports(
    con: sqlite3.Connection, accounts: list[int] | None = None, collection: str | None = None,
    history: bool = False,
) -> list[dict[str, Any]]:
    """Gap reports per account (the latest crawl's, or every crawl's with `history`), for
    `bewaar changes` and the overview."""
    where, args = ["ac.gaps IS NOT NULL", "ac.pages_ok > 0"], []
    if accounts is not None:
        where.append(f"ac.account IN ({','.join('?' * len(accounts))})")
        args += accounts
    if collection:
        where.append("a.collection = ?")
        args.append(collection)
    rows = con.execute(
        "SELECT a.id, a.collection, a.name, a.platform, a.account_type, c.crawl_id, ac.started,"
        " ac.gaps FROM account_crawls ac JOIN accounts a ON a.id = ac.account"
        " JOIN crawls c ON c.id = ac.crawl WHERE " + " AND ".join(where)
        + " ORDER BY a.collection, a.name, ac.started DESC", args,
    ).fetchall()  # fmt: skip
    out, seen = [], set()
    for r in rows:
        if not history and r["id"] in seen:
            continue
        seen.add(r["id"])
        out.append({"account": r["name"], "collection": r["collection"], "platform": r["platform"],
                    "account_type": r["account_type"], "crawl_id": r["crawl_id"],
                    "crawled": r["started"], **json.loads(r["gaps"])})  # fmt: skip
    return out


# --------------------------------------------------------------------------- changes


@dataclass
class ChangeFilter:
    accounts: list[int] | None = None
    since: str | None = None
    types: tuple[str, ...] = DEFAULT_TYPES
    collection: str | None = None


_QUERY = """
SELECT c.id, c.type, c.detected_at, c.detail, c.version, c.previous,
       a.collection, a.name AS account, a.platform, cr.crawl_id,
       p.post_id, p.url AS post_url, p.published_at, p.status, p.status_reason,
       pg.url AS page_url, pg.captured_at AS page_at, pg.status AS page_status
FROM changes c
JOIN accounts a ON a.id = c.account
JOIN crawls cr ON cr.id = c.crawl
LEFT JOIN posts p ON p.id = c.post
LEFT JOIN pages pg ON pg.id = c.page
"""


def list_changes(con: sqlite3.Connection, f: ChangeFilter) -> list[dict[str, Any]]:
    where, args = [f"c.type IN ({','.join('?' * len(f.types))})"], list(f.types)
    if f.accounts is not None:
        where.append(f"c.account IN ({','.join('?' * len(f.accounts))})")
        args += f.accounts
    if f.since:
        where.append("c.detected_at >= ?")
        args.append(f.since)
    if f.collection:
        where.append("a.collection = ?")
        args.append(f.collection)
    sql = _QUERY + " WHERE " + " AND ".join(where) + " ORDER BY c.detected_at, c.id"
    return [_describe(con, r) for r in con.execute(sql, args)]


def _version(con: sqlite3.Connection, table: str, vid: int | None) -> sqlite3.Row | None:
    if vid is None:
        return None
    return con.execute(f"SELECT * FROM {table} WHERE id = ?", (vid,)).fetchone()  # noqa: S608


def _post_capture(con: sqlite3.Connection, v: sqlite3.Row) -> tuple[str, str]:
    return best_capture(con, v["id"], v["page_url"], v["captured_at"])


def _describe(con: sqlite3.Connection, r: sqlite3.Row) -> dict[str, Any]:
    coll = r["collection"]
    out: dict[str, Any] = {
        "type": r["type"],
        "detected_at": r["detected_at"],
        "collection": coll,
        "account": r["account"],
        "platform": r["platform"],
        "crawl_id": r["crawl_id"],
    }
    detail = json.loads(r["detail"] or "{}")
    if r["type"] in ("profile", "counts"):
        v = _version(con, "profile_versions", r["version"])
        prev = _version(con, "profile_versions", r["previous"])
        out["fields" if r["type"] == "profile" else "counts"] = (
            detail.get("fields") if r["type"] == "profile" else detail.get("counts")
        )
        out["replay"] = replay_path(coll, r["page_at"], r["page_url"])
        if prev is not None:
            page = con.execute("SELECT url FROM pages WHERE id = ?", (prev["page"],)).fetchone()
            out["replay_before"] = replay_path(coll, prev["captured_at"], page["url"])
        if v is not None:
            out["profile_version"] = v["seq"]
        return out

    v = _version(con, "post_versions", r["version"])
    out.update(
        post_id=r["post_id"],
        url=r["post_url"],
        published_at=r["published_at"],
        status=r["status"],
    )
    if v is not None:
        url, at = _post_capture(con, v)
        out.update(version=v["seq"], title=v["title"], text=v["text"], captured_at=at,
                   replay=replay_path(coll, at, url))  # fmt: skip
    if r["type"] == "edited":
        prev = _version(con, "post_versions", r["previous"])
        out["fields"] = detail.get("fields", [])
        if prev is not None:
            url, at = _post_capture(con, prev)
            out.update(previous_version=prev["seq"], previous_text=prev["text"],
                       previous_title=prev["title"], previous_captured_at=at,
                       replay_before=replay_path(coll, at, url))  # fmt: skip
        for key in ("text", "title", "media"):
            if key in detail:
                out[f"{key}_diff" if key != "media" else "media"] = (
                    detail[key]["diff"] if key != "media" else detail[key]
                )
    if r["type"] in ("deleted", "unverified"):
        out.update(
            answer=detail.get("reason"),
            answer_status=detail.get("status"),
            checked_at=r["page_at"],
            replay_answer=replay_path(coll, r["page_at"], r["page_url"]),
        )
    if r["type"] == "restored":
        out["was"] = detail.get("was")
    return out


def removals(con: sqlite3.Connection, collection: str | None = None) -> list[dict[str, Any]]:
    """Posts destroyed or redacted, newest first, with the record that did it (schema 3)."""
    if schema_of(con) < 3:
        return []
    where, args = ("WHERE collection = ?", [collection]) if collection else ("", [])
    rows = con.execute(
        f"SELECT collection, record, kind, at, account, post_id, url, url_sha256, reason"  # noqa: S608
        f" FROM removals {where} ORDER BY at DESC, id DESC", args)
    return [dict(r) for r in rows]


# --------------------------------------------------------------------------- exports
# An export selects with search_posts (the overview's own query); these read what it then
# needs per post: every version with the page (WARC location) it is best replayed from.


def find_accounts(con: sqlite3.Connection, names: list[str]) -> tuple[list[int], list[str]]:
    """Account ids for names as users write them ("mastodon:minbzk@social.example",
    "x:@MinBZK", "x:minbzk", a site's host), and the names that match no account."""
    ids: list[int] = []
    unknown: list[str] = []
    for name in names:
        platform, _, handle = name.strip().partition(":")
        if not handle:  # a site's host, or a handle on any platform
            platform, handle = "", platform
        h = handle.strip().lstrip("@").lower()
        found = [
            r["id"]
            for r in con.execute(
                "SELECT id FROM accounts WHERE (? = '' OR platform = ?) AND (lower(handle) = ?"
                " OR lower(name) = ? OR lower(name) = ? OR lower(handle) LIKE ? ESCAPE '\\')"
                " ORDER BY id",
                (platform.lower(), platform.lower(), h, h, f"{platform.lower()}:{h}",
                 h.replace("%", "\\%").replace("_", "\\_") + "@%"),
            )
        ]  # fmt: skip
        if found:
            ids += [i for i in found if i not in ids]
        else:
            unknown.append(name)
    return ids, unknown


def find_posts(con: sqlite3.Connection, urls: list[str]) -> tuple[list[int], list[str]]:
    """Post ids for post URLs (the canonical URL, or a captured post page), and the URLs that
    match no post."""
    ids: list[int] = []
    unknown: list[str] = []
    for url in urls:
        row = con.execute("SELECT id FROM posts WHERE url = ? ORDER BY id LIMIT 1", (url,)).fetchone()
        if row is None:
            row = con.execute(
                "SELECT s.post AS id FROM post_sightings s JOIN pages pg ON pg.id = s.page"
                " WHERE pg.url = ? AND s.source = 'post' ORDER BY s.captured_at LIMIT 1",
                (url,),
            ).fetchone()
        if row is None:
            unknown.append(url)
        elif row["id"] not in ids:
            ids.append(row["id"])
    return ids, unknown


def page_row(con: sqlite3.Connection, page_id: int) -> dict[str, Any] | None:
    """A captured page with its crawl and collection: where its records are."""
    r = con.execute(
        "SELECT pg.*, c.crawl_id, c.collection FROM pages pg JOIN crawls c ON c.id = pg.crawl"
        " WHERE pg.id = ?",
        (page_id,),
    ).fetchone()
    return dict(r) if r else None


def warc_page_bounds(con: sqlite3.Connection, collection: str, warc: str) -> list[tuple[int, int]]:
    """(offset, length) of every page-info record in one WARC file, in file order: a page's
    records run from the end of the page before it to the end of its own page-info record."""
    return [
        (r["offset"], r["length"])
        for r in con.execute(
            "SELECT pg.offset, pg.length FROM pages pg JOIN crawls c ON c.id = pg.crawl"
            " WHERE c.collection = ? AND pg.warc = ? ORDER BY pg.offset",
            (collection, warc),
        )
    ]


def export_post(con: sqlite3.Connection, post_id: int) -> dict[str, Any] | None:
    """One post as an export needs it: the account, every version (newest first) with its
    information object and the page it is best replayed from, the changes and re-checks,
    and the ids of its replies."""
    found = post_detail(con, post_id)
    if found is None:
        return None
    p = found["p"]
    acc = con.execute("SELECT handle, profile_url FROM accounts WHERE id = ?", (p["account"],)).fetchone()
    p["handle"], p["profile_url"] = acc["handle"], acc["profile_url"]
    for v, row in zip(
        found["versions"],
        con.execute("SELECT id, page, object FROM post_versions WHERE post = ? ORDER BY seq DESC", (post_id,)),
        strict=True,
    ):
        own = con.execute(
            "SELECT s.page FROM post_sightings s WHERE s.version = ? AND s.source = 'post'"
            " ORDER BY s.captured_at LIMIT 1",
            (row["id"],),
        ).fetchone()
        v["page"] = page_row(con, own["page"] if own else row["page"])
        v["object"] = json.loads(row["object"] or "{}")
    found["reply_ids"] = [
        r["id"]
        for r in con.execute(
            "SELECT id FROM posts WHERE account = ? AND reply_to = ?"
            " ORDER BY coalesce(published_at, first_seen), id",
            (p["account"], p["post_id"]),
        )
    ]
    if p["reply_to"]:
        parent = con.execute(
            "SELECT id, url FROM posts WHERE account = ? AND post_id = ?", (p["account"], p["reply_to"])
        ).fetchone()
        p["parent"] = dict(parent) if parent else None
    return found


def posts_for_linking(con: sqlite3.Connection, collection: str, account: str) -> list[dict[str, Any]]:
    """An account's posts as `bewaar import` joins an export with them: id, URL, time, text
    (the latest browser version)."""
    return [
        dict(r)
        for r in con.execute(
            "SELECT p.post_id, p.url, p.published_at, v.text FROM posts p"
            " JOIN accounts a ON a.id = p.account LEFT JOIN post_versions v ON v.id = p.latest_version"
            " WHERE a.collection = ? AND a.name = ? AND p.in_browser = 1",
            (collection, account),
        )
    ]

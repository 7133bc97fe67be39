"""What a user may see: restrictions resolved against the catalog (for the overview, exports
and the CLI) and against the collections' indexes (for pywb's access-control lists).

Restrictions name things as an archivist does (a URL, an account, a post, a collection, the
replies by others, posts of a period). Both products are computed from the same resolution:

- `view_for(root, user, con)` -> catalog.query.View: the posts, accounts and collections the
  user may see, which replies are shown under a pseudonym, which posts may not be replayed.
  The overview and exports select through catalog/query.py with it.
- `replay_rules(root)` -> per collection, the index keys whose captures are restricted and the
  roles that may still replay them; bewaar/app/access/acl.py writes them as pywb ACL files.

A post's captures in replay are the captures of its own pages (the post page, re-checks of
it) and every resource captured only on such pages (its API records, DOM snapshot, screenshot,
extracted objects), plus its media files and any URL whose path names the post's id (an id
of six or more characters as a whole token: `/statuses/ID`, `/media/ID-1.png`). A crawler writes a page's records as one block of
its WARC, ending with the urn:pageinfo record the catalog lists, so an index entry belongs to
the page whose block holds its offset. A resource also captured on a page that is not
restricted (the site's script, the account's avatar) stays replayable: it is not the post's.
A page that lists the post among others (the profile's timeline) is not the post's page:
restrict it by --url or restrict the account.

Replies by others are found in the pages that show them: a resource of such a page that names
a reply (its id in a text body, or its author's handle in the URL, e.g. an avatar) is
restricted, and so are the page's DOM snapshot, screenshot and extracted objects.
"""

from __future__ import annotations

import bisect
import json
import re
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bewaar.config import ROLES
from bewaar.model import Root
from bewaar.timeutil import iso
from catalog import query as cq

from .store import RANK, AccessStore, Restriction, User

URN_PAGE_RECORDS = ("urn:dom:", "urn:screenshot:", "urn:objects:", "urn:pageinfo:")
TEXT_MIMES = ("json", "html", "text", "javascript", "xml")
MAX_BODY = 8 * 1024 * 1024
MIN_ID_LEN = 6  # a post id this long, as a whole token in a URL's path, names the post


def _token_rx(ids: set[str]) -> re.Pattern[str]:
    alts = "|".join(re.escape(i) for i in sorted(ids))
    return re.compile(r"(?<![\w])(" + alts + r")(?![\w])")


def roles_seeing(r: Restriction) -> frozenset[str]:
    """Roles that still replay what `r` restricts (exclude: nobody)."""
    if r.kind == "exclude":
        return frozenset()
    return frozenset(x for x in ROLES if RANK[x] >= RANK[r.visible_to])


def active_restrictions(root: Root, at: str | None = None) -> list[Restriction]:
    if not AccessStore.exists(root):
        return []
    with AccessStore.open(root) as store:
        return [r for r in store.restrictions() if r.active(at)]


def _local(handle: str | None) -> str:
    h = (handle or "").lower().lstrip("@")
    return h.split("@")[0]


# --------------------------------------------------------------------------- the catalog


@dataclass
class Resolved:
    """One restriction resolved against the catalog."""

    r: Restriction
    collections: set[str] = field(default_factory=set)  # whole collections
    accounts: set[int] = field(default_factory=set)  # whole accounts
    posts: set[int] = field(default_factory=set)  # posts (and replies of them)
    replies: set[int] = field(default_factory=set)  # replies by others (pseudonymised)
    urls: list[str] = field(default_factory=list)  # url target: exact URLs or prefixes*


def _posts_in_range(con: sqlite3.Connection, accounts: Iterable[int], r: Restriction) -> set[int]:
    acc = list(accounts)
    where, args = ["account IN (SELECT value FROM json_each(?))"], [json.dumps(acc)]
    if r.date_from:
        where.append("coalesce(published_at, first_seen) >= ?")
        args.append(r.date_from + "T00:00:00Z")
    if r.date_to:
        end = (date.fromisoformat(r.date_to) + timedelta(days=1)).isoformat()
        where.append("coalesce(published_at, first_seen) < ?")
        args.append(end + "T00:00:00Z")
    return {
        row[0] for row in con.execute(f"SELECT id FROM posts WHERE {' AND '.join(where)}", args)
    }


def _with_replies(con: sqlite3.Connection, posts: set[int]) -> set[int]:
    """Posts plus the replies to them (a reply to a hidden post is hidden with it)."""
    if not posts:
        return posts
    rows = con.execute(
        "SELECT r.id FROM posts r JOIN posts p ON p.account = r.account AND r.reply_to = p.post_id"
        " WHERE p.id IN (SELECT value FROM json_each(?))",
        (json.dumps(sorted(posts)),),
    )
    return posts | {row[0] for row in rows}


def _replies_by_others(
    con: sqlite3.Connection, accounts: set[int] | None = None, among: set[int] | None = None
) -> set[int]:
    """Replies whose author is not the account itself, and others' posts kept for their
    relation to it (mentioning it, or answered by it: catalog schema 3); within `accounts` and
    `among`."""
    out = set()
    for pid, author, handle, account in con.execute(
        "SELECT p.id, p.author, a.handle, p.account FROM posts p JOIN accounts a ON a.id = p.account"
        " WHERE p.reply_to IS NOT NULL OR p.relation IN ('received', 'context')"
    ):
        if accounts is not None and account not in accounts:
            continue
        if among is not None and pid not in among:
            continue
        if _local(author) != _local(handle):
            out.add(pid)
    return out


def resolve(con: sqlite3.Connection, r: Restriction) -> Resolved:
    res = Resolved(r)
    accounts_of = lambda sql, args: {row[0] for row in con.execute(sql, args)}  # noqa: E731
    if r.target == "all":
        accounts = accounts_of("SELECT id FROM accounts", ())
        if not (r.replies or r.date_from or r.date_to):
            res.collections = {
                row[0] for row in con.execute("SELECT DISTINCT collection FROM accounts")
            }
    elif r.target == "collection":
        accounts = accounts_of("SELECT id FROM accounts WHERE collection = ?", (r.value,))
        if not (r.replies or r.date_from or r.date_to):
            res.collections = {r.value}
    elif r.target == "account":
        accounts = accounts_of("SELECT id FROM accounts WHERE name = ?", (r.value,))
    elif r.target == "post":
        accounts = set()
        posts = {row[0] for row in con.execute("SELECT id FROM posts WHERE url = ?", (r.value,))}
        if r.replies:
            res.replies = _replies_by_others(con, among=_with_replies(con, posts))
        else:
            res.posts = _with_replies(con, posts)
        return res
    else:  # url
        res.urls = [r.value]
        prefix = r.value.endswith("*")
        cond = "url LIKE ? ESCAPE '\\'" if prefix else "url = ?"
        value = _like_prefix(r.value[:-1]) if prefix else r.value
        posts = {row[0] for row in con.execute(f"SELECT id FROM posts WHERE {cond}", (value,))}
        if r.replies:
            res.replies = _replies_by_others(con, among=_with_replies(con, posts))
        else:
            res.posts = _with_replies(con, posts)
        return res
    if r.replies:
        scope = _posts_in_range(con, accounts, r) if (r.date_from or r.date_to) else None
        res.replies = _replies_by_others(con, accounts, scope)
    elif r.date_from or r.date_to:
        res.posts = _with_replies(con, _posts_in_range(con, accounts, r))
    else:
        res.accounts = accounts
    return res


def _like_prefix(text: str) -> str:
    return re.sub(r"([%_\\])", r"\\\1", text) + "%"


def view_for(root: Root, user: User, con: sqlite3.Connection, at: str | None = None) -> cq.View:
    """What `user` may see of the catalog now: the hook the overview and exports use.

    Posts, accounts and collections the user may not see are left out of every query (search,
    counts, snippets, post and account pages); replies by others that are restricted are shown
    to such a user under a pseudonym ("person 3", numbered per thread); posts the user sees
    but may not replay (exclude) come without replay links; an archivist sees which
    restriction holds a post."""
    hidden_posts: set[int] = set()
    hidden_accounts: set[int] = set()
    hidden_collections: set[str] = set()
    pseudonymous: set[int] = set()
    no_replay: set[int] = set()
    marks: dict[int, str] = {}
    for r in active_restrictions(root, at):
        res = resolve(con, r)
        sees = user.at_least(r.visible_to)
        label = f"{r.kind} #{r.id}: {r.reason}" + (f" (until {r.until[:10]})" if r.until else "")
        if r.kind == "exclude" or not sees:
            # in replay nobody (exclude) or not this user sees it
            if res.collections or res.accounts:
                rows = con.execute(
                    "SELECT p.id FROM posts p JOIN accounts a ON a.id = p.account"
                    " WHERE p.account IN (SELECT value FROM json_each(?))"
                    " OR a.collection IN (SELECT value FROM json_each(?))",
                    (json.dumps(sorted(res.accounts)), json.dumps(sorted(res.collections))),
                )
                no_replay.update(row[0] for row in rows)
            no_replay.update(res.posts | res.replies)
        if not sees:
            hidden_collections |= res.collections
            hidden_accounts |= res.accounts
            hidden_posts |= res.posts
            pseudonymous |= res.replies
        else:
            for p in res.posts | res.replies:
                marks.setdefault(p, label)
    pseudonymous -= hidden_posts
    collections = None
    if user.collections or hidden_collections:
        known = [row[0] for row in con.execute("SELECT DISTINCT collection FROM accounts")]
        collections = tuple(
            c for c in known if user.may_see_collection(c) and c not in hidden_collections
        )
    return cq.View(
        collections=collections,
        hidden_posts=frozenset(hidden_posts),
        hidden_accounts=frozenset(hidden_accounts),
        pseudonyms=_pseudonyms(con, pseudonymous),
        no_replay=frozenset(no_replay),
        marks=marks,
    )


def _pseudonyms(con: sqlite3.Connection, replies: set[int]) -> dict[int, str]:
    """ "person N", numbered per thread in the order people first replied; one person keeps
    one number within a thread."""
    if not replies:
        return {}
    rows = con.execute(
        "SELECT id, account, reply_to, author FROM posts WHERE id IN (SELECT value FROM json_each(?))"
        " ORDER BY account, reply_to, coalesce(published_at, first_seen), id",
        (json.dumps(sorted(replies)),),
    )
    out: dict[int, str] = {}
    numbers: dict[tuple[int, str], dict[str, int]] = defaultdict(dict)
    for pid, account, parent, author in rows:
        thread = numbers[(account, parent)]
        n = thread.setdefault(_local(author) or f"#{pid}", len(thread) + 1)
        out[pid] = f"person {n}"
    return out


# --------------------------------------------------------------------------- replay


@dataclass
class IndexEntry:
    key: str
    url: str
    mime: str
    digest: str
    filename: str
    offset: int
    length: int


def _index_entries(coll_dir: Path) -> Iterator[IndexEntry]:
    for path in sorted((coll_dir / "indexes").glob("*.cdxj")):
        with path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                try:
                    key, _ts, data = line.split(" ", 2)
                    d = json.loads(data)
                    yield IndexEntry(
                        key, d.get("url", ""), d.get("mime", ""), d.get("digest", ""),
                        d.get("filename", ""), int(d.get("offset", -1)), int(d.get("length", 0)),
                    )  # fmt: skip
                except (ValueError, TypeError):
                    continue


class PageBlocks:
    """Which page's block of records an index entry lies in (see the module docstring)."""

    def __init__(self, con: sqlite3.Connection, collection: str) -> None:
        self.ends: dict[str, list[int]] = defaultdict(list)
        self.ids: dict[str, list[int]] = defaultdict(list)
        rows = con.execute(
            "SELECT pg.id, pg.warc, pg.offset FROM pages pg JOIN crawls c ON c.id = pg.crawl"
            " WHERE c.collection = ? ORDER BY pg.warc, pg.offset",
            (collection,),
        )
        for pid, warc, offset in rows:
            self.ends[warc].append(offset)
            self.ids[warc].append(pid)

    def page_of(self, e: IndexEntry) -> int | None:
        ends = self.ends.get(e.filename)
        if not ends or e.offset < 0:
            return None
        i = bisect.bisect_left(ends, e.offset)
        return self.ids[e.filename][i] if i < len(ends) else None


@dataclass
class KeyRule:
    roles: frozenset[str]  # who may still replay it
    why: set[int] = field(default_factory=set)  # restriction ids


def _pages_of_posts(con: sqlite3.Connection, posts: set[int]) -> set[int]:
    """A post's own pages: where it was read from its own page, and re-checks of it."""
    if not posts:
        return set()
    ids = json.dumps(sorted(posts))
    own = {row[0] for row in con.execute(
        "SELECT DISTINCT page FROM post_sightings WHERE source = 'post'"
        " AND post IN (SELECT value FROM json_each(?))", (ids,),
    )}  # fmt: skip
    own |= {row[0] for row in con.execute(
        "SELECT pg.id FROM pages pg JOIN posts p ON p.account = pg.account"
        " AND (pg.post_id = p.post_id OR (pg.kind = 'post' AND pg.url = p.url))"
        " WHERE p.id IN (SELECT value FROM json_each(?))", (ids,),
    )}  # fmt: skip
    return own


def _media_urls(con: sqlite3.Connection, posts: set[int]) -> set[str]:
    out: set[str] = set()
    for (media,) in con.execute(
        "SELECT media FROM post_versions WHERE post IN (SELECT value FROM json_each(?))",
        (json.dumps(sorted(posts)),),
    ):
        for m in json.loads(media or "[]"):
            if m.get("url"):
                out.add(m["url"])
    return out


def _read_body(path: Path, e: IndexEntry) -> bytes:
    from warcio.archiveiterator import ArchiveIterator

    try:
        with path.open("rb") as fh:
            fh.seek(e.offset)
            for rec in ArchiveIterator(fh):
                return rec.content_stream().read(MAX_BODY)
    except (OSError, ValueError, Exception):  # noqa: BLE001 - an unreadable record names nothing
        return b""
    return b""


def replay_rules(root: Root, at: str | None = None) -> dict[str, dict[str, KeyRule]]:
    """Per collection: index key -> the roles that may still replay it. Keys restricted for a
    whole collection are given as the key prefix of each host (`com,example)/`) plus each
    urn: record's own key. Without a catalog only URLs and collections can be resolved."""
    restrictions = active_restrictions(root, at)
    out: dict[str, dict[str, KeyRule]] = {c.name: {} for c in root.collections()}
    if not restrictions:
        return out
    try:
        con: sqlite3.Connection | None = cq.connect_readonly(root.catalog_file)
        if con is not None and cq.schema_of(con) < 1:
            con.close()
            con = None
    except cq.CatalogUnavailable:
        con = None
    try:
        if con is not None:
            resolved = [resolve(con, r) for r in restrictions]
        else:
            names = {c.name for c in root.collections()}
            resolved = [
                Resolved(
                    r, urls=[r.value] if r.target == "url" and not r.replies else [],
                    collections=(names if r.target == "all" else {r.value})
                    if r.target in ("all", "collection") and not (r.replies or r.date_from or r.date_to)
                    else set(),
                )
                for r in restrictions
            ]  # fmt: skip
        for c in root.collections():
            out[c.name] = _collection_rules(con, c.name, c.path, resolved)
    finally:
        if con is not None:
            con.close()
    return out


def _restrict(rules: dict[str, KeyRule], key: str, r: Restriction) -> None:
    seeing = roles_seeing(r)
    cur = rules.get(key)
    if cur is None:
        rules[key] = KeyRule(seeing, {r.id})
    else:
        cur.roles = cur.roles & seeing
        cur.why.add(r.id)


def _collection_rules(
    con: sqlite3.Connection | None, name: str, coll_dir: Path, resolved: list[Resolved]
) -> dict[str, KeyRule]:
    rules: dict[str, KeyRule] = {}
    mine = [x for x in resolved if _touches(con, x, name)]
    if not mine:
        return rules
    entries = list(_index_entries(coll_dir))
    blocks = PageBlocks(con, name) if con is not None else None
    page_of = {id(e): blocks.page_of(e) for e in entries} if blocks else {}

    # whole collections: a prefix per host, and every record that is not a URL
    for x in mine:
        if name in x.collections:
            for e in entries:
                host = e.key.split(")/", 1)[0] + ")/" if ")/" in e.key else None
                _restrict(rules, host or (e.key + "###"), x.r)

    # URL restrictions: the URL's captures and its page records (urn:dom:URL, ...)
    for x in mine:
        for u in x.urls:
            prefix = u.endswith("*")
            base = u[:-1] if prefix else u
            for e in entries:
                target = e.url
                for urn in URN_PAGE_RECORDS:
                    if target.startswith(urn):
                        target = target[len(urn) :]
                        break
                if target.startswith(base) if prefix else target == base:
                    _restrict(rules, e.key + "###", x.r)

    if con is None:
        return rules

    # posts and whole accounts: the records of their pages, unless also captured elsewhere
    restricted_pages: dict[int, list[Restriction]] = defaultdict(list)
    media: dict[str, list[Restriction]] = defaultdict(list)
    named: list[tuple[re.Pattern[str], Restriction]] = []  # URL paths naming a post's id
    for x in mine:
        pages: set[int] = set()
        if x.accounts:
            pages |= {row[0] for row in con.execute(
                "SELECT id FROM pages WHERE account IN (SELECT value FROM json_each(?))",
                (json.dumps(sorted(x.accounts)),),
            )}  # fmt: skip
            posts = {row[0] for row in con.execute(
                "SELECT id FROM posts WHERE account IN (SELECT value FROM json_each(?))",
                (json.dumps(sorted(x.accounts)),),
            )}  # fmt: skip
        else:
            posts = set(x.posts)
        pages |= _pages_of_posts(con, x.posts)
        for p in pages:
            restricted_pages[p].append(x.r)
        for u in _media_urls(con, posts):
            media[u].append(x.r)
        ids = {row[0] for row in con.execute(
            "SELECT post_id FROM posts WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(sorted(posts)),),
        ) if len(row[0]) >= MIN_ID_LEN}  # fmt: skip
        if ids:
            named.append((_token_rx(ids), x.r))
    by_key: dict[str, list[IndexEntry]] = defaultdict(list)
    for e in entries:
        by_key[e.key].append(e)
    for key, group in by_key.items():
        owners = [page_of.get(id(e)) for e in group]
        if owners and all(p in restricted_pages for p in owners):
            for p in owners:
                for r in restricted_pages[p]:  # type: ignore[index]
                    _restrict(rules, key + "###", r)
        for e in group:
            for r in media.get(e.url, ()):
                _restrict(rules, key + "###", r)
        path = urlsplit(group[0].url).path if "://" in group[0].url[:12] else ""
        for rx, r in named:
            if path and rx.search(path):
                _restrict(rules, key + "###", r)

    # replies by others: their own pages, and what names them on the pages that show them
    for x in mine:
        if not x.replies:
            continue
        own = _pages_of_posts(con, x.replies)
        showing = {row[0] for row in con.execute(
            "SELECT DISTINCT page FROM post_sightings WHERE post IN (SELECT value FROM json_each(?))",
            (json.dumps(sorted(x.replies)),),
        )}  # fmt: skip
        ids, handles = set(), set()
        for pid, author in con.execute(
            "SELECT post_id, author FROM posts WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(sorted(x.replies)),),
        ):
            ids.add(pid)
            if _local(author):
                handles.add(_local(author))
        names_reply = _names_reply(ids, handles)
        matched_digests: set[str] = set()
        candidates = [e for e in entries if page_of.get(id(e)) in own | showing]
        for e in candidates:
            page = page_of.get(id(e))
            if page in own or any(e.url.startswith(u) for u in URN_PAGE_RECORDS[:3]):
                _restrict(rules, e.key + "###", x.r)
                continue
            if names_reply.url(e.url):
                _restrict(rules, e.key + "###", x.r)
                continue
            if e.mime == "warc/revisit" or not any(t in e.mime for t in TEXT_MIMES):
                continue
            body = _read_body(coll_dir / "archive" / e.filename, e)
            if names_reply.body(body):
                _restrict(rules, e.key + "###", x.r)
                matched_digests.add(e.digest)
        for e in candidates:  # a revisit serves its original's payload
            if e.mime == "warc/revisit" and e.digest in matched_digests:
                _restrict(rules, e.key + "###", x.r)
    return rules


class _names_reply:  # noqa: N801 - used like a function pair
    def __init__(self, ids: set[str], handles: set[str]) -> None:
        self.id_rx = (
            re.compile(rb"(?<![\w.])(" + b"|".join(re.escape(i.encode()) for i in sorted(ids)) + rb")(?![\w])")
            if ids else None
        )  # fmt: skip
        long_ids = {i for i in ids if len(i) >= MIN_ID_LEN}
        self.path_id_rx = _token_rx(long_ids) if long_ids else None
        self.handle_rx = (
            re.compile(r"(?<![\w.])(" + "|".join(re.escape(h) for h in sorted(handles)) + r")(?![\w])", re.I)
            if handles else None
        )  # fmt: skip

    def url(self, url: str) -> bool:
        path = urlsplit(url).path
        return bool(
            (self.handle_rx and self.handle_rx.search(path))
            or (self.path_id_rx and self.path_id_rx.search(path))
        )

    def body(self, data: bytes) -> bool:
        return bool(self.id_rx and data and self.id_rx.search(data))


def _touches(con: sqlite3.Connection | None, x: Resolved, collection: str) -> bool:
    if collection in x.collections or x.urls:
        return True
    if con is None:
        return False
    ids = x.accounts | x.posts | x.replies
    if not ids:
        return False
    if x.accounts:
        q = "SELECT 1 FROM accounts WHERE collection = ? AND id IN (SELECT value FROM json_each(?))"
        if con.execute(q, (collection, json.dumps(sorted(x.accounts)))).fetchone():
            return True
    q = ("SELECT 1 FROM posts p JOIN accounts a ON a.id = p.account WHERE a.collection = ?"
         " AND p.id IN (SELECT value FROM json_each(?)) LIMIT 1")  # fmt: skip
    return (
        con.execute(q, (collection, json.dumps(sorted(x.posts | x.replies)))).fetchone() is not None
    )


def next_change(root: Root) -> str | None:
    """When the next embargo ends (the rules must be written again then)."""
    now = iso()
    ends = [
        r.until
        for r in active_restrictions(root)
        if r.kind == "embargo" and r.until and r.until > now
    ]
    return min(ends) if ends else None


def describe_rules(rules: dict[str, KeyRule]) -> dict[str, Any]:
    return {k: {"roles": sorted(v.roles), "restrictions": sorted(v.why)} for k, v in rules.items()}

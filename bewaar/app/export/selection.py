"""What an export contains: the overview's own search (catalog/query.py), then the requesting
user's restrictions.

A selection names accounts, post URLs, words, a collection and a date range (combined: all must
hold, as in the overview's form), which versions (the latest, or every one) and whether the
replies under each post come along. `resolve` turns it into items — one per post or reply, with
the versions chosen and the page each version is best replayed from — and a list of what was
left out or redacted, and why, for the export's manifest.

Access control is a hook: `Access.decide(item)` says whether an item is included, redacted
(its text and media withheld, its metadata kept) or left out, with the reason that goes into
the manifest. The default, `Everything`, includes everything; the access-control code (issue
12) supplies the restrictions of the requesting user.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal, Protocol

from bewaar.errors import InputError
from catalog import query as cq

INCLUDE, REDACT, LEAVE_OUT = "include", "redact", "leave_out"
MAX_REPLY_DEPTH = 8  # replies to replies: a thread deeper than this is cut (and said so)


@dataclass(frozen=True)
class Decision:
    action: Literal["include", "redact", "leave_out"] = INCLUDE
    reason: str = ""


class Access(Protocol):
    """What the requesting user may see. `decide` gets an item before anything is written."""

    def decide(self, item: Item) -> Decision: ...


class Everything:
    """No restrictions (the default until access control exists)."""

    def decide(self, item: Item) -> Decision:
        return Decision()


@dataclass
class Request:
    """An export's selection, as the command line or the overview gives it."""

    accounts: list[str] = field(default_factory=list)
    posts: list[str] = field(default_factory=list)  # post URLs
    query: str = ""
    collection: str | None = None
    date_from: str | None = None  # YYYY-MM-DD, publication date, inclusive
    date_to: str | None = None
    versions: Literal["latest", "all"] = "latest"
    with_replies: bool = False
    requested_by: str = ""  # who asked (for the manifest; access control fills it)
    filter: cq.PostFilter | None = None  # the overview's own filter, as its search form set it

    def describe(self) -> dict[str, Any]:
        default = vars(cq.PostFilter())
        extra = {"overview_filter": {k: v for k, v in vars(self.filter).items() if v != default[k] and k != "page"}
                 } if self.filter else {}  # fmt: skip
        return extra | {
            "accounts": self.accounts, "posts": self.posts, "query": self.query,
            "collection": self.collection, "from": self.date_from, "to": self.date_to,
            "versions": self.versions, "with_replies": self.with_replies,
            "requested_by": self.requested_by,
        }  # fmt: skip


@dataclass
class Item:
    """One post or reply in an export."""

    key: str  # file-safe and unique within the export: platform-postid
    post: dict[str, Any]  # the post row (catalog/query.export_post's "p")
    versions: list[dict[str, Any]]  # chosen versions, newest first, each with its page
    changes: list[dict[str, Any]]
    checks: list[dict[str, Any]]
    replies: list[Item] = field(default_factory=list)
    parent: Item | None = None
    decision: Decision = field(default_factory=Decision)
    all_versions: int = 0

    @property
    def latest(self) -> dict[str, Any]:
        return self.versions[0]

    @property
    def redacted(self) -> bool:
        return self.decision.action == REDACT

    @property
    def url(self) -> str:
        return str(self.post.get("url") or self.latest.get("page_url") or "")

    @property
    def account(self) -> str:
        return str(self.post["account_name"])

    @property
    def published(self) -> str | None:
        return self.post.get("published_at")

    @property
    def text(self) -> str:
        return "" if self.redacted else str(self.latest.get("text") or "")

    @property
    def title(self) -> str:
        return "" if self.redacted else str(self.latest.get("title") or "")

    def walk(self) -> list[Item]:
        """This item and its replies, depth first."""
        out = [self]
        for r in self.replies:
            out += r.walk()
        return out


@dataclass
class Selection:
    request: Request
    items: list[Item]  # top-level items (selected posts); their replies hang below
    left_out: list[dict[str, str]] = field(default_factory=list)
    redacted: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def all_items(self) -> list[Item]:
        out: list[Item] = []
        for i in self.items:
            out += i.walk()
        return out


def _day(value: str | None, what: str) -> str | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip()).isoformat()
    except ValueError:
        raise InputError(f"{what} '{value}' is not a date (use YYYY-MM-DD)") from None


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(text: str, limit: int = 80) -> str:
    """A file-name part: letters, digits, . _ - only."""
    return _UNSAFE.sub("_", text).strip("._")[:limit] or "x"


def connect(catalog: Path) -> sqlite3.Connection:
    try:
        con = cq.connect_readonly(catalog)
    except cq.CatalogUnavailable as e:
        raise InputError(f"{e}") from None
    if cq.schema_of(con) < 1:
        con.close()
        raise InputError(f"the catalog {catalog} is empty: run a crawl first")
    return con


def post_filter(con: sqlite3.Connection, req: Request) -> cq.PostFilter:
    """The overview's filter for this request; unknown accounts or post URLs are bad input."""
    if req.filter is not None:  # an export of an overview search result: that very filter
        return req.filter
    if not (req.accounts or req.posts or req.query.strip() or req.collection):
        raise InputError("say what to export: --account, --post, --query and/or --collection")
    f = cq.PostFilter(
        q=req.query.strip(), date_from=_day(req.date_from, "--from"),
        date_to=_day(req.date_to, "--to"), collection=req.collection,
    )  # fmt: skip
    if f.date_from and f.date_to and f.date_from > f.date_to:
        raise InputError(f"--from {f.date_from} is after --to {f.date_to}")
    if req.query.strip() and not cq.fts_query(req.query):
        raise InputError(f"the query '{req.query}' has no words to look for")
    if req.collection and not con.execute(
        "SELECT 1 FROM accounts WHERE collection = ? LIMIT 1", (req.collection,)
    ).fetchone():
        raise InputError(f"no collection '{req.collection}' in the catalog")
    if req.accounts:
        f.accounts, unknown = cq.find_accounts(con, req.accounts)
        if unknown:
            raise InputError(
                f"unknown account {unknown[0]!r}: the catalog has no such account "
                "(write PLATFORM:HANDLE, e.g. mastodon:minbzk@social.example)"
            )
    if req.posts:
        f.post_ids, unknown = cq.find_posts(con, req.posts)
        if unknown:
            raise InputError(f"unknown post {unknown[0]!r}: no captured post has this URL")
        f.replies = True  # a reply named by its URL is selected itself
    return f


class InScopeOnly:
    """Posts a rule marked out of scope (a hybrid or personal account's private or
    party-political posts: not government information) are left out of every export, and the
    manifest names the rule; then the user's own restrictions decide."""

    def __init__(self, then: Access) -> None:
        self.then = then

    def decide(self, item: Item) -> Decision:
        oos = item.post.get("out_of_scope")
        if oos:
            rule = oos.get("rule") if isinstance(oos, dict) else str(oos)
            return Decision(LEAVE_OUT, f"out of scope (not government information): rule {rule}")
        return self.then.decide(item)


def resolve(catalog: Path, req: Request, access: Access | None = None) -> Selection:
    """The items of an export: the overview's search, the versions asked for, the replies,
    then out-of-scope rules and the user's restrictions."""
    access = InScopeOnly(access or Everything())
    con = connect(catalog)
    try:
        f = post_filter(con, req)
        rows, _more = cq.search_posts(con, f, page_size=0)
        if not rows:
            raise InputError("the selection matches no posts: nothing to export")
        sel = Selection(req, [])
        keys: set[str] = set()
        for row in rows:
            item = _item(con, row["id"], req, keys, depth=0, sel=sel)
            if item is not None:
                sel.items.append(item)
    finally:
        con.close()
    _apply(sel, access)
    if not sel.items:
        raise InputError("every selected post is restricted for you: nothing to export")
    return sel


def _item(
    con: sqlite3.Connection, post_id: int, req: Request, keys: set[str], depth: int, sel: Selection,
    parent: Item | None = None,
) -> Item | None:  # fmt: skip
    found = cq.export_post(con, post_id)
    if found is None or not found["versions"]:
        return None
    p = found["p"]
    key = base = f"{safe_name(p['platform'], 20)}-{safe_name(p['post_id'])}"
    n = 1
    while key in keys:
        n += 1
        key = f"{base}-{n}"
    keys.add(key)
    versions = found["versions"] if req.versions == "all" else found["versions"][:1]
    item = Item(key, p, versions, found["changes"], found["checks"], parent=parent,
                all_versions=len(found["versions"]))  # fmt: skip
    if req.with_replies:
        if depth >= MAX_REPLY_DEPTH and found["reply_ids"]:
            sel.notes.append(f"{item.url}: replies deeper than {MAX_REPLY_DEPTH} levels not exported")
        else:
            for rid in found["reply_ids"]:
                reply = _item(con, rid, req, keys, depth + 1, sel, parent=item)
                if reply is not None:
                    item.replies.append(reply)
    return item


def _apply(sel: Selection, access: Access) -> None:
    """Ask the access hook about every item; left-out items (and their replies) go, redacted
    ones stay without text and media; both are listed with the reason."""

    def visit(items: list[Item]) -> list[Item]:
        kept = []
        for item in items:
            d = access.decide(item)
            item.decision = d
            entry = {"key": item.key, "url": item.url, "account": item.account, "reason": d.reason,
                     "post": item.post["id"]}  # fmt: skip
            if d.action == LEAVE_OUT:
                sel.left_out.append(entry)
                for sub in item.walk()[1:]:
                    sel.left_out.append({"key": sub.key, "url": sub.url, "account": sub.account,
                                         "reason": f"reply under a left-out post ({d.reason})",
                                         "post": sub.post["id"]})  # fmt: skip
                continue
            if d.action == REDACT:
                sel.redacted.append(entry)
            item.replies = visit(item.replies)
            kept.append(item)
        return kept

    sel.items = visit(sel.items)

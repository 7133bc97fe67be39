"""Which retention rule applies to a capture, and when its term ends.

Classifications live in collections/NAME/retention.json (bewaar.config.RetentionFile):
  * the collection's and each account's (a seed's `retention:`), recorded by every crawl from its
    seed list — the seed list of the crawl that made a capture is not needed later;
  * a post's or reply's own (`bewaar retention set --post URL`).
A page takes its post's own rule (a post's own page), else its account's, else the collection's;
without any it is *unclassified* and never due (status lists it, so nothing is kept or destroyed
without a rule saying so). An object (post, reply) with its own rule is judged on its own inside
the pages that show it: due inside a page that is kept, it is redacted from that page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bewaar.config import (
    Retention,
    RetentionEntry,
    RetentionFile,
    SeedList,
    load_retention_file,
    save_retention_file,
)
from bewaar.errors import InputError
from bewaar.model import Collection
from bewaar.timeutil import iso, parse_iso, wall

from .content import FileMap, Page


def retention_path(coll: Collection) -> Path:
    return coll.path / "retention.json"


def load(coll: Collection) -> RetentionFile:
    return load_retention_file(retention_path(coll))


def _event(scope: str, key: str, entry: RetentionEntry | None) -> dict[str, Any]:
    ev: dict[str, Any] = {"event": "retention", "scope": scope, "key": key,
                          "rule": entry.rule.as_json() if entry else None}
    if entry is not None:
        ev["source"] = entry.source
        if entry.reason:
            ev["reason"] = entry.reason
    return ev


def remember_seeds(coll: Collection, seeds: SeedList, source: str) -> list[dict[str, Any]]:
    """Record the seed list's classifications in the collection; returns ledger events for
    what changed (a rule that stays the same is not recorded again)."""
    from crawler.targets import account_name

    rf = load(coll)
    now = iso(wall())
    events: list[dict[str, Any]] = []
    update: dict[str, Any] = {}
    if seeds.retention and (rf.collection is None or rf.collection.rule != seeds.retention):
        entry = RetentionEntry(rule=seeds.retention, since=now, source=source)
        update["collection"] = entry
        events.append(_event("collection", coll.name, entry))
    accounts = dict(rf.accounts)
    for seed in seeds.seeds:
        if seed.retention is None:
            continue
        name = account_name(seeds, seed)
        old = accounts.get(name)
        if old is None or old.rule != seed.retention:
            accounts[name] = RetentionEntry(rule=seed.retention, since=now, source=source)
            events.append(_event("account", name, accounts[name]))
    if accounts != rf.accounts:
        update["accounts"] = accounts
    if update:
        coll.path.mkdir(parents=True, exist_ok=True)
        save_retention_file(retention_path(coll), rf.model_copy(update=update))
    return events


def set_post(coll: Collection, url: str, rule: Retention | None, by: str,
             reason: str | None) -> dict[str, Any]:
    """Give a post or reply its own rule (None: take it away again); returns the ledger event."""
    rf = load(coll)
    posts = dict(rf.posts)
    entry = None
    if rule is None:
        if url not in posts:
            raise InputError(f"{url} has no rule of its own in {coll.name}")
        del posts[url]
    else:
        entry = RetentionEntry(rule=rule, since=iso(wall()), source=f"bewaar retention set by {by}",
                               reason=reason)
        posts[url] = entry
    save_retention_file(retention_path(coll), rf.model_copy(update={"posts": posts}))
    return _event("post", url, entry)


@dataclass
class Judged:
    rule: Retention | None
    source: str  # post | account | collection | none
    key: str  # the post URL, account name or collection the rule is set on
    due: datetime | None  # when its term ends (None: permanent or unclassified)

    def as_json(self) -> dict[str, Any]:
        return {"rule": self.rule.as_json() if self.rule else None, "set_on": self.source,
                "key": self.key, "due": iso(self.due) if self.due else None}


def _account_entry(rf: RetentionFile, account: str) -> tuple[str, RetentionEntry] | None:
    if account in rf.accounts:
        return account, rf.accounts[account]
    # a site seed's pages carry the host; an account seed's "platform:handle@domain"
    low = account.lower()
    for k, v in rf.accounts.items():
        if k.lower() == low:
            return k, v
    return None


def judge_page(rf: RetentionFile, coll: str, page: Page) -> Judged:
    captured = _time(page.captured_at)
    own = rf.posts.get(page.url) if page.kind in ("post", "recheck") else None
    if own is not None:
        return Judged(own.rule, "post", page.url, own.rule.due(captured, page.published()))
    found = _account_entry(rf, page.account)
    if found is not None:
        key, entry = found
        return Judged(entry.rule, "account", key, entry.rule.due(captured, page.published()))
    if rf.collection is not None:
        r = rf.collection.rule
        return Judged(r, "collection", coll, r.due(captured, page.published()))
    return Judged(None, "none", "", None)


def judge_object(rf: RetentionFile, obj: dict[str, Any], page: Page) -> Judged | None:
    """An object's own rule, if it has one."""
    url = obj.get("url")
    own = rf.posts.get(url) if isinstance(url, str) else None
    if own is None:
        return None
    published = obj.get("published_at")
    pub = _time(published) if isinstance(published, str) and published else None
    return Judged(own.rule, "post", str(url), own.rule.due(_time(page.captured_at), pub))


def _time(text: str) -> datetime:
    try:
        return parse_iso(text)
    except (ValueError, AttributeError):
        return parse_iso("1970-01-01T00:00:00Z")


@dataclass
class Status:
    """What is kept under which rule, and what is due before a moment."""

    rows: dict[tuple[str, str], dict[str, Any]]  # (set_on, key) -> counts
    due_pages: list[tuple[Page, Judged]]
    due_objects: list[tuple[dict[str, Any], Page, Judged]]
    unclassified: int


def status(coll: Collection, files: list[FileMap], before: datetime) -> Status:
    rf = load(coll)
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    due_pages: list[tuple[Page, Judged]] = []
    due_objects: list[tuple[dict[str, Any], Page, Judged]] = []
    unclassified = 0
    for fm in files:
        for page in fm.pages:
            j = judge_page(rf, coll.name, page)
            row = rows.setdefault((j.source, j.key), {
                "rule": j.rule, "pages": 0, "due": 0, "next_due": None, "files": set()})
            row["pages"] += 1
            row["files"].add(fm.name)
            if j.rule is None:
                unclassified += 1
            if j.due is not None and j.due <= before:
                row["due"] += 1
                due_pages.append((page, j))
                continue
            if j.due is not None and (row["next_due"] is None or j.due < row["next_due"]):
                row["next_due"] = j.due
            for obj in page.objects:
                oj = judge_object(rf, obj, page)
                if oj is not None and oj.due is not None and oj.due <= before:
                    due_objects.append((obj, page, oj))
    return Status(rows, due_pages, due_objects, unclassified)

"""Read crawls into the catalog, and detect what changed since the account's earlier crawls.

A crawl is applied as a whole, oldest first, from its WARC records (see captures.py): the
same code runs after each crawl (`update`) and for `bewaar catalog rebuild`, so the catalog
built crawl by crawl equals the one rebuilt from the WARCs alone.

Per account and crawl:
- the first crawl of an account is its baseline: its posts are recorded, not reported as new;
- a post seen for the first time later is `new`, or `found` when it was published before the
  account's previous crawl (it existed then, the crawl did not reach it);
- a seen post is compared with its versions (rules in compare.py): `edited` for text, title or
  media, never for counts; a deleted post seen again is `restored`;
- a post the crawl did not see is never called deleted on that ground: the crawler re-checks
  it (a `recheck` page) and only the platform's answer counts: gone (404/410/"unavailable")
  -> `deleted`; a login wall or rate limit, or a page without the post -> `unverified`; a
  network failure -> nothing (it is re-checked next time);
- the profile is compared field by field (`profile`); its counts separately (`counts`).
Only an account's own top-level posts are reported; replies and comments are stored with
their versions (searchable, replayable) but produce no change records.

What a post is to the account is its `relation` (own, own_reply, comment, context, received,
story; see db.py). Posts read from a platform export (`bewaar import`, source `export`) join the
browser's captures of the same post by id; they never make change records, and a version from
an export is never compared with a browser capture (the two render text differently).
Follow lists become `relations` rows; each account crawl gets a gap report (catalog/gaps.py).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bewaar.model import Collection, Outcome, PageKind, Root
from catalog import compare as cmp
from catalog import gaps as gap
from catalog.captures import CapturedPage, CrawlCaptures, group_by_crawl, peek_crawl_id, scan_files
from catalog.db import DERIVED_TABLES, write_transaction

Progress = Callable[[str], None]


@dataclass
class Observation:
    obj: dict[str, Any]
    page: CapturedPage
    page_row: int
    source: str  # post | listing | export
    order: int
    relation: str = "own"


# when one post shows up in several roles, the strongest wins
RELATION_RANK = {"own": 6, "own_reply": 5, "story": 4, "received": 3, "comment": 2, "context": 1}


@dataclass
class AccountResult:
    name: str
    baseline: bool = False
    posts_seen: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # change type -> number
    profile_fields: list[str] = field(default_factory=list)

    gaps: dict[str, Any] = field(default_factory=dict)
    imported: bool = False  # an export read by `bewaar import`, not a crawl

    def lines(self) -> list[str]:
        out = [self.line()]
        if self.gaps:
            out.append(f"catalog: {self.name}: {gap.describe(self.gaps)}")
        return out

    def line(self) -> str:
        if self.imported:
            return f"catalog: {self.name}: {self.posts_seen} post(s) read from an export"
        if self.baseline:
            return f"catalog: {self.name}: first capture, {self.posts_seen} post(s) recorded"
        order = ("new", "found", "edited", "deleted", "restored", "unverified")
        parts = [f"{self.counts[t]} {t}" for t in order if self.counts.get(t)]
        if self.profile_fields:
            parts.append("profile changed (" + ", ".join(self.profile_fields) + ")")
        if self.counts.get("counts"):
            parts.append("counts changed")
        found = ", ".join(parts) if parts else "no changes"
        return f"catalog: {self.name}: {found} ({self.posts_seen} post(s) seen)"


@dataclass
class CrawlResult:
    collection: str
    crawl_id: str
    accounts: list[AccountResult] = field(default_factory=list)
    continued: bool = False  # more files of a crawl read earlier


@dataclass
class UpdateResult:
    crawls: list[CrawlResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)  # crawl ids left for later

    def lines(self, crawl_id: str | None = None) -> list[str]:
        out = []
        for c in self.crawls:
            if crawl_id is None or c.crawl_id == crawl_id:
                out += [line for a in c.accounts for line in a.lines()]
            else:
                out.append(f"catalog: also read crawl {c.crawl_id} ({c.collection})")
            if c.continued:
                out.append(
                    f"catalog: crawl {c.crawl_id} had files read earlier; "
                    "`bewaar catalog rebuild` puts them in order"
                )
        out += [f"catalog: {p}" for p in self.problems]
        if crawl_id is not None:
            others = [d for d in self.deferred if d != crawl_id]
            if others:
                out.append(
                    f"catalog: {len(others)} crawl(s) without a report not read yet "
                    f"({', '.join(others[:3])}{', ...' if len(others) > 3 else ''}): if they were "
                    "killed, run `bewaar catalog update --unfinished`"
                )
        return out


# --------------------------------------------------------------------------- entry points


def pending_files(con: sqlite3.Connection, coll: Collection) -> list[str]:
    done = {
        r[0] for r in con.execute("SELECT name FROM warc_files WHERE collection = ?", (coll.name,))
    }
    return [w.name for w in coll.warcs() if w.name not in done]


def update(
    con: sqlite3.Connection,
    db_path: Path,
    root: Root,
    finished_only: bool = True,
    also: str | None = None,
    progress: Progress | None = None,
    backlog_limit: int | None = None,
) -> UpdateResult:
    """Read every WARC file not yet in the catalog. With `finished_only`, crawls still
    without a report (collections/NAME/crawls/ID.json, written when a crawl ends) are left
    for later, except `also` (the crawl that just ended). With `backlog_limit`, files of
    other crawls beyond that many bytes are left to `bewaar catalog rebuild` (an archive
    that predates its catalog is not read after one crawl)."""
    result = UpdateResult()
    for coll in root.collections():
        names = pending_files(con, coll)
        if backlog_limit is not None and also is not None and names:
            others = [n for n in names if peek_crawl_id(coll.archive / n) != also]
            size = sum((coll.archive / n).stat().st_size for n in others)
            if size > backlog_limit:
                names = [n for n in names if n not in set(others)]
                result.problems.append(
                    f"{len(others)} earlier WARC file(s) of '{coll.name}' ({size / 1e9:.1f} GB) "
                    "are not in the catalog yet: run `bewaar catalog rebuild` to read them in order"
                )
        if not names:
            continue
        scans, problems = scan_files(coll, names, _file_progress(progress, coll.name))
        result.problems += problems
        crawls = group_by_crawl(coll.name, scans)
        ready = []
        for c in crawls:
            c.failures = gap.report_failures(coll.path, c.crawl_id)
            finished = (coll.path / "crawls" / f"{c.crawl_id}.json").exists()
            if finished_only and not finished and c.crawl_id != also and not c.crawl_id.startswith("file:"):
                result.deferred.append(c.crawl_id)
            else:
                ready.append(c)
        if not ready:
            continue
        with write_transaction(con, db_path):
            done = set(
                r[0]
                for r in con.execute(
                    "SELECT name FROM warc_files WHERE collection = ?", (coll.name,)
                )
            )
            for c in ready:
                c.files = [f for f in c.files if f[0] not in done]
                if not c.files:
                    continue  # another process read them meanwhile
                if progress:
                    progress(f"{coll.name}: crawl {c.crawl_id}: {len(c.pages)} page(s)")
                result.crawls.append(apply_crawl(con, c))
    return result


def rebuild(
    con: sqlite3.Connection, db_path: Path, root: Root, progress: Progress | None = None
) -> UpdateResult:
    """Empty the derived tables and read every WARC file again, in one transaction (readers
    see the old catalog until it commits; the schedule is kept)."""
    result = UpdateResult()
    with write_transaction(con, db_path):
        pass  # fail now, not after reading every file, when another process holds the catalog
    plan: list[CrawlCaptures] = []
    for coll in root.collections():
        names = [w.name for w in coll.warcs()]
        scans, problems = scan_files(coll, names, _file_progress(progress, coll.name))
        result.problems += problems
        for c in group_by_crawl(coll.name, scans):
            c.failures = gap.report_failures(coll.path, c.crawl_id)
            plan.append(c)
    plan.sort(key=lambda c: (c.crawl_id, c.collection))
    with write_transaction(con, db_path):
        con.execute("PRAGMA defer_foreign_keys = ON")  # posts <-> post_versions refer both ways
        con.execute("INSERT INTO post_text(post_text) VALUES ('delete-all')")
        for table in DERIVED_TABLES:
            con.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names
        for i, c in enumerate(plan, 1):
            if progress:
                progress(f"[{i}/{len(plan)}] {c.collection}: crawl {c.crawl_id}: {len(c.pages)} page(s)")
            result.crawls.append(apply_crawl(con, c))
    return result


_COLLECTION_ROWS = (
    # children first; {acc} / {crl} are this collection's accounts / crawls
    "DELETE FROM changes WHERE account IN {acc}",
    "DELETE FROM post_sightings WHERE post IN (SELECT id FROM posts WHERE account IN {acc})",
    "DELETE FROM post_versions WHERE post IN (SELECT id FROM posts WHERE account IN {acc})",
    "DELETE FROM posts WHERE account IN {acc}",
    "DELETE FROM profile_versions WHERE account IN {acc}",
    "DELETE FROM account_crawls WHERE account IN {acc} OR crawl IN {crl}",
    "DELETE FROM pages WHERE crawl IN {crl}",
    "DELETE FROM accounts WHERE collection = :c",
    "DELETE FROM crawls WHERE collection = :c",
    "DELETE FROM warc_files WHERE collection = :c",
)


def refresh_collection(
    con: sqlite3.Connection, db_path: Path, root: Root, collection: str,
    progress: Progress | None = None,
) -> UpdateResult:  # fmt: skip
    """Forget what the catalog read from one collection and read its WARCs again, in one
    transaction: after a destruction or redaction, what the WARCs no longer hold leaves the
    catalog and its search index. Deleted rows are overwritten (secure_delete), the search
    index is merged so no segment keeps a removed word, and the WAL is checkpointed, so the
    removed text is not left in the file's free pages either."""
    coll = root.collection(collection)
    result = UpdateResult()
    scans, problems = scan_files(coll, [w.name for w in coll.warcs()],
                                 _file_progress(progress, coll.name))
    result.problems += problems
    plan = group_by_crawl(coll.name, scans)
    acc = "(SELECT id FROM accounts WHERE collection = :c)"
    crl = "(SELECT id FROM crawls WHERE collection = :c)"
    con.execute("PRAGMA secure_delete = ON")
    with write_transaction(con, db_path):
        con.execute("PRAGMA defer_foreign_keys = ON")
        con.execute(
            "INSERT INTO post_text(post_text, rowid, title, text) SELECT 'delete', v.id, v.title,"
            f" v.text FROM post_versions v WHERE v.post IN (SELECT id FROM posts WHERE account IN {acc})",
            {"c": collection},
        )
        for statement in _COLLECTION_ROWS:
            con.execute(statement.format(acc=acc, crl=crl), {"c": collection})
        for c in plan:
            result.crawls.append(apply_crawl(con, c))
        con.execute("INSERT INTO post_text(post_text) VALUES ('optimize')")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return result


def record_removals(con: sqlite3.Connection, db_path: Path, rows: list[dict[str, Any]]) -> None:
    """Remember which posts a destruction or redaction took out, and under which record."""
    cols = ("collection", "record", "kind", "at", "account", "post_id", "url", "url_sha256", "reason")
    with write_transaction(con, db_path):
        con.executemany(
            f"INSERT INTO removals ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",  # noqa: S608
            [tuple(r.get(c) for c in cols) for r in rows],
        )


def _file_progress(progress: Progress | None, name: str) -> Callable[[str, int, int], None] | None:
    if progress is None:
        return None
    return lambda f, i, n: progress(f"{name}: read {f} [{i}/{n}]")


# --------------------------------------------------------------------------- one crawl


def apply_crawl(con: sqlite3.Connection, c: CrawlCaptures) -> CrawlResult:
    return _Applier(con, c).run()


def _ts_from_crawl_id(crawl_id: str) -> str:
    s = crawl_id.split("-")[0]
    if len(s) == 16 and s[8] == "T" and s.endswith("Z"):
        return f"{s[0:4]}-{s[4:6]}-{s[6:8]}T{s[9:11]}:{s[11:13]}:{s[13:15]}Z"
    return "1970-01-01T00:00:00Z"


def _account_of(page: CapturedPage) -> tuple[str, str, str]:
    t = page.target
    name = t.account or urlsplit(page.url).netloc or "unknown"
    return name, t.platform or "generic", t.handle or ""


def _same_handle(a: str | None, b: str | None) -> bool:
    """"@minbzk@social.example", "minbzk@social.example" and "minbzk" name one account."""
    if not a or not b:
        return False
    a, b = a.lower().lstrip("@"), b.lower().lstrip("@")
    return a == b or a.split("@")[0] == b.split("@")[0]


def _same_url(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return False
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.netloc.lower(), pa.path.rstrip("/")) == (pb.netloc.lower(), pb.path.rstrip("/"))


class _Applier:
    def __init__(self, con: sqlite3.Connection, c: CrawlCaptures) -> None:
        self.con = con
        self.c = c
        self.result = CrawlResult(c.collection, c.crawl_id)

    def run(self) -> CrawlResult:
        c, con = self.c, self.con
        times = [p.info.captured_at for p in c.pages if p.info.captured_at]
        started = min(times) if times else _ts_from_crawl_id(c.crawl_id)
        ended = max(times) if times else started
        outcomes = _outcomes(c.pages)
        row = con.execute(
            "SELECT id, started, ended FROM crawls WHERE collection = ? AND crawl_id = ?",
            (c.collection, c.crawl_id),
        ).fetchone()
        if row is None:
            self.crawl = con.execute(
                "INSERT INTO crawls (collection, crawl_id, started, ended, pages_ok, pages_blocked,"
                " pages_failed, pages_gone) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (c.collection, c.crawl_id, started, ended, *outcomes),
            ).lastrowid
        else:  # more files of a crawl read before
            self.result.continued = True
            self.crawl = row["id"]
            con.execute(
                "UPDATE crawls SET started = min(started, ?), ended = max(ended, ?),"
                " pages_ok = pages_ok + ?, pages_blocked = pages_blocked + ?,"
                " pages_failed = pages_failed + ?, pages_gone = pages_gone + ? WHERE id = ?",
                (started, ended, *outcomes, self.crawl),
            )
        con.executemany(
            "INSERT OR REPLACE INTO warc_files (collection, name, size, crawl_id) VALUES (?, ?, ?, ?)",
            [(c.collection, name, size, c.crawl_id) for name, size in c.files],
        )

        by_account: dict[str, list[tuple[CapturedPage, int]]] = {}
        account_ids: dict[str, int] = {}
        for page in c.pages:
            name, platform, handle = _account_of(page)
            if name not in account_ids:
                account_ids[name] = self._account(name, platform, handle)
            if page.target.account_type:
                con.execute(
                    "UPDATE accounts SET account_type = ? WHERE id = ?",
                    (page.target.account_type, account_ids[name]),
                )
            page_row = self._page(page, account_ids[name])
            by_account.setdefault(name, []).append((page, page_row))
        for name, pages in by_account.items():
            self.result.accounts.append(self._account_crawl(name, account_ids[name], pages))
        return self.result

    # -- rows -------------------------------------------------------------------------
    def _account(self, name: str, platform: str, handle: str) -> int:
        row = self.con.execute(
            "SELECT id FROM accounts WHERE collection = ? AND name = ?", (self.c.collection, name)
        ).fetchone()
        if row:
            return row["id"]
        return self.con.execute(
            "INSERT INTO accounts (collection, name, platform, handle) VALUES (?, ?, ?, ?)",
            (self.c.collection, name, platform, handle),
        ).lastrowid

    def _page(self, page: CapturedPage, account: int) -> int:
        i, t = page.info, page.target
        return self.con.execute(
            "INSERT INTO pages (crawl, account, url, requested, captured_at, kind, outcome, reason,"
            " status, title, post_id, response_id, warc, offset, length)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                self.crawl, account, page.url, i.url or page.url,
                i.captured_at, str(t.kind), str(i.outcome),
                i.reason, i.status, i.title,
                t.post_id, page.response_id,
                page.location.warc, page.location.offset, page.location.length,
            ),
        ).lastrowid  # fmt: skip

    # -- an account in this crawl -----------------------------------------------------------
    def _account_crawl(
        self, name: str, account: int, pages: list[tuple[CapturedPage, int]]
    ) -> AccountResult:
        con = self.con
        res = AccountResult(name)
        times = [p.info.captured_at for p, _ in pages]
        started, ended = min(times), max(times)
        outcomes = _outcomes([p for p, _ in pages])
        prev = con.execute(
            "SELECT ac.*, c.crawl_id FROM account_crawls ac JOIN crawls c ON c.id = ac.crawl"
            " WHERE ac.account = ? AND ac.crawl != ? AND ac.pages_ok > 0"
            " ORDER BY ac.started DESC LIMIT 1",
            (account, self.crawl),
        ).fetchone()
        existing = con.execute(
            "SELECT * FROM account_crawls WHERE account = ? AND crawl = ?", (account, self.crawl)
        ).fetchone()
        res.baseline = prev is None
        self.account, self.account_name, self.prev, self.res = account, name, prev, res
        row = con.execute("SELECT handle FROM accounts WHERE id = ?", (account,)).fetchone()
        self.own = {row["handle"]} if row and row["handle"] else set()
        export_only = all(p.target.kind is PageKind.EXPORT for p, _ in pages)

        profile_version, profile_page, counts = self._profile(pages)
        observations = self._observations(pages)
        for obs in observations:
            self._post(obs)
        self._relations(pages)
        seen_ids = {o.obj["id"] for o in observations}
        for page, page_row in pages:
            if page.target.kind is PageKind.RECHECK:
                self._recheck(page, page_row, seen_ids)
        res.posts_seen = len(seen_ids)
        if export_only:  # an import is not a crawl of the account: never its "previous crawl"
            outcomes = (0, 0, 0, 0)
            seen_ids = set()
            res.imported = True
        gaps = gap.report(con, account, self.crawl, pages, counts, self.c.failures)
        res.gaps = gaps

        if existing is None:
            con.execute(
                "INSERT INTO account_crawls (account, crawl, started, ended, pages_ok,"
                " pages_blocked, pages_failed, pages_gone, posts_seen, profile_version,"
                " profile_page, counts, gaps) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (account, self.crawl, started, ended, *outcomes, len(seen_ids), profile_version,
                 profile_page, _compact(counts) if counts is not None else None,
                 json.dumps(gaps, ensure_ascii=False)),
            )  # fmt: skip
        else:
            con.execute(
                "UPDATE account_crawls SET started = min(started, ?), ended = max(ended, ?),"
                " pages_ok = pages_ok + ?, pages_blocked = pages_blocked + ?,"
                " pages_failed = pages_failed + ?, pages_gone = pages_gone + ?,"
                " posts_seen = posts_seen + ?,"
                " profile_version = coalesce(?, profile_version),"
                " profile_page = coalesce(?, profile_page), counts = coalesce(?, counts),"
                " gaps = ? WHERE account = ? AND crawl = ?",
                (started, ended, *outcomes, len(seen_ids), profile_version, profile_page,
                 _compact(counts) if counts is not None else None,
                 json.dumps(gaps, ensure_ascii=False), account, self.crawl),
            )  # fmt: skip
        return res

    def _change(
        self, kind: str, at: str, page: int | None, post: int | None = None,
        version: int | None = None, previous: int | None = None, detail: dict[str, Any] | None = None,
    ) -> None:  # fmt: skip
        self.con.execute(
            "INSERT INTO changes (account, crawl, detected_at, type, post, version, previous,"
            " page, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (self.account, self.crawl, at, kind, post, version, previous, page,
             json.dumps(detail or {}, ensure_ascii=False)),
        )  # fmt: skip
        self.res.counts[kind] = self.res.counts.get(kind, 0) + 1

    # -- profile ------------------------------------------------------------------------
    def _profile(
        self, pages: list[tuple[CapturedPage, int]]
    ) -> tuple[int | None, int | None, dict[str, int] | None]:
        # the account's own profile page (a seed page, depth 0); of its profile objects the
        # one whose handle is the account's, else the first
        found: tuple[dict[str, Any], CapturedPage, int] | None = None
        for page, page_row in pages:
            t = page.target
            if page.info.outcome is not Outcome.OK or not (
                t.kind is PageKind.PROFILE or (t.kind is PageKind.PAGE and t.depth == 0)
            ):
                continue
            for obj in page.objects:
                if obj.get("type") != "profile":
                    continue
                if _same_handle(obj.get("handle"), t.handle):
                    found = (obj, page, page_row)
                    break
                if found is None:
                    found = (obj, page, page_row)
        if found is None:
            return None, None, None
        obj, page, page_row = found
        self.own.update(str(v) for v in (obj.get("handle"), obj.get("id")) if v)
        con = self.con
        at = page.info.captured_at
        counts = cmp.clean_counts(obj.get("counts"))
        fields = cmp.profile_fields(obj, self.c.digests)
        latest = con.execute(
            "SELECT * FROM profile_versions WHERE account = ? ORDER BY seq DESC LIMIT 1",
            (self.account,),
        ).fetchone()
        changed: dict[str, Any] = {}
        if latest is not None:
            old = {k: latest[k] for k in ("name", "bio", "avatar", "avatar_key", "header",
                                          "header_key", "location", "verified")}  # fmt: skip
            old["links"] = json.loads(latest["links"])
            old["verified"] = None if old["verified"] is None else bool(old["verified"])
            changed = cmp.profile_changes(fields, old)
        if latest is not None and not changed:
            version = latest["id"]
        else:
            loc = page.objects_location
            assert loc is not None
            version = con.execute(
                "INSERT INTO profile_versions (account, seq, crawl, page, captured_at, name, bio,"
                " avatar, avatar_key, header, header_key, location, links, verified, content_hash,"
                " counts, object, warc, offset, length)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (self.account, (latest["seq"] + 1) if latest else 1, self.crawl, page_row, at,
                 obj.get("name"), obj.get("bio"), fields["avatar"], fields["avatar_key"],
                 fields["header"], fields["header_key"], obj.get("location"),
                 json.dumps(fields["links"]), None if fields["verified"] is None else int(fields["verified"]),
                 cmp.profile_hash(fields), _compact(counts), json.dumps(obj, ensure_ascii=False),
                 loc.warc, loc.offset, loc.length),
            ).lastrowid  # fmt: skip
            if changed:
                self._change("profile", at, page_row, version=version, previous=latest["id"],
                             detail={"fields": changed})  # fmt: skip
                self.res.profile_fields = list(changed)
        con.execute(
            "UPDATE accounts SET display_name = ?, profile_url = ? WHERE id = ?",
            (obj.get("name"), page.url, self.account),
        )
        before = con.execute(
            "SELECT counts FROM account_crawls WHERE account = ? AND crawl != ?"
            " AND counts IS NOT NULL ORDER BY started DESC LIMIT 1",
            (self.account, self.crawl),
        ).fetchone()
        if before is not None:
            diff = cmp.count_changes(counts, json.loads(before["counts"]))
            if diff:
                self._change("counts", at, page_row, version=version, detail={"counts": diff})
        return version, page_row, counts

    # -- follow relations -------------------------------------------------------------------
    def _relations(self, pages: list[tuple[CapturedPage, int]]) -> None:
        """Followers / following from follow-list pages (and exports): first seen, last seen."""
        for page, _row in pages:
            if page.info.outcome is not Outcome.OK or page.target.kind not in (PageKind.FOLLOWS, PageKind.EXPORT):
                continue
            at = page.info.captured_at
            for obj in page.objects:
                for r in obj.get("relations") or [] if obj.get("type") == "profile" else []:
                    acct = r.get("account") or {}
                    key = (acct.get("handle") or acct.get("url") or acct.get("id")
                           or (f"name:{acct['name']}" if acct.get("name") else "")).lower()
                    if not key:
                        continue
                    first = r.get("first_seen") or at
                    self.con.execute(
                        "INSERT INTO relations (account, type, handle, name, url, avatar, since,"
                        " first_seen, first_crawl, last_seen, last_crawl)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                        " ON CONFLICT (account, type, handle) DO UPDATE SET"
                        " name = coalesce(excluded.name, name), url = coalesce(excluded.url, url),"
                        " avatar = coalesce(excluded.avatar, avatar),"
                        " since = coalesce(since, excluded.since),"
                        " first_seen = min(first_seen, excluded.first_seen),"
                        " last_seen = max(last_seen, excluded.last_seen),"
                        " last_crawl = excluded.last_crawl",
                        (self.account, r["type"], key, acct.get("name"), acct.get("url"),
                         acct.get("avatar"), r.get("since"), min(first, at), self.crawl, at, self.crawl),
                    )  # fmt: skip

    # -- posts --------------------------------------------------------------------------
    def _observations(self, pages: list[tuple[CapturedPage, int]]) -> list[Observation]:
        """One observation per post: from its own page rather than a listing, else the
        latest capture; in the order posts first appear."""
        best: dict[str, Observation] = {}
        order = 0
        for page, page_row in pages:
            if page.info.outcome is not Outcome.OK or page.objects_location is None:
                continue
            for obj in page.objects:
                if obj.get("type") != "post" or not obj.get("id"):
                    continue
                obj_id = str(obj["id"])
                own = _same_url(obj.get("url"), page.url) or (
                    page.target.post_id == obj_id
                    and page.target.kind in (PageKind.POST, PageKind.RECHECK)
                )
                source = "export" if page.target.kind is PageKind.EXPORT else "post" if own else "listing"
                obs = Observation(obj, page, page_row, source, order, self._relation(obj, page, own))
                order += 1
                old = best.get(obj_id)
                if old is None:
                    best[obj_id] = obs
                    continue
                if RELATION_RANK[obs.relation] > RELATION_RANK[old.relation]:
                    old.relation = obs.relation
                better = (obs.source == "post", obs.page.info.captured_at) > (
                    old.source == "post", old.page.info.captured_at
                )
                if better:
                    obs.order = old.order
                    obs.relation = max(obs.relation, old.relation, key=RELATION_RANK.__getitem__)
                    best[obj_id] = obs
        return sorted(best.values(), key=lambda o: o.order)

    def _is_own(self, obj: dict[str, Any]) -> bool:
        """Whether the account wrote it (by handle, or by the account id its profile gave)."""
        author = obj.get("author") or {}
        if not author.get("handle") and not author.get("id"):
            return True  # a page that names no author shows the account's own post
        return any(_same_handle(author.get("handle"), h) for h in self.own) or (
            bool(author.get("id")) and author.get("id") in self.own
        )

    def _relation(self, obj: dict[str, Any], page: CapturedPage, own_page: bool) -> str:
        kind = page.target.kind
        mine = self._is_own(obj)
        if obj.get("story"):
            return "story" if mine else "context"
        if obj.get("reply_to"):
            return "own_reply" if mine else "comment"
        if kind is PageKind.RECEIVED and not mine:
            return "received"
        if kind in (PageKind.PROFILE, PageKind.PAGE, PageKind.TIMELINE, PageKind.EXPORT):
            return "own"
        if kind in (PageKind.POST, PageKind.RECHECK) and own_page:
            return "own"
        return "own" if mine else "context"

    def _content(self, obs: Observation) -> cmp.PostContent:
        return cmp.PostContent(
            obs.obj.get("title"), obs.obj.get("text"),
            cmp.media_items(obs.obj, self.c.digests), obs.source,
        )  # fmt: skip

    @staticmethod
    def _stored(v: sqlite3.Row) -> cmp.PostContent:
        return cmp.PostContent(v["title"], v["text"], cmp.media_from_json(v["media"]), v["source"])

    def _post(self, obs: Observation) -> None:
        con, obj = self.con, obs.obj
        post_id = str(obj["id"])
        at = obs.page.info.captured_at
        reply_to = obj.get("reply_to") or None
        reply_id = (reply_to.get("id") or reply_to.get("url")) if isinstance(reply_to, dict) else None
        top_level = obs.relation == "own"
        export = obs.source == "export"
        author = obj.get("author") or {}
        content = self._content(obs)
        scope = json.dumps(obj["out_of_scope"], ensure_ascii=False) if obj.get("out_of_scope") else None
        row = con.execute(
            "SELECT * FROM posts WHERE account = ? AND post_id = ?", (self.account, post_id)
        ).fetchone()
        if row is None:
            post = con.execute(
                "INSERT INTO posts (account, post_id, url, reply_to, author, author_name,"
                " published_at, published_text, first_seen, first_crawl, last_seen, last_crawl,"
                " status, status_at, relation, out_of_scope, expires_at, in_browser, in_export)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'online', ?, ?, ?, ?, ?, ?)",
                (self.account, post_id, obj.get("url"), reply_id, author.get("handle"),
                 author.get("name"), obj.get("published_at"), obj.get("published_text"),
                 at, self.crawl, at, self.crawl, at, obs.relation, scope, obj.get("expires_at"),
                 0 if export else 1, 1 if export else 0),
            ).lastrowid  # fmt: skip
            version = self._version(post, 1, obs, content, is_edit=False)
            self._sighting(post, version, obs)
            if top_level and not export and not self.res.baseline:
                published = obj.get("published_at")
                kind = "found" if published and published < self.prev["started"] else "new"
                self._change(kind, at, obs.page_row, post=post, version=version)
            return
        post = row["id"]
        if con.execute(
            "SELECT 1 FROM post_sightings WHERE post = ? AND crawl = ?", (post, self.crawl)
        ).fetchone():
            return  # seen in files of this crawl read earlier
        self._classify(row, obs, scope)
        top_level = max(row["relation"], obs.relation, key=RELATION_RANK.__getitem__) == "own"
        if export or not row["in_browser"]:
            # an export and a browser capture render a post differently: a version of each is
            # kept side by side, never compared (no edit, no new post: the post was known)
            self._alongside(row, obs, content, export)
            return
        latest = con.execute(
            "SELECT * FROM post_versions WHERE post = ? AND source != 'export'"
            " ORDER BY seq DESC LIMIT 1", (post,),
        ).fetchone()  # fmt: skip
        same_src = con.execute(
            "SELECT v.* FROM post_sightings s JOIN post_versions v ON v.id = s.version"
            " WHERE s.post = ? AND s.source = ? ORDER BY s.captured_at DESC LIMIT 1",
            (post, obs.source),
        ).fetchone()
        latest_c = self._stored(latest)
        if content.identical(latest_c):
            version = latest["id"]
        elif same_src is not None and content.identical(self._stored(same_src)):
            version = same_src["id"]
        else:
            ref, is_edit = self._edit_reference(post, content, latest, same_src)
            version = self._version(post, self._next_seq(post), obs, content, is_edit)
            if is_edit and top_level:
                ref_c = self._stored(ref)
                fields = cmp.edited_fields(content, ref_c)
                detail: dict[str, Any] = {"fields": fields}
                if "text" in fields or "title" in fields:
                    detail["text"] = {"diff": cmp.word_diff(ref["text"], content.text)}
                    if "title" in fields:
                        detail["title"] = {"diff": cmp.word_diff(ref["title"], content.title)}
                if "media" in fields:
                    detail["media"] = cmp.media_diff(content.media, ref_c.media)
                self._change("edited", at, obs.page_row, post=post, version=version,
                             previous=ref["id"], detail=detail)  # fmt: skip
        self._sighting(post, version, obs)
        updates: dict[str, Any] = {"last_seen": at, "last_crawl": self.crawl}
        if obj.get("published_at") and not row["published_at"]:
            updates["published_at"] = obj["published_at"]
        if obj.get("url") and not row["url"]:
            updates["url"] = obj["url"]
        if row["status"] != "online":
            updates.update(status="online", status_at=at, status_reason=None)
            if row["status"] == "deleted" and top_level:
                self._change("restored", at, obs.page_row, post=post, version=version,
                             detail={"was": row["status_reason"]})  # fmt: skip
        sets = ", ".join(f"{k} = ?" for k in updates)
        con.execute(f"UPDATE posts SET {sets} WHERE id = ?", (*updates.values(), post))  # noqa: S608

    def _classify(self, row: sqlite3.Row, obs: Observation, scope: str | None) -> None:
        """A post's relation, out-of-scope mark and expiry as the latest capture says."""
        relation = max(row["relation"], obs.relation, key=RELATION_RANK.__getitem__)
        updates: dict[str, Any] = {}
        if relation != row["relation"]:
            updates["relation"] = relation
        if obs.source != "export" and scope != row["out_of_scope"]:
            updates["out_of_scope"] = scope
        if obs.obj.get("expires_at") and not row["expires_at"]:
            updates["expires_at"] = obs.obj["expires_at"]
        if updates:
            sets = ", ".join(f"{k} = ?" for k in updates)
            self.con.execute(f"UPDATE posts SET {sets} WHERE id = ?", (*updates.values(), row["id"]))  # noqa: S608

    def _alongside(
        self, row: sqlite3.Row, obs: Observation, content: cmp.PostContent, export: bool
    ) -> None:
        """An export's reading of a post the browser captured, or the browser's first capture
        of a post known only from an export: kept as a version of its own, no change records;
        the browser's version is the one shown (latest_version)."""
        post, at = row["id"], obs.page.info.captured_at
        same = self.con.execute(
            "SELECT * FROM post_versions WHERE post = ? AND source " + ("=" if export else "!=")
            + " 'export' ORDER BY seq DESC LIMIT 1", (post,),
        ).fetchone()  # fmt: skip
        if same is not None and content.identical(self._stored(same)):
            version = same["id"]
        else:
            version = self._version(post, self._next_seq(post), obs, content, is_edit=False, latest=not export)
        self._sighting(post, version, obs)
        updates: dict[str, Any] = {"in_export": 1} if export else {
            "in_browser": 1, "last_seen": at, "last_crawl": self.crawl}
        if obs.obj.get("url") and (not row["url"] or not export):
            updates["url"] = row["url"] if export else obs.obj["url"]
        if obs.obj.get("published_at") and not row["published_at"]:
            updates["published_at"] = obs.obj["published_at"]
        sets = ", ".join(f"{k} = ?" for k in updates)
        self.con.execute(f"UPDATE posts SET {sets} WHERE id = ?", (*updates.values(), post))  # noqa: S608

    def _next_seq(self, post: int) -> int:
        return self.con.execute(
            "SELECT coalesce(max(seq), 0) + 1 FROM post_versions WHERE post = ?", (post,)
        ).fetchone()[0]

    def _edit_reference(
        self, post: int, content: cmp.PostContent, latest: sqlite3.Row, same_src: sqlite3.Row | None
    ) -> tuple[sqlite3.Row, bool]:
        """Which version this one is compared with, and whether the difference is an edit
        (see compare.py on listings showing less than a post's own page)."""
        latest_c = self._stored(latest)
        consistent = content.identical(latest_c) or cmp.explained_by_source(content, latest_c)
        if content.source == "listing" or same_src is None:
            return latest, not consistent
        # a post page against the last post page: an edit, unless an edit was already
        # reported since then (seen in a listing) and this page agrees with it
        edited_since = self.con.execute(
            "SELECT 1 FROM post_versions WHERE post = ? AND seq > ? AND is_edit = 1",
            (post, same_src["seq"]),
        ).fetchone()
        if edited_since and consistent:
            return latest, False
        return same_src, True

    def _version(
        self, post: int, seq: int, obs: Observation, content: cmp.PostContent, is_edit: bool,
        latest: bool = True,
    ) -> int:
        obj, loc = obs.obj, obs.page.objects_location
        assert loc is not None
        version = self.con.execute(
            "INSERT INTO post_versions (post, seq, crawl, page, captured_at, page_url, source,"
            " title, text, text_hash, media, media_hash, counts, edited_at, is_edit, object,"
            " warc, offset, length) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (post, seq, self.crawl, obs.page_row, obs.page.info.captured_at,
             obs.page.url, obs.source, content.title, content.text, content.text_hash,
             json.dumps([m.to_dict() for m in content.media], ensure_ascii=False),
             cmp.media_hash(content.media), _compact(cmp.clean_counts(obj.get("counts"))),
             obj.get("edited_at"), int(is_edit), json.dumps(obj, ensure_ascii=False),
             loc.warc, loc.offset, loc.length),
        ).lastrowid  # fmt: skip
        self.con.execute(
            "INSERT INTO post_text (rowid, title, text) VALUES (?, ?, ?)",
            (version, content.title or "", content.text or ""),
        )
        if latest:
            self.con.execute(
                "UPDATE posts SET latest_version = ?, versions = ? WHERE id = ?", (version, seq, post)
            )
        else:
            self.con.execute("UPDATE posts SET versions = ? WHERE id = ?", (seq, post))
        return version

    def _sighting(self, post: int, version: int, obs: Observation) -> None:
        self.con.execute(
            "INSERT INTO post_sightings (post, crawl, version, page, captured_at, source, counts)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (post, self.crawl, version, obs.page_row, obs.page.info.captured_at,
             obs.source, _compact(cmp.clean_counts(obs.obj.get("counts")))),
        )  # fmt: skip

    # -- re-checks of posts not seen again ------------------------------------------------------
    def _recheck(self, page: CapturedPage, page_row: int, seen: set[str]) -> None:
        post_id = str(page.target.post_id or "")
        if not post_id or post_id in seen:
            return  # seen: still online (handled with the other posts)
        row = self.con.execute(
            "SELECT * FROM posts WHERE account = ? AND post_id = ?", (self.account, post_id)
        ).fetchone()
        if row is None:
            return
        outcome = str(page.info.outcome)
        at = page.info.captured_at
        reason = page.info.reason
        status = page.info.status
        detail = {"outcome": outcome, "reason": reason, "status": status, "url": page.url}
        if outcome == "gone":
            new_status = "deleted"
        elif outcome == "blocked":
            new_status = "unverified"
        elif outcome == "ok":
            new_status = "unverified"
            reason = detail["reason"] = reason or "the page loaded but did not show the post"
        else:
            return  # a network failure says nothing; re-checked next crawl
        if row["status"] == new_status or (row["status"] == "deleted"):
            return
        self.con.execute(
            "UPDATE posts SET status = ?, status_at = ?, status_reason = ? WHERE id = ?",
            (new_status, at, reason or f"HTTP {status}", row["id"]),
        )
        if row["relation"] == "own":
            self._change(new_status, at, page_row, post=row["id"], version=row["latest_version"],
                         detail=detail)  # fmt: skip


def _compact(data: dict[str, Any]) -> str:
    """Counts are stored for every sighting: no spaces."""
    return json.dumps(data, separators=(",", ":"))


def _outcomes(pages: list[CapturedPage]) -> tuple[int, int, int, int]:
    """Pages ok, blocked, failed, gone. A blocked page the crawler tried again (a rate limit)
    is evidence, but only the last try counts, as in the crawl's own summary."""
    counts = {"ok": 0, "blocked": 0, "failed": 0, "gone": 0}
    last = {p.info.url: i for i, p in enumerate(pages)}
    for i, p in enumerate(pages):
        o = p.info.outcome
        if o is Outcome.BLOCKED and last[p.info.url] != i:
            continue  # retried later in this crawl
        counts[o if o in counts else "failed"] += 1
    return counts["ok"], counts["blocked"], counts["failed"], counts["gone"]


def known_posts(con: sqlite3.Connection, collection: str, account: str) -> list[tuple[str, str]]:
    """Posts worth re-checking when a crawl does not see them (see api.known_posts): those the
    account's last crawl reached by itself (not through a re-check), and a few that have not
    been seen for the longest time."""
    acc = con.execute(
        "SELECT id FROM accounts WHERE collection = ? AND name = ?", (collection, account)
    ).fetchone()
    if acc is None:
        return []
    last = con.execute(
        "SELECT crawl FROM account_crawls WHERE account = ? AND posts_seen > 0"
        " ORDER BY started DESC LIMIT 1",
        (acc["id"],),
    ).fetchone()
    recent = con.execute(
        "SELECT p.id, p.post_id, p.url FROM post_sightings s JOIN posts p ON p.id = s.post"
        " JOIN pages pg ON pg.id = s.page WHERE s.crawl = ? AND p.account = ?"
        " AND p.relation = 'own' AND p.in_browser = 1 AND p.status != 'deleted'"
        " AND p.url IS NOT NULL AND pg.kind != 'recheck' ORDER BY s.captured_at DESC, p.id LIMIT ?",
        (last["crawl"] if last else -1, acc["id"], RECHECK_RECENT),
    ).fetchall()
    taken = {r["id"] for r in recent}
    rotating = [
        r
        for r in con.execute(
            "SELECT p.id, p.post_id, p.url FROM posts p WHERE p.account = ?"
            " AND p.relation = 'own' AND p.in_browser = 1 AND p.status != 'deleted'"
            " AND p.url IS NOT NULL ORDER BY p.last_seen ASC, p.id LIMIT ?",
            (acc["id"], RECHECK_ROTATING + len(taken)),
        )
        if r["id"] not in taken
    ][:RECHECK_ROTATING]
    return [(r["post_id"], r["url"]) for r in [*recent, *rotating]]


# Posts the account's last crawl reached are re-checked when missing (up to this many), plus
# a few not seen for the longest time, so that old deletions surface eventually without
# re-visiting an account's whole history on every crawl.
RECHECK_RECENT = 200
RECHECK_ROTATING = 10

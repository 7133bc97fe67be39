"""What the crawler and the CLI call. Paths in, plain data out."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from bewaar.errors import BewaarError
from bewaar.model import Root

log = logging.getLogger(__name__)

# A crawl waits this long for a catalog another process is writing; if it is still busy the
# crawl's WARCs are read by the next `bewaar catalog update` (or the next crawl) instead.
CRAWL_WAIT_SECONDS = 120.0
# After a crawl, WARC files of other crawls not yet in the catalog (an update that failed, a
# killed crawl) are read too, up to this many bytes; a larger backlog (an archive older than
# its catalog) is left to `bewaar catalog rebuild`, so that a crawl never ends with hours of
# reading.
BACKLOG_BYTES = 2_000_000_000


def known_posts(root: Path, collection: str, account: str) -> list[tuple[str, str]]:
    """(post id, post URL) of the account's posts seen by earlier crawls and not known to be
    deleted, so a crawl can re-check those it did not see again."""
    from catalog.db import open_readonly
    from catalog.ingest import known_posts as query

    path = Root(Path(root)).catalog_file
    if not path.exists():
        return []
    con = open_readonly(path)
    try:
        return query(con, collection, account)
    finally:
        con.close()


def update_after_crawls(root: Path, crawl_ids: list[str]) -> dict[str, list[str]]:
    """Several finished crawls (a watch's or the workers' runs, finished together) read in one
    update: {crawl id: its summary lines}. Never raises (see update_after_crawl)."""
    from catalog.db import open_catalog
    from catalog.ingest import update

    r = Root(Path(root))
    try:
        con = open_catalog(r.catalog_file, wait=CRAWL_WAIT_SECONDS)
        try:
            result = update(
                con, r.catalog_file, r, finished_only=True, also=crawl_ids[-1],
                backlog_limit=BACKLOG_BYTES,
            )  # fmt: skip
        finally:
            con.close()
    except (BewaarError, sqlite3.Error, OSError) as e:
        line = f"catalog not updated: {e}; the WARCs are complete: run `bewaar catalog update`"
        return {c: [line] for c in crawl_ids}
    except Exception as e:  # noqa: BLE001 - the captures are safe; say so and how to retry
        log.exception("catalog update failed")
        line = (
            f"catalog not updated (internal error: {type(e).__name__}: {e}); the WARCs are "
            "complete: run `bewaar --debug catalog update` and report the error"
        )
        return {c: [line] for c in crawl_ids}
    return {c: [ln for ln in result.lines(c) if "also read crawl" not in ln] for c in crawl_ids}


def _read(root: Path, fn, default):  # noqa: ANN001 - a query over a read-only catalog
    from catalog.db import open_readonly

    path = Root(Path(root)).catalog_file
    if not path.exists():
        return default
    con = open_readonly(path)
    try:
        return fn(con)
    finally:
        con.close()


def backfill_from(root: Path, collection: str, account: str) -> str | None:
    """The day of the account's oldest post captured by a browser (YYYY-MM-DD): a back-fill
    resumes there."""

    def q(con: sqlite3.Connection) -> str | None:
        row = con.execute(
            "SELECT min(p.published_at) FROM posts p JOIN accounts a ON a.id = p.account"
            " WHERE a.collection = ? AND a.name = ? AND p.relation = 'own' AND p.in_browser = 1",
            (collection, account),
        ).fetchone()
        return row[0][:10] if row and row[0] else None

    return _read(root, q, None)


def known_relations(root: Path, collection: str, account: str) -> dict[str, str]:
    """{"follower:handle": first seen} of the account's follow relations seen before."""

    def q(con: sqlite3.Connection) -> dict[str, str]:
        return {
            f"{r[0]}:{r[1]}": r[2]
            for r in con.execute(
                "SELECT r.type, r.handle, r.first_seen FROM relations r JOIN accounts a"
                " ON a.id = r.account WHERE a.collection = ? AND a.name = ?",
                (collection, account),
            )
        }

    return _read(root, q, {})


def update_after_crawl(root: Path, collection: str, crawl_id: str) -> list[str]:
    """Add one finished crawl to the catalog and detect changes; returns summary lines.

    Never raises: the crawl's WARCs are complete whatever happens here, and whatever is not
    read now is read by the next update (the catalog remembers which files it has read)."""
    from catalog.db import open_catalog
    from catalog.ingest import update

    r = Root(Path(root))
    try:
        con = open_catalog(r.catalog_file, wait=CRAWL_WAIT_SECONDS)
        try:
            result = update(
                con, r.catalog_file, r, finished_only=True, also=crawl_id,
                backlog_limit=BACKLOG_BYTES,
            )  # fmt: skip
        finally:
            con.close()
    except (BewaarError, sqlite3.Error, OSError) as e:
        return [f"catalog not updated: {e}; the WARCs are complete: run `bewaar catalog update`"]
    except Exception as e:  # noqa: BLE001 - the captures are safe; say so and how to retry
        log.exception("catalog update failed")
        return [
            f"catalog not updated (internal error: {type(e).__name__}: {e}); the WARCs are "
            "complete: run `bewaar --debug catalog update` and report the error"
        ]
    return result.lines(crawl_id)


def forget(root: Path, collection: str, removals: list[dict[str, object]]) -> list[str]:
    """After a destruction or redaction: the catalog reads the collection's WARCs again (so it
    and its search index forget what they no longer hold) and remembers the removed posts with
    their record. Returns summary lines."""
    from catalog.db import open_catalog
    from catalog.ingest import record_removals, refresh_collection

    r = Root(Path(root))
    con = open_catalog(r.catalog_file, wait=CRAWL_WAIT_SECONDS)
    try:
        result = refresh_collection(con, r.catalog_file, r, collection)
        if removals:
            record_removals(con, r.catalog_file, removals)  # type: ignore[arg-type]
    finally:
        con.close()
    posts = sum(1 for x in removals)
    return [f"catalog: {collection} read again from its WARCs; {posts} removed post(s) recorded",
            *(f"catalog: {p}" for p in result.problems)]

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

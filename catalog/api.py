"""What the crawler and the CLI call. Paths in, plain data out."""

from __future__ import annotations

from pathlib import Path


def known_posts(root: Path, collection: str, account: str) -> list[tuple[str, str]]:
    """(post id, post URL) of the account's posts seen by earlier crawls and not known to be
    deleted, so a crawl can re-check those it did not see again."""
    return []


def update_after_crawl(root: Path, collection: str, crawl_id: str) -> list[str]:
    """Add one finished crawl to the catalog and detect changes; returns summary lines."""
    return []

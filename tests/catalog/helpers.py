"""Reading a catalog back in tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from catalog.db import DERIVED_TABLES, open_readonly
from catalog.query import DEFAULT_TYPES, TYPES
from catalog.query import ChangeFilter as Filter
from catalog.query import list_changes as query


def dump_catalog(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every derived table, row by row in key order, plus the full-text index."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        out = {t: con.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall() for t in DERIVED_TABLES}
        out["post_text"] = con.execute("SELECT rowid, title, text FROM post_text ORDER BY rowid").fetchall()
        # the index answers the same queries, not just holds the same rows
        out["post_text_hits"] = con.execute(
            "SELECT rowid FROM post_text WHERE post_text MATCH 'a* OR e* OR o*' ORDER BY rowid"
        ).fetchall()
    finally:
        con.close()
    return out


def changes(root: Path, everything: bool = False) -> list[dict[str, Any]]:
    con = open_readonly(root / "catalog.sqlite")
    try:
        return query(con, Filter(types=TYPES if everything else DEFAULT_TYPES))
    finally:
        con.close()


def kinds(root: Path, everything: bool = False) -> list[tuple[str, str | None]]:
    return [(c["type"], c.get("post_id")) for c in changes(root, everything)]


def row(root: Path, sql: str, *args: Any) -> sqlite3.Row | None:
    con = open_readonly(root / "catalog.sqlite")
    try:
        return con.execute(sql, args).fetchone()
    finally:
        con.close()

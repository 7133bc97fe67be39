"""`bewaar changes`: what change detection found, filtered, as text or JSON.

Every change links into replay at the capture that shows it (pywb's /COLLECTION/TIMESTAMP/URL):
a new or edited post at the version's capture (an edit also at the version before), a
deleted post at its last version and at the platform's answer to the re-check.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime, timedelta
from typing import Any

from bewaar.errors import InputError
from bewaar.timeutil import iso, parse_iso
from bewaar.timeutil import now as clock

_RELATIVE = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str, now: datetime | None = None) -> str:
    """ISO 8601 UTC from "2024-05-01", "2024-05-01T09:30", "2024-05-01T09:30:00+02:00" or a
    span back from now ("36h", "7d", "2w")."""
    v = value.strip()
    m = _RELATIVE.match(v)
    if m:
        when = (now or clock()) - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    else:
        try:
            when = parse_iso(v)
        except ValueError:
            raise InputError(
                f"--since '{value}': not a date: use YYYY-MM-DD, an ISO 8601 time "
                "(2024-05-01T09:30Z) or a span back from now (36h, 7d, 2w)"
            ) from None
    return iso(when)


def resolve_account(con: sqlite3.Connection, given: str, collection: str | None = None) -> list[int]:
    """Account ids for "platform:key" (mastodon:minbzk@social.example), the key or handle as a
    seed list writes it (@minbzk@social.example, minbzk@social.example), a bare user name when
    only one account has it (minbzk), or a site's host; one clear error when it names none or
    several."""
    want = given.strip().lower()
    bare = want.lstrip("@")
    rows = con.execute("SELECT id, collection, name, handle FROM accounts").fetchall()
    if collection:
        rows = [r for r in rows if r["collection"] == collection]

    def forms(r: sqlite3.Row) -> set[str]:
        name = r["name"].lower()
        key = name.split(":", 1)[1] if ":" in name else name
        return {name, key, (r["handle"] or "").lower().lstrip("@")} - {""}

    match = [r for r in rows if want in forms(r) or bare in forms(r)]
    if not match and "@" not in bare and ":" not in bare:
        match = [r for r in rows if any(f.split("@")[0] == bare for f in forms(r))]
    if not match:
        known = ", ".join(sorted({r["name"] for r in rows})) or "none yet"
        raise InputError(f"unknown account '{given}': the catalog knows {known}")
    if len({r["name"] for r in match}) > 1:
        names = ", ".join(sorted({r["name"] for r in match}))
        raise InputError(f"'{given}' matches several accounts ({names}): give one of these")
    return [r["id"] for r in match]


# the queries live in catalog/query.py, shared with the overview and exports


# --------------------------------------------------------------------------- text output


def wdiff(ops: list[list[str]]) -> str:
    """A word diff as text: [-removed-]{+added+}."""
    parts = []
    for op, text in ops:
        if op == "=":
            parts.append(text)
        elif op == "-":
            parts.append(f"[-{text.rstrip()}-]" + text[len(text.rstrip()) :])
        else:
            parts.append(f"{{+{text.rstrip()}+}}" + text[len(text.rstrip()) :])
    return "".join(parts)


def _short(text: str | None, n: int = 100) -> str:
    t = " ".join((text or "").split())
    return t if len(t) <= n else t[: n - 1] + "…"


def _link(base: str, path: str | None) -> str:
    return (base.rstrip("/") + path) if path else "-"


def format_text(changes: list[dict[str, Any]], replay_base: str) -> list[str]:
    lines: list[str] = []
    for c in changes:
        when = c["detected_at"].replace("T", " ")[:16]
        head = f"{when}  {c['account']:<24} {c['type']:<10}"
        t = c["type"]
        if t in ("profile", "counts"):
            if t == "profile":
                names = ", ".join(c.get("fields") or {})
                lines.append(f"{head} profile: {names}")
                for name, f in (c.get("fields") or {}).items():
                    if "diff" in f:
                        lines.append(f"    {name}: {wdiff(f['diff'])}")
                    else:
                        lines.append(f"    {name}: {f.get('old')} -> {f.get('new')}")
            else:
                lines.append(
                    f"{head} "
                    + ", ".join(f"{k} {a} -> {b}" for k, (a, b) in (c.get("counts") or {}).items())
                )
            lines.append(f"    replay: {_link(replay_base, c.get('replay'))}")
            if c.get("replay_before"):
                lines.append(f"    before: {_link(replay_base, c['replay_before'])}")
            continue
        lines.append(f"{head} {c['post_id']}  {c.get('url') or ''}")
        if t == "edited":
            if "title_diff" in c:
                lines.append(f"    title: {wdiff(c['title_diff'])}")
            if "text_diff" in c:
                lines.append(f"    text: {wdiff(c['text_diff'])}")
            if "media" in c:
                m = c["media"]
                lines.append(
                    f"    media: {len(m['removed'])} removed, {len(m['added'])} added "
                    f"({len(m['old'])} -> {len(m['new'])} item(s))"
                )
        else:
            lines.append(f"    \"{_short(c.get('text'))}\"")
        if t in ("deleted", "unverified"):
            lines.append(f"    platform's answer: {c.get('answer') or '-'} (checked {c.get('checked_at')})")
            lines.append(f"    answer:  {_link(replay_base, c.get('replay_answer'))}")
            lines.append(f"    last seen: {_link(replay_base, c.get('replay'))}")
        else:
            lines.append(f"    replay: {_link(replay_base, c.get('replay'))}")
            if c.get("replay_before"):
                lines.append(f"    before: {_link(replay_base, c['replay_before'])}")
    return lines

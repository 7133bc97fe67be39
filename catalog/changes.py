"""`bewaar changes`: what change detection found, filtered, as text or JSON.

Every change links into replay at the capture that shows it (pywb's /COLLECTION/TIMESTAMP/URL):
a new or edited post at the version's capture (an edit also at the version before), a
deleted post at its last version and at the platform's answer to the re-check.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bewaar.errors import InputError

TYPES = ("new", "found", "edited", "deleted", "restored", "unverified", "profile", "counts")
DEFAULT_TYPES = tuple(t for t in TYPES if t != "counts")  # counts change on every crawl

_RELATIVE = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(value: str, now: datetime | None = None) -> str:
    """ISO 8601 UTC from "2024-05-01", "2024-05-01T09:30", "2024-05-01T09:30:00+02:00" or a
    span back from now ("36h", "7d", "2w")."""
    v = value.strip()
    m = _RELATIVE.match(v)
    if m:
        when = (now or datetime.now(UTC)) - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    else:
        try:
            when = datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            raise InputError(
                f"--since '{value}': not a date: use YYYY-MM-DD, an ISO 8601 time "
                "(2024-05-01T09:30Z) or a span back from now (36h, 7d, 2w)"
            ) from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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


def ts14(iso: str | None) -> str:
    return re.sub(r"\D", "", iso or "")[:14]


def replay_path(collection: str, iso: str | None, url: str | None) -> str | None:
    if not url or not iso:
        return None
    return f"/{collection}/{ts14(iso)}/{url}"


@dataclass
class Filter:
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


def query(con: sqlite3.Connection, f: Filter) -> list[dict[str, Any]]:
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
    """Where a version is best replayed: its first capture on the post's own page, else
    the page it was first read from."""
    own = con.execute(
        "SELECT pg.url, pg.captured_at FROM post_sightings s JOIN pages pg ON pg.id = s.page"
        " WHERE s.version = ? AND s.source = 'post' ORDER BY s.captured_at LIMIT 1",
        (v["id"],),
    ).fetchone()
    return (own["url"], own["captured_at"]) if own else (v["page_url"], v["captured_at"])


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

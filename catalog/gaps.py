"""The gap report: how complete an account's capture is, per crawl.

Three figures and their reasons, all from what the WARCs (and the crawl report) say:
- the post count the profile itself shows, against the account's own posts captured to date
  (by the browser, and those known only from a platform export);
- posts the crawl saw linked on the account's timeline pages but did not capture, each with
  why: not followed (max_posts, a back-fill's budget), blocked (a login wall, a rate limit),
  failed (a timeout, an HTTP error);
- how far each timeline page was scrolled (to its end, or stopped by max_scrolls or the
  scroll timeout), and for a back-fill (seed `since`) how far back the account's posts reach.
The report is stored per account crawl (account_crawls.gaps) and shown in the crawl summary,
`bewaar changes` and the overview.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

from bewaar.model import Outcome, PageKind

MAX_LISTED = 200  # seen-but-not-captured posts kept by URL per report (all are counted)
TIMELINE_KINDS = (PageKind.PROFILE, PageKind.TIMELINE)


def report_failures(collection_path: Path, crawl_id: str) -> dict[str, str]:
    """Pages of a crawl that gave no capture at all (no WARC record), from its report."""
    path = collection_path / "crawls" / f"{crawl_id}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    out = {}
    for f in data.get("failures") or [] if isinstance(data, dict) else []:
        if isinstance(f, dict) and f.get("url"):
            out[str(f["url"])] = str(f.get("reason") or "")
    return out


def category(why: str) -> str:
    """A reason in one word: max_posts, backfill, blocked, timeout, failed, not_captured."""
    w = why.lower()
    if w.startswith("max_posts") or "more than" in w:
        return "max_posts"
    if "back-fill" in w:
        return "backfill"
    if w.startswith("blocked") or "login_wall" in w or "rate_limited" in w:
        return "blocked"
    if "timed out" in w or "timeout" in w:
        return "timeout"
    if w.startswith("failed") or w.startswith("gone"):
        return "failed"
    return "not_captured"


def report(
    con: sqlite3.Connection,
    account: int,
    crawl: int,
    pages: list[tuple[Any, int]],
    counts: dict[str, int] | None,
    failures: dict[str, str],
) -> dict[str, Any]:
    """The gap report of one account in one crawl (after its posts were read)."""
    own = con.execute(
        "SELECT count(*) AS total, coalesce(sum(in_browser), 0) AS browser,"
        " coalesce(sum(in_browser = 0 AND in_export = 1), 0) AS export_only,"
        " coalesce(sum(out_of_scope IS NOT NULL), 0) AS out_of_scope,"
        " min(published_at) AS oldest,"
        " min(CASE WHEN in_browser = 1 THEN published_at END) AS oldest_browser"
        " FROM posts WHERE account = ? AND relation = 'own'",
        (account,),
    ).fetchone()
    by_relation = {
        r["relation"]: r["n"]
        for r in con.execute(
            "SELECT relation, count(*) AS n FROM posts WHERE account = ? AND relation != 'own'"
            " GROUP BY relation", (account,),
        )
    }  # fmt: skip
    profile_posts = (counts or {}).get("posts")
    if profile_posts is None:
        row = con.execute(
            "SELECT counts FROM account_crawls WHERE account = ? AND counts IS NOT NULL"
            " ORDER BY started DESC LIMIT 1", (account,),
        ).fetchone()  # fmt: skip
        profile_posts = json.loads(row["counts"]).get("posts") if row else None

    listed: dict[str, str | None] = {}
    timeline: list[dict[str, Any]] = []
    backfill: dict[str, Any] = {}
    captured: set[str] = set()
    answers: dict[str, str] = {}
    for page, _row in pages:
        info, kind = page.info, page.target.kind
        if kind in TIMELINE_KINDS and info.outcome is Outcome.OK:
            for url in info.post_links:
                listed.setdefault(url, None)
            for url, why in info.not_followed.items():
                listed[url] = listed.get(url) or why
            timeline.append({
                "url": page.url, "kind": str(kind),
                "stopped": (info.behaviors or {}).get("stopped") or "",
                "scrolls": (info.behaviors or {}).get("scrolls") or 0,
                "links": len(info.post_links),
            })  # fmt: skip
            if info.backfill and not backfill:
                backfill = dict(info.backfill)
        if kind in (PageKind.POST, PageKind.RECHECK):
            if info.outcome is Outcome.OK:
                captured.update((page.url, info.url))
            else:
                answers[info.url] = f"{info.outcome}: {info.reason}".rstrip(": ")
    missing = []
    for url, why in listed.items():
        if url in captured:
            continue
        why = why or answers.get(url) or (f"failed: {failures[url]}" if url in failures else "")
        missing.append({"url": url, "why": why or "not captured (no page for it in this crawl)"})
    reasons = Counter(category(m["why"]) for m in missing)
    out: dict[str, Any] = {
        "profile_posts": profile_posts,
        "captured": own["total"],
        "captured_browser": own["browser"],
        "export_only": own["export_only"],
        "not_captured": max(0, profile_posts - own["total"]) if profile_posts is not None else None,
        "out_of_scope": own["out_of_scope"],
        "oldest": own["oldest"],
        "other": by_relation,
        "seen_not_captured": len(missing),
        "reasons": dict(reasons),
        "missing": missing[:MAX_LISTED],
        "timeline": timeline,
    }
    if backfill:
        since = backfill.get("since") or ""
        # how far back the browser got (an export's older posts do not count here)
        backfill["oldest_captured"] = own["oldest_browser"]
        backfill["reached"] = bool(own["oldest_browser"] and since and own["oldest_browser"][:10] < since)
        out["backfill"] = backfill
    return out


_STOPPED = {
    "stable": "scrolled to its end",
    "max_scrolls": "stopped at max_scrolls",
    "timeout": "stopped at the scroll timeout",
    "since": "reached the back-fill date",
}


def describe(g: dict[str, Any]) -> str:
    """The report in one line, for the crawl summary and `bewaar changes`."""
    parts = []
    if g.get("profile_posts") is not None:
        export = f" ({g['export_only']} only from an export)" if g.get("export_only") else ""
        parts.append(
            f"the profile shows {g['profile_posts']:,} post(s), {g['captured']:,} captured to date"
            f"{export}, {g['not_captured']:,} not (yet) captured"
        )
    else:
        export = f" ({g['export_only']} only from an export)" if g.get("export_only") else ""
        parts.append(f"{g.get('captured', 0):,} post(s) captured to date{export}")
    if g.get("seen_not_captured"):
        why = ", ".join(f"{k} {v}" for k, v in sorted(g.get("reasons", {}).items()))
        parts.append(f"{g['seen_not_captured']} seen on the timeline but not captured ({why})")
    stops = sorted({_STOPPED.get(t["stopped"], t["stopped"]) for t in g.get("timeline") or [] if t.get("stopped")})
    if stops:
        parts.append("timeline " + " / ".join(stops))
    if g.get("out_of_scope"):
        parts.append(f"{g['out_of_scope']} out of scope")
    b = g.get("backfill")
    if b:
        oldest = (b.get("oldest_captured") or "")[:10] or "nothing yet"
        state = "reached" if b.get("reached") else "not reached yet"
        parts.append(f"back-fill to {b.get('since')}: {state}, oldest post {oldest}")
    return "gaps: " + "; ".join(parts)


def short_why(why: str) -> str:
    return re.sub(r"\s+", " ", why)[:160]

"""Times as signing and verification use them: UTC, whole seconds, ISO 8601 with `Z`.

One place for parsing and formatting, so a manifest, a WACZ and a report never disagree on how
a time is read (a time without a zone is UTC here: every time bewaar writes is UTC).
"""

from __future__ import annotations

import datetime as dt
from typing import Any


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def utc(t: dt.datetime) -> dt.datetime:
    """A naive value (GeneralizedTime, cryptography's legacy fields) is UTC, never local time."""
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)


def parse_time(text: Any) -> dt.datetime | None:
    """An ISO 8601 time (`Z` or an offset; UTC when none) or None when it is not one."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return utc(dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00")))
    except ValueError:
        return None


def iso(t: dt.datetime | None) -> str:
    """`YYYY-MM-DDTHH:MM:SSZ` (empty for None): the form manifests and WACZ signedData use."""
    return utc(t).strftime("%Y-%m-%dT%H:%M:%SZ") if t else ""


def duration(seconds: float) -> str:
    """Short human form: `45 s`, `12 min`, `5 h`, `30 days`."""
    s = int(seconds)
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    if s < 172800:
        return f"{s // 3600} h"
    return f"{s // 86400} days"

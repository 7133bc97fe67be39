"""Times as bewaar writes and reads them: UTC, ISO 8601 with a Z, pywb's 14-digit stamps.

One place, so a capture time means the same thing in a WARC, a page entry, the catalog and a
replay link. Standard library only. `now()` honours BEWAAR_NOW (an ISO time) so that tests and
dry runs of time-dependent work (retention, schedules) can move the clock without sleeping.
"""

from __future__ import annotations

import os
import re
import time
from datetime import UTC, datetime, timedelta

ISO_SECONDS = "%Y-%m-%dT%H:%M:%SZ"


def now() -> datetime:
    """The current time in UTC; BEWAAR_NOW=2031-01-01T00:00:00Z pretends it is then.

    With BEWAAR_CLOCK_SPEED=N and BEWAAR_CLOCK_START=<Unix seconds> as well, the pretended
    clock runs N times as fast from BEWAAR_NOW at that real moment (a schedule of hours
    simulated in minutes: benchmarks/watch_scale.py)."""
    fixed = os.environ.get("BEWAAR_NOW")
    if fixed:
        base = parse_iso(fixed)
        speed = os.environ.get("BEWAAR_CLOCK_SPEED")
        if speed:
            start = float(os.environ.get("BEWAAR_CLOCK_START") or time.time())
            return base + timedelta(seconds=(time.time() - start) * float(speed))
        return base
    return datetime.now(UTC)


def wall() -> datetime:
    """The real clock, never BEWAAR_NOW: when something was actually done (a record's execution
    time, a signature) as opposed to the moment terms are judged at."""
    return datetime.now(UTC)


def iso(value: datetime | float | None = None) -> str:
    """2024-05-01T09:30:00Z from an aware datetime, Unix seconds, or now."""
    if value is None:
        value = now()
    if isinstance(value, int | float):
        value = datetime.fromtimestamp(value, UTC)
    return value.astimezone(UTC).strftime(ISO_SECONDS)


def parse_iso(value: str) -> datetime:
    """An aware UTC datetime from ISO 8601 ('Z' or an offset; a time without one is UTC).
    ValueError when it is not ISO 8601."""
    dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def ts14(value: str | None) -> str:
    """2024-05-01T09:30:00Z -> 20240501093000 (pywb's and WARC file names' stamp)."""
    return re.sub(r"\D", "", value or "")[:14]


def from_ts14(stamp: str) -> datetime:
    """20240501093000 (or a prefix of it, as pywb accepts) -> an aware UTC datetime."""
    return datetime.strptime(stamp[:14].ljust(14, "0"), "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def compact(value: datetime | None = None) -> str:
    """20240501T093000Z: crawl ids and log file names."""
    return (value or now()).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


_TERM = re.compile(
    r"^\s*(\d{1,4})\s*(y|yr|years?|jaar|mo|months?|maanden?|maand|w|weeks?|weken|d|days?|dagen?|dag)\s*$",
    re.IGNORECASE,
)
_TERM_UNIT = {"y": "y", "yr": "y", "year": "y", "years": "y", "jaar": "y",
              "mo": "mo", "month": "mo", "months": "mo", "maand": "mo", "maanden": "mo",
              "w": "w", "week": "w", "weeks": "w", "weken": "w",
              "d": "d", "day": "d", "days": "d", "dag": "d", "dagen": "d"}


def parse_term(term: str) -> tuple[int, str]:
    """A retention term as selection lists write it: '10y', '18 maanden', '6mo', '90d', '2w'
    -> (10, 'y'). Months are 'mo' ('m' would be read as minutes elsewhere in bewaar).
    ValueError when it is not one."""
    m = _TERM.match(str(term))
    if not m:
        raise ValueError(f"'{term}' is not a retention term like 10y, 18mo, 6w or 90d (or permanent)")
    return int(m.group(1)), _TERM_UNIT[m.group(2).lower()]


def add_term(start: datetime, term: str) -> datetime:
    """start + term, on the calendar: 29 February + 1y is 28 February; 31 January + 1mo is the
    last day of February (the day a term ends, as an archivist counts it)."""
    import calendar
    from datetime import timedelta

    n, unit = parse_term(term)
    if unit == "d":
        return start + timedelta(days=n)
    if unit == "w":
        return start + timedelta(weeks=n)
    months = n * 12 if unit == "y" else n
    y, mo = divmod(start.month - 1 + months, 12)
    year, month = start.year + y, mo + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)

"""Records management in exports: each item's ledger position, its selection-list
classification, and the collection's ledger and destruction/redaction records for a transfer —
the hooks of base.ExportJob and transfer.py, filled from bewaar/app/records."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from bewaar.app.export.base import ExportJob, Retention
from bewaar.app.export.selection import Item
from bewaar.model import Root


def ledger_for(job: ExportJob):  # noqa: ANN201 - the hook's callable
    """item -> "ledger line N (sha256 …), sealed by line M at T" for the WARC of the item's
    newest capture, or None when its collection has no ledger holding that file."""
    from bewaar.app.records.transfer import ledger_position

    cache: dict[tuple[str, str], str | None] = {}

    def position(item: Item) -> str | None:
        pr = job.version_page(item.latest)
        if pr is None:
            return None
        key = (str(pr.page["collection"]), pr.warc.name)
        if key not in cache:
            pos = ledger_position(job.root, *key)
            if pos is None:
                cache[key] = None
            else:
                sealed = pos.get("sealed_by") or {}
                text = f"{pos['ledger']} line {pos['line']} (sha256 {pos['line_sha256']})"
                if sealed:
                    text += f", sealed by line {sealed.get('line')}"
                    if sealed.get("timestamp"):
                        text += f" at {sealed['timestamp']}"
                text += f"; head line {pos['head']['line']} (sha256 {pos['head']['sha256']})"
                cache[key] = text
        return cache[key]

    return position


def _iso_duration(term: str) -> str | None:
    """10y -> P10Y, 18m -> P18M, 30d -> P30D (MDTO's bewaartermijn); permanent -> None."""
    t = term.strip().lower()
    if t == "permanent" or len(t) < 2 or not t[:-1].isdigit():
        return None
    unit = {"y": "Y", "m": "M", "w": "W", "d": "D"}.get(t[-1])
    return f"P{t[:-1]}{unit}" if unit else None


def retention_for(job: ExportJob):  # noqa: ANN201 - the hook's callable
    """item -> its Retention (category, bewaren/vernietigen, term, list) as the collection's
    retention rules give it (post, then account, then collection), or None when unclassified."""
    from bewaar.app.records.retention import judge_object, judge_page, load

    files: dict[str, object] = {}

    def judged(item: Item) -> Retention | None:
        pr = job.version_page(item.latest)
        if pr is None:
            return None
        coll_name = str(pr.page["collection"])
        if coll_name not in files:
            files[coll_name] = load(Root(Path(job.root)).collection(coll_name))
        rf = files[coll_name]
        page = _Page(pr.page, item)
        j = judge_object(rf, {"url": item.url, "published_at": item.published}, page)  # type: ignore[arg-type]
        if j is None:
            j = judge_page(rf, coll_name, page)  # type: ignore[arg-type]
        if j.rule is None:
            return None
        rule = j.rule
        permanent = rule.term == "permanent"
        return Retention(
            category=rule.category or "", valuation="bewaren" if permanent else "vernietigen",
            term=None if permanent else _iso_duration(rule.term), list_name=rule.list_ or "",
        )  # fmt: skip

    return judged


class _Page:
    """The few page fields retention.judge_* read, from an export's page row."""

    def __init__(self, row: dict, item: Item) -> None:
        self.url = str(row.get("url") or item.url)
        self.kind = str(row.get("kind") or "post")
        self.account = str(item.account or row.get("account") or "")
        self.captured_at = str(row.get("captured_at") or "")
        self._published = item.published

    def published(self) -> datetime | None:
        if not self._published:
            return None
        try:
            return datetime.fromisoformat(str(self._published).replace("Z", "+00:00")).astimezone(UTC)
        except ValueError:
            return None


def transfer_records(root: Path, collection: str, target: Path) -> list[Path]:
    """Copies the ledger and the destruction/redaction records into TARGET (a transfer's
    data/records/), keeping their paths; returns what was written."""
    import shutil

    from bewaar.app.records.transfer import records_for_transfer

    written: list[Path] = []
    for rel, src in records_for_transfer(root, collection):
        dest = target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)
        written.append(dest)
    return written

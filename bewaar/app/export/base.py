"""The one interface every export format implements, and what they share.

A format is a class with a `name` (as `--format` spells it) and `write(job) -> Written`. It
reads the selection's items (selection.py) and their records (records.py) through the job,
writes only below `job.out`, and reports the files it wrote. Formats never read each other's
output, so any subset can be asked for and each can be tested on its own (like scoop's
pluggable exporters).

Hooks other parts of bewaar fill in later:
  job.ledger(item)      the item's position in the collection ledger (none yet: None)
  job.retention(item)   classification/retention from the selection list (none yet: None)
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from bewaar import SOFTWARE
from bewaar.app.export.records import Evidence, PageRecords, RecordRef, RecordStore
from bewaar.app.export.selection import Item, Selection
from bewaar.model import Root
from bewaar.timeutil import iso


@dataclass(frozen=True)
class Retention:
    """Classification and retention of an item from the selection list (the hook: set by the
    retention code when it exists)."""

    category: str  # e.g. "1.1 Beleid"
    valuation: str  # "bewaren" | "vernietigen"
    term: str | None = None  # ISO 8601 duration, e.g. "P10Y"
    list_name: str = ""  # the selection list (selectielijst) it comes from


@dataclass
class Written:
    name: str
    paths: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # things that could not be exported


def no_ledger(item: Item) -> str | None:
    return None


def no_retention(item: Item) -> Retention | None:
    return None


@dataclass
class ExportJob:
    root: Path
    selection: Selection
    out: Path
    store: RecordStore
    evidence: Evidence
    con: sqlite3.Connection
    created: str = field(default_factory=iso)
    ledger: Callable[[Item], str | None] = no_ledger
    retention: Callable[[Item], Retention | None] = no_retention
    progress: Callable[[str], None] = field(default=lambda line: print(line, file=sys.stderr, flush=True))
    title: str = ""

    @property
    def work(self) -> Path:
        """Scratch space inside the output (removed when the export ends)."""
        path = self.out / ".work"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def pages(self, item: Item) -> list[PageRecords]:
        """The page each chosen version is best replayed from, each once."""
        seen: dict[int, PageRecords] = {}
        for v in item.versions:
            page = v.get("page")
            if page and page["id"] not in seen:
                seen[page["id"]] = self.store.page(page)
        return list(seen.values())

    def version_page(self, version: dict[str, Any]) -> PageRecords | None:
        page = version.get("page")
        return self.store.page(page) if page else None

    def media(self, version: dict[str, Any]) -> list[tuple[dict[str, Any], RecordRef | None]]:
        """Each media item of a version with the record holding its file (a stream's rebuilt
        file when yt-dlp made one), or None when it was not captured."""
        pr = self.version_page(version)
        out = []
        objects = version.get("object", {}).get("media") or []
        for i, m in enumerate(version.get("media") or []):
            obj = objects[i] if i < len(objects) and isinstance(objects[i], dict) else {}
            entry = {**obj, **m}
            ref = None
            if pr is not None and entry.get("url"):
                ref = pr.media_file(entry["url"]) or pr.by_uri(entry["url"])
            out.append((entry, ref))
        return out

    def poster(self, version: dict[str, Any], media: dict[str, Any]) -> RecordRef | None:
        pr = self.version_page(version)
        if pr is None or not media.get("poster"):
            return None
        return pr.by_uri(media["poster"])


class Exporter(Protocol):
    name: ClassVar[str]
    description: ClassVar[str]

    def write(self, job: ExportJob) -> Written: ...


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1024 * 1024):
            h.update(chunk)
    return h.hexdigest()


def item_facts(job: ExportJob, item: Item) -> dict[str, Any]:
    """What every format shows as an item's evidence: where and when it was captured, the
    WARC records and their digests, signature and timestamp status, the ledger position."""
    pages = []
    for v in item.versions:
        pr = job.version_page(v)
        if pr is None:
            continue
        status = job.evidence.status(pr.warc)
        recs = [r for r in (pr.main, pr.screenshot, pr.objects, pr.pageinfo) if r is not None]
        pages.append({
            "version": v["seq"], "url": pr.page["url"], "captured_at": pr.page["captured_at"],
            "crawl": pr.page["crawl_id"], "collection": pr.page["collection"],
            "warc": pr.warc.name, "outcome": pr.page["outcome"],
            "records": [
                {"type": r.type, "uri": r.uri, "id": r.id, "date": r.date,
                 "sha256": r.sha256_hex, "in_signed_manifest": job.store.signed_entry(r) is not None}
                for r in recs
            ],
            "signature": status.line(),
            "signature_ok": status.signature == "ok",
            "timestamp": status.timestamp,
        })  # fmt: skip
    return {
        "key": item.key, "url": item.url, "account": item.account,
        "platform": item.post["platform"], "published_at": item.published,
        "status": item.post["status"], "versions_total": item.all_versions,
        "redacted": item.decision.reason if item.redacted else None,
        "ledger": job.ledger(item), "captures": pages,
    }  # fmt: skip


def write_manifest(job: ExportJob, results: list[Written]) -> Path:
    """OUT/manifest.json: what was asked, what is in the export, what was left out or
    redacted and why, and every file with its sha256 and size."""
    sel = job.selection
    files = []
    for path in sorted(p for p in job.out.rglob("*") if p.is_file() and ".work" not in p.parts):
        if path.name == "manifest.json":
            continue
        files.append({"path": path.relative_to(job.out).as_posix(), "sha256": sha256_file(path),
                      "bytes": path.stat().st_size})  # fmt: skip
    data = {
        "format": "bewaar-export/1",
        "created": job.created,
        "software": SOFTWARE,
        "title": job.title,
        "selection": sel.request.describe(),
        "items": [
            {"key": i.key, "url": i.url, "account": i.account, "reply_to": i.parent.key if i.parent else None,
             "versions": [v["seq"] for v in i.versions], "redacted": i.redacted}
            for i in sel.all_items()
        ],  # fmt: skip
        "left_out": sel.left_out,
        "redacted": sel.redacted,
        "notes": sel.notes + [n for r in results for n in r.notes],
        "not_exported": [f for r in results for f in r.failed],
        "formats": {r.name: [p.relative_to(job.out).as_posix() for p in r.paths] for r in results},
        "files": files,
    }
    path = job.out / "manifest.json"
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def root_of(path: Path) -> Root:
    return Root(Path(path))

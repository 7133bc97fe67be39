"""What a crawl captured of each page, read back from its files for `bewaar qa`.

The crawler writes a page whole, in one WARC file: its exchanges (response, then request),
then the screenshot (urn:screenshot:URL), the rendered DOM (urn:dom:URL), objects, and last the
page-info record (urn:pageinfo:URL). So the records between one page-info record and the next
are one page's, and its request records are what the page loaded at capture.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator

from bewaar.errors import InputError
from bewaar.model import DOM_URN, PAGEINFO_URN, SCREENSHOT_URN, Collection, read_pages


def _record_body(where: tuple[Path, int] | None) -> bytes | None:
    """The payload of the record at (file, offset)."""
    if where is None:
        return None
    with where[0].open("rb") as fh:
        fh.seek(where[1])
        for rec in ArchiveIterator(fh):
            return rec.content_stream().read()
    return None


@dataclass
class CapturedPage:
    url: str  # the page's final URL (what the screenshot, DOM and page info are named by)
    ts: str  # 14-digit capture time of its main document
    entry: dict[str, Any]  # its line in pages.jsonl
    info: dict[str, Any] = field(default_factory=dict)  # the page-info record
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, URL) the page made
    user_agent: str = ""
    # where the screenshot and the DOM are (file, offset): read when compared, not all at once
    screenshot_at: tuple[Path, int] | None = None
    dom_at: tuple[Path, int] | None = None

    @property
    def screenshot(self) -> bytes | None:
        return _record_body(self.screenshot_at)

    @property
    def dom(self) -> str | None:
        body = _record_body(self.dom_at)
        return body.decode("utf-8", "replace") if body is not None else None

    @property
    def clicked(self) -> list[str]:
        return list((self.info.get("behaviors") or {}).get("clicked") or [])

    @property
    def overlays_closed(self) -> int:
        return int((self.info.get("behaviors") or {}).get("overlays_closed") or 0)


def crawl_reports(collection: Collection) -> list[Path]:
    """The collection's crawl reports, oldest first (crawl ids begin with their start time)."""
    d = collection.path / "crawls"
    if not d.is_dir():
        return []
    return sorted(p for p in d.glob("*.json") if not p.name.endswith(".qa.json"))


def choose_crawl(collection: Collection, crawl_id: str | None) -> tuple[str, dict[str, Any]]:
    """(crawl id, its report): the one asked for, else the latest finished crawl."""
    reports = crawl_reports(collection)
    if crawl_id:
        path = collection.path / "crawls" / f"{crawl_id}.json"
        if not path.exists():
            known = ", ".join(p.stem for p in reports[-5:]) or "none"
            raise InputError(f"collection '{collection.name}' has no crawl {crawl_id} (latest: {known})")
    elif reports:
        # the latest crawl; an import of a platform export (`bewaar import`) is no web capture
        path = next((p for p in reversed(reports) if not _is_import(p)), reports[-1])
    else:
        raise InputError(f"collection '{collection.name}' has no finished crawl: run `bewaar crawl` first")
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: the crawl report cannot be read ({e})") from None
    return path.stem, report


def _is_import(path: Path) -> bool:
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("kind") == "import"
    except (OSError, ValueError, AttributeError):
        return False


def _ts14(iso: str) -> str:
    return "".join(ch for ch in iso if ch.isdigit())[:14]


def captured_pages(collection: Collection, crawl_id: str, warcs: list[str]) -> list[CapturedPage]:
    """The crawl's successfully captured pages, each with what it loaded and showed."""
    pages: dict[str, CapturedPage] = {}
    for entry in read_pages(collection.pages_file):
        if entry.get("kind") == "export":
            continue  # a platform export read by `bewaar import`: nothing to replay
        if entry.get("crawl_id") == crawl_id and entry.get("outcome", "ok") == "ok":
            pages.setdefault(entry["url"], CapturedPage(entry["url"], _ts14(entry.get("ts", "")), entry))
    names = warcs or sorted({p.entry.get("warc", "") for p in pages.values()} - {""})
    for name in names:
        path = collection.archive / name
        if path.exists():
            _read_blocks(path, pages)
    return list(pages.values())


def _read_blocks(path: Path, pages: dict[str, CapturedPage]) -> None:
    requests: list[tuple[str, str]] = []
    shots: dict[str, tuple[Path, int]] = {}
    doms: dict[str, tuple[Path, int]] = {}
    agent = ""
    with path.open("rb") as fh:
        records = ArchiveIterator(fh)
        for rec in records:
            uri = rec.rec_headers.get_header("WARC-Target-URI") or ""
            if rec.rec_type == "request" and rec.http_headers is not None:
                # media a tool fetched (yt-dlp) is the page's evidence, not something it loaded
                if not rec.rec_headers.get_header("WARC-Bewaar-Fetched-By"):
                    requests.append(((rec.http_headers.protocol or "GET").upper(), uri))
                    agent = agent or rec.http_headers.get_header("User-Agent") or ""
            elif uri.startswith(SCREENSHOT_URN) and uri[len(SCREENSHOT_URN):] in pages:
                shots[uri[len(SCREENSHOT_URN):]] = (path, records.get_record_offset())
            elif uri.startswith(DOM_URN) and uri[len(DOM_URN):] in pages:
                doms[uri[len(DOM_URN):]] = (path, records.get_record_offset())
            elif uri.startswith(PAGEINFO_URN):
                url = uri[len(PAGEINFO_URN):]
                page = pages.get(url)
                if page is not None:
                    try:
                        info = json.loads(rec.content_stream().read())
                    except ValueError:
                        info = {}
                    # a second capture of the same URL in one crawl: keep the one pages.jsonl names
                    if not page.info or _ts14(info.get("captured_at", "")) == page.ts:
                        page.info = info
                        page.requests = requests
                        page.screenshot_at = shots.get(url)
                        page.dom_at = doms.get(url)
                        page.user_agent = agent
                requests, shots, doms, agent = [], {}, {}, ""

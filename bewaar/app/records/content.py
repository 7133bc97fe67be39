"""What a collection's WARCs hold, record by record and page by page: the map destruction and
redaction decide on.

A crawl writes each page as one block of records (its exchanges, then its DOM snapshot,
screenshot, information objects, and last its `urn:pageinfo` record), so a record belongs to the
page whose block holds it. Files hold pages of whichever accounts a crawl captured; nothing is
assumed about which: it is read from each page's `urn:pageinfo` target.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator

from bewaar.errors import BewaarError
from bewaar.model import OBJECTS_URN, PAGEINFO_URN, Collection, PageInfo
from bewaar.timeutil import parse_iso
from signing import manifest


@dataclass
class Rec:
    index: int
    offset: int
    length: int
    type: str
    id: str
    uri: str
    date: str
    mime: str  # the payload's content type (HTTP Content-Type for responses)
    status: int | None = None
    concurrent: str | None = None  # WARC-Concurrent-To
    digest: str | None = None  # WARC-Payload-Digest
    refers_uri: str | None = None
    refers_id: str | None = None
    page: int | None = None  # index into FileMap.pages

    @property
    def text_like(self) -> bool:
        m = self.mime.lower()
        return any(t in m for t in ("json", "html", "text/", "xml", "javascript"))


@dataclass
class Page:
    file: str
    index: int
    url: str
    captured_at: str
    account: str
    kind: str
    post_id: str | None
    outcome: str
    first: int  # record indices [first, last]
    last: int
    pageinfo_id: str
    main_id: str | None
    objects: list[dict[str, Any]] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, str]:
        return self.file, self.pageinfo_id

    def post_object(self) -> dict[str, Any] | None:
        """The post a post page is the page of (its own URL or id)."""
        for o in self.objects:
            if o.get("type") == "post" and (o.get("url") == self.url or
                                            (self.post_id and str(o.get("id")) == self.post_id)):
                return o
        return None

    def published(self) -> Any:
        o = self.post_object() if self.kind in ("post", "recheck") else None
        when = (o or {}).get("published_at")
        try:
            return parse_iso(when) if isinstance(when, str) and when else None
        except ValueError:
            return None


@dataclass
class FileMap:
    name: str
    path: Path
    sha256: str  # as signed (the manifest's statement)
    size: int
    crawl_id: str
    records: list[Rec] = field(default_factory=list)
    pages: list[Page] = field(default_factory=list)

    def by_id(self) -> dict[str, Rec]:
        return {r.id: r for r in self.records}


def _mime(rec: Any) -> str:
    if rec.http_headers is not None and rec.rec_type in ("response", "revisit"):
        return rec.http_headers.get_header("Content-Type") or ""
    return rec.rec_headers.get_header("Content-Type") or ""


def _status(rec: Any) -> int | None:
    try:
        return int(rec.http_headers.get_statuscode()) if rec.http_headers else None
    except (TypeError, ValueError):
        return None


def scan_file(path: Path) -> FileMap:
    try:
        m = manifest.load_for(path)
        sha, size = str(m.statement["sha256"]), int(m.statement["size"])
    except BewaarError:
        sha, size = "", path.stat().st_size
    fm = FileMap(path.name, path, sha, size, "")
    objects: dict[str, list[dict[str, Any]]] = {}
    start = 1
    with path.open("rb") as fh:
        it = ArchiveIterator(fh, check_digests=False)
        for rec in it:
            h = rec.rec_headers
            uri = h.get_header("WARC-Target-URI") or ""
            data = b""
            if rec.rec_type == "warcinfo" or uri.startswith((OBJECTS_URN, PAGEINFO_URN)):
                data = rec.content_stream().read()
            it.read_to_end(rec)
            r = Rec(
                len(fm.records), it.get_record_offset(), it.get_record_length(), rec.rec_type,
                h.get_header("WARC-Record-ID") or "", uri, h.get_header("WARC-Date") or "",
                _mime(rec), _status(rec), h.get_header("WARC-Concurrent-To"),
                h.get_header("WARC-Payload-Digest"), h.get_header("WARC-Refers-To-Target-URI"),
                h.get_header("WARC-Refers-To"),
            )
            fm.records.append(r)
            if rec.rec_type == "warcinfo":
                for line in data.decode("utf-8", "replace").splitlines():
                    k, _, v = line.partition(":")
                    if k.strip() == "crawl-id" and not fm.crawl_id:
                        fm.crawl_id = v.strip()
                start = r.index + 1
                continue
            if uri.startswith(OBJECTS_URN):
                try:
                    value = json.loads(data)
                except ValueError:
                    value = []
                objects[uri[len(OBJECTS_URN):]] = value if isinstance(value, list) else []
            elif uri.startswith(PAGEINFO_URN):
                try:
                    info = PageInfo.from_json(json.loads(data))
                except (ValueError, TypeError):
                    continue
                page = Page(
                    path.name, len(fm.pages), info.page_url, info.captured_at,
                    info.target.account or "", str(info.target.kind), info.target.post_id,
                    str(info.outcome), start, r.index, r.id, r.concurrent,
                    objects.pop(uri[len(PAGEINFO_URN):], []),
                )
                for i in range(start, r.index + 1):
                    fm.records[i].page = page.index
                fm.pages.append(page)
                start = r.index + 1
    fm.crawl_id = fm.crawl_id or "file:" + path.name
    return fm


def scan_collection(coll: Collection) -> list[FileMap]:
    return [scan_file(p) for p in coll.warcs()]


def read_record(path: Path, offset: int) -> tuple[Any, bytes]:
    """(the record, its payload) at `offset` — the payload as stored (HTTP body for
    responses, the block for resource and metadata records; empty for revisits)."""
    with path.open("rb") as fh:
        fh.seek(offset)
        rec = next(iter(ArchiveIterator(fh, check_digests=False)))
        return rec, rec.content_stream().read()


def read_raw(path: Path, offset: int, length: int) -> bytes:
    with path.open("rb") as fh:
        fh.seek(offset)
        return fh.read(length)

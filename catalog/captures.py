"""What the WARCs say: pages, their information objects and where each record lies.

The catalog is read from the WARC files alone, so it can always be rebuilt from them. Per
file: the warcinfo record names the crawl (`crawl-id`); each captured page ends with an
`urn:objects:` metadata record (its information objects, when it had any) and an
`urn:pageinfo:` record (URL, time, outcome, target account and kind); responses and revisits
give the payload digest of every URL, which identifies media bytes across crawls.
"""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from bewaar.model import OBJECTS_URN, PAGEINFO_URN, Collection, PageInfo, PageTarget

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Location:
    warc: str
    offset: int
    length: int


@dataclass
class CapturedPage:
    info: PageInfo  # the urn:pageinfo record
    location: Location  # of the urn:pageinfo record
    response_id: str | None  # WARC-Concurrent-To: the page's main response
    objects: list[dict[str, Any]] = field(default_factory=list)
    objects_location: Location | None = None

    @property
    def target(self) -> PageTarget:
        return self.info.target

    @property
    def url(self) -> str:
        return self.info.page_url


@dataclass
class CrawlCaptures:
    """Everything one crawl wrote into the files being read."""

    collection: str
    crawl_id: str
    files: list[tuple[str, int]] = field(default_factory=list)  # (name, size)
    pages: list[CapturedPage] = field(default_factory=list)
    digests: dict[str, str] = field(default_factory=dict)  # URL -> payload digest
    failures: dict[str, str] = field(default_factory=dict)  # URL -> why (the crawl report)


@dataclass
class FileScan:
    name: str
    size: int
    crawl_id: str
    pages: list[CapturedPage]
    digests: dict[str, tuple[str, str]]  # URL -> (WARC-Date, digest)


def scan_file(path: Path) -> FileScan:
    """Read one WARC file's warcinfo, page records and payload digests."""
    crawl_id = ""
    pages: list[CapturedPage] = []
    digests: dict[str, tuple[str, str]] = {}
    pending: dict[str, tuple[list[dict[str, Any]], Location]] = {}
    size = path.stat().st_size
    with path.open("rb") as fh:
        it = ArchiveIterator(fh, check_digests=False)
        for rec in it:
            kind = rec.rec_type
            h = rec.rec_headers
            if kind == "warcinfo":
                fields = _warc_fields(rec.content_stream().read())
                crawl_id = crawl_id or fields.get("crawl-id", "")
                continue
            uri = h.get_header("WARC-Target-URI") or ""
            if kind in ("response", "revisit"):
                digest = h.get_header("WARC-Payload-Digest")
                if digest and (kind == "revisit" or _status(rec) == 200):
                    when = h.get_header("WARC-Date") or ""
                    old = digests.get(uri)
                    if old is None or (when[:19], digest) > (old[0][:19], old[1]):
                        digests[uri] = (when, digest)
                continue
            if kind != "metadata" or not uri.startswith(("urn:objects:", "urn:pageinfo:")):
                continue
            data = rec.content_stream().read()
            it.read_to_end(rec)
            loc = Location(path.name, it.get_record_offset(), it.get_record_length())
            try:
                value = json.loads(data)
            except ValueError:
                log.warning("%s@%d: %s record is not JSON", path.name, loc.offset, uri.split(":", 2)[1])
                continue
            if uri.startswith(OBJECTS_URN):
                pending[uri[len(OBJECTS_URN) :]] = (value if isinstance(value, list) else [], loc)
            elif uri.startswith(PAGEINFO_URN):
                if not isinstance(value, dict):
                    log.warning("%s@%d: pageinfo record is not an object", path.name, loc.offset)
                    continue
                info = PageInfo.from_json(value)
                page = CapturedPage(info, loc, h.get_header("WARC-Concurrent-To"))
                objs_loc = pending.pop(uri[len(PAGEINFO_URN) :], None)
                if objs_loc is not None:
                    page.objects, page.objects_location = objs_loc
                pages.append(page)
    return FileScan(path.name, size, crawl_id or _crawl_from_name(path.name), pages, digests)


def peek_crawl_id(path: Path) -> str:
    """The crawl a file belongs to, from its first record (cheap: one gzip member)."""
    try:
        with path.open("rb") as fh:
            for rec in ArchiveIterator(fh, check_digests=False):
                if rec.rec_type == "warcinfo":
                    crawl = _warc_fields(rec.content_stream().read()).get("crawl-id")
                    if crawl:
                        return crawl
                break
    except (ArchiveLoadFailed, OSError, EOFError, zlib.error, ValueError):
        pass
    return _crawl_from_name(path.name)


def _status(rec: Any) -> int | None:
    try:
        return int(rec.http_headers.get_statuscode()) if rec.http_headers else None
    except (TypeError, ValueError):
        return None


def _warc_fields(data: bytes) -> dict[str, str]:
    out = {}
    for line in data.decode("utf-8", "replace").splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def _crawl_from_name(name: str) -> str:
    """A file without warcinfo: its own name stands for the crawl."""
    return "file:" + name


def group_by_crawl(collection: str, scans: Iterable[FileScan]) -> list[CrawlCaptures]:
    """Files -> crawls, oldest crawl first (crawl ids start with their start time); within a
    crawl, files in name order (they are numbered)."""
    crawls: dict[str, CrawlCaptures] = {}
    dated: dict[str, dict[str, tuple[str, str]]] = {}
    for scan in sorted(scans, key=lambda s: s.name):
        c = crawls.setdefault(scan.crawl_id, CrawlCaptures(collection, scan.crawl_id))
        c.files.append((scan.name, scan.size))
        c.pages.extend(scan.pages)
        d = dated.setdefault(scan.crawl_id, {})
        for url, (when, digest) in scan.digests.items():
            old = d.get(url)
            if old is None or (when[:19], digest) > (old[0][:19], old[1]):
                d[url] = (when, digest)
    for crawl_id, c in crawls.items():
        c.digests = {url: digest for url, (_w, digest) in dated[crawl_id].items()}
    return sorted(crawls.values(), key=lambda c: c.crawl_id)


def scan_files(
    collection: Collection,
    names: list[str],
    progress: Callable[[str, int, int], None] | None = None,
) -> tuple[list[FileScan], list[str]]:
    """Scans of the named files, and one line per file that could not be read (it is left
    out, and read again next time)."""
    out, problems = [], []
    for i, name in enumerate(names, 1):
        path = collection.archive / name
        try:
            out.append(scan_file(path))
        except (ArchiveLoadFailed, OSError, EOFError, zlib.error, ValueError) as e:
            problems.append(f"{collection.name}/{name}: cannot read: {e}")
        if progress:
            progress(name, i, len(names))
    return out, problems

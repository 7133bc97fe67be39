"""Write captures as WARC 1.1: request/response pairs, revisits, page resources; rotate files.

Files are written in the collection's tmp/ and moved into archive/ only when finished, so pywb
and the signer never see a half-written file, and a crash leaves at most one file in tmp/ whose
complete records `recover()` keeps (nothing captured is lost).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import os
import secrets
import socket
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders, StatusAndHeadersParser
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

from bewaar.model import WARC_SUFFIX, Collection
from crawler.dedup import DedupIndex, Original
from crawler.recorder import Exchange

log = logging.getLogger(__name__)

REDACTED_HEADER = "WARC-Bewaar-Redacted"  # an extension field (WARC 1.1 allows them)
REVISIT_PROFILE = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
# Headers that describe the bytes on the wire, not the decoded body CDP hands us.
_TRANSFER_HEADERS = ("content-encoding", "content-length", "transfer-encoding")
_HTTP_PARSER = StatusAndHeadersParser(["HTTP/1.0", "HTTP/1.1"], verify=False)


def sha256_digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return "sha256:" + base64.b32encode(h.digest()).decode("ascii")


def iso(ts: float) -> str:
    return datetime_to_iso_date(datetime.fromtimestamp(ts, UTC).replace(tzinfo=None), use_micros=True)


@dataclass
class Written:
    """Where a page's records went."""

    warc: str  # file name (in archive/ once finished)
    main_record_id: str | None
    records: int
    bytes: int


@dataclass
class Resource:
    """A record bewaar makes itself: screenshot, rendered DOM, objects, page info."""

    uri: str
    record_type: str  # resource | metadata
    content_type: str
    data: bytes
    redacted: list[str] = field(default_factory=list)  # what crawler/redact.py took out


# ----------------------------------------------------------------------------- headers


def response_headers(ex: Exchange, body_len: int) -> StatusAndHeaders:
    """The response as served, with headers that no longer describe the stored (decoded)
    body kept as X-Archive-Orig-* (the convention pywb and other tools understand)."""
    if ex.headers_text:
        parsed = _HTTP_PARSER.parse(BytesIO(ex.headers_text.encode("latin-1", "replace")))
        statusline, protocol, headers = parsed.statusline, parsed.protocol, parsed.headers
    else:
        reason = ex.status_text or _reason(ex.status or 200)
        statusline, protocol, headers = f"{ex.status} {reason}", "HTTP/1.1", ex.response_headers
    out: list[tuple[str, str]] = []
    placed = False
    for name, value in headers:
        lname = name.lower()
        if lname in _TRANSFER_HEADERS:
            if lname == "content-encoding" and value.strip().lower() == "identity":
                out.append((name, value))
                continue
            out.append((f"X-Archive-Orig-{name}", value))
            if lname == "content-length" and not placed:
                out.append(("Content-Length", str(body_len)))
                placed = True
        else:
            out.append((name, value))
    if not placed:
        out.append(("Content-Length", str(body_len)))
    return StatusAndHeaders(statusline, out, protocol=protocol or "HTTP/1.1")


def request_headers(ex: Exchange) -> StatusAndHeaders:
    parts = urlsplit(ex.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = list(ex.request_headers)
    if not any(k.lower() == "host" for k, _ in headers):
        headers.insert(0, ("Host", parts.netloc))
    return StatusAndHeaders(
        f"{ex.method} {target} HTTP/1.1", headers, protocol="", is_http_request=True
    )


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


# ----------------------------------------------------------------------------- writer


class WarcWriteError(Exception):
    """Writing the WARC failed (disk full, file size limit, I/O error); no page is written
    after it, and the pages written whole before it are kept."""


class WarcFiles:
    """A rotating set of WARC files for one crawl of one collection (of one group: see
    WarcSet).

    `worker`: the id of the worker writing them, part of each file name (several workers
    write one collection); its files are staged in tmp/WORKER/ instead of tmp/. `publish`
    moves a finished file into archive/ (default: at once; workers take a short lock)."""

    def __init__(
        self,
        collection: Collection,
        crawl_id: str,
        warcinfo: dict[str, Any],
        max_size: int = 1_000_000_000,
        dedup: DedupIndex | Any | None = None,
        on_finished: Callable[[Path], None] | None = None,
        worker: str = "",
        publish: Callable[[Path], Path] | None = None,
    ) -> None:
        self.collection = collection.ensure()
        self.crawl_id = crawl_id
        self.warcinfo = warcinfo
        self.max_size = max_size
        self.dedup = dedup if dedup is not None else DedupIndex()
        self.on_finished = on_finished
        self.worker = worker
        self.staging = collection.tmp / worker if worker else collection.tmp
        self.staging.mkdir(parents=True, exist_ok=True)
        self.publisher = publish
        self.finished: list[Path] = []
        self.bytes_written = 0
        self._seq = 0
        self._fh: BinaryIO | None = None
        self._writer: WARCWriter | None = None
        self._path: Path | None = None
        self._stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        self._rand = secrets.token_hex(3)
        self._pages_from = 0  # where the current file's first page starts (after warcinfo)
        self.broken: str | None = None  # why writing stopped, once it has

    # -- files ------------------------------------------------------------------------
    def _open(self) -> WARCWriter:
        if self._writer is not None:
            return self._writer
        self._seq += 1
        who = f"{self.worker}-" if self.worker else ""
        name = f"{self.collection.name}-{self._stamp}-{who}{self._seq:05d}-{self._rand}{WARC_SUFFIX}"
        self._path = self.staging / name
        self._fh = self._path.open("xb")
        self._writer = WARCWriter(self._fh, gzip=True, warc_version="1.1")
        info = dict(self.warcinfo)
        info["crawl-id"] = self.crawl_id
        rec = self._writer.create_warcinfo_record(name, info)
        self._writer.write_record(rec)
        self._pages_from = self._fh.tell()
        return self._writer

    def close_file(self) -> Path | None:
        """Finish the current file: flush, fsync, move into archive/ atomically."""
        if self._fh is None or self._path is None:
            return None
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        path = self._path
        self._fh = self._writer = self._path = None
        return self._publish(path)

    def sync(self) -> None:
        """The pages written so far are on disk (before they are acknowledged to the queue:
        a power cut then loses no page the queue counts as done)."""
        if self._fh is not None:
            self._fh.flush()
            os.fsync(self._fh.fileno())

    @property
    def is_open(self) -> bool:
        return self._fh is not None

    def _publish(self, path: Path) -> Path:
        """A finished file into archive/, atomically; then it is signed (on_finished)."""
        if self.publisher is not None:
            final = self.publisher(path)
        else:
            final = publish_file(self.collection, path)
        self.finished.append(final)
        if self.on_finished:
            self.on_finished(final)
        return final

    def close(self) -> list[Path]:
        self.close_file()
        return self.finished

    def _maybe_rotate(self) -> None:
        if self._fh is not None and self._fh.tell() >= self.max_size:
            self.close_file()

    # -- records ----------------------------------------------------------------------
    def write_page(
        self,
        exchanges: Iterable[Exchange],
        resources: Iterable[Resource] = (),
        main_url: str | None = None,
    ) -> Written:
        """Write one page's exchanges then its resources, all in the same file. A page is
        written whole or not at all: on a failed write the file is cut back to where the page
        began, finished, and WarcWriteError raised."""
        if self.broken:
            raise WarcWriteError(self.broken)
        exchanges = list(exchanges)
        prefetch = getattr(self.dedup, "prefetch", None)
        if prefetch is not None:  # the shared dedup map: one round trip per page
            prefetch(
                sha256_digest(ex.body) for ex in exchanges
                if ex.complete and ex.body and ex.status == 200 and ex.method.upper() == "GET"
            )  # fmt: skip
        start = 0
        try:
            writer = self._open()
            assert self._fh is not None
            start = self._fh.tell()
            with self.dedup.transaction():
                written = self._write_page(writer, start, exchanges, resources, main_url)
        except OSError as e:
            self._abandon(start, e)
            raise WarcWriteError(self.broken) from e
        self._maybe_rotate()
        return written

    def _write_page(
        self,
        writer: WARCWriter,
        start: int,
        exchanges: Iterable[Exchange],
        resources: Iterable[Resource],
        main_url: str | None,
    ) -> Written:
        assert self._fh is not None and self._path is not None
        count = 0
        main_id: str | None = None
        for ex in exchanges:
            rec_id = self._write_exchange(writer, ex)
            if rec_id:
                count += 2
                is_main = ex.is_main_document or ex.url == main_url
                if main_id is None and is_main and not ex.redirect:
                    main_id = rec_id
        when = iso(datetime.now(UTC).timestamp())
        for res in resources:
            headers = {
                "WARC-Date": when,
                "Content-Type": res.content_type,
                "WARC-Block-Digest": sha256_digest(res.data),
            }
            if res.record_type == "resource":
                headers["WARC-Payload-Digest"] = headers["WARC-Block-Digest"]
            if main_id:
                headers["WARC-Concurrent-To"] = main_id
            if res.redacted:
                headers[REDACTED_HEADER] = "; ".join(res.redacted)
            rec = writer.create_warc_record(
                res.uri,
                res.record_type,
                payload=BytesIO(res.data),
                length=len(res.data),
                warc_content_type=res.content_type,
                warc_headers_dict=headers,
            )
            writer.write_record(rec)
            count += 1
        self._fh.flush()
        size = self._fh.tell() - start
        self.bytes_written += size
        return Written(self._path.name, main_id, count, size)

    def _abandon(self, keep: int, err: OSError) -> None:
        """After a failed write: cut the file back to the pages written whole and finish it
        (signed and indexed like any other); refuse every later page."""
        fh, path = self._fh, self._path
        self.broken = f"could not write the WARC: {err.strerror or err}" + (f" ({path.name})" if path else "")
        self._fh = self._writer = self._path = None
        if fh is None or path is None:
            return
        with contextlib.suppress(OSError, ValueError):
            fh.close()  # may flush the failed page's buffered bytes: cut again below
        try:
            if keep <= self._pages_from:  # nothing but warcinfo in it
                path.unlink()
                return
            with path.open("r+b") as f:
                f.truncate(keep)
                os.fsync(f.fileno())
            self._publish(path)
        except OSError as e:  # still failing: the next crawl's recover() keeps the whole records
            log.warning("%s stays in tmp/ for the next crawl to recover: %s", path.name, e)

    def _write_exchange(self, writer: WARCWriter, ex: Exchange) -> str | None:
        """Write request + response (or revisit); return the response record's id."""
        if not ex.complete:
            return None
        body = ex.body or b""
        date = iso(ex.wall_time)
        http = response_headers(ex, len(body))
        http.compute_headers_buffer()
        payload_digest = sha256_digest(body)
        common = {"WARC-Date": date}
        if ex.remote_ip:
            common["WARC-IP-Address"] = ex.remote_ip.strip("[]")
        if ex.protocol and not ex.protocol.lower().startswith("http/1"):
            common["WARC-Protocol"] = ex.protocol.lower()
        if ex.fetcher:
            # not the browser: say who fetched it (an extension field, allowed by WARC 1.1)
            common["WARC-Bewaar-Fetched-By"] = ex.fetcher
        if ex.redacted:
            # credentials of a login session were replaced (crawler/redact.py); the digests
            # below are those of the redacted bytes that are stored
            common[REDACTED_HEADER] = "; ".join(ex.redacted)

        # Only GET answers are deduplicated: pywb finds a revisit's original by URL (and for a
        # POST by URL + body), so a POST whose answer equals an earlier one's could not be
        # resolved (its original's lookup key holds another body) and would replay as a 503.
        dedup = ex.status == 200 and bool(body) and ex.method.upper() == "GET"
        original: Original | None = None
        if dedup:
            original = self.dedup.get(payload_digest)

        resp_id = StatusAndHeadersParser.make_warc_id()
        if original is not None:
            headers = dict(common)
            headers.update(
                {
                    "WARC-Record-ID": resp_id,
                    "WARC-Profile": REVISIT_PROFILE,
                    "WARC-Refers-To-Target-URI": original.uri,
                    "WARC-Refers-To-Date": original.date,
                    "WARC-Payload-Digest": payload_digest,
                    "WARC-Block-Digest": sha256_digest(http.headers_buff),
                }
            )
            if original.record_id:
                headers["WARC-Refers-To"] = original.record_id
            resp = writer.create_warc_record(
                ex.url, "revisit", http_headers=http, warc_headers_dict=headers
            )
        else:
            resp = _http_record(writer, ex.url, "response", http, body, {**common, "WARC-Record-ID": resp_id})
            if dedup:
                self.dedup.add(payload_digest, Original(ex.url, date, resp_id))

        req_http = request_headers(ex)
        req_http.compute_headers_buffer()
        req = _http_record(
            writer, ex.url, "request", req_http, ex.request_body or b"",
            {**common, "WARC-Concurrent-To": resp_id},
        )
        # response first, then its request: the order pywb's and cdxj-indexer's POST
        # handling expects when they pair the two records
        writer.write_record(resp)
        writer.write_record(req)
        return resp_id


def _http_record(
    writer: WARCWriter,
    uri: str,
    record_type: str,
    http: StatusAndHeaders,
    body: bytes,
    headers: dict[str, str],
) -> Any:
    """A request or response record with sha256 digests (warcio computes only sha1)."""
    headers = {
        **headers,
        "WARC-Payload-Digest": sha256_digest(body),
        "WARC-Block-Digest": sha256_digest(http.headers_buff, body),
    }
    return writer.create_warc_record(
        uri, record_type, payload=BytesIO(body), length=len(body),
        http_headers=http, warc_headers_dict=headers,
    )


def publish_file(collection: Collection, path: Path) -> Path:
    """A finished file from a staging directory into archive/, atomically."""
    final = collection.archive / path.name
    os.replace(path, final)
    _fsync_dir(collection.archive)
    return final


class WarcSet:
    """A run's WARC files, one rotating set per group: files are keyed by (run, group), so
    the accounts of a seed list never share a file and a file can be destroyed (retention)
    without touching another account's captures. The group is the account a page belongs to
    (`platform:handle`, a site's host for URL seeds), named in each file's warcinfo
    (`bewaar-group`)."""

    def __init__(self, make: Callable[[str], WarcFiles]) -> None:
        self._make = make
        self.groups: dict[str, WarcFiles] = {}
        self.finished: list[Path] = []

    def files(self, group: str) -> WarcFiles:
        if group not in self.groups:
            self.groups[group] = self._make(group)
        return self.groups[group]

    @property
    def bytes_written(self) -> int:
        return sum(f.bytes_written for f in self.groups.values())

    def sync(self) -> None:
        for f in self.groups.values():
            f.sync()

    def close(self) -> list[Path]:
        for f in self.groups.values():
            f.close_file()
        return [p for f in self.groups.values() for p in f.finished]


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def warcinfo_fields(software: str, extra: dict[str, Any]) -> dict[str, Any]:
    info: dict[str, Any] = {
        "software": software,
        "format": "WARC File Format 1.1",
        "conformsTo": "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/",
        "hostname": socket.gethostname(),
    }
    for k, v in extra.items():
        info[k] = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, sort_keys=True)
    return info


# ----------------------------------------------------------------------------- recovery


def complete_prefix(path: Path) -> int:
    """Length of the longest prefix of a gzip-per-record WARC made of complete members.

    warcio reads a truncated last member without complaint (it just returns fewer bytes), so
    the gzip members are walked here with zlib to find where the last whole record ends.
    """
    good = 0
    pos = 0
    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    with path.open("rb") as fh:
        while True:
            chunk = fh.read(1 << 20)
            if not chunk:
                break
            data = chunk
            while data:
                try:
                    d.decompress(data)
                except zlib.error:
                    return good
                if d.eof:
                    used = len(data) - len(d.unused_data)
                    pos += used
                    good = pos
                    data = d.unused_data
                    d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                else:
                    pos += len(data)
                    data = b""
    return good


def complete_pages(path: Path, good: int) -> int:
    """Within the first `good` bytes (whole records), where the last whole *page* ends: a
    page's records end with its urn:pageinfo record, so the records of a page cut off by a
    crash are dropped (the page was not acknowledged: it is crawled again, whole). A file
    without page records keeps every whole record."""
    from warcio.archiveiterator import ArchiveIterator

    end = 0
    pages = False
    try:
        with path.open("rb") as fh:
            it = ArchiveIterator(_Limited(fh, good), check_digests=False)
            for rec in it:
                uri = rec.rec_headers.get_header("WARC-Target-URI") or ""
                it.read_to_end(rec)
                if rec.rec_type == "warcinfo" and not pages:
                    end = it.get_record_offset() + it.get_record_length()
                elif rec.rec_type == "metadata" and uri.startswith("urn:pageinfo:"):
                    pages = True
                    end = it.get_record_offset() + it.get_record_length()
    except Exception:  # noqa: BLE001 - unreadable: keep the whole records
        return good
    return end if pages else good


class _Limited:
    """A file read only up to `size` bytes."""

    def __init__(self, fh: BinaryIO, size: int) -> None:
        self.fh, self.left = fh, size

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        n = self.left if n is None or n < 0 else min(n, self.left)
        data = self.fh.read(n)
        self.left -= len(data)
        return data

    def readline(self, n: int = -1) -> bytes:
        data = self.fh.readline(self.left if n is None or n < 0 else min(n, self.left))
        self.left -= len(data)
        return data


def warc_crawl_id(path: Path) -> str:
    """The crawl id in a WARC's warcinfo record (its first record), or ""."""
    from warcio.archiveiterator import ArchiveIterator

    try:
        with path.open("rb") as fh:
            for rec in ArchiveIterator(fh, check_digests=False):
                if rec.rec_type == "warcinfo":
                    for line in rec.content_stream().read().decode("utf-8", "replace").splitlines():
                        key, _, value = line.partition(":")
                        if key.strip() == "crawl-id":
                            return value.strip()
                break
    except Exception:  # noqa: BLE001 - an unreadable file names no crawl
        pass
    return ""


def recover(collection: Collection, staging: Path | None = None) -> list[Path]:
    """Move WARCs left in tmp/ (or a dead worker's tmp/WORKER/) by a crawl that died into
    archive/, keeping whole records."""
    moved: list[Path] = []
    staging = staging or collection.tmp
    if not staging.is_dir():
        return moved
    for path in sorted(staging.glob(f"*{WARC_SUFFIX}")):
        good = complete_pages(path, complete_prefix(path))
        if good == 0:
            log.warning("removing %s: it holds no complete record", path.name)
            path.unlink()
            continue
        with path.open("r+b") as fh:
            fh.truncate(good)
            fh.flush()
            os.fsync(fh.fileno())
        final = collection.archive / path.name
        collection.archive.mkdir(parents=True, exist_ok=True)
        os.replace(path, final)
        moved.append(final)
    return moved

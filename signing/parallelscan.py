"""Scan a signed WARC on all cores: inflate and check its records in parallel by member offsets.

A gzip member does not say how long it is, so a WARC can only be split where something already
knows the record boundaries. The signed manifest does: it lists every record's offset and
length. This module hands batches of those members to worker threads (ISA-L inflate and
hashlib release the GIL, so threads use every core) while one more thread computes the file's
sha256 in order. Each member must hold exactly one complete WARC record ending with its CRLF
CRLF and nothing after it, and the members must tile the file exactly.

This is the fast path for the common case, an intact signed file. On anything unexpected (a
boundary that does not match, a record that fails its digests, a parse error) it gives up and
returns None, and the caller runs the sequential scan, whose findings name the problem
precisely. Nothing here is trusted that the sequential scan would have checked: the offsets only
say where to start reading, and every byte between them is inflated and hashed.

Written by hand because no library inflates a gzip-per-record WARC in parallel.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from warcio.recordloader import ArcWarcRecordLoader

from signing import warcscan
from signing.warcscan import (
    CHUNK,
    READ_BLOCK,
    RecordInfo,
    ScanResult,
    Screenshot,
    _Evidence,
    _FastInflateReader,
    _RecordDigests,
    _warcio_messages,
)

BATCH = 4 * 1024 * 1024  # compressed bytes per task: enough to amortise the hand-over
GZIP_MAGIC = b"\x1f\x8b"


class _Abandon(Exception):
    """The fast path cannot vouch for this file: fall back to the sequential scan."""


class _RangeReader:
    """A file-like view of bytes [start, start+length) of an fd, read with pread (thread-safe)."""

    def __init__(self, fd: int, start: int, length: int) -> None:
        self.fd = fd
        self.pos = start
        self.end = start + length

    def read(self, size: int = -1) -> bytes:
        left = self.end - self.pos
        n = left if size is None or size < 0 else min(size, left)
        if n <= 0:
            return b""
        data = os.pread(self.fd, n, self.pos)
        self.pos += len(data)
        return data

    @property
    def left(self) -> int:
        return self.end - self.pos


@dataclass
class _Batch:
    first_index: int  # 1-based index of its first record
    members: list[tuple[int, int]]  # (offset, length) relative to the WARC's start
    infos: list[RecordInfo] = field(default_factory=list)
    screenshots: list[Screenshot] = field(default_factory=list)
    pages: dict[str, None] = field(default_factory=dict)


def _apply(hashers: tuple[Any, ...], data: bytes) -> None:
    for h in hashers:
        h.update(data)


class _Worker:
    """Checks the records of one batch: parse with warcio, hash on this thread."""

    def __init__(self, fd: int, base: int, keep_screenshots: bool) -> None:
        self.fd = fd
        self.base = base
        self.keep_screenshots = keep_screenshots
        self.loader = ArcWarcRecordLoader()

    def __call__(self, batch: _Batch) -> _Batch:
        evidence = _Evidence(self.keep_screenshots)
        with _warcio_messages() as sink:
            for n, (offset, length) in enumerate(batch.members):
                info = self._member(batch.first_index + n, offset, length, evidence)
                if sink.getvalue():
                    raise _Abandon("warcio reported a problem")
                batch.infos.append(info)
        batch.screenshots = evidence.screenshots
        batch.pages = evidence.pages
        return batch

    def _member(self, index: int, offset: int, length: int, evidence: _Evidence) -> RecordInfo:
        raw = _RangeReader(self.fd, self.base + offset, length)
        reader = _FastInflateReader(raw, block_size=READ_BLOCK)
        try:
            record = self.loader.parse_record_stream(reader, known_format="warc", no_record_parse=True)
            info = warcscan.record_info(record, index)
        except Exception as e:  # noqa: BLE001 - any parse problem: let the sequential scan name it
            raise _Abandon(str(e)) from None
        info.offset, info.length = offset, length
        digests = _RecordDigests(record, info)
        buf = evidence.buffer_for(info)
        warcscan.read_block(record, digests, buf, _apply)
        digests.finish()
        if getattr(record.raw_stream, "limit", 0) or info.problems or info.digest == "failed":
            raise _Abandon(f"record {index} has problems")
        # exactly the CRLF CRLF that ends a record, then the end of the gzip member
        tail = reader.read(8)
        decompressor = reader.decompressor
        if (
            tail != b"\r\n\r\n"
            or decompressor is None
            or not getattr(decompressor, "eof", False)
            or decompressor.unused_data
            or raw.left
        ):
            raise _Abandon(f"record {index} does not end where its member ends")
        evidence.seen(info, buf)
        return info


def _file_hash(fd: int, base: int, size: int) -> str:
    h = hashlib.sha256()
    reader = _RangeReader(fd, base, size)
    while chunk := reader.read(CHUNK):
        h.update(chunk)
    if reader.left:
        raise _Abandon("the file is shorter than it was")
    return h.hexdigest()


def layout_from(entries: list[list[Any]]) -> list[tuple[int, int]] | None:
    """[(offset, length)] from a manifest's record list, or None when it is not usable."""
    out: list[tuple[int, int]] = []
    try:
        for e in entries:
            off, length = int(e[0]), int(e[1])
            if off < 0 or length <= 0:
                return None
            out.append((off, length))
    except (TypeError, ValueError, IndexError):
        return None
    return out or None


def _tiles(layout: list[tuple[int, int]], size: int) -> bool:
    pos = 0
    for off, length in layout:
        if off != pos:
            return False
        pos += length
    return pos == size


def _batches(layout: list[tuple[int, int]]) -> Iterator[_Batch]:
    batch = _Batch(1, [])
    total = 0
    for i, (off, length) in enumerate(layout, 1):
        if batch.members and total + length > BATCH:
            yield batch
            batch, total = _Batch(i, []), 0
        batch.members.append((off, length))
        total += length
    if batch.members:
        yield batch


def scan(
    fd: int,
    layout: list[tuple[int, int]],
    *,
    base: int = 0,
    size: int,
    keep_screenshots: bool = False,
    workers: int | None = None,
) -> ScanResult | None:
    """The same ScanResult the sequential scan gives for an intact file, or None."""
    if not layout or not _tiles(layout, size) or os.pread(fd, 2, base) != GZIP_MAGIC:
        return None
    workers = max(1, workers or os.cpu_count() or 1)
    inflight = threading.BoundedSemaphore(workers * 2)  # memory: a few batches at a time
    stop = threading.Event()
    worker = _Worker(fd, base, keep_screenshots)

    def task(batch: _Batch) -> _Batch:
        try:
            if stop.is_set():
                raise _Abandon("stopped")
            return worker(batch)
        except BaseException:
            stop.set()
            raise
        finally:
            inflight.release()

    with ThreadPoolExecutor(max_workers=workers + 1, thread_name_prefix="verify") as pool:
        file_hash = pool.submit(_file_hash, fd, base, size)
        futures: list[Future[_Batch]] = []
        for batch in _batches(layout):
            inflight.acquire()
            if stop.is_set():
                inflight.release()
                break
            futures.append(pool.submit(task, batch))
        try:
            done = [f.result() for f in futures]
            sha256 = file_hash.result()
        except (_Abandon, OSError):
            stop.set()
            return None
    if stop.is_set():
        return None
    result = ScanResult(sha256=sha256, size=size)
    evidence = _Evidence(keep_screenshots)
    for b in done:
        result.records.extend(b.infos)
        evidence.screenshots.extend(b.screenshots)
        for page in b.pages:
            evidence.pages.setdefault(page, None)
    evidence.screenshots = evidence.screenshots[: warcscan.MAX_SCREENSHOTS]
    evidence.into(result)
    return result


def scan_file(
    fh: BinaryIO,
    layout: list[tuple[int, int]] | None = None,
    *,
    keep_screenshots: bool = False,
    workers: int | None = None,
) -> ScanResult:
    """Scan an open regular file: in parallel when a record layout is known and fits, else
    (or when the fast path gives up) sequentially."""
    if layout:
        size = os.fstat(fh.fileno()).st_size
        result = scan(fh.fileno(), layout, size=size, keep_screenshots=keep_screenshots,
                      workers=workers)
        if result is not None:
            return result
        fh.seek(0)
    return warcscan.scan(fh, keep_screenshots=keep_screenshots)

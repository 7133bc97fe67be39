"""Scan a signed WARC on all cores: inflate and check its records in parallel by member offsets.

A gzip member does not say how long it is, so a WARC can only be split where something already
knows the record boundaries. The signed manifest does: it lists every record's offset and
length. This module hands batches of those members to worker processes (ISA-L's streaming
inflate holds the GIL, so threads would share one core) while a thread computes the file's
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
import io
import os
import pickle
import struct
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from warcio.recordloader import ArcWarcRecordLoader

from signing import warcscan
from signing.warcscan import (
    CHUNK,
    MAX_SCREENSHOT_BYTES,
    RecordInfo,
    ScanResult,
    Screenshot,
    _Evidence,
    _inflate,
    _RecordDigests,
)

BATCH = 4 * 1024 * 1024  # compressed bytes per task: enough to amortise the hand-over
IN_CHUNK = 256 * 1024  # compressed bytes inflated at a time
MAX_HEADER = 1024 * 1024  # a WARC header block longer than this is left to the sequential scan
PARALLEL_MIN = 32 * 1024 * 1024  # smaller files are done before worker processes would start
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


def _inflated(fd: int, start: int, length: int) -> Iterator[bytes]:
    """The inflated bytes of exactly one gzip member at [start, start+length), in pieces of at
    most CHUNK (so a member that inflates hugely never fills memory). Abandons when the member
    is cut off, or when its deflate stream ends before its last byte."""
    d = _inflate.decompressobj(16 + _inflate.MAX_WBITS)
    pos, end = start, start + length
    pending = b""
    while True:
        try:
            out = d.decompress(pending, CHUNK)
        except Exception as e:  # noqa: BLE001 - zlib.error, IsalError: corrupt data either way
            raise _Abandon(f"corrupt gzip data: {e}") from None
        pending = d.unconsumed_tail
        if out:
            yield out
            continue
        if d.eof:
            if d.unused_data or pending or pos < end:
                raise _Abandon("the gzip member ends before the next record's offset")
            return
        if pending:
            raise _Abandon("inflate makes no progress")
        if pos >= end:
            raise _Abandon("the gzip member is cut off")
        pending = os.pread(fd, min(IN_CHUNK, end - pos), pos)
        if not pending:
            raise _Abandon("the file is shorter than its record list")
        pos += len(pending)


class _Worker:
    """Checks the records of one batch: inflate, parse the WARC header with warcio, hash, all
    on this thread (ISA-L and hashlib release the GIL, so workers run on every core)."""

    def __init__(self, fd: int, base: int, keep_screenshots: bool) -> None:
        self.fd = fd
        self.base = base
        self.keep_screenshots = keep_screenshots
        self.loader = ArcWarcRecordLoader()

    def __call__(self, batch: _Batch) -> _Batch:
        evidence = _Evidence(self.keep_screenshots)
        for n, (offset, length) in enumerate(batch.members):
            batch.infos.append(self._member(batch.first_index + n, offset, length, evidence))
        batch.screenshots = evidence.screenshots
        batch.pages = evidence.pages
        return batch

    def _header(self, pieces: Iterator[bytes]) -> tuple[bytes, bytes]:
        """(the WARC header block through its blank line, the bytes after it)."""
        buf = b""
        for piece in pieces:
            buf += piece
            end = buf.find(b"\r\n\r\n")
            if end >= 0:
                return buf[: end + 4], buf[end + 4 :]
            if len(buf) > MAX_HEADER:
                break
        raise _Abandon("no WARC header block")

    def _member(self, index: int, offset: int, length: int, evidence: _Evidence) -> RecordInfo:
        pieces = _inflated(self.fd, self.base + offset, length)
        head, rest = self._header(pieces)
        try:
            record = self.loader.parse_record_stream(io.BytesIO(head), known_format="warc",
                                                     no_record_parse=True)
            info = warcscan.record_info(record, index)
            left = int(record.rec_headers.get_header("Content-Length"))
        except Exception as e:  # noqa: BLE001 - any parse problem: the sequential scan names it
            raise _Abandon(str(e)) from None
        if left < 0:
            raise _Abandon("negative Content-Length")
        info.offset, info.length = offset, length
        digests = _RecordDigests(record, info)
        buf = evidence.buffer_for(info)
        tail = b""
        piece: bytes | None = rest
        while piece is not None:
            if left:
                block, tail = piece[:left], piece[left:]
                left -= len(block)
                for hashers, data in digests.feed(block):
                    _apply(hashers, data)
                if buf is not None and len(buf) + len(block) <= MAX_SCREENSHOT_BYTES:
                    buf += block
            else:
                tail += piece
            if len(tail) > 4:
                raise _Abandon(f"record {index} does not end where its member ends")
            piece = next(pieces, None)
        digests.finish()
        if left or tail != b"\r\n\r\n" or info.problems or info.digest == "failed":
            raise _Abandon(f"record {index} has problems")
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
    except (TypeError, ValueError, IndexError, KeyError):
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


def _collect(done: list[_Batch], sha256: str, size: int, keep_screenshots: bool) -> ScanResult:
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


def _in_process(fd: int, layout: list[tuple[int, int]], base: int, size: int,
                keep_screenshots: bool) -> ScanResult | None:
    """One worker on this thread; the file hash on another (hashlib releases the GIL)."""
    worker = _Worker(fd, base, keep_screenshots)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256") as pool:
        file_hash = pool.submit(_file_hash, fd, base, size)
        try:
            done = [worker(b) for b in _batches(layout)]
            return _collect(done, file_hash.result(), size, keep_screenshots)
        except (_Abandon, OSError):
            return None


def _process_batch(fd: int, base: int, batch: _Batch, keep_screenshots: bool) -> _Batch | None:
    try:
        return _Worker(fd, base, keep_screenshots)(batch)
    except (_Abandon, OSError):
        return None


def _send(stream: BinaryIO, obj: object) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def _receive(stream: BinaryIO) -> Any:
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError
    (n,) = struct.unpack("<Q", head)
    data = stream.read(n)
    if len(data) < n:
        raise EOFError
    return pickle.loads(data)  # noqa: S301 - our own worker process, over its own pipe


def worker_main(argv: list[str]) -> int:
    """`python -m signing.parallelscan PATH BASE DEV INO KEEP`: check the batches the parent
    sends on stdin, answer each on stdout, until stdin closes."""
    path, base, dev, ino, keep = argv[0], int(argv[1]), int(argv[2]), int(argv[3]), argv[4] == "1"
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    st = os.fstat(fd)
    same = (st.st_dev, st.st_ino) == (dev, ino)  # the very file the parent opened
    while True:
        try:
            batch = _receive(sys.stdin.buffer)
        except EOFError:
            return 0
        _send(sys.stdout.buffer, _process_batch(fd, base, batch, keep) if same else None)


class _Pool:
    """Batches shared out between this process and `workers - 1` worker processes fed over
    pipes (one feeding thread each, which only waits on its pipe). Subprocesses, not
    multiprocessing: nothing of the parent (its __main__, its threads) is carried over."""

    def __init__(self, path: Path, fd: int, base: int, keep_screenshots: bool, workers: int) -> None:
        st = os.fstat(fd)
        self.local = _Worker(fd, base, keep_screenshots)
        args = [sys.executable, "-m", __name__, str(path), str(base), str(st.st_dev),
                str(st.st_ino), "1" if keep_screenshots else "0"]
        self.procs = [subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL) for _ in range(workers - 1)]

    def run(self, batches: list[_Batch]) -> list[_Batch] | None:
        results: list[_Batch | None] = [None] * len(batches)
        todo = iter(range(len(batches)))
        lock = threading.Lock()
        failed = threading.Event()
        broken: list[str] = []  # a worker that died, as opposed to one that gave up on content

        def take() -> int | None:
            with lock:
                return None if failed.is_set() else next(todo, None)

        def feed(proc: subprocess.Popen[bytes]) -> None:
            assert proc.stdin is not None and proc.stdout is not None
            while (i := take()) is not None:
                try:
                    _send(proc.stdin, batches[i])
                    answer = _receive(proc.stdout)
                except (OSError, EOFError, pickle.UnpicklingError) as e:
                    broken.append(f"worker process failed: {e!r}")
                    answer = None
                if answer is None:
                    failed.set()
                    return
                results[i] = answer

        threads = [threading.Thread(target=feed, args=(p,), daemon=True) for p in self.procs]
        for t in threads:
            t.start()
        try:
            while (i := take()) is not None:
                results[i] = self.local(batches[i])
        except (_Abandon, OSError):
            failed.set()
        for t in threads:
            t.join()
        if broken:
            raise OSError(broken[0])
        if failed.is_set() or any(r is None for r in results):
            return None
        return results  # type: ignore[return-value]

    def close(self) -> None:
        for p in self.procs:
            try:
                if p.stdin:
                    p.stdin.close()
                p.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                p.kill()
                p.wait()
            if p.stdout:
                p.stdout.close()


def _in_processes(path: Path, fd: int, layout: list[tuple[int, int]], base: int, size: int,
                  keep_screenshots: bool, workers: int) -> ScanResult | None:
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256") as hasher:
        file_hash = hasher.submit(_file_hash, fd, base, size)
        pool = _Pool(path, fd, base, keep_screenshots, workers)
        try:
            done = pool.run(list(_batches(layout)))
        finally:
            pool.close()
        if done is None:
            return None
        try:
            return _collect(done, file_hash.result(), size, keep_screenshots)
        except (_Abandon, OSError):
            return None


def scan(
    fd: int,
    layout: list[tuple[int, int]],
    *,
    base: int = 0,
    size: int,
    keep_screenshots: bool = False,
    workers: int | None = None,
    path: Path | None = None,
) -> ScanResult | None:
    """The same ScanResult the sequential scan gives for an intact file, or None.

    Large files (PARALLEL_MIN and more) whose path is known are inflated by `workers` processes
    (ISA-L's streaming inflate holds the GIL, so threads would not help); smaller ones by one
    worker here, which is still leaner than warcio's reader."""
    if not layout or not _tiles(layout, size) or os.pread(fd, 2, base) != GZIP_MAGIC:
        return None
    workers = max(1, workers or os.cpu_count() or 1)
    if path is not None and workers > 1 and size >= PARALLEL_MIN:
        try:
            # None: the content made it give up (the sequential scan will say why)
            return _in_processes(path, fd, layout, base, size, keep_screenshots, workers)
        except OSError:
            pass  # no worker processes here (sandbox, limits): one worker still does the job
    return _in_process(fd, layout, base, size, keep_screenshots)


def scan_file(
    fh: BinaryIO,
    layout: list[tuple[int, int]] | None = None,
    *,
    path: Path | None = None,
    keep_screenshots: bool = False,
    workers: int | None = None,
) -> ScanResult:
    """Scan an open regular file: by its record layout when one is known and fits, else (or
    when that fast path gives up) with the sequential scan, whose findings name any problem."""
    if layout:
        size = os.fstat(fh.fileno()).st_size
        result = scan(fh.fileno(), layout, size=size, keep_screenshots=keep_screenshots,
                      workers=workers, path=path)
        if result is not None:
            return result
        fh.seek(0)
    return warcscan.scan(fh, keep_screenshots=keep_screenshots)


if __name__ == "__main__":
    sys.exit(worker_main(sys.argv[1:]))

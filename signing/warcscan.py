"""One streaming pass over a WARC: the file's sha256 and every record's digests together.

warcio parses the records and checks WARC-Block-Digest / WARC-Payload-Digest (any of the base32,
hex or base64 spellings); this module adds what warcio lacks: a tee that hashes the exact bytes
warcio reads, so the file hash and the record checks come from a single read of the file, and
a compact list of the records (offset, length, type, id, URI, a hash of the WARC header) that
the signed manifest commits to, so a verifier can say *which* record was removed or changed.

Memory stays flat: records are read in fixed-size chunks and only their small descriptions are
kept (plus, on request, a bounded number of screenshots for the evidence report).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import io
import sys
import threading
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import DecompressingBufferedReader
from warcio.exceptions import ArchiveLoadFailed
from warcio.recordloader import ArcWarcRecord

from bewaar.model import DOM_URN, OBJECTS_URN, SCREENSHOT_URN

CHUNK = 1024 * 1024  # file reads and hash updates
READ_BLOCK = 64 * 1024  # compressed bytes warcio inflates at a time (see HashingReader)
MAX_INFLATE = 1024 * 1024  # inflated bytes per step: a member that inflates 1000:1 stays small
MAX_SCREENSHOTS = 50
MAX_SCREENSHOT_BYTES = 20 * 1024 * 1024
# Longest line read where a WARC header (or the blank lines after a record) should be. Real
# header lines are URLs and dates; a longer one is hostile or corrupt, and reading it whole
# would let a small gzip member fill memory.
MAX_LINE = 1024 * 1024


class LineTooLong(ArchiveLoadFailed):
    """A WARC header line longer than MAX_LINE: refused after a bounded read."""


try:  # Intel ISA-L's inflate (python-isal): same API as zlib, about twice as fast here
    from isal import isal_zlib as _inflate
except ImportError:  # pragma: no cover - platforms without an isal wheel fall back to zlib
    _inflate = zlib  # type: ignore[assignment]


class _FastInflateReader(DecompressingBufferedReader):
    """warcio's reader with ISA-L inflating the gzip members.

    Inflating every record is what bounds verification of text-heavy WARCs (measured: zlib
    47 MB/s, ISA-L 88 MB/s of compressed HTML-like WARC); warcio picks its decompressor from
    this class attribute, so a subclass is all it takes.
    """

    DECOMPRESSORS = {  # noqa: RUF012 - mirrors warcio's class attribute
        **DecompressingBufferedReader.DECOMPRESSORS,
        "gzip": lambda: _inflate.decompressobj(16 + _inflate.MAX_WBITS),
    }

    def _decompress(self, data: bytes) -> bytes:
        """warcio inflates each block it reads whole, so 64 KB of a gzip bomb became 64 MB at
        once. Inflate at most MAX_INFLATE per step instead; the input not yet inflated is what
        warcio's next fill starts with (its `starting_data`, otherwise used between members)."""
        d = self.decompressor
        if d is None or not data:
            return super()._decompress(data)  # type: ignore[no-any-return]
        try:
            out: bytes = d.decompress(data, MAX_INFLATE)
        except Exception as e:  # noqa: BLE001 - as warcio: not gzip at all, or corrupt data
            if self.num_block_read == 0:
                self.decompressor = None
                return data
            sys.stderr.write(str(e) + "\n")
            return b""
        if d.unconsumed_tail:
            self.starting_data = d.unconsumed_tail
        return out

    def readline(self, length: int | None = None) -> bytes:
        """warcio reads header lines with no limit; stop at MAX_LINE instead."""
        cap = MAX_LINE + 1 if length is None else min(length, MAX_LINE + 1)
        line: bytes = super().readline(cap)
        if len(line) > MAX_LINE and not line.endswith(b"\n"):
            raise LineTooLong(
                f"a line of more than {MAX_LINE // 1024} KiB where a WARC header should be "
                "(corrupt or hostile data; reading stopped there)"
            )
        return line


class _FastArchiveIterator(ArchiveIterator):
    """ArchiveIterator reading through `_FastInflateReader` (it has not read anything yet
    when its reader is swapped)."""

    def __init__(self, fileobj: BinaryIO, *, block_size: int, **kwargs: Any) -> None:
        super().__init__(fileobj, block_size=block_size, **kwargs)
        self.reader = _FastInflateReader(self.fh, block_size=block_size)


class _ThreadStderr:
    """sys.stderr stand-in that hands what *scanning* threads write to their own buffer.

    warcio reports corrupt gzip data and bad record endings only by writing to sys.stderr.
    contextlib.redirect_stderr would swallow every thread's output (the crawler signs WARCs on
    a worker thread while its progress lines go to stderr), so only the scanning thread's
    writes are diverted; everything else passes straight through.
    """

    def __init__(self, target: Any) -> None:
        self.target = target
        self.local = threading.local()
        self.users = 0

    def write(self, text: str) -> int:
        buf = getattr(self.local, "buf", None)
        return buf.write(text) if buf is not None else self.target.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.target, name)


_stderr_lock = threading.Lock()


@contextlib.contextmanager
def _warcio_messages() -> Iterator[io.StringIO]:
    with _stderr_lock:
        proxy = sys.stderr if isinstance(sys.stderr, _ThreadStderr) else _ThreadStderr(sys.stderr)
        sys.stderr = proxy  # type: ignore[assignment]
        proxy.users += 1
    buf = io.StringIO()
    proxy.local.buf = buf
    try:
        yield buf
    finally:
        proxy.local.buf = None
        with _stderr_lock:
            proxy.users -= 1
            if proxy.users == 0 and sys.stderr is proxy:
                sys.stderr = proxy.target


class HashPipeline:
    """Runs sha256 updates on the second core while this thread inflates and parses.

    Written by hand because warcio checks digests inline, on the parsing thread: with the
    file hash, the block digest and the payload digest all on one core, verification ran at
    about half of `sha256sum` speed. hashlib releases the GIL for buffers over 2 KiB, so one
    worker thread doing every hash update keeps both cores busy. A single worker preserves
    the order of updates; a semaphore bounds the chunks in flight, so memory stays flat.
    """

    def __init__(self, depth: int = 16) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sha256")
        self._slots = threading.BoundedSemaphore(depth)
        self._error: BaseException | None = None

    def submit(self, fn: Callable[..., None], *args: object) -> None:
        self._slots.acquire()
        self._pool.submit(self._run, fn, args)

    def _run(self, fn: Callable[..., None], args: tuple[object, ...]) -> None:
        try:
            if self._error is None:
                fn(*args)
        except BaseException as e:  # noqa: BLE001 - re-raised on the caller's thread in close()
            self._error = e
        finally:
            self._slots.release()

    def close(self) -> None:
        """Wait for every submitted update (the executor runs them in order); a failure in the
        hash thread is raised here, never swallowed into a silent 'pass'."""
        self._pool.shutdown(wait=True)
        if self._error is not None:
            raise self._error


def _update_all(hashers: tuple[Any, ...], data: bytes) -> None:
    for h in hashers:
        h.update(data)


class HashingReader(io.RawIOBase):
    """Hashes every byte read through it (on the pipeline); reports its position for warcio.

    The file is read and hashed in CHUNK-sized pieces but handed to warcio in the smaller
    pieces it asks for: warcio keeps the bytes after a gzip member's end as the start of the
    next one, so big reads into a file of small records would copy the same bytes over and
    over (quadratic in the read size).
    """

    def __init__(self, raw: BinaryIO, pipeline: HashPipeline) -> None:
        self.raw = raw
        self.pipeline = pipeline
        self.hasher = hashlib.sha256()
        self.size = 0  # bytes handed out so far (warcio's notion of position)
        self._buf = memoryview(b"")
        self._pos = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self._pos >= len(self._buf):
            data = self.raw.read(CHUNK)
            if not data:
                return b""
            self.pipeline.submit(self.hasher.update, data)
            self._buf, self._pos = memoryview(data), 0
        end = len(self._buf) if size is None or size < 0 else self._pos + size
        out = bytes(self._buf[self._pos : end])
        self._pos += len(out)
        self.size += len(out)
        return out

    def tell(self) -> int:
        return self.size

    def drain(self) -> None:
        """Hash whatever warcio did not read (trailing bytes after a parse error)."""
        while self.read(CHUNK):
            pass


@dataclass
class RecordInfo:
    index: int  # 1-based position in the file
    offset: int
    length: int
    type: str
    id: str
    uri: str
    date: str
    header_sha256: str  # over warcio's rendering of the WARC header block
    digest: str  # "ok" | "failed" | "none" (no digest to check) | "revisit" (no payload)
    problems: list[str] = field(default_factory=list)
    content_type: str = ""
    concurrent_to: list[str] = field(default_factory=list)
    http_status: int | None = None

    def manifest_entry(self) -> list[object]:
        """[offset, length, type, id, uri, header_sha256]: the form the signed manifest lists."""
        return [self.offset, self.length, self.type, self.id, self.uri, self.header_sha256]

    def describe(self) -> str:
        what = f"{self.type} {self.uri}".strip()
        return f"{what} ({self.id})" if self.id else what


@dataclass
class Screenshot:
    page_url: str
    date: str
    record_id: str
    png: bytes


@dataclass
class ScanResult:
    sha256: str = ""
    size: int = 0
    records: list[RecordInfo] = field(default_factory=list)
    error: str | None = None  # the file could not be read to the end (offset named)
    error_offset: int | None = None
    screenshots: list[Screenshot] = field(default_factory=list)
    pages: list[str] = field(default_factory=list)  # page URLs seen in urn:screenshot:/urn:dom:

    @property
    def failed_records(self) -> list[RecordInfo]:
        return [r for r in self.records if r.digest == "failed" or r.problems]

    @property
    def first_date(self) -> str:
        dates = [r.date for r in self.records if r.date]
        return min(dates) if dates else ""

    @property
    def last_date(self) -> str:
        dates = [r.date for r in self.records if r.date]
        return max(dates) if dates else ""


def _header_hash(record: ArcWarcRecord) -> str:
    rendered = record.rec_headers.to_str().encode("utf-8", "surrogateescape")
    return hashlib.sha256(rendered).hexdigest()


_B32 = set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567=")
# RFC 4648 base32 digits mapped onto the digits int(..., 32) reads: decoding a digest becomes one
# C-level translate and int() instead of base64.b32decode's Python loop (two digests per record)
_B32_TO_INT = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "0123456789abcdefghijklmnopqrstuv")


def _b32_fast(text: str, size: int) -> bytes | None:
    """Unpadded-or-padded base32 of exactly `size` bytes, or None (then the slow path decides)."""
    digits = text.rstrip("=").upper()
    bits = len(digits) * 5
    if not digits or bits < size * 8 or bits - size * 8 >= 5 or len(text) > 8 * -(-size // 5):
        return None
    try:
        value = int(digits.translate(_B32_TO_INT), 32)
    except ValueError:
        return None
    return (value >> (bits - size * 8)).to_bytes(size, "big")


def parse_digest(value: str) -> tuple[str, bytes]:
    """'sha256:<base32|hex|base64>' -> ('sha256', raw digest bytes).

    WARC 1.1 leaves the encoding open; warcio writes base32, other tools hex or base64.
    Raises ValueError for an unknown algorithm or an undecodable value.
    """
    algo, _, text = value.strip().partition(":")
    algo = algo.lower().replace("-", "")
    if not text or algo not in hashlib.algorithms_available:
        raise ValueError(f"unknown digest {value[:40]!r}")
    size = hashlib.new(algo).digest_size
    candidates: list[Callable[[str], bytes]] = []
    if len(text) == size * 2:
        candidates.append(bytes.fromhex)
    if set(text.upper()) <= _B32:
        fast = _b32_fast(text, size)
        if fast is not None:
            return algo, fast
        candidates.append(lambda t: base64.b32decode(t.upper() + "=" * (-len(t) % 8)))
    candidates.append(lambda t: base64.b64decode(t + "=" * (-len(t) % 4), altchars=b"-_" if ("-" in t or "_" in t) else None))
    for decode in candidates:
        try:
            raw = decode(text)
        except (ValueError, binascii.Error):
            continue
        if len(raw) == size:
            return algo, raw
    raise ValueError(f"cannot decode digest {value[:60]!r}")


def _header_end(buf: bytes | bytearray, start: int) -> int | None:
    """Offset just past the first whitespace-only line at or after the line holding `start`."""
    pos = max(0, buf.rfind(b"\n", 0, start) + 1)  # resume at the start of the current line
    while True:
        nl = buf.find(b"\n", pos)
        if nl < 0:
            return None
        if not buf[pos:nl].strip():
            return nl + 1
        pos = nl + 1


class _RecordDigests:
    """Block and payload digests of one record, fed in order as its block streams by.

    Follows warcio's rules (so a WARC warcio calls valid is valid here): the payload of a
    request/response/revisit with an http(s) URI starts after the HTTP header block (the first
    whitespace-only line); for every other record the payload is the whole block; revisit
    records are not checked (they carry the digest of a payload stored elsewhere).
    """

    MAX_HTTP_HEADER = 4 * 1024 * 1024

    def __init__(self, record: ArcWarcRecord, info: RecordInfo) -> None:
        self.info = info
        headers = record.rec_headers
        self.block_expected = headers.get_header("WARC-Block-Digest")
        self.payload_expected = headers.get_header("WARC-Payload-Digest")
        self.block: Any = None
        self.payload: Any = None
        self.problems: list[str] = []
        if info.type == "revisit" or headers.get_header("WARC-Segment-Number"):
            self.block_expected = self.payload_expected = None
        for name in ("block", "payload"):
            expected = getattr(self, f"{name}_expected")
            if not expected:
                continue
            try:
                algo, raw = parse_digest(expected)
            except ValueError as e:
                self.problems.append(f"{name} digest cannot be checked: {e}")
                setattr(self, f"{name}_expected", None)
                continue
            setattr(self, name, hashlib.new(algo))
            setattr(self, f"_{name}_raw", raw)
        self.http = info.type in ("request", "response", "revisit") and info.uri.startswith(
            ("http:", "https:")
        )
        self._head = bytearray() if self.http else None
        self.status_line = b""
        if (
            not self.http
            and self.block is not None
            and self.payload is not None
            and self.block.name == self.payload.name
        ):
            # payload == block here: hash the bytes once and compare with both digests
            self.payload = self.block

    def feed(self, data: bytes) -> list[tuple[Any, ...]]:
        """Returns (hashers, bytes) updates to run, in order. `data` is immutable bytes, so
        zero-copy memoryview slices of it may travel to the hash thread."""
        updates: list[tuple[Any, ...]] = []
        if self._head is None:
            hashers = tuple({id(h): h for h in (self.block, self.payload) if h is not None}.values())
            if hashers:
                updates.append((hashers, data))
            return updates
        if self.block is not None:
            updates.append(((self.block,), data))
        # still inside the HTTP header block: find its end (usually within the first chunk)
        if self._head:
            start = len(self._head)
            self._head += data
            buf: bytes | bytearray = self._head
        else:
            start, buf = 0, data
        end = _header_end(buf, start)
        if end is None:
            if buf is data:
                self._head += data
            if len(self._head) > self.MAX_HTTP_HEADER:
                self.problems.append("HTTP header block larger than 4 MiB: payload digest not checked")
                self.payload = None
                self._head = None
            return updates
        first_nl = buf.find(b"\n")
        self.status_line = bytes(buf[: first_nl + 1 if first_nl >= 0 else len(buf)])
        self._head = None
        if self.payload is not None and end < len(buf):
            rest = memoryview(data)[end - start :] if buf is data else bytes(buf[end:])
            updates.append(((self.payload,), rest))
        return updates

    def finish(self) -> None:
        """Compare (runs on the hash thread, after this record's updates)."""
        info = self.info
        info.problems.extend(self.problems)
        if self._head is not None:
            # no blank line: the whole block is HTTP headers and the payload is empty
            self.status_line = bytes(self._head.split(b"\n", 1)[0])
        checked = False
        failed = False
        for name in ("block", "payload"):
            hasher = getattr(self, name)
            if hasher is None:
                continue
            checked = True
            if hasher.digest() != getattr(self, f"_{name}_raw"):
                failed = True
                info.problems.append(
                    f"{name} digest does not match: the record says "
                    f"{getattr(self, f'{name}_expected')}, its content hashes to "
                    f"{hasher.name}:{base64.b32encode(hasher.digest()).decode()}"
                )
        info.digest = "failed" if failed else "ok" if checked else (
            "revisit" if info.type == "revisit" else "none"
        )
        if self.http and info.type != "request" and self.status_line:
            parts = self.status_line.split(None, 2)
            if len(parts) > 1 and parts[1].isdigit():
                info.http_status = int(parts[1])


class _Evidence:
    """Pages and screenshots seen while scanning (the evidence report shows them)."""

    def __init__(self, keep_screenshots: bool) -> None:
        self.keep_screenshots = keep_screenshots
        self.pages: dict[str, None] = {}
        self.screenshots: list[Screenshot] = []

    def buffer_for(self, info: RecordInfo) -> bytearray | None:
        keep = (
            self.keep_screenshots
            and info.type == "resource"
            and info.uri.startswith(SCREENSHOT_URN)
            and len(self.screenshots) < MAX_SCREENSHOTS
        )
        return bytearray() if keep else None

    def seen(self, info: RecordInfo, buf: bytearray | None) -> None:
        for prefix in (SCREENSHOT_URN, DOM_URN, OBJECTS_URN):
            if info.uri.startswith(prefix):
                self.pages.setdefault(info.uri[len(prefix) :], None)
        if buf is not None:
            self.screenshots.append(
                Screenshot(info.uri[len(SCREENSHOT_URN) :], info.date, info.id, bytes(buf))
            )

    def into(self, result: ScanResult) -> None:
        # screenshots whose record failed its digest are not shown as evidence
        bad = {r.id for r in result.records if r.digest == "failed" or r.problems}
        result.screenshots = [s for s in self.screenshots if s.record_id not in bad]
        result.pages = list(self.pages)


def record_info(record: ArcWarcRecord, index: int) -> RecordInfo:
    """What the manifest and the report need of one record, from its parsed WARC headers."""
    if record.format != "warc":
        raise ArchiveLoadFailed("Unknown archive format (not WARC)")
    headers = record.rec_headers
    return RecordInfo(
        index=index,
        offset=0,
        length=0,
        type=record.rec_type or "",
        id=headers.get_header("WARC-Record-ID") or "",
        uri=headers.get_header("WARC-Target-URI") or "",
        date=headers.get_header("WARC-Date") or "",
        header_sha256=_header_hash(record),
        digest="none",
        content_type=headers.get_header("Content-Type") or "",
        concurrent_to=[v for k, v in headers.headers if k.lower() == "warc-concurrent-to"],
    )


def read_block(
    record: ArcWarcRecord,
    digests: _RecordDigests,
    buf: bytearray | None,
    apply: Callable[[tuple[Any, ...], bytes], None],
) -> None:
    """Stream one record's block through its digests in CHUNK pieces (memory stays flat)."""
    raw = record.raw_stream
    while chunk := raw.read(CHUNK):
        for hashers, data in digests.feed(chunk):
            apply(hashers, data)
        if buf is not None and len(buf) + len(chunk) <= MAX_SCREENSHOT_BYTES:
            buf += chunk


class _SequentialScan:
    """One pass through warcio's iterator; hashing runs on the HashPipeline's thread."""

    def __init__(self, stream: BinaryIO, keep_screenshots: bool) -> None:
        self.pipeline = HashPipeline()
        self.tee = HashingReader(stream, self.pipeline)
        self.result = ScanResult()
        self.evidence = _Evidence(keep_screenshots)
        self.compressed = True

    def run(self) -> ScanResult:
        # warcio writes some warnings straight to stderr; they become findings here instead
        try:
            with _warcio_messages() as sink:
                it = _FastArchiveIterator(self.tee, no_record_parse=True, block_size=READ_BLOCK)
                for index, record in enumerate(it, 1):
                    self._record(it, record, index, sink)
        except Exception as e:  # noqa: BLE001 - warcio raises many types on hostile input; each is a finding
            self.result.error_offset = _safe_offset(self.result)
            self.result.error = _describe_error(e)
        try:
            self.tee.drain()
        finally:
            self.pipeline.close()
        self._check_end()
        self.evidence.into(self.result)
        self.result.sha256 = self.tee.hasher.hexdigest()
        self.result.size = self.tee.size
        return self.result

    def _record(self, it: _FastArchiveIterator, record: ArcWarcRecord, index: int, sink: io.StringIO) -> None:
        info = record_info(record, index)
        digests = _RecordDigests(record, info)
        buf = self.evidence.buffer_for(info)
        read_block(record, digests, buf, lambda h, d: self.pipeline.submit(_update_all, h, d))
        self.pipeline.submit(digests.finish)
        short = getattr(record.raw_stream, "limit", 0)
        errors_before = it.err_count
        info.offset = it.get_record_offset()
        info.length = it.get_record_length()
        decompressor = it.reader.decompressor if it.reader else None
        self.compressed = decompressor is not None
        said = _drain_messages(sink)
        if said:
            # warcio reports corrupt gzip data on stderr and goes on with nothing
            info.problems.append(f"corrupt gzip data in this record ({said[:120]})")
        else:
            if short > 0:
                info.problems.append(f"record ends {short} bytes before its Content-Length (truncated)")
            if decompressor is not None and not getattr(decompressor, "eof", True):
                info.problems.append("the record's gzip member is cut off (file truncated)")
            if it.err_count > errors_before:
                info.problems.append(
                    "record is not followed by the blank lines WARC requires "
                    "(its Content-Length does not match its content)"
                )
        self.evidence.seen(info, buf)
        self.result.records.append(info)

    def _check_end(self) -> None:
        result = self.result
        if result.error is None and result.records:
            last = result.records[-1]
            end = last.offset + last.length
            # an uncompressed record's length excludes the CRLF CRLF that ends it
            slack = 0 if self.compressed else 4
            if self.tee.size > end + slack:
                # warcio stops quietly at a cut-off gzip header or trailing junk: the bytes after
                # the last readable record are themselves the finding
                result.error = (
                    f"{self.tee.size - end} bytes after record {last.index} are not a readable "
                    "WARC record (truncated or corrupt)"
                )
                result.error_offset = end
        if result.error is None and not result.records:
            result.error = "no WARC records found (empty file)" if self.tee.size == 0 else "no WARC records found"
            result.error_offset = 0


def _drain_messages(sink: io.StringIO) -> str:
    said = " ".join(
        line for line in sink.getvalue().split("\n")
        if line.strip() and "Record not followed by newline" not in line
        and not line.strip().startswith(("Offset:", "Remainder:"))
    )
    sink.seek(0)
    sink.truncate()
    return said


def scan(stream: BinaryIO, *, keep_screenshots: bool = False) -> ScanResult:
    """Read a WARC (gzip per record, or plain) once and describe it.

    Never raises for bad content: a file warcio cannot parse gets `error` set, with the offset
    where reading stopped, and the sha256 still covers every byte of the file.
    """
    return _SequentialScan(stream, keep_screenshots).run()


def _safe_offset(result: ScanResult) -> int:
    if result.records:
        last = result.records[-1]
        return last.offset + last.length if last.length else last.offset
    return 0


def _describe_error(e: BaseException) -> str:
    text = " ".join(str(e).split())
    if isinstance(e, LineTooLong):
        return text
    if isinstance(e, EOFError) or "Compressed file ended" in text or "end-of-stream" in text:
        return "the file ends in the middle of a record (truncated)"
    if "Invalid WARC record" in text:
        return "corrupt data where a WARC record should start"
    if "Unknown archive format" in text:
        return "not a WARC file (no WARC/1.x header where a record should start)"
    if "non-chunked gzip" in text:
        return "gzip file holds several records in one member: not a record-per-member WARC"
    if isinstance(e, ArchiveLoadFailed | OSError | ValueError):
        return text[:200] or type(e).__name__
    return f"cannot parse the record ({type(e).__name__}: {text[:120]})"

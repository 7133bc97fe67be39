"""The captured records an export needs, read from the collection's WARC files.

The crawler writes each page's records together (its request/response pairs, then screenshot,
DOM, information objects and, last, the page-info record whose place the catalog keeps), so a
page's records run from the end of the page before it to the end of its own page-info record.
Records are read where they lie (each is one gzip member) and can be copied byte for byte, so
their WARC-Record-ID and digests stay as captured and each copy can still be found in the
capture-time signature manifest of the file it came from.

A revisit record (the same payload captured before) has no body; `original` finds the response
it refers to, by payload digest through the collection's CDXJ index — also in older WARC files.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from warcio.archiveiterator import ArchiveIterator

from bewaar.model import DOM_URN, MEDIA_URN, OBJECTS_URN, PAGEINFO_URN, SCREENSHOT_URN, Root
from catalog import query as cq
from signing import manifest as smanifest
from signing import trust, verify
from signing.report import FAIL, PASS, Subject
from signing.verify_warc import check_manifest_signature

MAX_PAYLOAD = 512 * 1024 * 1024  # a payload larger than this is not copied into HTML/EML


@dataclass
class RecordRef:
    """One WARC record: where it lies and what its headers say."""

    warc: Path
    offset: int
    length: int
    type: str
    uri: str
    id: str
    date: str
    content_type: str = ""  # the record's (or, for HTTP, the payload's) media type
    http_status: int | None = None
    payload_digest: str = ""
    block_digest: str = ""
    header_sha256: str = ""  # as the signature manifest lists it
    refers_to_uri: str = ""
    refers_to_date: str = ""

    @property
    def sha256_hex(self) -> str:
        """The payload's sha256 in hex (WARC digests are base32); for records whose payload
        digest is not sha256 (warcio adds sha1 to metadata records) the block's, which for
        those records covers the same bytes."""
        return digest_hex(self.payload_digest) or digest_hex(self.block_digest)


def digest_hex(value: str) -> str:
    import base64

    algo, _, data = value.partition(":")
    if algo.lower() != "sha256" or not data:
        return ""
    try:
        return base64.b32decode(data.upper()).hex() if len(data) != 64 else data.lower()
    except ValueError:
        return ""


@dataclass
class PageRecords:
    page: dict[str, Any]  # the catalog's page row (with crawl_id and collection)
    warc: Path
    start: int
    end: int
    records: list[RecordRef] = field(default_factory=list)

    def by_uri(self, uri: str, types: tuple[str, ...] = ("response", "revisit")) -> RecordRef | None:
        for r in self.records:
            if r.uri == uri and r.type in types:
                return r
        return None

    def special(self, prefix: str) -> RecordRef | None:
        return next((r for r in self.records if r.uri.startswith(prefix)), None)

    @property
    def screenshot(self) -> RecordRef | None:
        return self.special(SCREENSHOT_URN)

    @property
    def dom(self) -> RecordRef | None:
        return self.special(DOM_URN)

    @property
    def objects(self) -> RecordRef | None:
        return self.special(OBJECTS_URN)

    @property
    def pageinfo(self) -> RecordRef | None:
        return self.special(PAGEINFO_URN)

    @property
    def main(self) -> RecordRef | None:
        rid = self.page.get("response_id")
        found = next((r for r in self.records if rid and r.id == rid), None)
        return found or self.by_uri(self.page["url"])

    def media_file(self, source: str) -> RecordRef | None:
        return self.special(MEDIA_URN + source)


def _header_sha256(record: Any) -> str:
    """The header hash signing/warcscan.py lists in a signature manifest (warcio's rendering
    of the WARC header block)."""
    return hashlib.sha256(record.rec_headers.to_str().encode("utf-8", "surrogateescape")).hexdigest()


def _ref(warc: Path, record: Any, offset: int, length: int) -> RecordRef:
    h = record.rec_headers
    status = None
    ctype = h.get_header("Content-Type") or ""
    if record.http_headers is not None and record.rec_type in ("response", "revisit"):
        try:
            status = int(record.http_headers.get_statuscode() or 0) or None
        except ValueError:
            status = None
        ctype = record.http_headers.get_header("Content-Type") or ""
    return RecordRef(
        warc=warc, offset=offset, length=length, type=record.rec_type or "",
        uri=h.get_header("WARC-Target-URI") or "", id=h.get_header("WARC-Record-ID") or "",
        date=h.get_header("WARC-Date") or "", content_type=ctype.split(";")[0].strip().lower(),
        http_status=status, payload_digest=h.get_header("WARC-Payload-Digest") or "",
        block_digest=h.get_header("WARC-Block-Digest") or "", header_sha256=_header_sha256(record),
        refers_to_uri=h.get_header("WARC-Refers-To-Target-URI") or "",
        refers_to_date=h.get_header("WARC-Refers-To-Date") or "",
    )  # fmt: skip


class RecordStore:
    """Reads pages' records from a root's collections; remembers a few pages' record lists
    (headers only: payloads are read when asked for, so memory stays flat)."""

    def __init__(self, root: Path, con: sqlite3.Connection, cache: int = 64) -> None:
        self.root = Root(Path(root))
        self.con = con
        self._pages: OrderedDict[int, PageRecords] = OrderedDict()
        self._cache = cache
        self._bounds: dict[tuple[str, str], list[tuple[int, int]]] = {}
        self._warcinfo_end: dict[Path, int] = {}
        self._originals: dict[str, dict[str, tuple[str, int, int]]] = {}
        self._manifests: dict[Path, smanifest.Manifest | None] = {}
        self._entries: dict[Path, dict[int, list[Any]]] = {}
        self._scanned: dict[Path, dict[str, RecordRef]] = {}

    def warc_path(self, collection: str, name: str) -> Path:
        return self.root.collection(collection).archive / name

    # -- pages ----------------------------------------------------------------------------
    def page(self, page: dict[str, Any]) -> PageRecords:
        cached = self._pages.get(page["id"])
        if cached is not None:
            self._pages.move_to_end(page["id"])
            return cached
        coll, name = page["collection"], page["warc"]
        warc = self.warc_path(coll, name)
        key = (coll, name)
        if key not in self._bounds:
            self._bounds[key] = cq.warc_page_bounds(self.con, coll, name)
        start = self._first_after_warcinfo(warc)
        for off, length in self._bounds[key]:
            if off >= page["offset"]:
                break
            start = max(start, off + length)
        end = page["offset"] + page["length"]
        pr = PageRecords(page, warc, start, end, self.read_range(warc, start, end))
        self._pages[page["id"]] = pr
        if len(self._pages) > self._cache:
            self._pages.popitem(last=False)
        return pr

    def _first_after_warcinfo(self, warc: Path) -> int:
        if warc not in self._warcinfo_end:
            end = 0
            with warc.open("rb") as fh:
                it = ArchiveIterator(fh)
                for rec in it:
                    if rec.rec_type == "warcinfo":
                        it.read_to_end()
                        end = it.get_record_offset() + it.get_record_length()
                    break
            self._warcinfo_end[warc] = end
        return self._warcinfo_end[warc]

    def read_range(self, warc: Path, start: int, end: int) -> list[RecordRef]:
        out: list[RecordRef] = []
        with warc.open("rb") as fh:
            fh.seek(start)
            it = ArchiveIterator(fh)
            for rec in it:
                it.read_to_end()
                off = it.get_record_offset()
                if off < start:  # warcio counts from where it began reading, not the file start
                    off += start
                out.append(_ref(warc, rec, off, it.get_record_length()))
                if off + it.get_record_length() >= end:
                    break
        return out

    def record(self, warc: Path, offset: int) -> RecordRef | None:
        refs = self.read_range(warc, offset, offset + 1)
        return refs[0] if refs else None

    # -- payloads -------------------------------------------------------------------------
    def payload(self, ref: RecordRef, limit: int = MAX_PAYLOAD) -> bytes | None:
        """The body of a response or resource (the original's body for a revisit); None
        when it cannot be found or is larger than `limit`."""
        if ref.type == "revisit":
            orig = self.original(ref)
            if orig is None:
                return None
            ref = orig
        with ref.warc.open("rb") as fh:
            fh.seek(ref.offset)
            for rec in ArchiveIterator(fh):
                data = rec.content_stream().read(limit + 1)
                return data if len(data) <= limit else None
        return None

    def raw(self, ref: RecordRef, out: BinaryIO) -> None:
        """Copy the record's bytes (its gzip member) unchanged."""
        with ref.warc.open("rb") as fh:
            fh.seek(ref.offset)
            left = ref.length
            while left > 0:
                chunk = fh.read(min(left, 1024 * 1024))
                if not chunk:
                    raise OSError(f"{ref.warc.name} ends inside a record at {ref.offset}")
                out.write(chunk)
                left -= len(chunk)

    def original(self, revisit: RecordRef) -> RecordRef | None:
        """The response a revisit refers to: by payload digest through the collection's CDXJ
        index (the crawler's dedup points revisits at the first response with that payload in
        the collection); where the index does not have it (not yet indexed), by reading the
        revisit's own file and then the collection's other files."""
        coll = revisit.warc.parent.parent.name
        index = self._originals.get(coll)
        if index is None:
            index = self._originals[coll] = self._load_index(coll)
        digest = revisit.payload_digest.partition(":")[2].upper()
        loc = index.get(digest)
        if loc is not None:
            return self.record(self.warc_path(coll, loc[0]), loc[1])
        files = [revisit.warc] + [w for w in self.root.collection(coll).warcs() if w != revisit.warc]
        for warc in files:
            found = self._file_originals(warc).get(digest)
            if found is not None:
                return found
        return None

    def _file_originals(self, warc: Path) -> dict[str, RecordRef]:
        """digest -> the first 200 response with that payload in one file (read once)."""
        if warc not in self._scanned:
            found: dict[str, RecordRef] = {}
            for ref in self.read_range(warc, 0, warc.stat().st_size):
                d = ref.payload_digest.partition(":")[2].upper()
                if ref.type == "response" and ref.http_status == 200 and d and d not in found:
                    found[d] = ref
            self._scanned[warc] = found
        return self._scanned[warc]

    def _load_index(self, coll: str) -> dict[str, tuple[str, int, int]]:
        """digest -> (file, offset, length) of the first 200 response with that payload."""
        from crawler.dedup import cdxj_originals

        out: dict[str, tuple[str, int, int]] = {}
        for _key, _ts, d in cdxj_originals([self.root.collection(coll).index_file]):
            digest = str(d["digest"]).partition(":")[2].upper() or str(d["digest"]).upper()
            if "filename" in d and digest not in out:
                out[digest] = (d["filename"], int(d["offset"]), int(d["length"]))
        return out

    # -- evidence -------------------------------------------------------------------------
    def manifest(self, warc: Path) -> smanifest.Manifest | None:
        if warc not in self._manifests:
            path = smanifest.manifest_path(warc)
            try:
                self._manifests[warc] = smanifest.Manifest.load(path)
            except (FileNotFoundError, smanifest.ManifestError):
                self._manifests[warc] = None
        return self._manifests[warc]

    def signed_entry(self, ref: RecordRef) -> list[Any] | None:
        """The signature manifest's line for this record if it matches it (same place, id
        and header hash), else None."""
        m = self.manifest(ref.warc)
        if m is None:
            return None
        if ref.warc not in self._entries:
            self._entries[ref.warc] = {int(e[0]): e for e in m.records if isinstance(e, list) and e}
        e = self._entries[ref.warc].get(ref.offset)
        if e and len(e) >= 6 and e[1] == ref.length and e[3] == ref.id and e[5] == ref.header_sha256:
            return e
        return None


@dataclass
class SignatureStatus:
    """What a WARC's signature manifest says and whether its signature and timestamp check
    out now (the file's full hash is `bewaar verify`'s job: it reads every byte)."""

    file: str
    signed: bool
    signer: str = ""
    signed_at: str = ""
    signature: str = "missing"  # ok | failed | missing, with detail
    timestamp: str = "pending"  # granted (verified) | pending | failed
    timestamp_time: str = ""
    tsa: str = ""
    detail: str = ""
    file_sha256: str = ""

    def line(self) -> str:
        if not self.signed:
            return f"{self.file}: not signed ({self.detail})"
        ts = f"timestamp {self.timestamp}" + (f" {self.timestamp_time} by {self.tsa}" if self.timestamp_time else "")
        return f"{self.file}: signature {self.signature} ({self.signer}, {self.signed_at}); {ts}"


class Evidence:
    """Signature and timestamp status per WARC file, checked once per export."""

    def __init__(self, store: RecordStore, policy: verify.Policy) -> None:
        self.store = store
        self.policy = policy
        self._status: dict[Path, SignatureStatus] = {}

    @classmethod
    def for_root(cls, root: Path, store: RecordStore) -> Evidence:
        from bewaar.config import load_root_config
        from signing import api

        cfg = load_root_config(root).signing
        policy = verify.Policy(
            signer_trust=trust.load_trust(api.resolve(root, cfg.trusted_roots), "signer"),
            tsa_trust=trust.load_trust(api.resolve(root, cfg.trusted_tsa_roots), "tsa"),
            max_delay=cfg.max_timestamp_delay,
        )
        return cls(store, policy)

    def status(self, warc: Path) -> SignatureStatus:
        if warc in self._status:
            return self._status[warc]
        m = self.store.manifest(warc)
        if m is None:
            st = SignatureStatus(warc.name, False, detail="no signature manifest beside the WARC")
        else:
            sub = Subject(str(warc), "warc")
            check_manifest_signature(sub, m, self.policy)
            checks = {c.number: c for c in sub.checks}
            sig, ts = checks.get(3), checks.get(4)
            statement = m.statement
            stamp = m.timestamp
            st = SignatureStatus(
                warc.name, True, signer=str(m.data.get("signer", {}).get("subject", "")),
                signed_at=str(statement.get("created", "")),
                signature="ok" if sig and sig.status == PASS else "failed",
                timestamp=(
                    "granted" if ts and ts.status == PASS
                    else "failed" if ts and ts.status == FAIL else "pending"
                ),
                timestamp_time=str(stamp.get("time", "")) if stamp.get("status") == "granted" else "",
                tsa=str(stamp.get("tsa", "")),
                detail="; ".join(c.detail for c in (sig, ts) if c is not None),
                file_sha256=str(statement.get("sha256", "")),
            )  # fmt: skip
        self._status[warc] = st
        return st

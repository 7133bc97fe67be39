"""WACZ 1.1.1 packages of a collection, signed as Webrecorder's WACZ signing spec and authsign do.

Layout: archive/*.warc.gz (stored, never recompressed), indexes/index.cdx.gz + index.idx (ZipNum
CDXJ from cdxj-indexer), pages/pages.jsonl, signatures/*.sig.json (each WARC's capture-time
manifest, so the package keeps the earlier proof), ledger/ledger.jsonl and
ledger/*.json (the collection's ledger and its destruction and redaction records, so
lawful removals stay provable in the package), datapackage.json, datapackage-digest.json.

datapackage-digest.json carries `signedData` exactly as authsign's Verifier reads it:
  hash           "sha256:<hex of datapackage.json>"
  created        the same string as datapackage.json's `created` (whole seconds, UTC)
  signature      base64 DER ECDSA-SHA256 over the ASCII bytes of `hash`
  timeSignature  base64 DER TimeStampResp over the ASCII bytes of `signature`
  timestampCert  PEM chain of the TSA, its certificate first, its root last
  domainCert     PEM chain of the signer, leaf first, root (or self-signed leaf) last
  domain         the signer certificate's CN, software, version
Every WARC is checked against its signed manifest while it is copied in: a WARC that changed
after capture is never packaged and signed anew.

ZIP64 only where a member needs it, and then in both its headers. Python's zipfile, asked to
stream a member with `force_zip64` (or guessing from `file_size * 1.05`), writes a ZIP64 extra
field into the *local* header only; the central directory of a member under 2 GiB gets none.
wabac.js, the engine of ReplayWeb.page, finds a member's data at `local header offset + 30 +
name length` whenever the central directory entry has no extra field, so it read every WARC 20
bytes early and found no record at all. Every member is therefore written with its exact size
known: ZIP64 if and only if it exceeds `zipfile.ZIP64_LIMIT`, in which case zipfile puts the
ZIP64 field in the central directory too and wabac.js reads the local header.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from cdxj_indexer.main import CDXJIndexer
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from warcio.archiveiterator import ArchiveIterator

from bewaar import SOFTWARE
from bewaar.config import SigningConfig
from bewaar.errors import BewaarError, InputError
from bewaar.model import PAGES_HEADER, Root, VolatileParameters, read_pages
from signing import api, keys, manifest, requestquery, sign, timestamp, trust
from signing.times import parse_time

WACZ_VERSION = "1.1.1"
SIGNED_DATA_VERSION = "0.1.0"  # the `version` authsign's SignedHash model carries
CDX_LINES_PER_BLOCK = 1024  # as py-wacz and archiveweb.page
COPY_CHUNK = 1024 * 1024


@dataclass
class PackageOutcome:
    path: Path
    warcs: list[str]
    pages: int
    timestamp: str  # "granted" | "pending"
    reason: str = ""


def parse_date(text: str | None, end: bool) -> dt.datetime | None:
    """'2025-03-01' (whole day) or a full ISO 8601 time; UTC unless an offset is given."""
    if not text:
        return None
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            t = dt.datetime.combine(day, dt.time.max if end else dt.time.min, tzinfo=dt.UTC)
            return t
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"'{text}' is not a date (use YYYY-MM-DD or an ISO 8601 time)") from None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


_when = parse_time  # one time parser for signing (signing/times.py)


def _tsa_chain(leaf: x509.Certificate, store: trust.TrustStore) -> list[x509.Certificate]:
    """TSA certificate first, then issuers found among the trusted TSA certificates."""
    chain = [leaf]
    pool = list(store.certificates)
    while chain[-1].issuer != chain[-1].subject and len(chain) < 8:
        parent = next(
            (c for c in pool if c.subject == chain[-1].issuer and _issued(chain[-1], c)), None
        )
        if parent is None:
            break
        chain.append(parent)
    return chain


def _issued(child: x509.Certificate, parent: x509.Certificate) -> bool:
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def signed_data(
    digest: str, created: str, identity: keys.Identity, cfg: SigningConfig, root: Path
) -> tuple[dict[str, Any], str, str]:
    """(signedData, timestamp status, reason)."""
    signature = sign.sign_bytes(identity, digest.encode("ascii"))
    data: dict[str, Any] = {
        "hash": digest,
        "created": created,
        "software": SOFTWARE,
        "version": SIGNED_DATA_VERSION,
        "signature": signature,
        "domain": keys.subject_name(identity.certificate),
        "domainCert": identity.chain_pem(),
    }
    if not cfg.tsa_url:
        return data, "pending", "no TSA configured (signing.tsa_url)"
    try:
        token = timestamp.request_token(cfg.tsa_url, signature.encode("ascii"), cfg.tsa_timeout)
    except timestamp.TimestampUnavailable as e:
        return data, "pending", str(e)
    leaf = timestamp.signer_certificate(timestamp.decode(token))
    store = trust.load_trust(api.resolve(root, cfg.trusted_tsa_roots))
    chain = _tsa_chain(leaf, store) if leaf else []
    data["timeSignature"] = base64.b64encode(token).decode("ascii")
    data["timestampCert"] = keys.certs_pem(chain).decode("ascii")
    return data, "granted", ""


def package(
    root: Path,
    cfg: SigningConfig,
    collection: str,
    output: Path,
    date_from: str | None = None,
    date_to: str | None = None,
    title: str | None = None,
    volatile: VolatileParameters | None = None,
) -> PackageOutcome:
    """Package `collection`'s signed WARCs (those of the dates given) into `output`.
    `volatile`: the request parameters to leave out of the index keys (see `_Indexer`); the
    application layer learns them from the collection (replay/fuzzy.py)."""
    coll = Root(Path(root)).collection(collection)
    if not coll.archive.is_dir():
        raise InputError(f"no collection '{collection}' in {root} (no {coll.archive})")
    start, stop = parse_date(date_from, False), parse_date(date_to, True)
    out = Path(output)
    if coll.path.resolve() in out.resolve().parents:
        raise InputError(f"{out} is inside the collection: write the package elsewhere")
    identity = api.load_identity(Path(root), cfg)

    chosen: list[tuple[Path, manifest.Manifest]] = []
    for warc in coll.warcs():
        m = manifest.load_for(warc)
        st = m.statement
        first, last = _when(st.get("first_record_date")), _when(st.get("last_record_date"))
        if start and last and last < start:
            continue
        if stop and first and first > stop:
            continue
        chosen.append((warc, m))
    if not chosen:
        span = f" between {date_from or 'the start'} and {date_to or 'now'}" if (start or stop) else ""
        raise InputError(f"collection '{collection}' has no signed WARCs{span} to package")

    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=out.name + ".", suffix=".partial", dir=out.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        result = _write(tmp, coll, chosen, identity, cfg, Path(root), start, stop, title or collection, volatile)
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    result.path = out
    return result


def _write(
    tmp: Path,
    coll: Any,
    chosen: list[tuple[Path, manifest.Manifest]],
    identity: keys.Identity,
    cfg: SigningConfig,
    root: Path,
    start: dt.datetime | None,
    stop: dt.datetime | None,
    title: str,
    volatile: VolatileParameters | None = None,
) -> PackageOutcome:
    resources: list[dict[str, Any]] = []

    def record(name: str, sha: str, size: int) -> None:
        resources.append({"name": name.rsplit("/", 1)[-1].lower(), "path": name,
                          "hash": f"sha256:{sha}", "bytes": size})

    def add_bytes(zf: zipfile.ZipFile, name: str, data: bytes, stored: bool = False) -> None:
        with _member(zf, name, len(data), stored) as dst:
            dst.write(data)
        record(name, hashlib.sha256(data).hexdigest(), len(data))

    with zipfile.ZipFile(tmp, "w", allowZip64=True) as zf:
        for warc, m in chosen:
            name = f"archive/{warc.name}"
            expected = m.statement.get("size")
            if not isinstance(expected, int) or expected < 0:
                raise InputError(f"{m.path}: the signed manifest gives no size for {warc.name}")
            mtime = dt.datetime.fromtimestamp(warc.stat().st_mtime, dt.UTC)
            h = hashlib.sha256()
            size = 0
            # copy exactly the signed number of bytes, so the member's size (and with it the
            # choice of ZIP64) is known before its header is written
            with warc.open("rb") as src, _member(zf, name, expected, True, mtime) as dst:
                while size < expected and (chunk := src.read(min(COPY_CHUNK, expected - size))):
                    h.update(chunk)
                    dst.write(chunk)
                    size += len(chunk)
                longer = bool(src.read(1))
            if longer or size != expected or h.hexdigest() != m.statement.get("sha256"):
                raise BewaarError(
                    f"{warc.name} no longer matches its signed manifest: it changed after "
                    f"capture. Nothing was packaged; run `bewaar verify {warc}`",
                    1,
                )
            record(name, h.hexdigest(), size)
            assert m.path is not None
            add_bytes(zf, f"signatures/{m.path.name}", m.path.read_bytes())

        for name, data in _ledger_members(coll.path):
            add_bytes(zf, name, data)

        cdx, idx = _index([w for w, _ in chosen], volatile)
        add_bytes(zf, "indexes/index.cdx.gz", cdx, stored=True)
        add_bytes(zf, "indexes/index.idx", idx)

        names = {w.name for w, _ in chosen}
        pages = [PAGES_HEADER]
        for entry in read_pages(coll.pages_file):
            ts = _when(entry.get("ts"))
            if start and ts and ts < start or stop and ts and ts > stop:
                continue
            if entry.get("warc") and entry["warc"] not in names:
                continue
            pages.append(entry)
        add_bytes(zf, "pages/pages.jsonl",
                  "".join(json.dumps(p, ensure_ascii=False) + "\n" for p in pages).encode("utf-8"))

        created = keys.utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
        datapackage: dict[str, Any] = {
            "profile": "data-package",
            "resources": resources,
            "title": title,
            "created": created,
            "wacz_version": WACZ_VERSION,
            "software": SOFTWARE,
        }
        if len(pages) > 1:
            datapackage["mainPageURL"] = pages[1].get("url")
            datapackage["mainPageDate"] = pages[1].get("ts")
        dp_bytes = json.dumps(datapackage, indent=2, ensure_ascii=False).encode("utf-8")
        digest = "sha256:" + hashlib.sha256(dp_bytes).hexdigest()
        signed, status, reason = signed_data(digest, created, identity, cfg, root)
        with _member(zf, "datapackage.json", len(dp_bytes)) as dst:
            dst.write(dp_bytes)
        digest_bytes = json.dumps(
            {"path": "datapackage.json", "hash": digest, "signedData": signed}, indent=2
        ).encode("utf-8")
        with _member(zf, "datapackage-digest.json", len(digest_bytes)) as dst:
            dst.write(digest_bytes)
    return PackageOutcome(tmp, [w.name for w, _ in chosen], len(pages) - 1, status, reason)


def _member(
    zf: zipfile.ZipFile, name: str, size: int, stored: bool = False, when: dt.datetime | None = None
) -> IO[bytes]:
    """A writer for one member of `size` bytes, with ZIP64 exactly when the member needs it.

    `force_zip64` is decided here from the exact size, and the ZipInfo keeps `file_size` 0, so
    zipfile does not guess ZIP64 from `file_size * 1.05` (a 1.95-2 GiB member would get a ZIP64
    local header without the central-directory field wabac.js needs to find its data).
    `zipfile.ZIP64_LIMIT` is read at call time: it is the limit zipfile itself applies to the
    central directory, and the tests lower it to write ZIP64 members into small packages."""
    t = (when or keys.utcnow()).astimezone(dt.UTC)
    info = zipfile.ZipInfo(name, date_time=(max(t.year, 1980), *t.timetuple()[1:6]))
    info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    # Deflated members are text held in memory; should one ever deflate to more than the limit
    # while its input is under it, zipfile refuses loudly rather than writing a bad header.
    return zf.open(info, "w", force_zip64=size > zipfile.ZIP64_LIMIT)


class _Indexer(CDXJIndexer):
    """cdxj-indexer, with JSON request bodies in POST/PUT keys written as the Request Body
    Canonicalization spec and ReplayWeb.page write them (see signing/requestquery.py), and
    without the request parameters the application layer says are volatile.

    Why leave those out: a replayed page sends new nonces and clocks, so a replay engine
    never finds its request exactly and picks among the captures of the endpoint. wabac.js
    (ReplayWeb.page 2.5.3) scores each capture by a similarity summed over every parameter of
    the request it matches against: for a POST, the `requestBody` field; a random nonce that
    happens to resemble another capture's nonce then outweighs a cursor that differs in one
    character, and a timeline page is answered with another page's posts. With the volatile
    parameters out of `requestBody` (and of the key), every candidate lacks them alike and the
    identifying ones decide. A GET's `url` field must stay the record's URL (wabac.js and
    `bewaar verify` check it against the record), so for GETs only the key changes; wabac.js's
    own generic rule already ignores numeric `_=`, `cb=` and `*cache*=` values."""

    def __init__(self, *args: Any, volatile: VolatileParameters | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.volatile = volatile or VolatileParameters()

    def _write_line(self, out: Any, index: dict[str, Any], record: Any, filename: str) -> None:
        req = getattr(record, "req", None)
        method = getattr(record, "method", None)
        url = record.rec_headers.get_header("WARC-Target-URI") or ""
        if req is not None and method in ("POST", "PUT"):
            query = _json_request_query(Path(filename), req.file_offset)
            names, leaves = self._volatile(method, url)
            if query is None and (names or leaves):
                query = getattr(record, "requestBody", None) or ""
            if query is not None:
                query = requestquery.without(query, names, leaves)
                key_url = requestquery.url_without(url, names, leaves)
                key = f"{key_url}{'&' if '?' in key_url else '?'}__wb_method={method}"
                record.requestBody = query
                record.urlkey = self.get_url_key(key + (f"&{query}" if query else ""))
        elif "?" in url and record.rec_type in ("response", "revisit"):
            names, leaves = self._volatile("GET", url)
            if names or leaves:
                record.urlkey = self.get_url_key(requestquery.url_without(url, names, leaves))
        super()._write_line(out, index, record, filename)

    def _volatile(self, method: str, url: str) -> tuple[frozenset[str], dict[str, frozenset[str]]]:
        if not self.volatile:
            return frozenset(), {}
        prefix = self.get_url_key(url.split("?", 1)[0]).split("?", 1)[0] + "?"
        return self.volatile.names(method, prefix), self.volatile.json_leaves(method, prefix)


def _json_request_query(warc: Path, offset: int) -> str | None:
    """The spec's query of the JSON request record at `offset`, read again from the WARC: by
    the time its response is indexed, cdxj-indexer has let go of the request's body."""
    with warc.open("rb") as fh:
        fh.seek(offset)
        req = next(iter(ArchiveIterator(fh)), None)
        if req is None or req.http_headers is None:
            return None
        ctype = (req.http_headers.get_header("Content-Type") or "").lower()
        if not ctype.startswith(("application/json", "text/plain")):
            return None
        return requestquery.json_query(req.content_stream().read())


def _ledger_members(collection_dir: Path) -> list[tuple[str, bytes]]:
    """The collection's ledger and its destruction and redaction records, so a package made
    after a removal shows it was lawful (read under the ledger's lock: never half an append)."""
    from bewaar.lock import file_lock
    from signing import ledger

    lfile = ledger.ledger_file(collection_dir)
    if not lfile.exists():
        return []
    with file_lock(lfile.with_name(".ledger.lock")):
        out = [(f"{ledger.LEDGER_DIR}/{ledger.LEDGER_FILE}", lfile.read_bytes())]
        rdir = ledger.records_dir(collection_dir)
        for p in sorted(rdir.glob("*.json")) if rdir.is_dir() else []:
            # ledger/ID.json, not ledger/records/ID.json: WACZ tools (py-wacz) read two levels
            out.append((f"{ledger.LEDGER_DIR}/{p.name}", p.read_bytes()))
    return out


def _index(warcs: list[Path], volatile: VolatileParameters | None = None) -> tuple[bytes, bytes]:
    """ZipNum CDXJ (index.cdx.gz + index.idx) made by cdxj-indexer, as py-wacz makes it."""
    idx_text = io.StringIO()
    cdx = io.BytesIO()
    indexer = _Indexer(
        idx_text,
        [str(w) for w in warcs],
        sort=True,
        post_append=True,
        compress=cdx,
        data_out_name="index.cdx.gz",
        lines=CDX_LINES_PER_BLOCK,
        digest_records=True,
        fields="referrer",
        volatile=volatile,
    )
    indexer.process_all()
    return cdx.getvalue(), idx_text.getvalue().encode("utf-8")

"""Verify a WACZ package without extracting it: checks 1-5 for the package, 2-4 for each WARC's
capture-time manifest that travels inside it.

`signedData` in datapackage-digest.json is read in the two forms the WACZ signing spec defines:
  * domain-signed, as Webrecorder's authsign writes it (and bewaar): `domain`, `domainCert`,
    `signature` over `hash`, `timeSignature` (RFC 3161 over the signature text),
    `timestampCert`, optional `crossSignedCert`. The verdict follows authsign's Verifier,
    including its rule that `created` lies within 7 days of the signer certificate's start; a
    package bewaar signed itself gets a warning instead, because bewaar judges its long-lived
    certificates at TSA time (see docs/signing.md);
  * anonymous (`publicKey`, no certificate), as wabac.js / ReplayWeb.page check it: an ECDSA
    P-384 key (SPKI, base64) and a raw r||s signature over `hash`. It proves integrity, not
    identity: a warning, unless the key's fingerprint is pinned in the trusted roots.
A package without signedData is *not signed*: its files, digests and indexes are still checked.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import gzip
import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from bewaar.errors import InputError
from bewaar.model import SIGNATURE_SUFFIX
from signing import keys, parallelscan, warcscan
from signing.ledger import LEDGER_DIR, LEDGER_FILE, MAX_LEDGER
from signing.manifest import Manifest, ManifestError
from signing.policy import Policy
from signing.report import FAIL, PASS, SKIP, UNSIGNED, WARN, PageSeen, Subject
from signing.safezip import SafeZip
from signing.times import iso, parse_time
from signing.verify_ledger import Present, check_ledger
from signing.verify_proof import Proof, check_signer, check_timestamps, first_token, worst
from signing.verify_warc import (
    MAX_LISTED_PAGES,
    check_against_manifest,
    check_manifest_signature,
    check_records,
    evidence,
)

MAX_JSON = 64 * 1024 * 1024
MAX_INDEX_LINE = 1024 * 1024
INDEXED_TYPES = ("response", "revisit", "resource", "metadata")
AUTHSIGN_CERT_DURATION = dt.timedelta(days=7)  # authsign's CERT_DURATION
AUTHSIGN_STAMP_DURATION = 600  # seconds: authsign's STAMP_DURATION


@dataclass
class _WarcInZip:
    member: str
    scan: warcscan.ScanResult


@dataclass
class _Members:
    warcs: dict[str, _WarcInZip]
    hashes: dict[str, tuple[str, int]]
    unreadable: dict[str, str]
    manifests: dict[str, Manifest | str]  # WARC member -> its capture-time manifest, or why not


def verify_wacz(path: Path, policy: Policy) -> list[Subject]:
    z = SafeZip(path)
    try:
        return _verify_wacz(z, path, policy)
    finally:
        z.close()


def _json_member(z: SafeZip, member: str) -> Any:
    try:
        return json.loads(z.read_small(member, MAX_JSON))
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise InputError(f"{z.path.name}: {member} cannot be read ({e})") from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise InputError(f"{z.path.name}: {member} is not JSON") from None


def _read_package(z: SafeZip, name: str) -> tuple[Any, bytes, dict[str, Any]]:
    """(datapackage-digest.json or None, datapackage.json's bytes, datapackage.json)."""
    if "datapackage.json" not in z.infos:
        raise InputError(f"{name}: not a WACZ package (datapackage.json is missing)")
    digest_doc = _json_member(z, "datapackage-digest.json") if "datapackage-digest.json" in z.infos else None
    try:
        dp_bytes = z.read_small("datapackage.json", MAX_JSON)
        datapackage = json.loads(dp_bytes)
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise InputError(f"{name}: datapackage.json cannot be read ({e})") from None
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise InputError(f"{name}: datapackage.json is not JSON") from None
    if not isinstance(datapackage, dict) or not isinstance(digest_doc, dict | None):
        raise InputError(f"{name}: datapackage.json / datapackage-digest.json are not JSON objects")
    if not isinstance(datapackage.get("resources"), list):
        raise InputError(f"{name}: datapackage.json has no resources list")
    return digest_doc, dp_bytes, datapackage


def _verify_wacz(z: SafeZip, path: Path, policy: Policy) -> list[Subject]:
    digest_doc, dp_bytes, datapackage = _read_package(z, path.name)
    package = Subject(str(path), "wacz")
    package.facts.update(
        wacz_version=datapackage.get("wacz_version"), created=datapackage.get("created"),
        software=datapackage.get("software"), title=datapackage.get("title", ""),
    )
    members = _read_members(z, policy)
    _check_package_records(package, members)
    _check_package_files(package, members, datapackage)
    signed = digest_doc.get("signedData") if isinstance(digest_doc, dict) else None
    if not isinstance(signed, dict):
        where = "datapackage-digest.json has no signedData" if digest_doc is not None else (
            "the package has no datapackage-digest.json")
        package.facts["signed"] = False
        package.add(3, UNSIGNED, f"not signed: {where}; files, record digests and indexes are "
                    "still checked")
        package.add(4, SKIP, "not signed: no timestamp to check")
    else:
        _check_signed_data(package, signed, policy)
    _check_package_digest(package, z, members, digest_doc, signed, dp_bytes, datapackage)
    made_by_bewaar = str(datapackage.get("software") or "").startswith("bewaar")
    _check_ledger(package, z, members, policy)
    subjects = [package, *_inner_manifests(path, members, policy, made_by_bewaar)]
    if policy.evidence and "pages/pages.jsonl" in z.infos:
        _pages_from_zip(package, z)
    return subjects


# --------------------------------------------------------------------------- reading members


def _is_warc_name(member: str) -> bool:
    return member.startswith("archive/") and member.endswith((".warc", ".warc.gz"))


def _hash_stream(fh: BinaryIO) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    while chunk := fh.read(warcscan.CHUNK):
        h.update(chunk)
        size += len(chunk)
    return h.hexdigest(), size


def _capture_manifests(z: SafeZip, warcs: list[str]) -> dict[str, Manifest | str]:
    out: dict[str, Manifest | str] = {}
    for member in warcs:
        sig_member = f"signatures/{member.rsplit('/', 1)[-1]}{SIGNATURE_SUFFIX}"
        if sig_member not in z.infos:
            continue
        try:
            out[member] = Manifest.from_data(_json_member(z, sig_member))
        except (ManifestError, InputError) as e:
            out[member] = f"{sig_member}: {e}"
    return out


def _scan_member(z: SafeZip, member: str, m: Manifest | str | None, policy: Policy) -> warcscan.ScanResult:
    """A stored WARC member with a manifest is scanned in place, in parallel; others stream."""
    span = z.stored_span(member)
    layout = parallelscan.layout_from(m.records) if isinstance(m, Manifest) else None
    if span is not None and layout:
        result = parallelscan.scan(z.fileno(), layout, base=span[0], size=span[1], path=z.path,
                                   keep_screenshots=policy.evidence, workers=policy.workers)
        if result is not None:
            return result
    with z.open(member) as fh:
        return warcscan.scan(fh, keep_screenshots=policy.evidence)  # type: ignore[arg-type]


def _read_members(z: SafeZip, policy: Policy) -> _Members:
    """Every member read once: hashed, and WARCs scanned in the same pass."""
    names = [n for n in z.names()
             if n not in ("datapackage.json", "datapackage-digest.json") and not n.endswith("/")]
    manifests = _capture_manifests(z, [n for n in names if _is_warc_name(n)])
    out = _Members({}, {}, {}, manifests)
    for member in names:
        try:
            if _is_warc_name(member):
                scan = _scan_member(z, member, manifests.get(member), policy)
                out.warcs[member] = _WarcInZip(member, scan)
                out.hashes[member] = (scan.sha256, scan.size)
            else:
                with z.open(member) as fh:
                    out.hashes[member] = _hash_stream(fh)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
            out.unreadable[member] = " ".join(str(e).split())[:160]
    return out


# --------------------------------------------------------------------------- checks 1 and 2


def _check_package_records(package: Subject, members: _Members) -> None:
    warcs = members.warcs
    bad = [w for w in warcs.values() if w.scan.failed_records or w.scan.error]
    if not warcs:
        package.add(1, FAIL, "the package holds no WARC files under archive/")
    elif bad:
        tmp = Subject(package.path, "wacz")
        check_records(tmp, bad[0].scan, bad[0].member)
        package.add(1, FAIL, tmp.checks[0].detail)
    else:
        total = sum(len(w.scan.records) for w in warcs.values())
        package.add(1, PASS, f"{total} records in {len(warcs)} WARC file(s), all digests match")


def _check_package_files(package: Subject, members: _Members, datapackage: dict[str, Any]) -> None:
    """Every file against datapackage.json; none missing or extra."""
    declared = {r["path"]: r for r in datapackage["resources"]
                if isinstance(r, dict) and isinstance(r.get("path"), str)}
    problems = [f"{m} cannot be read from the zip ({why})" for m, why in members.unreadable.items()]
    for member, (sha, size) in members.hashes.items():
        res = declared.get(member)
        if res is None:
            problems.append(f"{member} is in the zip but not listed in datapackage.json (extra file)")
            continue
        want = str(res.get("hash", ""))
        if want != f"sha256:{sha}":
            problems.append(
                f"{member}: sha256 {sha[:16]}... differs from datapackage.json's "
                f"{want.removeprefix('sha256:')[:16]}... (file replaced or modified)"
            )
        elif res.get("bytes") not in (None, size):
            problems.append(f"{member}: {size} bytes, datapackage.json says {res.get('bytes')}")
    for member in declared:
        if member not in members.hashes and member not in members.unreadable:
            problems.append(f"{member} is listed in datapackage.json but missing from the zip")
    if problems:
        more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
        package.add(2, FAIL, "; ".join(problems[:3]) + more)
    else:
        package.add(2, PASS, f"all {len(members.hashes)} files match datapackage.json's sha256 "
                    "and size; none missing or extra")


# --------------------------------------------------------------------------- checks 3 and 4


def _b64(value: Any) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def _amend(subject: Subject, number: int, status: str, text: str) -> None:
    """Add to the (last) line of a check: its status becomes the worse of the two."""
    for check in reversed(subject.checks):
        if check.number == number:
            check.status = worst(check.status, status) if check.status in (PASS, WARN, FAIL) else check.status
            check.detail = f"{check.detail}; {text}"
            return
    subject.add(number, status, text)


def _check_signed_data(package: Subject, signed: dict[str, Any], policy: Policy) -> None:
    hash_text = signed.get("hash")
    sig_text = signed.get("signature")
    if not isinstance(hash_text, str) or not isinstance(sig_text, str) or not sig_text.isascii():
        package.add(3, FAIL, "signedData lacks hash or signature")
        package.add(4, SKIP, "signedData incomplete")
        return
    created = parse_time(signed.get("created"))
    package.facts.update(signed_at=signed.get("created"), signing_software=signed.get("software"),
                         domain=signed.get("domain"))
    token = _b64(signed.get("timeSignature"))
    reason = "signedData has no timeSignature" if "timeSignature" not in signed else (
        "timeSignature is not base64" if token is None else "")
    ts_pem = signed.get("timestampCert")
    presented = keys.load_pem_chain(ts_pem) if isinstance(ts_pem, str) else []
    first = first_token(token, sig_text.encode("ascii"), policy, presented)
    domain_cert = signed.get("domainCert")
    # wabac.js's rule: the certificate form needs domainCert and domain and no publicKey
    if isinstance(domain_cert, str) and signed.get("domain") and not signed.get("publicKey"):
        _check_domain_signed(package, signed, hash_text, _b64(sig_text), domain_cert,
                             Proof.of(first, created), created, policy)
    elif isinstance(signed.get("publicKey"), str):
        _check_anonymous(package, signed["publicKey"], hash_text, _b64(sig_text), policy)
    elif isinstance(domain_cert, str):
        package.add(3, FAIL, "signedData has a domainCert but no domain to compare it with")
    else:
        package.add(3, FAIL, "signedData has neither domainCert (signer certificate chain) nor publicKey")
    check_timestamps(
        package, first=first, first_raw=token, created=created, pending_reason=reason,
        added_later=False, policy=policy,
        max_delay=min(policy.max_delay, AUTHSIGN_STAMP_DURATION),  # authsign allows 10 minutes
    )


def _check_domain_signed(package: Subject, signed: dict[str, Any], hash_text: str,
                         signature: bytes | None, domain_cert: str, proof: Proof,
                         created: dt.datetime | None, policy: Policy) -> None:
    leaf = check_signer(package, chain_pem=domain_cert, message=hash_text.encode("ascii"),
                        signature=signature, proof=proof, policy=policy, what="package",
                        revocation_data=None)
    if leaf is None:
        return
    if signed.get("domain") != keys.subject_name(leaf):
        package.checks = [c for c in package.checks if c.number != 3]
        package.add(3, FAIL, f"signedData.domain {signed.get('domain')!r} is not the certificate's "
                    f"name {keys.subject_name(leaf)!r}")
        return
    _authsign_certificate_age(package, signed, leaf, created)
    cross = signed.get("crossSignedCert")
    if cross:
        _check_cross_signed(package, cross, hash_text, signature)


def _authsign_certificate_age(package: Subject, signed: dict[str, Any], leaf: x509.Certificate,
                              created: dt.datetime | None) -> None:
    """authsign accepts a signature made within 7 days of the certificate's start only."""
    start = leaf.not_valid_before_utc
    if created is not None and start <= created <= start + AUTHSIGN_CERT_DURATION:
        return
    when = "before" if created is not None and created < start else "more than 7 days after"
    text = (f"signedData.created {iso(created) if created else '(unreadable)'} is {when} the "
            f"signer certificate's start {iso(start)}: authsign's rule (a domain certificate "
            "signs only in its first 7 days) rejects this")
    if str(signed.get("software") or "").startswith("bewaar"):
        _amend(package, 3, WARN, text + "; bewaar signed it with a long-lived certificate and "
               "judges that certificate at TSA time instead, so this is a warning")
    else:
        _amend(package, 3, FAIL, text)


def _check_cross_signed(package: Subject, cross: Any, hash_text: str, signature: bytes | None) -> None:
    """authsign: the cross-signed chain must hang together and its key must verify the hash."""
    certs = keys.load_pem_chain(cross) if isinstance(cross, str) else []
    ok = bool(certs)
    for child, parent in zip(certs, certs[1:], strict=False):
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            ok = False
    key = certs[0].public_key() if certs else None
    if ok and isinstance(key, ec.EllipticCurvePublicKey) and signature is not None:
        try:
            key.verify(signature, hash_text.encode("ascii"), ec.ECDSA(hashes.SHA256()))
            _amend(package, 3, PASS, f"cross-signed certificate '{keys.subject_name(certs[0])}' "
                   "verifies the same signature")
            return
        except InvalidSignature:
            pass
    _amend(package, 3, FAIL, "crossSignedCert does not form a valid chain whose key verifies the "
           "signature")


def _check_anonymous(package: Subject, public_key: str, hash_text: str, signature: bytes | None,
                     policy: Policy) -> None:
    """The anonymous form, as wabac.js checks it (WebCrypto: P-384 SPKI, raw r||s, SHA-256)."""
    der = _b64(public_key)
    try:
        key = serialization.load_der_public_key(der) if der else None
    except (ValueError, UnsupportedAlgorithm):
        key = None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP384R1):
        package.add(3, FAIL, "anonymous signature: publicKey is not a base64 SPKI ECDSA P-384 key, "
                    "the only kind ReplayWeb.page (wabac.js) verifies")
        return
    fp = hashlib.sha256(der or b"").hexdigest()
    package.facts.update(signer="anonymous key", signer_fingerprint=fp)
    size = 48
    valid = False
    if signature is not None and len(signature) == 2 * size:
        r = int.from_bytes(signature[:size], "big")
        s = int.from_bytes(signature[size:], "big")
        try:
            key.verify(encode_dss_signature(r, s), hash_text.encode("utf-8"), ec.ECDSA(hashes.SHA256()))
            valid = True
        except (InvalidSignature, ValueError):
            valid = False
    if not valid:
        package.add(3, FAIL, "anonymous signature: the signature (raw r||s, as WebCrypto makes it) "
                    f"does not verify with the package's publicKey (sha256 {fp[:16]}...)")
    elif fp in policy.signer_trust.fingerprints:
        package.add(3, PASS, f"anonymous signature valid; its key (sha256 {fp}) is pinned in the "
                    "trusted roots")
    else:
        package.add(3, WARN, f"anonymous signature valid with key sha256 {fp}, but no certificate "
                    "ties that key to a person or organisation (ReplayWeb.page shows it the same "
                    "way); pin the key's fingerprint in the trusted roots to trust it")


# --------------------------------------------------------------------------- check 5


def _check_package_digest(package: Subject, z: SafeZip, members: _Members, digest_doc: Any,
                          signed: Any, dp_bytes: bytes, datapackage: dict[str, Any]) -> None:
    """Digest of datapackage.json; indexes agree with the WARCs."""
    dp_hash = "sha256:" + hashlib.sha256(dp_bytes).hexdigest()
    five: list[str] = []
    if isinstance(digest_doc, dict) and digest_doc.get("hash") != dp_hash:
        five.append(
            f"datapackage.json hashes to {dp_hash[:23]}..., datapackage-digest.json says "
            f"{str(digest_doc.get('hash'))[:23]}..."
        )
    if isinstance(signed, dict):
        if isinstance(digest_doc, dict) and signed.get("hash") != digest_doc.get("hash"):
            five.append("signedData.hash is not the datapackage digest")
        if signed.get("created") != datapackage.get("created") and (
            parse_time(signed.get("created")) != parse_time(datapackage.get("created"))
            or parse_time(signed.get("created")) is None
        ):
            five.append("signedData.created differs from datapackage.json's created")
    if datapackage.get("wacz_version") != "1.1.1":
        five.append(f"wacz_version is {datapackage.get('wacz_version')!r}, expected '1.1.1'")
    index_note = _check_indexes(z, members.warcs, five)
    if five:
        package.add(5, FAIL, "; ".join(five))
    else:
        what = "datapackage digest matches" if isinstance(digest_doc, dict) else (
            "no datapackage-digest.json")
        package.add(5, PASS, f"{what}; {index_note}")


def _iter_index_lines(z: SafeZip, member: str) -> Iterator[bytes]:
    with z.open(member) as raw:
        stream: BinaryIO = gzip.GzipFile(fileobj=raw) if member.endswith(".gz") else raw  # type: ignore[assignment]
        while line := stream.readline(MAX_INDEX_LINE):
            yield line


def _index_entry(text: str, where: str, records: dict[str, dict[int, warcscan.RecordInfo]]
                 ) -> tuple[str, int] | str:
    """(file, offset) of the record a CDXJ line points at, or what is wrong with the line."""
    parts = text.split(" ", 2)
    try:
        entry = json.loads(parts[2])
        filename, offset, length = str(entry["filename"]), int(entry["offset"]), int(entry["length"])
    except (IndexError, KeyError, ValueError, TypeError, RecursionError):
        return f"{where}: not a CDXJ line"
    base = filename.rsplit("/", 1)[-1]
    in_file = records.get(base)
    if in_file is None:
        return f"{where} points into {filename}, which the package does not hold"
    rec = in_file.get(offset)
    if rec is None or rec.length != length:
        return (f"{where} points at offset {offset} (+{length}) in {filename}, where no such "
                "record starts")
    url = entry.get("url")
    if url and url != rec.uri:
        return f"{where} says {url} but the record at offset {offset} in {filename} is {rec.uri}"
    return base, offset


def _check_indexes(z: SafeZip, warcs: dict[str, _WarcInZip], problems: list[str]) -> str:
    """Every index line points at a record of that URL; every indexable record is indexed."""
    members = [n for n in z.names() if n.startswith("indexes/") and n.endswith((".cdx", ".cdxj", ".cdx.gz"))]
    if not members:
        problems.append("no CDX/CDXJ index under indexes/")
        return ""
    by_file = {m.rsplit("/", 1)[-1]: {r.offset: r for r in w.scan.records} for m, w in warcs.items()}
    seen: set[tuple[str, int]] = set()
    lines = 0
    try:
        for member in members:
            for raw in _iter_index_lines(z, member):
                text = raw.decode("utf-8", "replace").strip()
                if not text or text.startswith("!"):
                    continue
                lines += 1
                found = _index_entry(text, f"{member} line {lines}", by_file)
                if isinstance(found, str):
                    problems.append(found)
                    return ""
                seen.add(found)
    except (OSError, EOFError, zipfile.BadZipFile, gzip.BadGzipFile) as e:
        problems.append(f"the index cannot be read ({e})")
        return ""
    for fname, records in by_file.items():
        for rec in records.values():
            if (rec.type in INDEXED_TYPES and rec.content_type != "application/warc-fields"
                    and (fname, rec.offset) not in seen):
                problems.append(f"record {rec.index} of {fname} ({rec.describe()}) is not in the index")
                return ""
    _check_idx(z, problems)
    return f"{lines} index entries, each pointing at its record; every record indexed"


def _check_idx(z: SafeZip, problems: list[str]) -> None:
    """The ZipNum .idx: each block's range (and digest, when given) within index.cdx.gz."""
    for idx in [n for n in z.names() if n.startswith("indexes/") and n.endswith(".idx")]:
        data_member = idx[: -len(".idx")] + ".cdx.gz"
        if data_member not in z.infos:
            problems.append(f"{idx} has no {data_member} beside it")
            continue
        try:
            text = z.read_small(idx, MAX_JSON).decode("utf-8", "replace")
        except InputError as e:
            problems.append(str(e))
            continue
        with z.open(data_member) as fh:
            problem = _check_idx_blocks(idx, data_member, text, fh, z.infos[data_member].file_size)
        if problem:
            problems.append(problem)
            return


def _check_idx_blocks(idx: str, data_member: str, text: str, fh: BinaryIO, size: int) -> str | None:
    pos = 0
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("!"):
            continue
        try:
            block = json.loads("{" + line.split(" {", 1)[1])
            offset, length = int(block["offset"]), int(block["length"])
        except (IndexError, KeyError, ValueError, TypeError, RecursionError):
            return f"{idx} line {n}: not a ZipNum index line"
        if offset < 0 or length < 0 or offset + length > size:
            return f"{idx} line {n}: block beyond the end of {data_member}"
        if block.get("digest"):
            if offset < pos:
                return f"{idx} line {n}: blocks out of order"
            fh.read(offset - pos)
            got = "sha256:" + hashlib.sha256(fh.read(length)).hexdigest()
            pos = offset + length
            if got != block["digest"]:
                return f"{idx} line {n}: block digest differs from {data_member}'s bytes"
    return None


# --------------------------------------------------------------------------- inside the package


def _inner_manifests(path: Path, members: _Members, policy: Policy,
                     made_by_bewaar: bool) -> list[Subject]:
    """The WARCs' own capture-time manifests, when the package carries them (bewaar's packages
    always do; other tools' packages never do, and their signedData alone speaks for them)."""
    subjects = []
    for member, w in members.warcs.items():
        base = member.rsplit("/", 1)[-1]
        sub = Subject(f"{path}:{member}", "warc")
        sub.facts.update(sha256=w.scan.sha256, size=w.scan.size, records=len(w.scan.records))
        m = members.manifests.get(member)
        if isinstance(m, Manifest):
            check_against_manifest(sub, w.scan, m, base)
            check_manifest_signature(sub, m, policy)
        elif isinstance(m, str):
            sub.add(2, FAIL, m)
        elif made_by_bewaar:
            sub.add(2, WARN, f"no capture-time signature manifest (signatures/{base}{SIGNATURE_SUFFIX}) "
                    "in the package")
        else:
            sub.add(2, SKIP, "no capture-time signature manifest: the package was not made by "
                    "bewaar, so the package's own signature (above) is what covers this WARC")
        evidence(sub, w.scan, policy)
        subjects.append(sub)
    return subjects


def _check_ledger(package: Subject, z: SafeZip, members: _Members, policy: Policy) -> None:
    """Check 6 when the package carries its collection's ledger: every WARC in the package is
    in it with its hash, and the removals it records are reported (a package without a ledger,
    made by other software or from a collection without one, gets no check 6)."""
    member = f"{LEDGER_DIR}/{LEDGER_FILE}"
    if member not in z.infos:
        return
    try:
        data = z.read_small(member, MAX_LEDGER)
        records = {
            n.rsplit("/", 1)[-1][: -len(".json")]: z.read_small(n, MAX_JSON)
            for n in z.names() if n.startswith(f"{LEDGER_DIR}/") and n.endswith(".json")
        }
    except (InputError, zipfile.BadZipFile, OSError, EOFError) as e:
        package.add(6, FAIL, f"{member} cannot be read ({e})")
        return
    present = [Present(m.rsplit("/", 1)[-1], w.scan.sha256) for m, w in members.warcs.items()]
    check_ledger(package, data, records, present, policy, package=True)


def _pages_from_zip(subject: Subject, z: SafeZip) -> None:
    try:
        text = z.read_small("pages/pages.jsonl", MAX_JSON).decode("utf-8", "replace")
    except InputError:
        return
    for line in io.StringIO(text):
        try:
            entry = json.loads(line)
        except (json.JSONDecodeError, RecursionError):
            continue
        if not isinstance(entry, dict) or "url" not in entry:
            continue
        status = entry.get("status")
        subject.pages.append(
            PageSeen(url=str(entry["url"]), time=str(entry.get("ts", "")),
                     status=status if isinstance(status, int) else None,
                     title=str(entry.get("title", "")), warc=str(entry.get("warc", "")))
        )
        if len(subject.pages) >= MAX_LISTED_PAGES:
            break

"""`bewaar verify`: prove a WARC, a collection or a WACZ is exactly what was signed, or say
precisely what is not. Every file is read once, streaming; every record is checked.

Input that cannot be read at all (missing path, not a WARC, empty file, not a zip, a zip bomb)
raises InputError (exit 2). Everything else becomes a pass/fail/warn line in the Report.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from bewaar.errors import InputError
from bewaar.model import SIGNATURE_SUFFIX, WARC_SUFFIX, read_pages
from signing import keys, timestamp, warcscan
from signing.manifest import Manifest, ManifestError, manifest_path, records_digest
from signing.report import FAIL, PASS, SKIP, WARN, PageSeen, Report, Subject
from signing.safezip import SafeZip
from signing.trust import TrustStore, verify_chain

MAX_JSON = 64 * 1024 * 1024
INDEXED_TYPES = ("response", "revisit", "resource", "metadata")
MAX_LISTED_PAGES = 500


@dataclass
class Policy:
    signer_trust: TrustStore
    tsa_trust: TrustStore
    max_delay: int = 86400
    strict: bool = False
    evidence: bool = False  # keep screenshots and page lists for the HTML report


def parse_time(text: Any) -> dt.datetime | None:
    if not isinstance(text, str):
        return None
    try:
        t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


def iso(t: dt.datetime | None) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if t else ""


# --------------------------------------------------------------------------- entry point


def verify_paths(paths: list[Path], policy: Policy) -> Report:
    report = Report(strict=policy.strict)
    for path in paths:
        if not path.exists():
            raise InputError(f"{path}: no such file or directory")
        if path.is_dir():
            for coll in _collections_in(path):
                report.subjects.extend(verify_collection(coll, policy))
        elif _is_zip(path):
            report.subjects.extend(verify_wacz(path, policy))
        else:
            report.subjects.append(verify_warc(path, policy, direct=True))
    return report


def _collections_in(path: Path) -> list[Path]:
    if (path / "archive").is_dir():
        return [path]
    if (path / "collections").is_dir():
        found = sorted(p for p in (path / "collections").iterdir() if (p / "archive").is_dir())
        if found:
            return found
    raise InputError(
        f"{path}: not a collection (no archive/ directory) nor a root (no collections/*/archive)"
    )


def _is_zip(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(4) == b"PK\x03\x04" or path.suffix.lower() == ".wacz"
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}") from None


# --------------------------------------------------------------------------- WARC files


def verify_warc(path: Path, policy: Policy, *, direct: bool = False) -> Subject:
    subject = Subject(str(path), "warc")
    try:
        with path.open("rb") as fh:
            scan = warcscan.scan(fh, keep_screenshots=policy.evidence)
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}") from None
    if direct and not scan.records:
        raise InputError(f"{path}: {scan.error}: nothing to verify")
    check_records(subject, scan, path.name)
    mpath = manifest_path(path)
    if not mpath.exists():
        subject.add(2, FAIL, f"no signature manifest: {mpath.name} is missing beside {path.name}")
        subject.add(3, SKIP, "no manifest, so no signature to check")
        subject.add(4, SKIP, "no manifest, so no timestamp to check")
        _evidence(subject, scan, policy)
        return subject
    try:
        m = Manifest.load(mpath)
    except ManifestError as e:
        subject.add(2, FAIL, str(e))
        subject.add(3, SKIP, "manifest unreadable")
        subject.add(4, SKIP, "manifest unreadable")
        _evidence(subject, scan, policy)
        return subject
    check_against_manifest(subject, scan, m, path.name)
    check_manifest_signature(subject, m, policy)
    _evidence(subject, scan, policy)
    return subject


def check_records(subject: Subject, scan: warcscan.ScanResult, name: str) -> None:
    """Check 1: every record's digests, and that every record could be read at all."""
    bad = scan.failed_records
    n = len(scan.records)
    subject.facts.update(sha256=scan.sha256, size=scan.size, records=n)
    if bad:
        first = bad[0]
        more = f" ({len(bad) - 1} more record(s) fail too)" if len(bad) > 1 else ""
        subject.add(
            1,
            FAIL,
            f"record {first.index} of {n} at offset {first.offset} in {name} "
            f"({first.describe()}): {'; '.join(first.problems)}{more}",
        )
    elif scan.error:
        subject.add(
            1,
            FAIL,
            f"{name} cannot be read past offset {scan.error_offset} (after {n} record(s)): {scan.error}",
        )
    else:
        counts = {k: sum(1 for r in scan.records if r.digest == k) for k in ("ok", "none", "revisit")}
        detail = f"{n} records, all block and payload digests match ({counts['ok']} checked"
        if counts["revisit"]:
            detail += f", {counts['revisit']} revisit(s) without payload"
        detail += ")"
        if counts["none"]:
            detail += f"; {counts['none']} record(s) carry no digest and are covered by the file hash only"
        subject.add(1, PASS, detail)


def diagnose(scanned: list[warcscan.RecordInfo], signed: list[list[Any]]) -> str:
    """Name the first record that differs between the file and what was signed."""
    total = len(signed)
    try:
        sig = [(int(e[0]), int(e[1]), str(e[2]), str(e[3]), str(e[4]), str(e[5])) for e in signed]
    except (TypeError, ValueError, IndexError):
        return "the manifest's record list is malformed, so the change cannot be located"
    pos_signed = {e[3]: i for i, e in enumerate(sig)}
    pos_now = {r.id: i for i, r in enumerate(scanned)}

    def label(e: tuple[Any, ...]) -> str:
        return f"{e[2]} {e[4]} ({e[3]})".replace("  ", " ")

    for i in range(max(len(sig), len(scanned))):
        if i >= len(scanned):
            e = sig[i]
            missing = len(sig) - len(scanned)
            return (
                f"record {i + 1} of {total} ({label(e)}) is missing"
                + (f", and {missing - 1} more after it" if missing > 1 else "")
                + " (file shortened or records removed)"
            )
        r = scanned[i]
        if i >= len(sig):
            return (
                f"record {i + 1} at offset {r.offset} ({r.describe()}) was not in the signed file: "
                f"{len(scanned) - len(sig)} record(s) appended after record {total}"
            )
        e = sig[i]
        if any("truncated" in p or "cut off" in p for p in r.problems):
            rest = total - i - 1
            return (
                f"record {i + 1} of {total} ({label(e)}) is cut off (file truncated)"
                + (f"; the {rest} record(s) after it are missing" if rest > 0 else "")
            )
        if r.id == e[3] and r.header_sha256 == e[5] and r.length == e[1] and r.offset == e[0]:
            continue
        if r.id != e[3]:
            if e[3] not in pos_now:
                return f"record {i + 1} of {total} ({label(e)}) is missing"
            if r.id not in pos_signed:
                return (
                    f"record {i + 1} at offset {r.offset} ({r.describe()}) was not in the signed "
                    "file (inserted)"
                )
            return (
                f"records reordered: signed record {pos_signed[r.id] + 1} of {total} "
                f"({r.describe()}) now stands at position {i + 1}"
            )
        if r.header_sha256 != e[5]:
            return f"record {i + 1} of {total} ({label(e)}): its WARC header was changed"
        if r.length != e[1]:
            return (
                f"record {i + 1} of {total} ({label(e)}): its stored length changed from {e[1]} "
                f"to {r.length} bytes (content changed)"
            )
        return f"record {i + 1} of {total} ({label(e)}) moved from offset {e[0]} to {r.offset}"
    return (
        "every record is where it was signed with the same WARC header and length: the change is "
        "inside a record's content or its gzip framing (see check 1)"
    )


def check_against_manifest(
    subject: Subject, scan: warcscan.ScanResult, m: Manifest, actual_name: str
) -> None:
    """Check 2: the file is byte for byte the one the manifest signed (and the right one)."""
    try:
        st = m.statement
    except ManifestError as e:
        subject.add(2, FAIL, f"{m.path.name if m.path else 'manifest'}: {e}")
        return
    problems: list[str] = []
    if st.get("file") != actual_name:
        problems.append(
            f"the manifest is for {st.get('file')!r}, not {actual_name!r} (manifest swapped or "
            "file renamed)"
        )
    if st.get("sha256") != scan.sha256 or st.get("size") != scan.size:
        where = ""
        if scan.error is None or scan.records:
            where = diagnose(scan.records, m.records)
        if st.get("size") != scan.size:
            change = "shorter" if scan.size < int(st.get("size") or 0) else "longer"
            size_note = f"file is {scan.size} bytes, signed {st.get('size')} ({change}"
            truncated = scan.error or any(
                "truncated" in p or "cut off" in p for r in scan.records for p in r.problems
            )
            size_note += ", truncated)" if change == "shorter" and truncated else ")"
        else:
            size_note = "same size, different bytes"
        problems.append(
            f"sha256 {scan.sha256[:16]}... differs from the signed {str(st.get('sha256'))[:16]}... "
            f"({size_note})" + (f": {where}" if where else "")
        )
    elif m.records and records_digest(m.records) != (st.get("records") or {}).get("sha256"):
        problems.append("the manifest's record list does not match the signed statement")
    if problems:
        subject.add(2, FAIL, "; ".join(problems))
    else:
        subject.add(
            2, PASS,
            f"sha256 {scan.sha256} and size {scan.size} match the signed manifest "
            f"({len(scan.records)} records, none missing or added)",
        )


def _load_chain(pem: str) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return []


def _signature_ok(cert: x509.Certificate, message: bytes, signature: bytes) -> bool:
    key = cert.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return False
    try:
        key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def check_signer(
    subject: Subject,
    *,
    chain_pem: str,
    message: bytes,
    signature: bytes | None,
    at: dt.datetime,
    policy: Policy,
    what: str,
) -> x509.Certificate | None:
    """Check 3: the signature verifies with the signer's certificate, which is trusted."""
    certs = _load_chain(chain_pem)
    if not certs:
        subject.add(3, FAIL, f"{what}: the signer certificate chain is missing or not PEM")
        return None
    leaf = certs[0]
    subject.facts.update(
        signer=keys.subject_name(leaf),
        signer_dn=leaf.subject.rfc4514_string(),
        signer_fingerprint=keys.fingerprint(leaf),
        signer_issuer=leaf.issuer.rfc4514_string(),
        signer_chain=[c.subject.rfc4514_string() for c in certs],
    )
    if signature is None or not _signature_ok(leaf, message, signature):
        subject.add(
            3,
            FAIL,
            f"{what}: the signature does not verify with the signer certificate "
            f"'{keys.subject_name(leaf)}': the signed data or the signature was altered, or "
            "another key made it",
        )
        return leaf
    chain = verify_chain(leaf, certs[1:], policy.signer_trust, at, "signer")
    if not chain.ok:
        subject.add(3, FAIL, f"{what}: signature is valid, but {chain.message}")
        return leaf
    subject.add(3, PASS, f"{what}: signature valid; {chain.message} (checked at {iso(at)})")
    return leaf


def check_time(
    subject: Subject,
    *,
    token: bytes | None,
    stamped: bytes,
    created: dt.datetime | None,
    pending_reason: str,
    added_later: bool,
    policy: Policy,
    presented: list[x509.Certificate] | None = None,
    max_delay: int | None = None,
) -> timestamp.TokenCheck | None:
    """Check 4: the RFC 3161 token covers the signature, is trusted, and fits the window."""
    if token is None:
        subject.add(
            4,
            WARN,
            f"timestamp pending ({pending_reason}): the signing time is only the signer's claim; "
            "run `bewaar sign --retimestamp` when a TSA is reachable",
        )
        subject.facts["timestamp"] = "pending"
        return None
    result = timestamp.verify_token(token, stamped, policy.tsa_trust, presented)
    if result.time:
        subject.facts["tsa_time"] = iso(result.time)
    if result.tsa:
        subject.facts["tsa"] = result.tsa
        subject.facts["tsa_fingerprint"] = result.tsa_fingerprint
    if not result.ok:
        subject.add(4, FAIL, result.message)
        return result
    assert result.time is not None
    window = policy.max_delay if max_delay is None else max_delay
    if created is None:
        subject.add(4, FAIL, "the signed creation time is missing or unreadable")
        return result
    if created > result.time:
        subject.add(
            4,
            FAIL,
            f"signing time {iso(created)} is after the TSA time {iso(result.time)}: the signer's "
            "clock was wrong or the statement was made later",
        )
        return result
    delay = (result.time - created).total_seconds()
    if delay > window:
        text = (
            f"TSA time {iso(result.time)} is {_duration(delay)} after the signing time "
            f"{iso(created)} (allowed: {_duration(window)})"
        )
        if added_later:
            subject.add(
                4, WARN,
                f"{result.message}; added later with --retimestamp: {text}, so the capture is "
                f"proven to exist at {iso(result.time)} and the earlier signing time is the "
                "signer's claim",
            )
        else:
            subject.add(4, FAIL, text)
        return result
    subject.add(
        4, PASS,
        f"{result.message}; signed {iso(created)}, {_duration(delay)} before TSA time "
        f"(allowed {_duration(window)})",
    )
    return result


def _duration(seconds: float) -> str:
    s = int(seconds)
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    if s < 172800:
        return f"{s // 3600} h"
    return f"{s // 86400} days"


def check_manifest_signature(subject: Subject, m: Manifest, policy: Policy) -> None:
    try:
        st = m.statement
        text = m.statement_text.encode("utf-8")
        signature: bytes | None = m.signature
    except ManifestError as e:
        subject.add(3, FAIL, str(e))
        subject.add(4, SKIP, "manifest unreadable")
        return
    created = parse_time(st.get("created"))
    subject.facts.update(signed_at=st.get("created"), software=st.get("software"))
    ts = m.timestamp
    try:
        token = m.timestamp_token
    except ManifestError as e:
        token = None
        ts = {"status": "broken", "reason": str(e)}
    # The TSA time, once verified, is when the certificate must have been valid. The token
    # check needs no signer trust, so it runs first; its outcome is reported as check 4.
    probe = Subject(subject.path, subject.kind)
    tok = check_time(
        probe, token=token, stamped=m.signature_b64.encode("ascii"), created=created,
        pending_reason=str(ts.get("reason", "no timestamp")), added_later=bool(ts.get("added_later")),
        policy=policy,
    )
    if ts.get("status") == "broken":
        probe.checks = [c for c in probe.checks if c.number != 4]
        probe.add(4, FAIL, str(ts.get("reason")))
    at = tok.time if tok and tok.ok and tok.time else keys.utcnow()
    check_signer(subject, chain_pem=m.certificates_pem, message=text, signature=signature, at=at,
                 policy=policy, what="manifest")
    subject.checks.extend(probe.checks)
    subject.facts.update(probe.facts)


def _evidence(subject: Subject, scan: warcscan.ScanResult, policy: Policy) -> None:
    if not policy.evidence:
        return
    responses: dict[str, warcscan.RecordInfo] = {}
    for r in scan.records:
        if r.type in ("response", "revisit") and r.uri not in responses:
            responses[r.uri] = r
    urls = scan.pages or [u for u in responses][:MAX_LISTED_PAGES]
    for url in urls[:MAX_LISTED_PAGES]:
        r = responses.get(url)
        subject.pages.append(
            PageSeen(url=url, time=r.date if r else "", status=r.http_status if r else None,
                     warc=Path(subject.path).name)
        )
    for shot in scan.screenshots:
        subject.screenshots.append({"url": shot.page_url, "time": shot.date, "png": shot.png})
    subject.facts["first_record_date"] = scan.first_date
    subject.facts["last_record_date"] = scan.last_date


# --------------------------------------------------------------------------- collections


def verify_collection(path: Path, policy: Policy) -> list[Subject]:
    archive = path / "archive"
    subjects: list[Subject] = []
    listing = Subject(str(path), "collection")
    warcs, manifests, extra = [], [], []
    for p in sorted(archive.iterdir()):
        if p.name.endswith(WARC_SUFFIX) or p.name.endswith(".warc"):
            warcs.append(p)
        elif p.name.endswith(SIGNATURE_SUFFIX):
            manifests.append(p)
        else:
            extra.append(p.name)
    orphans = [m.name for m in manifests if not m.with_name(m.name[: -len(SIGNATURE_SUFFIX)]).exists()]
    unsigned = [w.name for w in warcs if not manifest_path(w).exists()]
    problems = []
    if orphans:
        problems.append(
            "missing WARC(s): " + ", ".join(o[: -len(SIGNATURE_SUFFIX)] for o in orphans)
            + " (their signature manifests are present)"
        )
    if unsigned:
        problems.append("unsigned WARC(s): " + ", ".join(unsigned))
    if extra:
        problems.append("unexpected file(s) in archive/: " + ", ".join(extra))
    if not warcs and not orphans:
        problems.append("no WARC files in archive/")
    listing.facts["warcs"] = len(warcs)
    if problems:
        listing.add(2, FAIL, "; ".join(problems))
    else:
        listing.add(2, PASS, f"{len(warcs)} WARC file(s), each with its signature manifest; no extra files")
    subjects.append(listing)
    for w in warcs:
        subjects.append(verify_warc(w, policy))
    if policy.evidence:
        _pages_from_jsonl(listing, path / "pages" / "pages.jsonl")
    return subjects


def _pages_from_jsonl(subject: Subject, path: Path) -> None:
    try:
        for entry in read_pages(path):
            if len(subject.pages) >= MAX_LISTED_PAGES:
                break
            status = entry.get("status")
            subject.pages.append(
                PageSeen(url=str(entry.get("url", "")), time=str(entry.get("ts", "")),
                         status=status if isinstance(status, int) else None,
                         title=str(entry.get("title", "")), warc=str(entry.get("warc", "")))
            )
    except (OSError, ValueError):
        subject.facts["pages_note"] = "pages.jsonl could not be read"


# --------------------------------------------------------------------------- WACZ


@dataclass
class _WarcInZip:
    member: str
    scan: warcscan.ScanResult
    records: dict[int, warcscan.RecordInfo] = field(default_factory=dict)


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
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InputError(f"{z.path.name}: {member} is not JSON") from None


def _verify_wacz(z: SafeZip, path: Path, policy: Policy) -> list[Subject]:
    name = path.name
    names = z.names()
    for required in ("datapackage.json", "datapackage-digest.json"):
        if required not in names:
            raise InputError(f"{name}: not a signed WACZ package ({required} is missing)")
    package = Subject(str(path), "wacz")
    subjects = [package]
    digest_doc = _json_member(z, "datapackage-digest.json")
    dp_bytes = z.read_small("datapackage.json", MAX_JSON)
    try:
        datapackage = json.loads(dp_bytes)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InputError(f"{name}: datapackage.json is not JSON") from None
    if not isinstance(datapackage, dict) or not isinstance(digest_doc, dict):
        raise InputError(f"{name}: datapackage.json / datapackage-digest.json are not JSON objects")
    resources = datapackage.get("resources")
    if not isinstance(resources, list):
        raise InputError(f"{name}: datapackage.json has no resources list")
    package.facts.update(
        wacz_version=datapackage.get("wacz_version"), created=datapackage.get("created"),
        software=datapackage.get("software"), title=datapackage.get("title", ""),
    )

    # -- read every member once: hash it; WARCs are scanned in the same pass
    declared: dict[str, dict[str, Any]] = {}
    for res in resources:
        if isinstance(res, dict) and isinstance(res.get("path"), str):
            declared[res["path"]] = res
    warcs: dict[str, _WarcInZip] = {}
    hashes_now: dict[str, tuple[str, int]] = {}
    unreadable: dict[str, str] = {}
    for member in names:
        if member in ("datapackage.json", "datapackage-digest.json") or member.endswith("/"):
            continue
        try:
            with z.open(member) as fh:
                if _is_warc_name(member):
                    scan = warcscan.scan(fh, keep_screenshots=policy.evidence)  # type: ignore[arg-type]
                    warcs[member] = _WarcInZip(member, scan)
                    hashes_now[member] = (scan.sha256, scan.size)
                else:
                    hashes_now[member] = _hash_stream(fh)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
            unreadable[member] = " ".join(str(e).split())[:160]

    # -- check 1: records of every WARC in the package
    bad_warcs = [w for w in warcs.values() if w.scan.failed_records or w.scan.error]
    if not warcs:
        package.add(1, FAIL, "the package holds no WARC files under archive/")
    elif bad_warcs:
        tmp = Subject(package.path, "wacz")
        check_records(tmp, bad_warcs[0].scan, bad_warcs[0].member)
        package.add(1, FAIL, tmp.checks[0].detail)
    else:
        total = sum(len(w.scan.records) for w in warcs.values())
        package.add(1, PASS, f"{total} records in {len(warcs)} WARC file(s), all digests match")

    # -- check 2: every file against datapackage.json; none missing or extra
    problems: list[str] = []
    for member, why in unreadable.items():
        problems.append(f"{member} cannot be read from the zip ({why})")
    for member, (sha, size) in hashes_now.items():
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
        if member not in hashes_now and member not in unreadable:
            problems.append(f"{member} is listed in datapackage.json but missing from the zip")
    if problems:
        package.add(2, FAIL, "; ".join(problems[:3]) + (f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""))
    else:
        package.add(2, PASS, f"all {len(hashes_now)} files match datapackage.json's sha256 and size; none missing or extra")

    # -- checks 3 and 4: signedData (WACZ signing & verification spec, as authsign checks it)
    dp_hash = "sha256:" + hashlib.sha256(dp_bytes).hexdigest()
    signed = digest_doc.get("signedData")
    if not isinstance(signed, dict):
        package.add(3, FAIL, "datapackage-digest.json has no signedData: the package is not signed")
        package.add(4, SKIP, "no signedData")
    else:
        _check_signed_data(package, signed, datapackage, policy)

    # -- check 5: digest of datapackage.json; indexes agree with the WARCs
    five: list[str] = []
    if digest_doc.get("hash") != dp_hash:
        five.append(
            f"datapackage.json hashes to {dp_hash[:23]}..., datapackage-digest.json says "
            f"{str(digest_doc.get('hash'))[:23]}..."
        )
    if isinstance(signed, dict) and signed.get("hash") != digest_doc.get("hash"):
        five.append("signedData.hash is not the datapackage digest")
    if isinstance(signed, dict) and signed.get("created") != datapackage.get("created"):
        five.append("signedData.created differs from datapackage.json's created")
    if datapackage.get("wacz_version") != "1.1.1":
        five.append(f"wacz_version is {datapackage.get('wacz_version')!r}, expected '1.1.1'")
    index_note = _check_indexes(z, warcs, five)
    if five:
        package.add(5, FAIL, "; ".join(five))
    else:
        package.add(5, PASS, f"datapackage digest matches; {index_note}")

    # -- the WARCs' own capture-time manifests, when the package carries them
    for member, w in warcs.items():
        base = member.rsplit("/", 1)[-1]
        sub = Subject(f"{path}:{member}", "warc")
        sub.facts.update(sha256=w.scan.sha256, size=w.scan.size, records=len(w.scan.records))
        sig_member = f"signatures/{base}{SIGNATURE_SUFFIX}"
        if sig_member in z.infos:
            try:
                m = Manifest.from_data(_json_member(z, sig_member))
            except ManifestError as e:
                sub.add(2, FAIL, f"{sig_member}: {e}")
            else:
                check_against_manifest(sub, w.scan, m, base)
                check_manifest_signature(sub, m, policy)
        else:
            sub.add(2, WARN, f"no capture-time signature manifest ({sig_member}) in the package")
        _evidence(sub, w.scan, policy)
        subjects.append(sub)
    if policy.evidence and "pages/pages.jsonl" in z.infos:
        _pages_from_zip(package, z)
    return subjects


def _is_warc_name(member: str) -> bool:
    return member.startswith("archive/") and member.endswith((".warc", ".warc.gz"))


def _hash_stream(fh: BinaryIO) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    while chunk := fh.read(warcscan.CHUNK):
        h.update(chunk)
        size += len(chunk)
    return h.hexdigest(), size


def _check_signed_data(
    package: Subject, signed: dict[str, Any], datapackage: dict[str, Any], policy: Policy
) -> None:
    hash_text = signed.get("hash")
    sig_text = signed.get("signature")
    if not isinstance(hash_text, str) or not isinstance(sig_text, str):
        package.add(3, FAIL, "signedData lacks hash or signature")
        package.add(4, SKIP, "signedData incomplete")
        return
    try:
        signature: bytes | None = base64.b64decode(sig_text, validate=True)
    except (binascii.Error, ValueError):
        signature = None
    created = parse_time(signed.get("created"))
    package.facts.update(signed_at=signed.get("created"), signing_software=signed.get("software"),
                         domain=signed.get("domain"))
    token: bytes | None = None
    reason = "signedData has no timeSignature"
    if isinstance(signed.get("timeSignature"), str):
        try:
            token = base64.b64decode(signed["timeSignature"], validate=True)
        except (binascii.Error, ValueError):
            reason = "timeSignature is not base64"
    presented = _load_chain(signed.get("timestampCert") or "") if isinstance(signed.get("timestampCert"), str) else []
    probe = Subject(package.path, "wacz")
    tok = check_time(
        probe, token=token, stamped=sig_text.encode("ascii"), created=created,
        pending_reason=reason, added_later=False, policy=policy, presented=presented[1:],
        max_delay=min(policy.max_delay, 600),  # authsign accepts at most 10 minutes
    )
    at = tok.time if tok and tok.ok and tok.time else keys.utcnow()
    domain_cert = signed.get("domainCert")
    if not isinstance(domain_cert, str):
        if isinstance(signed.get("publicKey"), str):
            package.add(3, FAIL, "anonymous signature (publicKey, no certificate): no signer identity to trust")
        else:
            package.add(3, FAIL, "signedData has no domainCert (signer certificate chain)")
    else:
        leaf = check_signer(package, chain_pem=domain_cert, message=hash_text.encode("ascii"),
                            signature=signature, at=at, policy=policy, what="package")
        if leaf is not None and signed.get("domain") != keys.subject_name(leaf):
            package.checks = [c for c in package.checks if c.number != 3]
            package.add(3, FAIL, f"signedData.domain {signed.get('domain')!r} is not the certificate's name {keys.subject_name(leaf)!r}")
    package.checks.extend(probe.checks)
    package.facts.update(probe.facts)


def _iter_index_lines(z: SafeZip, member: str) -> Iterator[bytes]:
    with z.open(member) as raw:
        stream: BinaryIO = gzip.GzipFile(fileobj=raw) if member.endswith(".gz") else raw  # type: ignore[assignment]
        while True:
            line = stream.readline(1024 * 1024)
            if not line:
                return
            yield line


def _check_indexes(z: SafeZip, warcs: dict[str, _WarcInZip], problems: list[str]) -> str:
    """Every index line points at a record of that URL; every indexable record is indexed."""
    members = [n for n in z.names() if n.startswith("indexes/") and n.endswith((".cdx", ".cdxj", ".cdx.gz"))]
    if not members:
        problems.append("no CDX/CDXJ index under indexes/")
        return ""
    by_file: dict[str, dict[int, warcscan.RecordInfo]] = {}
    for member, w in warcs.items():
        by_file[member.rsplit("/", 1)[-1]] = {r.offset: r for r in w.scan.records}
    seen: set[tuple[str, int]] = set()
    lines = 0
    try:
        for member in members:
            for raw in _iter_index_lines(z, member):
                text = raw.decode("utf-8", "replace").strip()
                if not text or text.startswith("!"):
                    continue
                lines += 1
                parts = text.split(" ", 2)
                try:
                    entry = json.loads(parts[2])
                    filename, offset, length = str(entry["filename"]), int(entry["offset"]), int(entry["length"])
                except (IndexError, KeyError, ValueError, TypeError):
                    problems.append(f"{member} line {lines}: not a CDXJ line")
                    return ""
                records = by_file.get(filename.rsplit("/", 1)[-1])
                if records is None:
                    problems.append(f"{member} line {lines} points into {filename}, which the package does not hold")
                    return ""
                rec = records.get(offset)
                if rec is None or rec.length != length:
                    problems.append(
                        f"{member} line {lines} points at offset {offset} (+{length}) in {filename}, "
                        "where no such record starts"
                    )
                    return ""
                url = entry.get("url")
                if url and url != rec.uri:
                    problems.append(
                        f"{member} line {lines} says {url} but the record at offset {offset} in "
                        f"{filename} is {rec.uri}"
                    )
                    return ""
                seen.add((filename.rsplit("/", 1)[-1], offset))
    except (OSError, EOFError, zipfile.BadZipFile, gzip.BadGzipFile) as e:
        problems.append(f"the index cannot be read ({e})")
        return ""
    for fname, records in by_file.items():
        for rec in records.values():
            if rec.type in INDEXED_TYPES and rec.content_type != "application/warc-fields" and (fname, rec.offset) not in seen:
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
        size = z.infos[data_member].file_size
        try:
            text = z.read_small(idx, MAX_JSON).decode("utf-8", "replace")
        except InputError as e:
            problems.append(str(e))
            continue
        with z.open(data_member) as fh:
            pos = 0
            for n, line in enumerate(text.splitlines(), 1):
                if not line.strip() or line.startswith("!"):
                    continue
                try:
                    block = json.loads("{" + line.split(" {", 1)[1])
                    offset, length = int(block["offset"]), int(block["length"])
                except (IndexError, KeyError, ValueError, TypeError):
                    problems.append(f"{idx} line {n}: not a ZipNum index line")
                    return
                if offset + length > size:
                    problems.append(f"{idx} line {n}: block beyond the end of {data_member}")
                    return
                if block.get("digest"):
                    if offset < pos:
                        problems.append(f"{idx} line {n}: blocks out of order")
                        return
                    fh.read(offset - pos)
                    got = "sha256:" + hashlib.sha256(fh.read(length)).hexdigest()
                    pos = offset + length
                    if got != block["digest"]:
                        problems.append(f"{idx} line {n}: block digest differs from {data_member}'s bytes")
                        return


def _pages_from_zip(subject: Subject, z: SafeZip) -> None:
    try:
        text = z.read_small("pages/pages.jsonl", MAX_JSON).decode("utf-8", "replace")
    except InputError:
        return
    for line in io.StringIO(text):
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
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


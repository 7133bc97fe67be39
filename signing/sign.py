"""Sign a finished WARC: one streaming pass, one signature, one TSA round trip, one sidecar."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from bewaar import SOFTWARE
from bewaar.errors import BewaarError, InputError
from signing import files, keys, manifest, revocation, timestamp, warcscan
from signing.keys import Identity
from signing.manifest import (
    SIGNATURE_ALGORITHM,
    STATEMENT_FORMAT,
    Manifest,
    canonical,
    records_digest,
)
from signing.renewal import link_chain
from signing.times import iso, utcnow


def sign_bytes(identity: Identity, data: bytes) -> str:
    """Base64 DER ECDSA-SHA256: the signature form WACZ/authsign use."""
    sig = identity.key.sign(data, ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(sig).decode("ascii")


def stamp(signature_b64: str, tsa_url: str | None, timeout: float) -> dict[str, object]:
    """The manifest's timestamp section: granted with a token, or pending with the reason."""
    if not tsa_url:
        return {"status": "pending", "reason": "no TSA configured (signing.tsa_url)"}
    asked = utcnow()
    try:
        token = timestamp.request_token(tsa_url, signature_b64.encode("ascii"), timeout)
    except timestamp.TimestampUnavailable as e:
        return {"status": "pending", "reason": str(e), "url": tsa_url, "tried": iso(asked)}
    response = timestamp.decode(token)
    leaf = timestamp.signer_certificate(response)
    return {
        "status": "granted",
        "token": base64.b64encode(token).decode("ascii"),
        "time": iso(timestamp.gen_time(token)),
        "tsa": keys.subject_name(leaf) if leaf else "",
        "url": tsa_url,
    }


@dataclass
class SignOutcome:
    path: Path
    manifest: Path
    records: int
    timestamp: str  # "granted" | "pending"
    reason: str = ""
    skipped: bool = False


def _scan_for_signing(path: Path) -> warcscan.ScanResult:
    if path.parent.name == "tmp":
        raise InputError(f"{path} is in a tmp/ directory: WARCs still being written are never signed")
    try:
        with files.open_regular(path) as fh:
            scan = warcscan.scan(fh)
    except files.NotRegular as e:
        raise InputError(str(e).replace("is a directory", "is a directory, not a WARC file")) from None
    except InputError as e:
        raise InputError(str(e).replace("no such file or directory", "file not found")) from None
    if not scan.records:
        raise InputError(f"{path}: cannot sign: {scan.error}")
    return scan


def _refuse_damaged(path: Path, scan: warcscan.ScanResult) -> None:
    """A WARC that ends in a cut-off record, a last record failing its digest, or bytes that
    are no record is what a crash mid-write leaves: signing it would vouch for a damaged file.
    (A digest failure further in is reported by `bewaar verify`'s check 1 whatever is signed.)"""
    last = scan.records[-1]
    if scan.error:
        what = f"after record {last.index}, at offset {scan.error_offset}: {scan.error}"
    elif last.problems or last.digest == "failed":
        what = (f"its last record ({last.index}, at offset {last.offset}, {last.describe()}) "
                f"{'; '.join(last.problems) or 'fails its digest'}")
    else:
        return
    raise InputError(
        f"{path}: cannot sign: {what}. A signature would vouch for a damaged file; keep it as "
        "it is, and copy the whole records into a new WARC if they are needed"
    )


def revocation_data(
    identity_chain: list[x509.Certificate],
    token: bytes | None,
    tsa_pool: list[x509.Certificate],
    timeout: float,
    into: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """CRLs / OCSP answers for the signer's chain and the TSA's, as their CAs publish them now."""
    data = revocation.collect(identity_chain, [], timeout, into)
    if token is not None:
        chain = link_chain(token, tsa_pool)
        if chain:
            revocation.collect(chain, tsa_pool, timeout, data)
    return data


def sign_warc_file(
    path: Path,
    identity: Identity,
    tsa_url: str | None,
    timeout: float,
    *,
    tsa_pool: list[x509.Certificate] | None = None,
    fetch_revocation: bool = True,
    clock: Callable[[], dt.datetime] = utcnow,
) -> SignOutcome:
    """Write PATH.sig.json (`clock` gives the signing time; tests give one in the past). Refuses to replace a manifest for different content: a WARC that
    changed after signing is evidence of a problem, never something to paper over. Refuses a
    WARC whose records do not check out (cut off, failing a digest)."""
    scan = _scan_for_signing(path)
    target = manifest.manifest_path(path)
    if target.exists():
        try:
            old = Manifest.load(target)
            old_hash = old.statement.get("sha256")
        except manifest.ManifestError:
            old_hash = None
        if old_hash == scan.sha256:
            ts = old.timestamp.get("status", "pending")
            return SignOutcome(path, target, len(scan.records), str(ts), skipped=True)
        raise BewaarError(
            f"{target.name} already exists for different content: {path.name} changed after it "
            "was signed. Run `bewaar verify` on it; keep both files as evidence",
            1,
        )
    _refuse_damaged(path, scan)
    records = [r.manifest_entry() for r in scan.records]
    created = clock().replace(microsecond=0)
    statement = {
        "format": STATEMENT_FORMAT,
        "file": path.name,
        "size": scan.size,
        "sha256": scan.sha256,
        "records": {"count": len(records), "sha256": records_digest(records)},
        "first_record_date": scan.first_date,
        "last_record_date": scan.last_date,
        "created": iso(created),
        "software": SOFTWARE,
    }
    text = canonical(statement)
    signature = sign_bytes(identity, text.encode("utf-8"))
    data: dict[str, Any] = {
        "manifest": STATEMENT_FORMAT,
        "statement": text,
        "signature": {"algorithm": SIGNATURE_ALGORITHM, "value": signature},
        "signer": {
            "subject": keys.subject_name(identity.certificate),
            "fingerprint": keys.fingerprint(identity.certificate),
            "certificates": identity.chain_pem(),
        },
        "timestamp": stamp(signature, tsa_url, timeout),
    }
    m = Manifest(data)
    if fetch_revocation:
        data["revocation"] = revocation_data(identity.chain, m.timestamp_token, tsa_pool or [], timeout)
    data["records"] = records
    m.write(target)
    ts = data["timestamp"]
    return SignOutcome(path, target, len(records), str(ts["status"]), str(ts.get("reason", "")))


def retimestamp(
    warc: Path,
    tsa_url: str | None,
    timeout: float,
    *,
    tsa_pool: list[x509.Certificate] | None = None,
    fetch_revocation: bool = True,
) -> SignOutcome:
    """Add the missing timestamp to an existing signature (the signature is not remade)."""
    m = manifest.load_for(warc)
    n = len(m.records)
    path = m.path or manifest.manifest_path(warc)
    if m.timestamp.get("status") == "granted":
        return SignOutcome(warc, path, n, "granted", skipped=True)
    if not tsa_url:
        raise BewaarError("no TSA configured: set signing.tsa_url in bewaar.yaml (or --tsa-url)")
    section = stamp(m.signature_b64, tsa_url, timeout)
    if section["status"] != "granted":
        return SignOutcome(warc, path, n, "pending", str(section.get("reason", "")))
    section["added_later"] = True  # obtained by --retimestamp, not when the WARC was signed
    m.data["timestamp"] = section
    if fetch_revocation:
        chain = keys.load_pem_chain(m.certificates_pem)
        m.data["revocation"] = revocation_data(chain, m.timestamp_token, tsa_pool or [], timeout,
                                               m.revocation)
    m.write(path)
    return SignOutcome(warc, path, n, "granted")

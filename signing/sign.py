"""Sign a finished WARC: one streaming pass, one signature, one TSA round trip, one sidecar."""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from bewaar import SOFTWARE
from bewaar.errors import BewaarError, InputError
from signing import keys, manifest, timestamp, warcscan
from signing.keys import Identity
from signing.manifest import FORMAT, SIGNATURE_ALGORITHM, Manifest, canonical, records_digest


def iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sign_bytes(identity: Identity, data: bytes) -> str:
    """Base64 DER ECDSA-SHA256: the signature form WACZ/authsign use."""
    sig = identity.key.sign(data, ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(sig).decode("ascii")


def stamp(signature_b64: str, tsa_url: str | None, timeout: float) -> dict[str, object]:
    """The manifest's timestamp section: granted with a token, or pending with the reason."""
    if not tsa_url:
        return {"status": "pending", "reason": "no TSA configured (signing.tsa_url)"}
    asked = keys.utcnow()
    try:
        token = timestamp.request_token(tsa_url, signature_b64.encode("ascii"), timeout)
    except timestamp.TimestampUnavailable as e:
        return {"status": "pending", "reason": str(e), "url": tsa_url, "tried": iso(asked)}
    response = timestamp.decode(token)
    leaf = timestamp.signer_certificate(response)
    return {
        "status": "granted",
        "token": base64.b64encode(token).decode("ascii"),
        "time": iso(timestamp.utc(response.tst_info.gen_time)),
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


def sign_warc_file(path: Path, identity: Identity, tsa_url: str | None, timeout: float) -> SignOutcome:
    """Write PATH.sig.json. Refuses to replace a manifest for different content: a WARC that
    changed after signing is evidence of a problem, never something to paper over."""
    if path.parent.name == "tmp":
        raise InputError(f"{path} is in a tmp/ directory: WARCs still being written are never signed")
    try:
        with path.open("rb") as fh:
            scan = warcscan.scan(fh)
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a WARC file") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}") from None
    if not scan.records:
        raise InputError(f"{path}: cannot sign: {scan.error}")

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

    records = [r.manifest_entry() for r in scan.records]
    created = keys.utcnow().replace(microsecond=0)
    statement = {
        "format": FORMAT,
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
    data = {
        "manifest": FORMAT,
        "statement": text,
        "signature": {"algorithm": SIGNATURE_ALGORITHM, "value": signature},
        "signer": {
            "subject": keys.subject_name(identity.certificate),
            "fingerprint": keys.fingerprint(identity.certificate),
            "certificates": identity.chain_pem(),
        },
        "timestamp": stamp(signature, tsa_url, timeout),
        "records": records,
    }
    Manifest(data).write(target)
    ts = data["timestamp"]
    return SignOutcome(
        path, target, len(records), str(ts["status"]), str(ts.get("reason", ""))  # type: ignore[union-attr]
    )


def retimestamp(warc: Path, tsa_url: str | None, timeout: float) -> SignOutcome:
    """Add the missing timestamp to an existing signature (the signature is not remade)."""
    m = manifest.load_for(warc)
    n = len(m.records)
    if m.timestamp.get("status") == "granted":
        return SignOutcome(warc, m.path or manifest.manifest_path(warc), n, "granted", skipped=True)
    if not tsa_url:
        raise BewaarError("no TSA configured: set signing.tsa_url in bewaar.yaml (or --tsa-url)")
    section = stamp(m.signature_b64, tsa_url, timeout)
    if section["status"] != "granted":
        return SignOutcome(warc, m.path or manifest.manifest_path(warc), n, "pending", str(section.get("reason", "")))
    section["added_later"] = True  # obtained by --retimestamp, not when the WARC was signed
    m.data["timestamp"] = section
    m.write(m.path or manifest.manifest_path(warc))
    return SignOutcome(warc, m.path or manifest.manifest_path(warc), n, "granted")

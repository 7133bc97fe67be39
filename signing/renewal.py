"""Evidence renewal: keep a signature provable after its certificates expire (RFC 4998's idea).

A timestamp proves the signature existed at its time only while its TSA certificate (and the
hash algorithm) can be trusted. Before that ends, a new timestamp from a TSA whose certificate
is valid for longer is laid over the file's hash, the signed statement and the previous token:

    link 0      the capture-time token over the signature (manifest `timestamp`)
    link 1..n   `renewals[i]`: a token over renewal_input(file, statement, token of link i-1)

Each link proves the one before it existed while that one was still valid, so the chain is as
strong as its newest link. The manifest keeps the links as an ordered list; the verifier checks
each was made before the link it renews expired (see verify_proof). A renewal whose TSA time is
already past the previous link's expiry cannot mend the chain and is refused.

RFC 4998 encodes evidence records in ASN.1; bewaar keeps them in its JSON manifest beside the
rest of the evidence, stamping a canonical JSON text, so the chain can be checked with openssl.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509

from bewaar.errors import BewaarError
from signing import files, keys, manifest, revocation, timestamp
from signing.manifest import Manifest, ManifestError, canonical
from signing.times import iso, utcnow

RENEWAL_FORMAT = "bewaar-renewal/1"
ALGORITHMS = ("sha256",)  # what a verifier can recompute over the file today


def renewal_input(file_sha256: str, statement_text: str, previous_token: bytes,
                  algorithm: str = "sha256") -> bytes:
    """The exact bytes a renewal timestamps (their SHA-256 is the token's message imprint)."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"renewal algorithm {algorithm!r} is not supported (known: {ALGORITHMS})")

    def h(data: bytes) -> str:
        return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"

    return canonical({
        "format": RENEWAL_FORMAT,
        "file": f"{algorithm}:{file_sha256}",
        "statement": h(statement_text.encode("utf-8")),
        "previous_token": h(previous_token),
    }).encode("ascii")


def tokens(m: Manifest) -> list[bytes]:
    """Every link's token, oldest first (empty while the first timestamp is pending)."""
    first = m.timestamp_token
    if first is None:
        return []
    return [first, *(m.renewal_token(i) for i in range(len(m.renewals)))]


def link_chain(token: bytes, pool: list[x509.Certificate]) -> list[x509.Certificate]:
    """The token's TSA certificate and the issuers found for it (token, then `pool`)."""
    try:
        response = timestamp.decode(token)
    except ValueError:
        return []
    embedded = timestamp.token_certificates(response)
    leaf = timestamp.signer_certificate(response, pool)
    if leaf is None:
        return []
    chain = [leaf]
    everyone = [*embedded, *pool]
    while chain[-1].issuer != chain[-1].subject and len(chain) < 8:
        parent = revocation.issuer_of(chain[-1], everyone)
        if parent is None or parent in chain:
            break
        chain.append(parent)
    return chain


def link_expiry(token: bytes, pool: list[x509.Certificate]) -> dt.datetime | None:
    chain = link_chain(token, pool)
    return min(c.not_valid_after_utc for c in chain) if chain else None


@dataclass
class RenewOutcome:
    path: Path
    state: str  # "renewed" | "not due" | "pending" | "refused"
    message: str
    expires: dt.datetime | None = None
    problems: list[str] = field(default_factory=list)


def _file_sha256(path: Path) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0
    with files.open_regular(path) as fh:
        while chunk := fh.read(1024 * 1024):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _newest_link(m: Manifest, warc: Path, tsa_pool: list[x509.Certificate],
                 due: dt.timedelta | None) -> tuple[list[bytes], dt.datetime] | RenewOutcome:
    """The links so far and when the newest expires, or why this file is not renewed now."""
    links = tokens(m)
    if not links:
        return RenewOutcome(warc, "pending", "its first timestamp is still pending: run "
                            "`bewaar sign --retimestamp` first")
    expires = link_expiry(links[-1], tsa_pool)
    if expires is None:
        return RenewOutcome(warc, "refused", "the newest timestamp's TSA certificate is not in "
                            "the token nor among the trusted TSA certificates, so its expiry is unknown")
    if due is not None and expires - utcnow() > due:
        return RenewOutcome(warc, "not due", f"newest link valid until {iso(expires)}", expires)
    return links, expires


def _unchanged(warc: Path, m: Manifest) -> str | None:
    """The file must still be the one signed: a changed file is evidence, never renewed."""
    try:
        sha, size = _file_sha256(warc)
        statement = m.statement
    except ManifestError as e:
        return str(e)
    if sha != statement.get("sha256") or size != statement.get("size"):
        return ("the file no longer matches its signed manifest: it changed after signing and "
                "is not renewed (run `bewaar verify` on it)")
    return None


def renew(
    warc: Path,
    tsa_url: str | None,
    timeout: float,
    *,
    tsa_pool: list[x509.Certificate],
    signer_chain: list[x509.Certificate] | None = None,
    due: dt.timedelta | None = None,
    fetch_revocation: bool = True,
) -> RenewOutcome:
    """Add one renewal to WARC's manifest (or say why not). `due`: only when the newest link
    expires within that time from now."""
    m = manifest.load_for(warc)
    newest = _newest_link(m, warc, tsa_pool, due)
    if isinstance(newest, RenewOutcome):
        return newest
    links, expires = newest
    if not tsa_url:
        raise BewaarError("no TSA configured: set signing.tsa_url in bewaar.yaml (or --tsa-url)")
    problem = _unchanged(warc, m)
    if problem:
        return RenewOutcome(warc, "refused", problem)
    try:
        token = timestamp.request_token(tsa_url, renewal_input(
            str(m.statement["sha256"]), m.statement_text, links[-1]), timeout)
    except timestamp.TimestampUnavailable as e:
        return RenewOutcome(warc, "pending", str(e), expires)
    when = timestamp.gen_time(token)
    assert when is not None  # request_token checked the answer
    if when >= expires:
        return RenewOutcome(
            warc, "refused",
            f"too late: the newest link expired on {iso(expires)}, before this TSA's time "
            f"{iso(when)}; a renewal now cannot show the chain was unbroken, so none was added",
            expires,
        )
    leaf = timestamp.signer_certificate(timestamp.decode(token), tsa_pool)
    entry = {"token": base64.b64encode(token).decode("ascii"), "time": iso(when),
             "tsa": keys.subject_name(leaf) if leaf else "", "url": tsa_url, "algorithm": "sha256"}
    m.data.setdefault("renewals", []).append(entry)
    if fetch_revocation:
        # the previous link's TSA, the new TSA and the signer, as their CAs see them now
        for chain in (link_chain(links[-1], tsa_pool), link_chain(token, tsa_pool), signer_chain or []):
            if chain:
                revocation.collect(chain, tsa_pool, timeout, m.data.setdefault("revocation", {}))
    m.write(m.path or manifest.manifest_path(warc))
    new_expiry = link_expiry(token, tsa_pool)
    return RenewOutcome(
        warc, "renewed",
        f"renewed by '{entry['tsa']}' at {entry['time']} (link {len(m.renewals)}; previous link "
        f"valid until {iso(expires)}" + (f", this one until {iso(new_expiry)})" if new_expiry else ")"),
        new_expiry,
    )

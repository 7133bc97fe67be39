"""Checks 3 (signature) and 4 (timestamp), shared by WARC manifests and WACZ packages.

Long-term validation: a signature is judged at the time it provably existed, not at the time
someone happens to verify it.
  * With a valid RFC 3161 token from a trusted TSA, the signer's chain (and its revocation
    status, from data stored at signing) is judged at the token's genTime. A certificate that
    has expired since does not matter: the token proves the signature is older.
  * Without one, it is judged at the signing time the signer claims, with a warning that
    nothing proves that time.
  * The TSA's own chain is judged at genTime as well. Its certificate expires too; the evidence
    stays provable while it is renewed (renewal.py) before the newest link's TSA certificate
    expires. Every renewal must verify and must have been made while the link before it was
    still valid; an expired newest link is a warning (the token itself stays cryptographically
    valid), and --strict makes it a failure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from signing import keys, revocation, timestamp
from signing.policy import Policy
from signing.report import FAIL, PASS, WARN, Subject
from signing.times import duration, iso
from signing.timestamp import TokenCheck
from signing.trust import verify_chain

_RANK = {PASS: 0, WARN: 1, FAIL: 2}


def worst(*states: str) -> str:
    return max(states, key=lambda s: _RANK[s])


@dataclass
class Proof:
    """When the signer's certificate is judged, and whether that time is proven."""

    at: dt.datetime | None
    proven: bool

    @classmethod
    def of(cls, first: TokenCheck | None, created: dt.datetime | None) -> Proof:
        if first is not None and first.ok and first.time is not None:
            return cls(first.time, True)
        return cls(created, False)


@dataclass
class Renewals:
    """The links after the first timestamp, and how to recompute what each one stamped."""

    tokens: list[bytes] = field(default_factory=list)
    # data_for(i, previous_token) -> the bytes renewal i (0-based) stamped; ValueError if it cannot
    data_for: Callable[[int, bytes], bytes] | None = None
    problem: str | None = None  # the renewal list itself is unreadable


def signature_ok(cert: x509.Certificate, message: bytes, signature: bytes | None) -> bool:
    key = cert.public_key()
    if signature is None or not isinstance(key, ec.EllipticCurvePublicKey):
        return False
    try:
        key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


# --------------------------------------------------------------------------- revocation


def revocation_summary(
    chain: list[x509.Certificate], at: dt.datetime, data: dict[str, Any] | None
) -> tuple[str, str]:
    """(status, text) for every certificate of a verified chain but its trust anchor."""
    if len(chain) <= 1:
        return PASS, "no revocation to check (the certificate is itself the trust anchor)"
    found = [revocation.status(c, chain[i + 1], at, data) for i, c in enumerate(chain[:-1])]
    revoked = [s for s in found if s.state == revocation.REVOKED]
    if revoked:
        return FAIL, revoked[0].message
    unchecked = [s for s in found if s.state == revocation.NOT_CHECKED]
    if unchecked:
        return WARN, "; ".join(s.message for s in unchecked)
    if all(s.state == revocation.NO_SOURCE for s in found):
        return PASS, "revocation not checked: the certificates name no CRL or OCSP responder"
    return PASS, "; ".join(s.message for s in found if s.state == revocation.GOOD)


# --------------------------------------------------------------------------- check 3


def check_signer(
    subject: Subject,
    *,
    chain_pem: str,
    message: bytes,
    signature: bytes | None,
    proof: Proof,
    policy: Policy,
    what: str,
    revocation_data: dict[str, Any] | None,
) -> x509.Certificate | None:
    """Check 3: the signature verifies with the signer's certificate, which was trusted (and not
    revoked) when the signature was made."""
    certs = keys.load_pem_chain(chain_pem)
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
        signer_valid_until=iso(leaf.not_valid_after_utc),
    )
    if not signature_ok(leaf, message, signature):
        subject.add(
            3, FAIL,
            f"{what}: the signature does not verify with the signer certificate "
            f"'{keys.subject_name(leaf)}': the signed data or the signature was altered, or "
            "another key made it",
        )
        return leaf
    if proof.at is None:
        subject.add(3, FAIL, f"{what}: signature valid, but there is no time to judge the "
                    "certificate at (no valid timestamp and no readable signing time)")
        return leaf
    chain = verify_chain(leaf, certs[1:], policy.signer_trust, proof.at, "signer")
    if not chain.ok:
        subject.add(3, FAIL, f"{what}: signature is valid, but {chain.message}")
        return leaf
    rev_status, rev_text = revocation_summary(chain.chain, proof.at, revocation_data)
    subject.facts["signer_revocation"] = rev_text
    if proof.proven:
        when = f"judged at the TSA time {iso(proof.at)}, when the signature provably existed"
        if leaf.not_valid_after_utc < policy.clock:
            when += (f"; the certificate has expired since ({iso(leaf.not_valid_after_utc)}), "
                     "which does not matter for a signature proven older")
        status = PASS
    else:
        # the warning that nothing proves this time is check 4's (pending or failed timestamp)
        when = (f"judged at the signing time the signer claims, {iso(proof.at)}, which no valid "
                "timestamp proves (see check 4)")
        status = PASS
    subject.add(3, worst(status, rev_status),
                f"{what}: signature valid; {chain.message} ({when}); {rev_text}")
    return leaf


# --------------------------------------------------------------------------- check 4


def _link_name(i: int) -> str:
    return "the first timestamp (link 0)" if i == 0 else f"renewal {i}"


def _tsa_revocation(chk: TokenCheck, at: dt.datetime, data: dict[str, Any] | None,
                    name: str) -> tuple[str, str]:
    if len(chk.chain) < 2:
        return PASS, ""
    s = revocation.status(chk.chain[0], chk.chain[1], at, data)
    if s.state == revocation.REVOKED:
        return FAIL, f"{name}: TSA certificate {s.message}"
    if s.state == revocation.NOT_CHECKED:
        return WARN, f"{name}: {s.message}"
    return PASS, ""


def _window(first: TokenCheck, created: dt.datetime | None, added_later: bool,
            window: int) -> tuple[str, str]:
    assert first.time is not None
    if created is None:
        return FAIL, "the signed creation time is missing or unreadable"
    if created > first.time:
        return FAIL, (
            f"signing time {iso(created)} is after the TSA time {iso(first.time)}: the signer's "
            "clock was wrong or the statement was made later"
        )
    delay = (first.time - created).total_seconds()
    if delay > window:
        text = (f"TSA time {iso(first.time)} is {duration(delay)} after the signing time "
                f"{iso(created)} (allowed: {duration(window)})")
        if added_later:
            return WARN, (
                f"added later with --retimestamp: {text}, so the capture is proven to exist at "
                f"{iso(first.time)} and the earlier signing time is the signer's claim"
            )
        return FAIL, text
    return PASS, f"signed {iso(created)}, {duration(delay)} before TSA time (allowed {duration(window)})"


def _renewal_link(i: int, token: bytes, prev: TokenCheck, prev_token: bytes,
                  renewals: Renewals, policy: Policy, data: dict[str, Any] | None
                  ) -> tuple[TokenCheck | None, str, list[str]]:
    """Renewal i (1-based) against the link before it: (its check or None when the chain
    breaks here, status, notes)."""
    assert prev.time is not None
    try:
        stamped = renewals.data_for(i - 1, prev_token) if renewals.data_for else b""
    except ValueError as e:
        return None, FAIL, [f"renewal {i}: {e}"]
    chk = timestamp.verify_token(token, stamped, policy.tsa_trust)
    if not chk.ok or chk.time is None:
        return None, FAIL, [f"renewal {i}: {chk.message}"]
    if chk.time < prev.time:
        return None, FAIL, [f"renewal {i} ({iso(chk.time)}) is older than {_link_name(i - 1)} "
                            f"it renews ({iso(prev.time)})"]
    end = prev.expires
    if end is not None and chk.time >= end:
        return None, FAIL, [
            f"renewal {i} by '{chk.tsa}' at {iso(chk.time)} was made after {_link_name(i - 1)} "
            f"by '{prev.tsa}' had expired on {iso(end)}: the chain of evidence is broken there"
        ]
    # the previous TSA must not have been revoked before it was renewed
    st, text = _tsa_revocation(prev, chk.time, data, f"{_link_name(i - 1)} at renewal {i}")
    if st == FAIL:
        return None, FAIL, [text + f": the chain of evidence is broken at renewal {i}"]
    st2, text2 = _tsa_revocation(chk, chk.time, data, _link_name(i))
    notes = [t for t in (text, text2) if t]
    return (None if st2 == FAIL else chk), worst(st, st2), notes


def _newest_link_note(n: int, last: TokenCheck, policy: Policy) -> tuple[str, str | None]:
    end = last.expires
    assert last.time is not None
    if end is not None and end <= policy.clock:
        return WARN, (
            f"{_link_name(n)} by '{last.tsa}' ({iso(last.time)}): its TSA certificate expired on "
            f"{iso(end)} and the evidence was not renewed before then, so nothing newer vouches "
            "for it; the token is still cryptographically valid (renew evidence before TSA "
            "certificates expire: `bewaar sign --renew`; --strict makes this a failure)"
        )
    if n:
        return PASS, (f"evidence renewed {n} time(s), each while the link before it was valid; "
                      f"newest link by '{last.tsa}' valid until {iso(end)}")
    return PASS, f"TSA certificate valid until {iso(end)}" if end is not None else None


def _chain(first: TokenCheck, first_token: bytes, renewals: Renewals, policy: Policy,
           data: dict[str, Any] | None) -> tuple[str, list[str]]:
    """The chain of links: each renewal valid and made in time; the newest still valid now."""
    assert first.time is not None
    if renewals.problem:
        return FAIL, [renewals.problem]
    status, text = _tsa_revocation(first, first.time, data, _link_name(0))
    notes = [text] if text else []
    prev, prev_token = first, first_token
    for i, token in enumerate(renewals.tokens, 1):
        chk, st, more = _renewal_link(i, token, prev, prev_token, renewals, policy, data)
        status, notes = worst(status, st), notes + more
        if chk is None:
            return FAIL, notes
        prev, prev_token = chk, token
    st, note = _newest_link_note(len(renewals.tokens), prev, policy)
    return worst(status, st), notes + ([note] if note else [])


def first_token(token: bytes | None, stamped: bytes, policy: Policy,
                presented: list[x509.Certificate] | None = None) -> TokenCheck | None:
    """The first timestamp, checked (None while it is pending). Run before check 3: its time
    is when the signer's certificate is judged."""
    if token is None:
        return None
    return timestamp.verify_token(token, stamped, policy.tsa_trust, presented)


def check_timestamps(
    subject: Subject,
    *,
    first: TokenCheck | None,
    first_raw: bytes | None,
    created: dt.datetime | None,
    pending_reason: str,
    added_later: bool,
    policy: Policy,
    max_delay: int | None = None,
    renewals: Renewals | None = None,
    revocation_data: dict[str, Any] | None = None,
) -> None:
    """Check 4: the token covers the signature, its TSA was trusted at its time, the signing
    time fits the window, and the chain of renewals holds up to a link still valid now."""
    if first is None or first_raw is None:
        subject.add(
            4, WARN,
            f"timestamp pending ({pending_reason}): the signing time is only the signer's claim "
            "(the signer's certificate was judged at that claimed time); run `bewaar sign "
            "--retimestamp` when a TSA is reachable",
        )
        subject.facts["timestamp"] = "pending"
        return
    if first.time:
        subject.facts["tsa_time"] = iso(first.time)
    if first.tsa:
        subject.facts["tsa"] = first.tsa
        subject.facts["tsa_fingerprint"] = first.tsa_fingerprint
    if not first.ok:
        subject.add(4, FAIL, first.message)
        return
    window = policy.max_delay if max_delay is None else max_delay
    w_status, w_text = _window(first, created, added_later, window)
    if w_status == FAIL:
        subject.add(4, FAIL, w_text)
        return
    c_status, notes = _chain(first, first_raw, renewals or Renewals(), policy, revocation_data)
    subject.facts["renewals"] = len((renewals or Renewals()).tokens)
    if first.expires:
        subject.facts["tsa_valid_until"] = iso(first.expires)
    if c_status == FAIL:
        subject.add(4, FAIL, "; ".join(notes))
        return
    subject.add(4, worst(w_status, c_status), "; ".join([first.message, w_text, *notes]))

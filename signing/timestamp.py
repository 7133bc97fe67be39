"""RFC 3161 trusted timestamps: ask a TSA, and check a token years later.

rfc3161-client builds the request and checks the token's CMS signature; this module adds the
HTTP transport (RFC 3161 section 3.4), clear reasons, and the trust decision. rfc3161-client
treats every certificate it is given (intermediates too) as trusted, so only certificates that
`trust.verify_chain` has already tied to a trusted TSA root are ever handed to it.

What is timestamped is always given by the caller as bytes; bewaar follows authsign and stamps
the ASCII bytes of the base64 signature, so the token proves the signature existed at TSA time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import urllib.error
import urllib.request
from dataclasses import dataclass, field

from cryptography import x509
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    TimeStampResponse,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

from bewaar import SOFTWARE
from signing import keys
from signing.trust import TrustStore, verify_chain

MAX_RESPONSE = 1024 * 1024


class TimestampUnavailable(Exception):
    """No token could be had (TSA unreachable, refused, or answered nonsense)."""


def request_token(url: str, data: bytes, timeout: float) -> bytes:
    """One round trip to the TSA; returns the DER TimeStampResp (checked to match `data`)."""
    request = (
        TimestampRequestBuilder()
        .data(data)
        .hash_algorithm(HashAlgorithm.SHA256)
        .nonce(nonce=True)
        .cert_request(cert_request=True)
        .build()
    )
    http = urllib.request.Request(
        url,
        data=request.as_bytes(),
        headers={"Content-Type": "application/timestamp-query", "User-Agent": SOFTWARE},
        method="POST",
    )
    try:
        with urllib.request.urlopen(http, timeout=timeout) as resp:  # noqa: S310 - configured URL
            body = resp.read(MAX_RESPONSE + 1)
    except urllib.error.HTTPError as e:
        raise TimestampUnavailable(f"TSA {url} answered HTTP {e.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", None) or e
        raise TimestampUnavailable(f"TSA {url} unreachable: {reason}") from None
    if len(body) > MAX_RESPONSE:
        raise TimestampUnavailable(f"TSA {url} sent an oversized answer")
    try:
        response = decode_timestamp_response(body)
    except ValueError:
        raise TimestampUnavailable(f"TSA {url} did not answer with an RFC 3161 response") from None
    if response.status not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        text = "; ".join(response.status_string) or f"status {response.status}"
        raise TimestampUnavailable(f"TSA {url} refused the request: {text}")
    info = response.tst_info
    if info.message_imprint.message != hashlib.sha256(data).digest():
        raise TimestampUnavailable(f"TSA {url} stamped other data than was asked")
    if request.nonce is not None and info.nonce != request.nonce:
        raise TimestampUnavailable(f"TSA {url} answered with the wrong nonce (replayed answer?)")
    return body


@dataclass
class TokenCheck:
    ok: bool
    message: str
    time: dt.datetime | None = None
    tsa: str = ""
    tsa_fingerprint: str = ""
    chain: list[x509.Certificate] = field(default_factory=list)
    imprint_ok: bool = False


def decode(token: bytes) -> TimeStampResponse:
    return decode_timestamp_response(token)


def signer_certificate(response: TimeStampResponse) -> x509.Certificate | None:
    """The TSA certificate named by the token's SignerInfo (issuer + serial)."""
    infos = list(response.signed_data.signer_infos)
    if len(infos) != 1:
        return None
    si = infos[0]
    for der in response.signed_data.certificates:
        cert = x509.load_der_x509_certificate(der)
        if cert.issuer == si.issuer and cert.serial_number == si.serial_number:
            return cert
    return None


def utc(t: dt.datetime) -> dt.datetime:
    """GeneralizedTime is UTC; never let a naive value be read as local time."""
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)


def verify_token(
    token: bytes,
    data: bytes,
    store: TrustStore,
    presented: list[x509.Certificate] | None = None,
) -> TokenCheck:
    """Check a TimeStampResp: it covers `data`, its TSA chains to a trusted root, it is signed."""
    try:
        response = decode(token)
    except ValueError:
        return TokenCheck(False, "the timestamp is not a readable RFC 3161 TimeStampResp")
    if response.status not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        return TokenCheck(False, f"the timestamp response is a refusal (status {response.status})")
    info = response.tst_info
    when = utc(info.gen_time)
    if info.message_imprint.message != hashlib.sha256(data).digest():
        return TokenCheck(
            False,
            "the timestamp token is for other data: its message imprint does not match "
            "this signature",
            time=when,
        )
    leaf = signer_certificate(response)
    if leaf is None:
        return TokenCheck(
            False, "the token does not carry the TSA certificate that signed it", time=when,
            imprint_ok=True,
        )
    tsa = keys.subject_name(leaf)
    chain = verify_chain(leaf, presented or [], store, when, "TSA")
    if not chain.ok:
        return TokenCheck(False, chain.message, time=when, tsa=tsa,
                          tsa_fingerprint=keys.fingerprint(leaf), imprint_ok=True)
    builder = VerifierBuilder().add_root_certificate(chain.chain[-1])
    for cert in chain.chain[1:-1]:
        builder = builder.add_intermediate_certificate(cert)
    try:
        builder.build().verify(response, hashlib.sha256(data).digest())
    except VerificationError as e:
        return TokenCheck(False, f"the timestamp token does not verify: {e}", time=when, tsa=tsa,
                          imprint_ok=True)
    return TokenCheck(
        True,
        f"RFC 3161 token by '{tsa}' at {when:%Y-%m-%dT%H:%M:%SZ}; {chain.message}",
        time=when,
        tsa=tsa,
        tsa_fingerprint=keys.fingerprint(leaf),
        chain=chain.chain,
        imprint_ok=True,
    )

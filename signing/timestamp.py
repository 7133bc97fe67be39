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
from signing.times import utc
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
        response = decode(body)
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

    @property
    def expires(self) -> dt.datetime | None:
        """When the TSA's verified chain stops being valid (its earliest notAfter)."""
        if not self.chain:
            return None
        return min(c.not_valid_after_utc for c in self.chain)


def decode(token: bytes) -> TimeStampResponse:
    """Parse a TimeStampResp. rfc3161-client insists on strict DER; TSAs built on `openssl ts`
    that embed their CA write the certificate SET unsorted (valid BER, not DER), and such
    tokens are read after re-encoding with pyasn1 (the signed parts keep their bytes)."""
    try:
        return decode_timestamp_response(token)
    except ValueError as first:
        try:
            return decode_timestamp_response(_as_der(token))
        except Exception:  # noqa: BLE001 - the normalisation is a second chance, not a new error
            raise first from None


def _as_der(token: bytes) -> bytes:
    from pyasn1.codec.ber import decoder
    from pyasn1.codec.der import encoder
    from pyasn1.type import univ
    from pyasn1_modules import rfc3161, rfc5652

    resp, rest = decoder.decode(token, asn1Spec=rfc3161.TimeStampResp())
    if rest:
        raise ValueError("trailing bytes after the TimeStampResp")
    content = resp["timeStampToken"]["content"]
    signed, rest = decoder.decode(bytes(content), asn1Spec=rfc5652.SignedData())
    if rest:
        raise ValueError("trailing bytes after the SignedData")
    resp["timeStampToken"]["content"] = univ.Any(encoder.encode(signed))
    return bytes(encoder.encode(resp))


def gen_time(token: bytes) -> dt.datetime | None:
    try:
        return utc(decode(token).tst_info.gen_time)
    except ValueError:
        return None


def token_certificates(response: TimeStampResponse) -> list[x509.Certificate]:
    out = []
    for der in response.signed_data.certificates:
        try:
            out.append(x509.load_der_x509_certificate(der))
        except ValueError:
            continue
    return out


def signer_certificate(
    response: TimeStampResponse, presented: list[x509.Certificate] | None = None
) -> x509.Certificate | None:
    """The TSA certificate named by the token's SignerInfo (issuer + serial): from the token,
    else from certificates presented beside it (a WACZ's `timestampCert`)."""
    infos = list(response.signed_data.signer_infos)
    if len(infos) != 1:
        return None
    si = infos[0]
    for cert in [*token_certificates(response), *(presented or [])]:
        if cert.issuer == si.issuer and cert.serial_number == si.serial_number:
            return cert
    return None


def verify_token(
    token: bytes,
    data: bytes,
    store: TrustStore,
    presented: list[x509.Certificate] | None = None,
) -> TokenCheck:
    """Check a TimeStampResp: it covers `data`, its TSA chains to a trusted root (judged at
    the token's own time), it is signed. `presented` are certificates that travel beside the
    token (WACZ `timestampCert`); a token that does not embed its TSA certificate is checked
    against the presented one."""
    try:
        response = decode(token)
        info = response.tst_info
        when = utc(info.gen_time)
        imprint = info.message_imprint.message
    except (ValueError, TypeError, OverflowError):
        return TokenCheck(False, "the timestamp is not a readable RFC 3161 TimeStampResp")
    if response.status not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        return TokenCheck(False, f"the timestamp response is a refusal (status {response.status})")
    if imprint != hashlib.sha256(data).digest():
        return TokenCheck(
            False,
            "the timestamp token is for other data: its message imprint does not match "
            "this signature",
            time=when,
        )
    presented = presented or []
    embedded = token_certificates(response)
    leaf = signer_certificate(response, presented)
    if leaf is None:
        return TokenCheck(
            False, "neither the token nor the certificates beside it hold the TSA certificate "
            "that signed it", time=when, imprint_ok=True,
        )
    tsa = keys.subject_name(leaf)
    others = [c for c in [*embedded, *presented] if c != leaf]
    chain = verify_chain(leaf, others, store, when, "TSA")
    if not chain.ok:
        return TokenCheck(False, chain.message, time=when, tsa=tsa,
                          tsa_fingerprint=keys.fingerprint(leaf), imprint_ok=True)
    builder = VerifierBuilder().add_root_certificate(chain.chain[-1])
    for cert in chain.chain[1:-1]:
        builder = builder.add_intermediate_certificate(cert)
    if leaf not in embedded:
        builder = builder.tsa_certificate(leaf)
    try:
        builder.build().verify(response, hashlib.sha256(data).digest())
    except (VerificationError, ValueError) as e:
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

"""Revocation data: fetched while signing, checked offline when verifying, years later.

A signature is only as good as the certificate behind it at the time it was made; if the CA
revoked that certificate before then (a stolen key), the signature proves nothing. CRLs and OCSP
responses answer that, but only while the CA still publishes them, so bewaar fetches them when
it signs (and again at each evidence renewal), where the certificate names a CRL distribution
point or an OCSP responder and the network allows, and keeps them in the signature manifest:

    "revocation": {
      "crls": [{"url": ..., "fetched": ..., "der": "<base64 CRL>"}],
      "ocsp": [{"url": ..., "fetched": ..., "der": "<base64 OCSPResponse>"}],
      "unavailable": [{"url": ..., "tried": ..., "reason": ...}]
    }

Both kinds are signed by the CA (or its OCSP responder), so they need no signature of ours and
can be added at any time. Verification uses only what is stored, never the network: a
certificate is "not revoked at T" when stored data signed by its issuer, current at T (issued
after T, or valid from before T to after it), does not list it as revoked by T. Where nothing
usable is stored, the report says "revocation not checked" — never a silent pass.

cryptography parses CRLs and OCSP (and builds OCSP requests); checking an OCSP response's
signature and matching its certificate ID is written here because cryptography has no OCSP
verifier.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from bewaar import SOFTWARE
from signing import keys
from signing.times import iso, utcnow

MAX_CRL = 32 * 1024 * 1024
MAX_OCSP = 1024 * 1024
MAX_ISSUED_AFTER = dt.timedelta(days=30)  # data issued long after T says little about T's CA state


# --------------------------------------------------------------------------- what a certificate names


def sources(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    """(CRL URLs, OCSP URLs) the certificate names, http(s) only."""
    crls: list[str] = []
    ocsps: list[str] = []
    try:
        cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        for point in cdp:
            for name in point.full_name or []:
                if isinstance(name, x509.UniformResourceIdentifier) and _http(name.value):
                    crls.append(name.value)
    except (x509.ExtensionNotFound, ValueError):
        pass
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
        for desc in aia:
            loc = desc.access_location
            if (
                desc.access_method == x509.AuthorityInformationAccessOID.OCSP
                and isinstance(loc, x509.UniformResourceIdentifier)
                and _http(loc.value)
            ):
                ocsps.append(loc.value)
    except (x509.ExtensionNotFound, ValueError):
        pass
    return crls, ocsps


def _http(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


def issuer_of(cert: x509.Certificate, pool: list[x509.Certificate]) -> x509.Certificate | None:
    for cand in pool:
        if cand.subject == cert.issuer and cand != cert:
            try:
                cert.verify_directly_issued_by(cand)
            except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
                continue
            return cand
    return None


# --------------------------------------------------------------------------- fetching (signing time)


def _fetch(url: str, timeout: float, limit: int, body: bytes | None = None) -> bytes:
    headers = {"User-Agent": SOFTWARE}
    if body is not None:
        headers["Content-Type"] = "application/ocsp-request"
    req = urllib.request.Request(url, data=body, headers=headers, method="POST" if body else "GET")
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - a URL the CA named
        data: bytes = resp.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"answer larger than {limit} bytes")
    return data


def empty() -> dict[str, list[dict[str, str]]]:
    return {"crls": [], "ocsp": [], "unavailable": []}


def collect(
    chain: list[x509.Certificate],
    pool: list[x509.Certificate],
    timeout: float,
    into: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Fetch what the certificates of `chain` name (issuers from the chain or `pool`) and add it
    to `into` (a manifest's revocation section). Never raises: what cannot be had is listed
    under `unavailable` with the reason."""
    data: dict[str, Any] = into if into is not None else empty()
    for key in ("crls", "ocsp", "unavailable"):
        data.setdefault(key, [])
    have = {e.get("der") for e in data["crls"] + data["ocsp"]}
    tried: set[str] = set()
    now = iso(utcnow())
    everyone = [*chain, *pool]
    for cert in chain:
        if cert.issuer == cert.subject:
            continue  # a root: nothing above it can revoke it
        crl_urls, ocsp_urls = sources(cert)
        issuer = issuer_of(cert, everyone)
        for url in ocsp_urls:
            if issuer is None:
                data["unavailable"].append({"url": url, "tried": now, "reason":
                                            f"issuer of '{keys.subject_name(cert)}' unknown"})
                continue
            try:
                request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build()
                der = _fetch(url, timeout, MAX_OCSP, request.public_bytes(serialization.Encoding.DER))
                if ocsp.load_der_ocsp_response(der).response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
                    raise ValueError("the responder did not answer successfully")
            except (OSError, urllib.error.URLError, ValueError) as e:
                data["unavailable"].append({"url": url, "tried": now, "reason": _reason(e)})
                continue
            _add(data["ocsp"], have, url, now, der)
        for url in crl_urls:
            if url in tried:
                continue
            tried.add(url)
            try:
                der = _fetch(url, timeout, MAX_CRL)
                if not der.startswith(b"0"):
                    der = x509.load_pem_x509_crl(der).public_bytes(serialization.Encoding.DER)
                x509.load_der_x509_crl(der)
            except (OSError, urllib.error.URLError, ValueError) as e:
                data["unavailable"].append({"url": url, "tried": now, "reason": _reason(e)})
                continue
            _add(data["crls"], have, url, now, der)
    return data


def _add(entries: list[dict[str, str]], have: set[Any], url: str, now: str, der: bytes) -> None:
    text = base64.b64encode(der).decode("ascii")
    if text not in have:
        have.add(text)
        entries.append({"url": url, "fetched": now, "der": text})


def _reason(e: BaseException) -> str:
    reason = getattr(e, "reason", None) or e
    return " ".join(str(reason).split())[:200] or type(e).__name__


# --------------------------------------------------------------------------- checking (offline)

GOOD, REVOKED, NOT_CHECKED, NO_SOURCE = "good", "revoked", "not checked", "no source"


@dataclass
class Status:
    state: str  # GOOD | REVOKED | NOT_CHECKED | NO_SOURCE
    message: str
    revoked_at: dt.datetime | None = None


def _der_list(data: dict[str, Any] | None, key: str) -> list[tuple[str, bytes]]:
    out = []
    for entry in (data or {}).get(key) or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("der"), str):
            continue
        try:
            out.append((str(entry.get("url", "")), base64.b64decode(entry["der"], validate=True)))
        except (binascii.Error, ValueError):
            continue
    return out


def _current(this_update: dt.datetime, next_update: dt.datetime | None, at: dt.datetime) -> bool:
    """Does data issued at this_update (valid to next_update) speak for the state at `at`?"""
    if at <= this_update <= at + MAX_ISSUED_AFTER:
        return True
    return this_update <= at and (next_update is None or at <= next_update)


def _verify(key: Any, signature: bytes, data: bytes, algorithm: hashes.HashAlgorithm | None) -> bool:
    try:
        if isinstance(key, ec.EllipticCurvePublicKey) and algorithm is not None:
            key.verify(signature, data, ec.ECDSA(algorithm))
        elif isinstance(key, rsa.RSAPublicKey) and algorithm is not None:
            key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            key.verify(signature, data)
        else:
            return False
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return False
    return True


def _ocsp_signed_by_issuer(resp: ocsp.OCSPResponse, issuer: x509.Certificate) -> bool:
    """Signed by the issuer itself, or by a responder certificate the issuer delegated to."""
    candidates = [issuer]
    for cert in resp.certificates:
        try:
            cert.verify_directly_issued_by(issuer)
            eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm, x509.ExtensionNotFound):
            continue
        if ExtendedKeyUsageOID.OCSP_SIGNING in eku:
            candidates.append(cert)
    try:
        algorithm = resp.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return False
    return any(
        _verify(c.public_key(), resp.signature, resp.tbs_response_bytes, algorithm) for c in candidates
    )


def _from_ocsp(cert: x509.Certificate, issuer: x509.Certificate, at: dt.datetime,
               data: dict[str, Any] | None) -> list[Status]:
    found = []
    for url, der in _der_list(data, "ocsp"):
        try:
            resp = ocsp.load_der_ocsp_response(der)
            if resp.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
                continue
            singles = list(resp.responses)
        except (ValueError, TypeError):
            continue
        for single in singles:
            try:
                want = ocsp.OCSPRequestBuilder().add_certificate(
                    cert, issuer, single.hash_algorithm).build()
            except (ValueError, TypeError, UnsupportedAlgorithm):
                continue
            if (single.serial_number, single.issuer_key_hash, single.issuer_name_hash) != (
                want.serial_number, want.issuer_key_hash, want.issuer_name_hash
            ):
                continue
            if not _ocsp_signed_by_issuer(resp, issuer):
                continue
            if not _current(single.this_update_utc, single.next_update_utc, at):
                continue
            where = f"OCSP response of {iso(single.this_update_utc)} from {url or 'the responder'}"
            found.append(_judge(single.certificate_status == ocsp.OCSPCertStatus.REVOKED,
                                single.certificate_status == ocsp.OCSPCertStatus.GOOD,
                                single.revocation_time_utc if single.certificate_status ==
                                ocsp.OCSPCertStatus.REVOKED else None, at, where))
    return [s for s in found if s is not None]


def _from_crls(cert: x509.Certificate, issuer: x509.Certificate, at: dt.datetime,
               data: dict[str, Any] | None) -> list[Status]:
    found = []
    for url, der in _der_list(data, "crls"):
        try:
            crl = x509.load_der_x509_crl(der)
            if crl.issuer != cert.issuer or not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
                continue
            this_update, next_update = crl.last_update_utc, crl.next_update_utc
            entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            continue
        if not _current(this_update, next_update, at):
            continue
        where = f"CRL of {iso(this_update)} from {url or 'the CA'}"
        status = _judge(entry is not None, entry is None,
                        entry.revocation_date_utc if entry is not None else None, at, where)
        if status is not None:
            found.append(status)
    return found


def _judge(revoked: bool, good: bool, when: dt.datetime | None, at: dt.datetime,
           where: str) -> Status | None:
    if revoked and when is not None and when <= at:
        return Status(REVOKED, f"revoked on {iso(when)}, before {iso(at)} ({where})", when)
    if revoked and when is not None:
        return Status(GOOD, f"not revoked at {iso(at)} (revoked later, on {iso(when)}; {where})", when)
    if good:
        return Status(GOOD, f"not revoked at {iso(at)} ({where})")
    return None


def status(
    cert: x509.Certificate,
    issuer: x509.Certificate | None,
    at: dt.datetime,
    data: dict[str, Any] | None,
) -> Status:
    """Was `cert` revoked at `at`, according to the stored data alone?"""
    name = f"'{keys.subject_name(cert)}'"
    crl_urls, ocsp_urls = sources(cert)
    if not crl_urls and not ocsp_urls:
        return Status(NO_SOURCE, f"revocation not checked for {name}: it names no CRL or OCSP responder")
    if issuer is None:
        return Status(NOT_CHECKED, f"revocation not checked for {name}: its issuer is not known here")
    found = _from_ocsp(cert, issuer, at, data) + _from_crls(cert, issuer, at, data)
    for s in found:
        if s.state == REVOKED:
            return Status(REVOKED, f"{name} was {s.message}", s.revoked_at)
    if found:
        return Status(GOOD, f"{name} {found[0].message}")
    named = ", ".join([*ocsp_urls, *crl_urls][:2])
    failed = [e for e in (data or {}).get("unavailable") or []
              if isinstance(e, dict) and e.get("url") in (*ocsp_urls, *crl_urls)]
    if failed:
        why = (f"fetching it failed when it was signed ({failed[-1].get('url')}: "
               f"{str(failed[-1].get('reason', ''))[:120]})")
    elif not (data or {}).get("crls") and not (data or {}).get("ocsp"):
        why = "no revocation data was stored when it was signed"
    else:
        why = "none of the stored CRLs or OCSP responses is signed by its issuer and current at that time"
    return Status(NOT_CHECKED, f"revocation not checked for {name} (it names {named}): {why}")

"""Trusted roots: which signers and which TSAs a verifier believes. Nothing is trusted implicitly.

A trusted-roots file is plain text holding any mix of
  * PEM certificates (a root CA, or a self-managed signer's own certificate), and
  * SHA-256 certificate fingerprints, one per line, as 64 hex digits, optionally prefixed with
    `sha256:` and/or written with colons (the form `openssl x509 -fingerprint -sha256` prints);
`#` starts a comment. A fingerprint trusts a certificate that the signed file carries itself,
so a verifier can pin a root without holding its PEM.

Webrecorder's authsign keeps its trust in a YAML file, `roots.yaml`, with two lists of SHA-256
fingerprints, `domain_cert_roots` (signers) and `timestamp_cert_roots` (TSAs). Such a file is
accepted wherever a trusted-roots file is: signers take its domain roots, TSAs its timestamp
roots.

Chains are built and checked by `cryptography`'s X.509 verifier (RFC 5280 path building) at the
time that matters: the TSA's time when there is a verified timestamp, else now.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.x509 import verification

from bewaar.errors import InputError
from signing import files, keys

_FINGERPRINT = re.compile(r"^(?:sha-?256[:=]\s*)?((?:[0-9a-f]{2}:?){31}[0-9a-f]{2})$", re.I)


@dataclass
class TrustStore:
    path: Path | None = None
    certificates: list[x509.Certificate] = field(default_factory=list)
    fingerprints: set[str] = field(default_factory=set)
    authsign: bool = False  # read from an authsign roots.yaml (fingerprints only)

    @property
    def empty(self) -> bool:
        return not self.certificates and not self.fingerprints

    def trusts(self, cert: x509.Certificate) -> bool:
        fp = keys.fingerprint(cert)
        return fp in self.fingerprints or any(keys.fingerprint(c) == fp for c in self.certificates)

    def anchors(self, presented: list[x509.Certificate]) -> list[x509.Certificate]:
        """PEM roots from the file, plus presented certificates whose fingerprint is pinned."""
        out = list(self.certificates)
        seen = {keys.fingerprint(c) for c in out}
        for cert in presented:
            fp = keys.fingerprint(cert)
            if fp in self.fingerprints and fp not in seen:
                out.append(cert)
                seen.add(fp)
        return out

    def describe(self) -> str:
        where = str(self.path) if self.path else "(no file)"
        return f"{where}: {len(self.certificates)} certificate(s), {len(self.fingerprints)} fingerprint(s)"


def parse_fingerprint(text: str) -> str | None:
    m = _FINGERPRINT.match(text.strip())
    return m.group(1).replace(":", "").lower() if m else None


AUTHSIGN_KEYS = {"signer": "domain_cert_roots", "tsa": "timestamp_cert_roots"}
MAX_TRUST_FILE = 16 * 1024 * 1024


def _authsign_roots(text: str) -> dict[str, Any] | None:
    """The mapping of an authsign roots.yaml, or None when the text is not one."""
    if "domain_cert_roots" not in text and "timestamp_cert_roots" not in text:
        return None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if isinstance(data, dict) and set(AUTHSIGN_KEYS.values()) & set(data):
        return data
    return None


def _read_authsign(store: TrustStore, path: Path, data: dict[str, Any], role: str) -> TrustStore:
    key = AUTHSIGN_KEYS[role]
    entries = data.get(key) or []
    if not isinstance(entries, list):
        raise InputError(f"{path}: {key} is not a list of fingerprints")
    for entry in entries:
        fp = parse_fingerprint(str(entry))
        if fp is None:
            raise InputError(f"{path}: {key}: {str(entry)[:40]!r} is not a SHA-256 fingerprint")
        store.fingerprints.add(fp)
    store.authsign = True
    return store


def _read_lines(store: TrustStore, path: Path, text: str) -> TrustStore:
    """bewaar's own format: PEM certificates and fingerprints, `#` comments."""
    pem_block: list[str] | None = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if pem_block is not None:
            pem_block.append(line)
            if line.startswith("-----END CERTIFICATE-----"):
                try:
                    store.certificates.append(
                        x509.load_pem_x509_certificate("\n".join(pem_block).encode("ascii"))
                    )
                except ValueError:
                    raise InputError(f"{path}:{lineno}: not a valid PEM certificate") from None
                pem_block = None
            continue
        if line.startswith("-----BEGIN CERTIFICATE-----"):
            pem_block = [line]
            continue
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        fp = parse_fingerprint(line)
        if fp is None:
            raise InputError(
                f"{path}:{lineno}: expected a PEM certificate or a SHA-256 fingerprint "
                f"(64 hex digits), found {line[:40]!r}"
            )
        store.fingerprints.add(fp)
    if pem_block is not None:
        raise InputError(f"{path}: a PEM certificate is not closed with -----END CERTIFICATE-----")
    return store


def load_trust(path: Path | None, role: str = "signer") -> TrustStore:
    """A missing file is an empty store (then every chain fails, with a message saying so).
    `role` ("signer" or "tsa") picks the list of an authsign roots.yaml."""
    store = TrustStore(path=path)
    if path is None or not path.exists():
        return store
    try:
        text = files.read_bounded(path, MAX_TRUST_FILE, "trusted-roots file").decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: cannot read the trusted-roots file: {e}") from None
    authsign = _authsign_roots(text)
    if authsign is not None:
        return _read_authsign(store, path, authsign, role)
    return _read_lines(store, path, text)


def add_trusted(path: Path, cert: x509.Certificate, why: str) -> bool:
    """Append a certificate (PEM, with a comment naming it) unless it is already trusted."""
    store = load_trust(path)
    if store.authsign:
        raise InputError(
            f"{path} is an authsign roots.yaml: add the fingerprint sha256:{keys.fingerprint(cert)} "
            "to it by hand (bewaar only appends to its own trusted-roots files)"
        )
    if store.trusts(cert):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    header = "" if path.exists() and path.stat().st_size else (
        "# bewaar trusted roots: PEM certificates and/or SHA-256 fingerprints (one per line)\n"
    )
    entry = (
        f"\n# {keys.subject_name(cert)} -- {why}\n"
        f"# sha256:{keys.fingerprint(cert)}  added {keys.utcnow():%Y-%m-%dT%H:%M:%SZ}\n"
        + keys.certs_pem([cert]).decode("ascii")
    )
    with path.open("a", encoding="utf-8") as fh:
        fh.write(header + entry)
    return True


# --------------------------------------------------------------------------- chains

# Government and corporate CAs vary in their extensions; require only what makes a CA a CA
# (basicConstraints, which the verifier then checks for cA=TRUE) and leave the rest permissive.
_CA_POLICY = verification.ExtensionPolicy.permit_all().require_present(
    x509.BasicConstraints, verification.Criticality.AGNOSTIC, None
)
_EE_POLICY = verification.ExtensionPolicy.permit_all()


@dataclass
class ChainResult:
    ok: bool
    message: str
    chain: list[x509.Certificate] = field(default_factory=list)


def verify_chain(
    leaf: x509.Certificate,
    presented: list[x509.Certificate],
    store: TrustStore,
    at: dt.datetime,
    what: str,
) -> ChainResult:
    """Is `leaf` trusted at time `at`, through `presented` intermediates, by `store`?"""
    name = f"{what} certificate '{keys.subject_name(leaf)}' (sha256 {keys.fingerprint(leaf)[:16]}...)"
    if store.empty:
        where = store.path or "the trusted-roots file"
        return ChainResult(False, f"no trusted {what} roots are configured ({where} is empty or missing)")
    anchors = store.anchors([leaf, *presented])
    if not anchors:
        return ChainResult(
            False, f"{name} does not chain to a trusted {what} root (trusted: {store.describe()})"
        )
    intermediates = [c for c in presented if keys.fingerprint(c) != keys.fingerprint(leaf)]
    try:
        verifier = (
            verification.PolicyBuilder()
            .store(verification.Store(anchors))
            .time(at)
            .extension_policies(ca_policy=_CA_POLICY, ee_policy=_EE_POLICY)
            .build_client_verifier()
        )
        verified = verifier.verify(leaf, intermediates)
    except verification.VerificationError as e:
        reason = str(e)
        if "not valid at validation time" in reason:
            return ChainResult(
                False, f"{name} (or its issuer) was not valid at {at:%Y-%m-%dT%H:%M:%SZ}"
            )
        return ChainResult(
            False, f"{name} does not chain to a trusted {what} root ({store.describe()})"
        )
    except ValueError as e:
        return ChainResult(False, f"{name} cannot be checked: {e}")
    chain = list(verified.chain)
    root = chain[-1]
    return ChainResult(
        True,
        f"{name} chains to trusted root '{keys.subject_name(root)}' (sha256 {keys.fingerprint(root)[:16]}...)",
        chain,
    )

"""Signing identities: an ECDSA key and the certificate chain that says whose key it is.

Two kinds of identity exist. A self-managed one is a key with a self-signed certificate that
`bewaar keys init` (or the first crawl) makes; a verifier must be told to trust that very
certificate. An organisation's identity is a key plus a chain issued by its own PKI (for example
a government CA); a verifier then trusts the organisation's root.

Private keys are written with 0600 permissions, never into collections/, and never overwritten.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from bewaar.errors import BewaarError, InputError
from signing.times import utcnow

SUPPORTED_CURVES = (ec.SECP256R1, ec.SECP384R1)
SELF_MANAGED_YEARS = 10
# Issued a little in the past so that a signature made the same second is inside validity
# even when the clock moves by a second (authsign checks not_valid_before <= created).
BACKDATE = dt.timedelta(minutes=5)
PASSPHRASE_ENV = "BEWAAR_KEY_PASSPHRASE"


@dataclass(frozen=True)
class Identity:
    """A private key and its certificate chain, leaf first."""

    key: ec.EllipticCurvePrivateKey
    chain: list[x509.Certificate]

    @property
    def certificate(self) -> x509.Certificate:
        return self.chain[0]

    def chain_pem(self) -> str:
        return "".join(c.public_bytes(serialization.Encoding.PEM).decode("ascii") for c in self.chain)


def load_pem_chain(pem: str) -> list[x509.Certificate]:
    """Certificates from PEM text found in a signed file ([] when there are none or it is not PEM)."""
    try:
        return x509.load_pem_x509_certificates(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        return []


def fingerprint(cert: x509.Certificate) -> str:
    """SHA-256 over the DER certificate, lowercase hex: the form authsign's roots.yaml uses."""
    return cert.fingerprint(hashes.SHA256()).hex()


def subject_name(cert: x509.Certificate) -> str:
    """The CN, else the first DNS name: the `domain` authsign compares against."""
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if cns:
        value = cns[0].value
        return value.decode("utf-8") if isinstance(value, bytes) else value
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return ""
    names = san.value.get_values_for_type(x509.DNSName)
    return names[0] if names else ""


def new_key(curve: ec.EllipticCurve | None = None) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(curve or ec.SECP256R1())


def build_name(common_name: str, organisation: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organisation:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation))
    return x509.Name(attrs)


def issue_certificate(
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    issuer_key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None = None,
    *,
    ca: bool = False,
    timestamping: bool = False,
    days: int = 365 * SELF_MANAGED_YEARS,
    not_before: dt.datetime | None = None,
) -> x509.Certificate:
    """One X.509 v3 certificate; self-signed when `issuer` is None.

    Extensions follow RFC 5280 profiles closely enough for strict verifiers: CAs get
    basicConstraints/keyCertSign, signers get digitalSignature + nonRepudiation, and a TSA gets
    the critical id-kp-timeStamping EKU that RFC 3161 section 2.3 requires.
    """
    start = not_before or (utcnow() - BACKDATE)
    issuer_name = issuer.subject if issuer else subject
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )
    authority_key = issuer.public_key() if issuer else public_key
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(authority_key),  # type: ignore[arg-type]
        critical=False,
    )
    builder = builder.add_extension(
        x509.KeyUsage(
            digital_signature=not ca,
            content_commitment=not ca and not timestamping,
            key_encipherment=False,
            data_encipherment=False,
            key_agreement=False,
            key_cert_sign=ca,
            crl_sign=ca,
            encipher_only=False,
            decipher_only=False,
        ),
        critical=True,
    )
    if timestamping:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
        )
    return builder.sign(issuer_key, hashes.SHA256())


def self_managed_identity(common_name: str, organisation: str | None = None) -> Identity:
    key = new_key()
    cert = issue_certificate(build_name(common_name, organisation), key.public_key(), key)
    return Identity(key, [cert])


def default_common_name() -> str:
    return f"bewaar self-managed signing key ({socket.gethostname()})"


# --------------------------------------------------------------------------- files


def key_pem_plain(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    """PKCS#8 PEM, encrypted when BEWAAR_KEY_PASSPHRASE is set (unattended crawls leave it unset)."""
    passphrase = os.environ.get(PASSPHRASE_ENV)
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase.encode("utf-8"))
        if passphrase
        else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def write_private(path: Path, data: bytes) -> None:
    """Create a file readable by its owner only; refuse to replace an existing key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InputError(f"{path} already exists: keys are never overwritten") from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o600)  # the umask may have narrowed it further; make it exact


def write_public(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def certs_pem(certs: list[x509.Certificate]) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def load_certificates(path: Path) -> list[x509.Certificate]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: certificate file not found") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}") from None
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        try:
            certs = [x509.load_der_x509_certificate(data)]
        except ValueError:
            raise InputError(f"{path}: not a PEM or DER certificate file") from None
    return certs


def load_private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BewaarError(
            f"no signing key at {path}: run `bewaar keys init` (or set signing.key in bewaar.yaml)"
        ) from None
    except OSError as e:
        raise BewaarError(f"{path}: cannot read the signing key: {e.strerror}") from None
    passphrase = os.environ.get(PASSPHRASE_ENV)
    try:
        key = serialization.load_pem_private_key(
            data, password=passphrase.encode("utf-8") if passphrase else None
        )
    except TypeError:
        raise BewaarError(
            f"{path}: the key is encrypted: set {PASSPHRASE_ENV} to its passphrase"
        ) from None
    except ValueError:
        raise BewaarError(
            f"{path}: not a readable PEM private key (or wrong {PASSPHRASE_ENV})"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(
        key.curve, SUPPORTED_CURVES
    ):
        raise BewaarError(
            f"{path}: signing keys must be ECDSA P-256 or P-384 (WACZ signing supports only ECDSA)"
        )
    return key


def check_pair(key: ec.EllipticCurvePrivateKey, chain: list[x509.Certificate], where: str) -> None:
    """The key must belong to the leaf certificate and each certificate must be issued by the next."""
    if not chain:
        raise InputError(f"{where}: no certificate found")
    leaf_key = chain[0].public_key()
    if not isinstance(leaf_key, ec.EllipticCurvePublicKey) or leaf_key.public_numbers() != (
        key.public_key().public_numbers()
    ):
        raise InputError(f"{where}: the first certificate does not belong to the private key")
    for child, parent in zip(chain, chain[1:], strict=False):
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature):
            raise InputError(
                f"{where}: certificate '{subject_name(child)}' is not issued by the next one "
                f"('{subject_name(parent)}'): order the chain leaf first, root last"
            ) from None


def load_identity(key_path: Path, cert_path: Path) -> Identity:
    key = load_private_key(key_path)
    if not cert_path.exists():
        raise BewaarError(
            f"no signing certificate at {cert_path}: run `bewaar keys init` "
            "(or set signing.certificate in bewaar.yaml)"
        )
    chain = load_certificates(cert_path)
    check_pair(key, chain, str(cert_path))
    return Identity(key, chain)

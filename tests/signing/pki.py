"""A test PKI with a past: CAs whose certificates have any validity window, CRLs and OCSP
answers served on 127.0.0.1, and a TSA whose clock can be set to any time.

Long-term validation is about certificates that expire and are revoked years after a signature
was made. Tests cannot wait years, so the certificates are made with windows in the past and
the TSA answers with a genTime in the past: real X.509, real CRLs (cryptography), real OCSP
(cryptography's builder), real RFC 3161 tokens (TSTInfo encoded with pyasn1-modules, signed as
CMS by `openssl cms`), just dated differently. Nobody sleeps.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyasn1.codec.der import decoder, encoder
from pyasn1.type import univ, useful
from pyasn1_modules import rfc3161, rfc5652

from signing import keys
from signing.tsa_server import POLICY_OID, LocalTSA, _openssl

NOW = keys.utcnow().replace(microsecond=0)
DAY = dt.timedelta(days=1)
YEAR = dt.timedelta(days=365)


def name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "bewaar test PKI")])


@dataclass
class Issued:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    def key_pem(self) -> bytes:
        return keys.key_pem_plain(self.key)

    def cert_pem(self) -> bytes:
        return keys.certs_pem([self.cert])


@dataclass
class CA:
    """A CA that issues certificates with chosen windows, names its CRL and OCSP URLs in them
    (when a RevocationServer serves it), and revokes on demand."""

    cn: str
    not_before: dt.datetime = NOW - 20 * YEAR
    not_after: dt.datetime = NOW + 20 * YEAR
    parent: CA | None = None
    crl_url: str | None = None
    ocsp_url: str | None = None
    revoked: dict[int, dt.datetime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.key = keys.new_key()
        issuer = self.parent
        self.cert = self._build(
            name(self.cn), self.key.public_key(), self.not_before, self.not_after, ca=True,
            issuer_name=issuer.cert.subject if issuer else name(self.cn),
            issuer_key=issuer.key if issuer else self.key,
            urls=(issuer.crl_url, issuer.ocsp_url) if issuer else (None, None),
        )

    @staticmethod
    def _build(subject: x509.Name, public_key: ec.EllipticCurvePublicKey, not_before: dt.datetime,
               not_after: dt.datetime, *, ca: bool, issuer_name: x509.Name,
               issuer_key: ec.EllipticCurvePrivateKey, urls: tuple[str | None, str | None],
               timestamping: bool = False, ocsp_signing: bool = False) -> x509.Certificate:
        b = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer_name)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                           critical=False)
            .add_extension(x509.KeyUsage(
                digital_signature=not ca, content_commitment=not ca and not timestamping,
                key_encipherment=False, data_encipherment=False, key_agreement=False,
                key_cert_sign=ca, crl_sign=ca, encipher_only=False, decipher_only=False),
                critical=True)
        )
        if timestamping:
            b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        if ocsp_signing:
            b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
        crl_url, ocsp_url = urls
        if crl_url:
            b = b.add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
                [x509.UniformResourceIdentifier(crl_url)], None, None, None)]), critical=False)
        if ocsp_url:
            b = b.add_extension(x509.AuthorityInformationAccess([x509.AccessDescription(
                x509.AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url))]),
                critical=False)
        return b.sign(issuer_key, hashes.SHA256())

    def issue(self, cn: str, *, not_before: dt.datetime, not_after: dt.datetime, ca: bool = False,
              timestamping: bool = False, ocsp_signing: bool = False) -> Issued:
        key = keys.new_key()
        cert = self._build(name(cn), key.public_key(), not_before, not_after, ca=ca,
                           issuer_name=self.cert.subject, issuer_key=self.key,
                           urls=(self.crl_url, self.ocsp_url), timestamping=timestamping,
                           ocsp_signing=ocsp_signing)
        return Issued(key, cert)

    def revoke(self, cert: x509.Certificate, when: dt.datetime) -> None:
        self.revoked[cert.serial_number] = when

    def crl(self, this_update: dt.datetime | None = None) -> bytes:
        this_update = this_update or keys.utcnow()
        b = (x509.CertificateRevocationListBuilder().issuer_name(self.cert.subject)
             .last_update(this_update).next_update(this_update + 7 * DAY))
        for serial, when in self.revoked.items():
            b = b.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build())
        return b.sign(self.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def ocsp(self, request_der: bytes, issued: dict[int, x509.Certificate],
             this_update: dt.datetime | None = None) -> bytes:
        req = ocsp.load_der_ocsp_request(request_der)
        cert = issued.get(req.serial_number)
        if cert is None:
            return ocsp.OCSPResponseBuilder.build_unsuccessful(
                ocsp.OCSPResponseStatus.UNAUTHORIZED).public_bytes(serialization.Encoding.DER)
        this_update = this_update or keys.utcnow()
        when = self.revoked.get(cert.serial_number)
        b = ocsp.OCSPResponseBuilder().add_response(
            cert=cert, issuer=self.cert, algorithm=hashes.SHA1(),
            cert_status=ocsp.OCSPCertStatus.REVOKED if when else ocsp.OCSPCertStatus.GOOD,
            this_update=this_update, next_update=this_update + 7 * DAY,
            revocation_time=when, revocation_reason=x509.ReasonFlags.key_compromise if when else None,
        ).responder_id(ocsp.OCSPResponderEncoding.HASH, self.cert)
        return b.sign(self.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


class RevocationServer:
    """Serves each registered CA's CRL (GET /crl/NAME) and OCSP (POST /ocsp/NAME) on 127.0.0.1."""

    def __init__(self) -> None:
        self.cas: dict[str, CA] = {}
        self.issued: dict[int, x509.Certificate] = {}
        self.requests: list[str] = []
        self.down = False
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                server.requests.append(self.path)
                ca = server.cas.get(self.path.removeprefix("/crl/"))
                if server.down or ca is None:
                    self._send(503 if server.down else 404, b"")
                    return
                self._send(200, ca.crl(), "application/pkix-crl")

            def do_POST(self) -> None:  # noqa: N802
                server.requests.append(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                ca = server.cas.get(self.path.removeprefix("/ocsp/"))
                if server.down or ca is None:
                    self._send(503 if server.down else 404, b"")
                    return
                self._send(200, ca.ocsp(body, server.issued), "application/ocsp-response")

            def _send(self, status: int, body: bytes, ctype: str = "text/plain") -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def ca(self, cn: str, *, crl: bool = True, ocsp_: bool = True, **kw: object) -> CA:
        """A CA whose certificates name this server's CRL and/or OCSP URLs for it."""
        ca = CA(cn, **kw)  # type: ignore[arg-type]
        slug = cn.replace(" ", "-").lower()
        ca.crl_url = f"{self.base}/crl/{slug}" if crl else None
        ca.ocsp_url = f"{self.base}/ocsp/{slug}" if ocsp_ else None
        self.cas[slug] = ca
        return ca

    def remember(self, *certs: x509.Certificate) -> None:
        for c in certs:
            self.issued[c.serial_number] = c

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class BackdatedTSA(LocalTSA):
    """An RFC 3161 TSA over HTTP whose certificate comes from a CA and whose genTime is
    `self.clock` (settable; None: the real time), so tokens can be made at any time in a
    certificate's past window.

    TSTInfo is built with pyasn1-modules and signed by `openssl cms -sign -cades` (CMS with the
    ESS signing-certificate attribute RFC 3161 asks for), since `openssl ts -reply` always uses
    the current time."""

    def __init__(self, state_dir: Path, ca: CA, tsa_name: str, *, not_before: dt.datetime,
                 not_after: dt.datetime, clock: dt.datetime | None,
                 chain: list[x509.Certificate] | None = None) -> None:
        super().__init__(state_dir, tsa_name)
        self.ca = ca
        self.issued = ca.issue(tsa_name, not_before=not_before, not_after=not_after, timestamping=True)
        self.clock = clock
        self.extra_chain = chain or []
        self.serial = 1

    @property
    def certificate(self) -> x509.Certificate:
        return self.issued.cert

    def ensure_certificates(self) -> None:
        d = self.state_dir
        d.mkdir(parents=True, exist_ok=True)
        (d / "tsa-key.pem").write_bytes(self.issued.key_pem())
        keys.write_public(self.cert_path, self.issued.cert_pem())
        keys.write_public(self.root_cert_path, keys.certs_pem([self.ca.cert]))
        keys.write_public(self.chain_path, keys.certs_pem([self.issued.cert, *self.extra_chain]))

    def reply(self, query: bytes) -> bytes:
        req, _ = decoder.decode(query, asn1Spec=rfc3161.TimeStampReq())
        info = rfc3161.TSTInfo()
        info["version"] = 1
        info["policy"] = univ.ObjectIdentifier(POLICY_OID)
        info["messageImprint"] = req["messageImprint"]
        with self._lock:
            self.serial += 1
            info["serialNumber"] = self.serial
        when = self.clock or keys.utcnow()  # None: the real time, as a live TSA
        info["genTime"] = useful.GeneralizedTime(when.strftime("%Y%m%d%H%M%SZ"))
        if req["nonce"].isValue:
            info["nonce"] = req["nonce"]
        with tempfile.TemporaryDirectory(dir=self.state_dir) as tmp:
            src, out = Path(tmp) / "tst.der", Path(tmp) / "token.der"
            src.write_bytes(encoder.encode(info))
            cmd = [_openssl(), "cms", "-sign", "-binary", "-nodetach", "-outform", "DER",
                   "-econtent_type", "1.2.840.113549.1.9.16.1.4", "-md", "sha256", "-cades",
                   "-nosmimecap", "-signer", str(self.cert_path),
                   "-inkey", str(self.state_dir / "tsa-key.pem"), "-in", str(src), "-out", str(out)]
            if not bool(req["certReq"]):
                cmd.append("-nocerts")
            proc = subprocess.run(cmd, capture_output=True, timeout=30, check=False)
            if proc.returncode != 0:
                raise ValueError(proc.stderr.decode("utf-8", "replace")[:300])
            token, _ = decoder.decode(out.read_bytes(), asn1Spec=rfc5652.ContentInfo())
        resp = rfc3161.TimeStampResp()
        resp["status"]["status"] = 0
        resp["timeStampToken"] = token
        self.requests += 1
        return encoder.encode(resp)


class Closing:
    """Context manager for several servers at once."""

    def __init__(self, *things: object) -> None:
        self.things = things

    def __enter__(self) -> Closing:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        for thing in self.things:
            for stop in ("stop", "close"):
                if hasattr(thing, stop):
                    getattr(thing, stop)()
                    break

"""A real RFC 3161 Time Stamping Authority on 127.0.0.1, for tests and `bewaar demo`.

The ASN.1 work (TimeStampReq in, signed TimeStampResp out) is done by `openssl ts -reply`, a
maintained implementation; this module only adds what openssl lacks: a tiny HTTP endpoint
(RFC 3161 section 3.4, POST application/timestamp-query) and a test CA that issues the TSA
certificate with the critical id-kp-timeStamping EKU.

The token carries the TSA certificate itself (certReq / ESSCertIDv2) and, by default, not the
chain: verifiers get the root from their trust file. `embed_chain=True` adds the root to every
token, as public TSAs such as freetsa.org do (what authsign then hands on as `timestampCert`).

    with LocalTSA(state_dir) as tsa:
        url = tsa.url                   # http://127.0.0.1:PORT/
        tsa.root_cert_path              # trust this as a TSA root
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

from cryptography import x509

from bewaar.errors import EnvironmentProblem
from signing import keys

MAX_QUERY = 64 * 1024
POLICY_OID = "1.3.6.1.4.1.57264.99.1"  # a private-arc OID naming "bewaar local test TSA"

_CONFIG = """\
[ tsa ]
default_tsa = bewaar_tsa

[ bewaar_tsa ]
dir = {dir}
serial = $dir/serial
crypto_device = builtin
signer_cert = $dir/tsa-cert.pem
signer_key = $dir/tsa-key.pem
signer_digest = sha256
default_policy = {policy}
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
{extra}"""


def _openssl() -> str:
    exe = shutil.which("openssl")
    if not exe:
        raise EnvironmentProblem(
            "openssl not found: install it (apt-get install openssl) to run the local TSA"
        )
    return exe


class LocalTSA:
    """A TSA with its own root CA, kept in `state_dir` so restarts keep the same root."""

    def __init__(self, state_dir: Path, name: str = "bewaar local test TSA", *,
                 embed_chain: bool = False) -> None:
        self.state_dir = Path(state_dir)
        self.name = name
        self.embed_chain = embed_chain
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # openssl updates the serial file: one reply at a time
        self.requests = 0

    # ------------------------------------------------------------------ certificates

    @property
    def root_cert_path(self) -> Path:
        return self.state_dir / "tsa-root.pem"

    @property
    def cert_path(self) -> Path:
        return self.state_dir / "tsa-cert.pem"

    @property
    def chain_path(self) -> Path:
        """TSA certificate then its root: the `timestampCert` form WACZ signing uses."""
        return self.state_dir / "tsa-chain.pem"

    def ensure_certificates(self) -> None:
        d = self.state_dir
        if self.cert_path.exists() and (d / "tsa-key.pem").exists() and self.root_cert_path.exists():
            # the directory may have moved since: openssl needs its current absolute path
            self._write_config()
            if not (d / "serial").exists():
                (d / "serial").write_text("01\n")
            return
        d.mkdir(parents=True, exist_ok=True)
        root_key = keys.new_key()
        root = keys.issue_certificate(
            keys.build_name(f"{self.name} root CA", "bewaar tests"),
            root_key.public_key(),
            root_key,
            ca=True,
        )
        tsa_key = keys.new_key()
        tsa = keys.issue_certificate(
            keys.build_name(self.name, "bewaar tests"),
            tsa_key.public_key(),
            root_key,
            root,
            timestamping=True,
        )
        for path in (d / "tsa-key.pem", d / "tsa-root-key.pem"):
            path.unlink(missing_ok=True)
        keys.write_private(d / "tsa-root-key.pem", keys.key_pem_plain(root_key))
        keys.write_private(d / "tsa-key.pem", keys.key_pem_plain(tsa_key))
        keys.write_public(self.root_cert_path, keys.certs_pem([root]))
        keys.write_public(self.cert_path, keys.certs_pem([tsa]))
        keys.write_public(self.chain_path, keys.certs_pem([tsa, root]))
        (d / "serial").write_text("01\n")
        self._write_config()

    def _write_config(self) -> None:
        d = self.state_dir
        extra = "certs = $dir/tsa-root.pem\n" if self.embed_chain else ""
        (d / "openssl-ts.cnf").write_text(_CONFIG.format(dir=d.resolve(), policy=POLICY_OID, extra=extra))

    @property
    def root_certificate(self) -> x509.Certificate:
        return keys.load_certificates(self.root_cert_path)[0]

    # ------------------------------------------------------------------ replies

    def reply(self, query: bytes) -> bytes:
        """A DER TimeStampResp for a DER TimeStampReq (a rejection response if it is bad)."""
        with self._lock, tempfile.TemporaryDirectory(dir=self.state_dir) as tmp:
            q = Path(tmp) / "query.tsq"
            r = Path(tmp) / "reply.tsr"
            q.write_bytes(query)
            proc = subprocess.run(
                [
                    _openssl(),
                    "ts",
                    "-reply",
                    "-config",
                    str(self.state_dir / "openssl-ts.cnf"),
                    "-queryfile",
                    str(q),
                    "-out",
                    str(r),
                ],
                capture_output=True,
                timeout=30,
                check=False,
            )
            if proc.returncode != 0 or not r.exists():
                raise ValueError(proc.stderr.decode("utf-8", "replace").strip()[:300])
            self.requests += 1
            return r.read_bytes()

    # ------------------------------------------------------------------ server

    def start(self, port: int = 0) -> str:
        self.ensure_certificates()
        tsa = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                if self.headers.get_content_type() != "application/timestamp-query":
                    self._send(415, "text/plain", b"expected application/timestamp-query\n")
                    return
                if not 0 < length <= MAX_QUERY:
                    self._send(413, "text/plain", b"query missing or too large\n")
                    return
                try:
                    body = tsa.reply(self.rfile.read(length))
                except (ValueError, subprocess.TimeoutExpired) as e:
                    self._send(400, "text/plain", f"bad timestamp query: {e}\n".encode())
                    return
                self._send(200, "application/timestamp-reply", body)

            def do_GET(self) -> None:  # noqa: N802
                self._send(200, "text/plain", f"{tsa.name}: POST RFC 3161 queries here\n".encode())

            def _send(self, status: int, ctype: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        try:
            self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        except OSError as e:
            raise EnvironmentProblem(f"cannot start the local TSA on 127.0.0.1:{port}: {e.strerror}") from None
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-tsa", daemon=True)
        self._thread.start()
        return self.url

    @property
    def url(self) -> str:
        if not self._server:
            raise RuntimeError("the local TSA is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}/"

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> LocalTSA:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

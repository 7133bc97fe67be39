"""Interoperability with Webrecorder's signing: packages signed by authsign's own Signer (the
code behind browsertrix-crawler's signed WACZs) against a local test CA and the local TSA, and
anonymous signatures made with WebCrypto as ArchiveWeb.page makes them.

For every domain-signed package, `bewaar verify` must reach the verdict authsign's own Verifier
reaches with the same trust roots (given to both as authsign's roots.yaml), and name the
failing step in its own words. For the anonymous form, the verdict of WebCrypto's check, done
the way wabac.js (ReplayWeb.page) does it.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import subprocess
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import playwright
import pytest
import yaml
from authsign.model import SignReq
from authsign.signer import Signer
from authsign.verifier import Verifier
from cryptography.hazmat.primitives import serialization

from bewaar.config import load_root_config
from signing import keys, trust, verify, wacz
from signing.report import FAIL, PASS, UNSIGNED, WARN, Report
from signing.tsa_server import LocalTSA
from tests.signing.conftest import make_root
from tests.signing.helpers import run, write_warc
from tests.signing.pki import CA, NOW, Issued

NODE = Path(playwright.__file__).parent / "driver" / "node"
WEBCRYPTO = Path(__file__).with_name("webcrypto_anon.mjs")
DOMAIN = "archive.example.org"


@dataclass
class World:
    tsa: LocalTSA
    ca: CA
    leaf: Issued
    package: Path  # a valid bewaar-made package whose signedData the tests replace
    dp_hash: str
    created: str
    roots: Path  # authsign roots.yaml trusting the test CA and the TSA root
    tmp: Path
    bewaar_package: Path  # the package as bewaar made it (signed by bewaar, with signatures/)

    def sign(self, name: str, *, domain: str = DOMAIN, leaf: Issued | None = None,
             hash_: str | None = None, cert_duration: dt.timedelta | None = None,
             cross: Issued | None = None) -> dict[str, Any]:
        """signedData from authsign's own Signer, loaded with our key and certificate."""
        leaf = leaf or self.leaf
        d = self.tmp / f"authsign-{name}"
        d.mkdir()
        (d / "private-key.pem").write_bytes(leaf.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase")))
        (d / "cert.pem").write_bytes(keys.certs_pem([leaf.cert, self.ca.cert]))
        kw: dict[str, Any] = {}
        if cross is not None:
            (d / "cs-cert.pem").write_bytes(cross.cert_pem())
            csca = CA("cross-signing CA", not_before=NOW - dt.timedelta(days=365))
            (d / "csca-cert.pem").write_bytes(keys.certs_pem([csca.cert]))
            (d / "csca-key.pem").write_bytes(keys.key_pem_plain(csca.key))
            kw = {"csca_cert": str(d / "csca-cert.pem"), "csca_private_key": str(d / "csca-key.pem")}
        signer = Signer(domain, "archivist@example.org", 0, output=str(d),
                        timestamping=[{"url": self.tsa.url}], cert_duration=cert_duration, **kw)
        created = dt.datetime.fromisoformat(self.created.replace("Z", "+00:00"))
        return signer(SignReq(hash=hash_ or self.dp_hash, created=created)).model_dump(mode="json")

    def repackage(self, name: str, signed: dict[str, Any] | None) -> Path:
        out = self.tmp / f"{name}.wacz"
        with zipfile.ZipFile(self.package) as zin, zipfile.ZipFile(out, "w") as zout:
            for info in zin.infolist():
                data = zin.read(info.filename)
                if info.filename == "datapackage-digest.json":
                    doc = {"path": "datapackage.json", "hash": self.dp_hash}
                    if signed is not None:
                        doc["signedData"] = signed
                    data = json.dumps(doc).encode()
                zout.writestr(info, data)
        return out


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("authsign")
    # a TSA that embeds its CA in every token, as freetsa.org does: authsign hands the
    # token's certificates on as timestampCert
    with LocalTSA(tmp / "tsa", "authsign test TSA", embed_chain=True) as tsa:
        ca = CA("Webrecorder test CA")
        leaf = ca.issue(DOMAIN, not_before=NOW - dt.timedelta(hours=1), not_after=NOW + dt.timedelta(days=90))
        s = make_root(tmp / "root", tsa)
        write_warc(s.archive / "20250301120000-a.warc.gz")
        from signing import api

        api.sign_warc(s.archive / "20250301120000-a.warc.gz", s.root, s.cfg)
        own = wacz.package(s.root, s.cfg, "c", tmp / "bewaar.wacz").path
        package = browsertrix_like(own, tmp / "base.wacz")
        with zipfile.ZipFile(package) as z:
            dp = z.read("datapackage.json")
        roots = tmp / "roots.yaml"
        roots.write_text(yaml.safe_dump({
            "domain_cert_roots": [keys.fingerprint(ca.cert)],
            "timestamp_cert_roots": [keys.fingerprint(tsa.root_certificate)],
        }))
        yield World(tsa, ca, leaf, package, "sha256:" + hashlib.sha256(dp).hexdigest(),
                    json.loads(dp)["created"], roots, tmp, own)


def browsertrix_like(src: Path, dst: Path) -> Path:
    """The package as browsertrix-crawler / py-wacz lay it out: no signatures/ directory (the
    capture-time manifests are bewaar's), so only signedData speaks for it."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        dp = json.loads(zin.read("datapackage.json"))
        dp["resources"] = [r for r in dp["resources"] if not r["path"].startswith("signatures/")]
        dp["software"] = "Browsertrix-Crawler (test layout)"
        for info in zin.infolist():
            if info.filename.startswith("signatures/") or info.filename == "datapackage-digest.json":
                continue
            data = json.dumps(dp, indent=2).encode() if info.filename == "datapackage.json" else zin.read(info)
            zout.writestr(info, data)
        zout.writestr("datapackage-digest.json", b"{}")
    return dst


def authsign_accepts(roots: Path, signed: dict[str, Any]) -> bool:
    try:
        Verifier(str(roots))(signed)
    except Exception:  # noqa: BLE001 - authsign fails by AssertionError or by whatever broke
        return False
    return True


def bewaar(world: World, package: Path, roots: Path | None = None) -> Report:
    store = roots or world.roots
    policy = verify.Policy(signer_trust=trust.load_trust(store, "signer"),
                           tsa_trust=trust.load_trust(store, "tsa"))
    return verify.verify_paths([package], policy)


def package_checks(report: Report) -> dict[int, tuple[str, str]]:
    return {c.number: (c.status, c.detail) for c in report.subjects[0].checks}


def same_verdict(world: World, name: str, signed: dict[str, Any], roots: Path | None = None) -> tuple[bool, dict[int, tuple[str, str]]]:
    """Both verifiers on the same signedData and roots; returns (verdict, bewaar's checks)."""
    report = bewaar(world, world.repackage(name, signed), roots)
    theirs = authsign_accepts(roots or world.roots, signed)
    ours = report.exit_code == 0
    assert ours == theirs, f"authsign says {theirs}, bewaar says {ours}: {report.human()}"
    return ours, package_checks(report)


def test_valid_authsign_package(world: World) -> None:
    signed = world.sign("valid")
    assert signed["software"].startswith("authsigner") and signed["domain"] == DOMAIN
    ok, c = same_verdict(world, "valid", signed)
    assert ok and c[3][0] == PASS and c[4][0] == PASS, c
    assert "chains to trusted root 'Webrecorder test CA'" in c[3][1]
    assert "RFC 3161 token by 'authsign test TSA'" in c[4][1]


def test_wrong_domain(world: World) -> None:
    ok, c = same_verdict(world, "domain", world.sign("domain", domain="other.example.org"))
    assert not ok and c[3][0] == FAIL and "'other.example.org' is not the certificate's name" in c[3][1]


def test_signature_over_another_hash(world: World) -> None:
    signed = world.sign("otherhash", hash_="sha256:" + "0" * 64)
    signed["hash"] = world.dp_hash
    ok, c = same_verdict(world, "otherhash", signed)
    assert not ok and c[3][0] == FAIL and "does not verify with the signer certificate" in c[3][1]


def test_timestamp_over_other_data(world: World) -> None:
    signed = world.sign("ts-a")
    other = world.sign("ts-b", hash_="sha256:" + "1" * 64)
    signed["timeSignature"] = other["timeSignature"]
    ok, c = same_verdict(world, "ts", signed)
    assert not ok and c[3][0] == PASS and c[4][0] == FAIL and "token is for other data" in c[4][1]


def test_untrusted_root(world: World, tmp_path: Path) -> None:
    roots = tmp_path / "roots.yaml"
    roots.write_text(yaml.safe_dump({"domain_cert_roots": [keys.fingerprint(CA("someone else").cert)],
                                     "timestamp_cert_roots": [keys.fingerprint(world.tsa.root_certificate)]}))
    ok, c = same_verdict(world, "untrusted", world.sign("untrusted"), roots)
    assert not ok and c[3][0] == FAIL and "does not chain to a trusted signer root" in c[3][1]


def test_untrusted_timestamp_root(world: World, tmp_path: Path) -> None:
    roots = tmp_path / "roots.yaml"
    roots.write_text(yaml.safe_dump({"domain_cert_roots": [keys.fingerprint(world.ca.cert)],
                                     "timestamp_cert_roots": ["ab" * 32]}))
    ok, c = same_verdict(world, "untrusted-tsa", world.sign("untrusted-tsa"), roots)
    assert not ok and c[4][0] == FAIL and "does not chain to a trusted TSA root" in c[4][1]


def test_certificate_older_than_the_signing_rule_allows(world: World) -> None:
    """authsign signs only within 7 days of the certificate's start (short-lived domain
    certificates); its Signer was told 30 days here, its Verifier keeps 7."""
    old = world.ca.issue(DOMAIN, not_before=NOW - dt.timedelta(days=10), not_after=NOW + dt.timedelta(days=80))
    signed = world.sign("old", leaf=old, cert_duration=dt.timedelta(days=30))
    ok, c = same_verdict(world, "old", signed)
    assert not ok and c[3][0] == FAIL and "authsign's rule" in c[3][1] and "more than 7 days after" in c[3][1]


def test_cross_signed_certificate(world: World) -> None:
    # a second certificate for the same key, issued by a cross-signing CA
    cross_ca = CA("cross CA")
    cross = Issued(world.leaf.key, cross_ca._build(
        world.leaf.cert.subject, world.leaf.key.public_key(), NOW - dt.timedelta(hours=1),
        NOW + dt.timedelta(days=7), ca=False, issuer_name=cross_ca.cert.subject,
        issuer_key=cross_ca.key, urls=(None, None)))
    signed = world.sign("cross", cross=cross)
    assert signed["crossSignedCert"]
    ok, c = same_verdict(world, "cross", signed)
    assert ok and "cross-signed certificate" in c[3][1]
    stranger = CA("stranger").issue(DOMAIN, not_before=NOW - dt.timedelta(hours=1), not_after=NOW + dt.timedelta(days=7))
    signed["crossSignedCert"] = stranger.cert_pem().decode()
    ok, c = same_verdict(world, "cross-bad", signed)
    assert not ok and "crossSignedCert does not form a valid chain whose key verifies" in c[3][1]


def test_bewaar_packages_and_authsign_agree(world: World) -> None:
    """bewaar's own package (self-managed key, signed minutes after the key was made)."""
    with zipfile.ZipFile(world.bewaar_package) as z:
        signed = json.loads(z.read("datapackage-digest.json"))["signedData"]
    signer_root = keys.load_pem_chain(signed["domainCert"])[-1]
    roots = world.tmp / "bewaar-roots.yaml"
    roots.write_text(yaml.safe_dump({"domain_cert_roots": [keys.fingerprint(signer_root)],
                                     "timestamp_cert_roots": [keys.fingerprint(world.tsa.root_certificate)]}))
    assert authsign_accepts(roots, signed)
    report = bewaar(world, world.bewaar_package, roots)
    assert report.exit_code == 0, report.human()


def test_roots_yaml_on_the_command_line(world: World) -> None:
    package = world.repackage("cli", world.sign("cli"))
    root = world.tmp / "empty-root"
    root.mkdir(exist_ok=True)
    p = run("verify", "--root", str(root), "--roots", str(world.roots), "--json", str(package))
    assert p.returncode == 0, p.stdout + p.stderr
    assert json.loads(p.stdout)["verdict"] == "PASSED"
    p = run("verify", "--root", str(root), str(package))  # no roots: nothing is trusted
    assert p.returncode == 1 and "no trusted signer roots are configured" in p.stdout
    p = run("keys", "trust", "--root", str(root), str(world.tsa.root_cert_path))
    assert p.returncode == 0
    cfg = load_root_config(root).signing
    assert cfg.trusted_roots  # bewaar's own trust file stays PEM; roots.yaml is only read
    bad = world.tmp / "bad-roots.yaml"
    bad.write_text("domain_cert_roots: [nothex]\ntimestamp_cert_roots: []\n")
    p = run("verify", "--root", str(root), "--roots", str(bad), str(package))
    assert p.returncode == 2 and "not a SHA-256 fingerprint" in p.stderr


# --------------------------------------------------------------------------- anonymous form


def webcrypto(*args: str) -> Any:
    p = subprocess.run([str(NODE), str(WEBCRYPTO), *args], capture_output=True, text=True,
                       timeout=60, check=True)
    return json.loads(p.stdout)


def anonymous(world: World, hash_text: str, curve: str = "P-384") -> dict[str, Any]:
    made = webcrypto("sign", hash_text, curve)
    return {"hash": world.dp_hash, "created": world.created, "software": "ArchiveWeb.page test",
            "signature": made["signature"], "publicKey": made["publicKey"]}


@pytest.mark.parametrize("case", ["valid", "other-hash", "p-256", "der-signature"])
def test_anonymous_signature_as_replayweb_checks_it(world: World, case: str) -> None:
    signed = anonymous(world, world.dp_hash if case != "other-hash" else "sha256:" + "2" * 64,
                       "P-256" if case == "p-256" else "P-384")
    if case == "der-signature":  # the DER form authsign uses: WebCrypto does not read it
        from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

        raw = base64.b64decode(signed["signature"])
        half = len(raw) // 2
        der = encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))
        signed["signature"] = base64.b64encode(der).decode()
    theirs = webcrypto("verify", signed["hash"], signed["publicKey"], signed["signature"])
    report = bewaar(world, world.repackage(f"anon-{case}", signed))
    c = package_checks(report)
    assert (c[3][0] != FAIL) == theirs, (case, c[3])
    if theirs:
        assert c[3][0] == WARN and "no certificate ties that key to a person" in c[3][1]
        assert c[4][0] == WARN and "no timeSignature" in c[4][1]
        assert report.exit_code == 0 and report.verdict == "PASSED WITH WARNINGS"
    else:
        assert report.exit_code == 1


def test_anonymous_key_pinned_in_the_trusted_roots(world: World, tmp_path: Path) -> None:
    signed = anonymous(world, world.dp_hash)
    fp = hashlib.sha256(base64.b64decode(signed["publicKey"])).hexdigest()
    roots = tmp_path / "roots.yaml"
    roots.write_text(yaml.safe_dump({"domain_cert_roots": [fp], "timestamp_cert_roots": []}))
    c = package_checks(bewaar(world, world.repackage("anon-pinned", signed), roots))
    assert c[3][0] == PASS and "is pinned in the trusted roots" in c[3][1]


def test_package_without_signed_data_is_not_signed(world: World) -> None:
    report = bewaar(world, world.repackage("unsigned", None))
    c = package_checks(report)
    assert c[3][0] == UNSIGNED and c[1][0] == PASS and c[2][0] == PASS and c[5][0] == PASS
    assert report.verdict == "NOT SIGNED" and report.exit_code == 0
    data = json.loads(report.as_json())
    assert data["outcome"] == "not_signed" and data["subjects"][0]["status"] == "unsigned"

"""Revocation data: fetched from the CA's CRL and OCSP responder when signing, kept in the
manifest, checked offline years later; "revocation not checked" when there is none.

The CA here is a real one (tests/signing/pki.py) whose certificates name a CRL distribution
point and an OCSP responder served on 127.0.0.1; verification runs with that server down.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bewaar.config import load_root_config
from signing import api, keys, manifest, verify
from signing.report import FAIL, PASS, WARN, Report
from tests.signing.conftest import Setup
from tests.signing.helpers import run, write_warc
from tests.signing.pki import CA, NOW, YEAR, BackdatedTSA, Closing, RevocationServer


@dataclass
class Org:
    server: RevocationServer
    ca: CA
    tsa_ca: CA


@pytest.fixture
def org(tmp_path: Path) -> Iterator[Org]:
    server = RevocationServer()
    with Closing(server):
        yield Org(server, server.ca("Org CA"), server.ca("TSA CA", ocsp_=False))


def org_root(org: Org, path: Path, tsa_url: str, tsa_root: Path) -> Setup:
    """A root signing with a certificate of the org CA (which names its CRL and OCSP)."""
    signer = org.ca.issue("Org archive", not_before=NOW - dt.timedelta(days=1), not_after=NOW + YEAR)
    org.server.remember(signer.cert)
    path.mkdir(parents=True)
    (path.parent / "k.pem").write_bytes(signer.key_pem())
    (path.parent / "c.pem").write_bytes(signer.cert_pem() + keys.certs_pem([org.ca.cert]))
    cfg = load_root_config(path).signing
    api.init_keys(path, cfg, org_key=path.parent / "k.pem", org_cert=path.parent / "c.pem")
    cfg = api.set_tsa_url(path, tsa_url)
    api.trust_tsa_root(path, cfg, tsa_root)
    return Setup(path, load_root_config(path).signing, None)  # type: ignore[arg-type]


def checks(report: Report) -> dict[int, tuple[str, str]]:
    return {c.number: (c.status, c.detail) for c in report.subjects[-1].checks}


def sign_one(s: Setup) -> Path:
    w = write_warc(s.archive / "a.warc.gz")
    api.sign_warc(w, s.root, s.cfg)
    return w


def test_fetched_when_signing_and_checked_offline(org: Org, tsa, tmp_path: Path) -> None:
    s = org_root(org, tmp_path / "root", tsa.url, tsa.root_cert_path)
    w = sign_one(s)
    m = json.loads(manifest.manifest_path(w).read_text())
    assert m["manifest"] == "bewaar-warc-signature/2"
    assert len(m["revocation"]["crls"]) == 1 and len(m["revocation"]["ocsp"]) == 1
    assert m["revocation"]["crls"][0]["url"].endswith("/crl/org-ca")
    org.server.down = True
    asked = len(org.server.requests)
    c = checks(verify.verify_paths([w], s.policy()))
    assert c[3][0] == PASS and "'Org archive' not revoked at" in c[3][1]
    assert "OCSP response of" in c[3][1]
    assert len(org.server.requests) == asked  # verification never went to the network


def test_revoked_before_the_signature_fails(org: Org, tsa, tmp_path: Path) -> None:
    s = org_root(org, tmp_path / "root", tsa.url, tsa.root_cert_path)
    signer = keys.load_certificates(api.resolve(s.root, s.cfg.certificate))[0]
    org.ca.revoke(signer, keys.utcnow() - dt.timedelta(hours=1))  # key compromised an hour ago
    w = sign_one(s)
    c = checks(verify.verify_paths([w], s.policy()))
    assert c[3][0] == FAIL and "'Org archive' was revoked on" in c[3][1] and "before" in c[3][1]


def test_revoked_after_the_signature_still_holds(org: Org, tsa, tmp_path: Path) -> None:
    """A later revocation does not undo a signature the timestamp proves older; renewal
    collects the CA's newer answer, and the report says so."""
    s = org_root(org, tmp_path / "root", tsa.url, tsa.root_cert_path)
    w = sign_one(s)
    signer = keys.load_certificates(api.resolve(s.root, s.cfg.certificate))[0]
    org.ca.revoke(signer, keys.utcnow() + dt.timedelta(seconds=5))
    p = run("sign", "--root", str(s.root), "--renew", str(w))
    assert p.returncode == 0, p.stdout + p.stderr
    m = manifest.load_for(w)
    assert len(m.revocation["crls"]) == 2  # the CRL of signing time and the one of renewal time
    c = checks(verify.verify_paths([w], s.policy()))
    assert c[3][0] == PASS and "not revoked at" in c[3][1]


def test_unreachable_responder_is_reported_never_silently_passed(org: Org, tsa, tmp_path: Path) -> None:
    org.server.down = True
    s = org_root(org, tmp_path / "root", tsa.url, tsa.root_cert_path)
    w = sign_one(s)
    m = json.loads(manifest.manifest_path(w).read_text())
    assert {e["url"].rsplit("/", 2)[-2] for e in m["revocation"]["unavailable"]} == {"crl", "ocsp"}
    report = verify.verify_paths([w], s.policy())
    c = checks(report)
    assert c[3][0] == WARN and "revocation not checked for 'Org archive'" in c[3][1]
    assert "fetching it failed when it was signed" in c[3][1]
    assert report.exit_code == 0
    assert verify.verify_paths([w], s.policy(strict=True)).exit_code == 1


def test_no_revocation_source_is_said_not_hidden(signed: Setup) -> None:
    """A self-managed certificate names no CRL: the report says so in plain words."""
    report = verify.verify_paths([signed.archive / "20250301120000-a.warc.gz"], signed.policy())
    c = checks(report)
    assert c[3][0] == PASS and "no revocation to check (the certificate is itself the trust anchor)" in c[3][1]


def test_tsa_revoked_before_its_token_fails(org: Org, tmp_path: Path) -> None:
    tsa = BackdatedTSA(tmp_path / "tsa", org.tsa_ca, "Revocable TSA",
                       not_before=NOW - YEAR, not_after=NOW + YEAR, clock=None)
    org.server.remember(tsa.certificate)
    with Closing(tsa):
        tsa.start()
        s = org_root(org, tmp_path / "root", tsa.url, tsa.root_cert_path)
        good = sign_one(s)
        c = checks(verify.verify_paths([good], s.policy()))
        assert c[4][0] == PASS, c[4]
        m = json.loads(manifest.manifest_path(good).read_text())
        assert any("/crl/tsa-ca" in e["url"] for e in m["revocation"]["crls"])
        org.tsa_ca.revoke(tsa.certificate, keys.utcnow() - dt.timedelta(hours=2))
        w2 = write_warc(s.archive / "b.warc.gz")
        api.sign_warc(w2, s.root, s.cfg)
    c = checks(verify.verify_paths([w2], s.policy()))
    assert c[4][0] == FAIL and "TSA certificate 'Revocable TSA' was revoked on" in c[4][1]

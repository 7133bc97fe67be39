"""Signing identities and trusted roots."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from bewaar.config import load_root_config
from bewaar.errors import BewaarError, InputError
from signing import api, keys, trust, verify
from signing.report import FAIL
from tests.signing.conftest import Setup
from tests.signing.helpers import write_warc


def org_pki(tmp: Path) -> dict[str, Path]:
    """A government-style PKI: root CA -> issuing CA -> the organisation's signing certificate."""
    root_key = keys.new_key(ec.SECP384R1())
    root = keys.issue_certificate(keys.build_name("Staat der Testlanden Root CA", "Testlanden"),
                                  root_key.public_key(), root_key, ca=True)
    ca_key = keys.new_key()
    ca = keys.issue_certificate(keys.build_name("Testlanden Organisatie CA", "Testlanden"),
                                ca_key.public_key(), root_key, root, ca=True)
    leaf_key = keys.new_key()
    leaf = keys.issue_certificate(keys.build_name("Ministerie van Archief", "Ministerie van Archief"),
                                  leaf_key.public_key(), ca_key, ca)
    out = {
        "key": tmp / "org-key.pem",
        "chain": tmp / "org-chain.pem",
        "chain_no_root": tmp / "org-chain-noroot.pem",
        "root": tmp / "org-root.pem",
    }
    out["key"].write_bytes(keys.key_pem_plain(leaf_key))
    out["chain"].write_bytes(keys.certs_pem([leaf, ca, root]))
    out["chain_no_root"].write_bytes(keys.certs_pem([leaf, ca]))
    out["root"].write_bytes(keys.certs_pem([root]))
    return out


def test_self_managed_key_init(tmp_path: Path) -> None:
    root = tmp_path / "r"
    cfg, message = api.init_keys(root, load_root_config(root).signing)
    key_path = root / "keys" / "signing-key.pem"
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    key = keys.load_private_key(key_path)
    assert isinstance(key.curve, ec.SECP256R1)
    cert = keys.load_certificates(root / "keys" / "signing-cert.pem")[0]
    assert cert.issuer == cert.subject
    assert keys.fingerprint(cert) in message and "trusted in trust/roots.pem" in message
    assert trust.load_trust(root / "trust" / "roots.pem").trusts(cert)
    with pytest.raises(InputError, match="never overwritten"):
        api.init_keys(root, cfg)


def test_keys_never_go_into_collections(tmp_path: Path) -> None:
    root = tmp_path / "r"
    with pytest.raises(InputError, match="inside collections"):
        api.init_keys(root, load_root_config(root).signing, directory=root / "collections" / "c" / "keys")


def test_key_dir_elsewhere_is_recorded_in_config(tmp_path: Path) -> None:
    root = tmp_path / "r"
    cfg, _ = api.init_keys(root, load_root_config(root).signing, directory=tmp_path / "vault")
    saved = load_root_config(root).signing
    assert saved == cfg and Path(saved.key).is_absolute() and (tmp_path / "vault" / "signing-key.pem").exists()
    assert api.load_identity(root, saved).certificate


def test_ensure_key_creates_once_and_says_so(tmp_path: Path) -> None:
    root = tmp_path / "r"
    cfg = load_root_config(root).signing
    message = api.ensure_key(root, cfg)
    assert message and "\n" not in message and "timestamps pending" in message
    assert api.ensure_key(root, cfg) is None
    (root / "keys" / "signing-cert.pem").unlink()
    with pytest.raises(BewaarError, match="certificate"):
        api.ensure_key(root, cfg)


def test_missing_or_garbage_key_is_a_clear_error(tmp_path: Path) -> None:
    root = tmp_path / "r"
    cfg = load_root_config(root).signing
    w = write_warc(root / "collections" / "c" / "archive" / "a.warc.gz")
    with pytest.raises(BewaarError, match="bewaar keys init"):
        api.sign_warc(w, root, cfg)
    (root / "keys").mkdir()
    (root / "keys" / "signing-key.pem").write_text("garbage")
    with pytest.raises(BewaarError, match="not a readable PEM private key"):
        api.sign_warc(w, root, cfg)


def test_organisation_pki_identity_signs_and_verifies(tmp_path: Path, tsa) -> None:
    pki = org_pki(tmp_path)
    root = tmp_path / "r"
    cfg, message = api.init_keys(root, load_root_config(root).signing, org_key=pki["key"], org_cert=pki["chain"])
    assert "organisation" in message and "trusted" in message
    cfg = api.set_tsa_url(root, tsa.url)
    api.trust_tsa_root(root, cfg, tsa.root_cert_path)
    w = write_warc(root / "collections" / "c" / "archive" / "a.warc.gz")
    api.sign_warc(w, root, cfg)
    s = Setup(root, cfg, tsa)
    report = verify.verify_paths([root / "collections" / "c"], s.policy())
    assert report.exit_code == 0, report.human()
    facts = report.subjects[1].facts
    assert facts["signer"] == "Ministerie van Archief" and "Organisatie CA" in facts["signer_issuer"]


def test_organisation_chain_without_root_needs_the_root_trusted(tmp_path: Path, tsa) -> None:
    pki = org_pki(tmp_path)
    root = tmp_path / "r"
    cfg, message = api.init_keys(root, load_root_config(root).signing, org_key=pki["key"],
                                 org_cert=pki["chain_no_root"])
    assert "NOT yet trusted" in message
    w = write_warc(root / "collections" / "c" / "archive" / "a.warc.gz")
    api.sign_warc(w, root, cfg)
    s = Setup(root, cfg, tsa)
    fails = [c for _s, c in verify.verify_paths([w], s.policy()).failures()]
    assert fails[0].number == 3 and "no trusted signer roots are configured" in fails[0].detail
    api.trust_signer_root(root, cfg, pki["root"])
    assert verify.verify_paths([w], s.policy()).failures() == []


def test_key_not_matching_certificate_is_refused(tmp_path: Path) -> None:
    pki = org_pki(tmp_path)
    other = tmp_path / "other-key.pem"
    other.write_bytes(keys.key_pem_plain(keys.new_key()))
    with pytest.raises(InputError, match="does not belong to the private key"):
        api.init_keys(tmp_path / "r", load_root_config(tmp_path / "r").signing, org_key=other, org_cert=pki["chain"])


def test_encrypted_key_with_passphrase(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(keys.PASSPHRASE_ENV, "correct horse")
    root = tmp_path / "r"
    cfg, _ = api.init_keys(root, load_root_config(root).signing)
    assert b"ENCRYPTED" in (root / "keys" / "signing-key.pem").read_bytes()
    assert api.load_identity(root, cfg)
    monkeypatch.delenv(keys.PASSPHRASE_ENV)
    with pytest.raises(BewaarError, match=keys.PASSPHRASE_ENV):
        api.load_identity(root, cfg)


# --------------------------------------------------------------------------- trusted roots


def test_trust_file_accepts_pems_and_fingerprint_forms(tmp_path: Path) -> None:
    a, b, c = (keys.self_managed_identity(n).certificate for n in "abc")
    fb, fc = keys.fingerprint(b), keys.fingerprint(c)
    colons = ":".join(fc[i : i + 2] for i in range(0, 64, 2)).upper()
    path = tmp_path / "roots.pem"
    path.write_text(
        "# our roots\n" + keys.certs_pem([a]).decode() + f"sha256:{fb}  # b, pinned\n{colons}\n"
    )
    store = trust.load_trust(path)
    assert store.trusts(a) and store.trusts(b) and store.trusts(c)
    assert not store.trusts(keys.self_managed_identity("d").certificate)


def test_trust_file_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "roots.pem"
    path.write_text("# fine\nnot-a-fingerprint\n")
    with pytest.raises(InputError, match=r"roots.pem:2: expected a PEM certificate or a SHA-256"):
        trust.load_trust(path)


def test_fingerprint_only_trust_verifies(signed: Setup, tmp_path: Path) -> None:
    """A court may pin the signer and TSA roots by fingerprint, holding no PEM at all."""
    signer = keys.load_certificates(signed.root / "keys" / "signing-cert.pem")[0]
    (tmp_path / "s.txt").write_text(f"sha256:{keys.fingerprint(signer)}\n")
    # the TSA token carries only the TSA certificate, so a TSA root must be given as PEM
    policy = verify.Policy(
        signer_trust=trust.load_trust(tmp_path / "s.txt"),
        tsa_trust=trust.load_trust(signed.root / "trust" / "tsa-roots.pem"),
    )
    assert verify.verify_paths([signed.collection], policy).exit_code == 0


def test_nothing_is_trusted_implicitly(signed: Setup, tmp_path: Path) -> None:
    policy = verify.Policy(signer_trust=trust.load_trust(tmp_path / "none.pem"),
                           tsa_trust=trust.load_trust(tmp_path / "none.pem"))
    report = verify.verify_paths([signed.collection], policy)
    details = {(c.number, c.status): c.detail for _s, c in report.failures()}
    assert "no trusted signer roots are configured" in details[(3, FAIL)]
    assert "no trusted TSA roots are configured" in details[(4, FAIL)]


def test_expired_certificate_at_tsa_time(tmp_path: Path) -> None:
    import datetime as dt

    key = keys.new_key()
    old = keys.issue_certificate(keys.build_name("old"), key.public_key(), key, days=1,
                                 not_before=keys.utcnow() - dt.timedelta(days=30))
    store = trust.TrustStore(certificates=[old])
    result = trust.verify_chain(old, [], store, keys.utcnow(), "signer")
    assert not result.ok and "was not valid at" in result.message
    assert trust.verify_chain(old, [], store, keys.utcnow() - dt.timedelta(days=29, hours=12), "signer").ok

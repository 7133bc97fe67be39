"""Long-term validation: a capture signed years ago, whose signer and first TSA certificates
have expired since, still verifies when its evidence was renewed in time, and says precisely
which link expired when it was not.

The whole life runs with certificates whose validity windows lie in the past and TSAs whose
clocks are set in the past (tests/signing/pki.py); nobody sleeps:

    NOW-4y ──── signer certificate valid ──── NOW-2y
    NOW-4y ──── TSA one's certificate valid ─────────── NOW-1y
                    NOW-3y: signed, stamped by TSA one
                              NOW-2y: renewed by TSA two (valid NOW-3y .. NOW+5y)
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bewaar.config import load_root_config
from signing import api, keys, manifest, renewal, sign, timestamp, verify
from signing.report import FAIL, PASS, WARN
from tests.signing.helpers import record_bytes, replace_record, run, write_warc
from tests.signing.pki import CA, DAY, NOW, YEAR, BackdatedTSA, Closing

SIGNED_AT = NOW - 3 * YEAR


@dataclass
class Life:
    template: Path  # a root with one WARC signed at NOW-3y, never renewed
    tsa_one: BackdatedTSA
    tsa_two: BackdatedTSA
    signer_ca: CA

    def copy(self, dst: Path) -> Path:
        shutil.copytree(self.template, dst)
        return dst


def warc_of(root: Path) -> Path:
    return root / "collections" / "c" / "archive" / "20230101120000-a.warc.gz"


@pytest.fixture(scope="module")
def life(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Life]:
    base = tmp_path_factory.mktemp("life")
    signer_ca = CA("Gemeente Testdorp CA")
    signer = signer_ca.issue("Gemeente Testdorp archive", not_before=NOW - 4 * YEAR,
                             not_after=NOW - 2 * YEAR)
    tsa_one = BackdatedTSA(base / "tsa1", CA("TSA one root"), "TSA one",
                           not_before=NOW - 4 * YEAR, not_after=NOW - YEAR, clock=SIGNED_AT)
    tsa_two = BackdatedTSA(base / "tsa2", CA("TSA two root"), "TSA two",
                           not_before=NOW - 3 * YEAR, not_after=NOW + 5 * YEAR,
                           clock=NOW - 2 * YEAR)
    with Closing(tsa_one, tsa_two):
        tsa_one.start()
        tsa_two.start()
        root = base / "root"
        root.mkdir()
        (base / "org-key.pem").write_bytes(signer.key_pem())
        (base / "org-chain.pem").write_bytes(signer.cert_pem() + keys.certs_pem([signer_ca.cert]))
        cfg = load_root_config(root).signing
        api.init_keys(root, cfg, org_key=base / "org-key.pem", org_cert=base / "org-chain.pem")
        cfg = api.set_tsa_url(root, tsa_one.url)
        for t in (tsa_one, tsa_two):
            api.trust_tsa_root(root, cfg, t.root_cert_path)
        cfg = load_root_config(root).signing
        w = write_warc(warc_of(root))
        sign.sign_warc_file(w, api.load_identity(root, cfg), tsa_one.url, 10,
                            tsa_pool=api.tsa_pool(root, cfg),
                            clock=lambda: SIGNED_AT - dt.timedelta(minutes=5))
        yield Life(root, tsa_one, tsa_two, signer_ca)


def verify_json(root: Path, *extra: str) -> tuple[int, dict]:
    p = run("verify", "--root", str(root), "--json", *extra, str(warc_of(root)))
    assert not p.stderr.strip(), p.stderr
    return p.returncode, json.loads(p.stdout)


def checks(data: dict) -> dict[int, tuple[str, str]]:
    return {c["check"]: (c["status"], c["detail"]) for c in data["subjects"][0]["checks"]}


def test_signed_years_ago_is_judged_at_its_tsa_time(life: Life, tmp_path: Path) -> None:
    """The signer certificate expired two years ago; it was valid at the TSA time, which is
    what counts. Only the first TSA's expiry (unrenewed) is a warning."""
    root = life.copy(tmp_path / "r")
    code, data = verify_json(root)
    c = checks(data)
    assert c[3][0] == PASS and "judged at the TSA time" in c[3][1] and "expired since" in c[3][1]
    assert c[4][0] == WARN and code == 0 and data["verdict"] == "PASSED WITH WARNINGS"


def test_without_renewal_strict_fails_naming_the_expired_link(life: Life, tmp_path: Path) -> None:
    root = life.copy(tmp_path / "r")
    code, data = verify_json(root, "--strict")
    assert code == 1 and data["exit_code"] == 1
    first = data["first_failure"]
    assert first["check"] == 4
    assert "the first timestamp (link 0) by 'TSA one'" in first["detail"]
    assert f"expired on {(NOW - YEAR):%Y-%m-%d}" in first["detail"]
    assert "was not renewed" in first["detail"]


def test_renewed_in_time_passes_after_signer_and_first_tsa_expired(life: Life, tmp_path: Path) -> None:
    root = life.copy(tmp_path / "r")
    p = run("sign", "--root", str(root), "--renew", "--tsa-url", life.tsa_two.url, "c")  # a name
    assert p.returncode == 0, p.stdout + p.stderr
    assert "renewed by 'TSA two'" in p.stdout and "1 renewed" in p.stdout
    m = manifest.Manifest.load(manifest.manifest_path(warc_of(root)))
    assert m.data["manifest"] == "bewaar-warc-signature/2" and len(m.renewals) == 1
    code, data = verify_json(root, "--strict")
    c = checks(data)
    assert code == 0 and data["verdict"] == "PASSED", c
    assert "evidence renewed 1 time(s)" in c[4][1] and "'TSA two' valid until" in c[4][1]
    # what the renewal stamped can be recomputed by anyone: file hash + statement + first token
    st = m.statement
    stamped = renewal.renewal_input(st["sha256"], m.statement_text, m.timestamp_token or b"")
    assert json.loads(stamped)["file"] == f"sha256:{st['sha256']}"
    token = base64.b64decode(m.renewals[0]["token"])
    assert timestamp.decode(token).tst_info.message_imprint.message == hashlib.sha256(stamped).digest()


def test_renewal_after_the_link_expired_is_refused(life: Life, tmp_path: Path) -> None:
    """A TSA answering after TSA one's certificate expired cannot mend the chain."""
    root = life.copy(tmp_path / "r")
    before = manifest.manifest_path(warc_of(root)).read_bytes()
    late = BackdatedTSA(tmp_path / "late", CA("late root"), "TSA late",
                        not_before=NOW - DAY, not_after=NOW + YEAR, clock=NOW)
    with Closing(late):
        late.start()
        cfg = load_root_config(root).signing
        api.trust_tsa_root(root, cfg, late.root_cert_path)
        p = run("sign", "--root", str(root), "--renew", "--tsa-url", late.url, str(warc_of(root)))
    assert p.returncode == 1 and "too late" in p.stdout and "1 refused" in p.stdout
    assert manifest.manifest_path(warc_of(root)).read_bytes() == before


def test_a_late_renewal_in_the_manifest_breaks_the_chain(life: Life, tmp_path: Path) -> None:
    """Forged or careless: a renewal made after the previous link expired fails, named."""
    root = life.copy(tmp_path / "r")
    late = BackdatedTSA(tmp_path / "late", CA("late root"), "TSA late",
                        not_before=NOW - DAY, not_after=NOW + YEAR, clock=NOW)
    with Closing(late):
        late.start()
        cfg = load_root_config(root).signing
        api.trust_tsa_root(root, cfg, late.root_cert_path)
        m = manifest.load_for(warc_of(root))
        data = renewal.renewal_input(m.statement["sha256"], m.statement_text, m.timestamp_token or b"")
        token = timestamp.request_token(late.url, data, 10)
    m.data["renewals"] = [{"token": base64.b64encode(token).decode(), "time": "", "tsa": "TSA late",
                           "url": "", "algorithm": "sha256"}]
    m.write(manifest.manifest_path(warc_of(root)))
    code, out = verify_json(root)
    c = checks(out)
    assert code == 1 and c[4][0] == FAIL
    assert "renewal 1 by 'TSA late'" in c[4][1] and "after the first timestamp (link 0) by 'TSA one' had expired" in c[4][1]
    assert "broken" in c[4][1]


def test_renewal_over_other_data_fails(life: Life, tmp_path: Path) -> None:
    root = life.copy(tmp_path / "r")
    assert run("sign", "--root", str(root), "--renew", "--tsa-url", life.tsa_two.url,
               str(warc_of(root))).returncode == 0
    m = manifest.load_for(warc_of(root))
    m.data["renewals"][0]["token"] = m.data["timestamp"]["token"]  # a token, but of the wrong data
    m.write(manifest.manifest_path(warc_of(root)))
    code, out = verify_json(root)
    assert code == 1 and "renewal 1: the timestamp token is for other data" in checks(out)[4][1]


def test_due_renews_only_what_expires_soon(life: Life, tmp_path: Path) -> None:
    root = life.copy(tmp_path / "r")
    soon = BackdatedTSA(tmp_path / "soon", CA("soon root"), "TSA soon",
                        not_before=NOW - 3 * YEAR, not_after=NOW + 30 * DAY, clock=NOW - 2 * YEAR)
    with Closing(soon):
        soon.start()
        cfg = load_root_config(root).signing
        api.trust_tsa_root(root, cfg, soon.root_cert_path)
        assert run("sign", "--root", str(root), "--renew", "--tsa-url", soon.url).returncode == 0
        # the newest link now expires in 30 days: due within 90 days, not within 7
        p = run("sign", "--root", str(root), "--renew", "--due", "7d", "--tsa-url", life.tsa_two.url)
        assert p.returncode == 0 and "0 renewed, 1 not due" in p.stdout
        life.tsa_two.clock = NOW - YEAR
        p = run("sign", "--root", str(root), "--renew", "--due", "90d", "--tsa-url", life.tsa_two.url)
        life.tsa_two.clock = NOW - 2 * YEAR
    assert p.returncode == 0 and "1 renewed" in p.stdout, p.stdout
    assert len(manifest.load_for(warc_of(root)).renewals) == 2
    code, out = verify_json(root, "--strict")
    assert code == 0 and "evidence renewed 2 time(s)" in checks(out)[4][1]
    assert run("sign", "--root", str(root), "--renew", "--due", "soon").returncode == 2


def test_a_changed_file_is_never_renewed(life: Life, tmp_path: Path) -> None:
    root = life.copy(tmp_path / "r")
    w = warc_of(root)
    replace_record(w, 2, record_bytes(w, 2).replace(b"gemeente", b"Gemeente", 1))
    p = run("sign", "--root", str(root), "--renew", "--tsa-url", life.tsa_two.url, str(w))
    assert p.returncode == 1 and "changed after signing" in p.stdout


def test_pending_timestamp_judges_the_signer_at_its_claimed_time(tmp_path: Path) -> None:
    """No token: the claimed signing time is used, and check 4 warns that nothing proves it."""
    from tests.signing.conftest import make_root

    s = make_root(tmp_path / "root", None)
    w = write_warc(s.archive / "a.warc.gz")
    api.sign_warc(w, s.root, s.cfg)
    report = verify.verify_paths([w], s.policy())
    c = {x.number: x for x in report.subjects[0].checks}
    assert c[3].status == PASS and "judged at the signing time the signer claims" in c[3].detail
    assert c[4].status == WARN and "only the signer's claim" in c[4].detail


def test_version_1_manifests_are_still_read_and_unknown_versions_refused(signed, tmp_path: Path) -> None:
    w = signed.archive / "20250301120000-a.warc.gz"
    mpath = manifest.manifest_path(w)
    assert json.loads(mpath.read_text())["manifest"] == "bewaar-warc-signature/1"
    assert verify.verify_paths([w], signed.policy()).exit_code == 0
    data = json.loads(mpath.read_text())
    data["manifest"] = "bewaar-warc-signature/3"
    mpath.write_text(json.dumps(data))
    fails = {c.number: c.detail for _s, c in verify.verify_paths([w], signed.policy()).failures()}
    assert "unknown manifest format 'bewaar-warc-signature/3'" in fails[2]
    data["manifest"] = "bewaar-warc-signature/1"
    data["renewals"] = []
    data["revocation"] = {"crls": []}
    mpath.write_text(json.dumps(data))
    fails = {c.number: c.detail for _s, c in verify.verify_paths([w], signed.policy()).failures()}
    assert "version 1 manifest cannot hold" in fails[2]

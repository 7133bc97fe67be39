"""WACZ packages: valid for py-wacz, accepted by authsign's own Verifier, checked by bewaar."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from authsign.verifier import Verifier

from bewaar.errors import InputError
from bewaar.model import PageEntry, append_pages
from signing import api, keys, verify, wacz
from signing.report import Report
from tests.signing.conftest import Setup
from tests.signing.helpers import record_bytes, replace_record

WACZ_TOOL = str(Path(sys.executable).parent / "wacz")


def authsign_roots(s: Setup, path: Path) -> Path:
    """authsign's trusted-roots file: sha-256 fingerprints of our test CA and test TSA root."""
    signer = keys.load_certificates(api.resolve(s.root, s.cfg.certificate))[-1]
    path.write_text(
        yaml.safe_dump(
            {
                "domain_cert_roots": [keys.fingerprint(signer)],
                "timestamp_cert_roots": [keys.fingerprint(s.tsa.root_certificate)],
            }
        )
    )
    return path


def signed_data(path: Path) -> dict:
    with zipfile.ZipFile(path) as z:
        return json.loads(z.read("datapackage-digest.json"))["signedData"]


def add_pages(s: Setup) -> None:
    append_pages(
        s.collection / "pages" / "pages.jsonl",
        [
            PageEntry(url="https://example.gov/news/1", ts="2025-03-01T12:00:01Z", id="p1",
                      title="Nieuws 1", status=200, warc="20250301120000-a.warc.gz"),
            PageEntry(url="https://example.gov/agenda", ts="2025-03-02T12:00:01Z", id="p2",
                      title="Agenda", status=200, warc="20250302120000-b.warc.gz"),
        ],
    )


@pytest.fixture
def package(signed: Setup, tmp_path: Path) -> Path:
    add_pages(signed)
    out = tmp_path / "out" / "c.wacz"
    result = wacz.package(signed.root, signed.cfg, "c", out)
    assert result.timestamp == "granted" and result.pages == 2
    return out


def test_package_layout(package: Path) -> None:
    with zipfile.ZipFile(package) as z:
        infos = {i.filename: i for i in z.infolist()}
        dp = json.loads(z.read("datapackage.json"))
        digest = json.loads(z.read("datapackage-digest.json"))
    assert infos["archive/20250301120000-a.warc.gz"].compress_type == zipfile.ZIP_STORED
    assert {"indexes/index.cdx.gz", "indexes/index.idx", "pages/pages.jsonl",
            "signatures/20250301120000-a.warc.gz.sig.json"} <= set(infos)
    assert dp["wacz_version"] == "1.1.1" and dp["created"] == digest["signedData"]["created"]
    assert all(r["hash"].startswith("sha256:") and r["bytes"] > 0 for r in dp["resources"])
    sd = digest["signedData"]
    assert sd["hash"] == digest["hash"]
    assert {"signature", "timeSignature", "timestampCert", "domainCert", "domain", "software", "version"} <= set(sd)


def test_py_wacz_validates_the_package(package: Path) -> None:
    proc = subprocess.run([WACZ_TOOL, "validate", "-f", str(package)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Validation succeeded" in proc.stdout


def test_authsign_verifier_accepts_signed_data(signed: Setup, package: Path, tmp_path: Path) -> None:
    result = Verifier(str(authsign_roots(signed, tmp_path / "roots.yaml")))(signed_data(package))
    assert result.observer == "Gemeente Testdorp archive"
    assert result.timestamp.endswith("Z")


def test_authsign_rejects_with_other_roots(signed: Setup, package: Path, tmp_path: Path) -> None:
    """The interoperability test can fail: authsign refuses roots it was not given."""
    (tmp_path / "default.yaml").write_text(
        yaml.safe_dump({"domain_cert_roots": ["00" * 32], "timestamp_cert_roots": ["00" * 32]})
    )
    with pytest.raises(AssertionError):
        Verifier(str(tmp_path / "default.yaml"))(signed_data(package))


def test_bewaar_verifies_the_package(signed: Setup, package: Path) -> None:
    report = verify.verify_paths([package], signed.policy())
    assert report.exit_code == 0, report.human()
    numbers = [c.number for c in report.subjects[0].checks]
    assert sorted(numbers) == [1, 2, 3, 4, 5]
    # the WARCs' own capture-time signatures travel inside the package and are checked too
    inner = [s for s in report.subjects if s.kind == "warc"]
    assert len(inner) == 2 and all(c.status == "pass" for s in inner for c in s.checks)


def _rewrite(src: Path, dst: Path, replace: dict[str, bytes], drop: tuple[str, ...] = ()) -> Path:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            if info.filename in drop:
                continue
            data = replace.get(info.filename, zin.read(info.filename))
            zout.writestr(info, data)
    return dst


def failing(report: Report) -> dict[int, str]:
    return {c.number: c.detail for s, c in report.failures() if s.kind == "wacz"}


def test_file_replaced_in_package(signed: Setup, package: Path, tmp_path: Path) -> None:
    other = signed.archive / "20250302120000-b.warc.gz"
    forged = _rewrite(package, tmp_path / "forged.wacz",
                      {"archive/20250301120000-a.warc.gz": other.read_bytes()})
    fails = failing(verify.verify_paths([forged], signed.policy()))
    assert "archive/20250301120000-a.warc.gz: sha256" in fails[2] and "file replaced" in fails[2]
    assert "index" in fails[5]
    proc = subprocess.run([WACZ_TOOL, "validate", "-f", str(forged)], capture_output=True, text=True, check=False)
    assert proc.returncode == 1  # py-wacz agrees that it is broken


def test_payload_flipped_inside_package(signed: Setup, package: Path, tmp_path: Path) -> None:
    w = tmp_path / "a.warc.gz"
    with zipfile.ZipFile(package) as z:
        w.write_bytes(z.read("archive/20250301120000-a.warc.gz"))
    plain = record_bytes(w, 2)
    i = plain.rfind(b"gemeente")
    replace_record(w, 2, plain[:i] + b"G" + plain[i + 1 :])
    forged = _rewrite(package, tmp_path / "forged.wacz", {"archive/20250301120000-a.warc.gz": w.read_bytes()})
    report = verify.verify_paths([forged], signed.policy())
    fails = failing(report)
    assert "record 3 of 12" in fails[1] and "payload digest" in fails[1]
    assert 2 in fails


def test_missing_and_extra_member(signed: Setup, package: Path, tmp_path: Path) -> None:
    forged = _rewrite(package, tmp_path / "forged.wacz", {}, drop=("pages/pages.jsonl",))
    with zipfile.ZipFile(forged, "a") as z:
        z.writestr("logs/extra.log", b"added later")
    fails = failing(verify.verify_paths([forged], signed.policy()))
    assert "logs/extra.log is in the zip but not listed" in fails[2]
    assert "pages/pages.jsonl is listed in datapackage.json but missing" in fails[2]


def test_datapackage_edited(signed: Setup, package: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(package) as z:
        dp = json.loads(z.read("datapackage.json"))
    dp["title"] = "something else"
    forged = _rewrite(package, tmp_path / "forged.wacz", {"datapackage.json": json.dumps(dp).encode()})
    fails = failing(verify.verify_paths([forged], signed.policy()))
    assert "datapackage.json hashes to" in fails[5]


def test_signed_data_signature_from_other_key(signed: Setup, package: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(package) as z:
        digest = json.loads(z.read("datapackage-digest.json"))
    intruder = keys.self_managed_identity("intruder")
    from signing.sign import sign_bytes

    digest["signedData"]["signature"] = sign_bytes(intruder, digest["hash"].encode())
    forged = _rewrite(package, tmp_path / "forged.wacz",
                      {"datapackage-digest.json": json.dumps(digest).encode()})
    fails = failing(verify.verify_paths([forged], signed.policy()))
    assert "does not verify with the signer certificate" in fails[3]
    assert "other data" in fails[4]


def _bomb(path: Path, declared: int) -> Path:
    """A zip whose central directory claims `declared` bytes for a tiny deflated member."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("datapackage.json", b"{}" * 100)
        z.writestr("datapackage-digest.json", b"{}")
    data = bytearray(path.read_bytes())
    pos = data.find(b"PK\x01\x02")  # first central directory entry
    struct.pack_into("<I", data, pos + 24, declared)  # uncompressed size
    path.write_bytes(bytes(data))
    return path


def test_zip_bomb_like_package_is_refused_without_inflating(signed: Setup, tmp_path: Path) -> None:
    bomb = _bomb(tmp_path / "bomb.wacz", 0xFFFFFFF0)
    with pytest.raises(InputError, match="zip bomb"):
        verify.verify_paths([bomb], signed.policy())


def test_stored_member_declaring_more_than_the_file(signed: Setup, package: Path, tmp_path: Path) -> None:
    data = bytearray(package.read_bytes())
    pos = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, pos + 20, 0x7FFFFFFF)  # compressed size of the first member
    struct.pack_into("<I", data, pos + 24, 0x7FFFFFFF)
    (tmp_path / "huge.wacz").write_bytes(bytes(data))
    with pytest.raises(InputError, match="declares"):
        verify.verify_paths([tmp_path / "huge.wacz"], signed.policy())


def test_package_refuses_a_warc_changed_after_signing(signed: Setup, tmp_path: Path) -> None:
    w = signed.archive / "20250301120000-a.warc.gz"
    plain = record_bytes(w, 2)
    i = plain.rfind(b"gemeente")
    replace_record(w, 2, plain[:i] + b"G" + plain[i + 1 :])
    out = tmp_path / "x.wacz"
    with pytest.raises(Exception, match="no longer matches its signed manifest"):
        wacz.package(signed.root, signed.cfg, "c", out)
    assert not out.exists() and not list(tmp_path.glob("*.partial"))


def test_date_range_selects_warcs_and_pages(signed: Setup, tmp_path: Path) -> None:
    add_pages(signed)
    out = tmp_path / "day2.wacz"
    r = wacz.package(signed.root, signed.cfg, "c", out, "2025-03-02", "2025-03-02")
    assert r.warcs == ["20250302120000-b.warc.gz"] and r.pages == 1
    assert verify.verify_paths([out], signed.policy()).exit_code == 0
    with pytest.raises(InputError, match="no signed WARCs between"):
        wacz.package(signed.root, signed.cfg, "c", tmp_path / "none.wacz", "2024-01-01", "2024-01-31")


def test_package_without_tsa_is_signed_but_pending(signed: Setup, tmp_path: Path) -> None:
    cfg = signed.cfg.model_copy(update={"tsa_url": "http://127.0.0.1:9/"})
    out = tmp_path / "pending.wacz"
    r = wacz.package(signed.root, cfg, "c", out)
    assert r.timestamp == "pending" and "unreachable" in r.reason
    report = verify.verify_paths([out], signed.policy())
    pkg = report.subjects[0]
    assert {c.number: c.status for c in pkg.checks}[4] == "warn"
    assert report.exit_code == 0
    assert verify.verify_paths([out], signed.policy(strict=True)).exit_code == 1

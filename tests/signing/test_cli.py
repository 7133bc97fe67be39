"""The commands as a new user runs them: real processes, real exit codes, no tracebacks."""

from __future__ import annotations

import gzip
import json
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from authsign.verifier import Verifier

from signing import keys
from tests.signing.helpers import record_bytes, replace_record, run, write_warc

WACZ_TOOL = str(Path(sys.executable).parent / "wacz")


def no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "internal error" not in proc.stderr


def test_new_user_end_to_end(tmp_path: Path, tsa) -> None:
    r = tmp_path / "R"
    r.mkdir()
    p = run("keys", "init", "--root", str(r), "--name", "Gemeente Testdorp", "--tsa-url", tsa.url)
    assert p.returncode == 0, p.stderr
    assert "trusted in trust/roots.pem" in p.stdout
    p = run("keys", "trust", "--root", str(r), "--tsa", str(tsa.root_cert_path))
    assert p.returncode == 0 and "now trusted" in p.stdout

    archive = r / "collections" / "c" / "archive"
    write_warc(archive / "20250301-a.warc.gz")
    write_warc(archive / "20250301-b.warc.gz", ["https://example.gov/b"])
    p = run("sign", "--root", str(r), str(archive / "20250301-a.warc.gz"), str(archive / "20250301-b.warc.gz"))
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("timestamp granted") == 2

    p = run("verify", "--root", str(r), str(r / "collections" / "c"))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "verify: PASSED" in p.stdout

    p = run("package", "c", "-o", str(tmp_path / "x.wacz"), "--root", str(r))
    assert p.returncode == 0, p.stderr
    v = subprocess.run([WACZ_TOOL, "validate", "-f", str(tmp_path / "x.wacz")], capture_output=True, text=True,
                       check=False)
    assert v.returncode == 0, v.stdout
    roots = tmp_path / "authsign-roots.yaml"
    roots.write_text(yaml.safe_dump({
        "domain_cert_roots": [keys.fingerprint(keys.load_certificates(r / "keys" / "signing-cert.pem")[0])],
        "timestamp_cert_roots": [keys.fingerprint(tsa.root_certificate)],
    }))
    with zipfile.ZipFile(tmp_path / "x.wacz") as z:
        signed = json.loads(z.read("datapackage-digest.json"))["signedData"]
    assert Verifier(str(roots))(signed).observer == "Gemeente Testdorp"
    p = run("verify", "--root", str(r), str(tmp_path / "x.wacz"), "--json")
    assert p.returncode == 0 and json.loads(p.stdout)["verdict"] == "PASSED"

    # tamper: one byte in a payload
    w = archive / "20250301-a.warc.gz"
    plain = record_bytes(w, 2)
    i = plain.rfind(b"gemeente")
    replace_record(w, 2, plain[:i] + b"G" + plain[i + 1 :])
    p = run("verify", "--root", str(r), str(r / "collections" / "c"))
    no_traceback(p)
    assert p.returncode == 1
    assert "first failure in" in p.stdout and "20250301-a.warc.gz: check 1 record digests: record 3 of 12" in p.stdout
    p = run("verify", "--root", str(r), str(r / "collections" / "c"), "--json")
    data = json.loads(p.stdout)
    assert data["exit_code"] == 1 and data["first_failure"]["check"] == 1
    assert data["first_failure"]["path"].endswith("20250301-a.warc.gz")


def test_verify_without_paths_checks_the_whole_root(tmp_path: Path) -> None:
    r = tmp_path / "R"
    assert run("keys", "init", "--root", str(r)).returncode == 0
    write_warc(r / "collections" / "one" / "archive" / "a.warc.gz")
    write_warc(r / "collections" / "two" / "archive" / "b.warc.gz")
    assert run("sign", "--root", str(r), str(r / "collections" / "one"), str(r / "collections" / "two")).returncode == 0
    p = run("verify", "--root", str(r))
    assert p.returncode == 0 and "PASSED WITH WARNINGS" in p.stdout  # no TSA: timestamps pending
    assert "timestamp pending" in p.stdout
    p = run("verify", "--root", str(r), "--strict")
    assert p.returncode == 1 and "check 4 timestamp" in p.stdout


def test_retimestamp_cli(tmp_path: Path, tsa) -> None:
    r = tmp_path / "R"
    assert run("keys", "init", "--root", str(r)).returncode == 0
    w = write_warc(r / "collections" / "c" / "archive" / "a.warc.gz")
    assert "timestamp pending" in run("sign", "--root", str(r), str(w)).stdout
    p = run("sign", "--root", str(r), "--retimestamp", str(w))
    assert p.returncode == 2 and "no TSA configured" in p.stderr
    assert run("keys", "tsa", "--root", str(r), tsa.url, "--trust-root", str(tsa.root_cert_path)).returncode == 0
    p = run("sign", "--root", str(r), "--retimestamp", str(w))
    assert p.returncode == 0 and "timestamp added" in p.stdout
    assert run("verify", "--root", str(r), "--strict", str(w)).returncode == 0


def test_keys_show(tmp_path: Path) -> None:
    r = tmp_path / "R"
    assert run("keys", "init", "--root", str(r), "--organisation", "Gemeente").returncode == 0
    p = run("keys", "show", "--root", str(r))
    assert p.returncode == 0 and "O=Gemeente" in p.stdout and "1 certificate(s)" in p.stdout


def test_untrusted_signer_fails_with_named_check(tmp_path: Path) -> None:
    a, b = tmp_path / "A", tmp_path / "B"
    for root in (a, b):
        assert run("keys", "init", "--root", str(root)).returncode == 0
    w = write_warc(a / "collections" / "c" / "archive" / "x.warc.gz")
    assert run("sign", "--root", str(a), str(w)).returncode == 0
    p = run("verify", "--root", str(b), str(w))  # B does not trust A's key
    assert p.returncode == 1 and "check 3 signature" in p.stdout and "does not chain to a trusted" in p.stdout


# --------------------------------------------------------------------------- garbage input


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("garbage.warc.gz", b"\x00\x01 definitely not a WARC \xff" * 50, "not a WARC"),
        ("empty.warc.gz", b"", "empty file"),
        ("text.warc", b"hello\nworld\n", "not a WARC"),
        ("gzipped-text.warc.gz", gzip.compress(b"plain text, gzip compressed\n"), "not a WARC"),
        ("garbage.wacz", b"PK\x03\x04 this is no zip", "not a WACZ"),
        ("empty.wacz", b"", "empty file"),
    ],
)
def test_garbage_input_exits_2_with_one_line(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    (tmp_path / "keys").mkdir()
    f = tmp_path / name
    f.write_bytes(content)
    p = run("verify", "--root", str(tmp_path), str(f))
    no_traceback(p)
    assert p.returncode == 2, p.stdout + p.stderr
    assert message in p.stderr and len(p.stderr.strip().splitlines()) == 1


def test_truncated_gzip_without_manifest(tmp_path: Path) -> None:
    w = write_warc(tmp_path / "t.warc.gz")
    w.write_bytes(w.read_bytes()[:-200])
    p = run("verify", "--root", str(tmp_path), str(w))
    no_traceback(p)
    assert p.returncode == 1 and "truncated" in p.stdout and "no signature manifest" in p.stdout


def test_zip_bomb_wacz_exits_2_without_inflating(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.wacz"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("datapackage.json", b"{}")
        z.writestr("archive/a.warc.gz", b"\x00" * 4096)
    data = bytearray(bomb.read_bytes())
    pos = 0
    while (pos := data.find(b"PK\x01\x02", pos)) >= 0:  # every central directory entry
        struct.pack_into("<I", data, pos + 24, 0xFFFFFFFE)  # claims ~4 GB uncompressed
        pos += 4
    bomb.write_bytes(bytes(data))
    p = run("verify", "--root", str(tmp_path), str(bomb))
    no_traceback(p)
    assert p.returncode == 2 and "zip bomb" in p.stderr


def test_missing_path_and_missing_key(tmp_path: Path) -> None:
    p = run("verify", "--root", str(tmp_path), str(tmp_path / "nope.warc.gz"))
    assert p.returncode == 2 and "no such file" in p.stderr
    w = write_warc(tmp_path / "collections" / "c" / "archive" / "a.warc.gz")
    p = run("sign", "--root", str(tmp_path), str(w))
    no_traceback(p)
    assert p.returncode == 2 and "bewaar keys init" in p.stderr
    p = run("package", "nothere", "-o", str(tmp_path / "x.wacz"), "--root", str(tmp_path))
    assert p.returncode == 2 and "no collection 'nothere'" in p.stderr


def test_evidence_report(tmp_path: Path, tsa) -> None:
    r = tmp_path / "R"
    assert run("keys", "init", "--root", str(r), "--name", "Gemeente <Testdorp>", "--tsa-url", tsa.url).returncode == 0
    assert run("keys", "trust", "--root", str(r), "--tsa", str(tsa.root_cert_path)).returncode == 0
    hostile = 'https://example.gov/"><script>alert(1)</script>'
    w = write_warc(r / "collections" / "c" / "archive" / "a.warc.gz", ["https://example.gov/news/1", hostile])
    assert run("sign", "--root", str(r), str(w)).returncode == 0
    report = tmp_path / "evidence.html"
    p = run("verify", "--root", str(r), str(r / "collections" / "c"), "--report", str(report))
    assert p.returncode == 0 and str(report) in p.stdout
    html = report.read_text()
    assert html.count("data:image/png;base64,") == 2  # both screenshots from the WARC
    assert "https://example.gov/news/1" in html and "2025-03-01T12:00:01Z" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "Gemeente &lt;Testdorp&gt;" in html and "bewaar local test TSA" in html
    assert "Result: PASSED" in html
    m = json.loads((w.parent / (w.name + ".sig.json")).read_text())
    assert json.loads(m["statement"])["sha256"] in html
    assert "Content-Security-Policy" in html and "http://" not in html.split("<body>")[0]

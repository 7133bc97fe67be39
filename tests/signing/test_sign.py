"""Signing WARCs: the manifest, what exactly is signed and stamped, pending timestamps."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from rfc3161_client import HashAlgorithm, TimestampRequestBuilder, decode_timestamp_response

from bewaar.errors import BewaarError, InputError
from signing import api, manifest, sign, verify, warcscan
from tests.signing.conftest import Setup, make_root
from tests.signing.helpers import record_bytes, replace_record, write_warc

OPENSSL = "/usr/bin/openssl"
CLOSED_PORT_URL = "http://127.0.0.1:9/"  # discard port: nothing listens there


def test_manifest_fields(signed: Setup) -> None:
    w = signed.archive / "20250301120000-a.warc.gz"
    m = manifest.Manifest.load(manifest.manifest_path(w))
    st = m.statement
    assert m.data["manifest"] == "bewaar-warc-signature/1"
    assert st["file"] == w.name and st["size"] == w.stat().st_size
    assert st["sha256"] == hashlib.sha256(w.read_bytes()).hexdigest()
    assert st["records"]["count"] == len(m.records) == 12
    assert st["records"]["sha256"] == manifest.records_digest(m.records)
    assert st["first_record_date"] == "2025-03-01T12:00:00Z"
    assert st["software"].startswith("bewaar/") and st["created"].endswith("Z")
    assert m.timestamp["status"] == "granted" and m.timestamp["tsa"] == "bewaar local test TSA"
    offsets = [r[0] for r in m.records]
    assert offsets == sorted(offsets) and m.records[2][2:5][:2] == ["response", m.records[2][3]]


def test_statement_and_token_verify_with_openssl_alone(signed: Setup, tmp_path: Path) -> None:
    """The format is checkable without bewaar: openssl dgst for the signature, openssl ts for
    the token over the ASCII base64 signature."""
    m = manifest.Manifest.load(manifest.manifest_path(signed.archive / "20250301120000-a.warc.gz"))
    (tmp_path / "statement").write_bytes(m.statement_text.encode("utf-8"))
    (tmp_path / "sig.der").write_bytes(m.signature)
    cert = x509.load_pem_x509_certificate(m.certificates_pem.encode())
    (tmp_path / "pub.pem").write_bytes(
        cert.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    dgst = subprocess.run(
        [OPENSSL, "dgst", "-sha256", "-verify", tmp_path / "pub.pem", "-signature", tmp_path / "sig.der",
         tmp_path / "statement"], capture_output=True, text=True, check=False,
    )
    assert dgst.returncode == 0 and "Verified OK" in dgst.stdout
    (tmp_path / "stamped").write_bytes(m.signature_b64.encode("ascii"))
    (tmp_path / "token.tsr").write_bytes(m.timestamp_token or b"")
    ts = subprocess.run(
        [OPENSSL, "ts", "-verify", "-data", tmp_path / "stamped", "-in", tmp_path / "token.tsr",
         "-CAfile", signed.tsa.root_cert_path], capture_output=True, text=True, check=False,
    )
    assert ts.returncode == 0 and "Verification: OK" in ts.stdout, ts.stdout + ts.stderr
    (tmp_path / "stamped").write_bytes(b"other data")
    ts = subprocess.run(
        [OPENSSL, "ts", "-verify", "-data", tmp_path / "stamped", "-in", tmp_path / "token.tsr",
         "-CAfile", signed.tsa.root_cert_path], capture_output=True, text=True, check=False,
    )
    assert ts.returncode != 0


def test_local_tsa_answers_rfc3161_over_http(tsa) -> None:
    req = TimestampRequestBuilder().data(b"hello").hash_algorithm(HashAlgorithm.SHA256).build()
    http = urllib.request.Request(tsa.url, data=req.as_bytes(),
                                  headers={"Content-Type": "application/timestamp-query"})
    with urllib.request.urlopen(http, timeout=10) as r:
        assert r.headers["Content-Type"] == "application/timestamp-reply"
        resp = decode_timestamp_response(r.read())
    assert resp.status == 0 and resp.tst_info.nonce == req.nonce
    assert resp.tst_info.message_imprint.message == hashlib.sha256(b"hello").digest()
    wrong_type = urllib.request.Request(tsa.url, data=req.as_bytes(), headers={"Content-Type": "text/plain"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(wrong_type, timeout=10)
    assert e.value.code == 415


def test_unreachable_tsa_signs_with_timestamp_pending(tmp_path: Path, tsa) -> None:
    s = make_root(tmp_path / "r", tsa)
    cfg = s.cfg.model_copy(update={"tsa_url": CLOSED_PORT_URL, "tsa_timeout": 2.0})
    w = write_warc(s.archive / "a.warc.gz")
    mpath = api.sign_warc(w, s.root, cfg)  # never raises for the TSA
    m = manifest.Manifest.load(mpath)
    assert m.timestamp["status"] == "pending" and "unreachable" in m.timestamp["reason"]
    report = verify.verify_paths([w], s.policy())
    check4 = next(c for c in report.subjects[0].checks if c.number == 4)
    assert check4.status == "warn" and "timestamp pending" in check4.detail
    assert report.exit_code == 0
    assert verify.verify_paths([w], s.policy(strict=True)).exit_code == 1

    out = sign.retimestamp(w, s.cfg.tsa_url, 10)
    assert out.timestamp == "granted"
    m2 = manifest.Manifest.load(mpath)
    assert m2.timestamp["added_later"] is True
    assert m2.signature_b64 == m.signature_b64  # the signature itself is unchanged
    assert verify.verify_paths([w], s.policy(strict=True)).exit_code == 0


def test_no_tsa_configured_is_pending(tmp_path: Path) -> None:
    s = make_root(tmp_path / "r", None)
    w = write_warc(s.archive / "a.warc.gz")
    m = manifest.Manifest.load(api.sign_warc(w, s.root, s.cfg))
    assert m.timestamp == {"status": "pending", "reason": "no TSA configured (signing.tsa_url)"}


def test_late_retimestamp_is_a_warning_not_a_pass(tmp_path: Path, tsa) -> None:
    s = make_root(tmp_path / "r", tsa)
    w = write_warc(s.archive / "a.warc.gz")
    api.sign_warc(w, s.root, s.cfg.model_copy(update={"tsa_url": None}))
    time.sleep(1.1)  # signing time has whole seconds: the TSA time is now at least 1 s later
    sign.retimestamp(w, s.cfg.tsa_url, 10)
    policy = s.policy()
    policy.max_delay = 0  # pretend the TSA came back after the allowed window
    check4 = next(c for c in verify.verify_paths([w], policy).subjects[0].checks if c.number == 4)
    assert check4.status == "warn" and "added later" in check4.detail


def test_signing_time_after_tsa_time_fails(signed: Setup) -> None:
    """A token obtained before the claimed signing time means the claim is false."""
    w = signed.archive / "20250301120000-a.warc.gz"
    mpath = manifest.manifest_path(w)
    m = manifest.Manifest.load(mpath)
    st = json.loads(m.statement_text)
    st["created"] = "2099-01-01T00:00:00Z"
    m.data["statement"] = manifest.canonical(st)
    identity = api.load_identity(signed.root, signed.cfg)
    m.data["signature"]["value"] = sign.sign_bytes(identity, m.data["statement"].encode())
    m.data["timestamp"] = sign.stamp(m.data["signature"]["value"], signed.cfg.tsa_url, 10)
    m.write(mpath)
    fails = {c.number: c.detail for _s, c in verify.verify_paths([w], signed.policy()).failures()}
    assert "is after the TSA time" in fails[4]


def test_resign_is_idempotent_but_never_covers_a_change(signed: Setup) -> None:
    w = signed.archive / "20250301120000-a.warc.gz"
    before = manifest.manifest_path(w).read_bytes()
    out = sign.sign_warc_file(w, api.load_identity(signed.root, signed.cfg), None, 1)
    assert out.skipped and manifest.manifest_path(w).read_bytes() == before
    plain = record_bytes(w, 2)
    replace_record(w, 2, plain.replace(b"gemeente", b"Gemeente", 1))
    with pytest.raises(BewaarError, match="changed after it was signed") as e:
        api.sign_warc(w, signed.root, signed.cfg)
    assert e.value.exit_code == 1


def test_sign_refuses_garbage(signed: Setup) -> None:
    bad = signed.archive / "bad.warc.gz"
    bad.write_bytes(b"this is not a WARC file\n" * 20)
    with pytest.raises(InputError, match="not a WARC"):
        api.sign_warc(bad, signed.root, signed.cfg)
    empty = signed.archive / "empty.warc.gz"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty file"):
        api.sign_warc(empty, signed.root, signed.cfg)


# --------------------------------------------------------------------------- the scanner


@pytest.mark.parametrize("value", [
    "sha256:ISS6G4ZQKGVLA3BE7V7F4IG4HC4DYDYBEI4Z4DXSQB3AWFU35DDQ====",
    "sha256:ISS6G4ZQKGVLA3BE7V7F4IG4HC4DYDYBEI4Z4DXSQB3AWFU35DDQ",
])
def test_parse_digest_base32(value: str) -> None:
    algo, raw = warcscan.parse_digest(value)
    assert algo == "sha256" and len(raw) == 32
    hexed = warcscan.parse_digest("sha256:" + raw.hex())[1]
    b64 = warcscan.parse_digest("sha256:" + base64.b64encode(raw).decode())[1]
    assert hexed == raw == b64


def test_parse_digest_rejects_nonsense() -> None:
    for bad in ("md9:abc", "sha256:", "sha256:!!!!", "sha256:" + "A" * 10):
        with pytest.raises(ValueError):
            warcscan.parse_digest(bad)


def test_scanner_agrees_with_warcio_checker(signed: Setup, tmp_path: Path) -> None:
    """Our digest rules are warcio's: on intact and tampered files both give the same verdicts."""
    from warcio.archiveiterator import ArchiveIterator

    w = write_warc(tmp_path / "x.warc.gz")
    plain = record_bytes(w, 2)
    replace_record(w, 2, plain.replace(b"text/html", b"text/HTML", 1))
    plain = record_bytes(w, 4)  # the screenshot: payload == block
    replace_record(w, 4, plain[:-10] + b"0123456789")
    ours = {r.offset: r.digest for r in warcscan.scan(w.open("rb")).records}
    theirs = {}
    with w.open("rb") as fh:
        it = ArchiveIterator(fh, check_digests=True)
        for rec in it:
            rec.content_stream().read()
            passed = rec.digest_checker.passed
            theirs[it.get_record_offset()] = {True: "ok", False: "failed", None: None}[passed]
    assert {o: d for o, d in ours.items() if d in ("ok", "failed")} == {
        o: d for o, d in theirs.items() if d is not None
    }
    assert list(ours.values()).count("failed") == 2


def test_hash_thread_failure_is_raised_not_swallowed() -> None:
    pipeline = warcscan.HashPipeline()

    def boom() -> None:
        raise RuntimeError("disk on fire")

    pipeline.submit(boom)
    with pytest.raises(RuntimeError, match="disk on fire"):
        pipeline.close()


def test_scanner_handles_records_split_into_tiny_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """HTTP headers that straddle read boundaries still split header from payload correctly."""
    w = write_warc(tmp_path / "x.warc.gz")
    whole = warcscan.scan(w.open("rb"))
    monkeypatch.setattr(warcscan, "CHUNK", 7)
    tiny = warcscan.scan(w.open("rb"))
    assert [r.digest for r in tiny.records] == [r.digest for r in whole.records]
    assert tiny.sha256 == whole.sha256 and {r.digest for r in tiny.records} == {"ok", "revisit"}
    assert [r.http_status for r in tiny.records] == [r.http_status for r in whole.records]
    plain = record_bytes(w, 2)
    replace_record(w, 2, plain.replace(b"gemeente", b"Gemeente", 1))
    assert [r.index for r in warcscan.scan(w.open("rb")).failed_records] == [3]


def test_scanning_never_swallows_other_threads_stderr(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """The crawler signs on a worker thread while printing progress: those lines must survive."""
    import io as _io
    import os
    import sys
    import threading

    from warcio.statusandheaders import StatusAndHeaders

    from tests.signing.helpers import SHA256WARCWriter, gzip_members

    w = tmp_path / "x.warc.gz"
    with w.open("wb") as fh:
        writer = SHA256WARCWriter(fh, gzip=True)
        http = StatusAndHeaders("200 OK", [("Content-Type", "image/jpeg")], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(
            "https://example.gov/photo.jpg", "response", payload=_io.BytesIO(os.urandom(400_000)),
            http_headers=http))
    off, length = gzip_members(w)[0]
    data = bytearray(w.read_bytes())
    data[off + length - 1000 : off + length - 900] = b"\xff" * 100  # corrupt deflate data late in the member
    w.write_bytes(bytes(data))
    stop = threading.Event()

    def chatter() -> None:
        while not stop.is_set():
            sys.stderr.write("progress line\n")
            time.sleep(0.001)

    t = threading.Thread(target=chatter)
    t.start()
    try:
        result = warcscan.scan(w.open("rb"))
    finally:
        stop.set()
        t.join()
    err = capfd.readouterr().err
    assert "progress line" in err
    # warcio's complaint (zlib's or ISA-L's wording) became the finding below, not noise
    assert {line for line in err.splitlines()} == {"progress line"}, err
    assert any("corrupt" in p for r in result.records for p in r.problems), result

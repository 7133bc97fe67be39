"""Untrusted files stay bounded: each attack is run as it would be, against `bewaar verify` /
`bewaar sign` in a child process, with a timeout and its peak memory measured."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from signing import api, manifest, verify
from signing.report import FAIL
from tests.signing.conftest import Setup
from tests.signing.helpers import BEWAAR, gzip_members, record_bytes, run, write_warc

# bewaar verify's own baseline (interpreter, imports) is ~50-70 MB; the attacks below used to
# take 360 MB (a 100 MB header line) or never finish (/dev/zero)
MAX_RSS_MB = 150

MEASURE = """
import resource, subprocess, sys
p = subprocess.run(sys.argv[1:], capture_output=True, text=True, timeout=60)
print(p.returncode)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)
sys.stderr.write(p.stderr)
"""


def measured(*args: str) -> tuple[int, int, str]:
    """(exit status, peak RSS in MB, stderr) of `bewaar ARGS` in a child of a fresh process."""
    env = {k: v for k, v in os.environ.items() if k != "BEWAAR_DEBUG"}
    p = subprocess.run([sys.executable, "-c", MEASURE, BEWAAR, *args], capture_output=True,
                       text=True, timeout=120, env=env, check=True)
    code, rss = p.stdout.split()
    return int(code), int(rss), p.stderr


def long_header_line(path: Path, mb: int = 100) -> Path:
    """One gzip member: a WARC record whose header line is `mb` MB of 'A' (it compresses to
    ~100 KB, so the file is small and only inflating it is big)."""
    co = zlib.compressobj(9, zlib.DEFLATED, 31)
    out = [co.compress(b"WARC/1.1\r\nWARC-Type: response\r\nWARC-Target-URI: http://x/")]
    block = b"A" * (1 << 20)
    out += [co.compress(block) for _ in range(mb)]
    out += [co.compress(b"\r\nContent-Length: 0\r\n\r\n\r\n\r\n"), co.flush()]
    path.write_bytes(b"".join(out))
    return path


def test_a_100_mb_header_line_is_an_error_after_a_bounded_read(tmp_path: Path) -> None:
    w = long_header_line(tmp_path / "hostile.warc.gz")
    assert w.stat().st_size < 1_000_000
    code, rss, err = measured("verify", "--root", str(tmp_path), str(w))
    assert code == 2 and "a line of more than 1024 KiB where a WARC header should be" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert rss < MAX_RSS_MB, f"{rss} MB"


def test_a_long_header_line_after_good_records_is_a_failed_check(signed: Setup, tmp_path: Path) -> None:
    w = signed.archive / "20250301120000-a.warc.gz"
    with w.open("ab") as fh:
        fh.write(long_header_line(tmp_path / "tail.gz", 20).read_bytes())
    report = verify.verify_paths([w], signed.policy())
    fails = {c.number: c.detail for _s, c in report.failures()}
    assert "a line of more than 1024 KiB" in fails[1]


def test_symlink_to_dev_zero_in_a_collection_is_reported_not_followed(signed: Setup) -> None:
    (signed.archive / "zero.warc.gz").symlink_to("/dev/zero")
    (signed.archive / "elsewhere.warc.gz").symlink_to(signed.root / "keys" / "signing-cert.pem")
    p = run("verify", "--root", str(signed.root), "--trusted-tsa-roots",
            str(api.resolve(signed.root, signed.cfg.trusted_tsa_roots)), str(signed.collection))
    assert p.returncode == 1, p.stdout + p.stderr
    assert "archive/zero.warc.gz is a symbolic link to /dev/zero, outside c/: not followed" in p.stdout
    assert "archive/elsewhere.warc.gz is a symbolic link to" in p.stdout
    # the real WARCs are still verified, each passing
    assert p.stdout.count("[ok  ] 1 record digests") == 2


def test_devices_and_fifos_given_directly_are_refused(tmp_path: Path) -> None:
    link = tmp_path / "zero.warc.gz"
    link.symlink_to("/dev/zero")
    fifo = tmp_path / "pipe.warc.gz"
    os.mkfifo(fifo)
    for target in (link, fifo, tmp_path / "pipe.wacz"):
        if target.suffix == ".wacz":
            os.mkfifo(target)
        p = run("verify", "--root", str(tmp_path), str(target))
        assert p.returncode == 2 and "not a regular file" in p.stderr, p.stderr
        assert len(p.stderr.strip().splitlines()) == 1


def test_manifest_linked_to_dev_zero_fails_without_hanging(signed: Setup) -> None:
    w = signed.archive / "20250301120000-a.warc.gz"
    mpath = manifest.manifest_path(w)
    mpath.unlink()
    mpath.symlink_to("/dev/zero")
    p = run("verify", "--root", str(signed.root), str(w))
    assert p.returncode == 1 and "not a regular file" in p.stdout


def test_sign_refuses_a_cut_off_last_record(signed: Setup) -> None:
    w = write_warc(signed.archive / "20250303120000-c.warc.gz")
    data = w.read_bytes()
    w.write_bytes(data[:-150])  # the crawler died while writing the last record
    p = run("sign", "--root", str(signed.root), str(w))
    assert p.returncode == 2 and "cannot sign" in p.stderr and "truncated" in p.stderr, p.stderr
    assert not manifest.manifest_path(w).exists()


def test_sign_refuses_a_last_record_failing_its_digest(signed: Setup) -> None:
    from tests.signing.helpers import replace_record

    w = write_warc(signed.archive / "20250303120000-c.warc.gz", revisit=False)
    last = len(gzip_members(w)) - 1
    plain = record_bytes(w, last)
    replace_record(w, last, plain[:-20] + b"X" + plain[-19:])
    p = run("sign", "--root", str(signed.root), str(w))
    assert p.returncode == 2 and "its last record" in p.stderr and "digest does not match" in p.stderr
    assert not manifest.manifest_path(w).exists()


def test_plain_warc_from_another_crawler_is_not_signed(tmp_path: Path) -> None:
    """WARC/1.0, sha1 digests (as wget and Heritrix write them), no manifest anywhere."""
    import io

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    w = tmp_path / "other-crawler.warc.gz"
    with w.open("wb") as fh:
        writer = WARCWriter(fh, gzip=True, warc_version="WARC/1.0")
        writer.write_record(writer.create_warcinfo_record(w.name, {"software": "Wget/1.21"}))
        for i in range(3):
            body = f"<html>page {i}</html>".encode()
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(f"https://example.org/{i}", "response",
                                                          payload=io.BytesIO(body), http_headers=http))
    (tmp_path / "keys").mkdir()
    p = run("verify", "--root", str(tmp_path), "--json", str(w))
    data = json.loads(p.stdout)
    assert p.returncode == 0 and data["verdict"] == "NOT SIGNED" and data["outcome"] == "not_signed"
    sub = data["subjects"][0]
    assert sub["status"] == "unsigned" and sub["facts"]["signed"] is False
    checks = {c["check"]: c for c in sub["checks"]}
    assert checks[1]["status"] == "pass" and "all block and payload digests match (4 checked" in checks[1]["detail"]
    assert checks[2]["status"] == "unsigned" and "not signed" in checks[2]["detail"]
    p = run("verify", "--root", str(tmp_path), str(w))
    assert "verify: NOT SIGNED" in p.stdout and "not a sign of tampering" in p.stdout
    assert run("verify", "--root", str(tmp_path), "--strict", str(w)).returncode == 1
    # damage in an unsigned file is damage, not "not signed"
    from tests.signing.helpers import replace_record

    plain = record_bytes(w, 2)
    replace_record(w, 2, plain.replace(b"page 1", b"page 9"))
    p = run("verify", "--root", str(tmp_path), "--json", str(w))
    data = json.loads(p.stdout)
    assert p.returncode == 1 and data["verdict"] == "FAILED" and data["first_failure"]["check"] == 1


@pytest.mark.parametrize("evidence", [False, True])
def test_parallel_scan_gives_the_sequential_scans_findings(tmp_path: Path, evidence: bool) -> None:
    from signing import parallelscan, warcscan

    w = write_warc(tmp_path / "a.warc.gz", [f"https://example.gov/{i}" for i in range(40)])
    seq = warcscan.scan(w.open("rb"), keep_screenshots=evidence)
    layout = [(r.offset, r.length) for r in seq.records]
    fd = os.open(w, os.O_RDONLY)
    try:
        size = w.stat().st_size
        one = parallelscan.scan(fd, layout, size=size, keep_screenshots=evidence, workers=1)
        many = parallelscan._in_processes(w, fd, layout, 0, size, evidence, 2)
        for result in (one, many):
            assert result is not None
            assert (result.sha256, result.size, result.records, result.pages) == (
                seq.sha256, seq.size, seq.records, seq.pages)
            assert [s.png for s in result.screenshots] == [s.png for s in seq.screenshots]
        # a layout that does not match the file is refused, never trusted
        assert parallelscan.scan(fd, [(0, layout[0][1] + 1), *layout[1:]], size=size) is None
        assert parallelscan.scan(fd, layout[:-1], size=size) is None
    finally:
        os.close(fd)


def test_parallel_scan_falls_back_to_name_the_problem(signed: Setup) -> None:
    """A tampered record makes the fast path give up; the findings are the sequential scan's."""
    from tests.signing.helpers import replace_record

    w = signed.archive / "20250301120000-a.warc.gz"
    plain = record_bytes(w, 2)
    replace_record(w, 2, plain.replace(b"gemeente", b"Gemeente", 1))
    report = verify.verify_paths([w], signed.policy())
    fails = {c.number: c.detail for _s, c in report.failures()}
    assert "record 3 of 12" in fails[1] and "payload digest does not match" in fails[1]
    assert [c.status for c in report.subjects[0].checks][:2] == [FAIL, FAIL]

"""Every kind of tampering is caught, by the right check, with the record named where possible."""

from __future__ import annotations

import base64
import gzip
import json
import shutil
from pathlib import Path

import pytest

from signing import api, keys, manifest, sign, verify
from signing.report import FAIL, PASS, Report
from tests.signing.conftest import Setup, make_root
from tests.signing.helpers import gzip_members, record_bytes, replace_record, write_warc


def run_verify(s: Setup, path: Path | None = None) -> Report:
    return verify.verify_paths([path or s.archive / "20250301120000-a.warc.gz"], s.policy())


def failing(report: Report) -> dict[int, str]:
    return {c.number: c.detail for _s, c in report.failures()}


def the_warc(s: Setup) -> Path:
    return s.archive / "20250301120000-a.warc.gz"


def test_untouched_capture_passes_every_check(signed: Setup) -> None:
    report = verify.verify_paths([signed.collection], signed.policy())
    assert report.exit_code == 0, report.human()
    statuses = {(s.path, c.number): c.status for s in report.subjects for c in s.checks}
    warc = str(the_warc(signed))
    assert [statuses[(warc, n)] for n in (1, 2, 3, 4)] == [PASS] * 4


def test_payload_byte_flipped(signed: Setup) -> None:
    w = the_warc(signed)
    plain = record_bytes(w, 2)  # record 3: the first response
    i = plain.rfind(b"gemeente")
    replace_record(w, 2, plain[:i] + b"G" + plain[i + 1 :])
    fails = failing(run_verify(signed))
    assert "record 3 of 12" in fails[1] and "payload digest does not match" in fails[1]
    assert "https://example.gov/news/1" in fails[1]
    assert 2 in fails  # and the file hash no longer matches the signature


def test_http_header_byte_flipped(signed: Setup) -> None:
    w = the_warc(signed)
    plain = record_bytes(w, 2)
    i = plain.find(b"text/html")
    replace_record(w, 2, plain[:i] + b"T" + plain[i + 1 :])
    fails = failing(run_verify(signed))
    assert "record 3 of 12" in fails[1]
    assert "block digest does not match" in fails[1] and "payload digest" not in fails[1]


def test_warc_header_byte_flipped(signed: Setup) -> None:
    """WARC headers are outside every record digest: only the signed file hash catches this."""
    w = the_warc(signed)
    plain = record_bytes(w, 2)
    i = plain.find(b"WARC-Target-URI: https://example.gov/news/1") + len("WARC-Target-URI: https://example.gov/news/")
    replace_record(w, 2, plain[:i] + b"9" + plain[i + 1 :])
    report = run_verify(signed)
    fails = failing(report)
    assert 1 not in fails  # every record's digest still matches
    assert "record 3 of 12" in fails[2] and "WARC header was changed" in fails[2]


def _drop_member(path: Path, index: int) -> None:
    data = path.read_bytes()
    off, length = gzip_members(path)[index]
    path.write_bytes(data[:off] + data[off + length :])


def test_record_removed(signed: Setup) -> None:
    w = the_warc(signed)
    _drop_member(w, 3)  # record 4: the screenshot
    fails = failing(run_verify(signed))
    assert 1 not in fails
    assert "record 4 of 12" in fails[2] and "is missing" in fails[2]
    assert "urn:screenshot:https://example.gov/news/1" in fails[2]


def test_record_appended(signed: Setup, tmp_path: Path) -> None:
    w = the_warc(signed)
    extra = write_warc(tmp_path / "extra.warc.gz", ["https://example.gov/forged"], revisit=False)
    off, length = gzip_members(extra)[2]  # a well-formed response record with valid digests
    with w.open("ab") as fh:
        fh.write(extra.read_bytes()[off : off + length])
    fails = failing(run_verify(signed))
    assert 1 not in fails
    assert "record 13" in fails[2] and "appended after record 12" in fails[2]
    assert "https://example.gov/forged" in fails[2]


def test_records_reordered(signed: Setup) -> None:
    w = the_warc(signed)
    data = w.read_bytes()
    m = gzip_members(w)
    (o4, l4), (o5, l5) = m[4], m[5]
    w.write_bytes(data[:o4] + data[o5 : o5 + l5] + data[o4 : o4 + l4] + data[o5 + l5 :])
    fails = failing(run_verify(signed))
    assert 1 not in fails
    assert "reordered" in fails[2] and "signed record 6 of 12" in fails[2] and "position 5" in fails[2]


def test_file_truncated(signed: Setup) -> None:
    w = the_warc(signed)
    data = w.read_bytes()
    w.write_bytes(data[: len(data) - 150])
    fails = failing(run_verify(signed))
    assert "record 12 of 12" in fails[1] and "truncated" in fails[1]
    assert "shorter, truncated" in fails[2]


def test_file_truncated_between_records(signed: Setup) -> None:
    w = the_warc(signed)
    off, _length = gzip_members(w)[8]
    w.write_bytes(w.read_bytes()[:off])
    fails = failing(run_verify(signed))
    assert "record 9 of 12" in fails[2] and "is missing" in fails[2]
    assert "and 3 more after it" in fails[2]


def test_manifest_swapped_with_another_files(signed: Setup) -> None:
    a = the_warc(signed)
    b = signed.archive / "20250302120000-b.warc.gz"
    shutil.copyfile(manifest.manifest_path(b), manifest.manifest_path(a))
    fails = failing(run_verify(signed))
    assert "the manifest is for '20250302120000-b.warc.gz'" in fails[2]
    assert 3 not in fails  # the swapped manifest is itself genuine


def test_signature_by_a_different_key(signed: Setup) -> None:
    """The signature value is replaced by one from another key; the certificate stays."""
    mpath = manifest.manifest_path(the_warc(signed))
    m = manifest.Manifest.load(mpath)
    intruder = keys.self_managed_identity("intruder")
    m.data["signature"]["value"] = sign.sign_bytes(intruder, m.statement_text.encode())
    m.write(mpath)
    fails = failing(run_verify(signed))
    assert "does not verify with the signer certificate" in fails[3]
    # the TSA stamped the original signature, not this one
    assert "token is for other data" in fails[4]


def test_certificate_not_trusted(signed: Setup, tmp_path: Path) -> None:
    """Someone re-signs the (tampered) file with their own, valid key and certificate."""
    w = the_warc(signed)
    plain = record_bytes(w, 2)
    i = plain.rfind(b"gemeente")
    manifest.manifest_path(w).unlink()
    replace_record(w, 2, plain[:i] + b"G" + plain[i + 1 :])
    other = make_root(tmp_path / "other", signed.tsa)
    api.sign_warc(w, other.root, other.cfg)
    fails = failing(run_verify(signed))
    assert "signature is valid, but" in fails[3] and "does not chain to a trusted signer root" in fails[3]


def test_timestamp_from_untrusted_tsa(signed: Setup, rogue_tsa) -> None:
    w = the_warc(signed)
    mpath = manifest.manifest_path(w)
    m = manifest.Manifest.load(mpath)
    m.data["timestamp"] = sign.stamp(m.signature_b64, rogue_tsa.url, 10)
    m.write(mpath)
    fails = failing(run_verify(signed))
    assert 3 not in fails
    assert "TSA certificate 'rogue TSA'" in fails[4] and "does not chain to a trusted TSA root" in fails[4]


def test_timestamp_token_for_other_data(signed: Setup) -> None:
    a = manifest.manifest_path(the_warc(signed))
    b = manifest.manifest_path(signed.archive / "20250302120000-b.warc.gz")
    ma, mb = manifest.Manifest.load(a), manifest.Manifest.load(b)
    ma.data["timestamp"] = mb.data["timestamp"]
    ma.write(a)
    fails = failing(run_verify(signed))
    assert set(fails) == {4}
    assert "token is for other data" in fails[4]


def test_statement_edited_breaks_signature(signed: Setup) -> None:
    mpath = manifest.manifest_path(the_warc(signed))
    m = manifest.Manifest.load(mpath)
    st = json.loads(m.statement_text)
    st["created"] = "2020-01-01T00:00:00Z"  # backdating the claim
    m.data["statement"] = manifest.canonical(st)
    m.write(mpath)
    fails = failing(run_verify(signed))
    assert "does not verify" in fails[3]


def test_manifest_missing_and_garbage(signed: Setup) -> None:
    w = the_warc(signed)
    mpath = manifest.manifest_path(w)
    mpath.write_text("{not json")
    assert "not a readable signature manifest" in failing(run_verify(signed))[2]
    mpath.unlink()
    assert "no signature manifest" in failing(run_verify(signed))[2]


def test_collection_missing_and_extra_files(signed: Setup) -> None:
    (signed.archive / "20250302120000-b.warc.gz").unlink()
    (signed.archive / "notes.txt").write_text("hello")
    write_warc(signed.archive / "20250303-unsigned.warc.gz")
    report = verify.verify_paths([signed.collection], signed.policy())
    listing = next(s for s in report.subjects if s.kind == "collection")
    detail = listing.checks[0].detail
    assert listing.checks[0].status == FAIL
    assert "missing WARC(s): 20250302120000-b.warc.gz" in detail
    assert "unsigned WARC(s): 20250303-unsigned.warc.gz" in detail
    assert "notes.txt" in detail
    assert report.exit_code == 1


def test_tmp_warcs_are_ignored_and_never_signed(signed: Setup) -> None:
    tmp = write_warc(signed.collection / "tmp" / "20250304-open.warc.gz")
    assert verify.verify_paths([signed.collection], signed.policy()).exit_code == 0
    with pytest.raises(Exception, match="tmp/"):
        api.sign_warc(tmp, signed.root, signed.cfg)


def test_uncompressed_warc_is_signed_and_checked(signed: Setup) -> None:
    w = write_warc(signed.archive / "20250305-plain.warc", gzip_records=False)
    api.sign_warc(w, signed.root, signed.cfg)
    assert verify.verify_paths([w], signed.policy()).exit_code == 0
    data = bytearray(w.read_bytes())
    i = data.rfind(b"gemeente")
    data[i] = ord("G")
    w.write_bytes(bytes(data))
    fails = failing(verify.verify_paths([w], signed.policy()))
    assert "digest does not match" in fails[1] and 2 in fails


def test_signature_value_not_base64(signed: Setup) -> None:
    mpath = manifest.manifest_path(the_warc(signed))
    m = manifest.Manifest.load(mpath)
    m.data["signature"]["value"] = "%%%"
    m.write(mpath)
    assert 3 in failing(run_verify(signed))


def test_gzip_stream_corrupted_inside_a_record(signed: Setup) -> None:
    w = the_warc(signed)
    off, length = gzip_members(w)[2]
    data = bytearray(w.read_bytes())
    data[off + length // 2] ^= 0x55
    w.write_bytes(bytes(data))
    fails = failing(run_verify(signed))
    assert 1 in fails and 2 in fails
    assert "record 3 of" in fails[1] or "offset" in fails[1]


def test_record_digests_written_in_hex_and_base64_are_accepted(signed: Setup, tmp_path: Path) -> None:
    w = write_warc(tmp_path / "x.warc.gz")
    for idx in range(len(gzip_members(w))):
        plain = record_bytes(w, idx)
        head, sep, body = plain.partition(b"\r\n\r\n")
        lines = []
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b": ")
            if name in (b"WARC-Block-Digest", b"WARC-Payload-Digest"):
                raw = base64.b32decode(value.split(b":", 1)[1])
                enc = raw.hex().encode() if idx % 2 else base64.b64encode(raw)
                line = name + b": sha256:" + enc
            lines.append(line)
        replace_record(w, idx, b"\r\n".join(lines) + sep + body)
    report = verify.verify_paths([w], signed.policy())
    assert report.subjects[0].checks[0].status == PASS, report.human()
    assert gzip.decompress(w.read_bytes()).count(b"sha256:") > 10


def test_recompressed_file_with_identical_records(signed: Setup) -> None:
    """Same records, different gzip bytes: the content is intact but it is not the signed file."""
    w = the_warc(signed)
    data = w.read_bytes()
    out = b"".join(
        gzip.compress(gzip.decompress(data[o : o + n]), compresslevel=1, mtime=0)
        for o, n in gzip_members(w)
    )
    w.write_bytes(out)
    fails = failing(run_verify(signed))
    assert 1 not in fails
    assert "differs from the signed" in fails[2]

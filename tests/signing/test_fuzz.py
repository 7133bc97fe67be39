"""Generated bad input against verify's WARC and WACZ readers (hypothesis).

Every case must end in a report (pass/fail lines) or a BewaarError (the one-line
`bewaar: error: …` with exit status 2) — never another exception (a traceback), never a hang
(hypothesis' deadline), never unbounded memory (inflating bombs is measured). The report must
also render, as text and as JSON, the way the CLI prints it. The example counts keep the whole
module to a few seconds of examples.
"""

from __future__ import annotations

import gzip
import io
import json
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bewaar.errors import BewaarError
from signing import verify
from signing.report import Report
from tests.signing.conftest import Setup

SETTINGS = settings(max_examples=60, deadline=4000, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow, HealthCheck.data_too_large])


MATERIAL: dict[str, bytes] = {}


@pytest.fixture(scope="module", autouse=True)
def material(tmp_path_factory: pytest.TempPathFactory, signed_template: Setup) -> None:
    """Valid bytes to mutate: a signed WARC, its manifest, and a signed WACZ (kept out of the
    tests' arguments, so a failing example's report stays readable)."""
    from signing import wacz

    warc = signed_template.archive / "20250301120000-a.warc.gz"
    out = tmp_path_factory.mktemp("fuzz") / "c.wacz"
    wacz.package(signed_template.root, signed_template.cfg, "c", out)
    MATERIAL.update(
        warc=warc.read_bytes(),
        manifest=(warc.parent / (warc.name + ".sig.json")).read_bytes(),
        wacz=out.read_bytes(),
    )


def outcome(path: Path, policy: verify.Policy) -> Report | BewaarError:
    """What `bewaar verify PATH` does, short of printing: a report, or one BewaarError."""
    try:
        report = verify.verify_paths([path], policy)
    except BewaarError as e:
        assert str(e) and "\n" not in str(e).strip(), repr(str(e))
        assert e.exit_code == 2
        return e
    # rendered as the CLI prints them (UTF-8 stdout): must not raise either
    report.human().encode("utf-8", "surrogateescape")
    json.loads(report.as_json())
    assert report.exit_code in (0, 1)
    return report


def mutate(data: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    out = bytearray(data)
    for pos, cut, insert in edits:
        pos %= max(1, len(out))
        out[pos : pos + cut] = insert
    return bytes(out)


edits = st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 64), st.binary(max_size=48)),
                 min_size=1, max_size=6)


# --------------------------------------------------------------------------- WARC reader


@SETTINGS
@given(data=st.binary(max_size=4096), gz=st.booleans())
def test_random_bytes_as_a_warc(tmp_path: Path, signed: Setup, data: bytes, gz: bool) -> None:
    f = tmp_path / ("x.warc.gz" if gz else "x.warc")
    f.write_bytes(gzip.compress(data) if gz else data)
    outcome(f, signed.policy())


@SETTINGS
@given(changes=edits, truncate=st.integers(0, 4000))
def test_mutated_signed_warc(tmp_path: Path, signed: Setup,                              changes: list[tuple[int, int, bytes]], truncate: int) -> None:
    f = tmp_path / "20250301120000-a.warc.gz"
    data = mutate(MATERIAL["warc"], changes)
    data = data[: max(1, len(data) - truncate)] if truncate % 3 == 0 else data
    f.write_bytes(data)
    (tmp_path / (f.name + ".sig.json")).write_bytes(MATERIAL["manifest"])
    result = outcome(f, signed.policy())
    if data != MATERIAL["warc"]:  # a changed file never passes
        assert isinstance(result, BewaarError) or result.exit_code == 1


@SETTINGS
@given(header=st.dictionaries(
    st.sampled_from(["WARC-Type", "Content-Length", "WARC-Block-Digest", "WARC-Payload-Digest",
                     "WARC-Target-URI", "WARC-Record-ID", "WARC-Date", "Content-Type",
                     "WARC-Segment-Number", "WARC-Concurrent-To"]),
    st.text(st.characters(codec="latin-1", exclude_characters="\r\n"), max_size=80), min_size=1),
    body=st.binary(max_size=300), version=st.sampled_from([b"WARC/1.1", b"WARC/1.0", b"WARC/0.9", b"HTTP/1.1"]))
def test_generated_warc_headers(tmp_path: Path, signed: Setup, header: dict[str, str], body: bytes,
                                version: bytes) -> None:
    lines = b"".join(f"{k}: {v}\r\n".encode("latin-1") for k, v in header.items())
    f = tmp_path / "x.warc.gz"
    f.write_bytes(gzip.compress(version + b"\r\n" + lines + b"\r\n" + body + b"\r\n\r\n"))
    outcome(f, signed.policy())


@SETTINGS
@given(value=st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40) | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12),
    key=st.sampled_from(["statement", "signature", "signer", "timestamp", "records", "renewals",
                         "revocation", "manifest"]))
def test_manifest_fields_of_any_type(tmp_path: Path, signed: Setup,                                      value: object, key: str) -> None:
    f = tmp_path / "20250301120000-a.warc.gz"
    f.write_bytes(MATERIAL["warc"])
    m = json.loads(MATERIAL["manifest"])
    if key == "manifest" and not isinstance(value, str):
        value = "bewaar-warc-signature/2"
    m[key] = value
    if key in ("renewals", "revocation"):
        m["manifest"] = "bewaar-warc-signature/2"
    (tmp_path / (f.name + ".sig.json")).write_text(json.dumps(m))
    outcome(f, signed.policy())


def test_deeply_nested_manifest_json(tmp_path: Path, signed: Setup) -> None:
    f = tmp_path / "20250301120000-a.warc.gz"
    f.write_bytes(MATERIAL["warc"])
    (tmp_path / (f.name + ".sig.json")).write_text("[" * 200_000 + "]" * 200_000)
    result = outcome(f, signed.policy())
    assert isinstance(result, Report) and result.exit_code == 1


@settings(max_examples=8, deadline=20000, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(size_mb=st.integers(8, 64), where=st.sampled_from(["header", "block", "after"]))
def test_inflation_bombs_stay_bounded(tmp_path: Path, signed: Setup, size_mb: int, where: str) -> None:
    """Small gzip members that inflate to tens of MB: memory stays far below their size."""
    payload = b"A" * (size_mb << 20)
    if where == "header":
        record = b"WARC/1.1\r\nWARC-Type: resource\r\nX-Long: " + payload + b"\r\n\r\n"
    elif where == "block":
        record = (b"WARC/1.1\r\nWARC-Type: resource\r\nWARC-Target-URI: urn:x\r\nContent-Length: "
                  + str(len(payload)).encode() + b"\r\n\r\n" + payload + b"\r\n\r\n")
    else:
        record = b"WARC/1.1\r\nWARC-Type: resource\r\nContent-Length: 0\r\n\r\n\r\n\r\n" + payload
    f = tmp_path / "bomb.warc.gz"
    co = zlib.compressobj(9, zlib.DEFLATED, 31)
    f.write_bytes(co.compress(record) + co.flush())
    del payload, record
    tracemalloc.start()
    try:
        outcome(f, signed.policy())
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 48 << 20, f"{peak >> 20} MB traced while verifying a {size_mb} MB bomb"


# --------------------------------------------------------------------------- WACZ reader


@SETTINGS
@given(changes=edits)
def test_mutated_wacz(tmp_path: Path, signed: Setup,                       changes: list[tuple[int, int, bytes]]) -> None:
    f = tmp_path / "x.wacz"
    f.write_bytes(mutate(MATERIAL["wacz"], changes))
    outcome(f, signed.policy())


member_names = st.sampled_from([
    "datapackage.json", "datapackage-digest.json", "archive/a.warc.gz", "archive/b.warc",
    "indexes/index.cdx.gz", "indexes/index.idx", "indexes/index.cdxj", "pages/pages.jsonl",
    "signatures/a.warc.gz.sig.json", "../evil", "/abs", "a\\b", "archive/", "x" * 300,
])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["resources", "path", "hash", "bytes", "signedData", "signature", "created",
                         "domain", "domainCert", "publicKey", "timeSignature", "timestampCert",
                         "crossSignedCert", "wacz_version", "software", "filename", "offset",
                         "length", "url"]), inner, max_size=5),
    max_leaves=15)


@pytest.mark.filterwarnings("ignore:Duplicate name")  # duplicates are generated on purpose
@SETTINGS
@given(members=st.lists(st.tuples(member_names, st.one_of(
    st.binary(max_size=600), json_values.map(lambda v: json.dumps(v).encode()))), max_size=8),
    stored=st.booleans())
def test_generated_zip_packages(tmp_path: Path, signed: Setup,
                                members: list[tuple[str, bytes]], stored: bool) -> None:
    f = tmp_path / "x.wacz"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED) as z:
        for name, data in members:
            z.writestr(name, data)
    f.write_bytes(buf.getvalue())
    outcome(f, signed.policy())


@SETTINGS
@given(signed_data=json_values, key=st.sampled_from(["signedData", "hash", None]))
def test_signed_data_of_any_shape(tmp_path: Path, signed: Setup,                                   signed_data: object, key: str | None) -> None:
    f = tmp_path / "x.wacz"
    with zipfile.ZipFile(io.BytesIO(MATERIAL["wacz"])) as zin, zipfile.ZipFile(f, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "datapackage-digest.json":
                doc = json.loads(data)
                if key is None:
                    doc = signed_data
                else:
                    doc[key] = signed_data
                data = json.dumps(doc).encode()
            zout.writestr(info, data)
    outcome(f, signed.policy())

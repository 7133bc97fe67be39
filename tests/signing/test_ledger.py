"""The collection ledger on its own: started from what is present, appended by `bewaar sign`,
and every way of tampering with it or around it named by `bewaar verify`."""

from __future__ import annotations

import json
from pathlib import Path

from signing import ledger
from tests.signing.conftest import Setup
from tests.signing.helpers import run, write_warc


def verify(s: Setup, *paths: Path) -> tuple[int, dict, str]:
    p = run("verify", "--root", str(s.root), "--json", *(str(x) for x in paths or [s.collection]))
    assert "Traceback" not in p.stderr, p.stderr
    return p.returncode, json.loads(p.stdout), p.stdout


def ledger_check(report: dict) -> dict:
    (sub,) = [s for s in report["subjects"] if s["kind"] == "ledger"]
    (check,) = [c for c in sub["checks"] if c["check"] == 6]
    return {**check, "facts": sub["facts"].get("ledger", {})}


def test_existing_collection_gets_a_ledger_marked_as_such(signed: Setup) -> None:
    code, report, _ = verify(signed)
    assert code == 0 and ledger_check(report)["status"] == "warn"
    assert "no ledger" in ledger_check(report)["detail"]

    p = run("ledger", "update", "--root", str(signed.root), "c")
    assert p.returncode == 0, p.stderr
    assert "started from the files present" in p.stdout and "timestamped" in p.stdout
    lines = ledger.load(signed.collection)
    assert [ln.event for ln in lines] == ["started", "added", "added", "seal"]
    assert lines[0].data["from_existing"] is True and lines[1].data["existing"] is True

    code, report, _ = verify(signed)
    check = ledger_check(report)
    assert code == 0 and report["outcome"] == "passed", check
    assert "started from the files then present" in check["detail"]
    assert check["facts"]["seals"] == 1 and check["facts"]["newest_timestamp"]

    # nothing new: no empty seal
    p = run("ledger", "update", "--root", str(signed.root), "c")
    assert "up to date" in p.stdout and len(ledger.load(signed.collection)) == 4

    # a WARC signed later is added (not "existing"), under a new seal
    w = write_warc(signed.archive / "20250303120000-c.warc.gz", ["https://example.gov/c"])
    p = run("sign", "--root", str(signed.root), str(w))
    assert p.returncode == 0 and "ledger of c: sealed at line 6" in p.stdout, p.stdout
    lines = ledger.load(signed.collection)
    assert lines[4].event == "added" and lines[4].data["file"] == w.name
    assert "existing" not in lines[4].data
    assert verify(signed)[0] == 0
    pos = ledger.position(signed.collection, w.name)
    assert pos is not None and pos["line"] == 5 and pos["sealed_by"]["line"] == 6
    assert pos["sealed_by"]["timestamp"] and pos["head"]["line"] == 6


def test_a_warc_deleted_with_its_signature_is_named(signed: Setup) -> None:
    assert run("ledger", "update", "--root", str(signed.root), "c").returncode == 0
    gone = signed.archive / "20250302120000-b.warc.gz"
    gone.unlink()
    gone.with_name(gone.name + ".sig.json").unlink()
    code, report, out = verify(signed)
    assert code == 1
    assert report["first_failure"]["check"] == 6
    assert ("20250302120000-b.warc.gz is missing: the ledger holds it (ledger.jsonl line 3) and "
            "no destruction or redaction record removed it") in report["first_failure"]["detail"]
    p = run("verify", "--root", str(signed.root), str(signed.collection))
    assert p.returncode == 1 and "20250302120000-b.warc.gz is missing" in p.stdout.splitlines()[-1]


def test_an_edited_line_is_named(signed: Setup) -> None:
    assert run("ledger", "update", "--root", str(signed.root), "c").returncode == 0
    path = ledger.ledger_file(signed.collection)
    lines = path.read_bytes().split(b"\n")
    edited = json.loads(lines[1])
    edited["size"] += 1
    lines[1] = json.dumps(edited, sort_keys=True, separators=(",", ":")).encode()
    path.write_bytes(b"\n".join(lines))
    code, report, _ = verify(signed)
    assert code == 1
    detail = ledger_check(report)["detail"]
    assert detail.startswith("ledger.jsonl line 2 was changed after it was written"), detail


def test_unsealed_lines_and_a_forged_seal_fail(signed: Setup, tmp_path: Path) -> None:
    assert run("ledger", "update", "--root", str(signed.root), "c").returncode == 0
    path = ledger.ledger_file(signed.collection)
    data = path.read_bytes()
    last = ledger.read_lines(data.rstrip(b"\n"))
    *_, seal = last
    forged = {"event": "destroyed", "file": "20250301120000-a.warc.gz", "record": "x",
              "seq": seal.data["seq"] + 1, "prev": seal.hash, "time": "2030-01-01T00:00:00Z"}
    path.write_bytes(data + json.dumps(forged).encode() + b"\n")
    code, report, _ = verify(signed)
    detail = ledger_check(report)["detail"]
    assert code == 1 and "ledger.jsonl lines 5–5 are covered by no signed seal" in detail, detail

    # a seal made with another key (a self-signed one nobody trusts) does not count
    from signing import keys

    other = ledger.Signer(keys.self_managed_identity("someone else"), None)
    path.write_bytes(data)
    ledger.append(signed.collection, [], other)
    code, report, _ = verify(signed)
    assert code == 1 and "(seal)" in ledger_check(report)["detail"]


def test_package_carries_the_ledger(signed: Setup, tmp_path: Path) -> None:
    assert run("ledger", "update", "--root", str(signed.root), "c").returncode == 0
    out = tmp_path / "c.wacz"
    assert run("package", "c", "-o", str(out), "--root", str(signed.root)).returncode == 0
    code, report, _ = verify(signed, out)
    assert code == 0, report["first_failure"]
    pkg = report["subjects"][0]
    (check,) = [c for c in pkg["checks"] if c["check"] == 6]
    assert check["status"] == "pass" and "2 file(s) in this package" in check["detail"]


def test_a_pending_seal_is_proven_by_a_later_one(signed: Setup) -> None:
    from signing import api

    identity = api.load_identity(signed.root, signed.cfg)
    ledger.update(signed.collection, ledger.Signer(identity, None))  # no TSA: pending
    code, report, _ = verify(signed)
    check = ledger_check(report)
    assert code == 0 and check["status"] == "warn" and "timestamp is pending" in check["detail"]
    p = run("ledger", "seal", "--root", str(signed.root), "c")
    assert p.returncode == 0 and "sealed at line 5, timestamped" in p.stdout, p.stdout
    code, report, _ = verify(signed)
    assert code == 0 and report["outcome"] == "passed", ledger_check(report)
    p = run("ledger", "show", "--root", str(signed.root), "c")
    assert p.returncode == 0 and "started from the files then present" in p.stdout
    assert "seal by 'Gemeente Testdorp archive', timestamp pending" in p.stdout

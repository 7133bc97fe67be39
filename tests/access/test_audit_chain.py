"""The audit trail's hash chain on real files: monthly rotation keeps the chain, and `bewaar
audit verify` names a changed, removed or moved line, and lines cut from the end."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from bewaar.app.access import audit_log
from bewaar.model import Root
from tests.conftest import run_bewaar


def _trail(root: Path) -> list[Path]:
    log = audit_log(Root(root))
    for month, day, user in [(11, 29, "anna"), (11, 30, "jan"), (12, 1, "anna"), (12, 2, "piet"),
                             (12, 3, "anna"), (1, 4, "jan")]:  # fmt: skip
        year = 2027 if month == 1 else 2026
        log.append("view", user, "reader", f"/gov/mp_/page-{day}", "200",
                   when=datetime(year, month, day, 12, tzinfo=UTC))  # fmt: skip
    return log.files()


def _verify(root: Path) -> tuple[int, str]:
    proc = run_bewaar("audit", "verify", "--root", str(root))
    return proc.returncode, proc.stderr + proc.stdout


def test_rotation_by_month_keeps_one_chain(tmp_path: Path) -> None:
    files = _trail(tmp_path)
    assert [f.name for f in files] == ["audit-2026-11.jsonl", "audit-2026-12.jsonl", "audit-2027-01.jsonl"]
    first_of_dec = json.loads(files[1].read_text().splitlines()[0])
    last_of_nov = json.loads(files[0].read_text().splitlines()[-1])
    assert first_of_dec["prev"] == last_of_nov["hash"] and first_of_dec["seq"] == 3
    assert _verify(tmp_path) == (0, "audit trail intact: 6 line(s) in 3 file(s)\n")
    shown = run_bewaar("audit", "show", "--user", "anna", "--since", "2026-12-01", "--json", "--root", str(tmp_path))
    assert [json.loads(x)["target"] for x in shown.stdout.splitlines()] == ["/gov/mp_/page-1", "/gov/mp_/page-3"]


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def test_a_changed_line_is_named(tmp_path: Path) -> None:
    dec = _trail(tmp_path)[1]
    lines = _lines(dec)
    lines[1] = lines[1].replace('"user": "piet"', '"user": "klaas"')
    dec.write_text("".join(lines))
    code, out = _verify(tmp_path)
    assert code == 1 and "audit-2026-12.jsonl:2: seq 4: its content does not match its hash" in out


def test_a_rehashed_change_is_named_by_the_next_line(tmp_path: Path) -> None:
    from bewaar.app.access.audit import line_hash

    dec = _trail(tmp_path)[1]
    lines = _lines(dec)
    entry = json.loads(lines[0])
    entry["user"] = "nobody"
    entry["hash"] = line_hash(entry)
    lines[0] = json.dumps(entry, separators=(", ", ": ")) + "\n"
    dec.write_text("".join(lines))
    code, out = _verify(tmp_path)
    assert code == 1 and "audit-2026-12.jsonl:2: seq 4: does not follow the line before it" in out


def test_a_removed_line_is_named(tmp_path: Path) -> None:
    dec = _trail(tmp_path)[1]
    lines = _lines(dec)
    del lines[1]
    dec.write_text("".join(lines))
    code, out = _verify(tmp_path)
    assert code == 1 and "audit-2026-12.jsonl:2: seq 5 follows seq 3: 1 line(s) before it were removed" in out


def test_reordered_lines_are_named(tmp_path: Path) -> None:
    dec = _trail(tmp_path)[1]
    lines = _lines(dec)
    lines[0], lines[1] = lines[1], lines[0]
    dec.write_text("".join(lines))
    code, out = _verify(tmp_path)
    assert code == 1 and "audit-2026-12.jsonl:1: seq 4 where seq 3 was expected: lines were moved" in out


def test_lines_cut_from_the_end_are_seen(tmp_path: Path) -> None:
    jan = _trail(tmp_path)[2]
    jan.unlink()
    code, out = _verify(tmp_path)
    assert code == 1 and "the trail ends at seq 5 but head.json records seq 6" in out

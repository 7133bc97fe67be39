"""Content leaves the archive through exports and packages too: a reader's export leaves the
restricted post out and redacts citizens' replies, an archivist's export holds the post, a
package of a collection with restricted captures is refused unless asked for, and every one
of these is in the audit trail. On the session's restricted archive (tests/access/conftest.py)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.access.conftest import RESTRICTED_ID, Archive
from tests.conftest import run_bewaar


def export(archive: Archive, out: Path, *extra: str) -> dict:
    proc = run_bewaar(
        "export", "--root", str(archive.root), "--collection", "gov",
        "--with-replies", "--format", "xml", "-o", str(out), *extra,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def test_an_export_holds_only_what_the_requesting_user_may_see(archive: Archive, tmp_path: Path) -> None:
    reader = export(archive, tmp_path / "reader", "--as", "anna")
    archivist = export(archive, tmp_path / "archivist", "--as", "arch")
    text = json.dumps(reader)
    assert RESTRICTED_ID in json.dumps(archivist["items"])
    left_out = [x for x in reader["left_out"] if RESTRICTED_ID in json.dumps(x)]
    assert left_out and "openbaarheidsbeperking" in json.dumps(left_out), text[:2000]
    assert RESTRICTED_ID not in json.dumps(reader["items"])
    assert reader["redacted"], "citizens' replies are redacted for a reader"
    assert not archivist["left_out"] and not archivist["redacted"]
    assert not list((tmp_path / "reader" / "xml").rglob(f"*{RESTRICTED_ID}*"))
    proc = run_bewaar("export", "--root", str(archive.root), "--as", "nobody", "--format", "xml",
                      "-o", str(tmp_path / "x"))  # fmt: skip
    assert proc.returncode == 2 and "no such user" in proc.stderr and "Traceback" not in proc.stderr


def test_a_package_of_a_restricted_collection_is_refused_unless_asked(archive: Archive, tmp_path: Path) -> None:
    proc = run_bewaar("package", "--root", str(archive.root), "gov", "-o", str(tmp_path / "a.wacz"))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "restricted capture" in proc.stderr and "bewaar export" in proc.stderr
    assert not (tmp_path / "a.wacz").exists()
    proc = run_bewaar("package", "--root", str(archive.root), "gov", "-o", str(tmp_path / "b.wacz"),
                      "--include-restricted")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    proc = run_bewaar("audit", "show", "--root", str(archive.root), "--json")
    assert proc.returncode == 0, proc.stderr
    events = json.loads(proc.stdout) if proc.stdout.strip().startswith("[") else [
        json.loads(line) for line in proc.stdout.splitlines() if line.strip()
    ]
    actions = [(e["action"], e["outcome"]) for e in events]
    assert ("package", "refused") in actions and ("package", "ok") in actions
    assert ("export", "ok") in actions

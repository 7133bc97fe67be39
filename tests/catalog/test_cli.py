"""The catalog commands fail with one clear line and a distinct exit status:
2 for input the user can fix, 3 for the environment (a newer catalog, a locked one)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bewaar.sites.synth import Synth, post, post_page, profile, profile_page, recheck
from catalog.api import update_after_crawl
from tests.conftest import run_bewaar


@pytest.fixture
def root(tmp_path: Path) -> Path:
    s = Synth(tmp_path / "root")
    a = post("1", "Een bericht over de Woo")
    for when, pages in (
        ("2024-05-01T10:00:00Z", [profile_page(profile(), a), post_page(a)]),
        ("2024-05-02T10:00:00Z", [profile_page(profile(bio="Nieuw")), recheck("1", "gone", 404, "HTTP 404")]),
    ):
        update_after_crawl(s.root.path, "gov", s.crawl(when, pages))
    return s.root.path


def one_error_line(p, code: int) -> str:  # noqa: ANN001
    assert p.returncode == code, (p.returncode, p.stdout, p.stderr)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bewaar: error: "), p.stderr
    assert "Traceback" not in p.stderr
    return lines[0]


def test_changes_as_text_and_with_filters(root: Path) -> None:
    p = run_bewaar("changes", "--root", str(root), "--replay-url", "http://archive.example")
    assert p.returncode == 0, p.stderr
    assert "mastodon:minbzk" in p.stdout and " deleted " in p.stdout and " profile " in p.stdout
    assert "answer:  http://archive.example/gov/20240502100001/https://social.example/@minbzk/1" in p.stdout
    assert p.stderr.strip() == "2 change(s) in 1 account(s)"
    p = run_bewaar("changes", "--root", str(root), "--type", "deleted", "--account", "@minbzk")
    assert p.returncode == 0 and " profile " not in p.stdout and " deleted " in p.stdout
    p = run_bewaar("changes", "--root", str(root), "--since", "2024-05-03")
    assert p.returncode == 0 and p.stdout == "" and "0 change(s)" in p.stderr


def test_bad_input_exits_2(root: Path, tmp_path: Path) -> None:
    line = one_error_line(run_bewaar("changes", "--root", str(root), "--account", "x:nobody"), 2)
    assert line == "bewaar: error: unknown account 'x:nobody': the catalog knows mastodon:minbzk"
    line = one_error_line(run_bewaar("changes", "--root", str(root), "--since", "last week"), 2)
    assert "--since 'last week': not a date" in line
    empty = tmp_path / "empty"
    empty.mkdir()
    for args in (("changes",), ("catalog", "status")):
        line = one_error_line(run_bewaar(*args, "--root", str(empty)), 2)
        assert f"no catalog at {empty}/catalog.sqlite" in line
    line = one_error_line(run_bewaar("catalog", "rebuild", "--root", str(empty)), 2)
    assert "nothing to rebuild from" in line
    line = one_error_line(run_bewaar("changes", "--root", str(tmp_path / "nope")), 2)
    assert "no such directory" in line


def test_a_newer_catalog_is_refused_with_exit_3(root: Path) -> None:
    con = sqlite3.connect(root / "catalog.sqlite")
    con.execute("PRAGMA user_version = 99")
    con.close()
    for args in (("changes",), ("catalog", "status"), ("catalog", "update"), ("catalog", "rebuild")):
        line = one_error_line(run_bewaar(*args, "--root", str(root)), 3)
        assert "catalog schema 99 is newer than this bewaar knows" in line


def test_a_locked_catalog_exits_3_and_readers_still_read(root: Path) -> None:
    con = sqlite3.connect(root / "catalog.sqlite", isolation_level=None)
    con.execute("BEGIN IMMEDIATE")  # as a rebuild or a crawl's update holds it
    try:
        line = one_error_line(run_bewaar("catalog", "rebuild", "--root", str(root), "--wait", "0.5"), 3)
        assert "is locked by another process" in line
        p = run_bewaar("changes", "--root", str(root), "--json")  # WAL: reading goes on
        assert p.returncode == 0 and '"deleted"' in p.stdout
    finally:
        con.execute("ROLLBACK")
        con.close()


def test_update_and_status(root: Path) -> None:
    p = run_bewaar("catalog", "update", "--root", str(root))
    assert p.returncode == 0 and p.stdout.strip().endswith("catalog.sqlite: up to date")
    p = run_bewaar("catalog", "status", "--root", str(root))
    assert p.returncode == 0
    assert "gov/mastodon:minbzk: last capture 2024-05-02T10:00:01Z, 1 post(s), 2 change(s)" in p.stdout

"""`bewaar qa` refuses what it cannot check with one line and exit status 2."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_bewaar
from tests.replay.helpers import Ex, clock, write_collection


def test_bad_input_is_one_line_and_status_2(tmp_path: Path) -> None:
    write_collection(tmp_path / "root", "c", [Ex(f"https://social.example/api/x?_={clock(1)}", {"x": 1})])
    root = str(tmp_path / "root")
    cases = {
        ("nope",): "no collection 'nope'",
        ("c",): "collection 'c' has no finished crawl",
        ("c", "--min-score", "1.5"): "--min-score 1.5 is not between 0 and 1",
    }
    for args, message in cases.items():
        proc = run_bewaar("qa", "--root", root, *args)
        assert proc.returncode == 2, (args, proc.stderr)
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("bewaar: error: ") and message in lines[0], lines
    (tmp_path / "root/collections/c/crawls").mkdir()
    (tmp_path / "root/collections/c/crawls/20261130T100000Z-0001.json").write_text("{}")
    proc = run_bewaar("qa", "--root", root, "c", "--crawl", "20261130T100000Z-0009")
    assert proc.returncode == 2 and "has no crawl 20261130T100000Z-0009" in proc.stderr
    proc = run_bewaar("qa", "--root", root, "c")  # a crawl that captured no page
    assert proc.returncode == 2 and "captured no page to check" in proc.stderr, proc.stderr

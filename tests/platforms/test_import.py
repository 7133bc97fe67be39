"""`bewaar import` of each platform's own account export (no browser): fixture exports built to
the formats the platforms publish become WARC resource records (the file, its media) and
information objects marked `source: export` in the catalog; bad input gets one line."""

from __future__ import annotations

import fcntl
import gzip
import json
import sqlite3
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from bewaar.objects import validate_object
from bewaar.sites.exports import OLD_POST_TEXT, build_export
from bewaar.sites.platforms import SITES
from tests.conftest import make_root, run_bewaar

PLATFORMS = ("x", "mastodon", "facebook", "instagram", "linkedin", "youtube")


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("import")
    root = make_root(tmp / "root")
    out: dict[str, Any] = {"root": root, "runs": {}, "sites": {}}
    for name in PLATFORMS:
        site = SITES[name]()
        site.start()  # URLs in some exports name the site
        try:
            path = build_export(site, tmp / f"{name}-export")
            proc = run_bewaar("import", name, str(path), "--account", site.handle_in_seed,
                              "--collection", "exports", "--base-url", site.base_url,
                              "--root", str(root))  # fmt: skip
        finally:
            site.stop()
        out["runs"][name] = (proc, path)
        out["sites"][name] = site
    yield out


def _rows(root: Path, sql: str, *args: Any) -> list[tuple]:
    con = sqlite3.connect(root / "catalog.sqlite")
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("name", PLATFORMS)
def test_each_export_becomes_records_and_objects(imported: dict[str, Any], name: str) -> None:
    proc, path = imported["runs"][name]
    assert proc.returncode == 0, proc.stderr
    site = imported["sites"][name]
    root = imported["root"]
    account = _rows(root, "SELECT id, name FROM accounts WHERE platform = ?", name)
    assert len(account) == 1
    acc_id, acc_name = account[0]
    assert acc_name in proc.stderr and "read from an export" in proc.stderr
    posts = dict(_rows(root, "SELECT post_id, relation FROM posts WHERE account = ?", acc_id))
    own = [p for p in site.visible_posts()]
    assert sum(1 for r in posts.values() if r == "own") == len(own) + 1  # + the export-only post
    assert all(r in ("own", "own_reply", "story") for r in posts.values()), posts
    texts = [t for (t,) in _rows(root, "SELECT v.text FROM post_versions v JOIN posts p ON p.id = v.post"
                                       " WHERE p.account = ? AND v.source = 'export'", acc_id)]  # fmt: skip
    assert OLD_POST_TEXT in texts  # Meta's escaped UTF-8 decoded back: the emoji is there
    assert _rows(root, "SELECT count(*) FROM posts WHERE account = ? AND in_browser = 1", acc_id) == [(0,)]
    if name in ("x", "mastodon", "linkedin", "youtube"):  # exports that carry the platform's ids
        assert {p.id for p in own} <= set(posts)
    # the WARC: the file itself, the media its posts name, objects and page info of the export
    warcs = [w for w in (root / "collections/exports/archive").glob("*.warc.gz")]
    found = {}
    for w in warcs:
        with gzip.open(w, "rb") as fh:
            for rec in ArchiveIterator(fh):
                uri = rec.rec_headers.get_header("WARC-Target-URI") or ""
                if uri.startswith(f"urn:export:{name}:"):
                    found["file"] = rec.content_stream().read()
                elif uri.startswith("urn:objects:urn:export:" + name + ":"):
                    found["objects"] = json.loads(rec.content_stream().read())
    assert found["file"] == path.read_bytes()
    objs = found["objects"]
    for o in objs:
        validate_object(o)
        assert o["source"] == "export" and o["platform"] == name
    media = [m for o in objs for m in o.get("media") or []]
    if name != "linkedin":  # LinkedIn's export names media by URL only
        assert media and all(m["url"].startswith("urn:export-file:") for m in media)


def test_follow_lists_of_the_exports(imported: dict[str, Any]) -> None:
    rel = dict(_rows(imported["root"], "SELECT a.platform, count(*) FROM relations r"
                                       " JOIN accounts a ON a.id = r.account GROUP BY a.platform"))  # fmt: skip
    assert rel == {"x": 6, "facebook": 3, "instagram": 5, "linkedin": 3}
    since = _rows(imported["root"], "SELECT since FROM relations r JOIN accounts a ON a.id = r.account"
                                    " WHERE a.platform = 'linkedin' ORDER BY since")  # fmt: skip
    assert since[0] == ("2024-05-01T00:00:00Z",)  # the platform's own date of the relation


def test_instagram_stories_from_the_export(imported: dict[str, Any]) -> None:
    rows = _rows(imported["root"], "SELECT p.relation, count(*) FROM posts p JOIN accounts a ON a.id = p.account"
                                   " WHERE a.platform = 'instagram' GROUP BY p.relation")  # fmt: skip
    assert dict(rows)["story"] == 3


def one_line(proc: Any, code: int) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bewaar: error: "), proc.stderr
    return lines[0]


def test_bad_input_one_line(imported: dict[str, Any], tmp_path: Path) -> None:
    root = imported["root"]
    args = ("--account", "MinBZK", "--collection", "exports", "--root", str(root))
    assert "no such file" in one_line(run_bewaar("import", "x", str(tmp_path / "nope.zip"), *args), 2)
    _proc, linkedin = imported["runs"]["linkedin"]
    line = one_line(run_bewaar("import", "x", str(linkedin), *args), 2)
    assert "not an X archive" in line
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    assert "bewaar: error:" in one_line(run_bewaar("import", "x", str(broken), *args), 2)
    climbing = tmp_path / "climb.zip"
    with zipfile.ZipFile(climbing, "w") as z:
        z.writestr("../../etc/data/tweets.js", "window.YTD.tweets.part0 = []")
    assert "not an X archive" in one_line(run_bewaar("import", "x", str(climbing), *args), 2)
    bad = run_bewaar("import", "x", str(linkedin), "--account", "MinBZK", "--collection", "../up", "--root", str(root))
    assert "not a collection name" in one_line(bad, 2)


def test_import_takes_the_collection_lock(imported: dict[str, Any]) -> None:
    root = imported["root"]
    _proc, path = imported["runs"]["x"]
    lock = root / "collections/exports/.lock"
    with lock.open("a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.write(json.dumps({"pid": 1, "host": "test", "command": "bewaar crawl", "since": "now"}))
        fh.flush()
        proc = run_bewaar("import", "x", str(path), "--account", "MinBZK", "--collection", "exports",
                          "--root", str(root))  # fmt: skip
    line = one_line(proc, 3)
    assert "bewaar crawl" in line

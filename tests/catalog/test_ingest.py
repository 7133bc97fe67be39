"""Change detection over WARCs written by the crawler's own writer (no browser): each rule,
the platform's answer deciding deletions, incremental reading equal to a rebuild."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from bewaar.errors import EnvironmentProblem
from bewaar.model import Root
from bewaar.sites.synth import BASE, Synth, post, post_page, profile, profile_page, recheck
from catalog.api import known_posts, update_after_crawl
from catalog.db import MIGRATIONS, SCHEMA_VERSION, _statements, open_catalog, open_readonly
from catalog.ingest import rebuild, update
from crawler.warc_writer import sha256_digest
from tests.catalog.helpers import changes, dump_catalog, kinds, row


@pytest.fixture
def s(tmp_path: Path) -> Synth:
    return Synth(tmp_path / "root")


def crawl(s: Synth, when: str, *pages) -> list[str]:  # noqa: ANN002
    """The catalog's summary lines of a crawl, without its gap report (test_gaps below)."""
    crawl_id = s.crawl(when, list(pages))
    return [x for x in update_after_crawl(s.root.path, "gov", crawl_id) if ": gaps: " not in x]


def test_first_crawl_is_the_baseline_and_counts_are_not_edits(s: Synth) -> None:
    a, b = post("1", "Eerste bericht", likes=1), post("2", "Tweede bericht", likes=5)
    lines = crawl(s, "2024-05-01T10:00:00Z", profile_page(profile(), a, b), post_page(a))
    assert lines == ["catalog: mastodon:minbzk: first capture, 2 post(s) recorded"]
    crawl_id = s.crawl("2024-05-01T12:00:00Z", [profile_page(profile(), a, b), post_page(a)])
    gaps = update_after_crawl(s.root.path, "gov", crawl_id)[1]
    assert gaps == "catalog: mastodon:minbzk: gaps: the profile shows 10 post(s), 2 captured to date, 8 not (yet) captured"
    assert kinds(s.root.path) == []
    a2, b2 = post("1", "Eerste bericht", likes=40), post("2", "Tweede bericht", likes=99)
    lines = crawl(s, "2024-05-02T10:00:00Z", profile_page(profile(followers=150), a2, b2), post_page(a2))
    assert kinds(s.root.path) == []  # likes and followers went up: no edits
    assert kinds(s.root.path, everything=True) == [("counts", None)]
    assert lines == ["catalog: mastodon:minbzk: counts changed (2 post(s) seen)"]
    # the counts of every sighting are kept, in one version per post
    r = row(s.root.path, "SELECT count(*) AS n FROM post_versions")
    assert r["n"] == 2
    got = row(s.root.path, "SELECT group_concat(counts, '|') AS c FROM post_sightings s JOIN posts p"
              " ON p.id = s.post WHERE p.post_id = '2' ORDER BY s.crawl")  # fmt: skip
    assert '"reactions":5' in got["c"] and '"reactions":99' in got["c"]


def test_edits_of_text_and_media_with_their_difference(s: Synth) -> None:
    png1, png2 = b"\x89PNG one", b"\x89PNG two"
    p1, p2 = f"{BASE}/media/1.png", f"{BASE}/media/2.png"
    a = post("1", "Lees het nieuwe rapport", media=[p1 + "?sig=a"])
    b = post("2", "Foto van vandaag", media=[p1])
    crawl(s, "2024-05-01T10:00:00Z", profile_page(profile(), a, b, media={p1 + "?sig=a": png1, p1: png1}))
    a2 = post("1", "Lees het jaarverslag", media=[p1 + "?sig=b"])  # text edited, URL re-signed
    b2 = post("2", "Foto van vandaag", media=[p2])  # the photo replaced
    crawl(s, "2024-05-02T10:00:00Z", profile_page(profile(), a2, b2, media={p1 + "?sig=b": png1, p2: png2}))
    found = {c["post_id"]: c for c in changes(s.root.path)}
    assert set(found) == {"1", "2"}
    assert found["1"]["fields"] == ["text"]
    assert found["1"]["text_diff"] == [["=", "Lees het "], ["-", "nieuwe rapport"], ["+", "jaarverslag"]]
    assert found["1"]["previous_text"] == "Lees het nieuwe rapport"
    assert found["2"]["fields"] == ["media"]
    # media are identified by the bytes captured (the payload digest in the WARC)
    assert [m["key"] for m in found["2"]["media"]["added"]] == [sha256_digest(png2)]
    assert [m["key"] for m in found["2"]["media"]["removed"]] == [sha256_digest(png1)]
    # both versions stay replayable at their own capture
    assert found["1"]["replay"].startswith("/gov/20240502100000/")
    assert found["1"]["replay_before"].startswith("/gov/20240501100000/")


def test_new_and_found_posts(s: Synth) -> None:
    crawl(s, "2024-05-10T10:00:00Z", profile_page(profile(), post("1", "oud", published="2024-05-09T00:00:00Z")))
    crawl(
        s, "2024-05-11T10:00:00Z",
        profile_page(profile(),
                     post("3", "nieuw", published="2024-05-11T08:00:00Z"),
                     post("1", "oud", published="2024-05-09T00:00:00Z"),
                     post("2", "ouder, niet eerder bereikt", published="2024-05-01T00:00:00Z"),
                     post("4", "zonder datum", published=None)),
    )  # fmt: skip
    assert sorted(kinds(s.root.path)) == [("found", "2"), ("new", "3"), ("new", "4")]


def test_a_listing_showing_less_is_not_an_edit(s: Synth) -> None:
    full = "Vandaag presenteren wij het jaarverslag 2023 over open data en open overheid"
    a = post("1", full)
    crawl(s, "2024-05-01T10:00:00Z", profile_page(profile(), a), post_page(a))
    cut = post("1", "Vandaag presenteren wij het jaarverslag…", page=f"{BASE}/@minbzk")
    crawl(s, "2024-05-02T10:00:00Z", profile_page(profile(), cut))  # only the listing
    assert kinds(s.root.path) == []
    # edited beyond the cut: only the post's own page can show it, and it is reported
    edited = post("1", full.replace("open overheid", "digitale overheid"))
    crawl(s, "2024-05-03T10:00:00Z", profile_page(profile(), cut), post_page(edited))
    assert kinds(s.root.path) == [("edited", "1")]
    # edited within the cut: the listing shows it first; the post page later agrees
    def b(text: str) -> dict:
        return post("2", text, published="2024-05-04T09:00:00Z")

    crawl(s, "2024-05-04T10:00:00Z", profile_page(profile(), b("Kort bericht over de Woo")),
          post_page(b("Kort bericht over de Woo")))  # fmt: skip
    crawl(s, "2024-05-05T10:00:00Z", profile_page(profile(), b("Kort bericht over de Wet open overheid")))
    crawl(s, "2024-05-06T10:00:00Z", post_page(b("Kort bericht over de Wet open overheid")))
    assert kinds(s.root.path) == [("edited", "1"), ("new", "2"), ("edited", "2")]
    v = row(s.root.path, "SELECT count(*) AS n, sum(is_edit) AS e FROM post_versions v JOIN posts p"
            " ON p.id = v.post WHERE p.post_id = '1'")  # fmt: skip
    assert (v["n"], v["e"]) == (3, 1)  # full, cut (kept, not an edit), edited


def test_only_the_platforms_answer_deletes(s: Synth) -> None:
    posts = [post(str(i), f"bericht {i}") for i in range(1, 7)]
    crawl(s, "2024-05-01T10:00:00Z", profile_page(profile(), *posts))
    # a crawl that does not reach posts 2-6 and re-checks them
    crawl(
        s, "2024-05-02T10:00:00Z",
        profile_page(profile(), posts[0]),
        recheck("2", "gone", 404, "HTTP 404"),
        recheck("3", "blocked", 200, "login_wall: sign in to continue"),
        recheck("4", "ok", 200),  # a page without the post on it
        recheck("5", "failed", 502, "HTTP 502"),
        recheck("6", "ok", 200, objects=[posts[5]]),  # still online, only out of reach
    )  # fmt: skip
    got = {c["post_id"]: c for c in changes(s.root.path)}
    assert {k: c["type"] for k, c in got.items()} == {"2": "deleted", "3": "unverified", "4": "unverified"}
    assert got["2"]["answer"] == "HTTP 404" and got["2"]["answer_status"] == 404
    assert got["2"]["replay_answer"].startswith("/gov/20240502100001/")  # the 404 itself
    assert got["2"]["replay"].startswith("/gov/20240501100000/")  # the post as it was
    assert "login_wall" in got["3"]["answer"]
    status = {r: row(s.root.path, "SELECT status FROM posts WHERE post_id = ?", r)["status"] for r in "23456"}
    assert status == {"2": "deleted", "3": "unverified", "4": "unverified", "5": "online", "6": "online"}
    # a deleted post is not re-checked again; the others are
    assert "2" not in [p for p, _ in known_posts(s.root.path, "gov", "mastodon:minbzk")]
    # seen again: unverified quietly back online, the deleted one restored
    crawl(s, "2024-05-03T10:00:00Z", profile_page(profile(), *posts))
    assert [c["type"] for c in changes(s.root.path) if c["detected_at"] >= "2024-05-03"] == ["restored"]
    assert row(s.root.path, "SELECT count(*) AS n FROM posts WHERE status = 'online'")["n"] == 6


def test_replies_are_kept_but_not_reported(s: Synth) -> None:
    a = post("1", "Vraag van de week")
    r1 = post("900", "Goed idee", reply_to="1", page=a["url"])
    crawl(s, "2024-05-01T10:00:00Z", profile_page(profile(), a), post_page(a, r1))
    r1b = post("900", "Goed idee! (bewerkt)", reply_to="1", page=a["url"])
    r2 = post("901", "Nieuwe reactie", reply_to="1", page=a["url"])
    crawl(s, "2024-05-02T10:00:00Z", profile_page(profile(), a), post_page(a, r1b, r2))
    assert kinds(s.root.path) == []
    v = row(s.root.path, "SELECT max(seq) AS n, max(is_edit) AS e FROM post_versions v JOIN posts p"
            " ON p.id = v.post WHERE p.post_id = '900'")  # fmt: skip
    assert (v["n"], v["e"]) == (2, 1)  # the reply's edit is in its versions


def test_profile_changes_by_field(s: Synth) -> None:
    av = f"{BASE}/avatars/a.png"
    crawl(s, "2024-05-01T10:00:00Z", profile_page(profile(avatar=av + "?v=1"), media={av + "?v=1": b"A"}))
    crawl(s, "2024-05-02T10:00:00Z", profile_page(profile(avatar=av + "?v=2"), media={av + "?v=2": b"A"}))
    assert kinds(s.root.path) == []  # the same avatar under a new query string
    crawl(s, "2024-05-03T10:00:00Z", profile_page(profile(bio="Nieuwe bio", avatar=f"{BASE}/avatars/b.png")))
    (c,) = changes(s.root.path)
    assert c["type"] == "profile" and set(c["fields"]) == {"bio", "avatar"}
    assert c["replay_before"].startswith("/gov/20240501100000/")


def test_known_posts_are_the_last_crawls_and_a_few_old_ones(s: Synth, monkeypatch) -> None:  # noqa: ANN001
    from catalog import ingest

    monkeypatch.setattr(ingest, "RECHECK_ROTATING", 2)
    old = [post(str(i), f"oud {i}") for i in range(1, 6)]
    crawl(s, "2024-05-01T10:00:00Z", profile_page(profile(), *old))
    new = [post(str(i), f"nieuw {i}") for i in range(10, 13)]
    # the next crawl sees only new posts and confirms post 1 by a re-check
    crawl(s, "2024-05-02T10:00:00Z", profile_page(profile(), *new),
          recheck("1", "ok", 200, objects=[old[0]]))  # fmt: skip
    ids = [p for p, _ in known_posts(s.root.path, "gov", "mastodon:minbzk")]
    # reached by the last crawl itself: 10-12; then the two not seen longest (2, 3);
    # post 1, seen only through its re-check, waits for its turn in the rotation
    assert ids[:3] == ["10", "11", "12"] and ids[3:] == ["2", "3"]
    assert known_posts(s.root.path, "gov", "nobody") == []


def test_versions_point_at_their_warc_records(s: Synth) -> None:
    a = post("1", "Tekst")
    crawl(s, "2024-05-01T10:00:00Z", profile_page(profile(), a), post_page(a))
    v = row(s.root.path, "SELECT v.warc, v.offset, v.length, p.post_id FROM post_versions v"
            " JOIN posts p ON p.id = v.post")  # fmt: skip
    with (s.coll.archive / v["warc"]).open("rb") as fh:
        fh.seek(v["offset"])
        rec = next(iter(ArchiveIterator(fh)))
        assert rec.rec_headers.get_header("WARC-Target-URI") == f"urn:objects:{a['url']}"
        assert [o["id"] for o in json.loads(rec.content_stream().read())] == ["1"]
    pg = row(s.root.path, "SELECT warc, offset FROM pages WHERE kind = 'post'")
    with (s.coll.archive / pg["warc"]).open("rb") as fh:
        fh.seek(pg["offset"])
        rec = next(iter(ArchiveIterator(fh)))
        assert rec.rec_headers.get_header("WARC-Target-URI") == f"urn:pageinfo:{a['url']}"


def test_reading_crawl_by_crawl_equals_a_rebuild(s: Synth) -> None:
    test_only_the_platforms_answer_deletes(s)
    _more_history(s)
    path = s.root.path / "catalog.sqlite"
    before = dump_catalog(path)
    assert sum(len(v) for v in before.values()) > 50
    copy = s.root.path.parent / "copy"
    shutil.copytree(s.root.path, copy)
    (copy / "catalog.sqlite").unlink()
    for suffix in ("-wal", "-shm"):
        (copy / f"catalog.sqlite{suffix}").unlink(missing_ok=True)
    con = open_catalog(copy / "catalog.sqlite")
    rebuild(con, copy / "catalog.sqlite", Root(copy))
    con.close()
    assert dump_catalog(copy / "catalog.sqlite") == before
    # a rebuild over an existing catalog gives the same again, and keeps the schedule
    con = open_catalog(path)
    con.execute("INSERT INTO schedule (collection, account, every, next_due) VALUES ('gov', 'x', 60, 'now')")
    rebuild(con, path, s.root)
    con.close()
    assert dump_catalog(path) == before
    assert row(s.root.path, "SELECT count(*) AS n FROM schedule")["n"] == 1


def _more_history(s: Synth) -> None:
    """A listing cut, then an edit on the post page, on later dates."""
    a = post("50", "Een lang bericht over de nieuwe regels voor open data")
    crawl(s, "2024-06-01T10:00:00Z", profile_page(profile(), a), post_page(a))
    crawl(s, "2024-06-02T10:00:00Z", profile_page(profile(), post("50", "Een lang bericht…", page=f"{BASE}/@minbzk")))
    crawl(s, "2024-06-03T10:00:00Z", post_page(post("50", "Een lang bericht over de oude regels")))


def test_update_reads_new_files_once_and_waits_for_unfinished_crawls(s: Synth) -> None:
    a = post("1", "een")
    first = s.crawl("2024-05-01T10:00:00Z", [profile_page(profile(), a)])
    two = post("2", "twee", published="2024-05-02T09:00:00Z")
    running = s.crawl("2024-05-02T10:00:00Z", [profile_page(profile(), a, two)], report=False)
    con = open_catalog(s.root.catalog_file)
    r = update(con, s.root.catalog_file, s.root)
    assert [c.crawl_id for c in r.crawls] == [first] and r.deferred == [running]
    assert update(con, s.root.catalog_file, s.root).crawls == []  # nothing read twice
    r = update(con, s.root.catalog_file, s.root, finished_only=False)  # e.g. a killed crawl
    assert [c.crawl_id for c in r.crawls] == [running]
    assert [a.line() for a in r.crawls[0].accounts] == [
        "catalog: mastodon:minbzk: 1 new (2 post(s) seen)"
    ]
    con.close()


def test_an_older_catalog_is_migrated_and_a_newer_one_refused(tmp_path: Path) -> None:
    path = tmp_path / "catalog.sqlite"
    con = sqlite3.connect(path, isolation_level=None)
    for stmt in _statements(MIGRATIONS[1]):
        con.execute(stmt)
    con.execute("PRAGMA user_version = 1")
    con.execute("INSERT INTO accounts (collection, name, platform) VALUES ('gov', 'mastodon:a', 'mastodon')")
    con.close()
    con = open_readonly(path)  # a reader migrates an older file once
    assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert con.execute("SELECT name FROM accounts").fetchone()[0] == "mastodon:a"
    assert con.execute("SELECT count(*) FROM schedule").fetchone()[0] == 0
    con.close()
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    con.close()
    with pytest.raises(EnvironmentProblem, match="newer than this bewaar"):
        open_catalog(path)
    with pytest.raises(EnvironmentProblem, match="newer than this bewaar"):
        open_readonly(path)


def test_only_the_accounts_own_profile_page_is_its_profile(s: Synth) -> None:
    a = post("1", "Vraag van de week")
    crawl(s, "2024-05-01T10:00:00Z", profile_page(profile(bio="Officieel account"), a))
    other = dict(profile(bio="Ik ben iemand anders", handle="burger"))
    blocked = profile_page(handle="minbzk")
    blocked.outcome, blocked.reason = "blocked", "login_wall: log in"
    # the profile page met a login wall; a post page showed someone else's profile card
    crawl(s, "2024-05-02T10:00:00Z", blocked, post_page(a, other))
    assert kinds(s.root.path, everything=True) == []
    # the profile page with several profile objects: the account's own is compared
    crawl(s, "2024-05-03T10:00:00Z", profile_page(other, profile(bio="Nieuwe bio"), a))
    (c,) = changes(s.root.path)
    assert c["type"] == "profile" and c["fields"]["bio"]["new"] == "Nieuwe bio"


def test_after_a_crawl_a_large_backlog_is_left_to_rebuild(s: Synth, monkeypatch) -> None:  # noqa: ANN001
    from catalog import api

    a = post("1", "een")
    old = [s.crawl(f"2024-05-0{d}T10:00:00Z", [profile_page(profile(), a)]) for d in (1, 2)]
    monkeypatch.setattr(api, "BACKLOG_BYTES", 1000)  # smaller than the two old files
    new = s.crawl("2024-05-03T10:00:00Z", [profile_page(profile(), a)])
    lines = [x for x in update_after_crawl(s.root.path, "gov", new) if ": gaps: " not in x]
    assert lines[0] == "catalog: mastodon:minbzk: first capture, 1 post(s) recorded"
    assert "2 earlier WARC file(s) of 'gov'" in lines[1] and "bewaar catalog rebuild" in lines[1]
    con = open_catalog(s.root.catalog_file)
    rebuild(con, s.root.catalog_file, s.root)
    crawls = [r[0] for r in con.execute("SELECT crawl_id FROM crawls ORDER BY id")]
    con.close()
    assert crawls == [*old, new]  # in order

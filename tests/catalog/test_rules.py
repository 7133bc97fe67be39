"""The change rules as pure functions: what is an edit, what is the same post seen less."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bewaar.app.web.overview import fts_query, replay_url, when
from bewaar.errors import InputError
from catalog import compare as cmp
from catalog.changes import parse_since, wdiff


def content(text: str, media: list[cmp.MediaItem] | None = None, source: str = "post") -> cmp.PostContent:
    return cmp.PostContent(None, text, media or [], source)


def photo(url: str, digest: str | None = None) -> cmp.MediaItem:
    return cmp.MediaItem("photo", url, digest)


def test_whitespace_and_unicode_form_are_not_edits() -> None:
    a = content("Café  open\nvandaag")
    b = content("Cafe\u0301 open vandaag")  # decomposed é, other whitespace
    assert a.identical(b)
    assert cmp.edited_fields(content("Café open"), content("Cafe open")) == ["text"]


def test_media_same_by_digest_or_path_not_by_query() -> None:
    signed = photo("https://cdn.example/p/1.jpg?sig=aaa&oe=1")
    resigned = photo("https://cdn.example/p/1.jpg?sig=bbb&oe=2")
    assert signed.same(resigned)  # a CDN re-signing its URL is not an edit
    moved = photo("https://cdn2.example/x/other.jpg", "sha256:SAME")
    assert photo("https://cdn.example/p/1.jpg", "sha256:SAME").same(moved)  # same bytes
    replaced = photo("https://cdn.example/p/2.jpg", "sha256:OTHER")
    assert not photo("https://cdn.example/p/1.jpg", "sha256:SAME").same(replaced)
    assert cmp.edited_fields(content("x", [signed]), content("x", [replaced])) == ["media"]
    assert cmp.edited_fields(content("x", [signed]), content("x", [])) == ["media"]


def test_listing_cut_is_explained_but_not_between_equal_sources() -> None:
    full = content("Vandaag presenteren wij het nieuwe jaarverslag over open data", source="post")
    cut = content("Vandaag presenteren wij het nieuwe…", source="listing")
    assert cmp.explained_by_source(cut, full) and cmp.explained_by_source(full, cut)
    other = content("Vandaag presenteren wij het oude…", source="listing")
    assert not cmp.explained_by_source(other, full)
    # the same cut text from two listings is compared strictly
    assert not cmp.explained_by_source(cut, content("Vandaag presenteren wij het nieuwe jaarverslag", source="listing"))
    # a listing that shows fewer photos of a carousel
    p1, p2 = photo("https://c/1.jpg"), photo("https://c/2.jpg")
    assert cmp.explained_by_source(content("a", [p1], "listing"), content("a", [p1, p2], "post"))
    assert not cmp.explained_by_source(content("a", [p2, photo("https://c/3.jpg")], "listing"),
                                       content("a", [p1, p2], "post"))  # fmt: skip


def test_word_diff_reads_as_whole_words() -> None:
    ops = cmp.word_diff("Lees het nieuwe rapport over open data", "Lees het jaarverslag over open data")
    assert ops == [["=", "Lees het "], ["-", "nieuwe rapport "], ["+", "jaarverslag "],
                   ["=", "over open data"]]  # fmt: skip
    assert wdiff(ops) == "Lees het [-nieuwe rapport-] {+jaarverslag+} over open data"


def test_profile_changes_name_fields_and_ignore_resigned_avatar() -> None:
    old = cmp.profile_fields({"bio": "A", "avatar": "https://c/a.png?x=1"}, {})
    same = cmp.profile_fields({"bio": "A", "avatar": "https://c/a.png?x=2"}, {})
    assert cmp.profile_changes(same, old) == {}
    new = cmp.profile_fields({"bio": "B", "avatar": "https://c/b.png"}, {})
    assert set(cmp.profile_changes(new, old)) == {"bio", "avatar"}
    assert cmp.count_changes({"followers": 5, "posts": 1}, {"followers": 4, "posts": None}) == {
        "followers": [4, 5]
    }


def test_since_accepts_dates_times_and_spans() -> None:
    now = datetime(2024, 5, 10, 12, 0, tzinfo=UTC)
    assert parse_since("2024-05-01") == "2024-05-01T00:00:00Z"
    assert parse_since("2024-05-01T09:30+02:00") == "2024-05-01T07:30:00Z"
    assert parse_since("2024-05-01T09:30:00Z") == "2024-05-01T09:30:00Z"
    assert parse_since("36h", now) == "2024-05-09T00:00:00Z"
    assert parse_since("2w", now) == "2024-04-26T12:00:00Z"
    for bad in ("yesterday", "2024-13-01", "7 days", ""):
        with pytest.raises(InputError, match="not a date"):
            parse_since(bad)


def test_search_words_become_a_safe_fts_query() -> None:
    assert fts_query("rapport") == '"rapport"'
    assert fts_query('open "data set" jaar*') == '"open" "data set" "jaar"*'
    assert fts_query('AND OR NOT ( ) "') == '"AND" "OR" "NOT"'  # operators are plain words
    assert fts_query("  ") == "" and fts_query("!!") == ""
    assert fts_query('a"b') == '"ab"'


def test_replay_links_use_the_capture_second() -> None:
    assert replay_url("gov", "2024-05-01T09:30:05Z", "https://x.example/a?b=1") == (
        "/gov/20240501093005/https://x.example/a?b=1"
    )
    assert replay_url("gov", None, "https://x") is None
    assert when("2024-05-01T09:30:05Z") == "2024-05-01 09:30:05 UTC"

"""The information-object model: its JSON Schema file stays in sync, strictness, and the
count/date conventions every adapter relies on."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from bewaar.objects import (
    SCHEMA_FILE,
    iso_utc,
    json_schema,
    parse_count,
    schema_text,
    set_count,
    validate_object,
)

BASE = {"schema": 1, "platform": "x", "adapter": "x@1.0", "url": "https://x.com/a/status/1",
        "page_url": "https://x.com/a", "captured_at": "2024-05-07T07:30:00Z"}  # fmt: skip


def test_schema_file_is_in_sync_and_printed_by_the_module() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_text(), (
        "bewaar/objects.schema.json is stale: run python -m bewaar.objects --write-schema"
    )
    out = subprocess.run(
        [sys.executable, "-m", "bewaar.objects", "--schema"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout) == json_schema()
    Draft202012Validator.check_schema(json_schema())


def test_minimal_objects_validate_in_both_validators() -> None:
    validator = Draft202012Validator(json_schema())
    for raw in ({**BASE, "type": "post", "id": "1"}, {**BASE, "type": "profile", "handle": "a"}):
        obj = validate_object(raw).to_dict()
        assert obj["schema"] == 1 and obj["type"] == raw["type"]
        validator.validate(obj)
        assert validate_object(obj).to_dict() == obj  # a stored line reads back unchanged


def test_version_1_objects_are_still_read_and_upgrade_to_version_2() -> None:
    """Objects stored before version 2 validate as they are; upgrade() gives the current form
    with the new fields empty (nothing guessed)."""
    from bewaar.objects import SCHEMA_VERSION, upgrade

    v1 = {**BASE, "type": "post", "id": "1", "author": {"handle": "a", "name": "A"},
          "counts": {"reactions": 3}}  # fmt: skip
    assert validate_object(v1).to_dict()["schema"] == 1
    Draft202012Validator(json_schema()).validate(validate_object(v1).to_dict())
    new = upgrade(v1)
    assert SCHEMA_VERSION == 2 and new["schema"] == 2
    assert new["reactions"] == {} and new["recipient"] is None and new["author"]["avatar"] is None
    assert new["account_type"] is None and new["source"] is None and new["out_of_scope"] is None
    full = {**BASE, "schema": 2, "type": "post", "id": "2", "account_type": "hybrid", "source": "browser",
            "author": {"handle": "a", "avatar": "https://x/a.png", "avatar_digest": "sha256:AAAA"},
            "recipient": {"handle": "b"}, "reactions": {"like": 3, "love": 1}, "actions": ["reply", "like"],
            "story": True, "expires_at": "2024-05-08T07:30:00Z",
            "out_of_scope": {"rule": "hashtag:x", "matched": "#X"}}  # fmt: skip
    Draft202012Validator(json_schema()).validate(validate_object(full).to_dict())
    profile = {**BASE, "schema": 2, "type": "profile", "handle": "a", "relations": [
        {"type": "follower", "account": {"handle": "b"}, "since": None, "first_seen": "2024-05-07T07:30:00Z"}]}  # fmt: skip
    Draft202012Validator(json_schema()).validate(validate_object(profile).to_dict())
    with pytest.raises(ValidationError):
        validate_object({**full, "reactions": {"Like!": 1}})
    with pytest.raises(ValidationError):
        validate_object({**profile, "relations": [{"type": "friend", "account": {}}]})


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "post", "id": "1", "likes": 3},  # unknown field
        {"type": "post", "id": "1", "published_at": "2024-05-07 07:30"},  # not ISO UTC
        {"type": "post", "id": "1", "published_at": "2024-05-07T09:30:00+02:00"},  # not UTC
        {"type": "post", "id": "1", "hashtags": ["#OpenData"]},
        {"type": "post", "id": "1", "counts_text": {"reactions": "1,2K"}},  # no value for it
        {"type": "post", "id": "1", "counts": {"reactions": 5}, "counts_text": {"followers": "5"}},
        {"type": "post", "id": "1", "counts": {"reactions": -1}},
        {"type": "post"},  # a post needs its id
        {"type": "profile"},  # a profile needs its handle
        {"type": "comment", "id": "1"},
        {"type": "post", "id": "1", "media": [{"kind": "sticker", "url": "u"}]},
    ],
)
def test_invalid_objects_are_refused(bad: dict) -> None:
    with pytest.raises(ValidationError):
        validate_object({**BASE, **bad})
    errors = list(Draft202012Validator(json_schema()).iter_errors({**BASE, **bad}))
    if "counts_text" not in bad:  # the key/value pairing is a model rule, not a schema rule
        assert errors


@pytest.mark.parametrize(
    ("shown", "value", "exact"),
    [
        ("1,234", 1234, True),
        ("1.234", 1234, True),
        ("12 345 volgers", 12345, True),
        ("812 posts", 812, True),
        ("0", 0, True),
        ("1,2K", 1200, False),
        ("1.2K", 1200, False),
        ("12.3K followers", 12300, False),
        ("3 mln", 3_000_000, False),
        ("2,5 mln. weergaven", 2_500_000, False),
        ("1.25M views", 1_250_000, False),
        ("4,1 Mio.", 4_100_000, False),
        ("1,2 mil", 1200, False),
        ("1,5", None, True),  # not a whole number and no multiplier
        ("No views", None, True),
        ("", None, True),
    ],
)
def test_parse_count(shown: str, value: int | None, exact: bool) -> None:
    assert parse_count(shown) == (value, exact)


def test_set_count_keeps_the_shown_abbreviation_only() -> None:
    obj: dict = {}
    set_count(obj, "followers", "123K subscribers")
    set_count(obj, "posts", "8,765 videos")
    set_count(obj, "views", 1_234_567)
    set_count(obj, "likes", None)
    assert obj == {"counts": {"followers": 123000, "posts": 8765, "views": 1234567},
                   "counts_text": {"followers": "123K"}}  # fmt: skip


@pytest.mark.parametrize(
    ("given", "iso"),
    [
        ("2024-05-07T09:30:00+02:00", "2024-05-07T07:30:00Z"),
        ("2024-05-07T07:30:00.000Z", "2024-05-07T07:30:00Z"),
        ("2024-05-07T07:30:00.120Z", "2024-05-07T07:30:00.12Z"),
        ("Tue May 07 07:30:00 +0000 2024", "2024-05-07T07:30:00Z"),  # X / Twitter
        (1715067000, "2024-05-07T07:30:00Z"),  # Unix seconds (TikTok, Instagram)
        ("1715067000000", "2024-05-07T07:30:00Z"),  # milliseconds
        ("2024-05-07", None),  # a day without a time and zone is not an instant
        ("2024-05-07T07:30:00", None),  # no zone
        ("7 May", None),
        (None, None),
    ],
)
def test_iso_utc(given: str | int | None, iso: str | None) -> None:
    assert iso_utc(given) == iso

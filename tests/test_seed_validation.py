"""Every seed-list mistake gets one line naming file, line and field — before any browser starts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import make_root, run_bewaar

GOOD_SEED = "  - url: https://social.example.nl/@minx\n"

CASES = [
    # (name, yaml text, expected line, expected message pattern)
    ("bad_scope", "collection: c\nseeds:\n  - url: https://a.nl/\n  - url: https://b.nl/\n  - url: https://c.nl/\n    scope: prefx\n",
     6, r"seeds\[2\]\.scope: 'prefx' is not one of prefix, host, page"),
    ("unknown_top_key", "collection: c\nseedz: []\nseeds:\n" + GOOD_SEED, 2, r"seedz: unknown key"),
    ("unknown_seed_key", "collection: c\nseeds:\n  - url: https://a.nl/\n    dept: 2\n", 4, r"seeds\[0\]\.dept: unknown key"),
    ("missing_collection", "seeds:\n" + GOOD_SEED, 1, r"collection: is required"),
    ("empty_seeds", "collection: c\nseeds: []\n", 2, r"seeds: must not be empty"),
    ("no_url_or_handle", "collection: c\nseeds:\n  - scope: host\n", 3, r"seeds\[0\]: needs url, or platform and handle"),
    ("unknown_platform", "collection: c\nseeds:\n  - platform: myspace\n    handle: x\n", 3,
     r"seeds\[0\]\.platform: 'myspace' is not one of x, instagram, facebook, linkedin, mastodon, youtube, tiktok, snapchat, generic"),
    ("rule_on_corporate", "collection: c\nseeds:\n  - platform: x\n    handle: a\n    out_of_scope: [{hashtag: b}]\n", 3,
     r"seeds\[0\]: out_of_scope rules are for hybrid and personal accounts; this seed's account_type is corporate"),
    ("two_kinds_in_a_rule", "collection: c\nseeds:\n  - platform: x\n    handle: a\n    account_type: hybrid\n    out_of_scope:\n      - {hashtag: b, from: 2024-01-01}\n", 7,
     r"seeds\[0\]\.out_of_scope\[0\]: a rule has exactly one of hashtag, keyword, or from/to"),
    ("backwards_range", "collection: c\nseeds:\n  - platform: x\n    handle: a\n    account_type: personal\n    out_of_scope:\n      - {from: 2024-02-01, to: 2024-01-01}\n", 7,
     r"from 2024-02-01 is after to 2024-01-01"),
    ("bad_account_type", "collection: c\nseeds:\n  - platform: x\n    handle: a\n    account_type: party\n", 5,
     r"account_type: 'party' is not one of corporate, project, personal, hybrid"),
    ("bad_since", "collection: c\nseeds:\n  - platform: x\n    handle: a\n    since: last year\n", 5, r"seeds\[0\]\.since"),
    ("bad_budget", "collection: c\nseeds:\n  - platform: x\n    handle: a\n    backfill_budget: forever\n", 5,
     r"'forever' is not a duration"),
    ("not_a_url", "collection: c\nseeds:\n  - url: ftp://a.nl/\n", 3, r"seeds\[0\]\.url: 'ftp://a.nl/' is not an http\(s\) URL"),
    ("negative_depth", "collection: c\nseeds:\n  - url: https://a.nl/\n    depth: -1\n", 4, r"seeds\[0\]\.depth: -1: input should be greater than or equal to 0"),
    ("bad_collection", "collection: Mijn Collectie\nseeds:\n" + GOOD_SEED, 1, r"collection: 'Mijn Collectie' is not a collection name"),
    ("bad_behavior_type", "collection: c\nseeds:\n" + GOOD_SEED + "behaviors: {scroll_timeout: soon}\n", 4,
     r"behaviors\.scroll_timeout: 'soon': input should be a valid number"),
    ("bad_pattern", "collection: c\nseeds:\n" + GOOD_SEED + "behaviors:\n  more_patterns: ['(unclosed']\n", 5,
     r"behaviors\.more_patterns: pattern '\(unclosed' is not a valid regular expression"),
    ("bad_every", "collection: c\nseeds:\n  - url: https://a.nl/\n    every: sometimes\n", 4, r"seeds\[0\]\.every: 'sometimes' is not a duration"),
    ("broken_yaml", "collection: c\nseeds:\n  - url: [https://a.nl/\n", 4, r"not valid YAML"),
    ("not_a_mapping", "- just\n- a list\n", 1, r"expected a mapping"),
]


@pytest.mark.parametrize("name,text,line,pattern", CASES, ids=[c[0] for c in CASES])
def test_seed_list_error(tmp_path: Path, name: str, text: str, line: int, pattern: str) -> None:
    root = make_root(tmp_path / "root")
    seeds = tmp_path / "seeds.yaml"
    seeds.write_text(text, encoding="utf-8")
    proc = run_bewaar("crawl", str(seeds), "--root", str(root), timeout=60)
    assert proc.returncode == 2, proc.stderr
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1, err  # one line, no traceback
    assert err.startswith(f"bewaar: error: {seeds}:{line}: "), err
    assert re.search(pattern, err), err
    assert not (root / "collections").exists()  # nothing started, nothing written


def test_missing_seed_file(tmp_path: Path) -> None:
    proc = run_bewaar("crawl", str(tmp_path / "nope.yaml"), "--root", str(tmp_path), timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"bewaar: error: {tmp_path / 'nope.yaml'}: file not found"


def test_broken_root_config(tmp_path: Path) -> None:
    (tmp_path / "bewaar.yaml").write_text("crawl:\n  concurrency: many\n", encoding="utf-8")
    seeds = tmp_path / "seeds.yaml"
    seeds.write_text("collection: c\nseeds:\n" + GOOD_SEED, encoding="utf-8")
    proc = run_bewaar("crawl", str(seeds), "--root", str(tmp_path), timeout=60)
    assert proc.returncode == 2
    assert re.fullmatch(
        r"bewaar: error: .*bewaar\.yaml:2: crawl\.concurrency: 'many': input should be a valid integer.*",
        proc.stderr.strip(),
    ), proc.stderr

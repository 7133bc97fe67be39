"""A root whose path holds '#' and '?': the catalog is opened read-only through a
percent-encoded URI and read-write by path, so crawl, `bewaar changes` and the overview all
find the same file (an f-string URI read '#…' as a fragment and opened another file)."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from bewaar.sites.platforms import SITES
from tests.conftest import Replay, make_root, run_bewaar, write_seeds


def test_a_root_with_hash_and_question_mark(tmp_path: Path) -> None:
    root = make_root(tmp_path / "archief #1?versie=2")
    site = SITES["mastodon"]()
    site.start()
    try:
        seed = {"platform": "mastodon", "handle": site.handle_in_seed or site.account.handle,
                "base_url": site.base_url, "max_posts": 2}  # fmt: skip
        seeds = write_seeds(tmp_path / "seeds.yaml", {"collection": "c", "seeds": [seed]})
        for bio in ("Eerste bio", "Nieuwe bio van de gemeente"):
            site.set_bio(bio)
            crawl = run_bewaar("crawl", str(seeds), "--root", str(root))
            assert crawl.returncode == 0, crawl.stderr
            assert "catalog not updated" not in crawl.stderr, crawl.stderr
    finally:
        site.stop()
    assert (root / "catalog.sqlite").is_file()
    stray = [p for p in tmp_path.rglob("catalog.sqlite") if p.parent != root]
    assert stray == [], stray  # no second catalog where the URI was cut at '#' or '?'
    changes = run_bewaar("changes", "--root", str(root), "--json")
    assert changes.returncode == 0, changes.stderr
    found = json.loads(changes.stdout)
    assert [c["type"] for c in found] == ["profile"], found  # the bio changed between the crawls
    status = run_bewaar("catalog", "status", "--root", str(root))
    assert status.returncode == 0 and "mastodon:" in status.stdout, status.stdout + status.stderr
    with Replay(root) as rp, urllib.request.urlopen(rp.overview + "/", timeout=30) as resp:
        page = resp.read().decode()
    assert resp.status == 200 and "Catalog unavailable" not in page
    assert "mastodon:" in page and "posts" in page

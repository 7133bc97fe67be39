"""The issue's story, end to end with the real `bewaar` command, Chromium and pywb.

Serve a Mastodon account, crawl it; add a post, edit one, delete one, change the bio; crawl
again: `bewaar changes` reports exactly those four, the deleted post replays at its first
capture, and the overview finds the edited post by a word of either version. A third crawl
whose listing does not reach the oldest posts must not call them deleted. The
catalog the crawls built equals `bewaar catalog rebuild` from the WARCs alone.
"""

from __future__ import annotations

import json
import shutil
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from bewaar.model import read_pages
from bewaar.sites.platforms import SITES
from bewaar.sites.platforms.fixture import PlatformSite, Post
from tests.catalog.helpers import dump_catalog, row
from tests.conftest import Replay, make_root, run_bewaar, write_seeds

pytestmark = pytest.mark.slow

NEW = "1790000000000000007"
EDITED = "1790000000000000004"  # "Lees het nieuwe rapport over open data ..."
DELETED = "1790000000000000006"
OLDEST = ("1790000000000000002", "1790000000000000001")  # beyond the first page of the timeline
OLD_WORD, NEW_WORD = "rapport", "jaarverslag"
EDITED_TEXT = "Lees het jaarverslag over open data 📄 #OpenData"
NEW_BIO = "Officieel account van BZK. Vragen? Bel 1400."
ACCOUNT = "mastodon:minbzk@social.example"  # platform:account key, as the crawler names it


@dataclass
class Story:
    root: Path
    site: PlatformSite
    crawls: list[str]  # crawl ids, oldest first
    summaries: list[str]  # stderr of each crawl
    changes_json: list[dict[str, Any]]  # `bewaar changes --json` after the second crawl
    changes_text: str  # `bewaar changes --account ... --since ...` after the second crawl
    catalog_after_2: dict[str, Any]


def crawl(root: Path, seeds: Path) -> tuple[str, str]:
    p = run_bewaar("crawl", str(seeds), "--root", str(root))
    assert p.returncode == 0, p.stderr
    crawl_id = json.loads(sorted((root / "collections/gov/crawls").glob("*.json"))[-1].read_text())["crawl_id"]
    return crawl_id, p.stderr


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    site = SITES["mastodon"]()
    site.start()
    try:
        root = make_root(tmp_path_factory.mktemp("catalog-e2e") / "root")
        seed = {"platform": "mastodon", "handle": site.handle_in_seed, "base_url": site.base_url,
                "max_posts": 3}  # fmt: skip
        # media playback is not what these tests are about, and costs ~50 s a crawl
        quick = {"play_media": False}
        seeds = write_seeds(root / "seeds.yaml", {"collection": "gov", "behaviors": quick, "seeds": [seed]})
        first, out1 = crawl(root, seeds)

        # the account changes: a new post, an edit, a deletion, a new bio
        a = site.account
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        site.posts.insert(0, Post(id=NEW, text="Nieuw: de #Woo-index staat online 🚀", published=now,
                                  author=a.handle, author_name=a.name, likes=3))  # fmt: skip
        site.edit_post(EDITED, EDITED_TEXT)
        site.delete_post(DELETED)
        site.set_bio(NEW_BIO)
        second, out2 = crawl(root, seeds)
        p = run_bewaar("changes", "--root", str(root), "--json")
        assert p.returncode == 0, p.stderr
        changes_json = json.loads(p.stdout)
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        # the handle as the seed list writes it
        p = run_bewaar("changes", "--root", str(root), "--account", site.handle_in_seed, "--since", day)
        assert p.returncode == 0, p.stderr
        changes_text = p.stdout
        after_2 = dump_catalog(root / "catalog.sqlite")

        # a crawl whose listing does not reach the oldest posts (their pages stay online):
        # the timeline ends after the newest four, as a long one ends where scrolling stops
        # (the crawler's sweep scrolls to the end of a page, so on a 7-post fixture only a
        # shorter timeline makes this certain)
        everything = site.visible_posts
        site.visible_posts = lambda: everything()[:4]  # type: ignore[method-assign]
        limited = write_seeds(root / "seeds-limited.yaml", {
            "collection": "gov", "behaviors": {**quick, "max_scrolls": 0},
            "seeds": [dict(seed, max_posts=1)],
        })  # fmt: skip
        third, out3 = crawl(root, limited)
        site.visible_posts = everything  # type: ignore[method-assign]
        yield Story(root, site, [first, second, third], [out1, out2, out3], changes_json,
                    changes_text, after_2)  # fmt: skip
    finally:
        site.stop()


@pytest.fixture(scope="module")
def replay(story: Story) -> Iterator[Replay]:
    with Replay(story.root) as r:
        yield r


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def ts14(iso: str) -> str:
    return "".join(c for c in iso if c.isdigit())[:14]


def test_changes_reports_exactly_the_four_changes(story: Story) -> None:
    assert f"catalog: {ACCOUNT}: first capture" in story.summaries[0]
    assert f"catalog: {ACCOUNT}: 1 new, 1 edited, 1 deleted, profile changed (bio)" in story.summaries[1]
    found = sorted((c["type"], c.get("post_id")) for c in story.changes_json)
    assert found == sorted([("new", NEW), ("edited", EDITED), ("deleted", DELETED), ("profile", None)])
    by_type = {c["type"]: c for c in story.changes_json}

    edit = by_type["edited"]
    assert edit["fields"] == ["text"] and edit["text"] == EDITED_TEXT
    removed = "".join(t for op, t in edit["text_diff"] if op == "-")
    added = "".join(t for op, t in edit["text_diff"] if op == "+")
    assert OLD_WORD in removed and NEW_WORD in added and "open data" not in removed + added
    assert ts14(edit["captured_at"]) > ts14(edit["previous_captured_at"])

    gone = by_type["deleted"]
    assert gone["answer_status"] == 404 and "isn't here" in gone["answer"]
    assert gone["status"] == "deleted"

    bio = by_type["profile"]["fields"]
    assert list(bio) == ["bio"] and bio["bio"]["new"] == NEW_BIO
    assert by_type["new"]["text"].startswith("Nieuw: de #Woo-index")

    text = story.changes_text
    assert "{+jaarverslag+}" in text and "[-nieuwe rapport-]" in text
    assert "platform's answer: " in text and text.count(ACCOUNT) == 4
    for kind in ("new", "edited", "deleted", "profile"):
        assert f" {kind} " in text
    # nothing changed since tomorrow; an unknown account is one clear line
    p = run_bewaar("changes", "--root", str(story.root), "--since", "2999-01-01", "--json")
    assert p.returncode == 0 and json.loads(p.stdout) == []
    p = run_bewaar("changes", "--root", str(story.root), "--account", "x:nobody")
    assert p.returncode == 2 and p.stderr.strip() == (
        f"bewaar: error: unknown account 'x:nobody': the catalog knows {ACCOUNT}"
    )


def test_deleted_post_replays_at_its_first_capture(story: Story, replay: Replay) -> None:
    gone = next(c for c in story.changes_json if c["type"] == "deleted")
    first = row(story.root, "SELECT started, ended FROM crawls WHERE crawl_id = ?", story.crawls[0])
    assert ts14(first["started"]) <= ts14(gone["captured_at"]) <= ts14(first["ended"])
    assert gone["replay"] == f"/gov/{ts14(gone['captured_at'])}/{gone['url']}"  # its own page
    ts = ts14(gone["captured_at"])
    status, page = get(f"{replay.url}/gov/{ts}mp_/{gone['url']}")
    assert status == 200 and "Goedemorgen! ☀️ Vandaag start" in page
    base = story.site.base_url
    status, api = get(f"{replay.url}/gov/{ts}mp_/{base}/api/v1/statuses/{DELETED}")
    assert status == 200 and json.loads(api)["id"] == DELETED and "Digitaliseringsweek" in api
    # the platform's answer to the re-check is evidence too
    assert gone["replay_answer"] == f"/gov/{ts14(gone['checked_at'])}/{gone['url']}"
    status, answer = get(f"{replay.url}/gov/{ts14(gone['checked_at'])}mp_/{gone['url']}")
    assert status == 404 and "isn't here" in answer


def test_scroll_limited_crawl_does_not_call_old_posts_deleted(story: Story) -> None:
    third = story.crawls[2]
    checked = {
        p["extra"]["post_id"]: p
        for p in read_pages(story.root / "collections/gov/pages/pages.jsonl")
        if p["crawl_id"] == third and p["kind"] == "recheck"
    }
    # the premise: the listing did not show the oldest posts, so they were re-checked
    assert set(OLDEST) <= set(checked), f"not re-checked: {set(OLDEST) - set(checked)}"
    for pid in OLDEST:
        assert checked[pid]["outcome"] == "ok"
        r = row(story.root, "SELECT p.status, pg.kind FROM posts p JOIN post_sightings s ON s.post = p.id"
                " JOIN crawls c ON c.id = s.crawl JOIN pages pg ON pg.id = s.page"
                " WHERE p.post_id = ? AND c.crawl_id = ?", pid, third)  # fmt: skip
        assert (r["status"], r["kind"]) == ("online", "recheck")
    assert f"catalog: {ACCOUNT}: no changes" in story.summaries[2]
    p = run_bewaar("changes", "--root", str(story.root), "--json")
    assert sorted(c["type"] for c in json.loads(p.stdout)) == ["deleted", "edited", "new", "profile"]


def test_catalog_equals_a_rebuild_from_the_warcs(story: Story, tmp_path: Path) -> None:
    copy = tmp_path / "root"
    shutil.copytree(story.root, copy, ignore=shutil.ignore_patterns("catalog.sqlite*"))
    p = run_bewaar("catalog", "rebuild", "--root", str(copy))
    assert p.returncode == 0, p.stderr
    assert "rebuilt from the WARCs: 3 crawls, 1 accounts" in p.stdout
    assert "[3/3] gov: crawl" in p.stderr  # progress
    assert dump_catalog(copy / "catalog.sqlite") == dump_catalog(story.root / "catalog.sqlite")
    # and the state after two crawls equals a rebuild from those crawls' WARCs
    two = tmp_path / "two"
    shutil.copytree(copy, two, ignore=shutil.ignore_patterns("catalog.sqlite*"))
    report = json.loads((two / "collections/gov/crawls" / f"{story.crawls[2]}.json").read_text())
    assert report["warcs"]
    for name in report["warcs"]:
        (two / "collections/gov/archive" / name).unlink()
    assert run_bewaar("catalog", "rebuild", "--root", str(two)).returncode == 0
    assert dump_catalog(two / "catalog.sqlite") == story.catalog_after_2


def post_ids(page: Any) -> list[str]:
    return page.locator("li.post").evaluate_all("els => els.map(e => e.dataset.postId)")


def test_overview_search_filters_and_links_into_replay(story: Story, replay: Replay, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(replay.overview)
    account = page.locator("table.accounts tbody tr")
    assert account.count() == 1
    cells = {
        c.get_attribute("data-label"): c.inner_text().strip()
        for c in account.locator("td").all()
    }
    assert ACCOUNT in cells["Account"]
    assert (cells["New"], cells["Edited"], cells["Deleted"], cells["Profile"]) == ("1", "1", "1", "1")

    def search(**fields: str) -> list[str]:
        page.goto(replay.overview)
        for label, value in fields.items():
            control = page.get_by_label(label, exact=True)
            if control.evaluate("e => e.tagName") == "SELECT":
                control.select_option(label=value)
            else:
                control.fill(value)
        page.get_by_role("button", name="Show posts").click()
        page.wait_for_load_state()
        return post_ids(page)

    assert search(Keyword=OLD_WORD) == [EDITED]  # only in the first version
    assert "Found in version 1" in page.locator("li.post .hit").inner_text()
    assert page.locator("li.post .hit mark").first.inner_text().lower() == OLD_WORD
    assert search(Keyword=NEW_WORD) == [EDITED]  # only in the second
    assert search(Keyword="jaarversl*") == [EDITED]
    assert search(Keyword="geenwoordhier") == [] and "No posts match." in page.content()
    assert search(Change="deleted", Account=f"{ACCOUNT} (Ministerie van BZK 🇳🇱)",
                  Platform="mastodon") == [DELETED]  # fmt: skip
    assert search(Change="new") == [NEW]
    assert search(Change="edited") == [EDITED]
    # publication dates: 005 on 2024-05-06, 004 on 2024-05-05
    assert search(From="2024-05-05", To="2024-05-06") == ["1790000000000000005", EDITED]
    assert search(Keyword=OLD_WORD, From="2024-05-06") == []

    # the edited post's page: both versions, the difference, each version's replay
    search(Keyword=NEW_WORD)
    page.get_by_role("link", name="All 2 versions").click()
    versions = page.locator("li.version")
    assert versions.count() == 2
    assert page.locator("li.version del").first.inner_text().strip().startswith("nieuwe rapport")
    assert page.locator("li.version ins").first.inner_text().strip() == NEW_WORD
    links = [a.get_attribute("href") for a in page.locator("li.version a.replay").all()]
    assert len({urlsplit(h).path.split("/")[2] for h in links}) == 2  # two capture times

    # follow the deleted post into replay: the archived page shows it as it was
    search(Change="deleted")
    page.locator("li.post a.replay").click()
    page.wait_for_url(f"**/gov/*/{story.site.base_url}/@minbzk/{DELETED}")
    frame = page.frame_locator("iframe").first
    frame.locator(".detailed-status .status__content__text").first.wait_for(timeout=30000)
    assert "Digitaliseringsweek" in frame.locator(".detailed-status").first.inner_text()

    # everything came from this machine: no CDN
    hosts = {urlsplit(u).hostname for u in requested if u.startswith("http")}
    assert hosts == {"127.0.0.1"}, hosts


def test_overview_fits_a_phone(story: Story, replay: Replay, browser: Any) -> None:
    page = browser.new_page(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
    for path in ("", "/?q=open", "/account/1"):
        page.goto(f"{replay.overview}{path}")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, f"{path} is {width}px wide on a 360px screen"
    page.goto(replay.overview)
    box = page.get_by_label("Keyword", exact=True).bounding_box()
    assert box and box["width"] > 250  # the search field uses the width
    page.locator("li.post a", has_text="Details").first.click()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

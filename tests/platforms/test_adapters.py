"""Adapter rules that need no page: handles to URLs in every form archivists write them,
which links are an account's posts, canonical URLs, the registry, and merging JSON with DOM."""

from __future__ import annotations

import pytest

from crawler.platforms import ADAPTERS, get_adapter
from crawler.platforms.base import PageSnapshot, merge

PROFILES = [
    ("x", "MinBZK", "https://x.com/MinBZK"),
    ("x", "@MinBZK", "https://x.com/MinBZK"),
    ("x", "https://twitter.com/MinBZK", "https://x.com/MinBZK"),
    ("instagram", "minbzk", "https://www.instagram.com/minbzk/"),
    ("instagram", "https://www.instagram.com/minbzk/", "https://www.instagram.com/minbzk/"),
    ("facebook", "MinBZK", "https://www.facebook.com/MinBZK"),
    ("linkedin", "ministerie-van-bzk", "https://www.linkedin.com/company/ministerie-van-bzk/"),
    ("linkedin", "company/ministerie-van-bzk", "https://www.linkedin.com/company/ministerie-van-bzk/"),
    ("linkedin", "in/jane-doe", "https://www.linkedin.com/in/jane-doe/"),
    ("linkedin", "https://www.linkedin.com/company/ministerie-van-bzk/posts/", "https://www.linkedin.com/company/ministerie-van-bzk/"),
    ("mastodon", "@minbzk@social.overheid.nl", "https://social.overheid.nl/@minbzk"),
    ("mastodon", "minbzk@social.overheid.nl", "https://social.overheid.nl/@minbzk"),
    ("mastodon", "https://social.overheid.nl/@minbzk", "https://social.overheid.nl/@minbzk"),
    ("youtube", "@rijksoverheid", "https://www.youtube.com/@rijksoverheid"),
    ("youtube", "https://www.youtube.com/@rijksoverheid/videos", "https://www.youtube.com/@rijksoverheid"),
    ("youtube", "UCabcdefghijklmnopqrstuv", "https://www.youtube.com/channel/UCabcdefghijklmnopqrstuv"),
    ("tiktok", "@rijksoverheid", "https://www.tiktok.com/@rijksoverheid"),
    ("snapchat", "rijksoverheid", "https://www.snapchat.com/add/rijksoverheid"),
    ("snapchat", "@rijksoverheid", "https://www.snapchat.com/add/rijksoverheid"),
    ("snapchat", "https://www.snapchat.com/add/rijksoverheid", "https://www.snapchat.com/add/rijksoverheid"),
    ("snapchat", "https://www.snapchat.com/@rijksoverheid", "https://www.snapchat.com/add/rijksoverheid"),
    ("generic", "https://www.rijksoverheid.nl/nieuws", "https://www.rijksoverheid.nl/nieuws"),
]  # fmt: skip


@pytest.mark.parametrize(("platform", "handle", "url"), PROFILES)
def test_handles_become_profile_urls(platform: str, handle: str, url: str) -> None:
    assert get_adapter(platform).profile_url(handle) == url


def test_base_url_override_for_private_instances_and_tests() -> None:
    a = get_adapter("mastodon", "https://mastodon.example.org/")
    assert a.profile_url("@minbzk@social.overheid.nl") == "https://mastodon.example.org/@minbzk"
    assert a.is_post_url("https://mastodon.example.org/@minbzk/1100", "@minbzk@social.overheid.nl")
    assert not a.is_post_url("https://social.overheid.nl/@minbzk/1100", "minbzk")
    x = get_adapter("x", "http://127.0.0.1:8000")
    assert x.profile_url("MinBZK") == "http://127.0.0.1:8000/MinBZK"
    assert not x.is_post_url(
        "https://twitter.com/MinBZK/status/1", "MinBZK"
    )  # aliases: default site only


POSTS = [  # (platform, handle, link on the profile, own post?, canonical)
    ("x", "MinBZK", "https://x.com/MinBZK/status/179/photo/1", True, "https://x.com/MinBZK/status/179"),
    ("x", "MinBZK", "https://twitter.com/minbzk/status/179?s=20", True, "https://x.com/minbzk/status/179"),
    ("x", "MinBZK", "https://x.com/other/status/180", False, "https://x.com/other/status/180"),
    ("x", "MinBZK", "https://x.com/MinBZK/followers", False, None),
    ("x", "MinBZK", "https://x.com/hashtag/OpenData?src=hashtag_click", False, None),
    ("instagram", "minbzk", "https://www.instagram.com/p/C7abc_-1/", True, "https://www.instagram.com/p/C7abc_-1/"),
    ("instagram", "minbzk", "https://www.instagram.com/minbzk/reel/C7xyz/?igsh=1", True, "https://www.instagram.com/reel/C7xyz/"),
    ("instagram", "minbzk", "https://www.instagram.com/explore/tags/overheid/", False, None),
    ("facebook", "MinBZK", "https://www.facebook.com/MinBZK/posts/pfbid02abc?__tn__=R", True, "https://www.facebook.com/MinBZK/posts/pfbid02abc"),
    ("facebook", "MinBZK", "https://www.facebook.com/permalink.php?story_fbid=123&id=456&__cft__=x", True, "https://www.facebook.com/permalink.php?story_fbid=123&id=456"),
    ("facebook", "MinBZK", "https://www.facebook.com/MinBZK/followers/", False, None),
    ("linkedin", "company/ministerie-van-bzk", "https://www.linkedin.com/posts/ministerie-van-bzk_open-data-activity-7193512378368001000-Ab1c?trk=x", True,
     "https://www.linkedin.com/posts/ministerie-van-bzk_open-data-activity-7193512378368001000-Ab1c"),
    ("linkedin", "company/ministerie-van-bzk", "https://www.linkedin.com/posts/someone-else_x-activity-7193512378368001000-Zz9z", False,
     "https://www.linkedin.com/posts/someone-else_x-activity-7193512378368001000-Zz9z"),
    ("mastodon", "@minbzk@social.overheid.nl", "https://social.overheid.nl/@minbzk/110372749811427462", True, "https://social.overheid.nl/@minbzk/110372749811427462"),
    ("mastodon", "@minbzk@social.overheid.nl", "https://social.overheid.nl/@minbzk/following", False, None),
    ("youtube", "@rijksoverheid", "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=10s", True, "https://www.youtube.com/watch?v=dQw4w9WgXcQ"),
    ("youtube", "@rijksoverheid", "https://www.youtube.com/shorts/dQw4w9WgXcQ", True, "https://www.youtube.com/watch?v=dQw4w9WgXcQ"),
    ("youtube", "@rijksoverheid", "https://www.youtube.com/watch?v=short", False, None),
    ("tiktok", "@rijksoverheid", "https://www.tiktok.com/@rijksoverheid/photo/7300000000000000001", True, "https://www.tiktok.com/@rijksoverheid/photo/7300000000000000001"),
    ("tiktok", "@rijksoverheid", "https://www.tiktok.com/@someone/video/7300000000000000002", False, "https://www.tiktok.com/@someone/video/7300000000000000002"),
]  # fmt: skip


@pytest.mark.parametrize(("platform", "handle", "link", "own", "canonical"), POSTS)
def test_post_link_rules(
    platform: str, handle: str, link: str, own: bool, canonical: str | None
) -> None:
    a = get_adapter(platform)
    assert a.is_post_url(link, handle) is own
    assert a.canonical_post_url(link) == canonical


def test_post_links_in_page_order_once_each() -> None:
    a = get_adapter("x", "http://127.0.0.1:1")
    html = """<a href="/MinBZK/status/3">3</a><a href="/MinBZK/status/3/photo/1">p</a>
              <a href="/other/status/9">quote</a><a href="/MinBZK/status/2">2</a>"""
    snap = PageSnapshot("http://127.0.0.1:1/MinBZK", "http://127.0.0.1:1/MinBZK", 200, "", html, "2024-05-07T07:30:00Z",
                        "profile", "MinBZK")  # fmt: skip
    assert a.post_links(snap) == [
        "http://127.0.0.1:1/MinBZK/status/3",
        "http://127.0.0.1:1/MinBZK/status/2",
    ]


def test_mastodon_post_resources_are_the_status_and_its_context() -> None:
    a = get_adapter("mastodon")
    assert a.post_resources("https://social.overheid.nl/@minbzk/1100") == [
        "https://social.overheid.nl/api/v1/statuses/1100",
        "https://social.overheid.nl/api/v1/statuses/1100/context",
    ]
    assert get_adapter("x").post_resources("https://x.com/a/status/1") == []


def test_registry() -> None:
    assert set(ADAPTERS) == {
        "x",
        "instagram",
        "facebook",
        "linkedin",
        "mastodon",
        "youtube",
        "tiktok",
        "snapchat",
        "generic",
    }
    for name, cls in ADAPTERS.items():
        a = get_adapter(name)
        assert isinstance(a, cls) and a.name == f"{name}@{cls.version}"
    with pytest.raises(ValueError, match="unknown platform 'myspace'"):
        get_adapter("myspace")


def test_generic_blocks_by_http_status_only() -> None:
    a = get_adapter("generic")

    def snap(status: int) -> PageSnapshot:
        return PageSnapshot(
            "http://h/", "http://h/", status, "", "<p>Log in to X</p>", "2024-05-07T07:30:00Z"
        )

    assert a.detect_block(snap(200)) is None
    assert a.detect_block(snap(429)).kind == "rate_limited"  # type: ignore[union-attr]
    assert a.detect_block(snap(404)).kind == "not_found"  # type: ignore[union-attr]
    assert a.extract(snap(200)) == []


def test_merge_fills_gaps_and_keeps_exact_counts() -> None:
    from_json = {
        "id": "1",
        "text": "hoi",
        "media": [],
        "counts": {"reactions": 1234, "views": None},
    }
    from_dom = {"id": "1", "text": "other", "media": [{"kind": "photo", "url": "u"}], "published_text": "7 May",
                "counts": {"reactions": 1200, "views": 48900}, "counts_text": {"reactions": "1.2K"}}  # fmt: skip
    out = merge(from_json, from_dom)
    assert out["text"] == "hoi" and out["media"] == [{"kind": "photo", "url": "u"}]
    assert out["published_text"] == "7 May"
    assert out["counts"] == {"reactions": 1234, "views": 48900}
    assert out.get("counts_text", {}) == {}  # the approximate text went with its value


def test_account_keys_name_the_account_unambiguously() -> None:
    assert get_adapter("x").account_key("@MinBZK") == "MinBZK"
    assert (
        get_adapter("mastodon").account_key("@minbzk@social.overheid.nl")
        == "minbzk@social.overheid.nl"
    )
    assert (
        get_adapter("mastodon", "http://127.0.0.1:9").account_key("minbzk") == "minbzk@127.0.0.1:9"
    )
    assert get_adapter("linkedin").account_key("ministerie-van-bzk") == "company/ministerie-van-bzk"

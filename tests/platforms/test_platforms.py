"""The same checks for every platform, against its fixture site in a real Chromium.

handle -> URLs; the profile renders and the adapter's post-link rule finds exactly the site's
posts; overlays are closed by the adapter's own selectors; replies are reached through the
adapter's "more" controls; objects carry the site's own values; login walls, 429s and deleted
posts are recognised; edits, deletions and bio changes show up in the next capture.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from bewaar.objects import json_schema, parse_count, validate_object
from bewaar.sites.platforms import SITES
from bewaar.sites.platforms.fixture import PlatformSite, Post
from crawler.platforms import get_adapter
from tests.platforms.browser import Rendered, Renderer

pytestmark = pytest.mark.slow  # a real Chromium against fixture sites

SCHEMA = Draft202012Validator(json_schema())


@pytest.fixture(scope="module", params=list(SITES), ids=list(SITES))
def site(request: pytest.FixtureRequest) -> Iterator[PlatformSite]:
    """A site in normal mode shared by the read-only tests of one platform."""
    s = SITES[request.param]()
    s.start()
    s.renders = {}  # type: ignore[attr-defined]
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(params=list(SITES), ids=list(SITES))
def fresh_site(request: pytest.FixtureRequest) -> Iterator[PlatformSite]:
    """A site of its own for a test that changes modes or data."""
    s = SITES[request.param]()
    s.start()
    try:
        yield s
    finally:
        s.stop()


def render(renderer: Renderer, site: PlatformSite, url: str, kind: str, **kw: Any) -> Rendered:
    adapter = get_adapter(site.platform, site.base_url)
    cache = getattr(site, "renders", None)
    key = (url, kind, tuple(sorted(kw.items())))
    if cache is not None and key in cache:
        return cache[key]
    out = renderer.render(adapter, url, kind, site.handle_in_seed, **kw)  # type: ignore[arg-type]
    if cache is not None:
        cache[key] = out
    return out


def profile(renderer: Renderer, site: PlatformSite, **kw: Any) -> Rendered:
    adapter = get_adapter(site.platform, site.base_url)
    return render(renderer, site, adapter.profile_url(site.handle_in_seed), "profile", **kw)


def objects(site: PlatformSite, r: Rendered) -> tuple[list[dict], dict[str, dict]]:
    adapter = get_adapter(site.platform, site.base_url)
    objs = adapter.extract(r.snap)
    for o in objs:
        validate_object(o)
        SCHEMA.validate(o)  # the published JSON Schema accepts what adapters produce
        assert o["adapter"] == f"{site.platform}@{adapter.version}"
        assert o["platform"] == site.platform
    profiles = [o for o in objs if o["type"] == "profile"]
    posts = {o["id"]: o for o in objs if o["type"] == "post"}
    return profiles, posts


def check(actual: dict[str, Any], expected: dict[str, Any], what: str) -> None:
    for key, want in expected.items():
        got: Any = actual
        for part in key.split("."):
            got = got.get(part) if isinstance(got, dict) else None
        if key == "counts":
            for name, value in want.items():
                check_count(actual, name, value, what)
            continue
        assert matches(got, want), f"{what}: {key} is {got!r}, expected {want!r}"


def matches(got: Any, want: Any) -> bool:
    """Equality where dicts in `want` name only the keys that matter."""
    if isinstance(want, dict):
        return isinstance(got, dict) and all(matches(got.get(k), v) for k, v in want.items())
    if isinstance(want, list):
        return (
            isinstance(got, list)
            and len(got) == len(want)
            and all(matches(g, w) for g, w in zip(got, want, strict=True))
        )
    return got == want


def check_count(obj: dict[str, Any], name: str, value: int | str, what: str) -> None:
    """An int means the page gives it exactly; a string is what the page shows abbreviated."""
    got = obj["counts"].get(name)
    if isinstance(value, int):
        assert got == value, f"{what}: counts.{name} is {got!r}, expected {value}"
        assert name not in obj["counts_text"], f"{what}: exact count {name} marked approximate"
    else:
        assert obj["counts_text"].get(name) == value, f"{what}: counts_text.{name}"
        assert got == parse_count(value)[0], f"{what}: counts.{name} is {got!r} for {value!r}"


# ----------------------------------------------------------------------------- URLs


def test_handle_to_urls(site: PlatformSite) -> None:
    adapter = get_adapter(site.platform, site.base_url)
    handle = site.handle_in_seed
    assert adapter.account_urls(handle)[0] == adapter.profile_url(handle)
    assert adapter.profile_url(handle).startswith(site.base_url + "/")
    for p in site.posts:
        url = site.post_page_url(p)
        assert adapter.is_post_url(url, handle), url
        assert adapter.canonical_post_url(url, handle) == url
        assert adapter.post_id(url) == p.id
        assert adapter.post_id(adapter.post_url(handle, p.id)) == p.id
    assert not adapter.is_post_url(adapter.profile_url(handle), handle)
    assert not adapter.is_post_url("https://elsewhere.example/status/1", handle)


# ----------------------------------------------------------------------------- profile


def test_profile_renders_and_lists_exactly_the_posts(
    renderer: Renderer, site: PlatformSite
) -> None:
    adapter = get_adapter(site.platform, site.base_url)
    links: dict[str, None] = {}
    for url in adapter.account_urls(site.handle_in_seed):
        r = render(renderer, site, url, "profile")
        assert adapter.detect_block(r.snap) is None
        links.update(dict.fromkeys(adapter.post_links(r.snap, site.handle_in_seed)))
    assert list(links) == site.expected_post_links()


def test_overlays_closed_by_adapter_selectors(renderer: Renderer, site: PlatformSite) -> None:
    if not site.has_overlays:
        adapter = get_adapter(site.platform, site.base_url)
        assert not adapter.overlay_close and not adapter.overlay_remove
        return
    left = profile(renderer, site, close_overlays=False, scroll=False, expand=False)
    assert left.overlays_left, "the fixture shows no overlay the adapter knows"
    r = profile(renderer, site)
    assert r.closed or r.removed
    assert r.overlays_left == []


def test_profile_object(renderer: Renderer, site: PlatformSite) -> None:
    profiles, _ = objects(site, profile(renderer, site))
    assert len(profiles) == 1, profiles
    check(profiles[0], site.expected_profile(), "profile")


def test_post_objects_on_profile(renderer: Renderer, site: PlatformSite) -> None:
    adapter = get_adapter(site.platform, site.base_url)
    posts: dict[str, dict] = {}
    for url in adapter.account_urls(site.handle_in_seed):
        posts.update(objects(site, render(renderer, site, url, "profile"))[1])
    for p in site.visible_posts():
        assert p.id in posts, f"post {p.id} not extracted from the profile pages"
        check(posts[p.id], site.expected_post(p, "profile"), f"post {p.id}")


def test_post_page_object_and_media(renderer: Renderer, site: PlatformSite) -> None:
    for p in site.visible_posts():
        if not (p.photos or p.video or p.gif or p.audio):
            continue
        r = render(renderer, site, site.post_page_url(p), "post")
        adapter = get_adapter(site.platform, site.base_url)
        assert adapter.detect_block(r.snap) is None
        _, posts = objects(site, r)
        obj = posts[p.id]
        check(obj, site.expected_post(p), f"post page {p.id}")
        assert sorted(m["kind"] for m in obj["media"]) == sorted(site.expected_media(p))
        for m in obj["media"]:
            assert m["url"] and m["url"].startswith(site.base_url), m


# ----------------------------------------------------------------------------- replies


def conversation(site: PlatformSite) -> Post:
    return next(p for p in site.posts if p.replies)


def test_replies_reached_through_more_controls(renderer: Renderer, site: PlatformSite) -> None:
    post = conversation(site)
    url = site.post_page_url(post)
    full = render(renderer, site, url, "post")
    _, posts = objects(site, full)
    check(posts[post.id], site.expected_post(post), "conversation")
    for reply in post.replies:
        assert reply.id in posts, f"reply {reply.id} missing"
        got = posts[reply.id]
        check(got, site.expected_post(reply), f"reply {reply.id}")
        assert got["reply_to"] and got["reply_to"]["id"] == post.id
    if site.replies_via == "click":
        assert full.clicked, "no more-control of the adapter was clicked"
    if site.replies_via in ("click", "scroll"):
        bare = render(
            renderer, site, url, "post", expand=False, scroll=site.replies_via != "scroll"
        )
        _, fewer = objects(site, bare)
        site.check_collapsed(post, fewer, bare.snap.html, full.snap.html)


# ----------------------------------------------------------------------------- blocks


@pytest.mark.parametrize("mode", ["login_wall", "rate_limited"])
def test_block_pages_detected(renderer: Renderer, fresh_site: PlatformSite, mode: str) -> None:
    site = fresh_site
    site.set_mode(mode)
    adapter = get_adapter(site.platform, site.base_url)
    for url, kind in (
        (adapter.profile_url(site.handle_in_seed), "profile"),
        (site.post_page_url(site.posts[0]), "post"),
    ):
        r = renderer.render(adapter, url, kind, site.handle_in_seed)  # type: ignore[arg-type]
        block = adapter.detect_block(r.snap)
        assert block is not None and block.kind == mode, (url, block)
        assert [o for o in adapter.extract(r.snap) if o["type"] == "post"] == []


def test_deleted_post_is_unavailable(renderer: Renderer, fresh_site: PlatformSite) -> None:
    site = fresh_site
    adapter = get_adapter(site.platform, site.base_url)
    post = site.posts[2]
    site.delete_post(post.id)
    r = renderer.render(adapter, site.post_page_url(post), "post", site.handle_in_seed)
    block = adapter.detect_block(r.snap)
    assert block is not None and block.kind in site.blocked_post_kinds, block
    r = renderer.render(
        adapter, adapter.profile_url(site.handle_in_seed), "profile", site.handle_in_seed
    )
    assert site.post_page_url(post) not in adapter.post_links(r.snap, site.handle_in_seed)


def test_edits_show_in_next_capture(renderer: Renderer, fresh_site: PlatformSite) -> None:
    site = fresh_site
    adapter = get_adapter(site.platform, site.base_url)
    post = site.posts[0]
    site.edit_post(post.id, post.text + " (aangepast ✏️)")
    site.set_bio("Nieuwe bio 🆕 van het ministerie")
    r = renderer.render(adapter, site.post_page_url(post), "post", site.handle_in_seed)
    _, posts = objects(site, r)
    assert posts[post.id]["text"] == site.expected_post(post)["text"]
    assert posts[post.id]["text"].endswith("(aangepast ✏️)")
    r = renderer.render(
        adapter, adapter.profile_url(site.handle_in_seed), "profile", site.handle_in_seed
    )
    profiles, _ = objects(site, r)
    assert (
        profiles[0]["bio"] == site.expected_profile()["bio"] == "Nieuwe bio 🆕 van het ministerie"
    )


def test_login_state_passes_the_login_wall(renderer: Renderer, fresh_site: PlatformSite) -> None:
    site = fresh_site
    site.set_mode("login_wall")
    adapter = get_adapter(site.platform, site.base_url)
    url = adapter.profile_url(site.handle_in_seed)
    r = renderer.render(
        adapter, url, "profile", site.handle_in_seed, storage_state=site.session_state()
    )
    assert adapter.detect_block(r.snap) is None
    assert adapter.post_links(r.snap, site.handle_in_seed)


DOM_SITES = [name for name, cls in SITES.items() if cls.dom_fallback]


@pytest.mark.parametrize("name", DOM_SITES)
def test_dom_alone_gives_every_post_and_its_text(renderer: Renderer, name: str) -> None:
    """Without the JSON the page loaded (e.g. a capture where it was not recorded), the
    adapter still reads each post's id, text and author from the rendered DOM."""
    site = SITES[name]()
    site.start()
    try:
        adapter = get_adapter(site.platform, site.base_url)
        r = renderer.render(
            adapter, adapter.profile_url(site.handle_in_seed), "profile", site.handle_in_seed
        )
        snap = replace(r.snap, responses=[])
        profiles, posts = objects(site, Rendered(snap=snap))
        assert len(profiles) == 1 and profiles[0]["name"] == site.account.name
        for p in site.visible_posts():
            expected = site.expected_post(p, "profile")
            assert posts[p.id]["text"] == expected["text"]
            assert posts[p.id]["author"]["handle"] == expected["author.handle"]
    finally:
        site.stop()

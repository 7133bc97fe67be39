"""Video loads the way each platform's player loads it, so full-media capture has a real case:
YouTube appends range-parameter chunks to a MediaSource; TikTok plays a progressive MP4 with
HTTP byte ranges. The clips really play in Chromium."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from bewaar.sites.media import video
from bewaar.sites.platforms.tiktok import TikTokSite
from bewaar.sites.platforms.x import XSite
from bewaar.sites.platforms.youtube import YouTubeSite
from crawler.platforms import dom, get_adapter
from tests.platforms.browser import Renderer

pytestmark = pytest.mark.slow  # a real Chromium against fixture sites

PLAYING = """async () => {
  const v = document.querySelector('video');
  for (let i = 0; i < 50 && !(v && v.readyState >= 2); i++) await new Promise(r => setTimeout(r, 100));
  return v ? {readyState: v.readyState, src: v.currentSrc, buffered: v.buffered.length ? v.buffered.end(0) : 0,
              width: v.videoWidth} : null;
}"""


@pytest.fixture
def youtube() -> Iterator[YouTubeSite]:
    site = YouTubeSite()
    site.start()
    try:
        yield site
    finally:
        site.stop()


def test_youtube_player_fetches_whole_video_in_range_parameter_chunks(
    renderer: Renderer, youtube: YouTubeSite
) -> None:
    adapter = get_adapter("youtube", youtube.base_url)
    post = next(p for p in youtube.posts if p.video)
    r = renderer.render(
        adapter, youtube.post_page_url(post), "post", youtube.handle_in_seed, probe=PLAYING
    )
    assert r.probe["src"].startswith("blob:")  # MSE, as on YouTube
    assert r.probe["readyState"] >= 2 and r.probe["width"] == 160 and r.probe["buffered"] > 1
    chunks = []
    for _method, url in r.requests:
        q = parse_qs(urlsplit(url).query)
        if urlsplit(url).path == "/videoplayback" and "range" in q:
            a, b = (int(x) for x in q["range"][0].split("-"))
            chunks.append((a, b))
    size = len(video("webm"))
    assert len(chunks) >= 2 and chunks[0][0] == 0 and chunks[-1][1] == size - 1
    assert all(b1 + 1 == a2 for (_a1, b1), (a2, _b2) in zip(chunks, chunks[1:], strict=False))
    # the object names a URL that gives the whole video in one response
    (obj,) = [o for o in adapter.extract(r.snap) if o["id"] == post.id]
    (media,) = obj["media"]
    assert media["kind"] == "video" and media["mime"] == "video/mp4"
    assert "range=" not in media["url"]
    assert media["url"] in r.snap.html  # taken from the page's own player response
    with urllib.request.urlopen(media["url"]) as resp:
        assert resp.read() == video("mp4")


@pytest.fixture
def tiktok() -> Iterator[TikTokSite]:
    site = TikTokSite()
    site.start()
    try:
        yield site
    finally:
        site.stop()


def test_tiktok_player_reads_progressive_mp4_with_byte_ranges(
    renderer: Renderer, tiktok: TikTokSite
) -> None:
    adapter = get_adapter("tiktok", tiktok.base_url)
    post = next(p for p in tiktok.posts if p.video)
    r = renderer.render(
        adapter, tiktok.post_page_url(post), "post", tiktok.handle_in_seed, probe=PLAYING
    )
    assert r.probe["readyState"] >= 2 and r.probe["width"] == 160
    (obj,) = [o for o in adapter.extract(r.snap) if o["id"] == post.id]
    (media,) = obj["media"]
    assert media["kind"] == "video" and media["url"] == r.probe["src"]
    assert any(url == media["url"] and rng.startswith("bytes=") for url, rng in r.ranges)
    # the CDN wants the page as Referer, like TikTok's: a bare fetch is refused
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(media["url"])
    assert refused.value.code == 403
    req = urllib.request.Request(media["url"], headers={"Referer": obj["url"]})
    with urllib.request.urlopen(req) as resp:
        assert resp.read() == video("mp4")


def test_x_video_json_lists_an_hls_variant_that_rebuilds_the_file(renderer: Renderer) -> None:
    """X's GraphQL lists an HLS (fMP4, byte-range) variant beside the MP4 the page plays: a
    downloader following the playlists gets exactly the same bytes."""
    site = XSite()
    site.start()
    try:
        adapter = get_adapter("x", site.base_url)
        post = next(p for p in site.posts if p.video)
        r = renderer.render(adapter, site.post_page_url(post), "post", site.handle_in_seed)
        variants = [v for _u, data in r.snap.json_responses("TweetDetail")
                    for m in dom.walk_json(data, lambda d: "variants" in d) for v in m["variants"]]  # fmt: skip
        hls = next(v["url"] for v in variants if v["content_type"] == "application/x-mpegURL")
        master = urllib.request.urlopen(hls).read().decode()
        media_uri = [ln for ln in master.splitlines() if ln and not ln.startswith("#")][0]
        playlist = urllib.request.urlopen(site.base_url + media_uri).read().decode()
        out = b""
        init = re.search(r'#EXT-X-MAP:URI="([^"]+)",BYTERANGE="(\d+)@(\d+)"', playlist)
        assert init
        parts = [(init.group(1), int(init.group(2)), int(init.group(3)))]
        for length, offset, uri in re.findall(r"#EXT-X-BYTERANGE:(\d+)@(\d+)\n(\S+)", playlist):
            parts.append((uri, int(length), int(offset)))
        assert len(parts) >= 3
        for uri, length, offset in parts:
            req = urllib.request.Request(
                site.base_url + uri, headers={"Range": f"bytes={offset}-{offset + length - 1}"}
            )
            with urllib.request.urlopen(req) as resp:
                assert resp.status == 206
                out += resp.read()
        assert out == video("mp4")
        (obj,) = [o for o in adapter.extract(r.snap) if o["id"] == post.id]
        assert obj["media"][0]["url"].endswith("/clip.mp4")  # the whole file at one URL
    finally:
        site.stop()

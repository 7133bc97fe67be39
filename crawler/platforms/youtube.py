"""YouTube. Channel and watch pages embed their data as JSON (ytInitialData,
ytInitialPlayerResponse) and load more through the InnerTube API (/youtubei/v1/browse, /next);
that JSON is the source. A "post" is a video; its comments are posts replying to it.

Handles: "@rijksoverheid", "rijksoverheid", a channel id "UC..." or a channel URL. An account
is crawled as its Home tab and its /videos tab (account_urls).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bs4 import BeautifulSoup

from bewaar.objects import iso_utc, parse_count, set_count
from crawler.platforms import dom
from crawler.platforms.base import Adapter, Block, PageSnapshot

# -- what changes when YouTube changes its pages ------------------------------------------------
ITEM_TAGS = (
    "ytd-rich-item-renderer, ytd-grid-video-renderer, ytd-video-renderer, ytd-reel-item-renderer"
)
TABS = ("/videos",)  # besides the Home tab
PLAYABILITY_BLOCKS = {
    "LOGIN_REQUIRED": "login_wall",
    "ERROR": "unavailable",
    "UNPLAYABLE": "unavailable",
}
LIKES_LABEL = re.compile(r"along with ([\d.,\s]+) other", re.I)


class YouTubeAdapter(Adapter):
    platform = "youtube"
    version = "1.1"  # 1.1: account photos, actions, stories, follow lists, replies elsewhere (issue 16)
    default_base_url = "https://www.youtube.com"
    aliases = ("https://m.youtube.com", "https://youtube.com")
    profile_path = "/@{handle}"
    post_path = re.compile(r"^/(?:watch\?(?:[^#]*&)?v=|shorts/|live/)(?P<id>[\w-]{11})(?![\w-])")
    post_url_path = "/watch?v={id}"
    overlay_close = (
        'ytd-consent-bump-v2-lightbox button[aria-label^="Reject"]',
        "ytd-mealbar-promo-renderer #dismiss-button button",
        "tp-yt-paper-dialog #dismiss-button button",
    )
    more_controls = (
        "yt-description-preview-view-model button.truncated-text-wiz__absolute-button",
        "ytd-text-inline-expander tp-yt-paper-button#expand",
        "ytd-comment-replies-renderer #more-replies button",
        "ytd-continuation-item-renderer button",
    )
    login_wall = ("re:Sign in to confirm (you.re not a bot|your age)",)
    unavailable = (
        "re:Video unavailable",
        "re:This (video|page|channel) (isn.t|is not) available",
        "re:This video has been removed",
    )
    rate_limited = ("re:unusual traffic from your computer network",)
    content = {
        "profile": ("#page-header", "ytd-c4-tabbed-header-renderer"),
        "post": ("ytd-watch-metadata",),
    }
    api_pattern = r"/youtubei/v1/"

    # -- URLs ---------------------------------------------------------------------------
    def normalize_handle(self, handle: str) -> str:
        handle = handle.strip()
        if re.match(r"^https?://", handle):
            parts = [p for p in urlsplit(handle).path.split("/") if p]
            if parts and parts[0] in ("channel", "c", "user") and len(parts) > 1:
                return parts[0] + "/" + parts[1]
            handle = parts[0] if parts else ""
        return handle.lstrip("@")

    def profile_url(self, handle: str) -> str:
        h = self.normalize_handle(handle)
        if re.fullmatch(r"UC[\w-]{22}", h):
            h = "channel/" + h
        return f"{self.base_for(handle)}/{h if '/' in h else '@' + h}"

    def account_urls(self, handle: str) -> list[str]:
        base = self.profile_url(handle)
        return [base] + [base + tab for tab in TABS]

    def post_links(self, snap: PageSnapshot, handle: str | None = None) -> list[str]:
        """Videos in the channel's own lists; a featured video of another channel is not one."""
        handle = handle or snap.handle
        soup = dom.parse(snap.html)
        out: dict[str, None] = {}
        for a in soup.find_all("a", href=True):
            url = dom.absolute(snap.final_url or snap.url, dom.attr(a, "href"))
            if not url or not self.is_post_url(url):
                continue
            item = a.find_parent(ITEM_TAGS.split(", "))
            chan = dom.attr(item.select_one("ytd-channel-name a"), "href") if item else None
            if chan and handle and chan.startswith("/@") and not self.same_handle(chan[2:], handle):
                continue
            out.setdefault(self.canonical_post_url(url) or url, None)
        return list(out)

    # -- checks ---------------------------------------------------------------------------
    def detect_block(self, snap: PageSnapshot) -> Block | None:
        soup = dom.parse(snap.html)
        status = dom.dig(dom.script_json(soup, "ytInitialPlayerResponse"), "playabilityStatus")
        if snap.status != 429 and status and status.get("status") in PLAYABILITY_BLOCKS:
            reason = status.get("reason") or status["status"]
            return Block(PLAYABILITY_BLOCKS[status["status"]], f"player says: {reason}")  # type: ignore[arg-type]
        return super().detect_block(snap)

    # -- extraction -----------------------------------------------------------------------
    def read(self, snap: PageSnapshot) -> list[dict[str, Any]]:
        soup = dom.parse(snap.html)
        initial = dom.script_json(soup, "ytInitialData")
        loaded = [data for _u, data in snap.json_responses(self.api_pattern)]
        out: list[dict[str, Any]] = []
        if snap.kind == "profile" and isinstance(initial, dict):
            profile = self._channel(snap, initial, loaded, soup)
            if profile:
                out.append(profile)
            for data in [initial, *loaded]:
                for r in dom.walk_json(data, lambda d: "videoId" in d and "title" in d):
                    if self._own(r, profile):
                        out.append(self._grid_video(snap, r, profile))
        player = dom.script_json(soup, "ytInitialPlayerResponse")
        if snap.kind == "post" and dom.dig(player, "videoDetails", "videoId"):
            video = self._watch(snap, player, initial or {}, loaded)
            out.append(video)
            for data in loaded:
                for c in dom.walk_json(data, lambda d: "commentId" in d and "contentText" in d):
                    out.append(self._comment(snap, c, video["id"]))
                for c in dom.walk_json(data, lambda d: "commentEntityPayload" in d):
                    out.append(self._comment_entity(snap, c["commentEntityPayload"], video["id"]))
        return out

    def _channel(
        self, snap: PageSnapshot, initial: dict[str, Any], loaded: list[Any], soup: BeautifulSoup
    ) -> dict[str, Any] | None:
        meta = dom.dig(initial, "metadata", "channelMetadataRenderer", default={}) or {}
        vm = (
            dom.dig(initial, "header", "pageHeaderRenderer", "content", "pageHeaderViewModel") or {}
        )
        c4 = dom.dig(initial, "header", "c4TabbedHeaderRenderer") or {}
        about = next(
            (a for d in loaded for a in dom.walk_json(d, lambda x: "aboutChannelViewModel" in x)),
            {},
        ).get("aboutChannelViewModel", {})
        parts = [
            dom.dig(p, "text", "content") or ""
            for p in dom.walk_json(
                vm.get("metadata"), lambda d: "text" in d and "content" in (d.get("text") or {})
            )
        ]
        handle = next((p[1:] for p in parts if p.startswith("@")), None)
        handle = handle or c4.get("channelHandleText", {}).get("runs", [{}])[0].get(
            "text", ""
        ).lstrip("@")
        vanity = meta.get("vanityChannelUrl") or about.get("canonicalChannelUrl") or ""
        handle = handle or (vanity.rsplit("/@", 1)[1] if "/@" in vanity else None)
        if not handle:
            return None
        obj = self.new_object(
            snap,
            "profile",
            f"{self.base_url}/@{handle}",
            id=meta.get("externalId") or about.get("channelId"),
            handle=handle,
            name=meta.get("title")
            or dom.dig(vm, "title", "dynamicTextViewModel", "text", "content"),
            bio=about.get("description") or meta.get("description"),
            avatar=_largest(
                dom.dig(
                    vm,
                    "image",
                    "decoratedAvatarViewModel",
                    "avatar",
                    "avatarViewModel",
                    "image",
                    "sources",
                )
            )
            or _largest(dom.dig(meta, "avatar", "thumbnails")),
            header=_largest(dom.dig(vm, "banner", "imageBannerViewModel", "image", "sources"))
            or _largest(dom.dig(c4, "banner", "thumbnails")),
            location=about.get("country"),
            links=[
                {
                    "url": _unwrap(
                        dom.dig(
                            v,
                            "link",
                            "commandRuns",
                            0,
                            "onTap",
                            "innertubeCommand",
                            "urlEndpoint",
                            "url",
                        )
                    )
                    or dom.dig(v, "link", "content"),
                    "text": dom.dig(v, "link", "content"),
                }  # fmt: skip
                for v in (x.get("channelExternalLinkViewModel", {}) for x in about.get("links", []))
                if v
            ],
            created_text=dom.runs_text(about.get("joinedDateText")),
        )
        shown = {
            "followers": next((p for p in parts if "subscriber" in p), None)
            or dom.runs_text(c4.get("subscriberCountText")),
            "posts": next((p for p in parts if re.search(r"\bvideos?\b", p)), None),
        }
        exact = {"followers": about.get("subscriberCountText"), "posts": about.get("videoCountText"),
                 "views": about.get("viewCountText")}  # fmt: skip
        for key in ("followers", "posts", "views"):
            candidates = [dom.runs_text(exact[key]), shown.get(key)]
            best = next(
                (
                    c
                    for c in candidates
                    if c and parse_count(c)[1] and parse_count(c)[0] is not None
                ),
                None,
            )
            set_count(obj, key, best or next((c for c in candidates if c), None))
        return obj

    def _own(self, r: dict[str, Any], profile: dict[str, Any] | None) -> bool:
        base = dom.dig(
            r,
            "shortBylineText",
            "runs",
            0,
            "navigationEndpoint",
            "browseEndpoint",
            "canonicalBaseUrl",
        )
        owner = dom.dig(
            r, "shortBylineText", "runs", 0, "navigationEndpoint", "browseEndpoint", "browseId"
        )
        if not profile:
            return False
        if base and base.startswith("/@"):
            return self.same_handle(base[2:], profile["handle"])
        return not owner or owner == profile.get("id")

    def _grid_video(
        self, snap: PageSnapshot, r: dict[str, Any], profile: dict[str, Any] | None
    ) -> dict[str, Any]:
        obj = self.new_object(
            snap,
            "post",
            self.post_url("", r["videoId"]),
            id=r["videoId"],
            author={
                "handle": profile["handle"],
                "name": profile.get("name"),
                "id": profile.get("id"),
            }
            if profile
            else None,
            title=dom.runs_text(r.get("title")),
            published_text=dom.runs_text(r.get("publishedTimeText")),
        )
        set_count(
            obj,
            "views",
            dom.runs_text(r.get("viewCountText")) or dom.runs_text(r.get("shortViewCountText")),
        )
        return obj

    def _watch(
        self, snap: PageSnapshot, player: dict[str, Any], initial: dict[str, Any], loaded: list[Any]
    ) -> dict[str, Any]:
        details = player["videoDetails"]
        micro = dom.dig(player, "microformat", "playerMicroformatRenderer", default={}) or {}
        vid = details["videoId"]
        owner_url = micro.get("ownerProfileUrl") or ""
        handle = owner_url.rsplit("/@", 1)[1] if "/@" in owner_url else None
        sec = next(dom.walk_json(initial, lambda d: "videoSecondaryInfoRenderer" in d), {}).get(
            "videoSecondaryInfoRenderer", {}
        )
        desc = sec.get("attributedDescription") or {}
        text = desc.get("content") or details.get("shortDescription")
        links, mentions = [], []
        for run in desc.get("commandRuns") or []:
            target = (
                dom.dig(
                    run, "onTap", "innertubeCommand", "commandMetadata", "webCommandMetadata", "url"
                )
                or ""
            )
            shown = _utf16_slice(
                desc.get("content", ""), run.get("startIndex", 0), run.get("length", 0)
            )
            if target.startswith("/@"):
                mentions.append({"handle": target[2:], "url": self.base_url + target})
            elif not target.startswith("/hashtag/"):
                links.append({"url": _unwrap(target) or target, "text": shown})
        fmt = _best_format(player)
        thumb = _largest(dom.dig(details, "thumbnail", "thumbnails"))
        obj = self.new_object(
            snap,
            "post",
            self.post_url("", vid),
            id=vid,
            author={
                "handle": handle or None,
                "name": micro.get("ownerChannelName") or details.get("author"),
                "id": details.get("channelId"),
                "url": f"{self.base_url}/@{handle}" if handle else None,
            },  # fmt: skip
            title=details.get("title"),
            text=text,
            published_at=iso_utc(micro.get("publishDate") or micro.get("uploadDate")),
            hashtags=dom.hashtags_in(text),
            mentions=mentions,
            links=links,
            media=[
                {
                    "kind": "video",
                    "url": fmt.get("url") if fmt else None,
                    "mime": (fmt.get("mimeType") or "").split(";")[0] or None if fmt else None,
                    "poster": thumb,
                    "width": fmt.get("width") if fmt else None,
                    "height": fmt.get("height") if fmt else None,
                    "duration": float(details["lengthSeconds"])
                    if details.get("lengthSeconds")
                    else None,
                }
            ],
        )
        set_count(
            obj,
            "views",
            int(details["viewCount"]) if str(details.get("viewCount", "")).isdigit() else None,
        )
        label = next(
            (
                d["accessibilityText"]
                for d in dom.walk_json(
                    initial,
                    lambda d: "accessibilityText" in d and isinstance(d["accessibilityText"], str),
                )
                if LIKES_LABEL.search(d["accessibilityText"])
            ),
            None,
        )
        if label:
            set_count(obj, "reactions", LIKES_LABEL.search(label).group(1))  # type: ignore[union-attr]
        for d in loaded:
            for h in dom.walk_json(d, lambda x: "commentsHeaderRenderer" in x):
                set_count(
                    obj, "replies", dom.runs_text(dom.dig(h, "commentsHeaderRenderer", "countText"))
                )
        return obj

    def _comment(self, snap: PageSnapshot, c: dict[str, Any], video_id: str) -> dict[str, Any]:
        author = (dom.runs_text(c.get("authorText")) or "").lstrip("@")
        obj = self.new_object(
            snap,
            "post",
            f"{self.post_url('', video_id)}&lc={c['commentId']}",
            id=c["commentId"],
            author={
                "handle": author or None,
                "url": self.base_url + b
                if (b := dom.dig(c, "authorEndpoint", "browseEndpoint", "canonicalBaseUrl"))
                else None,
                "avatar": dom.dig(c, "authorThumbnail", "thumbnails", 0, "url"),
            },  # fmt: skip
            text=dom.runs_text(c.get("contentText")),
            published_text=dom.runs_text(c.get("publishedTimeText")),
            hashtags=dom.hashtags_in(dom.runs_text(c.get("contentText"))),
            reply_to={"id": video_id, "url": self.post_url("", video_id)},
        )
        set_count(obj, "reactions", dom.runs_text(c.get("voteCount")) or None)
        if isinstance(c.get("replyCount"), int):
            set_count(obj, "replies", c["replyCount"])
        return obj

    def _comment_entity(
        self, snap: PageSnapshot, e: dict[str, Any], video_id: str
    ) -> dict[str, Any]:
        """The 2024+ comment shape (commentViewModel + entity payloads)."""
        props = e.get("properties", {})
        author = (dom.dig(e, "author", "displayName") or "").lstrip("@")
        text = dom.dig(props, "content", "content")
        obj = self.new_object(
            snap,
            "post",
            f"{self.post_url('', video_id)}&lc={props.get('commentId')}",
            id=props.get("commentId"),
            author={"handle": author or None, "id": dom.dig(e, "author", "channelId"),
                    "avatar": dom.dig(e, "author", "avatarThumbnailUrl")},  # fmt: skip
            text=text,
            published_text=props.get("publishedTime"),
            hashtags=dom.hashtags_in(text),
            reply_to={"id": video_id, "url": self.post_url("", video_id)},
        )
        set_count(obj, "reactions", dom.dig(e, "toolbar", "likeCountNotliked") or None)
        set_count(obj, "replies", dom.dig(e, "toolbar", "replyCount") or None)
        return obj


def _largest(images: Any) -> str | None:
    if not isinstance(images, list) or not images:
        return None
    return max(images, key=lambda i: (i.get("width") or 0) * (i.get("height") or 0)).get("url")


def _unwrap(url: str | None) -> str | None:
    """youtube.com/redirect?q=TARGET -> TARGET (YouTube wraps every outgoing link)."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.path == "/redirect":
        q = parse_qs(parts.query).get("q")
        return q[0] if q else None
    return url


def _utf16_slice(text: str, start: int, length: int) -> str:
    """InnerTube counts UTF-16 code units."""
    raw = text.encode("utf-16-le")
    return raw[start * 2 : (start + length) * 2].decode("utf-16-le", errors="replace")


def _best_format(player: dict[str, Any]) -> dict[str, Any] | None:
    """The whole video at one URL: a progressive format (video+audio) first, else the largest
    adaptive video stream (its URL without a range parameter gives the whole file)."""
    formats = dom.dig(player, "streamingData", "formats", default=[]) or []
    if formats:
        return max(formats, key=lambda f: f.get("width") or 0)
    adaptive = [
        f for f in dom.dig(player, "streamingData", "adaptiveFormats", default=[]) or []
        if (f.get("mimeType") or "").startswith("video/")
    ]  # fmt: skip
    return max(adaptive, key=lambda f: f.get("width") or 0) if adaptive else None

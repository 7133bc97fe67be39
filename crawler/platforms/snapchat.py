"""Snapchat public profiles (creators, organisations). snapchat.com renders on the server and
embeds the page's data in <script id="__NEXT_DATA__">: the profile (publicProfileInfo), its
public story (story.snapList: every snap up for 24 hours) and its Spotlight videos
(spotlightStoryMetadata); a Spotlight page carries its video metadata and first comments in
pageProps.spotlightFeed, more comments come from /api/spotlight/ID/comments.

Handles: "rijksoverheid", "@rijksoverheid", or a profile URL (/add/NAME or /@NAME). Posts are
Spotlight videos, /spotlight/ID. Story snaps have no page of their own: they are objects of
the profile page (`story: true`, `expires_at` 24 hours after they were posted).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from bewaar.objects import iso_utc
from crawler.platforms import dom
from crawler.platforms.base import Adapter, PageSnapshot

# -- what changes when Snapchat changes its pages ----------------------------------------------
SEL = {
    "name": '[class*="PublicProfileDetailsCard_displayName"]',
    "spotlight": "article.SpotlightPage",
    "comment": ".Comment[data-comment-id]",
}
API = {"comments": r"/api/spotlight/(?P<id>[\w-]+)/comments"}
STORY_LIFETIME = 24 * 3600


class SnapchatAdapter(Adapter):
    platform = "snapchat"
    version = "1.0"
    default_base_url = "https://www.snapchat.com"
    aliases = ("https://snapchat.com", "https://story.snapchat.com")
    profile_path = "/add/{handle}"
    post_path = re.compile(r"^/(?:@(?P<handle>[\w.-]+)/)?spotlight/(?P<id>[\w-]+)/?(?=$|[?#])")
    post_url_path = "/spotlight/{id}"
    more_controls = ("button.ViewMoreComments",)
    login_wall_url = r"/accounts/login"
    login_wall = ("form#login_form", "re:Log in to Snapchat")
    unavailable = ("re:Sorry! We couldn.t find", "re:This content was not found")
    rate_limited = ("re:Too Many Requests",)
    content = {"profile": (SEL["name"],), "post": (SEL["spotlight"],)}
    api_pattern = r"/api/"
    story_lifetime = STORY_LIFETIME
    stories_on_profile = True

    def normalize_handle(self, handle: str) -> str:
        handle = handle.strip()
        if re.match(r"^https?://", handle):
            parts = [p for p in urlsplit(handle).path.split("/") if p]
            if parts and parts[0] == "add" and len(parts) > 1:
                return parts[1]
            return parts[0].lstrip("@") if parts else ""
        return handle.lstrip("@")

    # -- extraction -----------------------------------------------------------------------
    def read(self, snap: PageSnapshot) -> list[dict[str, Any]]:
        soup = dom.parse(snap.html)
        data = dom.script_json(soup, "__NEXT_DATA__") or {}
        props = dom.dig(data, "props", "pageProps", default={}) or {}
        out: list[dict[str, Any]] = []
        info = dom.dig(props, "userProfile", "publicProfileInfo")
        if info and snap.kind == "profile":
            out.append(self._profile(snap, info))
            owner = self._owner(info)
            for snap_item in dom.dig(props, "story", "snapList", default=[]) or []:
                out.append(self._snap(snap, snap_item, owner))
        for meta in props.get("spotlightStoryMetadata") or []:
            out.append(self._spotlight(snap, meta))
        for story in dom.dig(props, "spotlightFeed", "spotlightStories", default=[]) or []:
            post = self._spotlight(snap, story.get("metadata") or {})
            out.append(post)
            out += [self._comment(snap, c, post) for c in story.get("comments") or []]
        for url, body in snap.json_responses(API["comments"]):
            m = re.search(API["comments"], url)
            post = next((o for o in out if m and o["type"] == "post" and o["id"] == m.group("id")), None)
            if post is not None and isinstance(body, dict):
                out += [self._comment(snap, c, post) for c in body.get("comments") or []]
        return out

    def _owner(self, info: dict[str, Any]) -> dict[str, Any]:
        handle = info.get("username")
        return {"handle": handle, "name": info.get("title"),
                "url": f"{self.base_url}/add/{handle}" if handle else None,
                "avatar": info.get("profilePictureUrl")}  # fmt: skip

    def _profile(self, snap: PageSnapshot, info: dict[str, Any]) -> dict[str, Any]:
        count = info.get("subscriberCount")
        return self.new_object(
            snap,
            "profile",
            f"{self.base_url}/add/{info['username']}",
            handle=info["username"],
            name=info.get("title"),
            bio=info.get("bio"),
            avatar=info.get("profilePictureUrl"),
            header=info.get("squareHeroImageUrl"),
            location=info.get("address"),
            links=[{"url": info["websiteUrl"]}] if info.get("websiteUrl") else [],
            counts={"followers": int(count) if str(count or "").isdigit() else None},
        )

    def _snap(self, snap: PageSnapshot, item: dict[str, Any], owner: dict[str, Any]) -> dict[str, Any]:
        """A story snap: posted at timestampInSec, gone 24 hours later."""
        sid = str(dom.dig(item, "snapId", "value") or item.get("snapIndex"))
        posted = dom.dig(item, "timestampInSec", "value")
        urls = item.get("snapUrls") or {}
        video = item.get("snapMediaType") == 1
        media = {"kind": "video" if video else "photo", "url": urls.get("mediaUrl"),
                 "poster": dom.dig(urls, "mediaPreviewUrl", "value") if video else None}  # fmt: skip
        return self.new_object(
            snap,
            "post",
            f"{self.base_url}/add/{owner['handle']}#snap-{sid}",  # snaps live on the profile
            id=sid,
            author=owner,
            text=item.get("snapTitle") or None,
            published_at=iso_utc(posted),
            expires_at=iso_utc(int(posted) + STORY_LIFETIME) if str(posted or "").isdigit() else None,
            story=True,
            media=[media],
        )

    def _spotlight(self, snap: PageSnapshot, meta: dict[str, Any]) -> dict[str, Any]:
        v = meta.get("videoMetadata") or {}
        creator = dom.dig(v, "creator", "personCreator", default={}) or {}
        url = meta.get("url") or ""
        m = self.match_post(url)
        text = v.get("description")
        views = v.get("viewCount")
        duration = v.get("durationMs")
        return self.new_object(
            snap,
            "post",
            url,
            id=m.group("id") if m else url.rstrip("/").split("/")[-1],
            author={"handle": creator.get("username"), "name": creator.get("name"),
                    "url": creator.get("url"), "avatar": creator.get("profilePictureUrl")},  # fmt: skip
            title=v.get("name"),
            text=text,
            published_at=iso_utc(v.get("uploadDateMs")),
            hashtags=dom.hashtags_in(text),
            mentions=[{"handle": h} for h in dom.mentions_in(text)],
            media=[{"kind": "video", "url": v.get("contentUrl"), "mime": "video/mp4",
                    "poster": v.get("thumbnailUrl"), "width": v.get("width"), "height": v.get("height"),
                    "duration": int(duration) / 1000 if str(duration or "").isdigit() else None}],
            counts={"views": int(views) if str(views or "").isdigit() else None,
                    "reposts": int(v["shareCount"]) if str(v.get("shareCount") or "").isdigit() else None},
        )  # fmt: skip

    def _comment(self, snap: PageSnapshot, c: dict[str, Any], post: dict[str, Any]) -> dict[str, Any]:
        who = c.get("username")
        return self.new_object(
            snap,
            "post",
            f"{post['url']}?comment={c['commentId']}",
            id=str(c["commentId"]),
            author={"handle": who, "name": c.get("displayName"),
                    "url": f"{self.base_url}/add/{who}" if who else None,
                    "avatar": c.get("profilePictureUrl")},  # fmt: skip
            text=c.get("text"),
            published_at=iso_utc(c.get("createdTimestampMs")),
            hashtags=dom.hashtags_in(c.get("text")),
            reply_to={"id": post["id"], "url": post["url"], "author": post["author"].get("handle")},
            counts={"reactions": c.get("likeCount")},
        )

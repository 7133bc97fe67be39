"""Instagram. Profiles load from /api/v1/users/web_profile_info/; post pages embed
window._sharedData (entry_data.PostPage[0].graphql.shortcode_media) and load more comments from
/graphql/query/. Both use the GraphQL "edge" shapes, which are the source here.

Handles: "minbzk", "@minbzk" or a profile URL. A post's id is its shortcode (the part of its
URL /p/SHORTCODE/ or /reel/SHORTCODE/), which is stable.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from bewaar.objects import iso_utc
from crawler.platforms import dom
from crawler.platforms.base import Adapter, PageSnapshot

# -- what changes when Instagram changes its pages ----------------------------------------------
API = {
    "profile": r"/api/v1/users/web_profile_info/",
    "graphql": r"/graphql/query",
    "stories": r"/api/v1/feed/reels_media/",
}


class InstagramAdapter(Adapter):
    platform = "instagram"
    version = "1.1"  # 1.1: account photos, actions, stories, follow lists, replies elsewhere (issue 16)
    default_base_url = "https://www.instagram.com"
    profile_path = "/{handle}/"
    post_path = re.compile(
        r"^/(?:(?P<handle>[\w.]+)/)?(?P<kind>p|reel|tv)/(?P<id>[\w-]+)/?(?=$|[?#])"
    )
    post_url_path = "/p/{id}/"
    overlay_close = (
        'div[role="dialog"] button._a9--._ap36._a9_1',  # "Decline optional cookies"
        'div[role="dialog"] div[role="button"]:has(> svg[aria-label="Close"])',
    )
    more_controls = (
        'button:has(svg[aria-label="Load more comments"])',
        'button:has(svg[aria-label="View more comments"])',
    )
    login_wall_url = r"/accounts/login"
    login_wall = ("form#loginForm", 'input[name="username"]')
    unavailable = ("re:Sorry, this page isn.t available",)
    rate_limited = ("re:Please wait a few minutes before you try again",)
    content = {
        "profile": ("main header section",),
        "post": ("main article",),
        "story": ("section.story-viewer",),
    }
    api_pattern = r"/api/v1/|/graphql/query"
    stories_path = "/stories/{handle}/"
    story_path = re.compile(r"^/stories/[\w.]+/(?P<id>\d+)/?$")
    stories_need_login = True

    def canonical_post_url(self, url: str, handle: str | None = None) -> str | None:
        m = self.match_post(url, handle)
        if not m:
            return None
        kind = "p" if m.group("kind") == "tv" else m.group("kind")
        return f"{self.base_for(handle)}/{kind}/{m.group('id')}/"

    # -- extraction -----------------------------------------------------------------------
    def read(self, snap: PageSnapshot) -> list[dict[str, Any]]:
        shared = dom.script_json(dom.parse(snap.html), "_sharedData") or {}
        out: list[dict[str, Any]] = []
        users = [
            dom.dig(p, "graphql", "user")
            for p in dom.dig(shared, "entry_data", "ProfilePage", default=[]) or []
        ]
        for url, data in snap.json_responses(self.api_pattern):
            if re.search(API["profile"], url):
                users.append(dom.dig(data, "data", "user"))
        if snap.kind == "profile":
            for u in filter(None, users):
                out.append(self._user(snap, u))
                edges = dom.dig(u, "edge_owner_to_timeline_media", "edges", default=[]) or []
                out.extend(self._media(snap, e["node"]) for e in edges)
        for _url, data in snap.json_responses(API["stories"]):
            # an item's own page gives that item; the stories page, the whole tray
            item_id = self.story_path.match(urlsplit(snap.final_url or snap.url).path)
            for reel in (dom.dig(data, "reels", default={}) or {}).values():
                out.extend(
                    self._story(snap, item) for item in reel.get("items") or []
                    if not item_id or str(item.get("pk")) == item_id.group("id")
                )
        for page in dom.dig(shared, "entry_data", "PostPage", default=[]) or []:
            node = dom.dig(page, "graphql", "shortcode_media")
            if node:
                post = self._media(snap, node)
                out.append(post)
                out.extend(self._comments(snap, node.get("edge_media_to_parent_comment"), post))
                for _url, data in snap.json_responses(API["graphql"]):
                    more = dom.dig(data, "data", "shortcode_media", "edge_media_to_parent_comment")
                    out.extend(self._comments(snap, more, post))
        return out

    def _story(self, snap: PageSnapshot, item: dict[str, Any]) -> dict[str, Any]:
        """A story item: its own URL, when it was posted and when it expires."""
        user = item.get("user") or {}
        image = (dom.dig(item, "image_versions2", "candidates", default=[]) or [{}])[0]
        video = (item.get("video_versions") or [None])[0]
        media = {"kind": "video", "url": video.get("url"), "poster": image.get("url"),
                 "width": video.get("width"), "height": video.get("height"),
                 "duration": item.get("video_duration")} if video else {
                 "kind": "photo", "url": image.get("url"), "alt": item.get("accessibility_caption"),
                 "width": image.get("width"), "height": image.get("height")}  # fmt: skip
        handle = user.get("username")
        return self.new_object(
            snap,
            "post",
            f"{self.base_url}/stories/{handle}/{item['pk']}/",
            id=str(item["pk"]),
            author={"handle": handle, "id": str(user.get("pk") or "") or None,
                    "url": f"{self.base_url}/{handle}/" if handle else None,
                    "avatar": user.get("profile_pic_url")},  # fmt: skip
            published_at=iso_utc(item.get("taken_at")),
            expires_at=iso_utc(item.get("expiring_at")),
            story=True,
            media=[media],
        )

    def _user(self, snap: PageSnapshot, u: dict[str, Any]) -> dict[str, Any]:
        links = [
            {"url": b["url"], "text": b.get("title") or None}
            for b in u.get("bio_links") or []
            if b.get("url")
        ]
        if not links and u.get("external_url"):
            links = [{"url": u["external_url"]}]
        return self.new_object(
            snap,
            "profile",
            f"{self.base_url}/{u['username']}/",
            id=u.get("id"),
            handle=u["username"],
            name=u.get("full_name"),
            bio=u.get("biography"),
            avatar=u.get("profile_pic_url_hd") or u.get("profile_pic_url"),
            links=links,
            verified=u.get("is_verified"),
            counts={
                "followers": dom.dig(u, "edge_followed_by", "count"),
                "following": dom.dig(u, "edge_follow", "count"),
                "posts": dom.dig(u, "edge_owner_to_timeline_media", "count"),
            },
        )

    def _media(self, snap: PageSnapshot, n: dict[str, Any]) -> dict[str, Any]:
        kids = [
            e["node"] for e in dom.dig(n, "edge_sidecar_to_children", "edges", default=[]) or []
        ] or [n]
        media = []
        for k in kids:
            dims = k.get("dimensions") or {}
            if k.get("is_video"):
                media.append({"kind": "video", "url": k.get("video_url"), "mime": "video/mp4",
                              "poster": k.get("display_url"), "width": dims.get("width"),
                              "height": dims.get("height")})  # fmt: skip
            else:
                media.append({"kind": "photo", "url": k.get("display_url"), "alt": k.get("accessibility_caption"),
                              "width": dims.get("width"), "height": dims.get("height")})  # fmt: skip
        text = dom.dig(n, "edge_media_to_caption", "edges", 0, "node", "text")
        loc = n.get("location") or {}
        owner = n.get("owner") or {}
        kind = "reel" if n.get("is_video") else "p"
        comments = n.get("edge_media_to_parent_comment") or n.get("edge_media_to_comment") or {}
        return self.new_object(
            snap,
            "post",
            f"{self.base_url}/{kind}/{n['shortcode']}/",
            id=n["shortcode"],
            author={
                "handle": owner.get("username"),
                "id": owner.get("id"),
                "url": f"{self.base_url}/{owner['username']}/" if owner.get("username") else None,
                "avatar": owner.get("profile_pic_url"),
            },  # fmt: skip
            text=text,
            published_at=iso_utc(n.get("taken_at_timestamp")),
            hashtags=dom.hashtags_in(text),
            mentions=[{"handle": h, "url": f"{self.base_url}/{h}/"} for h in dom.mentions_in(text)],
            media=media,
            location={
                "name": loc["name"],
                "url": f"{self.base_url}/explore/locations/{loc['id']}/{loc.get('slug', '')}/",
            }
            if loc.get("name")
            else None,
            counts={
                "reactions": dom.dig(n, "edge_liked_by", "count")
                or dom.dig(n, "edge_media_preview_like", "count"),
                "replies": comments.get("count"),
                "views": n.get("video_view_count"),
            },
        )

    def _comments(
        self, snap: PageSnapshot, edges: dict[str, Any] | None, post: dict[str, Any]
    ) -> list[dict[str, Any]]:
        out = []
        for e in (edges or {}).get("edges") or []:
            c = e["node"]
            owner = c.get("owner") or {}
            out.append(
                self.new_object(
                    snap,
                    "post",
                    post["url"],  # comments have no URL of their own
                    id=str(c["id"]),
                    author={
                        "handle": owner.get("username"),
                        "id": owner.get("id"),
                        "url": f"{self.base_url}/{owner['username']}/"
                        if owner.get("username")
                        else None,
                        "avatar": owner.get("profile_pic_url"),
                    },  # fmt: skip
                    text=c.get("text"),
                    published_at=iso_utc(c.get("created_at")),
                    hashtags=dom.hashtags_in(c.get("text")),
                    mentions=[{"handle": h} for h in dom.mentions_in(c.get("text"))],
                    reply_to={
                        "id": post["id"],
                        "url": post["url"],
                        "author": post["author"].get("handle"),
                    },
                    counts={
                        "reactions": dom.dig(c, "edge_liked_by", "count"),
                        "replies": dom.dig(c, "edge_threaded_comments", "count"),
                    },  # fmt: skip
                )
            )
        return out

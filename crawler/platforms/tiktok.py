"""TikTok. Pages carry their data in the rehydration JSON
(<script id="__UNIVERSAL_DATA_FOR_REHYDRATION__">) and load the video grid and comments from
/api/post/item_list/ and /api/comment/list/; that JSON (exact counts, Unix times) is the source.

Handles: "@rijksoverheid", "rijksoverheid" or a profile URL; posts are /@HANDLE/video/ID or
/@HANDLE/photo/ID (photo mode).
"""

from __future__ import annotations

import re
from typing import Any

from bewaar.objects import iso_utc
from crawler.platforms import dom
from crawler.platforms.base import Adapter, Block, PageSnapshot

# -- what changes when TikTok changes its pages ------------------------------------------------
REHYDRATION = "__UNIVERSAL_DATA_FOR_REHYDRATION__"
SCOPES = {"profile": "webapp.user-detail", "post": "webapp.video-detail"}
API = {"items": r"/api/(post|favorite|repost)/item_list/", "comments": r"/api/comment/list/"}
STATUS_WORDS = {10204: "video unavailable", 10221: "account not found", 10222: "private account",
                10216: "video is private"}  # fmt: skip


class TikTokAdapter(Adapter):
    platform = "tiktok"
    version = "1.1"  # 1.1: account photos, actions, stories, follow lists, replies elsewhere (issue 16)
    default_base_url = "https://www.tiktok.com"
    aliases = ("https://m.tiktok.com",)
    profile_path = "/@{handle}"
    post_path = re.compile(r"^/@(?P<handle>[\w.-]+)/(?P<kind>video|photo)/(?P<id>\d+)(?=$|[/?])")
    post_url_path = "/@{handle}/video/{id}"  # TikTok redirects /video/ID of a photo post
    overlay_close = ('[data-e2e="modal-close-inner-button"]',)
    overlay_remove = ("tiktok-cookie-banner",)  # its buttons live in a shadow root
    more_controls = ('p[data-e2e="view-more-1"]', 'p[data-e2e="view-more-2"]')
    login_wall = ("#loginContainer", "re:Log in to TikTok")
    unavailable = (
        "re:Video currently unavailable",
        "re:Couldn.t find this account",
        "re:This account is private",
    )
    rate_limited = ("#captcha-verify-container", "re:Drag the slider to fit the puzzle")
    content = {"profile": ('[data-e2e="user-title"]',), "post": ('[data-e2e="browse-video-desc"]',)}
    api_pattern = r"/api/"

    def canonical_post_url(self, url: str, handle: str | None = None) -> str | None:
        m = self.match_post(url, handle)
        if not m:
            return None
        return f"{self.base_for(handle)}/@{m.group('handle')}/{m.group('kind')}/{m.group('id')}"

    def _scope(self, snap: PageSnapshot) -> dict[str, Any]:
        data = dom.script_json(dom.parse(snap.html), REHYDRATION)
        return dom.dig(data, "__DEFAULT_SCOPE__", default={}) or {}

    def detect_block(self, snap: PageSnapshot) -> Block | None:
        block = super().detect_block(snap)
        if block and block.kind == "rate_limited":
            return block
        scope = self._scope(snap).get(SCOPES.get(snap.kind, ""), {})
        code = scope.get("statusCode")
        if isinstance(code, int) and code != 0:
            words = STATUS_WORDS.get(code, scope.get("statusMsg") or "unknown")
            return Block("unavailable", f"TikTok status {code}: {words}")
        return block

    # -- extraction -----------------------------------------------------------------------
    def read(self, snap: PageSnapshot) -> list[dict[str, Any]]:
        scope = self._scope(snap)
        out: list[dict[str, Any]] = []
        info = dom.dig(scope, SCOPES["profile"], "userInfo")
        if snap.kind == "profile" and info:
            out.append(self._user(snap, info))
        item = dom.dig(scope, SCOPES["post"], "itemInfo", "itemStruct")
        if item:
            out.append(self._item(snap, item))
        for url, data in snap.json_responses(self.api_pattern):
            if re.search(API["items"], url):
                out.extend(self._item(snap, i) for i in data.get("itemList") or [])
            elif re.search(API["comments"], url) and item:
                out.extend(self._comment(snap, c, item) for c in data.get("comments") or [])
        return out

    def _user(self, snap: PageSnapshot, info: dict[str, Any]) -> dict[str, Any]:
        u, s = info.get("user", {}), info.get("stats", {})
        link = dom.dig(u, "bioLink", "link")
        return self.new_object(
            snap,
            "profile",
            f"{self.base_url}/@{u['uniqueId']}",
            id=u.get("id"),
            handle=u["uniqueId"],
            name=u.get("nickname"),
            bio=u.get("signature"),
            avatar=u.get("avatarLarger") or u.get("avatarMedium"),
            links=[{"url": link}] if link else [],
            verified=u.get("verified"),
            counts={
                "followers": s.get("followerCount"),
                "following": s.get("followingCount"),
                "likes": s.get("heartCount", s.get("heart")),
                "posts": s.get("videoCount"),
            },
        )

    def _item(self, snap: PageSnapshot, it: dict[str, Any]) -> dict[str, Any]:
        author = it.get("author") or {}
        handle = author.get("uniqueId") if isinstance(author, dict) else author
        stats = {**(it.get("stats") or {}), **{k: int(v) for k, v in (it.get("statsV2") or {}).items()
                                                  if str(v).isdigit()}}  # fmt: skip
        v = it.get("video") or {}
        if it.get("imagePost"):
            media = [
                {
                    "kind": "photo",
                    "url": dom.dig(i, "imageURL", "urlList", 0),
                    "width": i.get("imageWidth"),
                    "height": i.get("imageHeight"),
                }  # fmt: skip
                for i in it["imagePost"].get("images", [])
            ]
            kind = "photo"
        else:
            media = [
                {
                    "kind": "video",
                    "url": v.get("playAddr") or v.get("downloadAddr"),
                    "mime": "video/mp4",
                    "poster": v.get("cover"),
                    "width": v.get("width"),
                    "height": v.get("height"),
                    "duration": float(v["duration"]) if v.get("duration") else None,
                }  # fmt: skip
            ]
            kind = "video"
        poi = it.get("poi") or {}
        text = it.get("desc")
        return self.new_object(
            snap,
            "post",
            f"{self.base_url}/@{handle}/{kind}/{it['id']}",
            id=it["id"],
            author={
                "handle": handle,
                "name": author.get("nickname"),
                "id": author.get("id"),
                "url": f"{self.base_url}/@{handle}",
                "avatar": author.get("avatarThumb") or author.get("avatarMedium"),
            },  # fmt: skip
            text=text,
            published_at=iso_utc(it.get("createTime")),
            hashtags=dom.hashtags_in(text) or [c["title"] for c in it.get("challenges") or []],
            mentions=[
                {"handle": e["userUniqueId"], "url": f"{self.base_url}/@{e['userUniqueId']}"}
                for e in it.get("textExtra") or []
                if e.get("userUniqueId")
            ],
            media=media,
            location={
                "name": poi["name"],
                "url": f"{self.base_url}/place/{poi['id']}" if poi.get("id") else None,
            }
            if poi.get("name")
            else None,
            counts={
                "reactions": stats.get("diggCount"),
                "reposts": stats.get("shareCount"),
                "replies": stats.get("commentCount"),
                "views": stats.get("playCount"),
            },
        )

    def _comment(
        self, snap: PageSnapshot, c: dict[str, Any], item: dict[str, Any]
    ) -> dict[str, Any]:
        user = c.get("user") or {}
        owner = dom.dig(item, "author", "uniqueId")
        kind = "photo" if item.get("imagePost") else "video"
        post_url = f"{self.base_url}/@{owner}/{kind}/{item['id']}"
        return self.new_object(
            snap,
            "post",
            post_url,  # comments have no URL of their own
            id=str(c["cid"]),
            author={
                "handle": user.get("unique_id"),
                "name": user.get("nickname"),
                "id": user.get("uid"),
                "url": f"{self.base_url}/@{user['unique_id']}" if user.get("unique_id") else None,
                "avatar": (dom.dig(user, "avatar_thumb", "url_list") or [None])[0],
            },  # fmt: skip
            text=c.get("text"),
            published_at=iso_utc(c.get("create_time")),
            hashtags=dom.hashtags_in(c.get("text")),
            mentions=[{"handle": h} for h in dom.mentions_in(c.get("text"))],  # as shown
            reply_to={
                "id": str(c.get("reply_id") or item["id"])
                if c.get("reply_id") not in (None, "0")
                else item["id"],
                "url": post_url,
            },  # fmt: skip
            counts={"reactions": c.get("digg_count"), "replies": c.get("reply_comment_total")},
        )

"""X (formerly Twitter). The web app renders from its GraphQL API (UserByScreenName,
UserTweets, TweetDetail); that JSON has exact counts, ISO-convertible dates and expanded links,
so it is the primary source. The rendered articles are the fallback.

Handles: "MinBZK", "@MinBZK" or a profile URL; posts are /HANDLE/status/ID.
"""

from __future__ import annotations

import html
import re
from typing import Any

from bs4 import Tag

from bewaar.objects import iso_utc, set_count
from crawler.platforms import dom
from crawler.platforms.base import Adapter, PageSnapshot

# -- what changes when X changes its pages -----------------------------------------------------
SEL = {
    "tweet": 'article[data-testid="tweet"]',
    "user_name": '[data-testid="User-Name"]',
    "text": '[data-testid="tweetText"]',
    "photo": '[data-testid="tweetPhoto"] img',
    "video": '[data-testid="videoPlayer"] video',
    "pinned": '[data-testid="socialContext"]',
    "profile_name": '[data-testid="UserName"]',
    "bio": '[data-testid="UserDescription"]',
    "location": '[data-testid="UserLocation"]',
    "url": 'a[data-testid="UserUrl"]',
    "joined": '[data-testid="UserJoinDate"]',
}
COUNT_LINKS = {"following": ("/following",), "followers": ("/verified_followers", "/followers")}
COUNT_BUTTONS = {"reply": "replies", "retweet": "reposts", "like": "reactions"}
NO_TEXT = frozenset()  # tweet text is pre-wrap with inline <div>s around mentions


class XAdapter(Adapter):
    platform = "x"
    version = "1.1"  # 1.1: account photos, actions, stories, follow lists, replies elsewhere (issue 16)
    default_base_url = "https://x.com"
    aliases = ("https://twitter.com", "https://mobile.twitter.com", "https://mobile.x.com")
    profile_path = "/{handle}"
    post_path = re.compile(r"^/(?P<handle>\w{1,15})/status/(?P<id>\d+)(?=$|[/?])")
    post_url_path = "/{handle}/status/{id}"
    overlay_close = ('[data-testid="sheetDialog"] [data-testid="app-bar-close"]',)
    overlay_remove = ('[data-testid="BottomBar"]', '[data-testid="mask"]')
    # The "Show more replies" / "Show probable spam" cursor cells of a conversation.
    more_controls = ('div[data-testid="cellInnerDiv"] > div > div[role="button"]',)
    login_wall_url = r"/i/flow/login|/login(\?|$)"
    login_wall = ('input[autocomplete="username"]', "re:Sign in to X|Log in to X")
    unavailable = (
        '[data-testid="error-detail"]',
        "re:this page doesn.t exist",
        "re:This (Post|Tweet) (is unavailable|was deleted)",
        "re:Account suspended",
        "re:These (posts|Tweets) are protected",
    )
    rate_limited = ("re:Rate limit exceeded",)
    content = {
        "profile": ('[data-testid="UserName"]',),
        "post": (SEL["tweet"],),
        "context": (SEL["tweet"],),
        "timeline": ('[data-testid="UserName"]', '[data-testid="searchResults"]'),
        "received": ('[data-testid="searchResults"]', SEL["tweet"]),
    }
    api_pattern = r"/i/api/(graphql|1\.1|2)/"
    replies_path = "/{handle}/with_replies"
    # X's search shows posts mentioning the account, and its older posts by date, to
    # logged-in visitors only
    received_paths = ("/search?q=%40{handle}&src=typed_query&f=live",)
    received_needs_login = True
    backfill_path = "/search?q=from%3A{handle}%20until%3A{until}&src=typed_query&f=live"

    # -- extraction -----------------------------------------------------------------------
    def read(self, snap: PageSnapshot) -> list[dict[str, Any]]:
        """GraphQL JSON first; the DOM fills what the JSON lacks (extract() merges by id)."""
        return self._from_json(snap) + self._from_dom(snap)

    def _from_json(self, snap: PageSnapshot) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for _url, data in snap.json_responses(r"/i/api/graphql/"):
            pinned = {
                dom.dig(i, "entry", "content", "itemContent", "tweet_results", "result", "rest_id")
                for i in dom.walk_json(data, lambda d: d.get("type") == "TimelinePinEntry")
            }
            for t in dom.walk_json(data, _is_tweet):
                out.append(self._tweet(snap, t, t.get("rest_id") in pinned or None))
            if snap.kind == "profile":
                for u in dom.walk_json(data, _is_user):
                    legacy = u.get("legacy", {})
                    name = legacy.get("screen_name") or dom.dig(u, "core", "screen_name")
                    if name and snap.handle and self.same_handle(name, snap.handle):
                        out.append(self._user(snap, u))
        return out

    def _user(self, snap: PageSnapshot, u: dict[str, Any]) -> dict[str, Any]:
        legacy, core = u.get("legacy", {}), u.get("core", {})
        handle = legacy.get("screen_name") or core.get("screen_name")
        bio = _expand(legacy.get("description"), dom.dig(legacy, "entities", "description", "urls"))
        links = [
            {"url": x.get("expanded_url") or x["url"], "text": x.get("display_url")}
            for x in dom.dig(legacy, "entities", "url", "urls", default=[]) or []
        ]
        avatar = legacy.get("profile_image_url_https") or dom.dig(u, "avatar", "image_url")
        return self.new_object(
            snap,
            "profile",
            f"{self.base_url}/{handle}",
            id=u.get("rest_id"),
            handle=handle,
            name=legacy.get("name") or core.get("name"),
            bio=bio,
            avatar=avatar.replace("_normal.", "_400x400.") if avatar else None,  # the size shown
            header=legacy.get("profile_banner_url"),
            location=legacy.get("location") or dom.dig(u, "location", "location"),
            links=links,
            created_at=iso_utc(legacy.get("created_at") or core.get("created_at")),
            verified=bool(u.get("is_blue_verified") or legacy.get("verified")),
            counts={
                "posts": legacy.get("statuses_count"),
                "followers": legacy.get("followers_count"),
                "following": legacy.get("friends_count"),
            },
        )

    def _tweet(self, snap: PageSnapshot, t: dict[str, Any], pinned: bool | None) -> dict[str, Any]:
        t = t.get("tweet", t)  # TweetWithVisibilityResults wraps the tweet
        legacy = t["legacy"]
        user = dom.dig(t, "core", "user_results", "result", default={}) or {}
        handle = dom.dig(user, "legacy", "screen_name") or dom.dig(user, "core", "screen_name")
        name = dom.dig(user, "legacy", "name") or dom.dig(user, "core", "name")
        note = dom.dig(t, "note_tweet", "note_tweet_results", "result")
        if note and note.get("text"):
            text = _expand(note["text"], dom.dig(note, "entity_set", "urls"))
        else:
            full = legacy.get("full_text", "")
            lo, hi = (legacy.get("display_text_range") or [0, len(full)])[:2]
            text = _expand(full[lo:hi], dom.dig(legacy, "entities", "urls"))
        media = []
        for m in dom.dig(legacy, "extended_entities", "media", default=[]) or []:
            info = m.get("original_info") or {}
            if m.get("type") == "photo":
                media.append({"kind": "photo", "url": m.get("media_url_https"),
                              "alt": m.get("ext_alt_text"), "width": info.get("width"),
                              "height": info.get("height")})  # fmt: skip
                continue
            variants = [v for v in dom.dig(m, "video_info", "variants", default=[]) or []
                        if v.get("content_type") == "video/mp4"]  # fmt: skip
            best = max(variants, key=lambda v: v.get("bitrate") or 0, default=None)
            ms = dom.dig(m, "video_info", "duration_millis")
            media.append(
                {
                    "kind": "gif" if m.get("type") == "animated_gif" else "video",
                    "url": best["url"] if best else None,
                    "mime": "video/mp4" if best else None,
                    "poster": m.get("media_url_https"),
                    "width": info.get("width"),
                    "height": info.get("height"),
                    "duration": ms / 1000 if ms else None,
                }
            )
        views = dom.dig(t, "views", "count")
        quoted = dom.dig(t, "quoted_status_result", "result")
        retweeted = dom.dig(legacy, "retweeted_status_result", "result")
        reply_id = legacy.get("in_reply_to_status_id_str")
        reply_user = legacy.get("in_reply_to_screen_name")
        return self.new_object(
            snap,
            "post",
            f"{self.base_url}/{handle}/status/{t['rest_id']}",
            id=t["rest_id"],
            author={
                "handle": handle,
                "name": name,
                "id": user.get("rest_id"),
                "url": f"{self.base_url}/{handle}" if handle else None,
                "avatar": dom.dig(user, "legacy", "profile_image_url_https")
                or dom.dig(user, "avatar", "image_url"),
            },  # fmt: skip
            text=text,
            language=legacy.get("lang"),
            published_at=iso_utc(legacy.get("created_at")),
            hashtags=dom.hashtags_in(text),
            mentions=[
                {
                    "handle": m["screen_name"],
                    "name": m.get("name"),
                    "id": m.get("id_str"),
                    "url": f"{self.base_url}/{m['screen_name']}",
                }  # fmt: skip
                for m in dom.dig(legacy, "entities", "user_mentions", default=[]) or []
            ],
            links=[
                {"url": u.get("expanded_url") or u["url"], "text": u.get("display_url")}
                for u in dom.dig(legacy, "entities", "urls", default=[]) or []
            ],
            linked_posts=[_ref(self, quoted)] if quoted and quoted.get("rest_id") else [],
            media=media,
            reply_to={
                "id": reply_id,
                "author": reply_user,
                "url": f"{self.base_url}/{reply_user}/status/{reply_id}" if reply_user else None,
            }
            if reply_id
            else None,  # fmt: skip
            repost_of=_ref(self, retweeted) if retweeted and retweeted.get("rest_id") else None,
            pinned=pinned,
            counts={
                "reactions": legacy.get("favorite_count"),
                "reposts": legacy.get("retweet_count"),
                "replies": legacy.get("reply_count"),
                "quotes": legacy.get("quote_count"),
                "views": int(views) if views and str(views).isdigit() else None,
            },
        )

    # -- DOM fallback -----------------------------------------------------------------------
    def _from_dom(self, snap: PageSnapshot) -> list[dict[str, Any]]:
        soup = dom.parse(snap.html)
        base = snap.final_url or snap.url
        out: list[dict[str, Any]] = []
        name_box = soup.select_one(SEL["profile_name"])
        if name_box is not None and snap.kind == "profile":
            spans = [dom.text_of(s, NO_TEXT) for s in name_box.find_all("span")]
            handle = next((s[1:] for s in spans if s and s.startswith("@")), None)
            if handle:
                url_link = soup.select_one(SEL["url"])
                obj = self.new_object(
                    snap,
                    "profile",
                    f"{self.base_url}/{handle}",
                    handle=handle,
                    name=spans[0] if spans else None,
                    bio=dom.text_of(soup.select_one(SEL["bio"]), NO_TEXT),
                    location=dom.text_of(soup.select_one(SEL["location"])),
                    links=[{"url": dom.attr(url_link, "href"), "text": dom.text_of(url_link)}]
                    if url_link is not None
                    else [],
                    avatar=dom.absolute(
                        base, dom.attr(soup.select_one(f'a[href$="/{handle}/photo"] img'), "src")
                    ),
                    header=dom.absolute(
                        base,
                        dom.attr(soup.select_one(f'a[href$="/{handle}/header_photo"] img'), "src"),
                    ),
                    created_text=dom.text_of(soup.select_one(SEL["joined"])),
                )
                for key, suffixes in COUNT_LINKS.items():
                    for suffix in suffixes:
                        a = soup.select_one(f'a[href$="/{handle}{suffix}"]')
                        if a is not None:
                            set_count(obj, key, dom.text_of(a.find("span")))
                            break
                posts = soup.find(string=re.compile(r"^[\d.,]+[KMB]? posts$"))
                if posts:
                    set_count(obj, "posts", str(posts))
                out.append(obj)
        for art in soup.select(SEL["tweet"]):
            obj = self._dom_tweet(snap, art, base)
            if obj:
                out.append(obj)
        return out

    def _dom_tweet(self, snap: PageSnapshot, art: Tag, base: str) -> dict[str, Any] | None:
        time = art.select_one(f'{SEL["user_name"]} a[href*="/status/"] time') or art.find("time")
        link = time.find_parent("a") if time is not None else None
        url = dom.absolute(base, dom.attr(link, "href"))
        m = self.match_post(url or "")
        if not m:
            return None
        text_el = art.select_one(SEL["text"])
        if text_el is not None:
            for ell in text_el.select('a span[aria-hidden="true"]'):
                if ell.get_text() == "…":
                    ell.decompose()
        text = dom.text_of(text_el, NO_TEXT)
        name = art.select_one(f"{SEL['user_name']} a span")
        media: list[dict[str, Any]] = [
            {
                "kind": "photo",
                "url": dom.absolute(base, dom.attr(img, "src")),
                "alt": dom.attr(img, "alt"),
            }
            for img in art.select(SEL["photo"])
        ]
        for v in art.select(SEL["video"]):
            src = dom.attr(v, "src") or dom.attr(v.find("source"), "src")
            gif = v.get("loop") is not None or "GIF" in (v.parent.get_text() if v.parent else "")
            media.append({"kind": "gif" if gif else "video", "url": dom.absolute(base, src),
                          "poster": dom.absolute(base, dom.attr(v, "poster"))})  # fmt: skip
        links = []
        mentions = []
        for a in text_el.find_all("a", href=True) if text_el is not None else []:
            href = dom.attr(a, "href") or ""
            shown = dom.text_of(a, NO_TEXT) or ""
            if shown.startswith("@"):
                mentions.append({"handle": shown[1:], "url": dom.absolute(base, href)})
            elif not shown.startswith("#"):
                links.append({"url": shown if shown.startswith("http") else href, "text": shown})
        avatar = art.select_one('[data-testid="Tweet-User-Avatar"] img')
        obj = self.new_object(
            snap,
            "post",
            self.post_url(m.group("handle"), m.group("id")),
            id=m.group("id"),
            author={"handle": m.group("handle"), "name": dom.text_of(name, NO_TEXT),
                    "avatar": dom.absolute(base, dom.attr(avatar, "src"))},  # fmt: skip
            actions=[
                (dom.attr(b, "aria-label") or "").rstrip(".").split(". ")[-1].lower()
                for b in art.select('[role="group"] [data-testid][aria-label]')
            ],
            text=text,
            language=dom.attr(text_el, "lang"),
            published_at=iso_utc(dom.attr(time, "datetime")),
            hashtags=dom.hashtags_in(text),
            mentions=mentions,
            links=links,
            media=media,
            pinned=True if art.select_one(SEL["pinned"]) is not None else None,
        )
        for testid, key in COUNT_BUTTONS.items():
            label = dom.attr(art.select_one(f'[data-testid="{testid}"]'), "aria-label")
            set_count(obj, key, label.split(".")[0] if label else None)
        views = dom.attr(art.select_one('a[href$="/analytics"]'), "aria-label")
        set_count(obj, "views", views.split(".")[0] if views else None)
        return obj


def _is_tweet(d: dict[str, Any]) -> bool:
    if d.get("__typename") == "TweetWithVisibilityResults":
        return True
    return d.get("__typename") == "Tweet" and "legacy" in d and "rest_id" in d


def _is_user(d: dict[str, Any]) -> bool:
    return d.get("__typename") == "User" and ("legacy" in d or "core" in d)


def _expand(text: str | None, urls: list[dict[str, Any]] | None) -> str | None:
    """X's stored text: t.co links replaced by where they go, HTML entities decoded."""
    if text is None:
        return None
    for u in urls or []:
        if u.get("url") and u.get("expanded_url"):
            text = text.replace(u["url"], u["expanded_url"])
    return html.unescape(text).strip()


def _ref(adapter: XAdapter, t: dict[str, Any]) -> dict[str, Any]:
    t = t.get("tweet", t)
    handle = dom.dig(t, "core", "user_results", "result", "legacy", "screen_name") or dom.dig(
        t, "core", "user_results", "result", "core", "screen_name"
    )
    return {"id": t["rest_id"], "author": handle,
            "url": f"{adapter.base_url}/{handle}/status/{t['rest_id']}" if handle else None}  # fmt: skip

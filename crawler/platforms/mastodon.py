"""Mastodon (and compatible servers): the web app renders from the public REST API, so the
API's JSON (https://docs.joinmastodon.org/entities/) is the primary source; the rendered DOM
is the fallback.

Handles: "@user@server" (the account's home server gives the URL) or "user" with a base_url.
A seed's base_url is the account's own server (a private or government instance, a test).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from bewaar.objects import iso_utc, set_count
from crawler.platforms import dom
from crawler.platforms.base import Adapter, PageSnapshot

# -- what changes when Mastodon changes its pages --------------------------------------------
API = {
    "account": r"/api/v1/accounts/(lookup\?|\d+(\?|$))",
    "statuses": r"/api/v1/accounts/\d+/statuses",
    "status": r"/api/v1/statuses/\d+(\?|$)",
    "context": r"/api/v1/statuses/\d+/context",
    "follows": r"/api/v1/accounts/\d+/(?P<rel>followers|following)",
}
SEL = {
    "header": ".account__header",
    "name": ".account__header__tabs__name h1 > span",
    "bio": ".account__header__content",
    "fields": ".account__header__fields dl",
    "avatar": ".account__header .account__avatar img",
    "header_img": ".account__header__image img",
    "count_links": ".account__header__extra__links a",
    "status": ".status[data-id], .detailed-status[data-id]",
    "status_text": ".status__content__text",
    "status_time": "a.status__relative-time, a.detailed-status__datetime",
    "status_account": ".display-name__account",
    "status_name": ".display-name__html",
    "status_avatar": ".status__avatar img, .account__avatar img",
    "actions": ".status__action-bar button[aria-label]",
}
RELATIONS = {"followers": "follower", "following": "following"}
MEDIA_KINDS = {"image": "photo", "gifv": "gif", "video": "video", "audio": "audio"}
LOCATION_FIELDS = re.compile(r"^(location|locatie|plaats|standort|lieu|ubicación|city|stad)$", re.I)
COUNT_WORDS = {
    "posts": "posts",
    "toots": "posts",
    "following": "following",
    "followers": "followers",
}


class MastodonAdapter(Adapter):
    platform = "mastodon"
    version = "1.1"  # 1.1: account photos, actions, stories, follow lists, replies elsewhere (issue 16)
    profile_path = "/@{handle}"
    post_path = re.compile(r"^/@(?P<handle>[\w.]+(?:@[\w.-]+)?)/(?P<id>\d+)(?=$|[/?])")
    post_url_path = "/@{handle}/{id}"
    # Content warnings, collapsed long posts and "load more" in threads and timelines.
    more_controls = (
        'button.status__content__spoiler-link[aria-expanded="false"]',
        "button.status__content__read-more-button",
        "button.load-more",
        "button.load-gap",
    )
    login_wall = ("form#new_user", "re:This API requires an authenticated user")
    unavailable = (
        "re:The page you are looking for isn't here",
        "re:This (post|profile|account) (is|has been) (unavailable|suspended|removed)",
    )
    rate_limited = ("re:Too many requests",)
    content = {
        "profile": (SEL["header"],),
        "timeline": (SEL["header"],),
        "follows": (SEL["header"],),
        "post": (".detailed-status[data-id]",),
        "context": (".detailed-status[data-id]",),
    }
    api_pattern = r"/api/v[12]/"
    replies_path = "/@{handle}/with_replies"
    follow_paths = {"follower": "/@{handle}/followers", "following": "/@{handle}/following"}
    # Mastodon shows mentions only in the account's own notifications: no public page
    stories_path = ""

    # -- URLs ---------------------------------------------------------------------------
    def split(self, handle: str) -> tuple[str, str | None]:
        """("user", "server" or None) from "@user@server", "user@server", "user" or a URL."""
        handle = handle.strip()
        if re.match(r"^https?://", handle):
            parts = urlsplit(handle)
            user = parts.path.strip("/").split("/")[0].lstrip("@")
            return (user.split("@")[0], user.split("@")[1] if "@" in user else parts.netloc)
        handle = handle.lstrip("@")
        user, _, server = handle.partition("@")
        return user, server or None

    def normalize_handle(self, handle: str) -> str:
        """The URL form on the account's own server: the user name."""
        return self.split(handle)[0]

    def account_key(self, handle: str) -> str:
        user, server = self.split(handle)
        return f"{user}@{server or urlsplit(self.base_url).netloc}"

    def base_for(self, handle: str | None = None) -> str:
        if self.base_url or not handle:
            return self.base_url
        server = self.split(handle)[1]
        return f"https://{server}" if server else ""

    def match_post(self, url: str, handle: str | None = None) -> re.Match[str] | None:
        """Without a base_url, a post lives on the handle's server (or, with no handle, on
        whatever server the link points to: Mastodon URLs look alike everywhere)."""
        if self.base_url or (handle and self.split(handle)[1]):
            return super().match_post(url, handle)
        parts = urlsplit(url.split("#", 1)[0])
        rest = parts.path + (f"?{parts.query}" if parts.query else "")
        return self.post_path.match(rest) if parts.scheme in ("http", "https") else None

    def canonical_post_url(self, url: str, handle: str | None = None) -> str | None:
        m = self.match_post(url, handle)
        if not m:
            return None
        origin = self.base_for(handle) or "{0.scheme}://{0.netloc}".format(urlsplit(url))
        return f"{origin}/@{m.group('handle')}/{m.group('id')}"

    def same_handle(self, a: str, b: str) -> bool:
        (ua, sa), (ub, sb) = self.split(a), self.split(b)
        return ua.lower() == ub.lower() and (not sa or not sb or sa.lower() == sb.lower())

    def full_handle(self, acct: str, snap: PageSnapshot) -> str:
        """user@server for every account, so local and remote accounts read alike."""
        user, server = self.split(acct)
        return f"{user}@{server or self.domain(snap)}"

    def domain(self, snap: PageSnapshot) -> str:
        if snap.handle and self.split(snap.handle)[1]:
            return self.split(snap.handle)[1] or ""
        state = dom.script_json(dom.parse(snap.html), "initial-state")
        found = dom.dig(state, "meta", "domain")
        return found or urlsplit(self.base_url or snap.final_url).netloc

    def post_resources(self, post_url: str) -> list[str]:
        """The status and its context (ancestors, replies) as JSON, as the web app loads them."""
        m = self.match_post(post_url)
        if not m:
            return []
        origin = post_url[: post_url.index(m.group(0))]
        return [
            f"{origin}/api/v1/statuses/{m.group('id')}",
            f"{origin}/api/v1/statuses/{m.group('id')}/context",
        ]

    # -- extraction -----------------------------------------------------------------------
    def read(self, snap: PageSnapshot) -> list[dict[str, Any]]:
        """API JSON first; the DOM fills what the JSON lacks (extract() merges by id)."""
        return self._from_api(snap) + self._from_dom(snap)

    def _from_api(self, snap: PageSnapshot) -> list[dict[str, Any]]:
        objs: list[dict[str, Any]] = []
        statuses: list[tuple[dict[str, Any], bool | None]] = []
        relations: list[dict[str, Any]] = []
        for url, data in snap.json_responses(self.api_pattern):
            follows = re.search(API["follows"], url)
            if follows and isinstance(data, list):
                relations += [
                    {"type": RELATIONS[follows.group("rel")], "account": self._ref(a, snap)}
                    for a in data if isinstance(a, dict) and a.get("acct")
                ]  # fmt: skip
            elif re.search(API["context"], url) and isinstance(data, dict):
                for s in data.get("ancestors", []) + data.get("descendants", []):
                    statuses.append((s, None))
            elif re.search(API["statuses"], url) and isinstance(data, list):
                pinned = True if "pinned=true" in url else None
                statuses.extend((s, pinned) for s in data if isinstance(s, dict))
            elif re.search(API["status"], url) and isinstance(data, dict) and "content" in data:
                statuses.append((data, None))
            elif (
                re.search(API["account"], url)
                and isinstance(data, dict)
                and "acct" in data
                and snap.kind == "profile"
            ):
                objs.append(self._profile(snap, data))
        if relations and snap.handle:
            objs.append(self.new_object(
                snap, "profile", self.profile_url(snap.handle),
                handle=self.full_handle(snap.handle, snap), relations=relations,
            ))  # fmt: skip
        by_id = {s["id"]: s for s, _ in statuses if "id" in s}
        for s, pinned in statuses:
            objs.append(self._post(snap, s, pinned, by_id))
            if s.get("reblog"):
                objs.append(self._post(snap, s["reblog"], None, by_id))
        return objs

    def _ref(self, a: dict[str, Any], snap: PageSnapshot) -> dict[str, Any]:
        """An account reference from an API account, with its profile photo."""
        return {
            "handle": self.full_handle(a["acct"], snap),
            "name": a.get("display_name") or None,
            "url": a.get("url"),
            "id": str(a["id"]) if a.get("id") else None,
            "avatar": a.get("avatar"),
        }

    def _profile(self, snap: PageSnapshot, a: dict[str, Any]) -> dict[str, Any]:
        note = dom.parse(a.get("note") or "")
        links = [
            {"url": href, "text": dom.text_of(x)}
            for x in note.find_all("a", href=True)
            if (href := dom.attr(x, "href")) and not _is_tag_or_mention(x)
        ]
        location = None
        for f in a.get("fields") or []:
            value = dom.parse(f.get("value") or "")
            link = value.find("a", href=True)
            if link is not None:
                links.append({"url": dom.attr(link, "href"), "text": dom.text_of(value)})
            elif LOCATION_FIELDS.match((f.get("name") or "").strip()):
                location = dom.text_of(value)
        return self.new_object(
            snap,
            "profile",
            a.get("url") or snap.final_url,
            id=str(a["id"]) if a.get("id") else None,
            handle=self.full_handle(a["acct"], snap),
            name=a.get("display_name") or None,
            bio=dom.text_of(note.body or note),
            avatar=a.get("avatar"),
            header=a.get("header"),
            location=location,
            links=links,
            created_at=iso_utc(a.get("created_at")),
            counts={
                "posts": a.get("statuses_count"),
                "followers": a.get("followers_count"),
                "following": a.get("following_count"),
            },
        )

    def _post(
        self,
        snap: PageSnapshot,
        s: dict[str, Any],
        pinned: bool | None,
        by_id: dict[str, dict[str, Any]],
    ) -> dict[str, Any]:
        content = dom.parse(s.get("content") or "")
        body = content.body or content
        text = dom.text_of(body) if s.get("content") else None
        links = [
            {"url": href, "text": dom.text_of(x)}
            for x in body.find_all("a", href=True)
            if (href := dom.attr(x, "href")) and not _is_tag_or_mention(x)
        ]
        media = []
        for m in s.get("media_attachments") or []:
            kind = MEDIA_KINDS.get(m.get("type", ""))
            if not kind:
                continue
            meta = dom.dig(m, "meta", "original", default={}) or {}
            media.append(
                {
                    "kind": kind,
                    "url": m.get("url") or m.get("remote_url"),
                    "poster": m.get("preview_url") if kind != "photo" else None,
                    "alt": m.get("description"),
                    "width": meta.get("width"),
                    "height": meta.get("height"),
                    "duration": meta.get("duration"),
                }
            )
        reply_to = None
        if s.get("in_reply_to_id"):
            parent = by_id.get(s["in_reply_to_id"], {})
            # a reply mentions whom it answers: that mention names the parent's author when
            # the page did not load the parent itself
            addressed = next((m for m in s.get("mentions") or []
                              if str(m.get("id")) == str(s.get("in_reply_to_account_id"))), None)  # fmt: skip
            acct = parent["account"]["acct"] if parent else (addressed or {}).get("acct")
            origin = "{0.scheme}://{0.netloc}".format(urlsplit(s.get("url") or snap.final_url))
            reply_to = {
                "id": s["in_reply_to_id"],
                "url": parent.get("url") or (f"{origin}/@{acct}/{s['in_reply_to_id']}" if acct else None),
                "author": self.full_handle(acct, snap) if acct else None,
            }
        account = s.get("account") or {}
        quoted = dom.dig(s, "quote", "quoted_status")
        reblog = s.get("reblog")
        return self.new_object(
            snap,
            "post",
            s.get("url") or s.get("uri") or snap.final_url,
            id=str(s["id"]),
            author=self._ref(account, snap) if account.get("acct") else {},
            title=s.get("spoiler_text") or None,  # a content warning is the post's subject line
            text=text,
            language=s.get("language"),
            published_at=iso_utc(s.get("created_at")),
            edited_at=iso_utc(s.get("edited_at")),
            hashtags=dom.hashtags_in(text) or [t["name"] for t in s.get("tags") or []],
            mentions=[
                {
                    "handle": self.full_handle(m["acct"], snap),
                    "url": m.get("url"),
                    "id": str(m.get("id")) if m.get("id") else None,
                }
                for m in s.get("mentions") or []
            ],
            links=links,
            linked_posts=[{"id": quoted["id"], "url": quoted.get("url")}] if quoted else [],
            media=media,
            reply_to=reply_to,
            repost_of={
                "id": reblog["id"],
                "url": reblog.get("url"),
                "author": self.full_handle(reblog["account"]["acct"], snap),
            }
            if reblog
            else None,
            pinned=s.get("pinned", pinned),
            counts={
                "reactions": s.get("favourites_count"),
                "reposts": s.get("reblogs_count"),
                "replies": s.get("replies_count"),
            },
        )

    def _from_dom(self, snap: PageSnapshot) -> list[dict[str, Any]]:
        soup = dom.parse(snap.html)
        base = snap.final_url or snap.url
        out: list[dict[str, Any]] = []
        header = soup.select_one(SEL["header"])
        if header is not None and snap.kind == "profile":
            obj = self.new_object(
                snap,
                "profile",
                snap.final_url,
                handle=self.full_handle(snap.handle, snap) if snap.handle else None,
                name=dom.text_of(soup.select_one(SEL["name"])),
                bio=dom.text_of(soup.select_one(SEL["bio"])),
                avatar=dom.absolute(base, dom.attr(soup.select_one(SEL["avatar"]), "src")),
                header=dom.absolute(base, dom.attr(soup.select_one(SEL["header_img"]), "src")),
            )
            for a in soup.select(SEL["count_links"]):
                word = (dom.text_of(a) or "").split()[-1:]
                key = COUNT_WORDS.get(word[0].lower()) if word else None
                if key:
                    exact = dom.attr(a, "title")
                    set_count(obj, key, exact or dom.text_of(a.find("strong")))
            if obj.get("handle"):
                out.append(obj)
        for st in soup.select(SEL["status"]):
            link = st.select_one(SEL["status_time"])
            url = dom.absolute(base, dom.attr(link, "href"))
            time = link.find("time") if link is not None else None
            acct = (dom.text_of(st.select_one(SEL["status_account"])) or "").lstrip("@")
            text = dom.text_of(st.select_one(SEL["status_text"]))
            out.append(
                self.new_object(
                    snap,
                    "post",
                    url or snap.final_url,
                    id=dom.attr(st, "data-id"),
                    author={
                        "handle": self.full_handle(acct, snap) if acct else None,
                        "name": dom.text_of(st.select_one(SEL["status_name"])),
                        "avatar": dom.absolute(
                            base, dom.attr(st.select_one(SEL["status_avatar"]), "src")
                        ),
                    },
                    actions=[
                        (dom.attr(b, "aria-label") or "").lower()
                        for b in st.select(SEL["actions"])
                    ],
                    text=text,
                    published_at=iso_utc(dom.attr(time, "datetime")),
                    hashtags=dom.hashtags_in(text),
                )
            )
        return out


def _is_tag_or_mention(a: Any) -> bool:
    classes = a.get("class") or []
    return "mention" in classes or "hashtag" in classes

"""Facebook Pages. Facebook's own JSON is fragmented and changes often, so this adapter reads
the rendered DOM: the feed's div[role="article"] units, the Page header and its Intro.
Facebook shows dates only as words ("7 May"), so posts get `published_text`, never a guessed
ISO time; counts are mostly abbreviated ("1.2K") and keep their shown text.

Handles: the Page's name in its URL ("MinBZK") or a Page URL. Posts: /HANDLE/posts/ID (also
/videos/ and /photos/ and permalink.php?story_fbid=).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bs4 import Tag

from bewaar.objects import iso_utc, parse_count, set_count
from crawler.platforms import dom
from crawler.platforms.base import Adapter, PageSnapshot

# -- what changes when Facebook changes its pages -----------------------------------------------
SEL = {
    "article": 'div[role="article"]:not([aria-label])',
    "comment": 'div[role="article"][aria-label]',
    "message": '[data-ad-comet-preview="message"], [data-ad-preview="message"]',
    "truncated": "[data-full], div[role='button']",
    "cover": 'img[data-imgperflogname="profileCoverPhoto"]',
    "avatar": "svg[aria-label] image",
    "name": 'div[role="main"] h1',
    "photo": 'a[href*="/photo"] img',
    "reactions": '[aria-label="See who reacted to this"] + span',
    "toolbar": '[aria-label="See who reacted to this"]',
}
INTRO = re.compile(r"^(Intro|Introductie|Info|Einführung|Présentation)$")
COUNT_LINKS = {"followers": "/followers/", "likes": "/friends_likes/", "following": "/following/"}
COUNT_WORDS = {
    "replies": re.compile(
        r"([\d.,]+\s*[KkMm]?)\s+(comments?|opmerkingen|reacties|Kommentare|commentaires)"
    ),
    "reposts": re.compile(
        r"([\d.,]+\s*[KkMm]?)\s+(shares?|keer gedeeld|gedeeld|Mal geteilt|partages)"
    ),
}
OUTLINK = "l.facebook.com/l.php"


class FacebookAdapter(Adapter):
    platform = "facebook"
    version = "1.1"  # 1.1: account photos, actions, stories, follow lists, replies elsewhere (issue 16)
    default_base_url = "https://www.facebook.com"
    aliases = ("https://m.facebook.com", "https://facebook.com", "https://web.facebook.com")
    profile_path = "/{handle}"
    post_path = re.compile(
        r"^/(?:(?P<handle>[\w.]+)/(?:posts|videos|photos)/(?P<id>[\w.]+)"
        r"|(?:permalink|story)\.php\?(?:[^#]*&)?story_fbid=(?P<fbid>[\w]+))"
    )
    post_url_path = "/{handle}/posts/{id}"
    overlay_close = (
        'div[role="dialog"] div[role="button"][aria-label="Decline optional cookies"]',
        'div[role="dialog"] div[role="button"][aria-label="Close"]',
    )
    more_controls = (
        f'div[role="article"] {SEL["message"].split(",")[0]} div[role="button"]',  # See more
        'div[role="article"] > div[role="button"]:has(> span[dir="auto"])',  # View more comments
    )
    login_wall_url = r"/login(/|\?|$)"
    login_wall = ("form#login_form", "re:You must log in to continue")
    unavailable = ("re:This content isn.t available", "re:This page isn.t available")
    rate_limited = ("re:You.re Temporarily Blocked", "re:misusing this feature by going too fast")
    content = {
        "profile": (SEL["name"],),
        "post": (SEL["message"],),
        "story": ('[data-pagelet="Stories"]',),
    }
    api_pattern = r"/api/graphql/"
    stories_path = "/stories/{handle}/"
    story_path = re.compile(r"^/stories/[\w.]+/(?P<id>\d+)/?$")
    stories_need_login = True

    def match_post(self, url: str, handle: str | None = None) -> re.Match[str] | None:
        m = super().match_post(url, handle)
        return m if m and (m.group("id") or m.group("fbid")) else None

    def post_id(self, url: str) -> str | None:
        m = self.match_post(url)
        return (m.group("id") or m.group("fbid")) if m else None

    def canonical_post_url(self, url: str, handle: str | None = None) -> str | None:
        m = self.match_post(url, handle)
        if not m:
            return None
        if m.group("handle"):
            return self.post_url(m.group("handle"), m.group("id"))
        query = parse_qs(urlsplit(url).query)
        owner = f"&id={query['id'][0]}" if query.get("id") else ""
        return f"{self.base_for(handle)}/permalink.php?story_fbid={m.group('fbid')}{owner}"

    # -- extraction -----------------------------------------------------------------------
    def read(self, snap: PageSnapshot) -> list[dict[str, Any]]:
        soup = dom.parse(snap.html)
        base = snap.final_url or snap.url
        out: list[dict[str, Any]] = []
        if snap.kind == "profile":
            profile = self._page(snap, soup, base)
            if profile:
                out.append(profile)
        viewer = soup.select_one('[data-pagelet="Stories"] .story-viewer[data-story-id]')
        if viewer is not None:
            out.append(self._story(snap, soup, viewer, base))
        for art in soup.select(SEL["article"]):
            post = self._post(snap, art, base)
            if not post:
                continue
            out.append(post)
            for c in art.select(SEL["comment"]):
                comment = self._comment(snap, c, base, post)
                if comment:
                    out.append(comment)
        return out

    def _page(self, snap: PageSnapshot, soup: Any, base: str) -> dict[str, Any] | None:
        name = dom.text_of(soup.select_one(SEL["name"]))
        handle = self.normalize_handle(snap.handle or urlsplit(snap.final_url).path.strip("/"))
        if not name or not handle:
            return None
        intro = next(
            (
                h.find_parent("div")
                for h in soup.find_all("h2")
                if INTRO.match(dom.text_of(h) or "")
            ),
            None,
        )
        bio = location = None
        links = []
        if intro is not None:
            bio = dom.text_of(intro.find("span", dir="auto"))
            for li in intro.find_all("li"):
                a = li.find("a", href=True)
                if a is not None:
                    links.append({"url": _unwrap(dom.attr(a, "href")), "text": dom.text_of(a)})
                elif "·" not in (dom.text_of(li) or ""):
                    location = location or dom.text_of(li)  # the Intro's plain line is its place
        obj = self.new_object(
            snap,
            "profile",
            f"{self.base_url}/{handle}",
            handle=handle,
            name=name,
            bio=bio,
            avatar=dom.absolute(
                base,
                dom.attr(soup.select_one(SEL["avatar"]), "xlink:href")
                or dom.attr(soup.select_one(SEL["avatar"]), "href"),
            ),  # fmt: skip
            header=dom.absolute(base, dom.attr(soup.select_one(SEL["cover"]), "src")),
            location=location,
            links=links,
        )
        for key, suffix in COUNT_LINKS.items():
            a = soup.select_one(f'a[href$="{suffix}"]')
            if a is not None:
                set_count(obj, key, dom.text_of(a))
        return obj

    def _post(self, snap: PageSnapshot, art: Tag, base: str) -> dict[str, Any] | None:
        link = next(
            (a for a in art.find_all("a", href=True)
             if a.find_parent("div", attrs={"role": "article"}) is art
             and self.match_post(dom.absolute(base, dom.attr(a, "href")) or "")
             and "comment_id" not in (dom.attr(a, "href") or "")),
            None,
        )  # fmt: skip
        if link is None:
            return None
        url = dom.absolute(base, dom.attr(link, "href")) or ""
        m = self.match_post(url)
        assert m is not None
        msg = art.select_one(SEL["message"])
        truncated = msg is not None and msg.select_one(SEL["truncated"]) is not None
        text = None if truncated else dom.text_of(msg)  # a cut text is not the post's text
        author = art.find("h2")
        media: list[dict[str, Any]] = [
            {
                "kind": "photo",
                "url": dom.absolute(base, dom.attr(img, "src")),
                "alt": dom.attr(img, "alt"),
            }
            for img in art.select(SEL["photo"])
        ]
        for v in art.find_all("video"):
            if v.find_parent("div", attrs={"role": "article"}) is not art:
                continue
            gif = v.get("loop") is not None and "GIF" in (v.parent.get_text() if v.parent else "")
            media.append({"kind": "gif" if gif else "video", "url": dom.absolute(base, dom.attr(v, "src")),
                          "poster": dom.absolute(base, dom.attr(v, "poster"))})  # fmt: skip
        links = []
        mentions = []
        for a in msg.find_all("a", href=True) if msg is not None else []:
            href = dom.attr(a, "href") or ""
            shown = dom.text_of(a) or ""
            if OUTLINK in href:
                links.append({"url": _unwrap(href), "text": shown})
            elif shown.startswith("@"):
                mentions.append({"handle": shown[1:], "url": dom.absolute(base, href)})
        obj = self.new_object(
            snap,
            "post",
            self.canonical_post_url(url, snap.handle) or url,
            id=m.group("id") or m.group("fbid"),
            author={
                "handle": m.group("handle"),
                "name": dom.text_of(author),
                "url": f"{self.base_url}/{m.group('handle')}" if m.group("handle") else None,
            },  # fmt: skip
            text=text,
            published_text=dom.text_of(link),
            hashtags=dom.hashtags_in(text),
            mentions=mentions,
            links=links,
            media=media,
        )
        set_count(obj, "reactions", dom.text_of(art.select_one(SEL["reactions"])))
        for icon in art.select(f'{SEL["toolbar"]} [role="button"][aria-label]'):
            kind = REACTION.match(dom.attr(icon, "aria-label") or "")
            if kind and icon.find_parent("div", attrs={"role": "article"}) is art:
                value, _exact = parse_count(kind.group(2))
                if value is not None:
                    obj.setdefault("reactions", {})[kind.group(1).lower()] = value
        own_text = " ".join(
            dom.text_of(b) or "" for b in art.find_all(attrs={"role": "button"})
            if b.find_parent("div", attrs={"role": "article"}) is art
        )  # fmt: skip
        for key, rx in COUNT_WORDS.items():
            found = rx.search(own_text)
            if found:
                set_count(obj, key, found.group(1))
        return obj

    def _story(self, snap: PageSnapshot, soup: Any, viewer: Tag, base: str) -> dict[str, Any]:
        """The story item shown; its times from the page's script data."""
        sid = dom.attr(viewer, "data-story-id") or ""
        data = _script_data(soup)
        item = next((s for s in data.get("stories") or [] if str(s.get("id")) == sid), {})
        who = viewer.find("a", href=True)
        handle = urlsplit(dom.attr(who, "href") or "").path.strip("/").split("/")[0] or None
        media: list[dict[str, Any]] = []
        for v in viewer.find_all("video"):
            media.append({"kind": "video", "url": dom.absolute(base, dom.attr(v, "src"))})
        for img in viewer.find_all("img"):
            media.append({"kind": "photo", "url": dom.absolute(base, dom.attr(img, "src")),
                          "alt": dom.attr(img, "alt")})  # fmt: skip
        avatar = viewer.select_one("svg image")
        return self.new_object(
            snap, "post", f"{self.base_for(handle)}/stories/{handle}/{sid}/", id=sid,
            author={"handle": handle, "name": dom.text_of(who.find("span")) if who else None,
                    "url": f"{self.base_url}/{handle}" if handle else None,
                    "avatar": dom.absolute(base, dom.attr(avatar, "xlink:href") or dom.attr(avatar, "href"))},
            published_at=iso_utc(item.get("creation_time")),
            expires_at=iso_utc(item.get("expiration_time")),
            story=True, media=media,
        )  # fmt: skip

    def _comment(
        self, snap: PageSnapshot, c: Tag, base: str, post: dict[str, Any]
    ) -> dict[str, Any] | None:
        link = next((a for a in c.find_all("a", href=True) if "comment_id=" in (dom.attr(a, "href") or "")
                     and self.match_post(dom.absolute(base, dom.attr(a, "href")) or "")), None)  # fmt: skip
        if link is None:
            return None
        cid = parse_qs(urlsplit(dom.attr(link, "href") or "").query).get("comment_id", [None])[0]
        who = c.find("a", href=True)
        handle = urlsplit(dom.attr(who, "href") or "").path.strip("/").split("/")[0] or None
        text = dom.text_of(c.find("div", dir="auto"))
        obj = self.new_object(
            snap,
            "post",
            f"{post['url']}?comment_id={cid}",
            id=cid,
            author={
                "handle": handle,
                "name": dom.text_of(who),
                "url": f"{self.base_url}/{handle}" if handle else None,
            },  # fmt: skip
            text=text,
            published_text=dom.text_of(link),
            hashtags=dom.hashtags_in(text),
            reply_to={"id": post["id"], "url": post["url"], "author": post["author"].get("handle")},
        )
        label = dom.attr(c.select_one('[role="button"][aria-label*="reacted"]'), "aria-label")
        set_count(obj, "reactions", label.split(" ")[0] if label else None)
        return obj


REACTION = re.compile(r"^(\w+): ([\d.,]+\s*[KMkm]?) (?:people|person)$")


def _script_data(soup: Any) -> dict[str, Any]:
    """window.__fb = {...}: the data the page's script carries (story times)."""
    import json

    for script in soup.find_all("script"):
        text = script.string or ""
        m = re.match(r"\s*window\.__fb\s*=\s*(\{.*\});?\s*$", text, re.S)
        if m:
            try:
                data = json.loads(m.group(1))
            except ValueError:
                return {}
            return data if isinstance(data, dict) else {}
    return {}


def _unwrap(href: str | None) -> str:
    """l.facebook.com/l.php?u=TARGET -> TARGET (Facebook routes outgoing links through it)."""
    if href and "l.php" in href:
        u = parse_qs(urlsplit(href).query).get("u")
        if u:
            return u[0]
    return href or ""

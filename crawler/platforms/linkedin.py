"""LinkedIn company pages (and posts) as guests see them: server-rendered HTML, read from the
DOM and its JSON-LD. Activity and comment ids are "snowflakes" whose first 41 bits are the
creation time in milliseconds, so posts get an exact `published_at` although the page shows
only "2w"; both are kept.

Handles: "company/SLUG" (or "SLUG", taken as a company), "in/NAME" for a person, or a URL.
Posts: /posts/SLUG_words-activity-ID-xxxx and /feed/update/urn:li:activity:ID.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bs4 import Tag

from bewaar.objects import set_count
from crawler.platforms import dom
from crawler.platforms.base import Adapter, Block, PageSnapshot

# -- what changes when LinkedIn changes its pages -----------------------------------------------
SEL = {
    "name": "h1.top-card-layout__title",
    "subline": ".top-card-layout__second-subline, .top-card-layout__first-subline",
    "logo": "img.top-card-layout__entity-image",
    "cover": "img.cover-img__image",
    "about": 'p[data-test-id="about-us__description"]',
    "website": '[data-test-id="about-us__website"] a',
    "hq": '[data-test-id="about-us__headquarters"] dd',
    "founded": '[data-test-id="about-us__foundedOn"] dd',
    "card": "article[data-activity-urn]",
    "text": "p.attributed-text-segment-list__content",
    "reactions": '[data-test-id="social-actions__reaction-count"]',
    "comments_count": '[data-test-id="social-actions__comments"]',
    "comment": "article.comment",
    "comment_author": "a.comment__author",
    "comment_text": ".comment__text",
    "comment_time": ".comment__duration-since",
    "comment_reactions": ".comment__reactions-count",
}
RATE_LIMIT_STATUSES = (429, 999)  # LinkedIn answers suspected bots with 999


class LinkedInAdapter(Adapter):
    platform = "linkedin"
    version = "1.0"
    default_base_url = "https://www.linkedin.com"
    aliases = ("https://linkedin.com", "https://nl.linkedin.com")
    profile_path = "/{handle}/"
    post_path = re.compile(
        r"^/(?:posts/(?P<handle>[\w-]+?)_[\w-]*?activity-(?P<id>\d+)(?:-[\w-]+)?"
        r"|feed/update/urn:li:(?:activity|share|ugcPost):(?P<urn>\d+))/?(?=$|[?#])"
    )
    post_url_path = "/feed/update/urn:li:activity:{id}/"
    overlay_close = (
        'section.artdeco-global-alert button[action-type="DENY"]',
        "button.contextual-sign-in-modal__modal-dismiss",
        "button.modal__dismiss",
    )
    more_controls = (
        "button.see-more-less-text__button--more",
        "button.comments__load-more",
        'button[aria-label="Load more comments"]',
    )
    login_wall_url = r"/authwall|/uas/login|/login(\?|$)|/checkpoint/"
    login_wall = ("form.join-form", "re:Sign in to view more content|Join LinkedIn")
    unavailable = ("re:Page not found", "re:This (post|page) (cannot be displayed|is unavailable)")
    rate_limited = ("re:Too many requests",)
    content = {"profile": (SEL["name"],), "post": (SEL["card"],)}
    api_pattern = r"/voyager/api/"

    def normalize_handle(self, handle: str) -> str:
        handle = handle.strip()
        if re.match(r"^https?://", handle):
            parts = [p for p in urlsplit(handle).path.split("/") if p]
            return "/".join(parts[:2])
        handle = handle.strip("/").lstrip("@")
        return handle if "/" in handle else "company/" + handle

    def same_handle(self, a: str, b: str) -> bool:
        """A post URL names its author by slug only ("ministerie-van-bzk_...")."""
        return a.split("/")[-1].lower() == self.normalize_handle(b).split("/")[-1].lower()

    def match_post(self, url: str, handle: str | None = None) -> re.Match[str] | None:
        m = super().match_post(url, handle)
        return m if m and (m.group("id") or m.group("urn")) else None

    def post_id(self, url: str) -> str | None:
        m = self.match_post(url)
        return (m.group("id") or m.group("urn")) if m else None

    def canonical_post_url(self, url: str, handle: str | None = None) -> str | None:
        """The post's own URL without tracking parameters (its slug is part of it)."""
        m = self.match_post(url, handle)
        return self.base_for(handle) + m.group(0).rstrip("/") if m else None

    def detect_block(self, snap: PageSnapshot) -> Block | None:
        if snap.status in RATE_LIMIT_STATUSES:
            return Block("rate_limited", f"HTTP {snap.status}")
        return super().detect_block(snap)

    # -- extraction -----------------------------------------------------------------------
    def read(self, snap: PageSnapshot) -> list[dict[str, Any]]:
        soup = dom.parse(snap.html)
        base = snap.final_url or snap.url
        out: list[dict[str, Any]] = []
        if snap.kind == "profile" and soup.select_one(SEL["name"]) is not None:
            out.append(self._company(snap, soup, base))
        for card in soup.select(SEL["card"]):
            post = self._card(snap, card, base)
            out.append(post)
        if snap.kind == "post" and out:
            post = out[0]
            for c in soup.select(SEL["comment"]):
                out.append(self._comment(snap, c, base, post))
        return out

    def _company(self, snap: PageSnapshot, soup: Any, base: str) -> dict[str, Any]:
        handle = self.normalize_handle(snap.handle or urlsplit(snap.final_url).path)
        ld = _ld(soup, "Organization")
        website = soup.select_one(SEL["website"])
        obj = self.new_object(
            snap,
            "profile",
            f"{self.base_url}/{handle}/",
            handle=handle,
            name=dom.text_of(soup.select_one(SEL["name"])) or ld.get("name"),
            bio=dom.text_of(soup.select_one(SEL["about"])) or ld.get("description"),
            avatar=_img(soup.select_one(SEL["logo"]), base),
            header=_img(soup.select_one(SEL["cover"]), base),
            location=dom.text_of(soup.select_one(SEL["hq"])),
            links=[{"url": _unwrap(dom.attr(website, "href")), "text": dom.text_of(website)}]
            if website
            else [],
            created_text=dom.text_of(soup.select_one(SEL["founded"])),
        )
        sub = dom.text_of(soup.select_one(SEL["subline"])) or ""
        followers = re.search(r"([\d.,]+\s*[KkMm]?)\s+(followers|volgers)", sub)
        set_count(obj, "followers", followers.group(1) if followers else None)
        return obj

    def _card(self, snap: PageSnapshot, card: Tag, base: str) -> dict[str, Any]:
        urn = dom.attr(card, "data-activity-urn") or ""
        pid = urn.rsplit(":", 1)[-1]
        link = card.select_one("a.main-feed-card__overlay-link") or card.find(
            "a", href=re.compile("activity-")
        )
        url = self.canonical_post_url(
            dom.absolute(base, dom.attr(link, "href")) or ""
        ) or self.post_url("", pid)
        text_el = card.select_one(SEL["text"])
        truncated = text_el is not None and text_el.has_attr("data-full")
        text = None if truncated else dom.text_of(text_el)  # a cut text is not the post's text
        actor = card.select_one(".main-feed-activity-card__header a") or card.find(
            "a", href=re.compile("/company/|/in/")
        )
        actor_handle = (
            "/".join(urlsplit(dom.attr(actor, "href") or "").path.strip("/").split("/")[:2]) or None
        )
        media: list[dict[str, Any]] = [
            {"kind": "photo", "url": _img(i, base)}
            for i in card.select("ul.feed-images-content img")
        ]
        for v in card.select("video"):
            sources = json.loads(dom.attr(v, "data-sources") or "[]")
            src = sources[0]["src"] if sources else dom.attr(v, "src")
            media.append({"kind": "video", "url": dom.absolute(base, src), "mime": sources[0].get("type") if sources else None,
                          "poster": dom.absolute(base, dom.attr(v, "data-poster-url") or dom.attr(v, "poster"))})  # fmt: skip
        links, mentions = [], []
        for a in text_el.find_all("a", href=True) if text_el is not None else []:
            control = dom.attr(a, "data-tracking-control-name") or ""
            if control == "mention":
                mentions.append({"handle": "/".join(urlsplit(dom.attr(a, "href") or "").path.strip("/").split("/")[:2]),
                                 "name": (dom.text_of(a) or "").lstrip("@")})  # fmt: skip
            elif "redir/redirect" in (dom.attr(a, "href") or ""):
                links.append({"url": _unwrap(dom.attr(a, "href")), "text": dom.text_of(a)})
        obj = self.new_object(
            snap,
            "post",
            url,
            id=pid,
            author={
                "handle": actor_handle,
                "name": dom.text_of(actor),
                "url": f"{self.base_url}/{actor_handle}/" if actor_handle else None,
            },  # fmt: skip
            text=text,
            published_at=snowflake_time(pid),
            published_text=dom.text_of(card.find("time")),
            hashtags=dom.hashtags_in(text),
            mentions=mentions,
            links=links,
            media=media,
        )
        set_count(obj, "reactions", dom.text_of(card.select_one(SEL["reactions"])))
        comments = dom.text_of(card.select_one(SEL["comments_count"]))
        set_count(obj, "replies", comments)
        return obj

    def _comment(
        self, snap: PageSnapshot, c: Tag, base: str, post: dict[str, Any]
    ) -> dict[str, Any]:
        m = re.search(r",(\d+)\)$", dom.attr(c, "data-id") or "")
        cid = m.group(1) if m else None
        author = c.select_one(SEL["comment_author"])
        handle = (
            "/".join(urlsplit(dom.attr(author, "href") or "").path.strip("/").split("/")[:2])
            or None
        )
        text = dom.text_of(c.select_one(SEL["comment_text"]))
        obj = self.new_object(
            snap,
            "post",
            post["url"],  # comments have no URL of their own
            id=cid,
            author={
                "handle": handle,
                "name": dom.text_of(author),
                "url": f"{self.base_url}/{handle}/" if handle else None,
            },  # fmt: skip
            text=text,
            published_at=snowflake_time(cid),
            published_text=dom.text_of(c.select_one(SEL["comment_time"])),
            hashtags=dom.hashtags_in(text),
            reply_to={"id": post["id"], "url": post["url"], "author": post["author"].get("handle")},
        )
        set_count(obj, "reactions", dom.text_of(c.select_one(SEL["comment_reactions"])))
        return obj


def snowflake_time(ident: str | None) -> str | None:
    """LinkedIn ids carry their creation time: the top 41 of 64 bits, in ms since 1970."""
    if not ident or not ident.isdigit() or len(ident) < 16:
        return None
    ms = int(ident) >> 22
    if not 1_104_537_600_000 < ms < 4_102_444_800_000:  # 2005..2100: otherwise not a snowflake
        return None
    dt = datetime.fromtimestamp(ms / 1000, UTC)
    return (
        dt.strftime("%Y-%m-%dT%H:%M:%S")
        + (f".{ms % 1000:03d}".rstrip("0") if ms % 1000 else "")
        + "Z"
    )


def _img(el: Tag | None, base: str) -> str | None:
    """An image's URL; LinkedIn keeps it in data-delayed-url until a script loads it."""
    return dom.absolute(base, dom.attr(el, "src") or dom.attr(el, "data-delayed-url"))


def _unwrap(href: str | None) -> str:
    if href and "redir/redirect" in href:
        u = parse_qs(urlsplit(href).query).get("url")
        if u:
            return u[0]
    return href or ""


def _ld(soup: Any, kind: str) -> dict[str, Any]:
    for s in soup.find_all("script", type="application/ld+json"):
        try:
            data = json.loads(s.string or "")
        except ValueError:
            continue
        if isinstance(data, dict) and data.get("@type") == kind:
            return data
    return {}

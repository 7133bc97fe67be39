"""A LinkedIn company page as a logged-out ("guest") visitor sees it: server-rendered HTML.

- /company/SLUG/: top card (h1.top-card-layout__title, follower count in the subline), About
  (p[data-test-id="about-us__description"], website through /redir/redirect?url=,
  headquarters, founded), JSON-LD Organization, and the updates feed:
  article[data-activity-urn] cards whose text is cut with "…see more". Images are lazy: their
  URL sits in data-delayed-url until a script swaps it in, as on LinkedIn.
- /posts/SLUG_words-activity-ID-xxxx/: the post with its first 2 comments
  (article.comment); "Load more comments" fetches /voyager/api/... -style JSON with the rest.
- Activity and comment ids are LinkedIn "snowflakes": the first 41 bits are the time in ms.
  The page itself shows only "2w"-style times.
- Overlays: the cookie alert (button[action-type="DENY"]) and the contextual sign-in modal
  (button.contextual-sign-in-modal__modal-dismiss) after scrolling.
- login_wall: the authwall (redirect to /authwall?...); rate_limited: HTTP 429; a deleted
  post: 404 "Page not found".
"""

from __future__ import annotations

import html
import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import quote

from bewaar.sites.httpserver import FixtureServer, Request, Response
from bewaar.sites.media import png, video
from bewaar.sites.platforms.fixture import PlatformSite, Post, segments, with_headers

SEE_MORE_AT = 70
FIRST_COMMENTS = 2
SLUG = "ministerie-van-bzk"

PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>.contextual-sign-in-modal {{ position: fixed; inset: 20% 30%; background: #fff; z-index: 9 }}
.artdeco-global-alert {{ position: fixed; top: 0; left: 0; right: 0; background: #eee; z-index: 10 }}
article.main-feed-activity-card {{ display: block; min-height: 300px }}</style>{ld}</head>
<body class="guest"><main class="main" id="main-content">{main}</main>
<section class="artdeco-global-alert" role="alert"><p>LinkedIn and 3rd parties use essential and non-essential cookies.</p>
<button action-type="ACCEPT" class="artdeco-global-alert-action">Accept</button>
<button action-type="DENY" class="artdeco-global-alert-action">Reject</button></section>
<script>{js}</script></body></html>"""

AUTHWALL = """<!DOCTYPE html><html lang="en"><head><title>Sign Up | LinkedIn</title></head><body class="authwall">
<main><h1 class="authwall-join-form__title">Join LinkedIn</h1><p>Sign in to view more content</p>
<form class="join-form" action="/signup/cold-join"><input name="email-address" type="email"><input name="password" type="password">
<button type="submit">Agree &amp; Join</button></form><p>Already on LinkedIn? <a href="/login">Sign in</a></p></main></body></html>"""

NOT_FOUND = """<!DOCTYPE html><html lang="en"><head><title>Page not found | LinkedIn</title></head><body>
<main><h1>Page not found</h1><p>Uh oh, we can’t seem to find the page you’re looking for. Try going back to the previous page or see below for more options.</p></main></body></html>"""

JS = r"""
document.querySelectorAll('img[data-delayed-url]').forEach(i => i.src = i.dataset.delayedUrl);
document.addEventListener('click', e => {
  const b = e.target.closest('button'); if (!b) return;
  if (b.getAttribute('action-type')) b.closest('.artdeco-global-alert').remove();
  if (b.classList.contains('contextual-sign-in-modal__modal-dismiss')) { b.closest('.contextual-sign-in-modal').remove(); document.body.style.overflow = ''; }
  if (b.classList.contains('see-more-less-text__button--more')) { const p = b.closest('.attributed-text-segment-list__container').querySelector('p'); p.innerHTML = p.dataset.full; p.removeAttribute('data-full'); b.remove(); }
  if (b.classList.contains('comments__load-more')) fetch(b.dataset.url, {headers: {'csrf-token': 'ajax:0', 'x-restli-protocol-version': '2.0.0'}}).then(r => r.json()).then(j => {
    document.querySelector('section.comments .comments__list').insertAdjacentHTML('beforeend', j.elements.map(c => c.html).join('')); b.remove(); });
});
window.addEventListener('scroll', () => { if (scrollY < 300 || window.__modal) return; window.__modal = true;
  document.body.insertAdjacentHTML('beforeend', '<div class="contextual-sign-in-modal" role="dialog"><button class="contextual-sign-in-modal__modal-dismiss" aria-label="Dismiss">×</button><h2 class="contextual-sign-in-modal__context-screen-title">Sign in to see who you already know at Ministerie van BZK</h2><a href="/login">Sign in</a></div>');
  document.body.style.overflow = 'hidden'; });
"""


def snowflake(iso: str, seq: int) -> str:
    ms = int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)
    return str((ms << 22) | seq)


def ago(iso: str) -> str:
    days = (
        datetime.fromisoformat("2024-05-08T12:00:00+00:00")
        - datetime.fromisoformat(iso.replace("Z", "+00:00"))
    ).days
    return f"{days}d" if days < 7 else f"{days // 7}w"


class LinkedInSite(PlatformSite):
    platform = "linkedin"
    dom_fallback = True

    def __init__(self) -> None:
        super().__init__()
        self.account.handle = SLUG
        for i, p in enumerate(self.all_posts()):
            p.id = snowflake(p.published, 1000 + i)
            if p.author == "MinBZK":
                p.author = SLUG
            if p.gif:  # LinkedIn shows an animated image; the fixture keeps it a photo post
                p.gif, p.photos = False, 1
        for p in self.posts:
            for r in p.replies:
                r.reply_to = p.id

    @property
    def handle_in_seed(self) -> str:  # type: ignore[override]
        return "company/" + SLUG

    def slug(self, p: Post) -> str:
        words = "-".join(re.findall(r"[a-z0-9]+", p.text.lower())[:4])
        return f"{SLUG}_{words}-activity-{p.id}-{p.id[-4:]}"

    def post_page_url(self, post: Post) -> str:
        return f"{self.base_url}/posts/{self.slug(post)}"

    def expected_profile(self) -> dict[str, Any]:
        a = self.account
        return {
            "handle": "company/" + SLUG,
            "name": a.name,
            "bio": a.bio,
            "location": a.location,
            "links": [{"url": a.website}],
            "created_text": a.joined[:4],
            "avatar": f"{self.base_url}/dms/image/{SLUG}-logo.png",
            "header": f"{self.base_url}/dms/image/{SLUG}-cover.png",
            "counts": {"followers": a.followers},
        }

    def expected_post(self, p: Post, page: str = "post") -> dict[str, Any]:
        exp = super().expected_post(p, page) | {"published_text": ago(p.published)}
        exp["author.handle"] = (
            "in/" + p.author.replace("_", "-") if p.reply_to else "company/" + SLUG
        )
        if p.reply_to:
            exp.pop("url")
            exp["author.name"] = p.author_name
            return exp | {"counts": {"reactions": p.likes}}
        return exp | {"counts": {"reactions": p.likes, "replies": len(p.replies)}}

    def login_wall_page(self, req: Request) -> Response:
        return Response.redirect(
            f"/authwall?trk=bf&trkInfo=AQ&original_referer=&sessionRedirect={quote(self.base_url + req.path, safe='')}",
            302,
        )

    def rate_limited_page(self, req: Request) -> Response:
        return with_headers(
            Response.html("<!DOCTYPE html><title>LinkedIn</title><p>Too many requests</p>", 429),
            ("Retry-After", "60"),
        )

    # -- rendering -------------------------------------------------------------------------
    def text_html(self, text: str) -> str:
        out = []
        for kind, value in segments(text):
            esc = html.escape(value)
            if kind == "tag":
                out.append(
                    f'<a href="{self.base_url}/signup/cold-join?session_redirect=%2Ffeed%2Fhashtag%2F{value.lower()}" data-tracking-control-name="hashtag">#{esc}</a>'
                )
            elif kind == "mention":
                out.append(
                    f'<a href="{self.base_url}/company/{value.lower()}?trk=public_post-text" data-tracking-control-name="mention">@{esc}</a>'
                )
            elif kind == "url":
                out.append(
                    f'<a href="{self.base_url}/redir/redirect?url={quote(value, safe="")}&amp;urlhash=Ab1" target="_blank" rel="nofollow">{esc}</a>'
                )
            else:
                out.append(esc.replace("\n", "<br>"))
        return "".join(out)

    def media(self, p: Post) -> str:
        out = "".join(
            f'<li><img class="feed-images-content__image" data-delayed-url="{self.base_url}/dms/image/{n}.png" alt=""></li>'
            for n in p.photo_names()
        )
        out = f'<ul class="feed-images-content">{out}</ul>' if out else ""
        if p.video:
            src = json.dumps(
                [{"src": f"{self.base_url}/dms/video/{p.id}/mp4-720p.mp4", "type": "video/mp4"}]
            )
            out += f'<video class="share-native-video__node video-js" data-sources="{html.escape(src, True)}" data-poster-url="{self.base_url}/dms/image/{p.id}-poster.png" playsinline></video>'
        return out

    def card(self, p: Post, full: bool = False) -> str:
        text = self.text_html(p.text)
        if not full and len(p.text) > SEE_MORE_AT:
            shown = f'<p class="attributed-text-segment-list__content" data-full="{html.escape(text, True)}">{html.escape(p.text[:SEE_MORE_AT])}…</p><button class="see-more-less-text__button see-more-less-text__button--more">…see more</button>'
        else:
            shown = f'<p class="attributed-text-segment-list__content">{text}</p>'
        a = self.account
        return f"""<article class="main-feed-activity-card" data-activity-urn="urn:li:activity:{p.id}">
<a class="main-feed-card__overlay-link" href="{self.post_page_url(p)}"><span class="sr-only">View organization page for {html.escape(a.name)}</span></a>
<div class="main-feed-activity-card__header"><a data-tracking-control-name="organization_guest_main-feed-card_feed-actor-name" href="{self.base_url}/company/{SLUG}?trk=feed"><span>{html.escape(a.name)}</span></a><time>{ago(p.published)}</time></div>
<div class="attributed-text-segment-list__container">{shown}</div>{self.media(p)}
<div class="main-feed-activity-card__social-actions"><span data-test-id="social-actions__reaction-count">{p.likes:,}</span>
<a data-test-id="social-actions__comments" href="{self.post_page_url(p)}">{len(p.replies)} Comments</a></div></article>"""

    def comment(self, c: Post) -> str:
        return f"""<article class="comment" data-id="urn:li:comment:(activity:{c.reply_to},{c.id})"><a class="comment__author" href="{self.base_url}/in/{c.author.replace("_", "-")}?trk=public_post_comment_actor-name">{html.escape(c.author_name)}</a>
<span class="comment__duration-since">{ago(c.published)}</span><p class="comment__text">{html.escape(c.text)}</p><span class="comment__reactions-count">{c.likes}</span></article>"""

    def company_html(self) -> str:
        a = self.account
        return f"""<section class="top-card-layout"><img class="cover-img__image" data-delayed-url="{self.base_url}/dms/image/{SLUG}-cover.png" alt="">
<img class="top-card-layout__entity-image" data-delayed-url="{self.base_url}/dms/image/{SLUG}-logo.png" alt="{html.escape(a.name)}">
<h1 class="top-card-layout__title">{html.escape(a.name)}</h1><h4 class="top-card-layout__second-subline">Government Administration · {html.escape(a.location)} · {a.followers:,} followers</h4></section>
<section class="about-us"><h2>About us</h2><p data-test-id="about-us__description">{html.escape(a.bio)}</p><dl>
<div data-test-id="about-us__website"><dt>Website</dt><dd><a href="{self.base_url}/redir/redirect?url={quote(a.website, safe="")}&amp;urlhash=x" rel="nofollow">{html.escape(a.website)}</a></dd></div>
<div data-test-id="about-us__headquarters"><dt>Headquarters</dt><dd>{html.escape(a.location)}</dd></div>
<div data-test-id="about-us__foundedOn"><dt>Founded</dt><dd>{a.joined[:4]}</dd></div></dl></section>
<section class="updates"><h2>Updates</h2><ul class="updates__list">{"".join("<li>" + self.card(p) + "</li>" for p in self.visible_posts())}</ul></section>"""

    # -- routes ----------------------------------------------------------------------------
    def routes(self, server: FixtureServer) -> None:
        site = self

        def page(title: str, main: str, ld: dict[str, Any] | None = None) -> Response:
            ld_html = f'<script type="application/ld+json">{json.dumps(ld)}</script>' if ld else ""
            return Response.html(
                PAGE.format(title=html.escape(title), main=main, ld=ld_html, js=JS), gzip=True
            )

        @server.route("GET", r"/company/(?P<slug>[\w-]+)/?")
        def company(req: Request, m: re.Match[str]) -> Response:
            if (g := site.gate(req)) is not None:
                return g
            if m.group("slug") != SLUG:
                return Response.html(NOT_FOUND, 404)
            a = site.account
            ld = {
                "@context": "http://schema.org",
                "@type": "Organization",
                "name": a.name,
                "url": f"{site.base_url}/company/{SLUG}",
                "description": a.bio,
                "logo": {
                    "@type": "ImageObject",
                    "contentUrl": f"{site.base_url}/dms/image/{SLUG}-logo.png",
                },
                "address": {
                    "@type": "PostalAddress",
                    "addressLocality": a.location,
                    "addressCountry": "NL",
                },
                "sameAs": a.website,
            }
            return page(f"{a.name} | LinkedIn", site.company_html(), ld)

        @server.route("GET", r"/posts/(?P<slug>[\w-]+)/?")
        def post(req: Request, m: re.Match[str]) -> Response:
            if (g := site.gate(req)) is not None:
                return g
            pid = re.search(r"activity-(\d+)", m.group("slug"))
            try:
                p = site.post(pid.group(1) if pid else "")
            except KeyError:
                p = None
            if p is None or p.deleted:
                return Response.html(NOT_FOUND, 404)
            replies = [r for r in p.replies if not r.deleted]
            more = ""
            if len(replies) > FIRST_COMMENTS:
                more = f'<button class="comments__load-more" aria-label="Load more comments" data-url="/voyager/api/feed/comments?q=comments&updateId=activity:{p.id}&start={FIRST_COMMENTS}">Load more comments</button>'
            main = (
                site.card(p, full=True)
                + '<section class="comments"><div class="comments__list">'
                + "".join(site.comment(c) for c in replies[:FIRST_COMMENTS])
                + f"</div>{more}</section>"
            )
            ld = {
                "@context": "http://schema.org",
                "@type": "SocialMediaPosting",
                "@id": site.post_page_url(p),
                "datePublished": p.published,
                "articleBody": p.text,
                "author": {
                    "@type": "Organization",
                    "name": site.account.name,
                    "url": f"{site.base_url}/company/{SLUG}",
                },
                "commentCount": len(replies),
                "interactionStatistic": [
                    {
                        "@type": "InteractionCounter",
                        "interactionType": "http://schema.org/LikeAction",
                        "userInteractionCount": p.likes,
                    }
                ],
            }
            return page(f"{p.text[:40]} | {site.account.name}", main, ld)

        @server.route("GET", r"/voyager/api/feed/comments")
        def comments(req: Request, m: re.Match[str]) -> Response:
            if req.headers.get("csrf-token") != "ajax:0":
                return Response.json({"status": 403}, 403)
            p = site.post((req.arg("updateId") or "").split(":")[-1])
            start = int(req.arg("start") or 0)
            rest = [r for r in p.replies if not r.deleted][start:]
            return Response.json(
                {
                    "elements": [
                        {"urn": f"urn:li:comment:(activity:{p.id},{c.id})", "html": site.comment(c)}
                        for c in rest
                    ],
                    "paging": {"start": start, "count": len(rest)},
                }
            )

        @server.route("GET", r"/authwall")
        def authwall(req: Request, m: re.Match[str]) -> Response:
            return Response.html(AUTHWALL)

        @server.route(
            "GET", r"/dms/(?P<kind>image|video)/(?P<name>[\w-]+)(?:/[\w-]+)?\.(?P<ext>png|mp4)"
        )
        def media(req: Request, m: re.Match[str]) -> Response:
            if m.group("ext") == "mp4":
                return Response(200, video("mp4"), [("Content-Type", "video/mp4")])
            return Response(200, png(320, 240, m.group("name")), [("Content-Type", "image/png")])

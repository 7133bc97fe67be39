"""A Mastodon server as a logged-out visitor sees it (Mastodon 4.x web UI and REST API).

- /@USER and /@USER/ID: the web app's shell (initial-state JSON, <noscript>); app.js renders
  from the public API: /api/v1/accounts/lookup?acct=, /api/v1/accounts/:id/statuses (pages of
  4 chained by the Link header's max_id, loaded on scroll, plus ?pinned=true),
  /api/v1/statuses/:id and /api/v1/statuses/:id/context (ancestors/descendants).
- A reply behind a content warning ("Show more" button), media: image, gifv (mp4), video, audio.
- /@USER/with_replies: the account's posts and its replies in others' threads
  (statuses?exclude_replies=false); /@USER/followers and /following: public follow lists from
  /api/v1/accounts/:id/followers|following (pages of 40 chained by Link, loaded on scroll).
- login_wall: pages redirect to /auth/sign_in, the API answers 401 (a server that requires
  login); rate_limited: 429 with Mastodon's JSON/HTML; a deleted status: 404 page and API 404.
"""

from __future__ import annotations

import html
import json
import re
import zlib
from typing import Any

from bewaar.sites.httpserver import FixtureServer, Request, Response
from bewaar.sites.media import video, wav
from bewaar.sites.platforms.fixture import (
    Person,
    PlatformSite,
    Post,
    default_people,
    default_threads,
    render_text,
    with_headers,
)

DOMAIN = "social.example"
PAGE = 4

SHELL = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>{title}</title>
<meta property="og:site_name" content="{domain}"><meta property="og:title" content="{og_title}">
<link rel="alternate" type="application/activity+json" href="{base}/users/{user}">
<script id="initial-state" type="application/json">{state}</script>
<script src="/packs/js/application.js" defer></script></head>
<body class="app-body theme-default"><div class="app-holder" id="mastodon" data-props="{{&quot;locale&quot;:&quot;en&quot;}}">
<noscript><div>To use the Mastodon web application, please enable JavaScript.</div></noscript>
</div></body></html>"""

NOT_FOUND = """<!DOCTYPE html><html><head><title>The page you are looking for isn't here. - Mastodon</title></head>
<body class="error"><div class="dialog"><div class="dialog__illustration"></div>
<div class="dialog__message"><h1>The page you are looking for isn't here.</h1></div></div></body></html>"""

SIGN_IN = """<!DOCTYPE html><html><head><title>Log in - {domain}</title></head>
<body class="lighter"><div class="container-alt"><h1>Log in</h1>
<form class="simple_form new_user" id="new_user" action="/auth/sign_in" method="post">
<p class="hint">Login with your {domain} credentials.</p>
<input type="email" name="user[email]" id="user_email" placeholder="E-mail address">
<input type="password" name="user[password]" id="user_password" placeholder="Password">
<button name="button" type="submit" class="btn">Log in</button></form></div></body></html>"""

TOO_MANY = """<!DOCTYPE html><html><head><title>Too many requests - Mastodon</title></head>
<body class="error"><div class="dialog"><div class="dialog__message">
<h1>Too many requests</h1></div></div></body></html>"""

LINKS = {
    "tag": '<a href="{base}/tags/{value}" class="mention hashtag" rel="tag">#<span>{escaped}</span></a>',
    "mention": '<span class="h-card" translate="no"><a href="{base}/@{value}" class="u-url mention">@<span>{escaped}</span></a></span>',
}


class MastodonSite(PlatformSite):
    platform = "mastodon"
    dom_fallback = True
    has_overlays = False

    def __init__(self) -> None:
        super().__init__()
        self.account.handle = "minbzk"
        for p in self.all_posts():
            if p.author == "MinBZK":
                p.author = "minbzk"
            p.text = p.text.replace("@MinBZK", "@minbzk")
        self.posts[1].audio = True
        self.threads = default_threads("minbzk")
        self.followers = default_people("volger", 70)
        self.following = default_people("gevolgd", 12)
        self.spoilers = {self.posts[1].replies[3].id: "DigiD"}  # a reply behind a content warning
        self.pinned = {self.posts[2].id}

    @property
    def handle_in_seed(self) -> str:  # type: ignore[override]
        return f"@{self.account.handle}@{DOMAIN}"

    def qualify(self, handle: str) -> str:
        return handle if "@" in handle else f"{handle}@{DOMAIN}"

    def expected_post_links(self) -> list[str]:
        """Pinned posts come first, as on a real profile."""
        posts = self.visible_posts()
        ordered = [p for p in posts if p.id in self.pinned] + [
            p for p in posts if p.id not in self.pinned
        ]
        return [self.post_page_url(p) for p in ordered]

    def expected_profile(self) -> dict[str, Any]:
        a = self.account
        return super().expected_profile() | {
            "id": a.id,
            "location": a.location,
            "links": [{"url": a.website, "text": a.website}],
            "created_at": a.joined[:10] + "T00:00:00Z",  # Mastodon gives the day only
            "avatar": f"{self.base_url}/system/accounts/avatars/{a.handle}.png",
        }

    def expected_post(self, p: Post, page: str = "post") -> dict[str, Any]:
        return super().expected_post(p, page) | {
            "counts": {"reactions": p.likes, "reposts": p.reposts, "replies": len(p.replies)},
            "mentions": [
                {
                    "handle": self.qualify(m),
                    "url": f"{self.base_url}/@{m}",
                    "id": str(zlib.crc32(m.encode())),
                }
                for m in p.mentions
            ],
            "links": [{"url": u, "text": u} for u in p.links],
            "title": self.spoilers.get(p.id),
            "language": "nl",
        }

    def check_collapsed(
        self, post: Post, extracted: dict[str, Any], bare_html: str, full_html: str
    ) -> None:
        """The context JSON has every reply; the content warning hides one reply's text."""
        from crawler.platforms.dom import parse

        (rid,) = self.spoilers
        sel = f'.status[data-id="{rid}"] .status__content__text'
        assert parse(bare_html).select_one(sel).get("hidden") is not None
        assert parse(full_html).select_one(sel).get("hidden") is None

    def post_page_url(self, post: Post) -> str:
        return f"{self.base_url}/@{post.author}/{post.id}"

    def person_json(self, p: Person) -> dict[str, Any]:
        base = self.base_url
        return {
            "id": str(zlib.crc32(p.handle.encode())),
            "username": p.handle,
            "acct": p.handle,
            "display_name": p.name,
            "url": f"{base}/@{p.handle}",
            "avatar": f"{base}/system/accounts/avatars/{p.handle}.png",
            "note": "",
            "fields": [],
            "emojis": [],
        }

    def login_wall_page(self, req: Request) -> Response:
        return Response.redirect("/auth/sign_in", 302)

    def rate_limited_page(self, req: Request) -> Response:
        return with_headers(Response.html(TOO_MANY, 429), ("Retry-After", "300"))

    # -- API shapes (docs.joinmastodon.org/entities) ---------------------------------------
    def account_json(self, handle: str | None = None) -> dict[str, Any]:
        a = self.account
        if handle and handle != a.handle:
            return {
                "id": str(zlib.crc32(handle.encode())),
                "username": handle,
                "acct": handle,
                "display_name": handle.title(),
                "url": f"{self.base_url}/@{handle}",
                "avatar": f"{self.base_url}/system/accounts/avatars/{handle}.png",
                "note": "",
                "fields": [],
                "emojis": [],
            }
        base = self.base_url
        return {
            "id": a.id,
            "username": a.handle,
            "acct": a.handle,
            "display_name": a.name,
            "locked": False,
            "bot": False,
            "discoverable": True,
            "group": False,
            "created_at": a.joined[:10] + "T00:00:00.000Z",
            "note": "<p>" + render_text(a.bio, self._links()) + "</p>",
            "url": f"{base}/@{a.handle}",
            "uri": f"{base}/users/{a.handle}",
            "avatar": f"{base}/system/accounts/avatars/{a.handle}.png",
            "avatar_static": f"{base}/system/accounts/avatars/{a.handle}.png",
            "header": f"{base}/system/accounts/headers/{a.handle}-header.png",
            "header_static": f"{base}/system/accounts/headers/{a.handle}-header.png",
            "followers_count": a.followers,
            "following_count": a.following,
            "statuses_count": a.posts,
            "last_status_at": self.posts[0].published[:10],
            "emojis": [],
            "fields": [
                {
                    "name": "Website",
                    "value": f'<a href="{a.website}" target="_blank" rel="nofollow noopener me" translate="no">'
                    f'<span class="invisible">https://</span><span class="">{html.escape(a.website[8:])}</span>'
                    '<span class="invisible"></span></a>',
                    "verified_at": "2023-01-01T00:00:00.000+00:00",
                },
                {"name": "Locatie", "value": html.escape(a.location), "verified_at": None},
            ],
        }

    def _links(self) -> dict[str, str]:
        base = self.base_url
        return {
            "tag": LINKS["tag"].replace("{base}", base),
            "mention": LINKS["mention"].replace("{base}", base),
            "url": '<a href="{q}" target="_blank" rel="nofollow noopener noreferrer" translate="no">'
            '<span class="invisible">https://</span><span class="ellipsis">{escaped}</span></a>',
        }

    def status_json(self, p: Post) -> dict[str, Any]:
        base = self.base_url
        text_html = "<p>" + render_text(p.text, self._links(), "<br>") + "</p>"
        # the URL segment shows without its scheme, as Mastodon does (scheme is "invisible")
        text_html = re.sub(r'(<span class="ellipsis">)https://', r"\1", text_html)
        media = []
        for name in p.photo_names():
            media.append(
                {
                    "id": name,
                    "type": "image",
                    "url": f"{base}/system/media_attachments/files/original/{name}.png",
                    "preview_url": f"{base}/system/media_attachments/files/small/{name}.png",
                    "remote_url": None,
                    "description": f"Foto {name}",
                    "meta": {"original": {"width": 320, "height": 240}},
                    "blurhash": None,
                }
            )
        for kind, ok, ext in (
            ("video", p.video, "mp4"),
            ("gifv", p.gif, "mp4"),
            ("audio", p.audio, "wav"),
        ):
            if ok:
                media.append(
                    {
                        "id": f"{p.id}-{kind}",
                        "type": kind,
                        "url": f"{base}/system/media_attachments/files/original/{p.id}-{kind}.{ext}",
                        "preview_url": f"{base}/system/media_attachments/files/small/{p.id}-{kind}.png",
                        "remote_url": None,
                        "description": None,
                        "meta": {"original": {"width": 160, "height": 90, "duration": 2.2}},
                    }
                )
        return {
            "id": p.id,
            "created_at": p.published.replace("Z", ".000Z"),
            "in_reply_to_id": p.reply_to,
            "in_reply_to_account_id": self.account_json(self.post(p.reply_to).author)["id"]
            if p.reply_to
            else None,
            "sensitive": p.id in self.spoilers,
            "spoiler_text": self.spoilers.get(p.id, ""),
            "visibility": "public",
            "language": "nl",
            "uri": f"{base}/users/{p.author}/statuses/{p.id}",
            "url": f"{base}/@{p.author}/{p.id}",
            "replies_count": len(p.replies),
            "reblogs_count": p.reposts,
            "favourites_count": p.likes,
            "edited_at": None,
            "content": text_html,
            "reblog": None,
            "account": self.account_json(p.author),
            "media_attachments": media,
            "mentions": [
                {"id": str(zlib.crc32(m.encode())), "username": m, "acct": m, "url": f"{base}/@{m}"}
                for m in p.mentions
            ],
            "tags": [{"name": t.lower(), "url": f"{base}/tags/{t.lower()}"} for t in p.hashtags],
            "emojis": [],
            "card": None,
            "poll": None,
            "pinned": p.id in self.pinned,
        }

    # -- routes ----------------------------------------------------------------------------
    def routes(self, server: FixtureServer) -> None:
        site = self

        def api_gate(req: Request) -> Response | None:
            if site.mode == "rate_limited":
                return with_headers(
                    Response.json({"error": "Too many requests"}, 429),
                    ("X-RateLimit-Remaining", "0"),
                )
            if site.walled(req):
                return Response.json({"error": "This API requires an authenticated user"}, 401)
            return None

        def shell(title: str) -> Response:
            a = site.account
            state = {
                "meta": {
                    "domain": DOMAIN,
                    "access_token": None,
                    "locale": "en",
                    "limited_federation_mode": False,
                },
                "accounts": {},
            }
            return Response.html(
                SHELL.format(
                    title=html.escape(title),
                    og_title=html.escape(f"{a.name} (@{a.handle}@{DOMAIN})"),
                    domain=DOMAIN,
                    base=site.base_url,
                    user=a.handle,
                    state=json.dumps(state),
                )
            )

        @server.route("GET", r"/@(?P<user>[\w.]+)")
        def profile(req: Request, m: re.Match[str]) -> Response:
            if (g := site.gate(req)) is not None:
                return g
            if m.group("user") != site.account.handle:
                return Response.html(NOT_FOUND, 404)
            return shell(f"{site.account.name} (@{site.account.handle}@{DOMAIN}) - {DOMAIN}")

        @server.route("GET", r"/@(?P<user>[\w.]+)/(?P<tab>with_replies|followers|following)")
        def tab(req: Request, m: re.Match[str]) -> Response:
            if (g := site.gate(req)) is not None:
                return g
            if m.group("user") != site.account.handle:
                return Response.html(NOT_FOUND, 404)
            return shell(f"{site.account.name} (@{site.account.handle}@{DOMAIN}) - {DOMAIN}")

        @server.route("GET", r"/api/v1/accounts/(?P<id>\d+)/(?P<rel>followers|following)")
        def follows(req: Request, m: re.Match[str]) -> Response:
            if (g := api_gate(req)) is not None:
                return g
            people = site.followers if m.group("rel") == "followers" else site.following
            start = int(req.arg("max_id") or 0)
            page = people[start : start + int(req.arg("limit") or 40)]
            resp = Response.json([site.person_json(p) for p in page])
            if start + len(page) < len(people):
                nxt = f"{site.base_url}/api/v1/accounts/{m.group('id')}/{m.group('rel')}?limit=40&max_id={start + len(page)}"
                resp.headers.append(("Link", f'<{nxt}>; rel="next"'))
            return resp

        @server.route("GET", r"/@(?P<user>[\w.]+)/(?P<id>\d+)")
        def status_page(req: Request, m: re.Match[str]) -> Response:
            if (g := site.gate(req)) is not None:
                return g
            try:
                p = site.post(m.group("id"))
            except KeyError:
                return Response.html(NOT_FOUND, 404)
            if p.deleted:
                return Response.html(NOT_FOUND, 404)
            return shell(f'{p.author_name}: "{p.text[:30]}" - {DOMAIN}')

        @server.route("GET", r"/auth/sign_in")
        def sign_in(req: Request, m: re.Match[str]) -> Response:
            return Response.html(SIGN_IN.format(domain=DOMAIN))

        @server.route("GET", r"/api/v1/accounts/lookup")
        def lookup(req: Request, m: re.Match[str]) -> Response:
            if (g := api_gate(req)) is not None:
                return g
            acct = (req.arg("acct") or "").split("@")[0]
            if acct != site.account.handle:
                return Response.json({"error": "Record not found"}, 404)
            return Response.json(site.account_json())

        @server.route("GET", r"/api/v1/accounts/(?P<id>\d+)/statuses")
        def statuses(req: Request, m: re.Match[str]) -> Response:
            if (g := api_gate(req)) is not None:
                return g
            posts = site.visible_posts()
            if req.arg("exclude_replies") == "false":  # the with-replies view
                posts = sorted(posts + site.own_replies(), key=lambda p: p.published, reverse=True)
            if req.arg("pinned") == "true":
                return Response.json([site.status_json(p) for p in posts if p.id in site.pinned])
            max_id = req.arg("max_id")
            if max_id:
                after = next((i for i, p in enumerate(posts) if p.id == max_id), None)
                posts = posts[after + 1 :] if after is not None else [p for p in posts if int(p.id) < int(max_id)]
            page = posts[: int(req.arg("limit") or PAGE)]
            headers = []
            if page and len(posts) > len(page):
                excl = req.arg("exclude_replies") or "true"
                nxt = f"{site.base_url}/api/v1/accounts/{m.group('id')}/statuses?exclude_replies={excl}&max_id={page[-1].id}"
                headers.append(("Link", f'<{nxt}>; rel="next"'))
            resp = Response.json([site.status_json(p) for p in page])
            resp.headers.extend(headers)
            return resp

        @server.route("GET", r"/api/v1/statuses/(?P<id>\d+)")
        def status(req: Request, m: re.Match[str]) -> Response:
            if (g := api_gate(req)) is not None:
                return g
            try:
                p = site.post(m.group("id"))
            except KeyError:
                return Response.json({"error": "Record not found"}, 404)
            if p.deleted:
                return Response.json({"error": "Record not found"}, 404)
            return Response.json(site.status_json(p))

        @server.route("GET", r"/api/v1/statuses/(?P<id>\d+)/context")
        def context(req: Request, m: re.Match[str]) -> Response:
            if (g := api_gate(req)) is not None:
                return g
            try:
                p = site.post(m.group("id"))
            except KeyError:
                return Response.json({"error": "Record not found"}, 404)
            ancestors = [site.post(p.reply_to)] if p.reply_to else []
            descendants = [r for r in p.replies if not r.deleted]
            return Response.json(
                {
                    "ancestors": [site.status_json(a) for a in ancestors],
                    "descendants": [site.status_json(d) for d in descendants],
                }
            )

        @server.route("GET", r"/packs/js/application\.js")
        def app_js(req: Request, m: re.Match[str]) -> Response:
            return Response(
                200, APP_JS.encode(), [("Content-Type", "application/javascript")], gzip=True
            )

        @server.route("GET", r"/system/media_attachments/files/\w+/(?P<name>[\w-]+)\.(?P<ext>\w+)")
        def media(req: Request, m: re.Match[str]) -> Response:
            from bewaar.sites.media import png

            ext = m.group("ext")
            if ext == "mp4":
                return Response(200, video("mp4"), [("Content-Type", "video/mp4")])
            if ext == "wav":
                return Response(200, wav(), [("Content-Type", "audio/wav")])
            return Response(200, png(320, 240, m.group("name")), [("Content-Type", "image/png")])

        self.media_routes(server, r"/system/accounts/\w+")


APP_JS = r"""
(() => {
const root = document.getElementById('mastodon');
const esc = s => String(s).replace(/[&<>"]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
const short = n => n >= 1e6 ? (n/1e6).toFixed(1).replace(/\.0$/,'') + 'M' : n >= 1e4 ? (n/1e3).toFixed(1).replace(/\.0$/,'') + 'K' : n.toLocaleString('en');
const ago = iso => { const d = new Date(iso); return d.toLocaleDateString('en', {month: 'short', day: 'numeric'}); };
const get = url => fetch(url, {headers: {Accept: 'application/json'}}).then(r => {
  if (!r.ok) throw r; return r.json().then(j => [j, r.headers.get('Link')]); });

function media(s) {
  return s.media_attachments.map(m => {
    if (m.type === 'image') return `<div class="media-gallery"><div class="media-gallery__item"><a class="media-gallery__item-thumbnail" href="${m.url}" target="_blank"><img src="${m.preview_url}" alt="${esc(m.description || '')}" lang="nl"></a></div></div>`;
    if (m.type === 'gifv') return `<div class="media-gallery"><div class="media-gallery__item"><div class="media-gallery__gifv"><video class="media-gallery__item-gifv-thumbnail" src="${m.url}" autoplay loop muted playsinline></video><div class="media-gallery__gifv__label">GIF</div></div></div></div>`;
    if (m.type === 'video') return `<div class="video-player"><video src="${m.url}" poster="${m.preview_url}" playsinline preload="metadata"></video></div>`;
    if (m.type === 'audio') return `<div class="audio-player"><audio src="${m.url}" preload="metadata"></audio><img class="audio-player__poster" src="${m.preview_url}" alt=""></div>`;
    return '';
  }).join('');
}

function status(s, detailed) {
  const a = s.account;
  const cw = s.spoiler_text ? `<p><span class="spoiler-text">${esc(s.spoiler_text)}</span> <button type="button" class="status__content__spoiler-link" aria-expanded="false">Show more</button></p>` : '';
  const content = `<div class="status__content__text${s.spoiler_text ? '' : ' status__content__text--visible'} translate" lang="${s.language}"${s.spoiler_text ? ' hidden' : ''}>${s.content}</div>`;
  const counts = `<div class="status__action-bar"><button class="status__action-bar__button icon-button" aria-label="Reply"><span class="icon-button__counter">${s.replies_count}</span></button><button class="status__action-bar__button icon-button" aria-label="Boost"><span class="icon-button__counter"><span class="animated-number">${s.reblogs_count}</span></span></button><button class="status__action-bar__button star-icon icon-button" aria-label="Favorite"><span class="icon-button__counter"><span class="animated-number">${s.favourites_count}</span></span></button></div>`;
  const time = `<a class="${detailed ? 'detailed-status__datetime' : 'status__relative-time'}" href="${s.url}"><time datetime="${s.created_at}" title="${new Date(s.created_at).toUTCString()}">${ago(s.created_at)}</time></a>`;
  return `<article data-id="${s.id}"><div class="status__wrapper focusable" tabindex="0"><div class="${detailed ? 'detailed-status' : 'status'} status-public" data-id="${s.id}">
    <div class="status__info">${time}<a class="status__display-name" href="${a.url}"><div class="status__avatar"><div class="account__avatar"><img src="${a.avatar}" alt=""></div></div><span class="display-name"><bdi><strong class="display-name__html">${esc(a.display_name)}</strong></bdi> <span class="display-name__account">@${esc(a.acct)}</span></span></a></div>
    <div class="status__content">${cw}${content}</div>${media(s)}${counts}</div></div></article>`;
}

function header(a) {
  const fields = a.fields.map(f => `<dl><dt>${esc(f.name)}</dt><dd class="${f.verified_at ? 'verified' : ''}">${f.value}</dd></dl>`).join('');
  const joined = new Date(a.created_at).toLocaleDateString('en', {year: 'numeric', month: 'short', day: 'numeric', timeZone: 'UTC'});
  return `<div class="account__header"><div class="account__header__image"><img src="${a.header}" alt=""></div>
  <div class="account__header__bar"><div class="account__avatar"><img src="${a.avatar}" alt="${esc(a.display_name)}"></div>
  <div class="account__header__tabs__name"><h1><span>${esc(a.display_name)}</span><small><span>@${esc(a.acct)}<span class="account__domain-pill__domain">@${esc(window.__domain)}</span></span></small></h1></div>
  <div class="account__header__extra"><div class="account__header__bio"><div class="account__header__content translate">${a.note}</div>
  <div class="account__header__fields">${fields}<dl><dt>Joined</dt><dd>${joined}</dd></dl></div></div>
  <div class="account__header__extra__links"><a href="/@${a.acct}" title="${a.statuses_count.toLocaleString('en')}"><strong>${short(a.statuses_count)}</strong> Posts</a>
  <a href="/@${a.acct}/following" title="${a.following_count.toLocaleString('en')}"><strong>${short(a.following_count)}</strong> Following</a>
  <a href="/@${a.acct}/followers" title="${a.followers_count.toLocaleString('en')}"><strong>${short(a.followers_count)}</strong> Followers</a></div></div></div></div>`;
}

function fail(e) {
  root.innerHTML = e && e.status === 404 ? '<div class="regeneration-indicator"><div class="regeneration-indicator__label">The page you are looking for isn\'t here.</div></div>' : '<div class="error-column"><p>Something went wrong.</p></div>';
}

root.addEventListener('click', e => {
  const b = e.target.closest('.status__content__spoiler-link');
  if (!b) return;
  const text = b.closest('.status__content').querySelector('.status__content__text');
  text.hidden = false; text.classList.add('status__content__text--visible');
  b.setAttribute('aria-expanded', 'true'); b.textContent = 'Show less';
});

window.__domain = JSON.parse(document.getElementById('initial-state').textContent).meta.domain;
const path = location.pathname.split('/');
const user = path[1].slice(1);
root.innerHTML = '<div class="columns-area"><div class="column" role="region"><div class="scrollable"></div></div></div>';
const col = root.querySelector('.scrollable');

function person(a) {
  return `<div class="account"><div class="account__wrapper"><a class="account__display-name" href="${a.url}"><div class="account__avatar-wrapper"><div class="account__avatar"><img src="${a.avatar}" alt=""></div></div><span class="display-name"><bdi><strong class="display-name__html">${esc(a.display_name)}</strong></bdi> <span class="display-name__account">@${esc(a.acct)}</span></span></a></div></div>`;
}

const tabName = path[2];
if (path.length === 2 || ['with_replies', 'followers', 'following'].includes(tabName)) {
  const follows = tabName === 'followers' || tabName === 'following';
  let next = null, loading = false;
  const more = () => { if (!next || loading) return; loading = true;
    get(next).then(([list, link]) => { col.querySelector('.item-list').insertAdjacentHTML('beforeend', list.map(s => follows ? person(s) : status(s)).join(''));
      const m = link && link.match(/<([^>]+)>;\s*rel="next"/); next = m ? m[1] : null; loading = false; }).catch(fail); };
  get('/api/v1/accounts/lookup?acct=' + encodeURIComponent(user)).then(([a]) => {
    col.innerHTML = header(a) + '<div class="account__section-headline"><a' + (tabName ? '' : ' class="active"') + ' href="/@' + a.acct + '">Posts</a><a' + (tabName === 'with_replies' ? ' class="active"' : '') + ' href="/@' + a.acct + '/with_replies">Posts and replies</a></div><div class="item-list" role="feed"></div>';
    if (follows) { next = '/api/v1/accounts/' + a.id + '/' + tabName + '?limit=40'; more(); return; }
    if (tabName === 'with_replies') { next = '/api/v1/accounts/' + a.id + '/statuses?exclude_replies=false&limit=4'; more(); return; }
    return get('/api/v1/accounts/' + a.id + '/statuses?pinned=true').then(([pins]) => {
      col.querySelector('.item-list').insertAdjacentHTML('beforeend', pins.map(s => status(s).replace('<div class="status__info">', '<div class="status__prepend">Pinned post</div><div class="status__info">')).join(''));
      next = '/api/v1/accounts/' + a.id + '/statuses?exclude_replies=true&limit=4'; more();
    });
  }).catch(fail);
  window.addEventListener('scroll', () => { if (innerHeight + scrollY >= document.body.scrollHeight - 200) more(); });
} else {
  const id = path[2];
  Promise.all([get('/api/v1/statuses/' + id), get('/api/v1/statuses/' + id + '/context')]).then(([[s], [ctx]]) => {
    col.innerHTML = '<div class="item-list">' + ctx.ancestors.map(x => status(x)).join('') + '</div>' + status(s, true) +
      '<div class="item-list thread">' + ctx.descendants.map(x => status(x)).join('') + '</div>';
  }).catch(fail);
}
})();
"""

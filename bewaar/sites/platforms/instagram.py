"""Instagram as a logged-out visitor sees it.

- /HANDLE/: the app shell; the profile and its first posts come from
  GET /api/v1/users/web_profile_info/?username=HANDLE (needs the X-IG-App-ID header, like the
  real endpoint), in the GraphQL "edge" shapes (edge_followed_by, edge_owner_to_timeline_media).
- /p/SHORTCODE/ (and /reel/SHORTCODE/ for videos): window._sharedData with
  entry_data.PostPage[0].graphql.shortcode_media (the shape instaloader and gallery-dl read):
  caption, taken_at_timestamp, sidecar photos, video_url, location, and the first 2 comments;
  "Load more comments" fetches the rest from /graphql/query/?query_hash=...&variables=...
- Overlays: a cookie dialog ("Decline optional cookies") on every page and, after scrolling,
  a "Log in" nag dialog with a Close button.
- /stories/HANDLE/ and /stories/HANDLE/PK/: the story viewer, for logged-in visitors only
  (others go to the login page); items from /api/v1/feed/reels_media/?reel_ids=ID (taken_at,
  expiring_at, image_versions2 / video_versions), each item its own URL.
- login_wall: redirect to /accounts/login/?next=...; rate_limited: 429 "Please wait a few
  minutes"; a deleted post: "Sorry, this page isn't available."
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import zlib
from datetime import datetime
from typing import Any
from urllib.parse import quote

from bewaar.sites.httpserver import FixtureServer, Request, Response
from bewaar.sites.media import png, video
from bewaar.sites.platforms.fixture import (
    SESSION_COOKIE,
    PlatformSite,
    Post,
    Story,
    default_stories,
    with_headers,
)

APP_ID = "936619743392459"
FIRST_COMMENTS = 2
COMMENTS_HASH = "bc3296d1ce80a24b1b6e40b1e72903f5"

SHELL = """<!DOCTYPE html><html lang="en" class="_9dls"><head><meta charset="utf-8"><title>{title}</title>
<meta property="og:title" content="{og}"><meta property="al:ios:app_name" content="Instagram">
<style>div[role=dialog] {{ position: fixed; inset: 20% 30%; background: #fff; z-index: 9 }} article img {{ width: 300px; height: 300px }}
._aagv {{ display: block; height: 300px }}</style>
<script type="text/javascript">window._sharedData = {shared};</script>
<script src="/static/bundles/es6/ConsumerLibCommons.js" defer></script></head>
<body><div id="react-root"><section><main role="main" class="xvbhtw8"></main></section></div>
<div id="dialogs">{cookie}</div></body></html>"""

COOKIE = """<div role="dialog" aria-modal="true" class="x1n2onr6"><h2>Allow the use of cookies from Instagram on this browser?</h2>
<p>We use cookies and similar technologies to help provide and improve content on Meta Products.</p>
<button class="_a9-- _ap36 _a9_1" tabindex="0">Decline optional cookies</button>
<button class="_a9-- _ap36 _a9_0" tabindex="0">Allow all cookies</button></div>"""

LOGIN = """<!DOCTYPE html><html lang="en"><head><title>Login • Instagram</title></head><body><div id="react-root">
<main><article><form id="loginForm" method="post"><h1>Instagram</h1>
<input aria-label="Phone number, username, or email" name="username" type="text"><input aria-label="Password" name="password" type="password">
<button type="submit">Log in</button></form><p>Don't have an account? <a href="/accounts/emailsignup/">Sign up</a></p></article></main></div></body></html>"""

UNAVAILABLE = """<div class="x1qjc9v5"><h2><span>Sorry, this page isn't available.</span></h2>
<span>The link you followed may be broken, or the page may have been removed. <a href="/">Go back to Instagram.</a></span></div>"""


def shortcode(post_id: str) -> str:
    return "C" + hashlib.sha256(post_id.encode()).hexdigest()[:10].replace("a", "A").replace(
        "e", "_"
    )


def ts(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


class InstagramSite(PlatformSite):
    platform = "instagram"

    def __init__(self) -> None:
        super().__init__()
        self.account.handle = "minbzk"
        for p in self.all_posts():
            if p.author == "MinBZK":
                p.author = self.account.handle
            if not p.reply_to:
                p.id = shortcode(p.id)
                if p.gif:  # Instagram has no GIFs: that post is a reel
                    p.gif, p.video = False, True
        for p in self.all_posts():
            if p.reply_to:
                p.reply_to = next(q.id for q in self.posts if p in q.replies)
                p.id = "17" + p.id + "5" * 9

        self.stories = default_stories()

    @property
    def handle_in_seed(self) -> str:  # type: ignore[override]
        return self.account.handle

    def post_page_url(self, post: Post) -> str:
        return f"{self.base_url}/{'reel' if post.video else 'p'}/{post.id}/"

    def story_url(self, st: Story) -> str:
        return f"{self.base_url}/stories/{self.account.handle}/{st.id}/"

    def story_json(self, st: Story) -> dict[str, Any]:
        base, a = self.base_url, self.account
        item: dict[str, Any] = {
            "pk": st.id,
            "id": f"{st.id}_{a.id}",
            "taken_at": ts(st.published),
            "expiring_at": ts(st.expires),
            "media_type": 2 if st.video else 1,
            "image_versions2": {"candidates": [
                {"url": f"{base}/v/t51/story-{st.id}.png", "width": 320, "height": 240}]},
            "accessibility_caption": st.text,
            "user": {"pk": a.id, "username": a.handle,
                     "profile_pic_url": f"{base}/v/t51/{a.handle}-avatar-s150.png"},
        }  # fmt: skip
        if st.video:
            item["video_versions"] = [{"type": 101, "url": f"{base}/o1/v/t16/story-{st.id}.mp4",
                                       "width": 320, "height": 240}]  # fmt: skip
            item["video_duration"] = 2.2
        return item

    def expected_profile(self) -> dict[str, Any]:
        a = self.account
        return super().expected_profile() | {
            "id": a.id,
            "links": [{"url": a.website}],
            "avatar": f"{self.base_url}/v/t51/{a.handle}-avatar.png",
        }

    def expected_post(self, p: Post, page: str = "post") -> dict[str, Any]:
        exp = super().expected_post(p, page)
        if p.reply_to:
            exp.pop("url")
            return exp | {"counts": {"reactions": p.likes}}
        exp["counts"] = {"reactions": p.likes, "replies": len(p.replies)}
        if p.video:
            exp["counts"]["views"] = p.views
        if p.location:
            exp["location"] = {"name": p.location}
        return exp

    def login_wall_page(self, req: Request) -> Response:
        if req.path.startswith("/api/"):
            return Response.json({"message": "", "require_login": True, "status": "fail"}, 401)
        return Response.redirect("/accounts/login/?next=" + quote(req.path, safe=""), 302)

    def rate_limited_page(self, req: Request) -> Response:
        if req.path.startswith("/api/"):
            return Response.json(
                {
                    "message": "Please wait a few minutes before you try again.",
                    "require_login": True,
                    "status": "fail",
                },
                429,
            )
        return with_headers(
            Response.html(
                "<!DOCTYPE html><title>Instagram</title><p>Please wait a few minutes before you try again.</p>",
                429,
            ),
            ("Retry-After", "300"),
        )

    # -- Instagram's shapes ------------------------------------------------------------------
    def media_node(self, p: Post, full: bool = False) -> dict[str, Any]:
        base = self.base_url
        typename = "GraphSidecar" if p.photos > 1 else "GraphVideo" if p.video else "GraphImage"
        first = p.photo_names()[0] if p.photos else p.id
        node: dict[str, Any] = {
            "__typename": typename,
            "id": str(zlib.crc32(p.id.encode())),
            "shortcode": p.id,
            "display_url": f"{base}/v/t51/{first}.png",
            "is_video": p.video,
            "edge_media_to_caption": {"edges": [{"node": {"text": p.text}}]},
            "taken_at_timestamp": ts(p.published),
            "edge_liked_by": {"count": p.likes},
            "edge_media_preview_like": {"count": p.likes},
            "edge_media_to_comment": {"count": len(p.replies)},
            "owner": {"id": self.account.id, "username": self.account.handle,
                      "profile_pic_url": f"{self.base_url}/v/t51/{self.account.handle}-avatar-s150.png"},
            "location": {"id": "2135", "name": p.location, "slug": p.location.lower()}
            if p.location
            else None,
            "accessibility_caption": f"Photo by {self.account.name}" if p.photos else None,
        }
        if p.video:
            node |= {
                "video_url": f"{base}/o1/v/t16/{p.id}.mp4?efg=eyJ2ZW5jb2RlX3RhZyI6In0&_nc_ht=instagram",
                "video_view_count": p.views,
                "dimensions": {"width": 160, "height": 90},
            }
        if p.photos > 1:
            node["edge_sidecar_to_children"] = {
                "edges": [
                    {
                        "node": {
                            "__typename": "GraphImage",
                            "id": n,
                            "display_url": f"{base}/v/t51/{n}.png",
                            "is_video": False,
                            "dimensions": {"width": 320, "height": 240},
                            "accessibility_caption": f"Foto {n}",
                        }
                    }
                    for n in p.photo_names()
                ]
            }
        if full:
            replies = [r for r in p.replies if not r.deleted]
            node["edge_media_to_parent_comment"] = self.comments(replies, 0, FIRST_COMMENTS)
        return node

    def comments(self, replies: list[Post], start: int, count: int) -> dict[str, Any]:
        page = replies[start : start + count]
        return {
            "count": len(replies),
            "page_info": {
                "has_next_page": start + count < len(replies),
                "end_cursor": str(start + count) if start + count < len(replies) else None,
            },
            "edges": [
                {
                    "node": {
                        "id": r.id,
                        "text": r.text,
                        "created_at": ts(r.published),
                        "did_report_as_spam": False,
                        "owner": {
                            "id": str(len(r.author)),
                            "username": r.author,
                            "is_verified": False,
                            "profile_pic_url": f"{self.base_url}/v/t51/{r.author}-avatar.png",
                        },
                        "edge_liked_by": {"count": r.likes},
                        "edge_threaded_comments": {"count": 0, "edges": []},
                    }
                }
                for r in page
            ],
        }

    def user_json(self) -> dict[str, Any]:
        a = self.account
        posts = self.visible_posts()
        return {
            "id": a.id,
            "username": a.handle,
            "full_name": a.name,
            "biography": a.bio,
            "bio_links": [{"title": "", "url": a.website, "link_type": "external"}],
            "external_url": a.website,
            "profile_pic_url": f"{self.base_url}/v/t51/{a.handle}-avatar-s150.png",
            "profile_pic_url_hd": f"{self.base_url}/v/t51/{a.handle}-avatar.png",
            "is_verified": True,
            "is_private": False,
            "category_name": "Government organization",
            "edge_followed_by": {"count": a.followers},
            "edge_follow": {"count": a.following},
            "edge_owner_to_timeline_media": {
                "count": a.posts,
                "page_info": {"has_next_page": False, "end_cursor": None},
                "edges": [{"node": self.media_node(p)} for p in posts],
            },
        }

    def shell(self, title: str, shared: dict[str, Any] | None = None, og: str = "") -> Response:
        shared = {
            "config": {"csrf_token": "missing", "viewer": None},
            "country_code": "NL",
            "entry_data": {},
            **(shared or {}),
        }
        return Response.html(
            SHELL.format(
                title=html.escape(title),
                og=html.escape(og),
                shared=json.dumps(shared),
                cookie=COOKIE,
            )
        )

    # -- routes ----------------------------------------------------------------------------
    def routes(self, server: FixtureServer) -> None:
        site = self

        @server.route("GET", r"/(?P<user>[\w.]+)/?")
        def profile(req: Request, m: re.Match[str]) -> Response:
            if (g := site.gate(req)) is not None:
                return g
            a = site.account
            return site.shell(
                f"{a.name} (@{a.handle}) • Instagram photos and videos",
                og=f"{a.name} (@{a.handle}) • Instagram photos and videos",
            )

        @server.route("GET", r"/(?P<kind>p|reel)/(?P<code>[\w-]+)/?")
        def post(req: Request, m: re.Match[str]) -> Response:
            if (g := site.gate(req)) is not None:
                return g
            try:
                p = site.post(m.group("code"))
            except KeyError:
                p = None
            if p is None or p.deleted:
                return site.shell(
                    "Page not found • Instagram", {"entry_data": {"HttpErrorPage": [{}]}}
                )
            return site.shell(
                f"Instagram: {p.text[:40]}",
                {
                    "entry_data": {
                        "PostPage": [{"graphql": {"shortcode_media": site.media_node(p, True)}}]
                    }
                },
            )

        @server.route("GET", r"/stories/(?P<user>[\w.]+)/(?:(?P<pk>\d+)/?)?")
        def stories(req: Request, m: re.Match[str]) -> Response:
            if site.mode == "rate_limited":
                return site.rate_limited_page(req)
            if f"{SESSION_COOKIE}=" not in req.headers.get("cookie", ""):
                return Response.redirect("/accounts/login/?next=" + quote(req.path, safe=""), 302)
            a = site.account
            return site.shell("Stories • Instagram", {"entry_data": {"StoriesPage": [
                {"user": {"id": a.id, "username": a.handle}, "pk": m.group("pk")}]}})  # fmt: skip

        @server.route("GET", r"/api/v1/feed/reels_media/")
        def reels_media(req: Request, m: re.Match[str]) -> Response:
            if f"{SESSION_COOKIE}=" not in req.headers.get("cookie", ""):
                return Response.json({"message": "login_required", "status": "fail"}, 401)
            a = site.account
            items = [site.story_json(st) for st in site.stories]
            return Response.json({"reels": {a.id: {"id": a.id, "items": items, "user": {
                "pk": a.id, "username": a.handle}}}, "status": "ok"})  # fmt: skip

        @server.route("GET", r"/accounts/login/")
        def login(req: Request, m: re.Match[str]) -> Response:
            return Response.html(LOGIN)

        @server.route("GET", r"/api/v1/users/web_profile_info/")
        def web_profile_info(req: Request, m: re.Match[str]) -> Response:
            if (g := site.gate(req)) is not None:
                return g
            if req.headers.get("x-ig-app-id") != APP_ID:
                return Response.json({"message": "useragent mismatch", "status": "fail"}, 400)
            if req.arg("username") != site.account.handle:
                return Response.json({"data": {"user": None}, "status": "ok"}, 404)
            return Response.json({"data": {"user": site.user_json()}, "status": "ok"}, gzip=True)

        @server.route("GET", r"/graphql/query/")
        def graphql(req: Request, m: re.Match[str]) -> Response:
            if req.arg("query_hash") != COMMENTS_HASH:
                return Response.json({"message": "invalid query_hash", "status": "fail"}, 400)
            v = json.loads(req.arg("variables") or "{}")
            p = site.post(v["shortcode"])
            replies = [r for r in p.replies if not r.deleted]
            return Response.json(
                {
                    "data": {
                        "shortcode_media": {
                            "edge_media_to_parent_comment": site.comments(
                                replies, int(v.get("after") or 0), int(v.get("first") or 12)
                            )
                        }
                    },
                    "status": "ok",
                }
            )

        @server.route("GET", r"/o1/v/t16/(?P<code>[\w-]+)\.mp4")
        def mp4(req: Request, m: re.Match[str]) -> Response:
            return Response(200, video("mp4"), [("Content-Type", "video/mp4")])

        @server.route("GET", r"/v/t51/(?P<name>[\w-]+)\.png")
        def image(req: Request, m: re.Match[str]) -> Response:
            return Response(200, png(320, 240, m.group("name")), [("Content-Type", "image/png")])

        @server.route("GET", r"/static/bundles/es6/ConsumerLibCommons\.js")
        def app(req: Request, m: re.Match[str]) -> Response:
            return Response(
                200,
                APP_JS.replace("__APP_ID__", APP_ID).replace("__HASH__", COMMENTS_HASH).encode(),
                [("Content-Type", "text/javascript")],
                gzip=True,
            )


APP_JS = r"""
(() => {
const main = document.querySelector('main');
const esc = s => String(s == null ? '' : s).replace(/[&<>"]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
const short = n => n >= 1e6 ? (n/1e6).toFixed(1).replace(/\.0$/,'') + 'M' : n >= 1e4 ? (n/1e3).toFixed(1).replace(/\.0$/,'') + 'K' : n.toLocaleString('en');
const caption = t => esc(t).replace(/#(\w+)/g, '<a href="/explore/tags/$1/">#$1</a>').replace(/@([\w.]*\w)/g, '<a href="/$1/">@$1</a>').replace(/\n/g, '<br>');
document.addEventListener('click', e => {
  const b = e.target.closest('div[role=dialog] button, div[role=dialog] div[role=button]');
  if (b && (b.textContent.includes('cookies') || b.querySelector('svg[aria-label=Close]'))) b.closest('div[role=dialog]').remove();
});
function nag() {
  if (window.__nag) return; window.__nag = true;
  document.getElementById('dialogs').insertAdjacentHTML('beforeend', `<div role="dialog" aria-modal="true" class="x1n2onr6 nag"><div role="button" tabindex="0"><svg aria-label="Close" role="img" height="18" width="18"><title>Close</title></svg></div>
    <span>See more from ${esc(window.__user || '')}</span><a href="/accounts/login/"><button type="button">Log in</button></a><span>Don't have an account? <a href="/accounts/emailsignup/">Sign up</a></span></div>`);
}
function grid(u) {
  main.innerHTML = `<header class="x1qjc9v5"><img alt="${esc(u.username)}'s profile picture" src="${u.profile_pic_url_hd}">
    <section><h2 class="x1lliihq">${esc(u.username)}</h2><ul>
      <li><span class="_ac2a">${short(u.edge_owner_to_timeline_media.count)}</span> posts</li>
      <li><a href="/${u.username}/followers/"><span class="_ac2a" title="${u.edge_followed_by.count.toLocaleString('en')}">${short(u.edge_followed_by.count)}</span> followers</a></li>
      <li><a href="/${u.username}/following/"><span class="_ac2a">${short(u.edge_follow.count)}</span> following</a></li></ul>
    <div class="_aa_c"><span class="x1lliihq">${esc(u.full_name)}</span><div class="_aacl"><h1 class="_ap3a _aaco">${caption(u.biography)}</h1></div>
      <a href="https://l.instagram.com/?u=${encodeURIComponent(u.external_url)}&e=AT0" rel="me nofollow noopener noreferrer" target="_blank"><span>${esc(u.external_url.replace(/^https?:\/\//, ''))}</span></a></div></section></header>
    <div class="_ac7v">${u.edge_owner_to_timeline_media.edges.map(e => `<div class="_aabd"><a href="/${e.node.is_video ? 'reel' : 'p'}/${e.node.shortcode}/" role="link"><div class="_aagv"><img alt="${esc(e.node.accessibility_caption || '')}" class="x5yr21d" src="${e.node.display_url}"></div></a></div>`).join('')}</div>`;
  window.addEventListener('scroll', () => { if (scrollY > 200) nag(); });
}
function comment(n) {
  return `<ul class="_a9ym" data-comment-id="${n.id}"><div class="_a9zm"><h3 class="_a9zc"><a href="/${n.owner.username}/">${esc(n.owner.username)}</a></h3>
    <div class="_a9zs"><span class="_ap3a _aaco">${caption(n.text)}</span></div><div class="_a9zg"><time class="_a9ze" datetime="${new Date(n.created_at * 1000).toISOString()}">2d</time>
    <span>${n.edge_liked_by.count} likes</span></div></div></ul>`;
}
function postPage(m) {
  const kids = m.edge_sidecar_to_children ? m.edge_sidecar_to_children.edges.map(e => e.node) : [m];
  const media = kids.map(k => k.is_video ? `<div class="x5yr21d"><video class="x1lliihq" playsinline preload="none" type="video/mp4" src="${k.video_url}" poster="${k.display_url}"></video></div>`
    : `<div class="_aagv"><img alt="${esc(k.accessibility_caption || '')}" class="x5yr21d" src="${k.display_url}"></div>`).join('');
  const cm = m.edge_media_to_parent_comment;
  main.innerHTML = `<article role="presentation"><div class="_aatk">${media}</div><div class="_ae2s">
    <header><a href="/${m.owner.username}/">${esc(m.owner.username)}</a>${m.location ? `<a href="/explore/locations/${m.location.id}/${m.location.slug}/">${esc(m.location.name)}</a>` : ''}</header>
    <ul class="_a9z6"><div role="button" class="_a9zr"><h2><a href="/${m.owner.username}/">${esc(m.owner.username)}</a></h2><h1 class="_ap3a _aaco" dir="auto">${caption(m.edge_media_to_caption.edges[0].node.text)}</h1></div>
      <div class="comments">${cm.edges.map(e => comment(e.node)).join('')}</div>
      ${cm.page_info.has_next_page ? `<li><div class="_ab8w"><button class="_abl-" type="button"><div class="_abm0"><svg aria-label="Load more comments" class="x1lliihq" role="img"><title>Load more comments</title></svg></div></button></div></li>` : ''}</ul>
    <section class="_ae5m"><span class="x193iq5w">${m.is_video ? `<span>${m.video_view_count.toLocaleString('en')}</span> views` : `<a href="/p/${m.shortcode}/liked_by/"><span>${m.edge_liked_by.count.toLocaleString('en')}</span> likes</a>`}</span></section>
    <a href="/p/${m.shortcode}/"><time class="x1p4m5qa" datetime="${new Date(m.taken_at_timestamp * 1000).toISOString()}" title="${new Date(m.taken_at_timestamp * 1000).toDateString()}">May 7</time></a></div></article>`;
  let after = cm.page_info.end_cursor;
  main.addEventListener('click', e => {
    const b = e.target.closest('button._abl-'); if (!b) return;
    fetch(`/graphql/query/?query_hash=__HASH__&variables=${encodeURIComponent(JSON.stringify({shortcode: m.shortcode, first: 12, after}))}`, {headers: {'X-IG-App-ID': '__APP_ID__'}})
      .then(r => r.json()).then(j => { const c = j.data.shortcode_media.edge_media_to_parent_comment;
        main.querySelector('.comments').insertAdjacentHTML('beforeend', c.edges.map(e => comment(e.node)).join(''));
        after = c.page_info.end_cursor; if (!c.page_info.has_next_page) b.closest('li').remove(); });
  });
}
function storyViewer(sp) {
  fetch('/api/v1/feed/reels_media/?reel_ids=' + sp.user.id, {headers: {'X-IG-App-ID': '__APP_ID__'}}).then(r => r.json()).then(j => {
    const items = j.reels[sp.user.id].items, cur = items.find(i => i.pk === sp.pk) || items[0];
    const media = cur.video_versions ? `<video class="x1lliihq" playsinline preload="auto" src="${cur.video_versions[0].url}" poster="${cur.image_versions2.candidates[0].url}"></video>`
      : `<img alt="${esc(cur.accessibility_caption || '')}" src="${cur.image_versions2.candidates[0].url}">`;
    main.innerHTML = `<section class="story-viewer" data-pk="${cur.pk}"><header><img alt="" src="${cur.user.profile_pic_url}"><a href="/${sp.user.username}/">${esc(sp.user.username)}</a>
      <time datetime="${new Date(cur.taken_at * 1000).toISOString()}">5h</time></header><div class="story-media">${media}</div>
      <nav class="story-progress">${items.map((it, n) => `<a href="/stories/${sp.user.username}/${it.pk}/" aria-label="Story ${n + 1} of ${items.length}"${it === cur ? ' aria-current="true"' : ''}></a>`).join('')}</nav></section>`;
  });
}
const sd = window._sharedData.entry_data;
if (sd.StoriesPage) storyViewer(sd.StoriesPage[0]);
else if (sd.PostPage) postPage(sd.PostPage[0].graphql.shortcode_media);
else if (sd.HttpErrorPage) main.innerHTML = `__UNAVAILABLE__`;
else { const user = location.pathname.split('/')[1]; window.__user = user;
  fetch('/api/v1/users/web_profile_info/?username=' + encodeURIComponent(user), {headers: {'X-IG-App-ID': '__APP_ID__', 'X-Requested-With': 'XMLHttpRequest'}})
    .then(r => r.json()).then(j => j.data && j.data.user ? grid(j.data.user) : (main.innerHTML = `__UNAVAILABLE__`)); }
})();
""".replace("__UNAVAILABLE__", UNAVAILABLE.replace("\n", ""))

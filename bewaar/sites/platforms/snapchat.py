"""A Snapchat public profile as a logged-out visitor sees it (snapchat.com, a Next.js site).

- /add/HANDLE: rendered on the server, with the page's data in
  <script id="__NEXT_DATA__">: props.pageProps.userProfile.publicProfileInfo (username, title,
  bio, websiteUrl, subscriberCount as a string, profilePictureUrl), story.snapList (the public
  story: snapId, snapMediaType 0 image / 1 video, snapUrls, timestampInSec) and
  spotlightStoryMetadata (the Spotlight videos: videoMetadata with name, description,
  uploadDateMs, viewCount, creator). Spotlight tiles link to /spotlight/ID.
- /spotlight/ID: the video, its description and the first 2 comments in
  pageProps.spotlightFeed; "View more comments" fetches the rest from
  /api/spotlight/ID/comments?offset=N.
- Stories are public (no login); each snap is up for 24 hours.
- login_wall: redirect to /accounts/login ("Log in to Snapchat"); rate_limited: 429 "Too Many
  Requests"; a deleted Spotlight: 404 "Sorry! We couldn't find that Spotlight".
"""

from __future__ import annotations

import html
import json
import re
from datetime import datetime
from typing import Any

from bewaar.sites.httpserver import FixtureServer, Request, Response
from bewaar.sites.media import png, video
from bewaar.sites.platforms.fixture import (
    PlatformSite,
    Post,
    Story,
    default_stories,
    segments,
    with_headers,
)

FIRST_COMMENTS = 2

PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta property="og:site_name" content="Snapchat"><meta property="og:title" content="{og}">
<style>.SpotlightTile {{ display: inline-block; width: 200px; height: 300px }} video {{ width: 320px }}</style></head>
<body><div id="__next"><main>{main}</main></div>
<script id="__NEXT_DATA__" type="application/json">{data}</script>
<script src="/_next/static/chunks/pages/_app.js" defer></script></body></html>"""

LOGIN = """<!DOCTYPE html><html lang="en"><head><title>Log In • Snapchat</title></head><body>
<div id="root"><h1>Log in to Snapchat</h1><form id="login_form" method="post" action="/accounts/login">
<input name="username" id="username" type="text" placeholder="Username or Email Address">
<button type="submit">Next</button></form></div></body></html>"""

TOO_MANY = """<!DOCTYPE html><html><head><title>Too Many Requests</title></head><body>
<h1>Too Many Requests</h1><p>Please try again later.</p></body></html>"""

NOT_FOUND = """<div class="NotFound_container"><h1>Sorry! We couldn't find that Spotlight</h1>
<p>It may have been removed.</p><a href="/">Go to Snapchat</a></div>"""


def ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def short(n: int) -> str:
    return f"{n / 1000:.1f}k".replace(".0k", "k") if n >= 1000 else str(n)


class SnapchatSite(PlatformSite):
    platform = "snapchat"
    has_overlays = False

    def __init__(self) -> None:
        super().__init__()
        self.account.handle = "rijksoverheid"
        for p in self.all_posts():
            if p.author == "MinBZK":
                p.author = self.account.handle
            if not p.reply_to:  # Spotlight is video only
                p.video, p.photos, p.gif, p.audio = True, 0, False, False
                p.title = p.title or p.text.split("\n")[0][:40]
        self.stories = default_stories()

    @property
    def handle_in_seed(self) -> str:  # type: ignore[override]
        return self.account.handle

    def post_page_url(self, post: Post) -> str:
        return f"{self.base_url}/spotlight/{post.id}"

    def expected_profile(self) -> dict[str, Any]:
        a = self.account
        return {
            "handle": a.handle,
            "name": a.name,
            "bio": a.bio,
            "location": a.location,
            "links": [{"url": a.website}],
            "avatar": f"{self.base_url}/media/{a.handle}-avatar.png",
            "counts": {"followers": a.followers},
        }

    def expected_post(self, p: Post, page: str = "post") -> dict[str, Any]:
        exp = super().expected_post(p, page)
        if p.reply_to:
            exp.pop("url")
            return exp | {"counts": {"reactions": p.likes}}
        return exp | {"title": p.title, "counts": {"views": p.views}}

    def login_wall_page(self, req: Request) -> Response:
        return Response.redirect("/accounts/login?continue=" + req.path, 302)

    def rate_limited_page(self, req: Request) -> Response:
        return with_headers(Response.html(TOO_MANY, 429), ("Retry-After", "60"))

    # -- data shapes ------------------------------------------------------------------------
    def creator(self) -> dict[str, Any]:
        a = self.account
        return {"personCreator": {"username": a.handle, "name": a.name,
                                  "url": f"{self.base_url}/add/{a.handle}",
                                  "profilePictureUrl": f"{self.base_url}/media/{a.handle}-avatar.png"}}  # fmt: skip

    def video_metadata(self, p: Post) -> dict[str, Any]:
        base = self.base_url
        return {
            "url": f"{base}/spotlight/{p.id}",
            "videoMetadata": {
                "name": p.title,
                "description": p.text,
                "uploadDateMs": str(ms(p.published)),
                "viewCount": str(p.views),
                "shareCount": str(p.reposts),
                "thumbnailUrl": f"{base}/media/{p.id}-thumb.png",
                "contentUrl": f"{base}/media/{p.id}.mp4",
                "durationMs": "2200",
                "width": 160,
                "height": 90,
                "creator": self.creator(),
            },
            "engagementStats": {"viewCount": str(p.views), "shareCount": str(p.reposts),
                                "commentCount": str(len([r for r in p.replies if not r.deleted]))},
        }  # fmt: skip

    def comment_json(self, c: Post) -> dict[str, Any]:
        return {"commentId": c.id, "text": c.text, "username": c.author, "displayName": c.author_name,
                "profilePictureUrl": f"{self.base_url}/media/{c.author}-avatar.png",
                "createdTimestampMs": str(ms(c.published)), "likeCount": c.likes}  # fmt: skip

    def snap_json(self, st: Story, index: int) -> dict[str, Any]:
        base = self.base_url
        return {
            "snapIndex": index,
            "snapId": {"value": st.id},
            "snapMediaType": 1 if st.video else 0,
            "snapUrls": {"mediaUrl": f"{base}/media/snap-{st.id}.{'mp4' if st.video else 'png'}",
                         "mediaPreviewUrl": {"value": f"{base}/media/snap-{st.id}-preview.png"}},
            "timestampInSec": {"value": str(ms(st.published) // 1000)},
            "snapTitle": st.text,
        }  # fmt: skip

    def profile_data(self) -> dict[str, Any]:
        a, base = self.account, self.base_url
        return {"props": {"pageProps": {
            "userProfile": {"$case": "publicProfileInfo", "publicProfileInfo": {
                "username": a.handle, "title": a.name, "bio": a.bio, "websiteUrl": a.website,
                "address": a.location, "subscriberCount": str(a.followers),
                "profilePictureUrl": f"{base}/media/{a.handle}-avatar.png",
                "squareHeroImageUrl": f"{base}/media/{a.handle}-header.png", "hasStory": bool(self.stories)}},
            "story": {"storyId": {"value": a.handle}, "snapList": [
                self.snap_json(st, i) for i, st in enumerate(self.stories)]},
            "spotlightStoryMetadata": [self.video_metadata(p) for p in self.visible_posts()],
        }}, "page": "/add/[username]", "query": {"username": a.handle}}  # fmt: skip

    def text_html(self, text: str) -> str:
        out = []
        for kind, value in segments(text):
            esc = html.escape(value)
            if kind == "tag":
                out.append(f'<a href="/tag/{value.lower()}">#{esc}</a>')
            elif kind == "mention":
                out.append(f'<a href="/add/{value}">@{esc}</a>')
            elif kind == "url":
                out.append(f'<a href="{html.escape(value, True)}" rel="nofollow">{esc}</a>')
            else:
                out.append(esc.replace("\n", "<br>"))
        return "".join(out)

    def profile_html(self) -> str:
        a, base = self.account, self.base_url
        snaps = "".join(
            f'<div class="StoryTile" data-snap-id="{st.id}"><img src="{base}/media/snap-{st.id}-preview.png" alt=""></div>'
            for st in self.stories
        )
        tiles = "".join(
            f'<a class="SpotlightTile" href="/spotlight/{p.id}"><img src="{base}/media/{p.id}-thumb.png" alt="{html.escape(p.title)}">'
            f'<span class="SpotlightTile_views">{short(p.views)}</span></a>'
            for p in self.visible_posts()
        )
        return f"""<div class="PublicProfileCard_container"><img class="ProfilePicture" src="{base}/media/{a.handle}-avatar.png" alt="{html.escape(a.name)}">
<h1 class="PublicProfileDetailsCard_displayName">{html.escape(a.name)}</h1><div class="PublicProfileDetailsCard_username">{a.handle}</div>
<div class="PublicProfileDetailsCard_subscriberText">{short(a.followers)} Subscribers</div>
<div class="PublicProfileDetailsCard_bio">{self.text_html(a.bio)}</div><div class="PublicProfileDetailsCard_address">{html.escape(a.location)}</div>
<a class="PublicProfileDetailsCard_website" href="{html.escape(a.website, True)}" rel="nofollow">{html.escape(a.website[8:])}</a></div>
<section class="StoryRow"><h2>Story</h2>{snaps}</section><section class="Spotlight"><h2>Spotlight</h2><div class="SpotlightTiles">{tiles}</div></section>"""

    def comment_html(self, c: Post) -> str:
        return (f'<div class="Comment" data-comment-id="{c.id}"><a href="/add/{c.author}"><img src="{self.base_url}/media/{c.author}-avatar.png" alt="">'
                f'<span class="Comment_name">{html.escape(c.author_name)}</span></a><p class="Comment_text">{self.text_html(c.text)}</p>'
                f'<time datetime="{c.published}">1d</time><span class="Comment_likes">{c.likes} likes</span></div>')  # fmt: skip

    def spotlight_html(self, p: Post) -> str:
        a, base = self.account, self.base_url
        shown = [r for r in p.replies if not r.deleted]
        more = '<button class="ViewMoreComments" type="button">View more comments</button>' if len(shown) > FIRST_COMMENTS else ""
        return f"""<article class="SpotlightPage" data-id="{p.id}"><video src="{base}/media/{p.id}.mp4" poster="{base}/media/{p.id}-thumb.png" playsinline preload="metadata"></video>
<a class="SpotlightCreator" href="/add/{a.handle}"><img src="{base}/media/{a.handle}-avatar.png" alt=""><span>{html.escape(a.name)}</span></a>
<h1 class="SpotlightTitle">{html.escape(p.title)}</h1><div class="SpotlightDescription">{self.text_html(p.text)}</div>
<time datetime="{p.published}">{p.published[:10]}</time><span class="SpotlightViews">{short(p.views)} views</span>
<section class="Comments" data-id="{p.id}">{"".join(self.comment_html(c) for c in shown[:FIRST_COMMENTS])}</section>{more}</article>"""  # fmt: skip

    def page(self, title: str, main: str, data: dict[str, Any], status: int = 200) -> Response:
        return Response.html(PAGE.format(title=html.escape(title), og=html.escape(title), main=main,
                                         data=json.dumps(data).replace("</", "<\\/")), status)  # fmt: skip

    # -- routes ----------------------------------------------------------------------------
    def routes(self, server: FixtureServer) -> None:
        site = self

        @server.route("GET", r"/(?:add/|@)(?P<user>[\w.-]+)/?")
        def profile(req: Request, m: re.Match[str]) -> Response:
            if (g := site.gate(req)) is not None:
                return g
            a = site.account
            if m.group("user").lower() != a.handle.lower():
                return site.page("Snapchat", NOT_FOUND, {"props": {"pageProps": {}}}, 404)
            return site.page(f"{a.name} (@{a.handle}) | Snapchat Stories, Spotlight & Lenses",
                             site.profile_html(), site.profile_data())  # fmt: skip

        @server.route("GET", r"/spotlight/(?P<id>[\w-]+)/?")
        def spotlight(req: Request, m: re.Match[str]) -> Response:
            if (g := site.gate(req)) is not None:
                return g
            try:
                p = site.post(m.group("id"))
            except KeyError:
                p = None
            if p is None or p.deleted or p.reply_to:
                return site.page("Snapchat", NOT_FOUND, {"props": {"pageProps": {}}}, 404)
            shown = [r for r in p.replies if not r.deleted]
            data = {"props": {"pageProps": {"spotlightFeed": {"spotlightStories": [{
                "metadata": site.video_metadata(p),
                "comments": [site.comment_json(c) for c in shown[:FIRST_COMMENTS]]}]}}},
                "page": "/spotlight/[id]"}  # fmt: skip
            return site.page(f"{p.title} | Spotlight on Snapchat", site.spotlight_html(p), data)

        @server.route("GET", r"/api/spotlight/(?P<id>[\w-]+)/comments")
        def comments(req: Request, m: re.Match[str]) -> Response:
            if site.mode == "rate_limited":
                return Response.json({"error": "rate limited"}, 429)
            p = site.post(m.group("id"))
            shown = [r for r in p.replies if not r.deleted]
            rest = shown[int(req.arg("offset") or FIRST_COMMENTS):]
            return Response.json({"comments": [site.comment_json(c) for c in rest],
                                  "html": "".join(site.comment_html(c) for c in rest)})  # fmt: skip

        @server.route("GET", r"/accounts/login")
        def login(req: Request, m: re.Match[str]) -> Response:
            return Response.html(LOGIN)

        @server.route("GET", r"/media/(?P<name>[\w.-]+)\.(?P<ext>png|mp4)")
        def media(req: Request, m: re.Match[str]) -> Response:
            if m.group("ext") == "mp4":
                return Response(200, video("mp4"), [("Content-Type", "video/mp4")])
            return Response(200, png(320, 240, m.group("name")), [("Content-Type", "image/png")])

        @server.route("GET", r"/_next/static/chunks/pages/_app\.js")
        def app(req: Request, m: re.Match[str]) -> Response:
            return Response(200, APP_JS.encode(), [("Content-Type", "application/javascript")])


APP_JS = r"""
(() => {
document.addEventListener('click', e => {
  const b = e.target.closest('button.ViewMoreComments'); if (!b) return;
  const list = document.querySelector('section.Comments');
  fetch('/api/spotlight/' + list.dataset.id + '/comments?offset=' + list.querySelectorAll('.Comment').length)
    .then(r => r.json()).then(j => { list.insertAdjacentHTML('beforeend', j.html); b.remove(); });
});
})();
"""

"""A Facebook Page as a logged-out visitor sees it (the "Comet" web app).

- /HANDLE: page header (name, cover img[data-imgperflogname="profileCoverPhoto"], avatar in an
  <svg><image>), "123K likes • 123K followers", an Intro (bio, location, website through
  l.facebook.com), and a feed of div[role="article"] units rendered server-side; long messages
  are cut with a "See more" role=button that reveals the rest.
- /HANDLE/posts/pfbid...: the post with its first 2 comments (div[role="article"][aria-label^=
  "Comment by"]); "View more comments" POSTs /api/graphql/ (form body with doc_id and
  variables, as Facebook does) and appends the rest.
- Dates are shown only as words ("7 May"): there is no machine-readable time in the page.
- Overlays: the cookie dialog (buttons with aria-label "Decline optional cookies" /
  "Allow all cookies") and, after scrolling, a "See more on Facebook" login dialog with a
  Close button.
- Reactions per type in the toolbar's aria-labels ("Like: 1K people", "Love: 185 people").
- /stories/HANDLE/ and /stories/HANDLE/ID/: the story viewer, for logged-in visitors only;
  the bucket's items (creation_time, expiration_time) in the page's script data.
- login_wall: "You must log in to continue." page (redirect to /login/?next=);
  rate_limited: 429 "You're Temporarily Blocked"; a deleted post: "This content isn't available".
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, quote

from bewaar.sites.httpserver import FixtureServer, Request, Response
from bewaar.sites.media import png, video
from bewaar.sites.platforms.fixture import (
    SESSION_COOKIE,
    PlatformSite,
    Post,
    default_stories,
    render_text,
    segments,
    with_headers,
)

SEE_MORE_AT = 60  # characters shown before "See more"
FIRST_COMMENTS = 2
DOC_ID = "7391893457510001"

PAGE = """<!DOCTYPE html><html id="facebook" lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>div[role=dialog] {{ position: fixed; inset: 15% 25%; background: #fff; z-index: 9 }} div[role=article] {{ display: block; min-height: 260px }}</style>
</head><body class="_6s5d"><div id="mount_0_0_Ab"><div role="main">{main}</div></div><div id="dialogs">{cookie}</div>
<script>window.__fb = {data};</script><script src="/rsrc.php/v3/comet.js"></script></body></html>"""

COOKIE = """<div role="dialog" aria-label="Allow the use of cookies from Facebook on this browser?" aria-modal="true">
<h2><span>Allow the use of cookies from Facebook on this browser?</span></h2><span>We use cookies to help personalise content.</span>
<div role="button" tabindex="0" aria-label="Decline optional cookies"><span>Decline optional cookies</span></div>
<div role="button" tabindex="0" aria-label="Allow all cookies"><span>Allow all cookies</span></div></div>"""

LOGIN = """<!DOCTYPE html><html lang="en"><head><title>Log in to Facebook</title></head><body>
<div id="globalContainer"><div class="_4-u2"><div class="_9axz">You must log in to continue.</div>
<form id="login_form" action="/login/device-based/regular/login/" method="post"><input type="text" name="email" placeholder="Email address or phone number">
<input type="password" name="pass" placeholder="Password"><button name="login" type="submit">Log in</button></form></div></div></body></html>"""

BLOCKED = """<!DOCTYPE html><html><head><title>Facebook</title></head><body><div role="main"><h2>You’re Temporarily Blocked</h2>
<p>It looks like you were misusing this feature by going too fast. You’ve been temporarily blocked from using it.</p></div></body></html>"""

UNAVAILABLE = """<div class="x1n2onr6"><h2><span>This content isn't available at the moment</span></h2>
<span>When this happens, it's usually because the owner only shared it with a small group of people, changed who can see it or it's been deleted.</span></div>"""


def fb_short(n: int) -> str:
    """Facebook cuts rather than rounds: 1234 -> 1.2K, 48900 -> 48K, 123456 -> 123K."""
    if n < 1000:
        return str(n)
    if n < 10_000:
        return f"{n // 100 / 10:g}K"
    if n < 1_000_000:
        return f"{n // 1000}K"
    return f"{n // 100_000 / 10:g}M"


def shown_date(iso: str) -> str:
    d = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return f"{d.day} {d:%B}"


def ts(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


def pfbid(post_id: str) -> str:
    return "pfbid0" + hashlib.sha256(post_id.encode()).hexdigest()[:24]


class FacebookSite(PlatformSite):
    platform = "facebook"
    dom_fallback = True

    def __init__(self) -> None:
        super().__init__()
        a = self.account
        # the Page answers in its own comments
        self.posts[1].replies.append(Post(
            id="900009", author=a.handle, author_name=a.name, reply_to=self.posts[1].id,
            text="Dank voor alle reacties! Het antwoord op de DigiD-vraag staat in de FAQ.",
            published="2024-05-06T20:00:00Z", likes=9,
        ))  # fmt: skip
        for p in self.posts:
            like, love, care = p.likes - p.likes * 15 // 100 - p.likes * 5 // 100, p.likes * 15 // 100, p.likes * 5 // 100
            p.reactions = {k: v for k, v in (("like", like), ("love", love), ("care", care)) if v}
        self.stories = default_stories()
        for p in self.all_posts():
            if not p.reply_to:
                p.id = pfbid(p.id)
        for p in self.posts:
            for r in p.replies:
                r.reply_to = p.id
                r.id = "1" + r.id.zfill(15)

    @property
    def handle_in_seed(self) -> str:  # type: ignore[override]
        return self.account.handle

    def post_page_url(self, post: Post) -> str:
        return f"{self.base_url}/{self.account.handle}/posts/{post.id}"

    def expected_profile(self) -> dict[str, Any]:
        a = self.account
        return {
            "handle": a.handle,
            "name": a.name,
            "bio": a.bio,
            "location": a.location,
            "links": [{"url": a.website}],
            "avatar": f"{self.base_url}/v/t39.30808-1/{a.handle}-avatar.png",
            "header": f"{self.base_url}/v/t39.30808-6/{a.handle}-cover.png",
            "counts": {
                "followers": fb_short(a.followers),
                "likes": fb_short(a.likes),
                "following": a.following,
            },
        }

    def expected_post(self, p: Post, page: str = "post") -> dict[str, Any]:
        exp = {
            "id": p.id,
            "text": p.text,
            "hashtags": p.hashtags,
            "published_text": shown_date(p.published),
            "published_at": None,
            "author.handle": p.author,
            "author.name": p.author_name,
        }
        if p.reply_to:
            return exp | {"counts": {"reactions": p.likes}}
        return exp | {
            "url": self.post_page_url(p),
            "links": [{"url": u} for u in p.links],
            "counts": {
                "reactions": fb_short(p.likes) if p.likes >= 1000 else p.likes,
                "replies": len(p.replies),
                "reposts": p.reposts,
            },
        }

    def login_wall_page(self, req: Request) -> Response:
        if req.path.startswith("/login"):
            return Response.html(LOGIN)
        return Response.redirect("/login/?next=" + quote(self.base_url + req.path, safe=""), 302)

    def rate_limited_page(self, req: Request) -> Response:
        return with_headers(Response.html(BLOCKED, 429), ("Retry-After", "600"))

    # -- rendering -------------------------------------------------------------------------
    def message(self, p: Post) -> str:
        parts = []
        for kind, value in segments(p.text):
            esc = html.escape(value)
            if kind == "tag":
                parts.append(f'<a href="/hashtag/{value}?__eep__=6" role="link">#{esc}</a>')
            elif kind == "mention":
                parts.append(f'<a href="/{value}" role="link">@{esc}</a>')
            elif kind == "url":
                parts.append(
                    f'<a href="https://l.facebook.com/l.php?u={quote(value, safe="")}&amp;h=AT0" '
                    f'rel="nofollow noreferrer" target="_blank" role="link">{esc}</a>'
                )
            else:
                parts.append(esc.replace("\n", "<br>"))
        out = "".join(parts)
        if len(p.text) > SEE_MORE_AT:
            short = html.escape(p.text[:SEE_MORE_AT]).replace("\n", "<br>")
            return (
                f'<div dir="auto" data-full="{html.escape(out, True)}">{short}… '
                '<div class="x1i10hfl" role="button" tabindex="0">See more</div></div>'
            )
        return f'<div dir="auto">{out}</div>'

    def media(self, p: Post) -> str:
        base = self.base_url
        out = "".join(
            f'<a href="/photo/?fbid={n}&amp;set=a.1" role="link"><img alt="May be an image of people" src="{base}/v/t39.30808-6/{n}.png" class="x1ey2m1c"></a>'
            for n in p.photo_names()
        )
        if p.video:
            out += f'<div data-pagelet="WatchPermalinkVideo"><video src="{base}/v/t42.1790-2/{p.id}_n.mp4?_nc_cat=1&amp;efg=eyJ2ZW5jb2RlX3RhZyI6In0" playsinline preload="metadata"></video></div>'
        if p.gif:
            out += f'<div><video src="{base}/v/t42.1790-2/{p.id}_gif.mp4" autoplay loop muted playsinline></video><span>GIF</span></div>'
        return out

    def comment(self, c: Post) -> str:
        return (
            f'<div role="article" aria-label="Comment by {html.escape(c.author_name)} {html.escape(shown_date(c.published))}" tabindex="-1" data-comment-id="{c.id}">'
            f'<a href="/{c.author}?comment_id={c.id}" role="link"><span class="x3nfvp2">{html.escape(c.author_name)}</span></a>'
            f'<div dir="auto" class="x1lliihq xjkvuk6">{html.escape(c.text)}</div>'
            f'<ul><li><a href="/{self.account.handle}/posts/{c.reply_to}?comment_id={c.id}" role="link">{html.escape(shown_date(c.published))}</a></li>'
            f'<li><div role="button" aria-label="{c.likes} reactions; see who reacted to this"><span>{c.likes}</span></div></li></ul></div>'
        )

    def article(self, p: Post, full: bool = False) -> str:
        a = self.account
        comments = ""
        if full:
            shown = [r for r in p.replies if not r.deleted][:FIRST_COMMENTS]
            comments = "<div data-comments>" + "".join(self.comment(c) for c in shown) + "</div>"
            if len([r for r in p.replies if not r.deleted]) > FIRST_COMMENTS:
                comments += '<div class="x1i10hfl" role="button" tabindex="0" data-more-comments><span dir="auto">View more comments</span></div>'
        return f"""<div role="article" aria-posinset="1" aria-describedby="{p.id}-msg" data-post-id="{p.id}">
<h2><strong><a href="/{a.handle}" role="link"><span>{html.escape(a.name)}</span></a></strong></h2>
<span><a href="/{a.handle}/posts/{p.id}" role="link" aria-label="{shown_date(p.published)}"><span>{shown_date(p.published)}</span></a> · <svg aria-label="Shared with Public" role="img"></svg></span>
<div data-ad-comet-preview="message" data-ad-preview="message" id="{p.id}-msg">{self.message(p)}</div>{self.media(p)}
<div class="x6s0dn4"><span aria-label="See who reacted to this" role="toolbar">{self.reaction_icons(p)}</span><span class="x1e558r4">{fb_short(p.likes)}</span>
<div role="button" tabindex="0"><span>{len(p.replies)} comments</span></div><div role="button" tabindex="0"><span>{p.reposts} shares</span></div></div>{comments}</div>"""

    def reaction_icons(self, p: Post) -> str:
        return "".join(
            f'<span><div aria-label="{kind.title()}: {fb_short(n)} {"person" if n == 1 else "people"}" role="button">'
            f'<img alt="" height="18" src="data:image/svg+xml,%3Csvg xmlns=%22http://www.w3.org/2000/svg%22/%3E" width="18"></div></span>'
            for kind, n in sorted(p.reactions.items(), key=lambda kv: -kv[1])
        )

    def story_url(self, st: Any) -> str:
        return f"{self.base_url}/stories/{self.account.handle}/{st.id}/"

    def story_html(self, current: Any) -> str:
        a, base = self.account, self.base_url
        media = (f'<video src="{base}/v/t42.1790-2/story-{current.id}_n.mp4" playsinline preload="auto"></video>'
                 if current.video else f'<img alt="{html.escape(current.text)}" src="{base}/v/t39.30808-6/story-{current.id}.png">')
        nav = "".join(
            f'<a href="/{a.handle}/../stories/{a.handle}/{st.id}/" aria-label="Story {i} of {len(self.stories)}" role="link"></a>'
            for i, st in enumerate(self.stories, 1)
        ).replace(f"/{a.handle}/../", "/")
        return (f'<div data-pagelet="Stories"><div class="story-viewer" data-story-id="{current.id}">'
                f'<a href="/{a.handle}" role="link"><svg aria-label="{html.escape(a.name)}" role="img"><image xlink:href="{base}/v/t39.30808-1/{a.handle}-avatar.png"></image></svg>'
                f'<span>{html.escape(a.name)}</span></a><span>5h</span>{media}</div><nav>{nav}</nav></div>')  # fmt: skip

    def profile_html(self) -> str:
        a, base = self.account, self.base_url
        feed = "".join(self.article(p) for p in self.visible_posts())
        bio = render_text(
            a.bio,
            {
                "tag": '<a href="/hashtag/{value}" role="link">#{escaped}</a>',
                "mention": "@{escaped}",
                "url": "{escaped}",
            },
        )
        return f"""<div data-pagelet="ProfileTilesFeed_0"><img data-imgperflogname="profileCoverPhoto" src="{base}/v/t39.30808-6/{a.handle}-cover.png" alt="">
<svg aria-label="{html.escape(a.name)}" role="img"><image xlink:href="{base}/v/t39.30808-1/{a.handle}-avatar.png" height="168" width="168"></image></svg>
<h1 class="html-h1">{html.escape(a.name)}</h1>
<div><a href="/{a.handle}/friends_likes/" role="link">{fb_short(a.likes)} likes</a> • <a href="/{a.handle}/followers/" role="link">{fb_short(a.followers)} followers</a> • <a href="/{a.handle}/following/" role="link">{a.following} following</a></div>
<div data-pagelet="ProfileTilesFeed_1"><h2><span>Intro</span></h2><div class="xieb3on"><span dir="auto">{bio}</span></div>
<ul><li><span>Page · Government organisation</span></li><li><span dir="auto">{html.escape(a.location)}</span></li>
<li><a href="https://l.facebook.com/l.php?u={quote(a.website, safe="")}&amp;h=AT0" rel="nofollow noreferrer" target="_blank" role="link"><span>{html.escape(a.website[8:])}</span></a></li></ul></div></div>
<div role="feed">{feed}</div>"""

    # -- routes ----------------------------------------------------------------------------
    def routes(self, server: FixtureServer) -> None:
        site = self

        def page(title: str, main: str, data: dict[str, Any] | None = None) -> Response:
            return Response.html(
                PAGE.format(
                    title=html.escape(title), main=main, cookie=COOKIE, data=json.dumps(data or {})
                )
            )

        @server.route("GET", r"/login/?")
        def login(req: Request, m: re.Match[str]) -> Response:
            return Response.html(LOGIN)

        @server.route("GET", r"/(?P<handle>[\w.]+)/?")
        def profile(req: Request, m: re.Match[str]) -> Response:
            if (g := site.gate(req)) is not None:
                return g
            return page(f"{site.account.name} | Facebook", site.profile_html())

        @server.route("GET", r"/stories/(?P<handle>[\w.]+)/(?:(?P<id>\d+)/?)?")
        def stories(req: Request, m: re.Match[str]) -> Response:
            if site.mode == "rate_limited":
                return site.rate_limited_page(req)
            if f"{SESSION_COOKIE}=" not in req.headers.get("cookie", ""):
                return Response.redirect("/login/?next=" + quote(site.base_url + req.path, safe=""), 302)
            current = next((st for st in site.stories if st.id == m.group("id")), site.stories[0])
            data = {"stories": [{"id": st.id, "creation_time": ts(st.published),
                                 "expiration_time": ts(st.expires)} for st in site.stories],
                    "current": current.id}  # fmt: skip
            return page("Stories | Facebook", site.story_html(current), data)

        @server.route("GET", r"/(?P<handle>[\w.]+)/posts/(?P<id>[\w]+)/?")
        def post(req: Request, m: re.Match[str]) -> Response:
            if (g := site.gate(req)) is not None:
                return g
            try:
                p = site.post(m.group("id"))
            except KeyError:
                p = None
            if p is None or p.deleted:
                return page("Facebook", UNAVAILABLE)
            return page(
                f"{site.account.name} - {p.text[:40]} | Facebook",
                site.article(p, full=True),
                {"post": p.id},
            )

        @server.route("POST", r"/api/graphql/?")
        def graphql(req: Request, m: re.Match[str]) -> Response:
            form = parse_qs(req.body.decode())
            if form.get("doc_id", [""])[0] != DOC_ID or not form.get("fb_dtsg"):
                return Response.json(
                    {
                        "errors": [
                            {"message": "A server error missing_required_variable_value occured."}
                        ]
                    },
                    200,
                )
            v = json.loads(form["variables"][0])
            p = site.post(v["feedbackID"])
            rest = [r for r in p.replies if not r.deleted][FIRST_COMMENTS:]
            return Response.json(
                {
                    "data": {
                        "node": {
                            "comment_rendering_instance_for_feed_location": {
                                "comments": {
                                    "edges": [
                                        {
                                            "node": {
                                                "legacy_fbid": r.id,
                                                "body": {"text": r.text},
                                                "author": {"name": r.author_name},
                                                "created_time": int(
                                                    datetime.fromisoformat(
                                                        r.published.replace("Z", "+00:00")
                                                    ).timestamp()
                                                ),
                                                "html": site.comment(r),
                                            }
                                        }
                                        for r in rest
                                    ]
                                }
                            }
                        }
                    }
                }
            )

        @server.route("GET", r"/v/(?P<kind>[\w.-]+)/(?P<name>[\w-]+)\.(?P<ext>png|mp4)")
        def media(req: Request, m: re.Match[str]) -> Response:
            if m.group("ext") == "mp4":
                return Response(200, video("mp4"), [("Content-Type", "video/mp4")])
            return Response(200, png(320, 240, m.group("name")), [("Content-Type", "image/png")])

        @server.route("GET", r"/rsrc\.php/v3/comet\.js")
        def js(req: Request, m: re.Match[str]) -> Response:
            return Response(
                200,
                COMET_JS.replace("__DOC__", DOC_ID).encode(),
                [("Content-Type", "application/x-javascript")],
                gzip=True,
            )


COMET_JS = r"""
(() => {
document.addEventListener('click', e => {
  const b = e.target.closest('[role=button]'); if (!b) return;
  const dlg = b.closest('div[role=dialog]');
  if (dlg && (b.getAttribute('aria-label') || '').match(/cookies|Close/)) { dlg.remove(); document.body.style.overflow = ''; return; }
  if (b.textContent.trim() === 'See more') { const box = b.closest('[data-full]'); box.innerHTML = box.dataset.full; box.removeAttribute('data-full'); return; }
  if (b.hasAttribute('data-more-comments')) {
    const body = new URLSearchParams({av: '0', __user: '0', fb_dtsg: 'NAcN' + Date.now(), fb_api_caller_class: 'RelayModern',
      fb_api_req_friendly_name: 'CommentsListComponentsPaginationQuery', doc_id: '__DOC__', variables: JSON.stringify({feedbackID: window.__fb.post, first: 50})});
    fetch('/api/graphql/', {method: 'POST', headers: {'Content-Type': 'application/x-www-form-urlencoded'}, body}).then(r => r.json()).then(j => {
      const list = document.querySelector('[data-comments]');
      j.data.node.comment_rendering_instance_for_feed_location.comments.edges.forEach(ed => list.insertAdjacentHTML('beforeend', ed.node.html));
      b.remove(); });
  }
});
window.addEventListener('scroll', () => {
  if (scrollY < 300 || window.__nag) return; window.__nag = true;
  document.getElementById('dialogs').insertAdjacentHTML('beforeend', `<div role="dialog" aria-label="See more on Facebook"><div role="button" tabindex="0" aria-label="Close"><i></i></div>
    <span>See more on Facebook</span><form><input name="email" placeholder="Email address or phone number"><input type="password" name="pass"><button type="button">Log in</button></form></div>`);
  document.body.style.overflow = 'hidden';
});
})();
"""

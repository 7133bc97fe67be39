"""An example social platform on 127.0.0.1 that loads the way real platforms do.

- /@ACCOUNT: a shell page; the timeline comes from POST /api/timeline (JSON body with a random
  nonce and the client clock, pages chained by an opaque cursor) and loads on infinite scroll
  (IntersectionObserver); the header comes from GET /api/profile?_=<timestamp>.
- images: native lazy loading with srcset, JavaScript lazy loading (data-src), a CSS background,
  a web font; an mp4 served with byte-range support; an HLS stream (fMP4 segments) that
  Chromium plays natively, fetching segments only as playback proceeds; app.js gzip-compressed.
- /@ACCOUNT/post/ID: a shell page that loads its post with GET /api/status/N?_=<clock> and its
  replies with GET /api/status/N/replies?page=N&_=<clock> (N the post's number, unpadded); more
  replies sit behind "Show more replies" / "Meer reacties tonen" buttons. The post and its
  replies share a path prefix, and /api/status/3 is a prefix of /api/status/36: a replay whose
  fuzzy match crosses to another path shows the wrong post, or replies instead of the post.
- widgets on the profile (widgets.js) whose APIs share a path prefix in every way that can
  mislead a prefix lookup, each with a cache-buster: /api/items and /api/items/42,
  /api/feed?cursor=C and /api/feed/more?cursor=C, GET and POST /api/stats, /api/tag and
  /api/tag-cloud, /api/post and /api/posts (see `WIDGETS`).
- a cookie-consent overlay, a 301 redirect (/ACCOUNT -> /@ACCOUNT), a 404 and a 500 page.

All content is derived from `SocialSite.posts`, so tests compare a capture against the site's
own data rather than hard-coded copies.
"""

from __future__ import annotations

import base64
import html
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bewaar.sites.httpserver import FixtureServer, Request, Response
from bewaar.sites.png import png

STATIC = Path(__file__).parent / "static"
PAGE_SIZE = 10
API_LATENCY = 0.08  # seconds; real APIs are not instant and lazy loaders must wait for them
HLS_URL = "/static/hls/stream.m3u8"  # fMP4 segments of clip.mp4, one per second
FEED_CURSOR = "Y3Vyc29yOnRyZW5kaW5nLTE"  # server-issued (in the profile HTML), the same for both
# What each profile widget shows once its API answered: the replay must show the same.
WIDGETS = {
    "items": "Dossiers: Klimaatakkoord, Woningbouw, Stikstof",  # GET /api/items
    "item": "Dossier 42: Klimaatakkoord, bijgewerkt 3 november",  # GET /api/items/42
    "feed": "Trending: #begroting #zorg",  # GET /api/feed?cursor=C
    "feed-more": "Meer trending: #onderwijs #defensie",  # GET /api/feed/more?cursor=C
    "stats": "Weergaven vandaag: 1.234",  # GET /api/stats
    "stats-post": "Bezoek geteld: ja",  # POST /api/stats
    "tag": "Tag van de dag: #overheid",  # GET /api/tag
    "tag-cloud": "Tagwolk: #open #data #wetgeving",  # GET /api/tag-cloud
    "post": "Vastgezet bericht: Welkom bij Ministerie X",  # GET /api/post
    "posts": "Berichten dit jaar: 36",  # GET /api/posts
}


@dataclass
class Post:
    id: str
    text: str
    date: str
    image: bool = True
    lazy_js: bool = False
    video: bool = False
    hls: bool = False  # the video is an HLS stream (played natively by Chromium)
    replies: list[dict[str, str]] = field(default_factory=list)


def _default_posts(account: str, count: int) -> list[Post]:
    posts = []
    for i in range(count, 0, -1):
        pid = f"p{i:03d}"
        n_replies = (2, 5, 8)[i % 3]
        posts.append(
            Post(
                id=pid,
                text=f"Bericht {i} van @{account}: kabinet publiceert besluit #{i} 🇳🇱 #overheid",
                date=f"2026-11-{1 + i % 28:02d}T{8 + i % 10:02d}:00:00Z",
                image=i % 5 != 0,
                lazy_js=i % 4 == 0,
                video=i % 9 == 0 or i % 10 == 7,
                hls=i % 10 == 7,
                replies=[
                    {"id": f"{pid}-r{j}", "author": f"burger{j}", "text": f"Reactie {j} op {pid}"}
                    for j in range(1, n_replies + 1)
                ],
            )
        )
    return posts


class SocialSite:
    """Start with `SocialSite(posts=36).start()`; `base_url`, `profile_url` and `posts` describe it."""

    def __init__(self, account: str = "minx", posts: int = 36) -> None:
        self.account = account
        self.posts: list[Post] = _default_posts(account, posts)
        self.profile: dict[str, Any] = {
            "name": "Ministerie X",
            "bio": "Officieel account van Ministerie X 🏛️",
            "followers": "12,3K",
        }
        self.server = FixtureServer()
        self._routes()

    # -- lifecycle --------------------------------------------------------------------
    def start(self, port: int = 0) -> SocialSite:
        self.server.start(port)
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> SocialSite:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def profile_url(self) -> str:
        return f"{self.base_url}/@{self.account}"

    def post_url(self, post_id: str) -> str:
        return f"{self.base_url}/@{self.account}/post/{post_id}"

    @staticmethod
    def status_number(post_id: str) -> int:
        """p003 -> 3: the API names posts by their number, unpadded."""
        return int(post_id[1:])

    # -- content ----------------------------------------------------------------------
    def _post_json(self, p: Post) -> dict[str, Any]:
        data: dict[str, Any] = {"id": p.id, "text": p.text, "date": p.date, "lazy_js": p.lazy_js}
        if p.image:
            data["image"] = {
                "src": f"/media/img/{p.id}-400.png",
                "srcset": f"/media/img/{p.id}-400.png 400w, /media/img/{p.id}-800.png 800w",
                "alt": f"Afbeelding bij {p.id}",
            }
        if p.video:
            data["video"] = HLS_URL if p.hls else "/static/clip.mp4"
        return data

    @staticmethod
    def _cursor(offset: int) -> str:
        # opaque, server-issued, like real platforms' cursors
        return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")

    @staticmethod
    def _offset(cursor: str | None) -> int:
        if not cursor:
            return 0
        pad = "=" * (-len(cursor) % 4)
        return int(json.loads(base64.urlsafe_b64decode(cursor + pad))["o"])

    def _page(self, title: str, body: str, *scripts: str, extra_head: str = "") -> str:
        tags = "".join(f'<script src="/static/{s}"></script>' for s in scripts)
        return f"""<!doctype html>
<html lang="nl"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="stylesheet" href="/static/app.css">{extra_head}
</head>
<body data-account="{self.account}">
{body}
{tags}
</body></html>"""

    def _post(self, number: str) -> Post | None:
        return next((p for p in self.posts if self.status_number(p.id) == int(number)), None)

    def _routes(self) -> None:
        s = self.server
        acct = self.account

        @s.route("GET", "/")
        def index(req: Request, m: Any) -> Response:
            return Response.html(f'<a href="/@{acct}">@{acct}</a>')

        @s.route("GET", f"/{acct}")
        def old_profile(req: Request, m: Any) -> Response:
            return Response.redirect(f"/@{acct}", 301)

        @s.route("GET", f"/@{acct}")
        def profile(req: Request, m: Any) -> Response:
            body = f"""<div class="consent" role="dialog"><div class="box">
<p>Deze site gebruikt cookies.</p><button type="button">Accept all</button></div></div>
<header class="banner"><img class="avatar" src="/media/img/avatar-64.png" alt="avatar">
<div><h1 id="name"></h1><p id="bio"></p><span id="followers"></span> volgers</div></header>
<aside id="widgets" data-cursor="{FEED_CURSOR}"></aside>
<main><section id="timeline"></section><div id="sentinel"></div></main>"""
            return Response.html(self._page(f"@{acct}", body, "app.js", "widgets.js"))

        @s.route("GET", rf"/@{acct}/post/(?P<pid>[\w-]+)")
        def post_page(req: Request, m: Any) -> Response:
            post = next((p for p in self.posts if p.id == m["pid"]), None)
            if post is None:
                return Response.html("<h1>Dit bericht bestaat niet (meer)</h1>", 404)
            label = "Meer reacties tonen" if int(post.id[1:]) % 2 else "Show more replies"
            # the post and its replies come from the API (post.js); only the shell is HTML
            body = f"""<main id="post" data-status="{self.status_number(post.id)}"
 data-more-label="{label}"></main>
<section id="replies"></section>
<p><a href="/@{acct}">Terug naar @{acct}</a></p>"""
            return Response.html(self._page(f"{acct}: {post.id}", body, "post.js"))

        @s.route("GET", r"/api/status/(?P<n>\d+)")
        def api_status(req: Request, m: Any) -> Response:
            time.sleep(API_LATENCY)
            post = self._post(m["n"])
            if post is None:
                return Response.json({"error": "not found"}, 404)
            return Response.json({**self._post_json(post), "reply_count": len(post.replies)})

        @s.route("GET", r"/api/status/(?P<n>\d+)/replies")
        def api_status_replies(req: Request, m: Any) -> Response:
            time.sleep(API_LATENCY)
            post = self._post(m["n"])
            if post is None:
                return Response.json({"error": "not found"}, 404)
            page = max(1, int(req.arg("page") or 1))
            # page 1 holds the first two replies, later pages three each
            start = 0 if page == 1 else 2 + (page - 2) * 3
            part = post.replies[start : start + (2 if page == 1 else 3)]
            return Response.json(
                {"replies": part, "page": page, "has_more": start + len(part) < len(post.replies)}
            )

        def widget(method: str, path: str, name: str) -> None:
            @s.route(method, path)
            def api_widget(req: Request, m: Any) -> Response:
                time.sleep(API_LATENCY)
                if path.startswith("/api/feed") and req.arg("cursor") != FEED_CURSOR:
                    return Response.json({"error": "bad cursor"}, 400)
                return Response.json({"widget": name, "text": WIDGETS[name]})

        for method, path, name in (
            ("GET", "/api/items", "items"),
            ("GET", "/api/items/42", "item"),
            ("GET", "/api/feed", "feed"),
            ("GET", "/api/feed/more", "feed-more"),
            ("GET", "/api/stats", "stats"),
            ("POST", "/api/stats", "stats-post"),
            ("GET", "/api/tag", "tag"),
            ("GET", "/api/tag-cloud", "tag-cloud"),
            ("GET", "/api/post", "post"),
            ("GET", "/api/posts", "posts"),
        ):
            widget(method, path, name)

        @s.route("GET", "/api/profile")
        def api_profile(req: Request, m: Any) -> Response:
            time.sleep(API_LATENCY)
            return Response.json(self.profile)

        @s.route("POST", "/api/timeline")
        def api_timeline(req: Request, m: Any) -> Response:
            time.sleep(API_LATENCY)
            q = req.json()
            off = self._offset(q.get("cursor"))
            chunk = self.posts[off : off + int(q.get("count") or PAGE_SIZE)]
            nxt = off + len(chunk)
            return Response.json(
                {
                    "posts": [self._post_json(p) for p in chunk],
                    "next_cursor": self._cursor(nxt) if nxt < len(self.posts) else None,
                }
            )

        @s.route("GET", r"/media/img/(?P<name>[\w-]+)-(?P<w>\d+)\.png")
        def image(req: Request, m: Any) -> Response:
            w = min(int(m["w"]), 1600)
            h = w if m["name"] == "avatar" else w * 9 // 16
            return Response(200, png(w, h, m["name"]), [("Content-Type", "image/png")])

        @s.route("GET", "/static/banner.png")
        def banner(req: Request, m: Any) -> Response:
            return Response(200, png(640, 160, "banner"), [("Content-Type", "image/png")])

        @s.route("GET", r"/static/hls/(?P<name>[\w.-]+)")
        def hls(req: Request, m: Any) -> Response:
            path = STATIC / "hls" / m["name"]
            if not path.is_file():
                return Response.html("not found", 404)
            ctype = {".m3u8": "application/vnd.apple.mpegurl", ".mp4": "video/mp4"}.get(
                path.suffix, "video/iso.segment"
            )
            return Response.file(path, ctype)

        @s.route("GET", r"/static/(?P<name>[\w.-]+)")
        def static(req: Request, m: Any) -> Response:
            path = STATIC / m["name"]
            if not path.is_file():
                return Response.html("not found", 404)
            ctype = {
                ".js": "application/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8",
                ".woff": "font/woff",
                ".mp4": "video/mp4",
            }.get(path.suffix)
            return Response.file(path, ctype, gzip=path.suffix in (".js", ".css"))

        @s.route("GET", "/gone")
        def gone(req: Request, m: Any) -> Response:
            return Response.html("<h1>Not found</h1>", 404)

        @s.route("GET", "/broken")
        def broken(req: Request, m: Any) -> Response:
            return Response.html("<h1>Server error</h1>", 500)


if __name__ == "__main__":  # pragma: no cover - manual use: python -m bewaar.sites.social.site
    site = SocialSite().start(8765)
    print(f"serving {site.profile_url}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        site.stop()

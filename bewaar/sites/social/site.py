"""An example social platform on 127.0.0.1 that loads the way real platforms do.

- /@ACCOUNT: a shell page; the timeline comes from POST /api/timeline (JSON body with a random
  nonce and the client clock, pages chained by an opaque cursor) and loads on infinite scroll
  (IntersectionObserver); the header comes from GET /api/profile?_=<timestamp>.
- images: native lazy loading with srcset, JavaScript lazy loading (data-src), a CSS background,
  a web font; an mp4 served with byte-range support; an HLS stream (fMP4 segments) that
  Chromium plays natively, fetching segments only as playback proceeds; app.js gzip-compressed.
- /@ACCOUNT/post/ID: a post page whose replies sit behind "Show more replies" / "Meer reacties
  tonen" buttons that GET /api/replies?post=ID&page=N&_=<timestamp>.
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

    def _page(self, title: str, body: str, script: str, extra_head: str = "") -> str:
        return f"""<!doctype html>
<html lang="nl"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<link rel="stylesheet" href="/static/app.css">{extra_head}
</head>
<body data-account="{self.account}">
{body}
<script src="/static/{script}"></script>
</body></html>"""

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
            body = """<div class="consent" role="dialog"><div class="box">
<p>Deze site gebruikt cookies.</p><button type="button">Accept all</button></div></div>
<header class="banner"><img class="avatar" src="/media/img/avatar-64.png" alt="avatar">
<div><h1 id="name"></h1><p id="bio"></p><span id="followers"></span> volgers</div></header>
<main><section id="timeline"></section><div id="sentinel"></div></main>"""
            return Response.html(self._page(f"@{acct}", body, "app.js"))

        @s.route("GET", rf"/@{acct}/post/(?P<pid>[\w-]+)")
        def post_page(req: Request, m: Any) -> Response:
            post = next((p for p in self.posts if p.id == m["pid"]), None)
            if post is None:
                return Response.html("<h1>Dit bericht bestaat niet (meer)</h1>", 404)
            pj = self._post_json(post)
            media = ""
            if "image" in pj:
                im = pj["image"]
                media += (
                    f'<img loading="lazy" src="{im["src"]}" srcset="{im["srcset"]}" '
                    f'sizes="(max-width: 600px) 400px, 800px" alt="{html.escape(im["alt"])}">'
                )
            if post.video:
                src = HLS_URL if post.hls else "/static/clip.mp4"
                media += f'<video src="{src}" controls preload="metadata"></video>'
            shown = post.replies[:2]
            replies = "".join(
                f'<div class="reply" data-id="{r["id"]}">{html.escape(r["author"])}: '
                f'{html.escape(r["text"])}</div>'
                for r in shown
            )
            label = "Meer reacties tonen" if int(post.id[1:]) % 2 else "Show more replies"
            button = (
                f'<button id="more-replies" data-post="{post.id}">{label}</button>'
                if len(post.replies) > 2
                else ""
            )
            body = f"""<main><article class="post" data-id="{post.id}">
<a class="permalink" href="/@{acct}/post/{post.id}">{post.date}</a>
<p class="text">{html.escape(post.text)}</p>{media}</article>
<section id="replies">{replies}</section>{button}
<p><a href="/@{acct}">Terug naar @{acct}</a></p></main>"""
            return Response.html(self._page(f"{acct}: {post.id}", body, "post.js"))

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

        @s.route("GET", "/api/replies")
        def api_replies(req: Request, m: Any) -> Response:
            time.sleep(API_LATENCY)
            post = next((p for p in self.posts if p.id == req.arg("post")), None)
            if post is None:
                return Response.json({"error": "not found"}, 404)
            page = int(req.arg("page") or 2)
            start = 2 + (page - 2) * 3
            part = post.replies[start : start + 3]
            return Response.json(
                {"replies": part, "has_more": start + 3 < len(post.replies)}
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

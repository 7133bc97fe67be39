"""X (Twitter) as a logged-out visitor sees it: a JavaScript app fed by the GraphQL API.

- /HANDLE and /HANDLE/status/ID: the app shell. main.js activates a guest token
  (POST /1.1/guest/activate.json), then GETs /i/api/graphql/QID/UserByScreenName and
  /i/api/graphql/QID/UserTweets (pages of 3 chained by a Bottom cursor, loaded on scroll) or
  TweetDetail (replies: 2 at first, the rest behind a "Show more replies" cursor cell).
  Variables and features travel JSON-encoded in the query string, with volatile values.
- Tweets render as article[data-testid="tweet"]; emoji as <img alt>; links as t.co with the
  shown URL split into hidden and visible spans, as X does.
- Overlays: a cookie BottomBar and, after scrolling, a login sheetDialog that locks scrolling
  until its close button is clicked.
- /HANDLE/with_replies: UserTweetsAndReplies (the account's posts and its replies in others'
  threads). /search?q=…: SearchTimeline, for logged-in visitors only (X sends others to the
  login flow): "@HANDLE" finds posts mentioning the account, "from:HANDLE until:YYYY-MM-DD"
  its posts before a day, older ones included (the profile timeline stops at ARCHIVE_CUTOFF).
- login_wall: the app redirects to /i/flow/login; rate_limited: the API answers 429 (the page
  itself is 200 and says "Something went wrong"); a deleted post: "this page doesn't exist".
"""

from __future__ import annotations

import json
import re
import zlib
from datetime import datetime
from typing import Any

from bewaar.sites.httpserver import FixtureServer, Request, Response
from bewaar.sites.media import hls_master_playlist, hls_media_playlist, video
from bewaar.sites.platforms.fixture import (
    SESSION_COOKIE,
    PlatformSite,
    Post,
    default_mentions,
    default_threads,
    segments,
    with_headers,
)

PAGE = 3
FIRST_REPLIES = 2
QID = {"UserByScreenName": "G3KGOASz96M-Qu0nwmGXNg", "UserTweets": "E3opETHurmVJflFsUBVuUQ",
       "TweetDetail": "nBS-WpgA6ZG0CyNHD517JQ", "UserTweetsAndReplies": "bt4TKuFz4T7Ckk-VvQVSow",
       "SearchTimeline": "UN1i3zUiCWa-6r-Uaho4fw"}  # fmt: skip

SHELL = """<!DOCTYPE html><html dir="ltr" lang="en"><head><meta charset="utf-8">
<title>{title}</title><meta property="og:site_name" content="X (formerly Twitter)">
<style>[data-hidden] {{ display: none }} #layers > div {{ position: fixed; left: 0; right: 0; bottom: 0; background: #1d9bf0; z-index: 10 }}
[data-testid=sheetDialog] {{ top: 20%; bottom: auto !important; height: 300px; background: #fff !important }}
[data-testid=tweetText] {{ white-space: pre-wrap }} [data-testid=tweetText] div {{ display: inline }}</style>
<script src="/responsive-web/client-web/main.js" defer></script></head>
<body style="background-color: #FFFFFF"><noscript><p>We've detected that JavaScript is disabled in this browser.</p></noscript>
<div id="react-root"><main role="main"><div data-testid="primaryColumn"></div></main></div>
<div id="layers">{cookie_bar}</div></body></html>"""

COOKIE_BAR = """<div data-testid="BottomBar"><div><span>Did someone say … cookies?</span>
<span>X and its partners use cookies to provide you with a better, safer and faster service.</span>
<button role="button" type="button"><span>Accept all cookies</span></button>
<button role="button" type="button"><span>Refuse non-essential cookies</span></button></div></div>"""

LOGIN_FLOW = """<!DOCTYPE html><html lang="en"><head><title>Log in to X / X</title></head><body>
<div id="react-root"><div role="dialog" aria-labelledby="modal-header"><h1 id="modal-header"><span>Sign in to X</span></h1>
<input autocomplete="username" name="text" type="text"><button role="button"><span>Next</span></button>
<a href="/i/flow/password_reset"><span>Forgot password?</span></a></div></div></body></html>"""


def twitter_date(iso: str) -> str:
    dt = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return dt.strftime("%a %b %d %H:%M:%S +0000 %Y")


def tco(url: str) -> str:
    return "https://t.co/" + format(zlib.crc32(url.encode()), "x")


class XSite(PlatformSite):
    platform = "x"
    dom_fallback = True
    handle_in_seed = "MinBZK"

    def __init__(self) -> None:
        super().__init__()
        self.pinned = {self.posts[3].id}
        self.threads = default_threads(self.account.handle)
        self.mentions = default_mentions(self.account.handle)
        # older posts the profile timeline no longer reaches; the search's until: does
        self.archive = [
            Post(id="1660000000000000002", author=self.account.handle, author_name=self.account.name,
                 text="Terugblik op de #Digitaliseringsweek 2023 📸", published="2023-06-01T10:00:00Z",
                 likes=50, reposts=4),
            Post(id="1620000000000000001", author=self.account.handle, author_name=self.account.name,
                 text="Het kabinet is beëdigd. Welkom aan de nieuwe bewindspersonen!",
                 published="2023-02-10T12:00:00Z", likes=900, reposts=300),
        ]  # fmt: skip

    def context_posts(self) -> list[Post]:
        return super().context_posts() + self.archive

    def search(self, query: str) -> list[Post]:
        """What SearchTimeline finds: mentions of @HANDLE, or from:HANDLE [until:DAY]."""
        h = self.account.handle.lower()
        q = query.lower()
        if f"from:{h}" in q:
            m = re.search(r"until:(\d{4}-\d{2}-\d{2})", q)
            posts = self.visible_posts() + self.archive
            if m:
                posts = [p for p in posts if p.published[:10] < m.group(1)]
            return sorted(posts, key=lambda p: p.published, reverse=True)
        if f"@{h}" in q:
            return [p for p in self.mentions if not p.deleted]
        return []

    def post_page_url(self, post: Post) -> str:
        return f"{self.base_url}/{post.author}/status/{post.id}"

    def expected_post_links(self) -> list[str]:
        posts = self.visible_posts()
        first = [p for p in posts if p.id in self.pinned]
        return [self.post_page_url(p) for p in first + [p for p in posts if p not in first]]

    def expected_profile(self) -> dict[str, Any]:
        a = self.account
        return super().expected_profile() | {
            "id": a.id,
            "location": a.location,
            "created_at": a.joined,
            "links": [{"url": a.website}],
            "avatar": f"{self.base_url}/profile_images/{a.id}/{a.handle}_400x400.png",
            "header": f"{self.base_url}/profile_banners/{a.id}/banner-header.png",
        }

    def expected_post(self, p: Post, page: str = "post") -> dict[str, Any]:
        exp = super().expected_post(p, page) | {
            "counts": {"reactions": p.likes, "reposts": p.reposts, "replies": len(p.replies)},
            "mentions": [{"handle": m} for m in p.mentions],
            "links": [{"url": u} for u in p.links],
            "language": "nl",
        }
        if p.views:
            exp["counts"]["views"] = p.views
        return exp

    def login_wall_page(self, req: Request) -> Response:
        return self.shell(req)  # the app itself sends the visitor to the login flow

    def rate_limited_page(self, req: Request) -> Response:
        return self.shell(req)  # the page loads; its API calls answer 429

    def shell(self, req: Request, title: str = "X") -> Response:
        return Response.html(SHELL.format(title=title, cookie_bar=COOKIE_BAR), gzip=True)

    # -- GraphQL shapes -------------------------------------------------------------------
    def user_result(self) -> dict[str, Any]:
        a, base = self.account, self.base_url
        return {
            "__typename": "User",
            "id": "VXNlcjo" + a.id,
            "rest_id": a.id,
            "is_blue_verified": False,
            "legacy": {
                "created_at": twitter_date(a.joined),
                "description": a.bio,
                "entities": {
                    "description": {"urls": []},
                    "url": {
                        "urls": [
                            {
                                "display_url": a.website[12:],
                                "expanded_url": a.website,
                                "url": tco(a.website),
                                "indices": [0, 23],
                            }
                        ]
                    },
                },
                "followers_count": a.followers,
                "friends_count": a.following,
                "statuses_count": a.posts,
                "favourites_count": 10,
                "location": a.location,
                "name": a.name,
                "screen_name": a.handle,
                "profile_banner_url": f"{base}/profile_banners/{a.id}/banner-header.png",
                "profile_image_url_https": f"{base}/profile_images/{a.id}/{a.handle}_normal.png",
                "url": tco(a.website),
                "verified": False,
            },
        }

    def tweet_result(self, p: Post) -> dict[str, Any]:
        base = self.base_url
        text, urls, tags, mentions = "", [], [], []
        for kind, value in segments(p.text):
            start = len(text)
            if kind == "url":
                short = tco(value)
                text += short
                urls.append(
                    {
                        "url": short,
                        "expanded_url": value,
                        "display_url": value[12:40] + "…",
                        "indices": [start, len(text)],
                    }
                )
                continue
            shown = value if kind == "text" else ("#" if kind == "tag" else "@") + value
            text += shown.replace("&", "&amp;")
            if kind == "tag":
                tags.append({"text": value, "indices": [start, len(text)]})
            elif kind == "mention":
                mentions.append(
                    {
                        "screen_name": value,
                        "name": value,
                        "id_str": str(zlib.crc32(value.encode())),
                        "indices": [start, len(text)],
                    }
                )
        shown_end = len(text)
        media = []
        for name in p.photo_names():
            media.append(
                {
                    "type": "photo",
                    "id_str": name,
                    "media_url_https": f"{base}/media/{name}.png",
                    "url": tco(name),
                    "display_url": "pic.x.com/" + name,
                    "ext_alt_text": f"Foto {name}",
                    "original_info": {"width": 320, "height": 240},
                }
            )
        if p.video or p.gif:
            kind = "video" if p.video else "animated_gif"
            folder = "ext_tw_video" if p.video else "tweet_video"
            variants = [
                {
                    "bitrate": 256000,
                    "content_type": "video/mp4",
                    "url": f"{base}/{folder}/{p.id}/pu/vid/160x90/clip.mp4",
                }
            ]
            if p.video:
                variants.insert(
                    0,
                    {
                        "content_type": "application/x-mpegURL",
                        "url": f"{base}/{folder}/{p.id}/pu/pl/clip.m3u8",
                    },
                )
            media.append(
                {
                    "type": kind,
                    "id_str": p.id + "v",
                    "media_url_https": f"{base}/{folder}_thumb/{p.id}/pu/img/thumb.png",
                    "url": tco(p.id),
                    "display_url": "pic.x.com/" + p.id,
                    "original_info": {"width": 160, "height": 90},
                    "video_info": {"duration_millis": 2200, "variants": variants},
                }
            )
        if media:
            text += " " + media[0]["url"]
        author = (
            self.user_result()
            if p.author == self.account.handle
            else {
                "__typename": "User",
                "rest_id": str(zlib.crc32(p.author.encode())),
                "legacy": {
                    "name": p.author_name,
                    "screen_name": p.author,
                    "profile_image_url_https": f"{base}/profile_images/x/{p.author}_normal.png",
                },
            }
        )
        legacy = {
            "id_str": p.id,
            "conversation_id_str": p.reply_to or p.id,
            "created_at": twitter_date(p.published),
            "full_text": text,
            "display_text_range": [0, shown_end],
            "entities": {
                "hashtags": tags,
                "user_mentions": mentions,
                "urls": urls,
                "symbols": [],
                **({"media": media} if media else {}),
            },
            **({"extended_entities": {"media": media}} if media else {}),
            "favorite_count": p.likes,
            "retweet_count": p.reposts,
            "reply_count": len(p.replies),
            "quote_count": 0,
            "bookmark_count": 0,
            "lang": "nl",
            "in_reply_to_status_id_str": p.reply_to,
            "in_reply_to_screen_name": self.post(p.reply_to).author if p.reply_to else None,
            "user_id_str": author["rest_id"],
        }
        result: dict[str, Any] = {
            "__typename": "Tweet",
            "rest_id": p.id,
            "core": {"user_results": {"result": author}},
            "legacy": legacy,
        }
        if p.views:
            result["views"] = {"count": str(p.views), "state": "EnabledWithCount"}
        return result

    def entry(self, p: Post, prefix: str = "tweet") -> dict[str, Any]:
        return {
            "entryId": f"{prefix}-{p.id}",
            "sortIndex": p.id,
            "content": {
                "entryType": "TimelineTimelineItem",
                "__typename": "TimelineTimelineItem",
                "itemContent": {
                    "itemType": "TimelineTweet",
                    "__typename": "TimelineTweet",
                    "tweet_results": {"result": self.tweet_result(p)},
                },
            },
        }

    # -- routes ----------------------------------------------------------------------------
    def routes(self, server: FixtureServer) -> None:
        site = self

        def api_gate(req: Request) -> Response | None:
            if not req.headers.get("authorization", "").startswith(
                "Bearer "
            ) or not req.headers.get("x-guest-token"):
                return Response.json({"errors": [{"message": "Bad guest token", "code": 239}]}, 403)
            if site.mode == "rate_limited":
                return with_headers(
                    Response.json(
                        {"errors": [{"code": 88, "message": "Rate limit exceeded."}]}, 429
                    ),
                    ("x-rate-limit-remaining", "0"),
                )
            return None

        def variables(req: Request) -> dict[str, Any]:
            v = json.loads(req.arg("variables") or "{}")
            json.loads(req.arg("features") or "{}")  # must be present and valid, like X's
            return v

        @server.route("GET", r"/(?P<user>\w+)")
        def profile(req: Request, m: re.Match[str]) -> Response:
            if m.group("user") in ("i", "hashtag"):
                return Response.html("<h1>Not found</h1>", 404)
            if m.group("user") == "search":
                return site.shell(req, "Search / X")
            return site.shell(req, f"{site.account.name} (@{site.account.handle}) / X")

        @server.route("GET", r"/(?P<user>\w+)/with_replies")
        def with_replies(req: Request, m: re.Match[str]) -> Response:
            return site.shell(req, f"Posts with replies by {site.account.name} (@{site.account.handle}) / X")

        @server.route("GET", r"/(?P<user>\w+)/status/(?P<id>\d+)(?:/\w+(?:/\d+)?)?")
        def status(req: Request, m: re.Match[str]) -> Response:
            return site.shell(req)

        @server.route("GET", r"/i/flow/login")
        def login(req: Request, m: re.Match[str]) -> Response:
            return Response.html(LOGIN_FLOW)

        @server.route("POST", r"/1\.1/guest/activate\.json")
        def activate(req: Request, m: re.Match[str]) -> Response:
            return Response.json({"guest_token": "17900000000000" + str(len(server.log))})

        @server.route("GET", r"/i/api/graphql/(?P<qid>[\w-]+)/UserByScreenName")
        def user_by_name(req: Request, m: re.Match[str]) -> Response:
            if (g := api_gate(req)) is not None:
                return g
            if variables(req).get("screen_name", "").lower() != site.account.handle.lower():
                return Response.json({"data": {}})
            return Response.json({"data": {"user": {"result": site.user_result()}}})

        @server.route("GET", r"/i/api/graphql/(?P<qid>[\w-]+)/SearchTimeline")
        def search_timeline(req: Request, m: re.Match[str]) -> Response:
            if (g := api_gate(req)) is not None:
                return g
            if f"{SESSION_COOKIE}=" not in req.headers.get("cookie", ""):
                return Response.json({"errors": [{"message": "Could not authenticate you", "code": 32}]}, 401)
            v = variables(req)
            posts = site.search(v.get("rawQuery", ""))
            start = int(v.get("cursor") or 0)
            page = posts[start : start + int(v.get("count") or PAGE)]
            entries = [site.entry(p) for p in page]
            if start + len(page) < len(posts):
                entries.append({"entryId": "cursor-bottom-0", "content": {
                    "entryType": "TimelineTimelineCursor", "cursorType": "Bottom",
                    "value": str(start + len(page))}})  # fmt: skip
            return Response.json({"data": {"search_by_raw_query": {"search_timeline": {"timeline": {
                "instructions": [{"type": "TimelineAddEntries", "entries": entries}]}}}}})  # fmt: skip

        @server.route("GET", r"/i/api/graphql/(?P<qid>[\w-]+)/(?P<op>UserTweets|UserTweetsAndReplies)")
        def user_tweets(req: Request, m: re.Match[str]) -> Response:
            if (g := api_gate(req)) is not None:
                return g
            v = variables(req)
            posts = [p for p in site.visible_posts() if p.id not in site.pinned]
            if m.group("op") == "UserTweetsAndReplies":
                posts = sorted(site.visible_posts() + site.own_replies(), key=lambda p: p.published, reverse=True)
            start = int(v.get("cursor") or 0)
            page = posts[start : start + int(v.get("count") or PAGE)]
            instructions: list[dict[str, Any]] = []
            if start == 0 and site.pinned and m.group("op") == "UserTweets":
                pins = [p for p in site.visible_posts() if p.id in site.pinned]
                if pins:
                    instructions.append({"type": "TimelinePinEntry", "entry": site.entry(pins[0])})
            entries = [site.entry(p) for p in page]
            if start + len(page) < len(posts):
                entries.append(
                    {
                        "entryId": "cursor-bottom-0",
                        "content": {
                            "entryType": "TimelineTimelineCursor",
                            "cursorType": "Bottom",
                            "value": str(start + len(page)),
                        },
                    }
                )
            instructions.append({"type": "TimelineAddEntries", "entries": entries})
            return Response.json(
                {
                    "data": {
                        "user": {
                            "result": {
                                "__typename": "User",
                                "timeline_v2": {"timeline": {"instructions": instructions}},
                            }
                        }
                    }
                },
                gzip=True,
            )

        @server.route("GET", r"/i/api/graphql/(?P<qid>[\w-]+)/TweetDetail")
        def tweet_detail(req: Request, m: re.Match[str]) -> Response:
            if (g := api_gate(req)) is not None:
                return g
            v = variables(req)
            try:
                p = site.post(str(v.get("focalTweetId")))
            except KeyError:
                return Response.json({"data": {}})
            if p.deleted:
                return Response.json({"data": {}})
            replies = [r for r in p.replies if not r.deleted]
            cursor = v.get("cursor")
            entries: list[dict[str, Any]] = []
            if not cursor:
                if p.reply_to:
                    entries.append(site.entry(site.post(p.reply_to)))
                entries.append(site.entry(p))
                shown = replies[:FIRST_REPLIES]
            else:
                shown = replies[FIRST_REPLIES:]
            for r in shown:
                entries.append(
                    {
                        "entryId": f"conversationthread-{r.id}",
                        "content": {
                            "entryType": "TimelineTimelineModule",
                            "items": [
                                {
                                    "entryId": f"conversationthread-{r.id}-tweet-{r.id}",
                                    "item": {
                                        "itemContent": {
                                            "itemType": "TimelineTweet",
                                            "tweet_results": {"result": site.tweet_result(r)},
                                        }
                                    },
                                }
                            ],
                        },
                    }
                )
            if not cursor and len(replies) > FIRST_REPLIES:
                entries.append(
                    {
                        "entryId": "cursor-showmorethreads-0",
                        "content": {
                            "entryType": "TimelineTimelineItem",
                            "itemContent": {
                                "itemType": "TimelineTimelineCursor",
                                "cursorType": "ShowMoreThreads",
                                "value": "more",
                                "displayTreatment": {"actionText": "Show more replies"},
                            },
                        },
                    }
                )
            return Response.json(
                {
                    "data": {
                        "threaded_conversation_with_injections_v2": {
                            "instructions": [{"type": "TimelineAddEntries", "entries": entries}]
                        }
                    }
                }
            )

        @server.route("GET", r"/responsive-web/client-web/main\.js")
        def main_js(req: Request, m: re.Match[str]) -> Response:
            js = MAIN_JS.replace("__QID__", json.dumps(QID)).replace(
                "__MODE__", "login_wall" if site.walled(req) else "open"
            ).replace("__SESSION__", "true" if f"{SESSION_COOKIE}=" in req.headers.get("cookie", "") else "false")
            return Response(
                200, js.encode(), [("Content-Type", "application/javascript")], gzip=True
            )

        @server.route("GET", r"/(?:ext_tw_video|tweet_video)/(?P<id>\d+)/pu/vid/\w+/clip\.mp4")
        def mp4(req: Request, m: re.Match[str]) -> Response:
            return Response(200, video("mp4"), [("Content-Type", "video/mp4")])

        @server.route("GET", r"/ext_tw_video/(?P<id>\d+)/pu/pl/clip\.m3u8")
        def master(req: Request, m: re.Match[str]) -> Response:
            body = hls_master_playlist(f"/ext_tw_video/{m.group('id')}/pu/pl/avc1/160x90/clip.m3u8")
            return Response(200, body.encode(), [("Content-Type", "application/x-mpegURL")])

        @server.route("GET", r"/ext_tw_video/(?P<id>\d+)/pu/pl/avc1/160x90/clip\.m3u8")
        def media_playlist(req: Request, m: re.Match[str]) -> Response:
            body = hls_media_playlist(
                video("mp4"), f"/ext_tw_video/{m.group('id')}/pu/vid/160x90/clip.mp4"
            )
            return Response(200, body.encode(), [("Content-Type", "application/x-mpegURL")])

        @server.route("GET", r"/emoji/v2/svg/(?P<code>[\w-]+)\.svg")
        def emoji(req: Request, m: re.Match[str]) -> Response:
            svg = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 36 36"><circle cx="18" cy="18" r="16" fill="#fc3"/></svg>'
            return Response(200, svg.encode(), [("Content-Type", "image/svg+xml")])

        self.media_routes(
            server,
            r"/(?:media|profile_images/\w+|profile_banners/\w+|(?:ext_tw_video|tweet_video)_thumb/\d+/pu/img)",
        )


MAIN_JS = r"""
(() => {
const QID = __QID__, BEARER = 'Bearer AAAAAAAAAAAAAAAAAAAAANRILgAAAAAAnNwIzUejRCOuH5E6I8xnZz4puTs%3D';
const col = document.querySelector('[data-testid="primaryColumn"]');
const esc = s => String(s).replace(/[&<>"]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
const short = n => n >= 1e6 ? (n/1e6).toFixed(1).replace(/\.0$/,'') + 'M' : n >= 1e4 ? (n/1e3).toFixed(1).replace(/\.0$/,'') + 'K' : n.toLocaleString('en');
const features = JSON.stringify({responsive_web_graphql_timeline_navigation_enabled: true, view_counts_everywhere_api_enabled: true, longform_notetweets_consumption_enabled: true, rweb_ts: Date.now()});
let guest = null;
const gql = (op, vars) => (guest ? Promise.resolve(guest) : fetch('/1.1/guest/activate.json', {method: 'POST', headers: {authorization: BEARER}}).then(r => r.json()).then(j => guest = j.guest_token))
  .then(tok => fetch(`/i/api/graphql/${QID[op]}/${op}?variables=${encodeURIComponent(JSON.stringify(vars))}&features=${encodeURIComponent(features)}`,
    {headers: {authorization: BEARER, 'x-guest-token': tok, 'x-twitter-active-user': 'yes', 'x-client-transaction-id': Math.random().toString(36).slice(2)}}))
  .then(r => { if (!r.ok) throw r; return r.json(); });
const emoji = t => t.replace(/(\p{Extended_Pictographic}\uFE0F?)/gu, e => `<img alt="${e}" draggable="false" src="/emoji/v2/svg/${[...e].map(c => c.codePointAt(0).toString(16)).filter(c => c !== 'fe0f').join('-')}.svg" style="height:1.2em">`);
const unesc = s => s.replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>');

function tweetText(l) {
  // X's indices count code points, not UTF-16 units
  const cp = [...l.full_text], slice = (a, b) => cp.slice(a, b).join('');
  const ents = [...l.entities.hashtags.map(h => ['tag', h]), ...l.entities.user_mentions.map(u => ['mention', u]), ...l.entities.urls.map(u => ['url', u])].sort((a, b) => a[1].indices[0] - b[1].indices[0]);
  let out = '', pos = 0; const end = l.display_text_range[1];
  const plain = s => `<span>${emoji(esc(unesc(s)))}</span>`;
  for (const [kind, e] of ents) {
    out += plain(slice(pos, e.indices[0]));
    if (kind === 'tag') out += `<span class="r-18u37iz"><a dir="ltr" href="/hashtag/${e.text}?src=hashtag_click" role="link">#${esc(e.text)}</a></span>`;
    if (kind === 'mention') out += `<div class="css-175oi2r r-xoduu5"><span class="r-18u37iz"><a dir="ltr" href="/${e.screen_name}" role="link">@${esc(e.screen_name)}</a></span></div>`;
    if (kind === 'url') { const full = e.expanded_url, m = full.match(/^(https?:\/\/(?:www\.)?)(.*)$/), vis = m[2].slice(0, 25), rest = m[2].slice(25);
      out += `<a dir="ltr" href="${e.url}" rel="noopener noreferrer nofollow" target="_blank" role="link"><span aria-hidden="true" data-hidden>${esc(m[1])}</span>${esc(vis)}<span aria-hidden="true" data-hidden>${esc(rest)}</span>${rest ? '<span aria-hidden="true">…</span>' : ''}</a>`; }
    pos = e.indices[1];
  }
  out += plain(slice(pos, end));
  return out;
}

function tweet(res, opts = {}) {
  const l = res.legacy, u = res.core.user_results.result.legacy, id = l.id_str;
  const media = (l.extended_entities || {}).media || [];
  const photos = media.filter(m => m.type === 'photo').map((m, i) => `<a href="/${u.screen_name}/status/${id}/photo/${i + 1}" role="link"><div data-testid="tweetPhoto"><img alt="${esc(m.ext_alt_text || 'Image')}" draggable="true" src="${m.media_url_https}?format=png&name=small"></div></a>`).join('');
  const vids = media.filter(m => m.video_info).map(m => { const mp4 = m.video_info.variants.filter(v => v.content_type === 'video/mp4')[0];
    return `<div data-testid="videoComponent"><div data-testid="videoPlayer"><video preload="none" playsinline aria-label="Embedded video" poster="${m.media_url_https}" ${m.type === 'animated_gif' ? 'autoplay loop muted' : ''}><source type="video/mp4" src="${mp4.url}"></video>${m.type === 'animated_gif' ? '<span>GIF</span>' : ''}</div></div>`; }).join('');
  const views = res.views && res.views.count ? +res.views.count : null;
  const date = new Date(l.created_at);
  const label = date.toLocaleDateString('en', {month: 'short', day: 'numeric'});
  return `<div data-testid="cellInnerDiv"><div><article data-testid="tweet" role="article" tabindex="0">
    ${opts.pinned ? '<div data-testid="socialContext"><span>Pinned</span></div>' : ''}
    <div data-testid="Tweet-User-Avatar"><a href="/${u.screen_name}" role="link"><img alt="" src="${u.profile_image_url_https}"></a></div>
    <div data-testid="User-Name"><a href="/${u.screen_name}" role="link"><span>${emoji(esc(u.name))}</span></a><a href="/${u.screen_name}" role="link" tabindex="-1"><span>@${esc(u.screen_name)}</span></a>
      <a href="/${u.screen_name}/status/${id}" dir="ltr" aria-label="${label}" role="link"><time datetime="${date.toISOString()}">${label}</time></a></div>
    ${l.in_reply_to_screen_name ? `<div>Replying to <a href="/${l.in_reply_to_screen_name}" role="link">@${l.in_reply_to_screen_name}</a></div>` : ''}
    <div data-testid="tweetText" lang="${l.lang}" dir="auto">${tweetText(l)}</div>${photos}${vids}
    <div role="group" aria-label="${l.reply_count} replies, ${l.retweet_count} reposts, ${l.favorite_count} likes${views ? ', ' + views + ' views' : ''}">
      <button data-testid="reply" aria-label="${l.reply_count} Replies. Reply" role="button"><span data-testid="app-text-transition-container"><span>${l.reply_count ? short(l.reply_count) : ''}</span></span></button>
      <button data-testid="retweet" aria-label="${l.retweet_count} reposts. Repost" role="button"><span data-testid="app-text-transition-container"><span>${short(l.retweet_count)}</span></span></button>
      <button data-testid="like" aria-label="${l.favorite_count} Likes. Like" role="button"><span data-testid="app-text-transition-container"><span>${short(l.favorite_count)}</span></span></button>
      ${views ? `<a href="/${u.screen_name}/status/${id}/analytics" aria-label="${views} views. View post analytics" role="link"><span data-testid="app-text-transition-container"><span>${short(views)}</span></span></a>` : ''}
    </div></article></div></div>`;
}

function header(r) {
  const l = r.legacy, h = l.screen_name, joined = new Date(l.created_at).toLocaleDateString('en', {month: 'long', year: 'numeric'});
  const url = l.entities.url.urls[0];
  return `<div><h2 role="heading"><span>${emoji(esc(l.name))}</span></h2><div>${l.statuses_count.toLocaleString('en')} posts</div></div>
  <a href="/${h}/header_photo" role="link"><img alt="" src="${l.profile_banner_url}"></a>
  <a href="/${h}/photo" role="link"><img alt="Opens profile photo" src="${l.profile_image_url_https.replace('_normal', '_400x400')}"></a>
  <div data-testid="UserName"><div><span>${emoji(esc(l.name))}</span></div><div><span>@${esc(h)}</span></div></div>
  <div data-testid="UserDescription" dir="auto" lang="nl">${emoji(esc(l.description)).replace(/#(\w+)/g, '<a href="/hashtag/$1?src=hashtag_click">#$1</a>')}</div>
  <div data-testid="UserProfileHeader_Items"><span data-testid="UserLocation"><span>${esc(l.location)}</span></span>
    <a data-testid="UserUrl" href="${url.url}" rel="me noopener noreferrer nofollow" target="_blank"><span>${esc(url.display_url)}</span></a>
    <span data-testid="UserJoinDate"><span>Joined ${joined}</span></span></div>
  <div><a href="/${h}/following" role="link"><span>${short(l.friends_count)}</span> <span>Following</span></a>
    <a href="/${h}/verified_followers" role="link"><span>${short(l.followers_count)}</span> <span>Followers</span></a></div>
  <nav role="navigation"><a href="/${h}" role="tab" aria-selected="true">Posts</a><a href="/${h}/with_replies" role="tab">Replies</a><a href="/${h}/media" role="tab">Media</a></nav>
  <section aria-labelledby="accessible-list-0" role="region"><h1 id="accessible-list-0">${esc(l.name)}’s posts</h1><div aria-label="Timeline: ${esc(l.name)}’s posts"><div class="timeline"></div></div></section>`;
}

function error(e) {
  if (e && e.status === 429) col.innerHTML = '<div><span>Something went wrong. Try reloading.</span><button role="button"><span>Retry</span></button></div>';
  else col.innerHTML = '<div data-testid="error-detail"><span>Hmm...this page doesn’t exist. Try searching for something else.</span></div>';
}

function loginSheet() {
  if (document.querySelector('[data-testid="sheetDialog"]') || window.__sheetShown) return;
  window.__sheetShown = true;
  document.getElementById('layers').insertAdjacentHTML('beforeend', `<div data-testid="sheetDialog" role="dialog" aria-modal="true"><div><span>Don’t miss what’s happening</span><span>People on X are the first to know.</span>
    <a href="/i/flow/login" role="link"><span>Log in</span></a><a href="/i/flow/signup" role="link"><span>Sign up</span></a>
    <button data-testid="app-bar-close" aria-label="Close" role="button">×</button></div></div>`);
  document.documentElement.style.overflow = 'hidden';
}
document.addEventListener('click', e => {
  const b = e.target.closest('button');
  if (!b) return;
  if (b.dataset.testid === 'app-bar-close') { b.closest('[data-testid="sheetDialog"]').remove(); document.documentElement.style.overflow = ''; }
  if (b.closest('[data-testid="BottomBar"]')) b.closest('[data-testid="BottomBar"]').remove();
});

const parts = location.pathname.split('/').filter(Boolean);
if ('__MODE__' === 'login_wall') { location.replace('/i/flow/login?redirect_after_login=' + encodeURIComponent(location.pathname)); return; }

const searching = parts[0] === 'search';
if (searching && !__SESSION__) { location.replace('/i/flow/login?redirect_after_login=' + encodeURIComponent(location.pathname + location.search)); return; }
if (parts.length === 1 || parts[1] === 'with_replies') {
  let cursor = null, done = false, busy = false, userId = null;
  const op = searching ? 'SearchTimeline' : parts[1] === 'with_replies' ? 'UserTweetsAndReplies' : 'UserTweets';
  const rawQuery = new URLSearchParams(location.search).get('q') || '';
  const more = () => { if (done || busy) return; busy = true;
    gql(op, searching ? {rawQuery, count: 3, cursor, querySource: 'typed_query', product: 'Latest'} : {userId, count: 3, cursor, includePromotedContent: true, withVoice: true}).then(j => {
      const ins = searching ? j.data.search_by_raw_query.search_timeline.timeline.instructions : j.data.user.result.timeline_v2.timeline.instructions, tl = col.querySelector('.timeline');
      done = true;
      for (const i of ins) {
        if (i.type === 'TimelinePinEntry') tl.insertAdjacentHTML('beforeend', tweet(i.entry.content.itemContent.tweet_results.result, {pinned: true}));
        for (const e of i.entries || []) {
          if (e.content.cursorType === 'Bottom') { cursor = e.content.value; done = false; }
          else if (e.content.itemContent) tl.insertAdjacentHTML('beforeend', tweet(e.content.itemContent.tweet_results.result));
        }
      }
      busy = false;
    }).catch(error); };
  if (searching) { col.innerHTML = `<div data-testid="searchResults"><h2 role="heading">Search results for ${esc(rawQuery)}</h2><section role="region"><div class="timeline"></div></section></div>`; more(); }
  else gql('UserByScreenName', {screen_name: parts[0], withSafetyModeUserFields: true}).then(j => {
    if (!j.data.user) return error();
    const r = j.data.user.result; userId = r.rest_id; col.innerHTML = header(r); more();
  }).catch(error);
  window.addEventListener('scroll', () => { if (scrollY > 400) loginSheet(); if (innerHeight + scrollY >= document.body.scrollHeight - 300) more(); });
} else {
  const id = parts[2];
  const add = j => {
    if (!j.data.threaded_conversation_with_injections_v2) return error();
    for (const e of j.data.threaded_conversation_with_injections_v2.instructions[0].entries) {
      const c = e.content;
      if (c.items) c.items.forEach(i => col.insertAdjacentHTML('beforeend', tweet(i.item.itemContent.tweet_results.result)));
      else if (c.itemContent && c.itemContent.cursorType === 'ShowMoreThreads')
        col.insertAdjacentHTML('beforeend', `<div data-testid="cellInnerDiv"><div><div role="button" tabindex="0" data-cursor="${c.itemContent.value}"><span>${c.itemContent.displayTreatment.actionText}</span></div></div></div>`);
      else if (c.itemContent) col.insertAdjacentHTML('beforeend', tweet(c.itemContent.tweet_results.result));
    }
  };
  gql('TweetDetail', {focalTweetId: id, with_rux_injections: false, includePromotedContent: true, withCommunity: true}).then(add).catch(error);
  col.addEventListener('click', e => { const b = e.target.closest('[data-cursor]'); if (!b) return;
    const cur = b.dataset.cursor; b.closest('[data-testid="cellInnerDiv"]').remove();
    gql('TweetDetail', {focalTweetId: id, cursor: cur, referrer: 'tweet'}).then(add).catch(error); });
}
})();
"""

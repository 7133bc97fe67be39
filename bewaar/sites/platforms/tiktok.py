"""TikTok as a logged-out visitor sees it.

- /@HANDLE: the user comes in the rehydration JSON
  (<script id="__UNIVERSAL_DATA_FOR_REHYDRATION__">, scope "webapp.user-detail"); the video grid
  loads from GET /api/post/item_list/?secUid=...&cursor=...&count=3 with volatile signature
  parameters (msToken, X-Bogus), the next page when the grid's end scrolls into view.
- /@HANDLE/video/ID (and /photo/ID for a photo post): "webapp.video-detail" itemStruct in the
  rehydration JSON; comments from GET /api/comment/list/?aweme_id=ID&cursor=N&count=2, the next
  page when the list's end scrolls into view.
- Video: <video src="/video/tos/.../?mime_type=video_mp4..."> - a progressive MP4 that Chromium
  reads with HTTP Range requests; the CDN answers 403 without the site's Referer, as TikTok's does.
- Overlays: the cookie banner is <tiktok-cookie-banner> with its buttons in a shadow root (no
  selector reaches them: the adapter removes the element), and a login modal after scrolling
  with a close button.
- login_wall: "Log in to TikTok" page; rate_limited: 429 with the slider captcha; a deleted
  video: statusCode 10204 "Video currently unavailable".
"""

from __future__ import annotations

import html
import json
import re
from datetime import datetime
from typing import Any

from bewaar.sites.httpserver import FixtureServer, Request, Response
from bewaar.sites.media import png, video
from bewaar.sites.platforms.fixture import PlatformSite, Post, segments, with_headers

PAGE_SIZE = 3
COMMENTS = 2
SEC_UID = "MS4wLjABAAAA-bzk-fixture-secuid"

PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>tiktok-cookie-banner {{ position: fixed; bottom: 0; left: 0; right: 0; z-index: 100 }}
#login-modal {{ position: fixed; inset: 10% 30%; background: #fff; z-index: 90 }}
[data-e2e=user-post-item] {{ display: block; height: 320px }} [data-e2e=browse-video] {{ display: block; height: 900px }}</style>
<script id="__UNIVERSAL_DATA_FOR_REHYDRATION__" type="application/json">{data}</script>
<script src="/webapp/main.js" defer></script></head>
<body><div id="app"><div id="main-content"></div></div>{banner}</body></html>"""

LOGIN = """<!DOCTYPE html><html><head><title>Log in | TikTok</title></head><body><div id="loginContainer">
<h2 data-e2e="login-title">Log in to TikTok</h2><div data-e2e="channel-item">Use phone / email / username</div>
<div data-e2e="channel-item">Continue with Google</div></div></body></html>"""

CAPTCHA = """<!DOCTYPE html><html><head><title>TikTok</title></head><body>
<div id="captcha-verify-container"><div class="captcha_verify_bar--title">Verify to continue:</div>
<div class="captcha_verify_message">Drag the slider to fit the puzzle</div></div></body></html>"""


def unix(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


class TikTokSite(PlatformSite):
    platform = "tiktok"
    replies_via = "scroll"

    def __init__(self) -> None:
        super().__init__()
        self.account.handle = "rijksoverheid"
        for p in self.all_posts():
            if p.author == "MinBZK":
                p.author = self.account.handle
            if not p.reply_to:
                p.video = not p.photos
                p.gif = False

    @property
    def handle_in_seed(self) -> str:  # type: ignore[override]
        return "@" + self.account.handle

    def post_page_url(self, post: Post) -> str:
        kind = "photo" if post.photos else "video"
        return f"{self.base_url}/@{post.author}/{kind}/{post.id}"

    def expected_profile(self) -> dict[str, Any]:
        a = self.account
        return super().expected_profile() | {
            "id": a.id,
            "links": [{"url": a.website}],
            "avatar": f"{self.base_url}/avatar/{a.handle}-avatar.png",
            "counts": {
                "followers": a.followers,
                "following": a.following,
                "posts": a.posts,
                "likes": a.likes,
            },
        }

    def expected_post(self, p: Post, page: str = "post") -> dict[str, Any]:
        exp = super().expected_post(p, page) | {
            "counts": {"reactions": p.likes, "replies": len(p.replies)},
            "mentions": [{"handle": m} for m in p.mentions],
        }
        if p.reply_to:
            exp.pop("url")
            exp["counts"] = {"reactions": p.likes}
        else:
            exp["counts"] |= {"reposts": p.reposts, "views": p.views}
        if p.location:
            exp["location"] = {"name": p.location}
        return exp

    def check_collapsed(
        self, post: Post, extracted: dict[str, Any], bare_html: str, full_html: str
    ) -> None:
        got = [r for r in post.replies if r.id in extracted]
        assert len(got) < len(post.replies), "all comments loaded without scrolling"

    def login_wall_page(self, req: Request) -> Response:
        return Response.html(LOGIN)

    def rate_limited_page(self, req: Request) -> Response:
        return with_headers(Response.html(CAPTCHA, 429), ("Retry-After", "120"))

    # -- JSON in TikTok's shapes ------------------------------------------------------------
    def user_json(self) -> dict[str, Any]:
        a = self.account
        return {
            "user": {
                "id": a.id,
                "uniqueId": a.handle,
                "nickname": a.name,
                "signature": a.bio,
                "secUid": SEC_UID,
                "avatarLarger": f"{self.base_url}/avatar/{a.handle}-avatar.png",
                "avatarThumb": f"{self.base_url}/avatar/{a.handle}-thumb.png",
                "verified": True,
                "bioLink": {"link": a.website, "risk": 0},
                "privateAccount": False,
            },
            "stats": {
                "followerCount": a.followers,
                "followingCount": a.following,
                "heart": a.likes,
                "heartCount": a.likes,
                "videoCount": a.posts,
                "diggCount": 0,
            },
        }

    def item(self, p: Post) -> dict[str, Any]:
        base = self.base_url
        text_extra, pos = [], 0
        for kind, value in segments(p.text):
            shown = value if kind in ("text", "url") else ("#" if kind == "tag" else "@") + value
            if kind == "tag":
                text_extra.append(
                    {"hashtagName": value, "type": 1, "start": pos, "end": pos + len(shown)}
                )
            elif kind == "mention":
                text_extra.append(
                    {"userUniqueId": value, "type": 0, "start": pos, "end": pos + len(shown)}
                )
            pos += len(shown)
        item: dict[str, Any] = {
            "id": p.id,
            "desc": p.text,
            "createTime": unix(p.published),
            "author": {
                "id": self.account.id,
                "uniqueId": p.author,
                "nickname": p.author_name,
                "avatarThumb": f"{base}/avatar/{p.author}-thumb.png",
            },
            "stats": {
                "diggCount": p.likes,
                "shareCount": p.reposts,
                "commentCount": len(p.replies),
                "playCount": p.views,
                "collectCount": 3,
            },
            "statsV2": {
                "diggCount": str(p.likes),
                "shareCount": str(p.reposts),
                "commentCount": str(len(p.replies)),
                "playCount": str(p.views),
            },
            "textExtra": text_extra,
            "challenges": [{"title": t} for t in p.hashtags],
            "music": {
                "id": "7000" + p.id[-6:],
                "title": "original sound",
                "authorName": p.author_name,
            },
            "locationCreated": "NL",
        }
        if p.photos:
            item["imagePost"] = {
                "images": [
                    {
                        "imageURL": {"urlList": [f"{base}/obj/tos-photomode/{n}.png"]},
                        "imageWidth": 320,
                        "imageHeight": 240,
                    }
                    for n in p.photo_names()
                ],
                "cover": {
                    "imageURL": {"urlList": [f"{base}/obj/tos-photomode/{p.photo_names()[0]}.png"]}
                },
            }
            item["video"] = {
                "id": "",
                "duration": 0,
                "cover": f"{base}/obj/tos-photomode/{p.photo_names()[0]}.png",
            }
        else:
            play = (
                f"{base}/video/tos/maliva/tos-maliva-ve-0068c799-us/{p.id}/?a=1988&bti=NEBzNTY6QGo6OjZALnAjNDQuYCMxNDNg"
                f"&ch=0&cr=3&dr=0&lr=all&cd=0%7C0%7C0%7C&cv=1&br=400&bt=200&cs=0&ds=6&ft=4KJMyMzm8Zmo0&mime_type=video_mp4&qs=0&rc=bzk&l=2024&btag=e00088000"
            )
            item["video"] = {
                "id": p.id,
                "height": 90,
                "width": 160,
                "duration": 2,
                "ratio": "540p",
                "format": "mp4",
                "cover": f"{base}/obj/tos-maliva-p-0068/{p.id}-cover.png",
                "playAddr": play,
                "downloadAddr": play,
                "bitrateInfo": [
                    {"Bitrate": 200000, "QualityType": 10, "PlayAddr": {"UrlList": [play]}}
                ],
            }
        if p.location:
            item["poi"] = {
                "id": "22535" + p.id[-4:],
                "name": p.location,
                "address": f"{p.location}, Nederland",
                "city": p.location,
            }
        return item

    def comment(self, c: Post, aweme_id: str) -> dict[str, Any]:
        return {
            "cid": c.id,
            "aweme_id": aweme_id,
            "text": c.text,
            "create_time": unix(c.published),
            "digg_count": c.likes,
            "reply_comment_total": 0,
            "status": 1,
            "user": {
                "uid": str(abs(len(c.author))),
                "unique_id": c.author,
                "nickname": c.author_name,
                "avatar_thumb": {"url_list": [f"{self.base_url}/avatar/{c.author}-thumb.png"]},
            },
        }

    def page(self, title: str, scope: dict[str, Any]) -> Response:
        data = {
            "__DEFAULT_SCOPE__": {
                "webapp.app-context": {"language": "en", "region": "NL", "user": None},
                **scope,
            }
        }
        banner = "<tiktok-cookie-banner></tiktok-cookie-banner>"
        return Response.html(
            PAGE.format(title=html.escape(title), data=json.dumps(data), banner=banner)
        )

    # -- routes ----------------------------------------------------------------------------
    def routes(self, server: FixtureServer) -> None:
        site = self

        @server.route("GET", r"/@(?P<handle>[\w.-]+)")
        def profile(req: Request, m: re.Match[str]) -> Response:
            if (g := site.gate(req)) is not None:
                return g
            if m.group("handle") != site.account.handle:
                return site.page(
                    "TikTok",
                    {"webapp.user-detail": {"statusCode": 10221, "statusMsg": "user not exist"}},
                )
            a = site.account
            return site.page(
                f"{a.name} (@{a.handle}) | TikTok",
                {
                    "webapp.user-detail": {
                        "userInfo": site.user_json(),
                        "statusCode": 0,
                        "statusMsg": "",
                    }
                },
            )

        @server.route("GET", r"/@(?P<handle>[\w.-]+)/(?P<kind>video|photo)/(?P<id>\d+)")
        def post(req: Request, m: re.Match[str]) -> Response:
            if (g := site.gate(req)) is not None:
                return g
            try:
                p = site.post(m.group("id"))
            except KeyError:
                p = None
            if p is None or p.deleted:
                return site.page(
                    "TikTok - Make Your Day",
                    {
                        "webapp.video-detail": {
                            "statusCode": 10204,
                            "statusMsg": "item doesn't exist",
                        }
                    },
                )
            return site.page(
                f"{p.text[:40]} | TikTok",
                {
                    "webapp.video-detail": {
                        "itemInfo": {"itemStruct": site.item(p)},
                        "statusCode": 0,
                        "statusMsg": "",
                    }
                },
            )

        @server.route("GET", r"/api/post/item_list/")
        def item_list(req: Request, m: re.Match[str]) -> Response:
            if site.mode == "rate_limited":
                return Response.json({"statusCode": 10000, "status_msg": "Too many requests"}, 429)
            if req.arg("secUid") != SEC_UID or not req.arg("msToken") or not req.arg("X-Bogus"):
                return Response(
                    200, b"", [("Content-Type", "application/json")]
                )  # TikTok's empty answer
            cursor = int(req.arg("cursor") or 0)
            posts = site.visible_posts()
            page = posts[cursor : cursor + int(req.arg("count") or PAGE_SIZE)]
            more = cursor + len(page) < len(posts)
            return Response.json(
                {
                    "itemList": [site.item(p) for p in page],
                    "cursor": str(cursor + len(page)),
                    "hasMore": more,
                    "statusCode": 0,
                },
                gzip=True,
            )

        @server.route("GET", r"/api/comment/list/")
        def comments(req: Request, m: re.Match[str]) -> Response:
            aweme = req.arg("aweme_id") or ""
            cursor = int(req.arg("cursor") or 0)
            replies = [r for r in site.post(aweme).replies if not r.deleted]
            page = replies[cursor : cursor + int(req.arg("count") or COMMENTS)]
            return Response.json(
                {
                    "comments": [site.comment(c, aweme) for c in page],
                    "cursor": cursor + len(page),
                    "has_more": int(cursor + len(page) < len(replies)),
                    "total": len(replies),
                    "status_code": 0,
                }
            )

        @server.route("GET", r"/video/tos/\w+/[\w-]+/(?P<id>\d+)/")
        def play(req: Request, m: re.Match[str]) -> Response:
            if not req.headers.get("referer", "").startswith(site.base_url + "/"):
                return Response(403, b"", [("Content-Type", "text/plain")])
            return Response(200, video("mp4"), [("Content-Type", "video/mp4")])

        @server.route("GET", r"/(?:obj/[\w-]+|avatar)/(?P<name>[\w-]+)\.png")
        def image(req: Request, m: re.Match[str]) -> Response:
            return Response(200, png(320, 240, m.group("name")), [("Content-Type", "image/png")])

        @server.route("GET", r"/webapp/main\.js")
        def main_js(req: Request, m: re.Match[str]) -> Response:
            return Response(
                200, MAIN_JS.encode(), [("Content-Type", "application/javascript")], gzip=True
            )


MAIN_JS = r"""
(() => {
const scope = JSON.parse(document.getElementById('__UNIVERSAL_DATA_FOR_REHYDRATION__').textContent).__DEFAULT_SCOPE__;
const main = document.getElementById('main-content');
const esc = s => String(s == null ? '' : s).replace(/[&<>"]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
const short = n => n >= 1e6 ? (n/1e6).toFixed(1).replace(/\.0$/,'') + 'M' : n >= 1e4 ? (n/1e3).toFixed(1).replace(/\.0$/,'') + 'K' : String(n);
const sig = () => `&msToken=${Math.random().toString(36).slice(2)}&X-Bogus=DFSzswVL${Date.now() % 100000}&_signature=_02B4Z6wo0000`;
const onShown = (el, fn) => { const io = new IntersectionObserver(es => { if (es.some(e => e.isIntersecting)) { io.disconnect(); fn(); } }); io.observe(el); };

// the cookie banner keeps its buttons in a shadow root, as TikTok's does
customElements.define('tiktok-cookie-banner', class extends HTMLElement { connectedCallback() {
  const r = this.attachShadow({mode: 'open'});
  r.innerHTML = `<div class="tiktok-cookie-banner" style="background:#fff;padding:12px"><div class="text">We use cookies to enhance your experience.</div><div class="button-wrapper"><button>Decline optional cookies</button><button>Allow all</button></div></div>`;
  r.querySelectorAll('button').forEach(b => b.onclick = () => this.remove());
}});

function loginModal() {
  if (window.__modal) return; window.__modal = true;
  document.body.insertAdjacentHTML('beforeend', `<div id="login-modal" role="dialog" data-e2e="login-modal"><div data-e2e="login-title">Log in to TikTok</div><div data-e2e="channel-item">Use phone / email / username</div><div data-e2e="modal-close-inner-button" role="button" aria-label="Close">×</div></div>`);
  document.querySelector('[data-e2e="modal-close-inner-button"]').onclick = () => document.getElementById('login-modal').remove();
}

function desc(text, extra) {
  let out = '', pos = 0; const cp = [...text];
  for (const e of extra) { out += esc(cp.slice(pos, e.start).join('')); const shown = cp.slice(e.start, e.end).join('');
    out += e.type === 1 ? `<a href="/tag/${encodeURIComponent(e.hashtagName)}" data-e2e="search-common-link"><strong>${esc(shown)}</strong></a>` : `<a href="/@${e.userUniqueId}" data-e2e="search-common-link"><strong>${esc(shown)}</strong></a>`;
    pos = e.end; }
  return out + esc(cp.slice(pos).join(''));
}

function profile(info) {
  const u = info.user, s = info.stats;
  main.innerHTML = `<div data-e2e="user-page"><div data-e2e="user-avatar"><img src="${u.avatarLarger}" alt=""></div>
    <h1 data-e2e="user-title">${esc(u.uniqueId)}</h1><h2 data-e2e="user-subtitle">${esc(u.nickname)}</h2>
    <h3 class="count-infos"><div><strong data-e2e="following-count" title="Following">${short(s.followingCount)}</strong><span>Following</span></div>
    <div><strong data-e2e="followers-count" title="Followers">${short(s.followerCount)}</strong><span>Followers</span></div>
    <div><strong data-e2e="likes-count" title="Likes">${short(s.heartCount)}</strong><span>Likes</span></div></h3>
    <h2 data-e2e="user-bio">${esc(u.signature)}</h2><a data-e2e="user-link" href="https://www.tiktok.com/link/v2?aid=1988&lang=en&scene=bio_url&target=${encodeURIComponent(u.bioLink.link)}"><span>${esc(u.bioLink.link.replace(/^https?:\/\//, ''))}</span></a>
    <div data-e2e="user-post-item-list"></div><div id="sentinel" style="height:10px"></div></div>`;
  const list = main.querySelector('[data-e2e="user-post-item-list"]');
  let cursor = 0;
  const load = () => fetch(`/api/post/item_list/?aid=1988&app_language=en&count=3&cursor=${cursor}&secUid=${encodeURIComponent(u.secUid)}${sig()}`).then(r => r.json()).then(j => {
    for (const it of j.itemList) { const kind = it.imagePost ? 'photo' : 'video';
      list.insertAdjacentHTML('beforeend', `<div data-e2e="user-post-item"><a href="/@${it.author.uniqueId}/${kind}/${it.id}"><img alt="${esc(it.desc)}" src="${it.video.cover || ''}"><strong data-e2e="video-views">${short(it.stats.playCount)}</strong></a></div>`); }
    cursor = +j.cursor; if (j.hasMore) onShown(main.querySelector('#sentinel'), load);
  });
  load();
  window.addEventListener('scroll', () => { if (scrollY > 300) loginModal(); });
}

function videoPage(it) {
  const media = it.imagePost ? `<div data-e2e="photo-post">${it.imagePost.images.map(i => `<img src="${i.imageURL.urlList[0]}" alt="">`).join('')}</div>`
    : `<div data-e2e="browse-video"><div class="xgplayer"><video playsinline preload="auto" muted autoplay src="${it.video.playAddr}" poster="${it.video.cover}"></video></div></div>`;
  main.innerHTML = `${media}<div data-e2e="browse-video-desc"><span data-e2e="new-desc-span">${desc(it.desc, it.textExtra)}</span></div>
    <a data-e2e="browse-username" href="/@${it.author.uniqueId}">${esc(it.author.uniqueId)}</a><span data-e2e="browser-nickname"><span>${esc(it.author.nickname)}</span> · <span>${new Date(it.createTime * 1000).toISOString().slice(0, 10)}</span></span>
    ${it.poi ? `<a data-e2e="video-location" href="/place/${it.poi.id}">${esc(it.poi.name)}</a>` : ''}
    <strong data-e2e="like-count">${short(it.stats.diggCount)}</strong><strong data-e2e="comment-count">${short(it.stats.commentCount)}</strong><strong data-e2e="share-count">${short(it.stats.shareCount)}</strong>
    <div data-e2e="search-comment-container"><div class="comment-list"></div><div id="comment-sentinel" style="height:10px"></div></div>`;
  const list = main.querySelector('.comment-list'); let cursor = 0;
  const load = () => fetch(`/api/comment/list/?aid=1988&aweme_id=${it.id}&count=2&cursor=${cursor}${sig()}`).then(r => r.json()).then(j => {
    for (const c of j.comments) list.insertAdjacentHTML('beforeend', `<div class="comment-item" data-cid="${c.cid}"><a data-e2e="comment-username-1" href="/@${c.user.unique_id}"><span>${esc(c.user.nickname)}</span></a><p data-e2e="comment-level-1"><span>${esc(c.text)}</span></p><span data-e2e="comment-time-1">${new Date(c.create_time * 1000).toISOString().slice(5, 10)}</span><span data-e2e="comment-like-count">${c.digg_count}</span></div>`);
    cursor = j.cursor; if (j.has_more) onShown(main.querySelector('#comment-sentinel'), load);
  });
  onShown(main.querySelector('#comment-sentinel'), load);
}

const user = scope['webapp.user-detail'], det = scope['webapp.video-detail'];
if (user && user.statusCode === 0) profile(user.userInfo);
else if (det && det.statusCode === 0) videoPage(det.itemInfo.itemStruct);
else main.innerHTML = `<div data-e2e="error-page"><p class="title">${det ? 'Video currently unavailable' : "Couldn't find this account"}</p></div>`;
})();
"""

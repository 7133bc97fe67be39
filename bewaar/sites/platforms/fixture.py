"""What every platform fixture site shares: its data, its modes and its state changes.

A site is built on bewaar/sites/httpserver.FixtureServer. All content comes from one `Account`
and its `Post`s, so tests compare what an adapter extracted with the site's own data. Each
platform renders the same kind of data in its own page structure and loading pattern.

Modes (site.mode): "normal"; "login_wall" (the platform's real-looking login wall);
"rate_limited" (HTTP 429). State changes for change detection: edit_post(), delete_post()
(the post page becomes the platform's "unavailable" page), set_bio().
"""

from __future__ import annotations

import copy
import html
import re
from dataclasses import dataclass, field
from typing import Any

from bewaar.sites.httpserver import FixtureServer, Request, Response

MODES = ("normal", "login_wall", "rate_limited")
SESSION_COOKIE = "fixture_session"  # a logged-in visitor passes the login wall
_SEGMENT = re.compile(
    r"(?P<url>https?://[^\s]+[^\s.,!?)])|(?<![\w@])#(?P<tag>\w+)"
    r"|(?<![\w@])@(?P<mention>[A-Za-z0-9_.]*[A-Za-z0-9_](?:@[A-Za-z0-9.-]+\.[a-z]{2,})?)"
)


@dataclass
class Account:
    id: str
    handle: str  # as the platform writes it in URLs, without "@"
    name: str
    bio: str
    location: str
    website: str
    joined: str  # ISO 8601 UTC
    followers: int
    following: int
    posts: int
    likes: int = 0
    views: int = 0


@dataclass
class Post:
    id: str
    text: str
    published: str  # ISO 8601 UTC
    author: str = ""  # handle; "" = the site's account
    author_name: str = ""
    photos: int = 0  # number of generated photos
    video: bool = False
    gif: bool = False
    audio: bool = False
    likes: int = 0
    reposts: int = 0
    views: int = 0
    title: str = ""  # videos
    location: str = ""
    reply_to: str | None = None
    replies: list[Post] = field(default_factory=list)
    deleted: bool = False
    reactions: dict[str, int] = field(default_factory=dict)  # per type, where a platform shows it

    @property
    def hashtags(self) -> list[str]:
        return list(dict.fromkeys(v for k, v in segments(self.text) if k == "tag"))

    @property
    def mentions(self) -> list[str]:
        return list(dict.fromkeys(v for k, v in segments(self.text) if k == "mention"))

    @property
    def links(self) -> list[str]:
        return [v for k, v in segments(self.text) if k == "url"]

    def photo_names(self) -> list[str]:
        return [f"{self.id}-{i}" for i in range(1, self.photos + 1)]


@dataclass
class Story:
    """A story item: up for a day, then gone."""

    id: str
    published: str  # ISO 8601 UTC
    expires: str
    video: bool = False
    text: str = ""


@dataclass
class Person:
    """An account in a follower or following list."""

    handle: str
    name: str
    since: str | None = None  # the platform's date of the relation, where it shows one


def default_threads(handle: str = "MinBZK") -> list[Post]:
    """Others' posts the account answered: its replies in their threads."""
    return [
        Post(
            id="1790000000000000102", author="burger_anna", author_name="Anna Burger",
            text=f"Hoe vraag ik een nieuw paspoort aan? @{handle}",
            published="2024-05-06T08:00:00Z", likes=3,
            replies=[Post(
                id="1790000000000000103", author=handle, reply_to="1790000000000000102",
                text="@burger_anna Dat kan bij uw gemeente: https://www.rijksoverheid.example/paspoort",
                published="2024-05-06T09:00:00Z", likes=12,
            )],
        ),
        Post(
            id="1790000000000000104", author="gemeente_x", author_name="Gemeente X",
            text="Wij starten vandaag met de pilot digitale identiteit 🎉 #DigiD",
            published="2024-05-05T07:00:00Z", likes=40,
            replies=[Post(
                id="1790000000000000105", author=handle, reply_to="1790000000000000104",
                text="@gemeente_x Mooi! Veel succes met de pilot 👏",
                published="2024-05-05T08:30:00Z", likes=8,
            )],
        ),
    ]  # fmt: skip


def default_mentions(handle: str = "MinBZK") -> list[Post]:
    """Public posts by others that mention the account."""
    return [
        Post(id=f"17900000000000002{i:02d}", author=who, author_name=who.replace("_", " ").title(),
             text=text.format(h=handle), published=f"2024-05-0{7 - i}T12:00:00Z", likes=i)
        for i, (who, text) in enumerate([
            ("journalist_j", "Vraag aan @{h}: wanneer verschijnt het rapport?"),
            ("burger_bert", "Goed nieuws van @{h} over open data 👍"),
            ("raadslid_r", "@{h} dank voor het werkbezoek!"),
        ])
    ]  # fmt: skip


def default_stories() -> list[Story]:
    return [
        Story("3300000000000000001", "2024-05-07T06:00:00Z", "2024-05-08T06:00:00Z",
              text="Vandaag: Digitaliseringsweek ☀️"),
        Story("3300000000000000002", "2024-05-07T09:30:00Z", "2024-05-08T09:30:00Z", video=True,
              text="Live vanaf het podium"),
        Story("3300000000000000003", "2024-05-07T14:00:00Z", "2024-05-08T14:00:00Z",
              text="Tot morgen! 👋"),
    ]  # fmt: skip


def default_people(prefix: str, n: int) -> list[Person]:
    return [Person(f"{prefix}_{i:03d}", f"{prefix.title()} {i}") for i in range(1, n + 1)]


def segments(text: str) -> list[tuple[str, str]]:
    """("text"|"url"|"tag"|"mention", value) runs, so each platform can render its own links."""
    out: list[tuple[str, str]] = []
    pos = 0
    for m in _SEGMENT.finditer(text):
        if m.start() > pos:
            out.append(("text", text[pos : m.start()]))
        kind = m.lastgroup or "text"
        out.append((kind, m.group(kind)))
        pos = m.end()
    if pos < len(text):
        out.append(("text", text[pos:]))
    return out


def render_text(text: str, link: dict[str, str], newline: str = "<br>") -> str:
    """HTML of a post text; `link` maps segment kinds to format strings for <a> tags taking
    {value} and {escaped}. Emoji stay characters unless a platform replaces them."""
    parts = []
    for kind, value in segments(text):
        esc = html.escape(value)
        if kind == "text":
            parts.append(esc.replace("\n", newline))
        else:
            parts.append(link[kind].format(value=value, escaped=esc, q=html.escape(value, True)))
    return "".join(parts)


def default_account(handle: str = "MinBZK") -> Account:
    return Account(
        id="1189327405",
        handle=handle,
        name="Ministerie van BZK 🇳🇱",
        bio="Officieel account van het ministerie van Binnenlandse Zaken 🏛️ #overheid",
        location="Den Haag",
        website="https://www.rijksoverheid.example/bzk",
        joined="2010-03-15T08:12:00Z",
        followers=123_456,
        following=321,
        posts=8_765,
        likes=45_200,
        views=1_234_567,
    )


def default_posts(author: str = "MinBZK") -> list[Post]:
    """Newest first, like a timeline: emoji, hashtags, mentions, an external link, photos, a
    video, a GIF, a conversation with replies behind a "show more" control."""
    replies = [
        Post(
            id=f"90000{i}",
            text=text,
            author=who,
            author_name=who.title(),
            published=f"2024-05-06T1{3 + i}:05:00Z",
            likes=i,
            reply_to="1790000000000000005",
        )
        for i, (who, text) in enumerate(
            [
                ("burger_anna", "Heel goed initiatief! 👏"),
                ("jan_devries", "Wanneer komt dit naar Groningen? @MinBZK"),
                ("gemeente_x", "Wij doen mee 💪 #samen"),
                ("pieter", "Werkt het ook zonder DigiD? 🤔"),
                ("els_b", "Dank voor de uitleg 🙏"),
            ]
        )
    ]
    return [
        Post(
            id="1790000000000000006",
            text="Goedemorgen! ☀️ Vandaag start de #Digitaliseringsweek met @DigiOverheid 🎉",
            published="2024-05-07T07:30:00Z",
            likes=1_234,
            reposts=56,
            views=48_900,
        ),
        Post(
            id="1790000000000000005",
            text="Vraag van de week: wat vindt u van MijnOverheid? 🤔\nReageer hieronder!",
            published="2024-05-06T12:00:00Z",
            likes=89,
            reposts=4,
            views=7_100,
            replies=replies,
        ),
        Post(
            id="1790000000000000004",
            text="Lees het nieuwe rapport over open data 📄 https://www.rijksoverheid.example/rapport-2024 #OpenData",
            published="2024-05-05T09:15:00Z",
            likes=310,
            reposts=120,
            views=15_200,
        ),
        Post(
            id="1790000000000000003",
            text="Foto's van het werkbezoek in Utrecht 📸 met @gemeente_utrecht",
            published="2024-05-04T15:45:00Z",
            photos=2,
            location="Utrecht",
            likes=2_048,
            reposts=77,
            views=61_000,
        ),
        Post(
            id="1790000000000000002",
            text="Bekijk de video over digitale toegankelijkheid ▶️ #Toegankelijkheid",
            title="Digitale toegankelijkheid in 2 minuten",
            published="2024-05-03T10:00:00Z",
            video=True,
            likes=12_345,
            reposts=900,
            views=1_250_000,
        ),
        Post(
            id="1790000000000000001",
            text="Feest! 10 jaar open overheid 🎈 #Jubileum",
            published="2024-05-02T16:20:00Z",
            gif=True,
            likes=77,
            reposts=3,
            views=2_222,
        ),
    ]


class Expectations:
    """What an adapter should extract, derived from a site's data and its display rules.

    Sites override these where the platform shows less (or shows it differently); tests
    compare extracted objects with these, never with hard-coded copies."""

    def qualify(self, handle: str) -> str:
        """An account handle as objects store it (Mastodon adds the server)."""
        return handle

    def expected_profile(self) -> dict[str, Any]:
        a = self.account  # type: ignore[attr-defined]
        return {
            "handle": self.qualify(a.handle),
            "name": a.name,
            "bio": a.bio,
            "counts": {"followers": a.followers, "following": a.following, "posts": a.posts},
        }

    def expected_post(self, p: Post, page: str = "post") -> dict[str, Any]:
        """`page`: the kind of page the post was read from (a profile may show less)."""
        return {
            "id": p.id,
            "url": self.post_page_url(p),  # type: ignore[attr-defined]
            "text": p.text,
            "hashtags": p.hashtags,
            "published_at": p.published,
            "author.handle": self.qualify(p.author),
        }

    def expected_media(self, p: Post) -> list[str]:
        return ["photo"] * p.photos + ["video"] * p.video + ["gif"] * p.gif + ["audio"] * p.audio

    def check_collapsed(
        self, post: Post, extracted: dict[str, Any], bare_html: str, full_html: str
    ) -> None:
        """Without the adapter's more-controls, some replies are not on the page."""
        got = [r for r in post.replies if r.id in extracted]
        assert len(got) < len(post.replies), "replies were there without clicking"

    def expected_post_links(self) -> list[str]:
        """The account's post URLs as its profile pages list them, newest first."""
        return [self.post_page_url(p) for p in self.visible_posts()]  # type: ignore[attr-defined]


class PlatformSite(Expectations):
    """Base of the seven fixture sites: data, modes, state changes, a server."""

    platform = ""
    handle_in_seed = ""  # how an archivist writes the handle in a seed list
    replies_via = "click"  # replies appear by clicking a more-control ("click") or scrolling
    has_overlays = True  # cookie consent / login nag the adapter must close
    dom_fallback = False  # the adapter reads posts from the DOM alone when no JSON was captured
    blocked_post_kinds = ("unavailable", "not_found")  # what a deleted post's page is

    def __init__(self) -> None:
        self.account = default_account()
        self.posts = default_posts(self.account.handle)
        for p in self.posts:
            p.author = p.author or self.account.handle
            p.author_name = p.author_name or self.account.name
        self.mode = "normal"
        # the account's wider context (issue 16); platforms that show it fill these
        self.threads: list[Post] = []  # others' posts; their replies are the account's
        self.mentions: list[Post] = []  # others' posts mentioning the account
        self.stories: list[Story] = []
        self.followers: list[Person] = []
        self.following: list[Person] = []
        self.server = FixtureServer()
        self.routes(self.server)

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> str:
        self.server.start()
        return self.base_url

    def stop(self) -> None:
        self.server.stop()

    @property
    def base_url(self) -> str:
        return self.server.base_url

    # -- state tests can change ------------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(mode)
        self.mode = mode

    def post(self, post_id: str) -> Post:
        for p in self.all_posts() + self.context_posts():
            if p.id == post_id:
                return p
        raise KeyError(post_id)

    def context_posts(self) -> list[Post]:
        """Others' threads with the account's replies, and posts mentioning it."""
        return [q for p in self.threads for q in (p, *p.replies)] + self.mentions

    def own_replies(self) -> list[Post]:
        """The account's replies in others' threads, newest first."""
        return sorted((r for t in self.threads for r in t.replies), key=lambda r: r.published, reverse=True)

    def all_posts(self) -> list[Post]:
        return [q for p in self.posts for q in (p, *p.replies)]

    def visible_posts(self) -> list[Post]:
        return [p for p in self.posts if not p.deleted]

    def edit_post(self, post_id: str, text: str) -> None:
        self.post(post_id).text = text

    def delete_post(self, post_id: str) -> None:
        self.post(post_id).deleted = True

    def set_bio(self, bio: str) -> None:
        self.account.bio = bio

    def snapshot_data(self) -> dict[str, Any]:
        """A deep copy of the data, for comparing before/after a change."""
        return copy.deepcopy({"account": self.account, "posts": self.posts})

    # -- what a platform implements --------------------------------------------------------
    def routes(self, server: FixtureServer) -> None:
        raise NotImplementedError

    def post_page_url(self, post: Post) -> str:
        """The canonical URL of a post's page on this site."""
        raise NotImplementedError

    def gate(self, req: Request) -> Response | None:
        """The mode's answer for a page request, or None to serve the page."""
        if self.mode == "rate_limited":
            return self.rate_limited_page(req)
        if self.walled(req):
            return self.login_wall_page(req)
        return None

    def walled(self, req: Request) -> bool:
        """In login_wall mode, a visitor without the site's session cookie meets the wall; one
        with it (a stored login state) gets the pages."""
        return self.mode == "login_wall" and f"{SESSION_COOKIE}=" not in req.headers.get(
            "cookie", ""
        )

    def session_state(self) -> dict[str, Any]:
        """A Playwright storage state that is logged in to this site."""
        return {
            "cookies": [{"name": SESSION_COOKIE, "value": "ok", "domain": "127.0.0.1", "path": "/",
                         "expires": -1, "httpOnly": True, "secure": False, "sameSite": "Lax"}],
            "origins": [],
        }  # fmt: skip

    def rate_limited_page(self, req: Request) -> Response:
        return with_headers(
            Response.html(
                "<!doctype html><title>Too Many Requests</title><h1>429 Too Many Requests</h1>", 429
            ),
            ("Retry-After", "30"),
        )

    def login_wall_page(self, req: Request) -> Response:
        raise NotImplementedError

    # -- media ----------------------------------------------------------------------------
    def media_routes(self, server: FixtureServer, prefix: str) -> None:
        """/PREFIX/NAME.png photos and avatars, generated from the name."""
        from bewaar.sites.media import png

        @server.route("GET", prefix + r"/(?P<name>[\w.-]+)\.(?:png|jpg)")
        def image(req: Request, m: re.Match[str]) -> Response:
            name = m.group("name")
            w, h = (400, 133) if "header" in name or "banner" in name else (120, 120)
            if "-" in name and name.split("-")[-1].isdigit():
                w, h = 320, 240
            return Response(200, png(w, h, name), [("Content-Type", "image/png")])


def with_headers(resp: Response, *headers: tuple[str, str]) -> Response:
    resp.headers.extend(headers)
    return resp

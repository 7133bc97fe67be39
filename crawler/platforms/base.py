"""The contract between the crawler and a platform adapter.

The crawler owns the browser, the recording and the WARC; an adapter only knows a platform:
how a handle becomes URLs, which links are posts, which controls close overlays or expand
replies, how a login wall looks, and how to read information objects from a rendered page.
Adapters never touch the browser or files, so updating one when a platform changes its page is
a small, testable edit.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

PageKind = Literal[
    "profile", "post", "page", "recheck", "timeline", "context", "received", "story", "follows"
]
BlockKind = Literal["login_wall", "unavailable", "rate_limited", "not_found"]


@dataclass
class CapturedResponse:
    """One response the browser received while the page was captured."""

    url: str
    method: str
    status: int
    mime: str
    body: bytes

    def json(self) -> Any | None:
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            return None


@dataclass
class PageSnapshot:
    """What an adapter sees of a captured page: the rendered DOM and what was loaded."""

    url: str  # the URL the crawler asked for
    final_url: str  # after redirects
    status: int | None  # HTTP status of the main document
    title: str
    html: str  # rendered DOM after behaviours ran
    captured_at: str  # ISO 8601 UTC
    kind: PageKind = "page"
    handle: str = ""
    base_url: str = ""
    responses: list[CapturedResponse] = field(default_factory=list)

    def json_responses(self, url_pattern: str = "") -> Iterator[tuple[str, Any]]:
        """(url, parsed JSON) of JSON responses whose URL matches the regex."""
        rx = re.compile(url_pattern) if url_pattern else None
        for r in self.responses:
            if rx and not rx.search(r.url):
                continue
            if "json" in r.mime or r.body[:1] in (b"{", b"["):
                data = r.json()
                if data is not None:
                    yield r.url, data


@dataclass(frozen=True)
class Block:
    kind: BlockKind
    reason: str  # in words, shown in the crawl summary and pages.jsonl


class Adapter:
    """Base adapter; a platform sets the class attributes and overrides what differs.

    Contract with the crawler (everything else here is a helper for adapters):
      profile_url(handle)    the account's profile page
      account_key(handle)    the account's name in summaries ("minbzk@social.overheid.nl")
      account_urls(handle)   pages of kind "profile" to crawl for an account (profile first,
                             then tabs such as YouTube's /videos); crawl them all
      post_links(snap, h)    canonical URLs of the account's posts linked from a profile page,
                             in page order (newest first), once each; uses is_post_url() and
                             canonical_post_url() (YouTube also drops featured foreign videos)
      is_post_url(url, h)    a link is one of the account's posts (by that author where the
                             URL names one)
      post_url(h, id), post_id(url), canonical_post_url(url)   for seeds naming single posts
      post_resources(url)    extra URLs to fetch for a post page even if the page itself does
                             not request them (Mastodon's status and context JSON); default none
      overlay_close / overlay_remove / more_controls   CSS selectors (standard CSS, :has()
                             included) for the behaviours; more_controls may need repeating
      detect_block(snap)     Block or None; call it before extract()
      extract(snap)          validated information objects (dicts, bewaar/objects.py); raises
                             pydantic.ValidationError only on an adapter bug: record and go on
      name                   "platform@version", stored in every object

    The account's wider context (each empty where the platform has no such page):
      replies_urls(h)        the "posts and replies" view (kind "timeline"): the account's
                             replies in others' threads are its post links there
      received_urls(h)       public mention / tag / search pages (kind "received");
                             received_needs_login: only with a login state
      received_links(snap,h) posts by others on such a page (any author but the account)
      story_urls(h)          the account's stories (kind "story"); stories_need_login;
                             story_links(snap, h): the item URLs (each its own page);
                             story_lifetime: seconds an item stays up (expiry when unshown);
                             stories_on_profile: the profile page itself shows them
      follow_urls(h)         {"follower": url, "following": url} (kind "follows");
                             follow_needs_login; read() then returns the account's profile
                             object with `relations`
      backfill_url(h, day)   a page of the account's posts published before `day`
                             (YYYY-MM-DD), where the platform has one: back-fill resumes there
      time_selector          elements whose datetime attribute dates a post on a timeline
    """

    platform: ClassVar[str] = "generic"
    version: ClassVar[str] = "1.0"  # bump when selectors/extraction change; stored in objects
    default_base_url: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()  # other origins of the default site (twitter.com)
    profile_path: ClassVar[str] = "/{handle}"  # formatted with the normalised handle
    # Path (plus "?query") of a post page, matched from the start; named groups `id` and,
    # where the URL names the author, `handle`. Trailing parts (/photo/1) are allowed.
    post_path: ClassVar[re.Pattern[str]] = re.compile(r"$^")
    post_url_path: ClassVar[str] = ""  # canonical post path, formatted with handle and id
    # CSS selectors. Clicked/queried by the crawler's behaviours in the page.
    overlay_close: ClassVar[tuple[str, ...]] = ()  # buttons closing cookie walls / login nags
    overlay_remove: ClassVar[tuple[str, ...]] = ()  # overlays without a close button: removed
    more_controls: ClassVar[tuple[str, ...]] = ()  # "show more replies" etc., besides text patterns
    # Login walls / "content unavailable" / rate limits: CSS selectors, or regexes on the
    # page's visible text when prefixed "re:". Checked only when the page lacks `content`.
    login_wall: ClassVar[tuple[str, ...]] = ()
    login_wall_url: ClassVar[str] = ""  # regex on the final URL: redirected to a login page
    unavailable: ClassVar[tuple[str, ...]] = ()
    rate_limited: ClassVar[tuple[str, ...]] = ()
    # Selectors whose presence proves the page shows what was asked for, per page kind. A page
    # of that kind without any of them is blocked (the account's content is not there).
    content: ClassVar[dict[str, tuple[str, ...]]] = {}
    # URLs of the platform's own JSON API: a 429 there means the page is rate limited, a 401
    # there that it needs a login.
    api_pattern: ClassVar[str] = ""
    # The account's wider context: paths formatted with the normalised handle.
    replies_path: ClassVar[str] = ""
    received_paths: ClassVar[tuple[str, ...]] = ()
    received_needs_login: ClassVar[bool] = False
    stories_path: ClassVar[str] = ""
    stories_need_login: ClassVar[bool] = True
    story_path: ClassVar[re.Pattern[str]] = re.compile(r"$^")  # an item's path (group `id`)
    story_lifetime: ClassVar[int] = 24 * 3600
    stories_on_profile: ClassVar[bool] = False  # stories are objects of the profile page itself
    follow_paths: ClassVar[dict[str, str]] = {}  # relation type -> path
    follow_needs_login: ClassVar[bool] = False
    backfill_path: ClassVar[str] = ""  # formatted with handle and until (YYYY-MM-DD)
    time_selector: ClassVar[str] = "time[datetime]"

    def __init__(self, base_url: str | None = None) -> None:
        self.base_url = (base_url or self.default_base_url).rstrip("/")

    @property
    def name(self) -> str:
        """What objects record as their extractor: platform@version."""
        return f"{self.platform}@{self.version}"

    # -- URLs ---------------------------------------------------------------------------
    def normalize_handle(self, handle: str) -> str:
        """The handle as the platform writes it in URLs; a profile URL is accepted too."""
        handle = handle.strip()
        if re.match(r"^https?://", handle):
            path = urlsplit(handle).path.strip("/")
            handle = path.split("/")[0] if path else ""
        return handle.lstrip("@")

    def account_key(self, handle: str) -> str:
        """How the account is named in summaries and objects (Mastodon: user@server)."""
        return self.normalize_handle(handle)

    def base_for(self, handle: str | None = None) -> str:
        """The origin an account lives on (Mastodon derives it from the handle)."""
        return self.base_url

    def profile_url(self, handle: str) -> str:
        return self.base_for(handle) + self.profile_path.format(
            handle=self.normalize_handle(handle)
        )

    def account_urls(self, handle: str) -> list[str]:
        return [self.profile_url(handle)]

    def post_url(self, handle: str, post_id: str) -> str:
        return self.base_for(handle) + self.post_url_path.format(
            handle=self.normalize_handle(handle), id=post_id
        )

    def _origins(self, handle: str | None) -> list[str]:
        base = self.base_for(handle)
        return [base] + (list(self.aliases) if base == self.default_base_url else [])

    def match_post(self, url: str, handle: str | None = None) -> re.Match[str] | None:
        """The post_path match of a URL on this platform (any author), else None."""
        url = url.split("#", 1)[0]
        for origin in self._origins(handle):
            if origin and url.startswith(origin + "/"):
                return self.post_path.match(url[len(origin) :])
        return None

    def is_post_url(self, url: str, handle: str | None = None) -> bool:
        """Whether a link found on a profile page is one of the account's posts (with a handle:
        by that account, where the URL names its author)."""
        m = self.match_post(url, handle)
        if not m:
            return False
        if handle and "handle" in m.groupdict() and m.group("handle") is not None:
            return self.same_handle(m.group("handle"), handle)
        return True

    def same_handle(self, a: str, b: str) -> bool:
        return self.normalize_handle(a).lower() == self.normalize_handle(b).lower()

    def post_id(self, url: str) -> str | None:
        m = self.match_post(url)
        return m.group("id") if m else None

    def canonical_post_url(self, url: str, handle: str | None = None) -> str | None:
        m = self.match_post(url, handle)
        if not m:
            return None
        groups = m.groupdict()
        author = groups.get("handle") or handle or ""
        return self.post_url(author, m.group("id"))

    def post_links(self, snap: PageSnapshot, handle: str | None = None) -> list[str]:
        from crawler.platforms import dom

        handle = handle if handle is not None else (snap.handle or None)
        soup = dom.parse(snap.html)
        out: dict[str, None] = {}
        for a in soup.find_all("a", href=True):
            url = dom.absolute(snap.final_url or snap.url, dom.attr(a, "href"))
            if url and self.is_post_url(url, handle):
                canonical = self.canonical_post_url(url, handle)
                if canonical:
                    out.setdefault(canonical, None)
        return list(out)

    def post_resources(self, post_url: str) -> list[str]:
        return []

    # -- the account's wider context ------------------------------------------------------
    def _paths(self, handle: str, *paths: str, **extra: str) -> list[str]:
        h = self.normalize_handle(handle)
        return [self.base_for(handle) + p.format(handle=h, **extra) for p in paths if p]

    def replies_urls(self, handle: str) -> list[str]:
        return self._paths(handle, self.replies_path)

    def received_urls(self, handle: str) -> list[str]:
        return self._paths(handle, *self.received_paths)

    def story_urls(self, handle: str) -> list[str]:
        return self._paths(handle, self.stories_path)

    def follow_urls(self, handle: str) -> dict[str, str]:
        return {k: self._paths(handle, p)[0] for k, p in self.follow_paths.items()}

    def backfill_url(self, handle: str, until: str) -> str | None:
        urls = self._paths(handle, self.backfill_path, until=until)
        return urls[0] if urls else None

    def received_links(self, snap: PageSnapshot, handle: str | None = None) -> list[str]:
        """Posts on a mention/search page, by anyone but the account itself."""
        mine = set(self.post_links(snap, handle)) if handle else set()
        return [u for u in self.post_links(snap, "") if u not in mine]

    def story_links(self, snap: PageSnapshot, handle: str | None = None) -> list[str]:
        """Story item URLs on a stories page, in page order, once each."""
        from crawler.platforms import dom

        out: dict[str, None] = {}
        base = snap.final_url or snap.url
        for a in dom.parse(snap.html).find_all("a", href=True):
            url = dom.absolute(base, dom.attr(a, "href"))
            origin = self.base_for(handle)
            path = url[len(origin) :].split("#")[0] if url and origin else ""
            if url and origin and url.startswith(origin + "/") and self.story_path.match(path):
                out.setdefault(url.split("#")[0], None)
        return list(out)

    # -- page checks ----------------------------------------------------------------------
    def detect_block(self, snap: PageSnapshot) -> Block | None:
        """A login wall, "unavailable" or rate-limit page is never a successful capture."""
        from crawler.platforms import dom

        api = re.compile(self.api_pattern) if self.api_pattern else None
        if snap.status == 429:
            return Block("rate_limited", "HTTP 429 Too Many Requests")
        for r in snap.responses:
            if api and api.search(r.url) and r.status == 429:
                return Block("rate_limited", f"the platform's API answered 429 ({_short(r.url)})")
        if self.login_wall_url and re.search(self.login_wall_url, snap.final_url or ""):
            return Block("login_wall", f"redirected to a login page ({_short(snap.final_url)})")
        soup = dom.parse(snap.html)
        text = dom.visible_text(soup)
        wanted = self.content.get(snap.kind, ())
        if wanted and any(soup.select_one(sel) for sel in wanted):
            return None
        for kind, patterns in (
            ("rate_limited", self.rate_limited),
            ("login_wall", self.login_wall),
            ("unavailable", self.unavailable),
        ):
            hit = _first_match(soup, text, patterns)
            if hit:
                return Block(kind, f"{_WORDS[kind]} (matched {hit!r})")  # type: ignore[arg-type]
        for r in snap.responses:
            if api and api.search(r.url) and r.status in (401, 403):
                return Block("login_wall", f"the platform's API asks for a login ({r.status})")
        if snap.status in (404, 410):
            return Block("not_found", f"HTTP {snap.status}")
        if snap.status and snap.status >= 400:
            return Block("unavailable", f"HTTP {snap.status}")
        if wanted:
            return Block(
                "unavailable", f"no {snap.kind} content on the page (looked for {wanted[0]!r})"
            )
        return None

    # -- extraction -----------------------------------------------------------------------
    def extract(self, snap: PageSnapshot) -> list[dict[str, Any]]:
        """Information objects (see bewaar/objects.py) found in the page, validated. Unknown
        fields stay empty; nothing is invented. Adapters implement read()."""
        from bewaar.objects import validate_object

        out: dict[tuple[str, str], dict[str, Any]] = {}
        for raw in self.read(snap):
            obj = validate_object(raw).to_dict()
            ident = obj["handle"].lower() if obj["type"] == "profile" else obj["id"]
            key = (obj["type"], ident)
            out[key] = merge(out[key], obj) if key in out else obj
        return list(out.values())

    def read(self, snap: PageSnapshot) -> list[dict[str, Any]]:
        """Raw object dicts (made with new_object()); validated by extract()."""
        return []

    def new_object(self, snap: PageSnapshot, type_: str, url: str, **fields: Any) -> dict[str, Any]:
        from bewaar.objects import SCHEMA_VERSION, iso_utc

        obj: dict[str, Any] = {
            "type": type_,
            "schema": SCHEMA_VERSION,
            "platform": self.platform,
            "adapter": self.name,
            "url": url,
            "page_url": snap.final_url or snap.url,
            "captured_at": iso_utc(snap.captured_at) or snap.captured_at,
        }
        obj.update({k: v for k, v in fields.items() if v not in (None, "", [], {})})
        return obj


_WORDS = {"rate_limited": "rate limited", "login_wall": "login wall", "unavailable": "unavailable"}


def _short(url: str) -> str:
    parts = urlsplit(url)
    return parts.path[:80]


def _first_match(soup: Any, text: str, patterns: tuple[str, ...]) -> str | None:
    for p in patterns:
        if p.startswith("re:"):
            if re.search(p[3:], text, re.IGNORECASE):
                return p[3:]
        elif soup.select_one(p) is not None:
            return p
    return None


def _empty(v: Any) -> bool:
    return v is None or v == "" or v == [] or v == {}


def merge(primary: dict[str, Any], secondary: dict[str, Any]) -> dict[str, Any]:
    """Fill the empty fields of `primary` from `secondary` (e.g. JSON first, DOM second).
    Counts merge per key; a shown abbreviated text is kept only with the value it explains."""
    out = dict(primary)
    for key, value in secondary.items():
        if key in ("counts", "counts_text"):
            continue
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        elif _empty(out.get(key)) and not _empty(value):
            out[key] = value
    counts = dict(out.get("counts") or {})
    texts = dict(out.get("counts_text") or {})
    for key, value in (secondary.get("counts") or {}).items():
        if counts.get(key) is None and value is not None:
            counts[key] = value
            if key in (secondary.get("counts_text") or {}):
                texts[key] = secondary["counts_text"][key]
    if counts or "counts" in out:
        out["counts"] = counts
    if texts or "counts_text" in out:
        out["counts_text"] = texts
    return out

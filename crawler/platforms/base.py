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

PageKind = Literal["profile", "post", "page"]
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
    """Base adapter; a platform sets the class attributes and overrides what differs."""

    platform: ClassVar[str] = "generic"
    version: ClassVar[str] = "1.0"  # bump when selectors/extraction change; stored in objects
    default_base_url: ClassVar[str] = ""
    profile_path: ClassVar[str] = "/{handle}"  # formatted with the normalised handle
    post_path: ClassVar[re.Pattern[str]] = re.compile(r"$^")  # path of a post page
    # CSS selectors. Clicked/queried by the crawler's behaviours in the page.
    overlay_close: ClassVar[tuple[str, ...]] = ()  # buttons closing cookie walls / login nags
    overlay_remove: ClassVar[tuple[str, ...]] = ()  # overlays without a close button: removed
    more_controls: ClassVar[tuple[str, ...]] = ()  # "show more replies" etc., besides text patterns
    # Login walls / "content unavailable" / rate limits: CSS selectors or text regexes.
    login_wall: ClassVar[tuple[str, ...]] = ()
    unavailable: ClassVar[tuple[str, ...]] = ()
    rate_limited: ClassVar[tuple[str, ...]] = ()

    def __init__(self, base_url: str | None = None) -> None:
        self.base_url = (base_url or self.default_base_url).rstrip("/")

    # -- URLs ---------------------------------------------------------------------------
    def normalize_handle(self, handle: str) -> str:
        return handle.strip().lstrip("@")

    def profile_url(self, handle: str) -> str:
        return self.base_url + self.profile_path.format(handle=self.normalize_handle(handle))

    def is_post_url(self, url: str, handle: str | None = None) -> bool:
        """Whether a link found on a profile page is one of the account's posts."""
        path = url[len(self.base_url) :] if url.startswith(self.base_url) else None
        return bool(path and self.post_path.match(path))

    # -- page checks and extraction -------------------------------------------------------
    def detect_block(self, snap: PageSnapshot) -> Block | None:
        """A login wall, "unavailable" or rate-limit page is never a successful capture."""
        raise NotImplementedError

    def extract(self, snap: PageSnapshot) -> list[dict[str, Any]]:
        """Information objects (see bewaar/objects.py) found in the page. Unknown fields stay
        empty; nothing is invented."""
        raise NotImplementedError

"""The small model the packages share: where things live on disk and what the files hold.

crawler/, signing/ and replay/ never call each other's internals; they meet through the files
described here (pywb's collection layout plus bewaar's sidecars) and these few types.
This module uses only the standard library so that the replay process, which runs in pywb's own
environment, can read the same definitions.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import Any

COLLECTION_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")  # matched whole (fullmatch)


def valid_collection_name(name: object) -> bool:
    """A collection name is a single safe path component: lowercase letters, digits, '.',
    '_', '-', starting with a letter or digit, no '..', nothing after it (a trailing newline
    passes a `$` regex: hence fullmatch)."""
    return isinstance(name, str) and bool(COLLECTION_NAME.fullmatch(name)) and ".." not in name

# WARC-Target-URI prefixes for records bewaar makes itself (not fetched from the web).
SCREENSHOT_URN = "urn:screenshot:"  # resource, image/png, full-page screenshot of a page
DOM_URN = "urn:dom:"  # resource, text/html, the rendered DOM after behaviours ran
OBJECTS_URN = "urn:objects:"  # metadata, application/json, information objects of a page
PAGEINFO_URN = "urn:pageinfo:"  # metadata, application/json, what happened while capturing
MEDIA_URN = "urn:media:"  # conversion, the media file yt-dlp rebuilt from a stream (by source URL)

# A WARC that is still being written lives in tmp/, never in archive/ (pywb only reads
# archive/, and a crash must not leave a half-written file where it is served or signed).
WARC_SUFFIX = ".warc.gz"
SIGNATURE_SUFFIX = ".sig.json"

PAGES_HEADER = {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}


@dataclass(frozen=True)
class Collection:
    """One pywb collection: collections/NAME/{archive,indexes,pages,objects,tmp}."""

    root: Path
    name: str

    @property
    def path(self) -> Path:
        return self.root / "collections" / self.name

    @property
    def archive(self) -> Path:
        return self.path / "archive"

    @property
    def indexes(self) -> Path:
        return self.path / "indexes"

    @property
    def index_file(self) -> Path:
        return self.indexes / "index.cdxj"

    @property
    def pages_file(self) -> Path:
        return self.path / "pages" / "pages.jsonl"

    @property
    def objects(self) -> Path:
        return self.path / "objects"

    @property
    def tmp(self) -> Path:
        return self.path / "tmp"

    def warcs(self) -> list[Path]:
        """Finished WARC files, oldest first (names start with a timestamp)."""
        if not self.archive.is_dir():
            return []
        return sorted(p for p in self.archive.iterdir() if p.name.endswith(WARC_SUFFIX))

    def ensure(self) -> Collection:
        for d in (self.archive, self.indexes, self.pages_file.parent, self.objects, self.tmp):
            d.mkdir(parents=True, exist_ok=True)
        return self


@dataclass(frozen=True)
class Root:
    """A bewaar root: collections/ in pywb's layout, keys/ and bewaar.yaml beside it."""

    path: Path

    @property
    def config_file(self) -> Path:
        return self.path / "bewaar.yaml"

    @property
    def collections_dir(self) -> Path:
        return self.path / "collections"

    @property
    def state_dir(self) -> Path:
        """Derived, rebuildable state (generated pywb config, caches)."""
        return self.path / ".bewaar"

    @property
    def catalog_file(self) -> Path:
        return self.path / "catalog.sqlite"

    def collection(self, name: str) -> Collection:
        """The collection of that name; a name that is not one (a path, '..') is refused,
        so no command reads or writes outside collections/."""
        if not valid_collection_name(name):
            from bewaar.errors import InputError

            raise InputError(
                f"{name!r} is not a collection name: use lowercase letters, digits, '.', '_' "
                "or '-' (starting with a letter or digit, no '..')"
            )
        return Collection(self.path, name)

    def collections(self) -> list[Collection]:
        if not self.collections_dir.is_dir():
            return []
        return [
            Collection(self.path, p.name)
            for p in sorted(self.collections_dir.iterdir())
            if p.is_dir() and valid_collection_name(p.name)
        ]


class Outcome(StrEnum):
    """How the capture of one page went. Only `ok` counts as a capture of an account."""

    OK = "ok"
    BLOCKED = "blocked"  # a login wall, "content unavailable" or rate-limit page (recorded)
    FAILED = "failed"  # no usable answer (network error, HTTP error, not stored)
    GONE = "gone"  # a re-checked post the platform says no longer exists (a finding)


class PageKind(StrEnum):
    PROFILE = "profile"  # an account page (profile, or a tab such as /videos)
    POST = "post"
    PAGE = "page"  # a plain URL seed and what it links to
    RECHECK = "recheck"  # an earlier post not seen again, visited to ask the platform
    TIMELINE = "timeline"  # another view of the account's posts: with replies, a back-fill
    CONTEXT = "context"  # the post one of the account's replies answers (thread context)
    RECEIVED = "received"  # a mention/tag/search page, or a post found there, about the account
    STORY = "story"  # a story or other temporary content item
    FOLLOWS = "follows"  # a follower or following list
    EXPORT = "export"  # not a web page: a platform export read by `bewaar import`


@dataclass(frozen=True)
class PageRequest:
    """One page the crawler asks the browser for.

    Travels in Scrapy's request meta as a plain dict (`to_meta`), so requests stay picklable
    for disk and redis queues; `from_meta` turns it back into this type.
    """

    target: int  # index of the crawl target (the seed made concrete)
    url: str
    depth: int = 0
    kind: PageKind = PageKind.PAGE
    attempt: int = 1  # > 1: a retry after a rate limit
    post_id: str | None = None  # re-checks: the catalog's id of the post
    retry_of: str | None = None
    scoped: bool = False  # already judged in scope (an adapter's canonical post link)
    run: str = ""  # the run (crawl id) the page belongs to: a worker holds many runs

    def to_meta(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["kind"] = str(self.kind)
        return {k: v for k, v in data.items() if v is not None}

    @classmethod
    def from_meta(cls, data: dict[str, Any]) -> PageRequest:
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in data.items() if k in known}
        kw["kind"] = PageKind(kw.get("kind") or PageKind.PAGE)
        return cls(**kw)

    def retry(self) -> PageRequest:
        return PageRequest(
            self.target, self.url, self.depth, self.kind, self.attempt + 1, self.post_id,
            retry_of=self.url, scoped=self.scoped, run=self.run,
        )


@dataclass
class PageTarget:
    """Whose page it is: the `target` of a page-info record."""

    seed: int = 0
    depth: int = 0
    kind: PageKind = PageKind.PAGE
    account: str = ""  # "platform:handle" for accounts, the host for plain URLs
    platform: str = ""
    handle: str = ""
    attempt: int = 1
    post_id: str | None = None
    account_type: str = ""  # the seed's account type (corporate, project, personal, hybrid)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> PageTarget:
        data = data or {}
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in data.items() if k in known and v is not None}
        try:
            kw["kind"] = PageKind(kw.get("kind") or PageKind.PAGE)
        except ValueError:
            kw["kind"] = PageKind.PAGE
        return cls(**kw)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["kind"] = str(self.kind)
        if data["post_id"] is None:
            del data["post_id"]
        if not data["account_type"]:
            del data["account_type"]
        return data


@dataclass
class PageInfo:
    """The `urn:pageinfo:<url>` metadata record: what happened while capturing one page.

    Written by the crawler after the page's other records, read by the catalog (which is
    rebuilt from these records alone) and by QA.
    """

    url: str
    final_url: str = ""
    status: int | None = None
    title: str = ""
    captured_at: str = ""
    outcome: Outcome = Outcome.OK
    reason: str = ""
    target: PageTarget = field(default_factory=PageTarget)
    behaviors: dict[str, Any] = field(default_factory=dict)
    not_recorded: list[dict[str, Any]] = field(default_factory=list)
    media: list[dict[str, Any]] = field(default_factory=list)
    # account pages: the posts the adapter found linked (in page order), and those the crawl
    # did not follow, with why ({url: "max_posts 50 reached"}): the gap report's "seen"
    post_links: list[str] = field(default_factory=list)
    not_followed: dict[str, str] = field(default_factory=dict)
    backfill: dict[str, Any] = field(default_factory=dict)  # since, budget, how far it got

    @property
    def page_url(self) -> str:
        return self.final_url or self.url

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["outcome"] = str(self.outcome)
        data["target"] = self.target.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PageInfo:
        """Lenient: records written by older versions lack fields; unknown ones are ignored."""
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in data.items() if k in known and v is not None}
        try:
            kw["outcome"] = Outcome(kw.get("outcome") or Outcome.OK)
        except ValueError:
            kw["outcome"] = Outcome.FAILED
        kw["target"] = PageTarget.from_json(data.get("target"))
        kw.setdefault("url", "")
        return cls(**kw)


@dataclass
class PageEntry:
    """One line of pages/pages.jsonl (WACZ json-pages-1.0 plus bewaar's fields).

    `url` and `ts` are what WACZ requires; the rest says how the capture went so that a
    reader never mistakes a login wall or an error page for a successful capture.
    """

    url: str
    ts: str  # ISO 8601 UTC capture time of the page's main document
    id: str
    title: str = ""
    status: int | None = None  # HTTP status of the main document, None if none arrived
    crawl_id: str = ""
    seed: bool = False
    depth: int = 0
    warc: str = ""  # WARC file holding the page's main document response
    outcome: str = "ok"  # ok | failed | blocked
    reason: str = ""  # why failed/blocked, in words
    platform: str = ""
    account: str = ""
    kind: str = ""  # profile | post | page
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        data = asdict(self)
        if not data["extra"]:
            del data["extra"]
        return json.dumps(data, ensure_ascii=False, sort_keys=False)


def read_pages(path: Path) -> Iterator[dict[str, Any]]:
    """Page entries of a pages.jsonl, skipping its header line."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            data = json.loads(line)
            if "format" in data and "url" not in data:
                continue
            yield data


def append_pages(path: Path, entries: list[PageEntry]) -> None:
    """Append entries, writing the WACZ header line first when the file is new."""
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists() or path.stat().st_size == 0
    with path.open("a", encoding="utf-8") as fh:
        if new:
            fh.write(json.dumps(PAGES_HEADER) + "\n")
        for e in entries:
            fh.write(e.to_json() + "\n")
        fh.flush()


@dataclass(frozen=True)
class VolatileParameters:
    """Request parameters a page makes anew on every request (nonces, client clocks,
    cache-busters), per endpoint: what replay/fuzzy.py learned from a collection's captures,
    handed by the application layer to the package writer (signing/wacz.py), which leaves
    them out of a WACZ's index keys so that a replay engine's fuzzy matching is decided by
    the parameters that identify a response.

    `endpoints` maps (method, the SURT urlkey of the endpoint up to and including its `?`)
    to lower-cased parameter names (query parameters, and a POST body's fields or JSON leaves
    as its index key spells them). `leaves` maps the same keys to, per JSON-valued parameter
    that also holds identifying leaves, its client-made leaves: the parameter is kept, those
    leaves are left out of it."""

    endpoints: dict[tuple[str, str], frozenset[str]] = field(default_factory=dict)
    leaves: dict[tuple[str, str], dict[str, frozenset[str]]] = field(default_factory=dict)

    def names(self, method: str, prefix: str) -> frozenset[str]:
        return self.endpoints.get((method.upper(), prefix), frozenset())

    def json_leaves(self, method: str, prefix: str) -> dict[str, frozenset[str]]:
        return self.leaves.get((method.upper(), prefix), {})

    def __bool__(self) -> bool:
        return bool(self.endpoints or self.leaves)

    def merged(self, other: VolatileParameters) -> VolatileParameters:
        """Both collections' judgements (a parameter volatile in either is left out)."""
        endpoints = dict(self.endpoints)
        for key, names in other.endpoints.items():
            endpoints[key] = endpoints.get(key, frozenset()) | names
        leaves = {k: dict(v) for k, v in self.leaves.items()}
        for key, params in other.leaves.items():
            mine = leaves.setdefault(key, {})
            for name, ls in params.items():
                mine[name] = mine.get(name, frozenset()) | ls
        return VolatileParameters(endpoints, leaves)

    def to_json(self) -> dict[str, Any]:
        return {
            "endpoints": [[m, p, sorted(n)] for (m, p), n in sorted(self.endpoints.items())],
            "leaves": [
                [m, p, {name: sorted(ls) for name, ls in sorted(params.items())}]
                for (m, p), params in sorted(self.leaves.items())
            ],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VolatileParameters:
        return cls(
            {(m, p): frozenset(n) for m, p, n in data.get("endpoints") or []},
            {
                (m, p): {name: frozenset(ls) for name, ls in params.items()}
                for m, p, params in data.get("leaves") or []
            },
        )

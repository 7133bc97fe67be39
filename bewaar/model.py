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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

COLLECTION_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")

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
        return Collection(self.path, name)

    def collections(self) -> list[Collection]:
        if not self.collections_dir.is_dir():
            return []
        return [
            Collection(self.path, p.name)
            for p in sorted(self.collections_dir.iterdir())
            if p.is_dir() and COLLECTION_NAME.match(p.name)
        ]


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

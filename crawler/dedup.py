"""Which payloads the collection already holds, so identical ones become revisit records.

Seeded from the collection's CDXJ index (earlier crawls) and filled as this crawl writes, so the
same script or video is stored once per collection, and replay still serves every copy.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Original:
    uri: str
    date: str  # WARC-Date of the original, ISO 8601
    record_id: str | None = None


def _ts_to_iso(ts: str) -> str:
    ts = (ts + "00000000000000")[:14]
    return f"{ts[0:4]}-{ts[4:6]}-{ts[6:8]}T{ts[8:10]}:{ts[10:12]}:{ts[12:14]}Z"


class DedupIndex:
    def __init__(self) -> None:
        self._by_digest: dict[str, Original] = {}
        self._added: list[str] | None = None

    def __len__(self) -> int:
        return len(self._by_digest)

    def items(self) -> Iterator[tuple[str, Original]]:
        yield from self._by_digest.items()

    def get(self, digest: str) -> Original | None:
        return self._by_digest.get(digest)

    def add(self, digest: str, original: Original) -> None:
        if digest not in self._by_digest and self._added is not None:
            self._added.append(digest)
        self._by_digest.setdefault(digest, original)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Originals added inside are forgotten if it fails: a page cut from the WARC after a
        failed write must not become the target of later revisits."""
        self._added = []
        try:
            yield
        except BaseException:
            for digest in self._added:
                self._by_digest.pop(digest, None)
            raise
        finally:
            self._added = None

    @classmethod
    def from_cdxj(cls, paths: list[Path]) -> DedupIndex:
        """Originals are full 200 responses; revisits point at them, never at each other."""
        idx = cls()
        for key, ts, data in cdxj_originals(paths):
            if "__wb_method=" not in key:
                idx.add(data["digest"], Original(data["url"], _ts_to_iso(ts)))
        return idx


def cdxj_originals(paths: list[Path]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(urlkey, timestamp, fields) of every CDXJ line that can be a revisit's original: a 200
    response with a payload digest, not itself a revisit. The crawler's dedup and the exports
    (which copy the originals of revisits) read the index through this one filter."""
    for path in paths:
        if not path.exists():
            continue
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                parts = line.split(" ", 2)
                if len(parts) < 3 or not parts[2].startswith("{"):
                    continue
                try:
                    data = json.loads(parts[2])
                except ValueError:
                    continue
                if (
                    data.get("digest")
                    and str(data.get("status")) == "200"
                    and data.get("mime") != "warc/revisit"
                ):
                    yield parts[0], parts[1], data

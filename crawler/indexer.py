"""Keep a collection's CDXJ index current, using pywb's own indexer.

POST requests are indexed with their body appended to the URL key (`--postappend`). pywb's
indexer is used rather than cdxj-indexer because the two disagree on JSON bodies (cdxj-indexer
1.5 writes a JSON null as "None", pywb's replay looks it up as "null"): indexing with the code
that replay uses for lookups keeps every POST findable. It runs in pywb's own environment.
"""

from __future__ import annotations

import heapq
import os
import re
import subprocess
import tempfile
from collections.abc import Iterable
from pathlib import Path

from bewaar.environment import pywb_python
from bewaar.errors import BewaarError
from bewaar.lock import file_lock
from bewaar.model import Collection


def index_warcs(warcs: Iterable[Path]) -> list[str]:
    """CDXJ lines (sorted) for the given WARC files, named by file name as pywb expects."""
    warcs = [str(w) for w in warcs]
    if not warcs:
        return []
    with tempfile.NamedTemporaryFile("r", suffix=".cdxj", encoding="utf-8") as out:
        cmd = [str(pywb_python()), "-m", "pywb.indexer.cdxindexer", "-j", "-p", "-s", "-o", out.name]
        proc = subprocess.run(cmd + warcs, capture_output=True, text=True)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise BewaarError(f"indexing failed: {last}")
        lines = [ln.rstrip("\n") for ln in out if ln.strip() and not ln.startswith("!")]
    lines.sort()
    return lines


def _merge_into(
    index: Path, new_lines: list[str], drop_files: Iterable[str] = (), replace: bool = False
) -> int:
    """Merge sorted new lines into the sorted index and replace it atomically.

    Under a lock on the index (INDEX.lock), so that two merges never both read the old index
    and the second replace drops the first one's entries; through a temporary file of its own
    (never a fixed name two writers would share)."""
    index.parent.mkdir(parents=True, exist_ok=True)
    drop = {f'"filename": "{f}"' for f in drop_files}
    with file_lock(index.with_name(index.name + ".lock")):
        fd, tmp_name = tempfile.mkstemp(prefix=f".{index.name}.", suffix=".tmp", dir=index.parent)
        tmp = Path(tmp_name)
        count = 0
        existing: Iterable[str] = ()
        fh = index.open(encoding="utf-8") if index.exists() and not replace else None
        try:
            if fh is not None:
                existing = (
                    line.rstrip("\n")
                    for line in fh
                    if line.strip() and not (drop and any(d in line for d in drop))
                )
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                for line in heapq.merge(existing, new_lines):
                    out.write(line + "\n")
                    count += 1
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, index)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        finally:
            if fh is not None:
                fh.close()
    return count


_FILENAME = re.compile(r'"filename": "([^"]+)"')


def indexed_files(index: Path) -> set[str]:
    """The WARC file names an index has entries for."""
    names: set[str] = set()
    if not index.exists():
        return names
    with index.open(encoding="utf-8", errors="replace") as fh:
        for line in fh:
            m = _FILENAME.search(line)
            if m:
                names.add(m.group(1))
    return names


def add_to_index(collection: Collection, warcs: list[Path]) -> int:
    """Index newly finished WARCs into collections/NAME/indexes/index.cdxj."""
    if not warcs:
        return 0
    names = {w.name for w in warcs}
    new = index_warcs(warcs)
    _merge_into(collection.index_file, new, drop_files=names)
    return len(new)


def add_many(collection: Collection, groups: list[list[Path]]) -> list[int]:
    """Index the files of several crawls in one indexer run and one merge (a watch finishes
    many runs at once); the entries added per group."""
    files = [w for g in groups for w in g]
    if not files:
        return [0 for _ in groups]
    new = index_warcs(files)
    _merge_into(collection.index_file, new, drop_files={w.name for w in files})
    counts: dict[str, int] = {}
    for line in new:
        m = _FILENAME.search(line)
        if m:
            counts[m.group(1)] = counts.get(m.group(1), 0) + 1
    return [sum(counts.get(w.name, 0) for w in g) for g in groups]


def reindex(collection: Collection) -> int:
    """Rebuild the index from every WARC in archive/ (replacing it whole, atomically)."""
    lines = index_warcs(collection.warcs())
    return _merge_into(collection.index_file, lines, replace=True)


def unindexed(collection: Collection) -> list[Path]:
    """Finished WARCs the index does not know (a crawl killed between finishing a file and
    indexing it)."""
    known = indexed_files(collection.index_file)
    return [w for w in collection.warcs() if w.name not in known]

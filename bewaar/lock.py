"""One writer per collection: an exclusive lock on COLLECTION/.lock for everything that writes
into a collection (a crawl with its after-crawl steps, watch's crawls, `bewaar index`,
`bewaar sign`).

Without it a second crawl's recovery moved the first crawl's open WARC out of tmp/ and signed
it while the first went on writing it. A second writer does not wait for hours behind a crawl:
it stops at once (exit 3) with one line naming the holder, read from the lock file (host, pid,
command, since).

Written on fcntl.flock (standard library) rather than a lock library: the lock must die with
its holder however it ends (SIGKILL included, so there is nothing stale to clean up), must not
be inherited by the holder's child processes (Chromium, pywb's indexer), and must carry who
holds it. Local file systems only (flock on NFS is not reliable).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from bewaar.errors import EnvironmentProblem
from bewaar.timeutil import iso

LOCK_NAME = ".lock"


class CollectionBusy(EnvironmentProblem):
    """Another process is writing the collection (exit 3)."""


def this_command() -> str:
    """How this process was started, for the holder line: `bewaar crawl seeds.yaml ...`."""
    args = [Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python", *sys.argv[1:]]
    if args[0] in ("cli.py", "__main__.py", "-m"):
        args[0] = "bewaar"
    text = " ".join(args)
    return text if len(text) <= 200 else text[:199] + "…"


def holder(path: Path) -> str:
    """Who holds the lock at `path`, in words (the holder writes it just after locking)."""
    for _ in range(5):
        try:
            data = json.loads(path.read_text(encoding="utf-8") or "null")
        except (OSError, ValueError):
            data = None
        if isinstance(data, dict):
            return (
                f"pid {data.get('pid')} on {data.get('host')} ({data.get('command')}, "
                f"since {data.get('since')})"
            )
        time.sleep(0.05)  # locked, not yet written
    return "another process"


def _flock(path: Path, wait: float) -> int | None:
    """The locked descriptor, or None if still held by another after `wait` seconds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= deadline:
                os.close(fd)
                return None
            time.sleep(min(0.2, max(0.01, deadline - time.monotonic())))


# Locks this process holds, by path: a process that holds a collection (a crawl, a watch with
# runs of it under way) may take it again (its worker's short locks, its after-crawl steps).
_held: dict[Path, list[int]] = {}  # path -> [fd, count]
_held_lock = threading.Lock()


def hold(collection_dir: Path, command: str | None = None, wait: float = 0.0) -> None:
    """Take COLLECTION/.lock for this process (counted: `release` as often as `hold`);
    CollectionBusy names the holder when another process has it (after `wait` seconds)."""
    path = (Path(collection_dir) / LOCK_NAME).absolute()
    with _held_lock:
        if path in _held:
            _held[path][1] += 1
            return
    try:
        fd = _flock(path, wait)
    except OSError as e:
        raise EnvironmentProblem(f"cannot lock {path}: {e.strerror or e}") from None
    if fd is None:
        raise CollectionBusy(
            f"collection {Path(collection_dir).name} is being written by {holder(path)}: "
            "wait until it has finished (one writer per collection)"
        )
    info = {
        "pid": os.getpid(), "host": socket.gethostname(),
        "command": command or this_command(), "since": iso(),
    }  # fmt: skip
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode(), 0)
    with _held_lock:
        _held[path] = [fd, 1]


def release(collection_dir: Path) -> None:
    path = (Path(collection_dir) / LOCK_NAME).absolute()
    with _held_lock:
        entry = _held.get(path)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] > 0:
            return
        del _held[path]
    with contextlib.suppress(OSError):
        os.ftruncate(entry[0], 0)  # no stale holder line once released
    os.close(entry[0])  # releases the lock


def holds(collection_dir: Path) -> bool:
    """This process holds the collection."""
    with _held_lock:
        return (Path(collection_dir) / LOCK_NAME).absolute() in _held


@contextlib.contextmanager
def collection_lock(
    collection_dir: Path, command: str | None = None, wait: float = 0.0
) -> Iterator[None]:
    """Hold COLLECTION/.lock exclusively; CollectionBusy names the holder when another
    process has it (after `wait` seconds)."""
    hold(collection_dir, command, wait)
    try:
        yield
    finally:
        release(collection_dir)


def busy(collection_dir: Path) -> str | None:
    """Who is writing the collection now, or None if nobody is (a look, not a lock: the
    writer that then starts takes the lock itself). This process is nobody."""
    path = Path(collection_dir) / LOCK_NAME
    if holds(collection_dir) or not path.exists():
        return None
    fd = _flock(path, 0.0)
    if fd is None:
        return holder(path)
    os.close(fd)
    return None


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """A short exclusive lock around a read-modify-replace of one file (the CDXJ index):
    waits as long as it takes, the holders only merge."""
    fd = _flock(path, wait=float("inf"))
    assert fd is not None
    try:
        yield
    finally:
        os.close(fd)


def collection_dir_of(path: Path) -> Path | None:
    """The collection directory a WARC file, an archive/ folder or a collection directory
    belongs to (the one holding archive/), or None when the path is not in one."""
    path = Path(path).resolve()
    if path.is_dir() and (path / "archive").is_dir():
        return path
    if path.name == "archive" and path.is_dir():
        return path.parent
    if path.parent.name == "archive":
        return path.parent.parent
    return None

"""Opening files that may be hostile: regular files only, read with a limit.

A collection or a package handed over for verification is untrusted. A symbolic link to
/dev/zero or a FIFO named like a WARC would make a naive reader hang or fill memory, and a link
out of the collection would make it vouch for a file it does not hold. Everything verify and
sign read goes through here.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from bewaar.errors import InputError


class NotRegular(InputError):
    """The path is a device, a pipe, a socket or a directory."""


def open_regular(path: Path) -> BinaryIO:
    """Open for reading, refusing anything but a regular file (O_NONBLOCK: a FIFO never
    blocks the open)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file or directory") from None
    except IsADirectoryError:
        raise NotRegular(f"{path}: is a directory") from None
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = "a directory" if stat.S_ISDIR(mode) else "a device, pipe or socket"
        raise NotRegular(f"{path}: is {kind}, not a regular file: refusing to read it")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def read_bounded(path: Path, limit: int, what: str = "file") -> bytes:
    """The whole file, if it is a regular file of at most `limit` bytes."""
    with open_regular(path) as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise InputError(f"{path}: larger than {limit} bytes, too large for a {what}: refusing")
    return data


def escapes(path: Path, inside: Path) -> str | None:
    """Why `path` may not be read as part of `inside` (a link leading out of it, or not a
    regular file), or None when it may."""
    try:
        target = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return "a broken or looping symbolic link" if path.is_symlink() else "unreadable"
    base = inside.resolve()
    if target != base and base not in target.parents:
        return f"a symbolic link to {target}, outside {inside.name}/: not followed"
    try:
        mode = target.stat().st_mode
    except OSError as e:
        return f"unreadable ({e.strerror})"
    if not stat.S_ISREG(mode):
        return "not a regular file (device, pipe or socket): not read"
    return None

"""Tiny PNG writer so fixture images are generated, not downloaded (zlib + struct only)."""

from __future__ import annotations

import hashlib
import struct
import zlib
from functools import lru_cache


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@lru_cache(maxsize=512)
def png(width: int, height: int, seed: str) -> bytes:
    """A width x height RGB image: a colour from `seed` with a darker diagonal band, so every
    seed (and every size) gives distinct bytes."""
    h = hashlib.sha256(seed.encode()).digest()
    base = bytes(h[:3])
    dark = bytes(c // 2 for c in base)
    rows = []
    for y in range(height):
        row = bytearray(b"\x00")
        for x in range(width):
            row += dark if abs(x * height - y * width) < width * 4 else base
        rows.append(bytes(row))
    raw = b"".join(rows)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )

"""Test material made with the real tools: WARCs written by warcio, CAs made with cryptography."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import io
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.utils import Digester
from warcio.warcwriter import WARCWriter

BEWAAR = str(Path(sys.executable).parent / "bewaar")

# A real 1x1 PNG, big enough for the evidence report to embed and small enough to read.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


class SHA256WARCWriter(WARCWriter):
    """warcio's writer with sha256 digests (base32, `sha256:...`), as the crawler writes them."""

    @staticmethod
    def _create_digester() -> Digester:
        return Digester("sha256")


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A solid-colour PNG, built from the spec so screenshots have a visible size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * width
    raw = row * height
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def write_warc(
    path: Path,
    pages: list[str] | None = None,
    *,
    date: dt.datetime | None = None,
    revisit: bool = True,
    body_size: int = 2000,
    gzip_records: bool = True,
) -> Path:
    """A WARC as the crawler writes it: warcinfo, then per page request/response, screenshot,
    DOM and objects (tied to the response by WARC-Concurrent-To), plus a revisit record."""
    pages = pages or ["https://example.gov/news/1", "https://example.gov/news/2"]
    when = date or dt.datetime(2025, 3, 1, 12, 0, 0, tzinfo=dt.UTC)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        w = SHA256WARCWriter(fh, gzip=gzip_records, warc_version="WARC/1.1")

        def stamp(i: int) -> str:
            return (when + dt.timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ")

        info = w.create_warcinfo_record(
            path.name, {"software": "bewaar-tests", "format": "WARC File Format 1.1"}
        )
        info.rec_headers.replace_header("WARC-Date", stamp(0))
        w.write_record(info)
        n = 1
        for i, url in enumerate(pages):
            body = (
                f"<html><head><title>Page {i}</title></head><body>"
                + ("Nieuws van de gemeente. " * (body_size // 24))
                + "</body></html>"
            ).encode()
            http = StatusAndHeaders(
                "200 OK",
                [("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body)))],
                protocol="HTTP/1.1",
            )
            resp = w.create_warc_record(
                url, "response", payload=io.BytesIO(body), http_headers=http,
                warc_headers_dict={"WARC-Date": stamp(n)},
            )
            req = w.create_warc_record(
                url, "request", payload=io.BytesIO(b""),
                http_headers=StatusAndHeaders(
                    f"GET /news/{i} HTTP/1.1", [("Host", "example.gov")], is_http_request=True
                ),
                warc_headers_dict={"WARC-Date": stamp(n)},
            )
            req.rec_headers.add_header("WARC-Concurrent-To", resp.rec_headers.get_header("WARC-Record-ID"))
            w.write_record(req)
            w.write_record(resp)
            rid = resp.rec_headers.get_header("WARC-Record-ID")
            png = _png(40 + i, 30, (20 * i % 255, 90, 160))
            for uri, rtype, ctype, payload in (
                (f"urn:screenshot:{url}", "resource", "image/png", png),
                (f"urn:dom:{url}", "resource", "text/html", body),
                (f"urn:objects:{url}", "metadata", "application/json",
                 json.dumps([{"type": "post", "text": f"post {i}"}]).encode()),
            ):
                rec = w.create_warc_record(
                    uri, rtype, payload=io.BytesIO(payload),
                    warc_content_type=ctype,
                    warc_headers_dict={"WARC-Date": stamp(n), "WARC-Concurrent-To": rid},
                )
                w.write_record(rec)
            n += 1
        if revisit and pages:
            rev = w.create_revisit_record(
                pages[0], digest=resp.rec_headers.get_header("WARC-Payload-Digest"),
                refers_to_uri=pages[-1], refers_to_date=stamp(1),
                http_headers=StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1"),
            )
            rev.rec_headers.replace_header("WARC-Date", stamp(n))
            w.write_record(rev)
    return path


def gzip_members(path: Path) -> list[tuple[int, int]]:
    """(offset, length) of each gzip member: one WARC record each."""
    data = path.read_bytes()
    out = []
    pos = 0
    while pos < len(data):
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        d.decompress(data[pos:])
        used = len(data) - pos - len(d.unused_data)
        out.append((pos, used))
        pos += used
    return out


def record_bytes(path: Path, index: int) -> bytes:
    """The uncompressed bytes of record `index` (0-based)."""
    off, length = gzip_members(path)[index]
    return gzip.decompress(path.read_bytes()[off : off + length])


def replace_record(path: Path, index: int, new_plain: bytes) -> None:
    """Rewrite one record (0-based) with new uncompressed bytes, keeping the others as they are."""
    data = path.read_bytes()
    members = gzip_members(path)
    off, length = members[index]
    path.write_bytes(data[:off] + gzip.compress(new_plain) + data[off + length :])


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`bewaar ARGS` as a user runs it (never in debug mode, so tracebacks would be real bugs)."""
    env = {k: v for k, v in os.environ.items() if k != "BEWAAR_DEBUG"}
    return subprocess.run(
        [BEWAAR, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300, check=False
    )

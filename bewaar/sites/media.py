"""Fixture media made here, never downloaded: PNG photos, a WAV tone, and short real videos.

Videos are recorded by the system Chromium itself (a canvas animation through MediaRecorder):
an H.264 fragmented MP4 (what TikTok-style progressive players load with byte ranges) and a
VP9 WebM (what YouTube-style players append to Media Source buffers). The browser is needed by
every platform test anyway, so this adds no dependency. Recorded once per machine and cached.
"""

from __future__ import annotations

import base64
import math
import os
import struct
import subprocess
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

from bewaar.config import RootConfig
from bewaar.environment import find_chromium
from bewaar.sites.png import png
from crawler.settings import chromium_args

__all__ = ["png", "wav", "video", "CHROMIUM", "CHROMIUM_ARGS"]

CHROMIUM = find_chromium()  # the Chromium bewaar uses (system, else Playwright's)
# the crawler's own flags, confined to loopback
CHROMIUM_ARGS = chromium_args(RootConfig.model_validate({"browser": {"loopback_only": True}}))
CACHE = Path(tempfile.gettempdir()) / "bewaar-fixture-media-v1"
FORMATS = {"mp4": "video/mp4;codecs=avc1", "webm": "video/webm;codecs=vp9"}

_RECORD_JS = """async (mime) => {
  const c = document.createElement('canvas'); c.width = 160; c.height = 90;
  const g = c.getContext('2d'); let f = 0;
  const draw = () => { g.fillStyle = `hsl(${(f * 12) % 360},70%,50%)`; g.fillRect(0,0,160,90);
    g.fillStyle = '#fff'; g.fillRect((f * 7) % 160, 30, 30, 30); g.font = '20px sans-serif';
    g.fillText(String(f), 8, 24); f++; };
  draw(); const timer = setInterval(draw, 50);
  const rec = new MediaRecorder(c.captureStream(20), {mimeType: mime, videoBitsPerSecond: 200000});
  const chunks = []; rec.ondataavailable = e => e.data.size && chunks.push(e.data);
  const done = new Promise(r => rec.onstop = r);
  rec.start(250); await new Promise(r => setTimeout(r, 2200)); rec.stop(); await done;
  clearInterval(timer);
  const buf = new Uint8Array(await new Blob(chunks).arrayBuffer());
  let s = ''; for (let i = 0; i < buf.length; i += 0x8000) s += String.fromCharCode(...buf.subarray(i, i + 0x8000));
  return btoa(s);
}"""


def _record(out_dir: Path) -> None:
    """Run in a child process: Playwright's sync API cannot nest inside a test's own."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page()
            page.set_content("<title>rec</title>")
            for ext, mime in FORMATS.items():
                data = base64.b64decode(page.evaluate(_RECORD_JS, mime))
                tmp = out_dir / f"clip.{ext}.tmp{os.getpid()}"
                tmp.write_bytes(data)
                tmp.replace(out_dir / f"clip.{ext}")
        finally:
            browser.close()


@lru_cache(maxsize=4)
def video(ext: str) -> bytes:
    """A ~2 s 160x90 clip: "mp4" (H.264 fragmented MP4) or "webm" (VP9)."""
    if ext not in FORMATS:
        raise ValueError(ext)
    path = CACHE / f"clip.{ext}"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "bewaar.sites.media", str(CACHE)],
            check=True,
            timeout=120,
            cwd=Path(__file__).resolve().parents[2],
        )
    data = path.read_bytes()
    if len(data) < 1000:
        raise RuntimeError(f"Chromium recorded no usable video into {path}")
    return data


def boxes(data: bytes) -> list[tuple[str, int, int]]:
    """Top-level MP4 boxes: (type, offset, size)."""
    out, pos = [], 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if size < 8:
            break
        out.append((kind.decode("latin-1"), pos, size))
        pos += size
    return out


def hls_media_playlist(data: bytes, uri: str) -> str:
    """An fMP4 HLS playlist over one fragmented MP4 file by byte ranges: the init section
    (ftyp+moov) as EXT-X-MAP, each moof+mdat pair as a segment - how X's HLS variants look to
    a downloader, without cutting the file."""
    bx = boxes(data)
    init_end = next(off for kind, off, _size in bx if kind == "moof")
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-TARGETDURATION:1", "#EXT-X-MEDIA-SEQUENCE:0",
             "#EXT-X-PLAYLIST-TYPE:VOD", f'#EXT-X-MAP:URI="{uri}",BYTERANGE="{init_end}@0"']  # fmt: skip
    frags = [(off, size) for kind, off, size in bx if kind == "moof"]
    for i, (off, _size) in enumerate(frags):
        end = frags[i + 1][0] if i + 1 < len(frags) else len(data)
        lines += ["#EXTINF:0.750,", f"#EXT-X-BYTERANGE:{end - off}@{off}", uri]
    return "\n".join([*lines, "#EXT-X-ENDLIST", ""])


def hls_master_playlist(media_uri: str, width: int = 160, height: int = 90) -> str:
    return (
        "#EXTM3U\n#EXT-X-INDEPENDENT-SEGMENTS\n"
        f"#EXT-X-STREAM-INF:AVERAGE-BANDWIDTH=200000,BANDWIDTH=256000,RESOLUTION={width}x{height}\n"
        f"{media_uri}\n"
    )


@lru_cache(maxsize=8)
def wav(seconds: float = 0.5, hz: int = 440) -> bytes:
    """A mono 8 kHz 8-bit PCM sine tone: the simplest audio every browser plays."""
    rate = 8000
    frames = bytes(
        int(128 + 100 * math.sin(2 * math.pi * hz * i / rate)) for i in range(int(seconds * rate))
    )
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate, 1, 8)
    return (
        b"RIFF"
        + struct.pack("<I", 36 + len(frames))
        + b"WAVEfmt "
        + struct.pack("<I", 16)
        + fmt
        + b"data"
        + struct.pack("<I", len(frames))
        + frames
    )


if __name__ == "__main__":
    _record(Path(sys.argv[1]))

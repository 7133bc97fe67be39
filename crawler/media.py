"""Full video and audio with yt-dlp, recorded exchange by exchange.

A browser plays a stream piece by piece (HLS/DASH segments, MediaSource chunks, byte ranges)
and only as far as it plays. yt-dlp knows how to get a platform's media whole. Every HTTP
exchange it makes goes through `YoutubeDL.urlopen`; recording there (rather than saving only
the downloaded file) puts the playlists and segments into the WARC under the URLs a replayed
player requests, so the stream plays in replay. The rebuilt file is kept too, as a WARC
`conversion` record, so the media stays playable on its own.
"""

from __future__ import annotations

import hashlib
import http.cookiejar
import io
import logging
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crawler.recorder import Exchange

log = logging.getLogger(__name__)

MANIFEST_MIMES = (
    "application/vnd.apple.mpegurl",
    "application/x-mpegurl",
    "audio/mpegurl",
    "audio/x-mpegurl",
    "application/dash+xml",
)
_MANIFEST_PATH = re.compile(r"\.(m3u8|mpd)(\?|$)", re.I)


def is_manifest(url: str, mime: str = "") -> bool:
    return mime.split(";")[0].strip().lower() in MANIFEST_MIMES or bool(
        _MANIFEST_PATH.search(urlsplit(url).path + ("?" if urlsplit(url).query else ""))
    )


def has_site_extractor(url: str) -> bool:
    """Whether yt-dlp has a dedicated extractor for this page (not just its generic one)."""
    from yt_dlp.extractor import gen_extractor_classes

    for ie in gen_extractor_classes():
        if ie.ie_key() == "Generic":
            continue
        try:
            if ie.suitable(url):
                return True
        except Exception:  # noqa: BLE001 - a broken extractor regex is not our problem
            continue
    return False


@dataclass
class MediaResult:
    source: str  # the URL given to yt-dlp (post page or manifest)
    exchanges: list[Exchange] = field(default_factory=list)
    file: bytes | None = None  # the rebuilt media file
    ext: str = ""
    format: str = ""
    error: str = ""

    def summary(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "format": self.format,
            "ext": self.ext,
            "bytes": len(self.file) if self.file else 0,
            "sha256": hashlib.sha256(self.file).hexdigest() if self.file else None,
            "urls": [e.url for e in self.exchanges],
            "error": self.error,
        }


def _recording_ydl(params: dict[str, Any], sink: list[Exchange]) -> Any:
    import yt_dlp
    from yt_dlp.networking import Request, Response

    class RecordingYoutubeDL(yt_dlp.YoutubeDL):
        """yt-dlp with every HTTP exchange kept as an Exchange (bodies are read whole)."""

        def urlopen(self, req: Any) -> Any:
            if isinstance(req, str):
                req = Request(req)
            started = time.time()
            resp = super().urlopen(req)
            body = resp.read()
            sent = dict(self.params.get("http_headers") or {})
            sent.update(dict(req.headers))
            headers = list(resp.headers.items())
            sink.append(
                Exchange(
                    request_id=f"yt-dlp-{len(sink)}",
                    url=resp.url,
                    method=req.method,
                    request_headers=list(sent.items()),
                    wall_time=started,
                    resource_type="Media",
                    request_body=req.data if isinstance(req.data, bytes) else None,
                    protocol="http/1.1",
                    status=resp.status,
                    status_text=resp.reason or "",
                    response_headers=headers,
                    mime=next((v for k, v in headers if k.lower() == "content-type"), ""),
                    body=body,
                    finished=True,
                    fetcher="yt-dlp " + yt_dlp.version.__version__,
                )
            )
            return Response(io.BytesIO(body), resp.url, resp.headers, resp.status, resp.reason)

    return RecordingYoutubeDL(params)


def fetch_media(
    url: str,
    cookies: list[dict[str, Any]] | None = None,
    referer: str | None = None,
    user_agent: str | None = None,
    max_bytes: int = 512_000_000,
    proxy: str | None = None,
) -> MediaResult:
    """Download one media item with yt-dlp; never raises (errors are in the result).
    `proxy`: the crawl's network guard (socks5://…), which yt-dlp then asks to resolve and
    check every host (socks5h: the proxy resolves, not yt-dlp)."""
    result = MediaResult(url)
    headers = {}
    if referer:
        headers["Referer"] = referer
    if user_agent:
        headers["User-Agent"] = user_agent
    with tempfile.TemporaryDirectory(prefix="bewaar-media-") as tmp:
        params: dict[str, Any] = {
            "quiet": True,
            "no_warnings": True,
            "noprogress": True,
            "outtmpl": str(Path(tmp) / "media.%(ext)s"),
            "format": "best/bestvideo/bestaudio",  # one file: merging would need ffmpeg
            "http_chunk_size": 0,
            "hls_prefer_native": True,
            "max_filesize": max_bytes,
            "http_headers": headers,
            "noplaylist": True,
            "retries": 2,
            "fragment_retries": 2,
            "socket_timeout": 30,
            "cachedir": False,
        }
        if proxy:
            params["proxy"] = proxy.replace("socks5://", "socks5h://", 1)
        ydl = _recording_ydl(params, result.exchanges)
        try:
            for c in cookies or []:
                ydl.cookiejar.set_cookie(_cookie(c))
            info = ydl.extract_info(url, download=True)
            # byte-range playlists leave only 206 parts: replay needs each file whole as a 200
            whole = {e.url for e in result.exchanges if e.status == 200}
            for part in {e.url for e in result.exchanges if e.status == 206} - whole:
                ydl.urlopen(part).read()
            if info:
                result.format = str(info.get("format") or info.get("format_id") or "")
                result.ext = str(info.get("ext") or "")
            files = [p for p in Path(tmp).iterdir() if p.is_file() and not p.name.endswith(".part")]
            if files:
                result.file = files[0].read_bytes()
        except Exception as e:  # noqa: BLE001 - yt-dlp raises many kinds; the capture goes on
            result.error = str(e).splitlines()[0][:300] if str(e) else type(e).__name__
        finally:
            ydl.close()
    return result


def _cookie(c: dict[str, Any]) -> http.cookiejar.Cookie:
    domain = str(c.get("domain", ""))
    return http.cookiejar.Cookie(
        version=0,
        name=str(c["name"]),
        value=str(c["value"]),
        port=None,
        port_specified=False,
        domain=domain,
        domain_specified=bool(domain),
        domain_initial_dot=domain.startswith("."),
        path=str(c.get("path", "/")),
        path_specified=True,
        secure=bool(c.get("secure")),
        expires=int(c["expires"]) if c.get("expires", -1) not in (-1, None) else None,
        discard=False,
        comment=None,
        comment_url=None,
        rest={"HttpOnly": ""} if c.get("httpOnly") else {},
    )

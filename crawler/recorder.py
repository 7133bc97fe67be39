"""Record every HTTP exchange a page makes, exactly, through a CDP Network session.

Why CDP and not Playwright's events: `page.on("response")` loses the request headers the
browser really sent, and `route.fetch` loses redirect hops. The Network domain gives the raw
status line and header order (`responseReceivedExtraInfo.headersText`), every redirect hop, the
remote IP and the request body, and `getResponseBody` gives the body. No library exposes this
recording for Playwright + Python, so it is written here.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import CDPSession, Page

log = logging.getLogger(__name__)

# Requests that may legitimately stay open while a page is "quiet".
_LONG_LIVED_TYPES = {"Media", "EventSource", "WebSocket", "Ping"}
_LONG_LIVED_AFTER = 10.0  # seconds; a request open this long no longer blocks "quiet"


@dataclass
class Exchange:
    """One HTTP request/response hop (a redirect chain is several exchanges)."""

    request_id: str
    url: str
    method: str
    request_headers: list[tuple[str, str]]
    wall_time: float  # epoch seconds when the request was sent
    resource_type: str = ""
    frame_id: str = ""
    request_body: bytes | None = None
    protocol: str = ""
    status: int | None = None
    status_text: str = ""
    response_headers: list[tuple[str, str]] = field(default_factory=list)
    headers_text: str | None = None  # raw status line + headers (HTTP/1.x only)
    remote_ip: str | None = None
    remote_port: int | None = None  # the proxy's port when the network guard is in between
    mime: str = ""
    body: bytes | None = None
    body_error: str = ""
    failed: str = ""  # Chromium's errorText when loading failed
    redirect: bool = False
    finished: bool = False
    has_post_data: bool = False
    is_main_document: bool = False
    fetcher: str = ""  # "" = the browser; else the program that made the request (yt-dlp)
    redacted: list[str] = field(default_factory=list)  # what crawler/redact.py took out
    _req_extra: bool = False  # request headers came from ExtraInfo (what was really sent)

    @property
    def complete(self) -> bool:
        """A full response we can write: headers arrived and the body (if any) is whole."""
        if self.status is None or self.failed:
            return False
        if self.redirect:
            return True
        return self.finished and self.body is not None


def _header_list(headers: dict[str, str] | None) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for k, v in (headers or {}).items():
        if k.startswith(":"):  # HTTP/2 pseudo-headers are not headers
            continue
        # CDP joins repeated headers with newlines; a WARC keeps them as separate lines
        for part in str(v).split("\n"):
            out.append((k, part))
    return out


class NetworkRecorder:
    """Attach before navigation; `finish()` returns the exchanges in request order."""

    def __init__(
        self, page: Page, max_resource_size: int = 256_000_000, keep_bodies: bool = True
    ) -> None:
        self.page = page
        self.max_resource_size = max_resource_size
        # False only for benchmarks: watch the network (for quiet detection), keep nothing
        self.keep_bodies = keep_bodies
        self.exchanges: list[Exchange] = []
        self._current: dict[str, Exchange] = {}
        self._hops: dict[str, list[Exchange]] = defaultdict(list)
        self._req_extra: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._resp_extra: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._inflight: dict[str, tuple[float, str]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._last_activity = time.monotonic()
        self.last_request = 0.0  # monotonic time the page last asked for something
        self._cdp: CDPSession | None = None
        self._main_frame = ""
        self.closed = False

    # -- lifecycle --------------------------------------------------------------------
    async def start(self) -> None:
        cdp = await self.page.context.new_cdp_session(self.page)
        self._cdp = cdp
        on = cdp.on
        on("Network.requestWillBeSent", self._on_request)
        on("Network.requestWillBeSentExtraInfo", self._on_request_extra)
        on("Network.responseReceived", self._on_response)
        on("Network.responseReceivedExtraInfo", self._on_response_extra)
        on("Network.loadingFinished", self._on_finished)
        on("Network.loadingFailed", self._on_failed)
        total = min(2 * self.max_resource_size, 1_500_000_000)
        await cdp.send(
            "Network.enable",
            {"maxTotalBufferSize": total, "maxResourceBufferSize": self.max_resource_size},
        )
        # Every page records everything it loads (per-page completeness; identical payloads
        # become revisit records), so the browser cache must not hide requests.
        await cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
        tree = await cdp.send("Page.getFrameTree")
        self._main_frame = tree["frameTree"]["frame"]["id"]

    async def settle(self, timeout: float = 30.0) -> list[Exchange]:
        """Wait for the bodies requested so far; keep recording."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)
        return self.exchanges

    async def finish(self, timeout: float = 30.0) -> list[Exchange]:
        """Wait for outstanding body downloads, stop listening, pair extra-info events."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)
        self.closed = True
        if self._cdp is not None:
            with contextlib.suppress(Exception):  # the page may already be gone
                await self._cdp.detach()
        self._assign_extra_info()
        return self.exchanges

    @property
    def cdp(self) -> CDPSession | None:
        """The page's CDP session (also used for the screenshot, which needs CDP options
        Playwright does not expose)."""
        return self._cdp

    # -- quiet detection --------------------------------------------------------------
    def inflight(self) -> int:
        """Requests of the page still open. Our own body downloads are not the page's
        activity (finish() waits for them), so they do not delay "quiet"."""
        now = time.monotonic()
        return sum(
            1
            for started, rtype in self._inflight.values()
            if rtype not in _LONG_LIVED_TYPES and now - started < _LONG_LIVED_AFTER
        )

    async def wait_quiet(self, quiet_ms: int = 500, timeout: float = 10.0) -> bool:
        """Until no request has started or ended for `quiet_ms` and none is in flight."""
        deadline = time.monotonic() + timeout
        quiet = quiet_ms / 1000
        while time.monotonic() < deadline:
            idle_for = time.monotonic() - self._last_activity
            if self.inflight() == 0 and idle_for >= quiet:
                return True
            await asyncio.sleep(min(0.05, max(0.01, quiet - idle_for)))
        return False

    def completed_urls(self) -> set[str]:
        """URLs already recorded whole (a finished 200), so they need no extra fetch."""
        return {
            e.url for e in self.exchanges if e.status == 200 and e.finished and not e.failed
        }

    # -- events -----------------------------------------------------------------------
    def _touch(self) -> None:
        self._last_activity = time.monotonic()

    def _on_request(self, p: dict[str, Any]) -> None:
        if self.closed:
            return
        rid = p["requestId"]
        req = p["request"]
        url: str = req["url"]
        prev = self._current.get(rid)
        if prev is not None and p.get("redirectResponse"):
            self._apply_response(prev, p["redirectResponse"])
            prev.redirect = True
            prev.finished = True
            prev.body = b""
        if not url.startswith(("http://", "https://")):
            # data:, blob:, about: are not fetched from the web; nothing to archive
            self._current.pop(rid, None)
            return
        body: bytes | None = None
        if "postDataEntries" in req:
            body = b"".join(base64.b64decode(e.get("bytes", "")) for e in req["postDataEntries"])
        elif "postData" in req:
            body = req["postData"].encode("utf-8")
        ex = Exchange(
            request_id=rid,
            url=url,
            method=req["method"],
            request_headers=_header_list(req.get("headers")),
            wall_time=float(p.get("wallTime") or time.time()),
            resource_type=p.get("type", ""),
            frame_id=p.get("frameId", ""),
            request_body=body,
            has_post_data=bool(req.get("hasPostData")),
            is_main_document=(
                p.get("type") == "Document"
                and p.get("frameId") == self._main_frame
                and p.get("loaderId") == rid
            ),
        )
        self.exchanges.append(ex)
        self._hops[rid].append(ex)
        self._current[rid] = ex
        self._inflight[rid] = (time.monotonic(), ex.resource_type)
        if ex.has_post_data and body is None:
            self._spawn(self._fetch_post_data(ex))
        self._touch()
        self.last_request = self._last_activity

    def _on_request_extra(self, p: dict[str, Any]) -> None:
        if not self.closed:
            self._req_extra[p["requestId"]].append(p)

    def _on_response_extra(self, p: dict[str, Any]) -> None:
        if not self.closed:
            self._resp_extra[p["requestId"]].append(p)

    def _apply_response(self, ex: Exchange, r: dict[str, Any]) -> None:
        ex.status = int(r["status"])
        ex.status_text = r.get("statusText", "")
        ex.response_headers = _header_list(r.get("headers"))
        ex.remote_ip = r.get("remoteIPAddress")
        ex.remote_port = r.get("remotePort")
        ex.protocol = r.get("protocol", "")
        ex.mime = r.get("mimeType", "")

    def _on_response(self, p: dict[str, Any]) -> None:
        ex = self._current.get(p["requestId"])
        if ex is None or self.closed:
            return
        self._apply_response(ex, p["response"])
        self._touch()

    def _on_finished(self, p: dict[str, Any]) -> None:
        rid = p["requestId"]
        self._inflight.pop(rid, None)
        self._touch()
        ex = self._current.get(rid)
        if ex is None or self.closed:
            return
        ex.finished = True
        if ex.status == 206 or not self.keep_bodies:
            return  # partial content is replaced by a whole fetch (see behaviors.autofetch)
        size = float(p.get("encodedDataLength") or 0)
        if size > self.max_resource_size:
            ex.body_error = f"larger than max_resource_size ({int(size)} bytes)"
            return
        self._spawn(self._fetch_body(ex))

    def _on_failed(self, p: dict[str, Any]) -> None:
        rid = p["requestId"]
        self._inflight.pop(rid, None)
        self._touch()
        ex = self._current.get(rid)
        if ex is not None:
            ex.failed = p.get("errorText") or "failed"
            if p.get("canceled"):
                ex.failed += " (canceled)"

    # -- async helpers ----------------------------------------------------------------
    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)

        task.add_done_callback(self._tasks.discard)

    async def _fetch_body(self, ex: Exchange) -> None:
        assert self._cdp is not None
        try:
            r = await self._cdp.send("Network.getResponseBody", {"requestId": ex.request_id})
        except Exception as e:  # noqa: BLE001 - evicted, or no body (e.g. 204)
            msg = str(e).splitlines()[0]
            if ex.status in (204, 304) or ex.method == "HEAD":
                ex.body = b""
            else:
                ex.body_error = msg
            return
        data = r.get("body", "")
        ex.body = base64.b64decode(data) if r.get("base64Encoded") else data.encode("utf-8")

    async def _fetch_post_data(self, ex: Exchange) -> None:
        assert self._cdp is not None
        try:
            r = await self._cdp.send("Network.getRequestPostData", {"requestId": ex.request_id})
            ex.request_body = r.get("postData", "").encode("utf-8")
        except Exception as e:  # noqa: BLE001
            log.debug("no post data for %s: %s", ex.url, e)

    def _assign_extra_info(self) -> None:
        """Pair ExtraInfo events with hops, in order: they carry what was really on the wire
        (cookies in request headers, the raw status line and header order)."""
        for rid, hops in self._hops.items():
            for ex, extra in zip(hops, self._req_extra.get(rid, []), strict=False):
                if extra.get("headers"):
                    ex.request_headers = _header_list(extra["headers"])
                    ex._req_extra = True
            responded = [h for h in hops if h.status is not None]
            extras = list(self._resp_extra.get(rid, []))
            for ex in responded:
                if not extras:
                    break
                # skip extra-info of hops we do not keep (e.g. a non-http hop)
                while extras and int(extras[0].get("statusCode", -1)) != ex.status:
                    extras.pop(0)
                if not extras:
                    break
                extra = extras.pop(0)
                if extra.get("headersText"):
                    ex.headers_text = extra["headersText"]
                if extra.get("headers"):
                    ex.response_headers = _header_list(extra["headers"])

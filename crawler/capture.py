"""One page, start to finish: attach the recorder, run behaviours, snapshot, hand over records.

`init_page` is scrapy-playwright's page-init callback (referenced by import path so request
meta stays picklable for disk/redis queues); `capture_page` runs in the spider callback.
"""

from __future__ import annotations

import base64
import json
import logging
import mimetypes
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page
from scrapy.http import Request

from bewaar.config import Behaviors
from bewaar.model import (
    DOM_URN,
    MEDIA_URN,
    OBJECTS_URN,
    PAGEINFO_URN,
    SCREENSHOT_URN,
    Outcome,
    PageInfo,
    PageKind,
    PageTarget,
)
from bewaar.timeutil import iso
from crawler.behaviors import BehaviorLog, BehaviorRunner, PlatformHints, fetch_whole
from crawler.recorder import Exchange, NetworkRecorder
from crawler.warc_writer import Resource

log = logging.getLogger(__name__)
RECORDER_KEY = "_bewaar_recorder"
MAX_SCREENSHOT_HEIGHT = 30000  # px; taller pages are cut (Chromium's own limit is near this)


async def init_page(page: Page, request: Request) -> None:
    """Runs after scrapy-playwright made the page and before it navigates.

    scrapy-playwright routes every request through Python to override headers; bewaar keeps
    the browser's own headers, so that route is removed (it also cost a round trip per
    request). The recorder turns the browser cache off itself, so each page records all it
    loads.
    """
    await page.unroute("**")
    if str(request.meta.get("playwright_context", "")).startswith("page-"):
        page.context.bewaar_per_page = True  # type: ignore[attr-defined]  # closed with the page
    max_size = int(request.meta.get("bewaar_max_resource_size", 256_000_000))
    rec = NetworkRecorder(page, max_resource_size=max_size)
    await rec.start()
    request.meta[RECORDER_KEY] = rec


@dataclass
class PageCapture:
    """Everything recorded for one page; the item the WARC pipeline writes."""

    url: str
    final_url: str
    status: int | None
    title: str
    captured_at: str
    exchanges: list[Exchange]
    resources: list[Resource] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    behavior: BehaviorLog | None = None
    dom: str = ""
    objects: list[dict[str, Any]] = field(default_factory=list)
    target: PageTarget = field(default_factory=PageTarget)  # whose page, which kind
    outcome: Outcome = Outcome.OK
    reason: str = ""
    dropped: list[dict[str, Any]] = field(default_factory=list)
    block: Any = None  # the adapter's Block, when the page is a wall / unavailable / 429
    post_links: list[str] | None = None  # the adapter's canonical post links (profile pages)
    not_followed: dict[str, str] = field(default_factory=dict)  # link -> why not followed
    backfill: dict[str, Any] = field(default_factory=dict)  # how far a back-fill got
    media: list[dict[str, Any]] = field(default_factory=list)  # yt-dlp results
    run: str = ""  # the run (crawl id) whose WARC files take the page
    lease: str | None = None  # its queue lease: acknowledged once the records are written

    @property
    def main_exchange(self) -> Exchange | None:
        for ex in self.exchanges:
            if ex.is_main_document and not ex.redirect:
                return ex
        return None


def select_exchanges(exchanges: list[Exchange]) -> tuple[list[Exchange], list[dict[str, Any]]]:
    """Keep what can be written and replayed; say what was left out and why.

    Byte-range (206) responses are replaced by the whole resource fetched once (pywb cannot
    serve ranges from stored 206 records); failed or incomplete loads are not responses.
    """
    whole = {e.url for e in exchanges if e.status == 200 and e.complete}
    keep: list[Exchange] = []
    dropped: list[dict[str, Any]] = []
    for ex in exchanges:
        why = ""
        if ex.status == 206:
            why = "partial content; whole resource recorded" if ex.url in whole else (
                "partial content; whole resource could not be fetched"
            )
        elif ex.failed:
            why = f"load failed: {ex.failed}"
        elif ex.status is None:
            why = "no response"
        elif not ex.complete:
            why = f"body unavailable: {ex.body_error or 'not finished'}"
        if why:
            dropped.append(
                {"url": ex.url, "method": ex.method, "status": ex.status, "reason": why,
                 "range": next((v for k, v in ex.request_headers if k.lower() == "range"), None)}
            )
        else:
            keep.append(ex)
    keep.sort(key=lambda e: e.wall_time)
    return keep, dropped


async def screenshot(page: Page, cdp: Any) -> bytes | None:
    """Full-page PNG. Through CDP with `optimizeForSpeed` (faster PNG encoding, still
    lossless; about half of Playwright's full_page time on tall timelines), falling back to
    Playwright's own full-page screenshot."""
    try:
        if cdp is not None:
            metrics = await cdp.send("Page.getLayoutMetrics")
            size = metrics.get("cssContentSize") or metrics["contentSize"]
            clip = {
                "x": 0,
                "y": 0,
                "width": max(1, int(size["width"])),
                "height": max(1, min(int(size["height"]), MAX_SCREENSHOT_HEIGHT)),
                "scale": 1,
            }
            shot = await cdp.send(
                "Page.captureScreenshot",
                {"format": "png", "captureBeyondViewport": True, "optimizeForSpeed": True, "clip": clip},
            )
            return base64.b64decode(shot["data"])
        return await page.screenshot(type="png", full_page=True, timeout=60000)
    except Exception as e:  # noqa: BLE001 - a page without a screenshot is still a capture
        log.warning("no screenshot of %s: %s", page.url, str(e).splitlines()[0])
        return None


async def snapshot_page(page: Page, cdp: Any = None) -> tuple[str, str, bytes | None, list[str]]:
    """Rendered DOM, title, full-page screenshot, and the links a reader can follow."""
    from crawler.behaviors import install

    title = ""
    dom = ""
    links: list[str] = []
    try:
        title = await page.title()
        dom = await page.content()
        await install(page)
        links = await page.evaluate("() => window.__bewaar.links()")
    except PlaywrightError as e:
        log.debug("snapshot of %s incomplete: %s", page.url, e)
    shot = await screenshot(page, cdp)
    return dom, title, shot, links


Analyzer = Callable[["PageCapture", list[Exchange]], list[str]]


async def capture_page(
    page: Page,
    recorder: NetworkRecorder,
    url: str,
    status: int | None,
    behaviors: Behaviors,
    hints: PlatformHints | None = None,
    run_behaviors: bool = True,
    analyze: Analyzer | None = None,
) -> PageCapture:
    """Behaviours, snapshot, then `analyze` (the platform adapter) while the page is still
    open: media its information objects name but the browser never loaded (a video with only
    data-sources, an original-size image) is then fetched by the page itself."""
    started = time.monotonic()
    blog = BehaviorLog()
    if run_behaviors:
        blog = await BehaviorRunner(page, recorder, behaviors, hints).run()
    t = time.monotonic()
    dom, title, shot, links = await snapshot_page(page, recorder.cdp)
    blog.steps["snapshot"] = round(time.monotonic() - t, 2)
    if recorder.last_request > t or recorder.inflight():  # the page asked for more meanwhile
        await recorder.wait_quiet(behaviors.network_quiet_ms, timeout=10)
        blog.steps["after_snapshot"] = round(time.monotonic() - t, 2) - blog.steps["snapshot"]
    cap = PageCapture(
        url=url, final_url=page.url, status=status, title=title, captured_at="",
        exchanges=[], links=links, behavior=blog, dom=dom,
    )
    if analyze is not None:
        wanted = analyze(cap, await recorder.settle())
        try:
            if await fetch_whole(page, recorder, wanted):
                blog.notes.append("fetched media named by the page's information objects")
                await recorder.wait_quiet(behaviors.network_quiet_ms, timeout=30)
        except PlaywrightError as e:
            blog.notes.append(f"could not fetch object media: {str(e).splitlines()[0]}")
    t = time.monotonic()
    exchanges = await recorder.finish()
    blog.steps["finish"] = round(time.monotonic() - t, 2)
    keep, dropped = select_exchanges(exchanges)
    main = next((e for e in keep if e.is_main_document and not e.redirect), None)
    cap.captured_at = iso(main.wall_time) if main else iso()
    cap.status = main.status if main else status
    cap.exchanges = keep
    cap.dropped = dropped
    page_uri = page.url
    if dom:
        cap.resources.append(Resource(DOM_URN + page_uri, "resource", "text/html; charset=utf-8", dom.encode("utf-8")))
    if shot:
        cap.resources.append(Resource(SCREENSHOT_URN + page_uri, "resource", "image/png", shot))
    blog.steps["capture"] = round(time.monotonic() - started, 2)  # behaviours to records, in all
    return cap


def add_media(cap: PageCapture, results: list[Any]) -> None:
    """yt-dlp's exchanges join the page's; each rebuilt file becomes a `conversion` record."""
    for res in results:
        for ex in res.exchanges:
            if ex.complete and ex.status != 206:
                cap.exchanges.append(ex)
        if res.file:
            ext = f".{res.ext}" if res.ext else ""
            mime = mimetypes.guess_type(f"x{ext}")[0] or "application/octet-stream"
            cap.resources.append(Resource(MEDIA_URN + res.source, "conversion", mime, res.file))
        cap.media.append(res.summary())


def finish_resources(cap: PageCapture) -> None:
    """Objects and page info go last: they describe the finished capture."""
    page_uri = cap.final_url or cap.url
    if cap.objects:
        from crawler.context import link_photos

        link_photos(cap.objects, cap.exchanges)  # each account photo names its record
        data = json.dumps(cap.objects, ensure_ascii=False, indent=1).encode("utf-8")
        cap.resources.append(Resource(OBJECTS_URN + page_uri, "metadata", "application/json", data))
    info = PageInfo(
        url=cap.url,
        final_url=cap.final_url,
        status=cap.status,
        title=cap.title,
        captured_at=cap.captured_at,
        outcome=cap.outcome,
        reason=cap.reason,
        target=cap.target,
        behaviors=cap.behavior.to_dict() if cap.behavior else {},
        not_recorded=cap.dropped,
        media=cap.media,
        post_links=list(cap.post_links or []) if cap.target.kind is not PageKind.POST else [],
        not_followed=cap.not_followed,
        backfill=cap.backfill,
    )
    cap.resources.append(
        Resource(
            PAGEINFO_URN + page_uri,
            "metadata",
            "application/json",
            json.dumps(info.to_json(), ensure_ascii=False, indent=1).encode("utf-8"),
        )
    )

"""Behaviours that make a page show what a reader would see, bounded in time.

Every step is synced to animation frames and followed by a wait on the recorder: fixed sleeps
silently lost half the posts when pages ran in parallel, because lazy loaders had not answered
yet. Order: close overlays, scroll until the page stops growing, click "more" controls (then
scroll again if they added content), sweep the page once more so every lazy image enters the
viewport, play media, fetch every srcset/media URL whole.

The waits adapt to what the page does (`_settle`): after a step that made the page ask for
nothing, the crawl moves on after a short grace (the step already waited two animation frames);
after one that did, it waits until those requests are done, lets the page act on them (two
frames), and looks again, until nothing new started. Steps that await their own work in the
page (playing media to its end, fetching srcset sizes) wait only for the recorder to have every
response; with no media on the page there is no media wait. The full `network_quiet_ms` window
is kept where missing a late request would lose content (`_late`): at the bottom of a list and
after a "more" click that neither asked for anything nor changed the page, the page gets that
long to start a request (a debounced handler) before the step counts as done; and at the end
when the page is still busy. Scrolling still needs the bottom stable twice. Against a quiet
window after every step this took the example site's crawl from 3.5x a minimal visit of the
same pages to 3.1x (2.4x without the bottom-of-list patience, which missed a debounced loader;
docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page

from bewaar.config import Behaviors
from crawler.recorder import NetworkRecorder

log = logging.getLogger(__name__)
JS = (Path(__file__).parent / "behaviors.js").read_text(encoding="utf-8")
HEIGHT = "() => window.__bewaar.metrics().height"
MUTATIONS = "() => window.__bewaar.mutations()"
MEDIA_STALL_MS = 4000  # media whose playback stops advancing this long is left as it is
# How long after a step (already synced to two animation frames, so its observers and handlers
# have run) a request it caused takes to reach the recorder: a step that asked for nothing by
# then has nothing to wait for.
SETTLE_GRACE_S = 0.05


@dataclass
class BehaviorLog:
    """What the behaviours did on one page; stored in the page-info record."""

    overlays_closed: int = 0
    scrolls: int = 0
    clicks: int = 0
    clicked: list[str] = field(default_factory=list)
    media: int = 0
    fetched: int = 0
    stopped: str = ""  # why scrolling ended: stable | max_scrolls | timeout
    navigated_away: bool = False
    height: int = 0
    seconds: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)  # seconds spent per step
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class PlatformHints:
    """Adapter-provided selectors; empty for plain URLs."""

    overlay_close: tuple[str, ...] = ()
    overlay_remove: tuple[str, ...] = ()
    more_controls: tuple[str, ...] = ()
    fetch_urls: tuple[str, ...] = ()  # resources the page should hold though it may not load them
    # a back-fill (seed `since`): scroll until an element of `time_selector` is dated before
    # `older_than` (ISO), within `scroll_seconds` and `max_scrolls` instead of the defaults
    older_than: str | None = None
    time_selector: str = "time[datetime]"
    scroll_seconds: float | None = None
    max_scrolls: int | None = None


async def install(page: Page) -> None:
    await page.evaluate(JS)


@lru_cache(maxsize=64)
def _installing(expr: str) -> str:
    """`expr` (a function of one argument) preceded by installing the helpers if the
    document lacks them (a same-page reload): one round trip to the page per call, where
    installing first and calling then took two and was a good part of every step."""
    return f"(arg) => {{\n if (!window.__bewaar) {{\n{JS}\n}}\n return ({expr})(arg);\n}}"


async def _call(page: Page, expr: str, arg: Any = None) -> Any:
    return await page.evaluate(_installing(expr), arg)


class BehaviorRunner:
    def __init__(
        self,
        page: Page,
        recorder: NetworkRecorder,
        cfg: Behaviors,
        hints: PlatformHints | None = None,
    ) -> None:
        self.page = page
        self.rec = recorder
        self.cfg = cfg
        self.hints = hints or PlatformHints()
        self.log = BehaviorLog()
        self._start_url = page.url
        self._deadline = 0.0

    def _time_left(self) -> float:
        return self._deadline - time.monotonic()

    async def _quiet(self, timeout: float = 8.0) -> None:
        await self.rec.wait_quiet(self.cfg.network_quiet_ms, min(timeout, max(self._time_left(), 1.0)))

    async def _settle(self, since: float, timeout: float = 8.0, quiet_ms: int | None = None) -> None:
        """After a step that began at `since`: move on as soon as the network is quiet.

        A step that made the page ask for nothing is done after a short grace. Otherwise wait
        until what it asked for has come back, let the page act on it (two animation frames:
        rendering a reply asks for its images), and look again; done when nothing new started.
        A fixed quiet window after every step was most of a light page's crawl time. With
        `quiet_ms` (the end of the behaviours, where the page works on its own) the classic
        quiet window is kept once the page did ask for something."""
        deadline = time.monotonic() + min(timeout, max(self._time_left(), 1.0))
        mark = since
        while True:
            await asyncio.sleep(SETTLE_GRACE_S)  # a request the step caused reaches the recorder
            if self.rec.last_request <= mark and self.rec.inflight() == 0:
                return
            if quiet_ms is not None:
                await self.rec.wait_quiet(quiet_ms, max(deadline - time.monotonic(), 0.1))
                return
            while self.rec.inflight() and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            if time.monotonic() >= deadline:
                return
            mark = time.monotonic()
            await _call(self.page, "() => window.__bewaar.frames()")

    async def _late(self, since: float, probe: str, value: Any) -> bool:
        """Nothing happened after a step that may yet do something (the bottom of a list, a
        "more" click): the page gets the full quiet window to start it — a scroll or click
        handler may debounce — and True if it did (its requests are then waited for)."""
        deadline = time.monotonic() + self.cfg.network_quiet_ms / 1000
        while time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            if self.rec.last_request > since or self.rec.inflight() or await _call(self.page, probe) != value:
                await self._settle(since)
                return True
        return False

    async def _responses_in(self, timeout: float = 8.0) -> None:
        """After a step that awaited its own requests in the page: until the recorder has seen
        every one of them end (no quiet window: nothing is left to start)."""
        deadline = time.monotonic() + min(timeout, max(self._time_left(), 1.0))
        while self.rec.inflight() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    def _navigated(self) -> bool:
        if self.page.url.split("#")[0] != self._start_url.split("#")[0]:
            self.log.navigated_away = True
            return True
        return False

    async def run(self) -> BehaviorLog:
        started = time.monotonic()
        self._deadline = started + (self.hints.scroll_seconds or self.cfg.scroll_timeout)
        try:
            await install(self.page)
            await _call(self.page, "() => window.__bewaar.guard(true)")
            # the page works on its own after load: the full quiet window, unless it is idle
            await self._timed("load", self._settle(started))
            if self.cfg.close_overlays:
                await self._timed("overlays", self.close_overlays())
            await self._timed("scroll", self.scroll())
            if self.cfg.expand_more:
                await self._timed("expand", self.expand())
            await self._timed("sweep", self.sweep())
            if self.cfg.play_media:
                await self._timed("media", self.play_media())
            if self.cfg.fetch_srcset or self.hints.fetch_urls:
                await self._timed("fetch", self.autofetch())
            # anything the page still starts on its own before the snapshot
            await self._timed("end", self._settle(time.monotonic(), quiet_ms=self.cfg.network_quiet_ms))
            await _call(self.page, "() => window.__bewaar.guard(false)")
        except PlaywrightError as e:
            # a page that navigated or crashed mid-behaviour still gets recorded
            self.log.notes.append(f"behaviour stopped: {str(e).splitlines()[0]}")
            self._navigated()
        self.log.seconds = round(time.monotonic() - started, 2)
        return self.log

    async def _timed(self, step: str, work: Any) -> None:
        t = time.monotonic()
        try:
            await work
        finally:
            self.log.steps[step] = round(self.log.steps.get(step, 0.0) + time.monotonic() - t, 2)

    async def close_overlays(self) -> None:
        since = time.monotonic()
        n = await _call(
            self.page,
            "([p, c, r]) => window.__bewaar.closeOverlays(p, c, r)",
            [self.cfg.overlay_patterns, list(self.hints.overlay_close), list(self.hints.overlay_remove)],
        )
        self.log.overlays_closed += int(n or 0)
        if n:
            await self._settle(since)

    async def scroll(self) -> None:
        """Scroll a viewport at a time until the page stops growing and the network is quiet
        twice in a row at the bottom, or the limits say stop."""
        stable = 0
        max_scrolls = self.hints.max_scrolls or self.cfg.max_scrolls
        while True:
            if self.log.scrolls >= max_scrolls:
                self.log.stopped = "max_scrolls"
                return
            if self.hints.older_than and await self._reached(self.hints.older_than):
                self.log.stopped = "since"
                return
            if self._time_left() <= 0:
                self.log.stopped = "timeout"
                self.log.notes.append("scroll_timeout reached before the page stopped growing")
                return
            before = await _call(self.page, "() => window.__bewaar.metrics()")
            since = time.monotonic()
            m = await _call(self.page, "(f) => window.__bewaar.scrollStep(f)", 0.9)
            self.log.scrolls += 1
            await self._settle(since)
            after = await _call(self.page, "() => window.__bewaar.metrics()")
            self.log.height = int(after["height"])
            at_bottom = after["top"] + after["view"] >= after["height"] - 5
            grew = after["height"] > before["height"] or m["height"] > before["height"]
            if at_bottom and not grew and self.rec.inflight() == 0:
                if stable == 0 and await self._late(since, HEIGHT, after["height"]):
                    continue  # a late loader answered: scroll on
                stable += 1
                if stable >= 2:
                    self.log.stopped = "stable"
                    return
            else:
                stable = 0
            if self._navigated():
                return

    async def _reached(self, older_than: str) -> bool:
        """A back-fill's end: the page shows a post dated before `older_than`."""
        return bool(await _call(
            self.page,
            """([sel, t]) => [...document.querySelectorAll(sel)].some(e => {
                 const d = Date.parse(e.getAttribute('datetime') || '');
                 return !isNaN(d) && d < Date.parse(t); })""",
            [self.hints.time_selector, older_than],
        ))  # fmt: skip

    async def expand(self) -> None:
        """Click "more" controls until none is left that still changes the page (or limits).

        A control stays eligible while its clicks change the DOM (a "load more" button that is
        re-enabled after each page); a click that changes nothing retires it.
        """
        clicks_per_control: dict[str, int] = {}
        failures: dict[str, int] = {}
        while self.log.clicks < self.cfg.max_clicks and self._time_left() > 0:
            controls = await _call(
                self.page,
                "([p, s]) => window.__bewaar.markControls(p, s)",
                [self.cfg.more_patterns, list(self.hints.more_controls)],
            )
            if not controls:
                break
            ctl = controls[0]
            cid, text = ctl["id"], ctl["text"]
            el = self.page.locator(f'[data-bewaar-id="{cid}"]').first
            before = await _call(self.page, "() => window.__bewaar.mutations()")
            since = time.monotonic()
            try:
                # plain scrolling: Playwright's actionability waits time out on a busy machine
                await el.evaluate("e => e.scrollIntoView({block: 'center', inline: 'nearest'})")
                try:
                    await el.click(timeout=10000)
                except PlaywrightError:
                    await el.evaluate("e => e.click()")  # covered or still moving: click directly
            except PlaywrightError as e:
                failures[cid] = failures.get(cid, 0) + 1
                if failures[cid] >= 3:
                    self.log.notes.append(f"could not click {text!r}: {str(e).splitlines()[0]}")
                    await _call(self.page, "(id) => window.__bewaar.controlDone(id)", cid)
                await self._settle(since)
                continue
            self.log.clicks += 1
            self.log.clicked.append(text)
            await self._settle(since)
            if self._navigated():
                return
            clicks_per_control[cid] = clicks_per_control.get(cid, 0) + 1
            after = await _call(self.page, "() => window.__bewaar.mutations()")
            if after == before and self.rec.last_request <= since:
                await self._late(since, MUTATIONS, after)
                after = await _call(self.page, MUTATIONS)
            if after == before or clicks_per_control[cid] >= 25:
                await _call(self.page, "(id) => window.__bewaar.controlDone(id)", cid)
            if self.log.clicks % 5 == 0:
                await self.scroll()  # clicked content may have started a new lazy list
        if self.log.clicks:
            await self.scroll()

    async def sweep(self) -> None:
        """From the top down, a viewport at a time, so every lazy image is seen once. Only
        as far as scrolling reached: the sweep must not load more of an infinite timeline
        than max_scrolls / scroll_timeout allowed."""
        end = (await _call(self.page, "() => window.__bewaar.metrics()"))["height"]
        await _call(self.page, "(y) => window.__bewaar.scrollTo(y)", 0)
        steps = 0
        while self._time_left() > -10 and steps < 400:
            before = await _call(self.page, "() => window.__bewaar.metrics()")
            since = time.monotonic()
            m = await _call(self.page, "(f) => window.__bewaar.scrollStep(f)", 0.9)
            steps += 1
            await self._settle(since, timeout=4.0)
            bottom = m["top"] + m["view"]
            if m["top"] <= before["top"] or bottom >= m["height"] - 5 or bottom >= end:
                break
        await _call(self.page, "(y) => window.__bewaar.scrollTo(y)", 0)

    async def play_media(self) -> None:
        n = await _call(
            self.page,
            "([ms, stall]) => window.__bewaar.playMedia(ms, stall)",
            [int(self.cfg.media_timeout * 1000), MEDIA_STALL_MS],
        )
        self.log.media = int(n or 0)
        if n:  # played to their end (or stalled): their requests are done or ending
            await self._responses_in()

    async def autofetch(self) -> None:
        urls: list[str] = []
        if self.cfg.fetch_srcset:
            urls = await _call(self.page, "() => window.__bewaar.resourceUrls()")
        self.log.fetched += await fetch_whole(self.page, self.rec, [*urls, *self.hints.fetch_urls])
        await self._responses_in()  # fetchAll awaited every body in the page


async def fetch_whole(page: Page, rec: NetworkRecorder, urls: list[str]) -> int:
    """Fetch URLs from inside the page, so the browser records them with its own cookies,
    referrer and headers; skips what is already recorded whole."""
    have = rec.completed_urls()
    todo = [u for u in dict.fromkeys(urls) if u and u.startswith("http") and u not in have]
    if todo:
        await _call(page, "([u, c]) => window.__bewaar.fetchAll(u, c)", [todo, 4])
    return len(todo)

"""Render a fixture page the way the crawler will, with plain Playwright and the system Chromium.

Only the adapter's own selectors close overlays and expand replies here (the crawler adds
generic multilingual text patterns), so a test proves the adapter's selectors work. The result
is the same PageSnapshot the crawler builds from its recording.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from bewaar.sites.media import CHROMIUM, CHROMIUM_ARGS
from crawler.platforms.base import Adapter, CapturedResponse, PageKind, PageSnapshot


@dataclass
class Rendered:
    snap: PageSnapshot
    closed: list[str] = field(default_factory=list)  # overlay selectors that closed something
    removed: list[str] = field(default_factory=list)
    clicked: list[str] = field(default_factory=list)  # more-control selectors clicked
    overlays_left: list[str] = field(default_factory=list)  # overlay selectors still visible
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, url)
    ranges: list[tuple[str, str]] = field(default_factory=list)  # (url, Range header) sent
    probe: Any = None  # what the `probe` script returned in the page


_VISIBLE_JS = """(sel) => [...document.querySelectorAll(sel)].filter(e => {
  const r = e.getBoundingClientRect(), s = getComputedStyle(e);
  return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none';
}).length"""


class Renderer:
    """Renders fixture pages; a fresh context (no cookies) per page."""

    def __init__(self, browser: Browser | None = None) -> None:
        """With `browser`, render in it (and leave it open); else start one's own."""
        self._pw = None
        if browser is not None:
            self.browser: Browser = browser
            return
        self._pw = sync_playwright().start()
        try:
            self.browser = self._pw.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
        except Exception:
            self._pw.stop()
            raise

    def close(self) -> None:
        if self._pw is None:
            return
        try:
            self.browser.close()
        finally:
            self._pw.stop()

    def render(
        self,
        adapter: Adapter,
        url: str,
        kind: PageKind,
        handle: str = "",
        *,
        storage_state: str | dict[str, Any] | None = None,
        close_overlays: bool = True,
        scroll: bool = True,
        expand: bool = True,
        max_clicks: int = 20,
        probe: str | None = None,
    ) -> Rendered:
        context = self.browser.new_context(
            storage_state=storage_state, viewport={"width": 1280, "height": 900}, locale="en-US"
        )
        try:
            page = context.new_page()
            responses: list[Any] = []
            out = Rendered(snap=None)  # type: ignore[arg-type]
            page.on("response", lambda r: responses.append(r))
            page.on("request", lambda r: _log_request(out, r))
            main = page.goto(url, wait_until="load", timeout=20_000)
            _settle(page)
            if close_overlays:
                self._overlays(page, adapter, out)
            if scroll:
                self._scroll(page, adapter, out, close_overlays)
            if expand:
                self._expand(page, adapter, out, max_clicks, close_overlays)
            if probe:
                out.probe = page.evaluate(probe)
            out.overlays_left = [
                s for s in adapter.overlay_close + adapter.overlay_remove if _visible(page, s)
            ]
            out.snap = PageSnapshot(
                url=url,
                final_url=page.url,
                status=main.status if main else None,
                title=page.title(),
                html=page.content(),
                captured_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                kind=kind,
                handle=handle,
                base_url=adapter.base_url,
                responses=[c for r in responses if (c := _captured(r)) is not None],
            )
            return out
        finally:
            context.close()

    def _overlays(self, page: Page, adapter: Adapter, out: Rendered) -> None:
        for _ in range(3):
            acted = False
            for sel in adapter.overlay_close:
                if _visible(page, sel):
                    try:
                        page.locator(sel).first.click(timeout=2000)
                    except PlaywrightError:
                        continue
                    out.closed.append(sel)
                    acted = True
                    _settle(page, 1.0)
            for sel in adapter.overlay_remove:
                if page.locator(sel).count():
                    page.evaluate(
                        "(s) => document.querySelectorAll(s).forEach(e => e.remove())", sel
                    )
                    out.removed.append(sel)
                    acted = True
            if not acted:
                return

    def _scroll(self, page: Page, adapter: Adapter, out: Rendered, overlays: bool) -> None:
        still = 0
        for _ in range(30):
            before = page.evaluate("document.scrollingElement.scrollHeight")
            page.evaluate("window.scrollTo(0, document.scrollingElement.scrollHeight)")
            _settle(page, 1.5)
            if overlays:
                self._overlays(page, adapter, out)
            after = page.evaluate("document.scrollingElement.scrollHeight")
            still = still + 1 if after == before else 0
            if still >= 2:
                break

    def _expand(
        self, page: Page, adapter: Adapter, out: Rendered, max_clicks: int, overlays: bool
    ) -> None:
        for _ in range(max_clicks):
            for sel in adapter.more_controls:
                if _visible(page, sel):
                    try:
                        page.locator(sel).first.click(timeout=2000)
                    except PlaywrightError:
                        continue
                    out.clicked.append(sel)
                    _settle(page, 1.5)
                    if overlays:
                        self._overlays(page, adapter, out)
                    break
            else:
                return


def _log_request(out: Rendered, request: Any) -> None:
    out.requests.append((request.method, request.url))
    rng = request.headers.get("range")
    if rng:
        out.ranges.append((request.url, rng))


def _visible(page: Page, selector: str) -> bool:
    try:
        return bool(page.evaluate(_VISIBLE_JS, selector))
    except PlaywrightError:
        return False


def _settle(page: Page, timeout: float = 3.0) -> None:
    """Wait until the network has been quiet for a moment (bounded)."""
    deadline = time.monotonic() + timeout
    with contextlib.suppress(PlaywrightError):
        page.wait_for_load_state("networkidle", timeout=timeout * 1000)
    page.wait_for_timeout(max(0, min(150, (deadline - time.monotonic()) * 1000)))


def _captured(r: Any) -> CapturedResponse | None:
    try:
        body = r.body()
    except PlaywrightError:
        body = b""  # redirects and evicted bodies
    return CapturedResponse(
        url=r.url,
        method=r.request.method,
        status=r.status,
        mime=(r.headers.get("content-type") or "").split(";")[0].strip(),
        body=body,
    )

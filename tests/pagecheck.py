"""Look at a page the way a reader does, identically for the live site and for its replay."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Seen:
    posts: list[str] = field(default_factory=list)
    images: int = 0
    undecoded: list[str] = field(default_factory=list)
    videos: list[tuple[str, Any]] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    name: str = ""
    font_loaded: bool = False
    background: bool = False
    failed: list[str] = field(default_factory=list)


def open_page(browser: Any, url: str, framed: bool = False) -> tuple[Any, Any, list[str]]:
    """Open a URL; in pywb's framed replay the archived page is the inner frame."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    failed: list[str] = []
    # ERR_ABORTED is the page cancelling its own request (media elements do it all the time)
    page.on(
        "requestfailed",
        lambda r: failed.append(f"{r.url} {r.failure}") if "ERR_ABORTED" not in (r.failure or "") else None,
    )
    page.on("response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(url, wait_until="load", timeout=60000)
    frame = page.main_frame
    if framed:
        for _ in range(200):
            inner = [f for f in page.frames if "mp_/" in f.url]
            if inner:
                frame = inner[0]
                break
            page.wait_for_timeout(100)
        else:
            raise AssertionError(f"no replay frame in {url}")
        frame.wait_for_load_state("load")
    return page, frame, failed


def scroll_to_end(page: Any, frame: Any, settle_ms: int = 400, max_steps: int = 120) -> None:
    stable = 0
    last = -1
    for _ in range(max_steps):
        frame.evaluate("window.scrollBy(0, window.innerHeight)")
        page.wait_for_timeout(settle_ms)
        h = frame.evaluate("document.documentElement.scrollHeight")
        at_end = frame.evaluate("window.scrollY + window.innerHeight >= document.documentElement.scrollHeight - 5")
        stable = stable + 1 if (h == last and at_end) else 0
        last = h
        if stable >= 3:
            break


def sweep_images(page: Any, frame: Any) -> None:
    frame.evaluate("window.scrollTo(0, 0)")
    for _ in range(200):
        frame.evaluate("window.scrollBy(0, 500)")
        page.wait_for_timeout(60)
        if frame.evaluate("window.scrollY + window.innerHeight >= document.documentElement.scrollHeight - 5"):
            break
    page.wait_for_timeout(800)
    frame.evaluate(
        "Promise.all([...document.images].map(i => i.complete ? 0 : new Promise(r => {"
        " i.onload = i.onerror = r; setTimeout(r, 5000); })))"
    )


def look(page: Any, frame: Any) -> Seen:
    seen = Seen()
    seen.posts = frame.evaluate("[...document.querySelectorAll('article.post')].map(a => a.dataset.id)")
    imgs = frame.evaluate("[...document.images].map(i => [i.currentSrc || i.src, i.naturalWidth])")
    seen.images = len(imgs)
    seen.undecoded = [src for src, w in imgs if not w]
    seen.videos = [
        tuple(v)
        for v in frame.evaluate(
            "Promise.all([...document.querySelectorAll('video')].map(v => { v.muted = true;"
            " return v.play().then(() => new Promise(r => { const t = setTimeout(() => r([v.currentSrc, v.readyState, v.duration]), 5000);"
            " if (v.readyState >= 3) { clearTimeout(t); r([v.currentSrc, v.readyState, v.duration]); }"
            " else v.addEventListener('canplay', () => { clearTimeout(t); r([v.currentSrc, v.readyState, v.duration]); }, {once: true}); }))"
            " .catch(e => [v.currentSrc, String(e), 0]); }))"
        )
    ]
    seen.name = frame.evaluate("(document.getElementById('name') || {}).textContent || ''")
    seen.font_loaded = frame.evaluate("document.fonts.check('16px Display')") and frame.evaluate(
        "[...document.fonts].some(f => f.family.replace(/\"/g, '') === 'Display' && f.status === 'loaded')"
    )
    seen.background = frame.evaluate(
        "(() => { const h = document.querySelector('header.banner'); if (!h) return false;"
        " const bg = getComputedStyle(h).backgroundImage; return bg.includes('banner.png'); })()"
    )
    return seen


def play_to_end(frame: Any, timeout_ms: int = 20000) -> list[tuple[str, str, float]]:
    """Play every video muted at 16x; (src, "ended" or what happened, duration)."""
    return [
        tuple(v)
        for v in frame.evaluate(
            """(ms) => Promise.all([...document.querySelectorAll('video')].map(v => new Promise(res => {
                 const t = setTimeout(() => res([v.currentSrc, 'stuck at ' + v.currentTime, v.duration]), ms);
                 v.addEventListener('ended', () => { clearTimeout(t); res([v.currentSrc, 'ended', v.duration]); }, {once: true});
                 v.addEventListener('error', () => { clearTimeout(t); res([v.currentSrc, 'error', 0]); }, {once: true});
                 v.muted = true; v.currentTime = 0; v.playbackRate = 16;
                 v.play().catch(e => { clearTimeout(t); res([v.currentSrc, String(e), 0]); });
               })))""",
            timeout_ms,
        )
    ]


_REPLIES_STATE = (
    "[document.querySelectorAll('#replies .reply').length,"
    " (b => b ? (b.disabled ? 'busy' : 'ready') : 'none')(document.querySelector('#more-replies'))]"
)


def expand_replies(page: Any, frame: Any, max_clicks: int = 10, timeout_ms: int = 15000) -> list[str]:
    """Click "more" until every reply shows. Waits for what the page does, not for a fixed
    time: first for the replies the post page loads by itself (an API answer that may take
    longer than the page's `load` on a busy machine; reading them too early saw none, or only
    the first page), then after each click for the next page to be added."""
    _wait_for(frame, f"(([n, b]) => n > 0 && b !== 'busy')({_REPLIES_STATE})", timeout_ms)
    for _ in range(max_clicks):
        count, button = frame.evaluate(_REPLIES_STATE)
        if button == "none":
            break
        frame.click("#more-replies", timeout=timeout_ms)  # disables the button until answered
        _wait_for(frame, f"(([n, b]) => b !== 'busy')({_REPLIES_STATE})", timeout_ms)
        if frame.evaluate(_REPLIES_STATE)[0] <= count:
            break  # the click added nothing (a wrong or failed answer): the caller compares
    return frame.evaluate("[...document.querySelectorAll('#replies .reply')].map(r => r.dataset.id)")


def _wait_for(frame: Any, condition: str, timeout_ms: int) -> None:
    """Until `condition` holds in the page, or `timeout_ms` (then the caller sees the state:
    a post without replies, an answer that never came)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    with contextlib.suppress(PlaywrightTimeout):
        frame.wait_for_function(condition, timeout=timeout_ms)

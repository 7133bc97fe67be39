"""The capture spider: each request is a page in a real Chromium; each callback records it.

Requests carry only plain data in meta (a `PageRequest` as a dict; the page-init callback by
import path), so the scheduler can keep them on disk or in redis.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import scrapy
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout
from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Request, Response
from twisted.python.failure import Failure

from bewaar.model import Outcome, PageKind, PageRequest, PageTarget
from bewaar.timeutil import iso
from crawler.behaviors import PlatformHints
from crawler.capture import RECORDER_KEY, PageCapture, capture_page, finish_resources
from crawler.context import AccountContext, annotate, links_for, wanted_photos
from crawler.job import CrawlJob, Target

log = logging.getLogger(__name__)
MAX_429_ATTEMPTS = 3
MAX_MEDIA_PER_PAGE = 10
RETRY_BASE_SECONDS = 2.0
_MEDIA_MIME = ("image/", "video/", "audio/")


def describe_failure(failure: Failure) -> str:
    """Chromium's net::ERR_* codes in words a user can act on."""
    text = str(failure.value).splitlines()[0] if failure.value else repr(failure)
    known = {
        "ERR_NAME_NOT_RESOLVED": "host not found (DNS)",
        "ERR_CONNECTION_REFUSED": "connection refused",
        "ERR_CONNECTION_RESET": "connection reset",
        "ERR_CONNECTION_TIMED_OUT": "connection timed out",
        "ERR_ADDRESS_UNREACHABLE": "address unreachable",
        "ERR_CERT_": "TLS certificate rejected",
        "ERR_TOO_MANY_REDIRECTS": "too many redirects",
        "ERR_EMPTY_RESPONSE": "empty response",
        "ERR_INTERNET_DISCONNECTED": "no network",
    }
    for code, words in known.items():
        if code in text:
            return f"{words} ({code.rstrip('_')})"
    if failure.check(PlaywrightTimeout) or "Timeout" in text:
        return "page load timed out"
    return text[:200]


class CaptureSpider(scrapy.Spider):
    name = "bewaar"

    def __init__(self, job: CrawlJob, adapters: dict[int, Any] | None = None, **kw: Any) -> None:
        super().__init__(**kw)
        self.job = job
        self.adapters = adapters or {}
        self._posts_queued: Counter[int] = Counter()
        self._seen_posts: dict[int, set[str]] = {}  # target -> post ids/URLs seen this crawl
        self._rechecked = False
        self._media: dict[int, set[str]] = {}  # target -> distinct media items seen
        self._queued_posts: set[str] = set()
        self._streams_fetched: set[str] = set()
        self.context = AccountContext(job, self.adapters)  # issue 16: replies elsewhere, ...
        self._relations: dict[int, dict[str, str]] = {}

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> CaptureSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._opened, signal=signals.spider_opened)
        crawler.signals.connect(spider._idle, signal=signals.spider_idle)
        crawler.signals.connect(spider._spider_error, signal=signals.spider_error)
        return spider

    def _opened(self, spider: Any) -> None:
        self.job.stats = self.crawler.stats  # set by Scrapy when the crawl starts

    def _idle(self) -> None:
        """When the crawl is done, visit the account's earlier posts it did not see again:
        the platform's answer (404, "unavailable", a login wall, or the post itself) decides
        whether a post was deleted or only scrolled out of reach."""
        if self._rechecked:
            return
        self._rechecked = True
        try:
            requests = self._recheck_requests()
        except Exception as e:  # noqa: BLE001 - the captures made so far must still be finished
            self.job.messages.append(f"could not re-check earlier posts: {e}")
            return
        if not requests:
            return
        for req in requests:
            self.crawler.engine.crawl(req)
        raise DontCloseSpider

    def _recheck_requests(self) -> list[Request]:
        known_posts = self.job.hooks.known_posts
        if known_posts is None:
            return []
        out: list[Request] = []
        for t in self.job.targets:
            if t.index not in self.adapters or t.platform == "generic" or t.depth < 1:
                continue
            seen = self._seen_posts.get(t.index, set())
            for post_id, url in known_posts(t.account):
                if post_id in seen or url in seen:
                    continue
                out.append(self.page_request(PageRequest(
                    t.index, url, 1, PageKind.RECHECK, post_id=post_id, scoped=True,
                )))  # fmt: skip
        return out

    # -- requests ---------------------------------------------------------------------
    def page_request(self, req: PageRequest) -> Request:
        target = self.job.targets[req.target]
        meta = {
            "playwright": True,
            "playwright_include_page": True,
            "playwright_context": target.context,
            "playwright_page_init_callback": "crawler.capture.init_page",
            "playwright_page_goto_kwargs": {"wait_until": "load"},
            "bewaar_max_resource_size": self.job.config.crawl.max_resource_size,
            "bewaar": req.to_meta(),
        }
        return Request(
            req.url,
            callback=self.parse_page,
            errback=self.on_error,
            meta=meta,
            dont_filter=req.attempt > 1,
        )

    async def start(self) -> AsyncIterator[Any]:
        for t in self.job.targets:
            kind = PageKind.PROFILE if t.platform != "generic" else PageKind.PAGE
            for url in [t.url, *t.more_urls]:
                yield self.page_request(PageRequest(t.index, url, 0, kind))
            for url, extra in self.context.start_pages(t):
                yield self.page_request(PageRequest(t.index, url, 0, extra, scoped=True))

    # -- callbacks --------------------------------------------------------------------
    def _hints(self, target: Target, req: PageRequest) -> PlatformHints:
        ad = self.adapters.get(target.index)
        if ad is None:
            return PlatformHints()
        fetch: tuple[str, ...] = ()
        if req.kind in (PageKind.POST, PageKind.RECHECK):
            fetch = tuple(ad.post_resources(req.url))
        return PlatformHints(
            ad.overlay_close, ad.overlay_remove, ad.more_controls, fetch,
            **self.context.hints(target, req.kind),
        )  # fmt: skip

    def _first_seen(self, target: Target) -> dict[str, str]:
        """Relations earlier crawls saw, with when (for `follow_lists`)."""
        hook = self.job.hooks.known_relations
        if target.opts.follow_lists <= 0 or hook is None:
            return {}
        if target.index not in self._relations:
            try:
                self._relations[target.index] = hook(target.account)
            except Exception as e:  # noqa: BLE001 - relations are then first seen now
                self.job.messages.append(f"could not read earlier relations: {e}")
                self._relations[target.index] = {}
        return self._relations[target.index]

    def _analyzer(self, target: Target, req: PageRequest) -> Any:
        """The platform adapter reads the page before it is closed: is it blocked, which
        information objects does it show, which posts does it link to, which media do the
        objects name (fetched whole by the page if the browser did not load them)."""
        adapter = self.adapters.get(target.index)
        if adapter is None:
            return None
        from crawler.platforms.base import CapturedResponse, PageSnapshot

        kind = str(req.kind)

        def analyze(cap: PageCapture, exchanges: list[Any]) -> list[str]:
            main = next((e for e in exchanges if e.is_main_document and not e.redirect), None)
            when = main.wall_time if main else time.time()
            snap = PageSnapshot(
                url=cap.url,
                final_url=cap.final_url,
                status=main.status if main else cap.status,
                title=cap.title,
                html=cap.dom,
                captured_at=iso(when),
                kind=kind,
                handle=target.handle,
                base_url=target.base_url,
                responses=[
                    CapturedResponse(e.url, e.method, e.status or 0, e.mime, e.body)
                    for e in exchanges
                    if e.body and e.complete and not e.mime.startswith(_MEDIA_MIME)
                ],
            )
            try:
                cap.block = adapter.detect_block(snap)
            except Exception as e:  # noqa: BLE001 - an adapter bug must not lose the capture
                log.warning("block detection failed on %s: %s", cap.final_url, e)
            if cap.block is not None:
                return []
            try:
                cap.objects = adapter.extract(snap) or []
                cap.objects = annotate(
                    cap.objects, adapter, target.handle, kind, target.opts, self._first_seen(target)
                )
            except Exception as e:  # noqa: BLE001
                log.warning("extraction failed on %s: %s", cap.final_url, e)
                cap.reason = f"extraction failed: {str(e).splitlines()[0]}"
            cap.post_links = links_for(adapter, snap, target.handle, kind)
            wanted: list[str] = wanted_photos(cap.objects)
            for obj in cap.objects:
                wanted += [obj.get("avatar"), obj.get("header")]
                for m in obj.get("media") or []:
                    wanted += [m.get("url"), m.get("poster")]
            return [u for u in wanted if u]

        return analyze

    async def _full_media(self, cap: PageCapture, cookies: list[dict[str, Any]], kind: PageKind) -> None:
        """Streams the page names (HLS/DASH playlists), and the post itself where yt-dlp has
        an extractor for the site, fetched whole with yt-dlp and recorded."""
        from crawler.capture import add_media
        from crawler.media import fetch_media, has_site_extractor, is_manifest

        sources: list[str] = []
        for obj in cap.objects:
            for m in obj.get("media") or []:
                if m.get("url") and is_manifest(m["url"], m.get("mime") or ""):
                    sources.append(m["url"])
        sources += [e.url for e in cap.exchanges if is_manifest(e.url, e.mime) and e.status == 200]
        if kind is PageKind.POST and has_site_extractor(cap.final_url):
            sources.insert(0, cap.final_url)
        # once per crawl: later pages embedding the same stream record it as the browser plays it
        sources = [u for u in dict.fromkeys(sources) if u not in self._streams_fetched]
        sources = sources[:MAX_MEDIA_PER_PAGE]
        self._streams_fetched.update(sources)
        results = []
        for src in sources:
            res = await asyncio.to_thread(
                fetch_media, src, cookies, cap.final_url, self.job.user_agent,
                self.job.config.crawl.max_resource_size,
                self.job.netguard.url if self.job.netguard else None,
            )
            if res.error:
                cap.behavior.notes.append(f"yt-dlp could not fetch {src}: {res.error}")
            results.append(res)
        add_media(cap, results)

    async def parse_page(self, response: Response) -> AsyncIterator[Any]:
        meta = response.meta
        req = PageRequest.from_meta(meta["bewaar"])
        target = self.job.targets[req.target]
        page = meta.get("playwright_page")
        rec = meta.get(RECORDER_KEY)
        self.job.finished += 1
        if page is None or rec is None:
            self._fail(target, req.url, "browser page could not be prepared")
            if page is not None:
                await page.close()
            return
        cookies: list[dict[str, Any]] = []
        try:
            cap = await capture_page(
                page, rec, req.url, response.status, self.job.seeds.behaviors,
                self._hints(target, req), analyze=self._analyzer(target, req),
            )
            redactor = self.job.redactors.get(target.context)
            if redactor is not None or self.job.seeds.behaviors.full_media and cap.block is None:
                cookies = [dict(c) for c in await page.context.cookies()]
            if redactor is not None:  # what the platform issued to the session so far
                redactor.learn_cookies(cookies)
        except PlaywrightError as e:
            self._fail(target, req.url, f"capture failed: {str(e).splitlines()[0]}")
            return
        finally:
            await _close(page)
        media = None
        if self.job.seeds.behaviors.full_media and cap.block is None:
            # runs while the page's links are already being crawled (see _handle_capture)
            media = asyncio.ensure_future(self._full_media(cap, cookies, req.kind))
        try:
            async for out in self._handle_capture(cap, target, req, media):
                yield out
        finally:
            if media is not None and not media.done():  # the crawl stopped under us
                media.cancel()

    async def on_error(self, failure: Failure) -> AsyncIterator[Any]:
        request = failure.request
        meta = request.meta
        req = PageRequest.from_meta(meta.get("bewaar") or {"target": 0, "url": request.url})
        target = self.job.targets[req.target]
        page = meta.get("playwright_page")
        rec = meta.get(RECORDER_KEY)
        self.job.finished += 1
        reason = self._refused(describe_failure(failure), req.url, rec)
        # A page whose load event never came may still have shown everything: record it.
        if page is not None and rec is not None and failure.check(PlaywrightTimeout):
            try:
                if not page.is_closed():
                    cap = await capture_page(
                        page, rec, req.url, None, self.job.seeds.behaviors,
                        self._hints(target, req), analyze=self._analyzer(target, req),
                    )
                    cap.reason = reason
                    await _close(page)
                    if cap.exchanges:
                        async for out in self._handle_capture(cap, target, req):
                            yield out
                        return
            except PlaywrightError:
                pass
        await _close(page)
        self._fail(target, req.url, reason)

    def _refused(self, reason: str, url: str, rec: Any = None) -> str:
        """A connection the network guard did not make (a private address, a name not found,
        a refused port) fails in Chromium as a SOCKS error: say what the guard saw, for the
        URL or for the redirect hop that led there."""
        guard = self.job.netguard
        if guard is None or "SOCKS" not in reason and "PROXY" not in reason:
            return reason
        urls = [url] + [e.url for e in reversed(getattr(rec, "exchanges", None) or []) if e.failed]
        for u in urls:
            refusal = guard.refusal_for(u)
            if refusal is not None:
                if refusal.private:
                    return refusal.words if u == url else f"{refusal.words}; reached by {u}"
                return f"{refusal.words} ({refusal.code})"
        return reason

    def _spider_error(self, failure: Failure, response: Response, spider: Any) -> None:
        """A bug in bewaar while handling a page must not pass for a clean crawl: Scrapy's own
        report of it is silenced with the library noise, so it becomes a failure here."""
        req = PageRequest.from_meta(response.meta.get("bewaar") or {"target": 0, "url": response.url})
        target = self.job.targets[req.target]
        err = failure.value
        self._fail(
            target, req.url,
            f"bewaar could not process the page ({type(err).__name__}: {err}); "
            "run again with -vv and report this as a bug",
        )

    # -- outcome ----------------------------------------------------------------------
    def _fail(self, target: Target, url: str, reason: str) -> None:
        self.job.page_failed(target.account, url, reason)
        log.warning("failed: %s: %s", url, reason)

    async def _handle_capture(
        self, cap: PageCapture, target: Target, req: PageRequest,
        streams: asyncio.Future[None] | None = None,
    ) -> AsyncIterator[Any]:
        """Judge the capture, follow its links, then hand it to the pipelines once `streams`
        (yt-dlp fetching the page's streams, which can take minutes for a long video) is done:
        the posts a profile links do not wait for the profile's video."""
        cap.target = PageTarget(
            seed=target.index, depth=req.depth, kind=req.kind, account=target.account,
            platform=target.platform, handle=target.handle, attempt=req.attempt,
            post_id=req.post_id, account_type=target.opts.account_type,
        )  # fmt: skip
        for entry in cap.dropped:  # sub-resources the guard refused: say why
            reason = entry.get("reason") or ""
            if "SOCKS" in reason and (better := self._refused(reason, entry["url"])) != reason:
                entry["reason"] = "load failed: " + better
        moved = req.depth == 0 and cap.final_url and cap.final_url != target.url
        if moved and cap.final_url not in target.extra_prefixes:
            target.extra_prefixes.append(cap.final_url)
        self._note_seen(cap, target)

        retry = self._judge(cap, req)
        retrying = retry and req.attempt < MAX_429_ATTEMPTS
        self.job.page_judged(
            target.account, req.kind, cap.outcome,
            cap.final_url or cap.url if cap.outcome is Outcome.BLOCKED else cap.url,
            cap.reason, will_retry=retrying,
        )  # fmt: skip
        if cap.outcome is Outcome.OK:
            self._count_objects(cap, target)

        # a reply's page may lead one step further, to the post it answers (crawler/context.py)
        thread = req.kind in (PageKind.POST, PageKind.RECHECK) and target.depth > 0
        if not retrying and cap.outcome is Outcome.OK and (req.depth < target.depth or thread):
            for request in self._follow(cap, target, req):
                yield request

        if streams is not None:
            await streams
        finish_resources(cap)
        yield cap

        if retrying:
            delay = RETRY_BASE_SECONDS * 2 ** (req.attempt - 1)
            self.job.note(f"rate limited on {cap.url}; retrying in {delay:.0f}s (attempt {req.attempt + 1})")
            await asyncio.sleep(delay)
            yield self.page_request(req.retry())

    def _note_seen(self, cap: PageCapture, target: Target) -> None:
        """What this crawl saw of the account: earlier posts not among it are re-checked."""
        seen = self._seen_posts.setdefault(target.index, set())
        seen.add(cap.url)
        seen.add(cap.final_url)
        for obj in cap.objects:
            if obj.get("type") == "post" and not obj.get("reply_to"):
                seen.add(str(obj.get("id")))
                if obj.get("url"):
                    seen.add(obj["url"])

    @staticmethod
    def _judge(cap: PageCapture, req: PageRequest) -> bool:
        """Set the capture's outcome and reason; True when a rate limit asks for a retry."""
        block = cap.block
        retry = False
        if block is not None:
            cap.outcome, cap.reason = Outcome.BLOCKED, f"{block.kind}: {block.reason}"
            retry = block.kind == "rate_limited"
        elif cap.status == 429:
            cap.outcome, cap.reason = Outcome.BLOCKED, "rate_limited: HTTP 429"
            retry = True
        elif cap.status is None:
            cap.outcome, cap.reason = Outcome.FAILED, cap.reason or "no response to the page request"
        elif cap.status >= 400:
            cap.outcome, cap.reason = Outcome.FAILED, f"HTTP {cap.status}"
        if req.kind is PageKind.RECHECK:
            # A post that did not show up again: its page's answer is the finding, not a
            # failure of the crawl. "gone" = the platform says it no longer exists.
            if cap.status in (404, 410) or (block is not None and block.kind in ("unavailable", "not_found")):
                cap.outcome = Outcome.GONE
                cap.reason = cap.reason or f"HTTP {cap.status}"
            elif cap.outcome is Outcome.FAILED and cap.status is not None:
                cap.outcome = Outcome.GONE if cap.status < 500 else Outcome.FAILED
        return retry

    def _count_objects(self, cap: PageCapture, target: Target) -> None:
        stats = self.job.accounts[target.account]
        for obj in cap.objects:
            if obj.get("type") != "post":
                continue
            if obj.get("reply_to"):
                stats.replies += 1
            for m in obj.get("media") or []:
                media = self._media.setdefault(target.index, set())
                media.add(m.get("url") or f"{obj.get('id')}#{len(media)}")
                stats.media = len(media)
        self.context.count(target, cap, stats)

    def _follow(self, cap: PageCapture, target: Target, req: PageRequest) -> list[Request]:
        adapter = self.adapters.get(target.index)
        out: list[Request] = []
        seen: set[str] = set()
        depth = req.depth + 1
        if adapter is not None and target.platform != "generic":
            # post links up to max_posts, replies elsewhere, thread context, mentions, story
            # items; links left out are recorded with why (the gap report)
            return [
                self.page_request(r)
                for r in self.context.follow(target, cap, req, self._queued_posts, self._posts_queued)
            ]
        for link in cap.links:
            link = link.split("#")[0]
            if not link or link in seen:
                continue
            seen.add(link)
            out.append(self.page_request(PageRequest(target.index, link, depth, PageKind.PAGE)))
        return out


async def _close(page: Any) -> None:
    """Every page is closed, whatever happened: one leaked page once hung a crawl for 20 min."""
    if page is None:
        return
    try:
        if not page.is_closed():
            await page.close()
    except Exception:  # noqa: BLE001
        pass

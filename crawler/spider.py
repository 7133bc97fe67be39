"""The capture spider: each request is a page in a real Chromium; each callback records it.

One spider serves every run its worker holds (crawler/worker.py): a request's `PageRequest`
names its run, whose targets, adapters and WARC files the worker keeps. Requests carry only
plain data in meta (a `PageRequest` as a dict), so they travel through the Redis queue
(crawler/redisq.py); what is particular to this worker (browser context, page-init callback,
lease) is added when the request is taken from the queue.

Every request taken from the queue holds a lease; it is acknowledged once the page's records
are written (the pipeline) or the page has failed for good (here), never before: a worker
that dies leaves its pages to be crawled again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import replace
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
from crawler.context import annotate, links_for, wanted_photos
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


def page_request(req: PageRequest) -> Request:
    """The Scrapy request for a page, as it travels through the queue: plain data only (the
    callbacks are named; crawler/redisq.py encodes it)."""
    meta: dict[str, Any] = {"playwright": True, "bewaar": req.to_meta()}
    return Request(
        req.url, meta=meta, dont_filter=req.attempt > 1 or req.kind is PageKind.RECHECK,
        priority=-req.depth,
    )  # fmt: skip


def start_requests(job: CrawlJob) -> list[Request]:
    """Where a run starts: each target's account pages (or its URL)."""
    out = []
    for t in job.targets:
        kind = PageKind.PROFILE if t.platform != "generic" else PageKind.PAGE
        for url in [t.url, *t.more_urls]:
            out.append(page_request(PageRequest(t.index, url, 0, kind, run=job.crawl_id)))
        for url, extra in job.context.start_pages(t):  # replies, stories, mentions, follows
            out.append(page_request(PageRequest(t.index, url, 0, extra, scoped=True, run=job.crawl_id)))
    return out


def recheck_requests(job: CrawlJob) -> list[Request]:
    """When a run is done, the account's earlier posts it did not see again: the platform's
    answer (404, "unavailable", a login wall, or the post itself) decides whether a post was
    deleted or only scrolled out of reach."""
    known_posts = job.hooks.known_posts
    if known_posts is None:
        return []
    out: list[Request] = []
    for t in job.targets:
        if t.index not in job.adapters or t.platform == "generic" or t.depth < 1:
            continue
        seen = job.set_members(f"seen:{t.index}")
        for post_id, url in known_posts(t.account):
            if post_id in seen or url in seen:
                continue
            out.append(page_request(PageRequest(
                t.index, url, 1, PageKind.RECHECK, post_id=post_id, scoped=True, run=job.crawl_id,
            )))  # fmt: skip
    return out


class CaptureSpider(scrapy.Spider):
    name = "bewaar"

    def __init__(self, worker: Any, **kw: Any) -> None:
        super().__init__(**kw)
        self.worker = worker  # crawler.worker.Worker: the runs, the queue, the leases

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> CaptureSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._opened, signal=signals.spider_opened)
        crawler.signals.connect(spider._idle, signal=signals.spider_idle)
        crawler.signals.connect(spider._spider_error, signal=signals.spider_error)
        return spider

    def _opened(self, spider: Any) -> None:
        self.worker.opened(self.crawler)

    def _idle(self) -> None:
        """A worker lives until it is told to stop (crawler/worker.py decides)."""
        if not self.worker.stopping:
            raise DontCloseSpider

    def job_for(self, req: PageRequest) -> CrawlJob | None:
        return self.worker.runs.get(req.run)

    async def start(self) -> AsyncIterator[Any]:
        return
        yield  # the requests come from the queue

    def _ack(self, meta: dict[str, Any]) -> None:
        self.worker.ack(meta)

    # -- callbacks --------------------------------------------------------------------
    def _hints(self, job: CrawlJob, target: Target, req: PageRequest) -> PlatformHints:
        ad = job.adapters.get(target.index)
        if ad is None:
            return PlatformHints()
        fetch: tuple[str, ...] = ()
        if req.kind in (PageKind.POST, PageKind.RECHECK):
            fetch = tuple(ad.post_resources(req.url))
        return PlatformHints(
            ad.overlay_close, ad.overlay_remove, ad.more_controls, fetch,
            **job.context.hints(target, req.kind),
        )  # fmt: skip

    def _first_seen(self, job: CrawlJob, target: Target) -> dict[str, str]:
        """Relations earlier crawls saw, with when (for `follow_lists`)."""
        hook = job.hooks.known_relations
        if target.opts.follow_lists <= 0 or hook is None:
            return {}
        cache = job.context.relations
        if target.index not in cache:
            try:
                cache[target.index] = hook(target.account)
            except Exception as e:  # noqa: BLE001 - relations are then first seen now
                job.message(f"could not read earlier relations: {e}")
                cache[target.index] = {}
        return cache[target.index]

    def _analyzer(self, job: CrawlJob, target: Target, req: PageRequest) -> Any:
        """The platform adapter reads the page before it is closed: is it blocked, which
        information objects does it show, which posts does it link to, which media do the
        objects name (fetched whole by the page if the browser did not load them)."""
        adapter = job.adapters.get(target.index)
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
                    cap.objects, adapter, target.handle, kind, target.opts, self._first_seen(job, target)
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

    async def _full_media(
        self, job: CrawlJob, cap: PageCapture, cookies: list[dict[str, Any]], kind: PageKind
    ) -> None:
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
        sources = list(dict.fromkeys(sources))[: MAX_MEDIA_PER_PAGE * 4]
        new = job.add_to_set("streams", *sources) if sources else set()
        sources = [u for u in sources if u in new][:MAX_MEDIA_PER_PAGE]
        results = []
        for src in sources:
            res = await asyncio.to_thread(
                fetch_media, src, cookies, cap.final_url, self.worker.user_agent,
                job.config.crawl.max_resource_size,
                self.worker.netguard.url if self.worker.netguard else None,
            )
            if res.error:
                cap.behavior.notes.append(f"yt-dlp could not fetch {src}: {res.error}")
            results.append(res)
        add_media(cap, results)

    async def parse_page(self, response: Response) -> AsyncIterator[Any]:
        meta = response.meta
        req = PageRequest.from_meta(meta["bewaar"])
        page = meta.get("playwright_page")
        job = self.job_for(req)
        if job is None:  # the run was finished meanwhile (its time limit): nothing to do
            await _close(page)
            self._ack(meta)
            return
        target = job.targets[req.target]
        rec = meta.get(RECORDER_KEY)
        job.finished += 1
        if page is None or rec is None:
            self._fail(job, target, req.url, "browser page could not be prepared", meta)
            await _close(page)
            return
        cookies: list[dict[str, Any]] = []
        try:
            cap = await asyncio.wait_for(
                capture_page(
                    page, rec, req.url, response.status, job.seeds.behaviors,
                    self._hints(job, target, req), analyze=self._analyzer(job, target, req),
                ),
                self.worker.page_limit(job),
            )  # fmt: skip
            redactor = job.redactors.get(target.context)
            if redactor is not None or job.seeds.behaviors.full_media and cap.block is None:
                cookies = [dict(c) for c in await page.context.cookies()]
            if redactor is not None:  # what the platform issued to the session so far
                redactor.learn_cookies(cookies)
        except PlaywrightError as e:
            self._fail(job, target, req.url, f"capture failed: {str(e).splitlines()[0]}", meta)
            return
        except TimeoutError:
            limit = self.worker.page_limit(job)
            self._fail(job, target, req.url, f"the page took longer than {limit:.0f}s (page time limit)", meta)
            return
        finally:
            await _close(page)
        media = None
        if job.seeds.behaviors.full_media and cap.block is None:
            # runs while the page's links are already being crawled (see _handle_capture)
            media = asyncio.ensure_future(self._full_media(job, cap, cookies, req.kind))
        try:
            async for out in self._handle_capture(job, cap, target, req, meta, media):
                yield out
        finally:
            if media is not None and not media.done():  # the crawl stopped under us
                media.cancel()

    async def on_error(self, failure: Failure) -> AsyncIterator[Any]:
        request = failure.request
        meta = request.meta
        req = PageRequest.from_meta(meta.get("bewaar") or {"target": 0, "url": request.url})
        page = meta.get("playwright_page")
        job = self.job_for(req)
        if job is None:
            await _close(page)
            self._ack(meta)
            return
        target = job.targets[req.target]
        rec = meta.get(RECORDER_KEY)
        job.finished += 1
        reason = self._refused(describe_failure(failure), req.url, rec)
        # A page whose load event never came may still have shown everything: record it.
        if page is not None and rec is not None and failure.check(PlaywrightTimeout):
            try:
                if not page.is_closed():
                    cap = await asyncio.wait_for(
                        capture_page(
                            page, rec, req.url, None, job.seeds.behaviors,
                            self._hints(job, target, req), analyze=self._analyzer(job, target, req),
                        ),
                        self.worker.page_limit(job),
                    )  # fmt: skip
                    cap.reason = reason
                    await _close(page)
                    if cap.exchanges:
                        async for out in self._handle_capture(job, cap, target, req, meta):
                            yield out
                        return
            except PlaywrightError:
                pass
            except TimeoutError:  # the page never loaded, nor settled: a hanging server
                reason += f"; gave up after {self.worker.page_limit(job):.0f}s (page time limit)"
        await _close(page)
        self._fail(job, target, req.url, reason, meta)

    def _refused(self, reason: str, url: str, rec: Any = None) -> str:
        """A connection the network guard did not make (a private address, a name not found,
        a refused port) fails in Chromium as a SOCKS error: say what the guard saw, for the
        URL or for the redirect hop that led there."""
        guard = self.worker.netguard
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
        job = self.job_for(req)
        if job is None:
            self._ack(response.meta)
            return
        target = job.targets[req.target]
        err = failure.value
        self._fail(
            job, target, req.url,
            f"bewaar could not process the page ({type(err).__name__}: {err}); "
            "run again with -vv and report this as a bug",
            response.meta,
        )  # fmt: skip

    # -- outcome ----------------------------------------------------------------------
    def _fail(
        self, job: CrawlJob, target: Target, url: str, reason: str, meta: dict[str, Any] | None = None
    ) -> None:
        """A page that failed for good: counted, and its lease acknowledged."""
        if meta is not None and not self.worker.holds(meta):
            return  # counted already (a lease acknowledged twice counts once)
        job.page_failed(target.account, url, reason)
        log.warning("failed: %s: %s", url, reason)
        if meta is not None:
            self._ack(meta)

    async def _handle_capture(
        self, job: CrawlJob, cap: PageCapture, target: Target, req: PageRequest,
        meta: dict[str, Any], streams: asyncio.Future[None] | None = None,
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
            job.add_to_set(f"prefixes:{target.index}", cap.final_url)  # for the other workers
        self._note_seen(job, cap, target)

        retry = self._judge(cap, req)
        retrying = retry and req.attempt < MAX_429_ATTEMPTS
        if not self.worker.holds(meta):
            return  # the lease went back to the queue (this page took too long): not counted
        job.page_judged(
            target.account, req.kind, cap.outcome,
            cap.final_url or cap.url if cap.outcome is Outcome.BLOCKED else cap.url,
            cap.reason, will_retry=retrying,
        )  # fmt: skip
        if cap.outcome is Outcome.OK:
            self._count_objects(job, cap, target)

        # a reply's page may lead one step further, to the post it answers (crawler/context.py);
        # follow-ups and a retry are queued before the page is acknowledged (when its records
        # are written): the run's pending count never passes through zero in between
        thread = req.kind in (PageKind.POST, PageKind.RECHECK) and target.depth > 0
        if not retrying and cap.outcome is Outcome.OK and (req.depth < target.depth or thread):
            for request in self._follow(job, cap, target, req):
                yield request
        if retrying:
            delay = RETRY_BASE_SECONDS * 2 ** (req.attempt - 1)
            job.note(f"rate limited on {cap.url}; retrying in {delay:.0f}s (attempt {req.attempt + 1})")
            await asyncio.sleep(delay)
            yield page_request(req.retry())

        if streams is not None:
            await streams
        finish_resources(cap)
        cap.run = job.crawl_id
        cap.lease = meta.get("bewaar_lease")
        yield cap

    def _note_seen(self, job: CrawlJob, cap: PageCapture, target: Target) -> None:
        """What this crawl saw of the account: earlier posts not among it are re-checked."""
        seen = {cap.url, cap.final_url}
        for obj in cap.objects:
            if obj.get("type") == "post" and not obj.get("reply_to"):
                seen.add(str(obj.get("id")))
                if obj.get("url"):
                    seen.add(obj["url"])
        job.add_to_set(f"seen:{target.index}", *(x for x in seen if x))

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

    def _count_objects(self, job: CrawlJob, cap: PageCapture, target: Target) -> None:
        replies = 0
        media: list[str] = []
        for obj in cap.objects:
            if obj.get("type") != "post":
                continue
            if obj.get("reply_to"):
                replies += 1
            for i, m in enumerate(obj.get("media") or []):
                media.append(m.get("url") or f"{obj.get('id')}#{i}")
        if replies:
            job.count_replies(target.account, replies)
        if media:
            job.media_seen(target.account, target.index, media)
        job.context.count(target, cap)

    def _follow(self, job: CrawlJob, cap: PageCapture, target: Target, req: PageRequest) -> list[Request]:
        adapter = job.adapters.get(target.index)
        out: list[Request] = []
        seen: set[str] = set()
        depth = req.depth + 1
        if adapter is not None and target.platform != "generic":
            # post links up to max_posts, replies elsewhere, thread context, mentions, story
            # items; links left out are recorded with why (the gap report). What the run queued
            # is shared by every process that crawls it (the job's sets, in Redis)
            return [
                page_request(replace(r, run=job.crawl_id))
                for r in job.context.follow(target, cap, req)
            ]
        for link in cap.links:
            link = link.split("#")[0]
            if not link or link in seen:
                continue
            seen.add(link)
            out.append(page_request(PageRequest(target.index, link, depth, PageKind.PAGE, run=job.crawl_id)))
        return out


async def _close(page: Any) -> None:
    """Every page is closed, whatever happened: one leaked page once hung a crawl for 20 min.
    A page's own browser context (crawler/worker.py gives each page one) is closed with it."""
    if page is None:
        return
    try:
        if not page.is_closed():
            await page.close()
    except Exception:  # noqa: BLE001
        pass
    try:
        ctx = page.context
        if getattr(ctx, "bewaar_per_page", False):
            await ctx.close()
    except Exception:  # noqa: BLE001
        pass

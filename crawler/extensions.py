"""Scrapy extensions: progress lines while crawling; the application's hook on each WARC as
it is finished (signing); the crawl's statistics for its report."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from twisted.internet import defer, threads

from crawler.capture import PageCapture
from crawler.pipelines import warc_finished

log = logging.getLogger(__name__)


def _mb(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB"


class Progress:
    """One line per page on stderr: done / queued / failed, bytes written."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.quiet = crawler.settings.getbool("BEWAAR_QUIET")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Progress:
        ext = cls(crawler)
        crawler.signals.connect(ext.scheduled, signal=signals.request_scheduled)
        crawler.signals.connect(ext.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(ext.item_dropped, signal=signals.item_dropped)
        return ext

    def scheduled(self, request: Any, spider: Spider) -> None:
        pass  # counted by the scheduler (crawler/redisq.py), per run

    def item_scraped(self, item: Any, response: Any, spider: Spider) -> None:
        self._line(spider, item)

    def item_dropped(self, item: Any, response: Any, exception: Any, spider: Spider) -> None:
        self._line(spider, item)

    def _line(self, spider: Spider, item: Any) -> None:
        if self.quiet or not isinstance(item, PageCapture):
            return
        job = spider.worker.runs.get(item.run)
        if job is None:
            return
        mark = {"ok": "ok", "blocked": "BLOCKED", "failed": "FAILED"}.get(item.outcome, item.outcome)
        extra = f" ({item.reason})" if item.reason else ""
        queued = job.queued
        if job.store is not None:  # the run's pages not written yet, whoever crawls them
            queued = max(0, int(job.store.r.hget(f"bewaar:run:{job.crawl_id}", "pending") or 0))
        print(
            f"[{job.done} done, {queued} queued, {job.failed} failed, {job.blocked} blocked, "
            f"{_mb(job.bytes_written)}] {mark} {item.final_url or item.url}{extra}",
            file=sys.stderr,
            flush=True,
        )


class WarcHooks:
    """Runs the job's `warc_finished` hook (e.g. signing) on each finished WARC in a thread:
    a TSA round trip must not stall the browser."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.pending: list[defer.Deferred[Any]] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcHooks:
        ext = cls(crawler)
        crawler.signals.connect(ext.finished, signal=warc_finished)
        crawler.signals.connect(ext.closed, signal=signals.spider_closed)
        return ext

    def finished(self, path: Path, spider: Spider, job: Any) -> None:
        hook = job.hooks.warc_finished
        if hook is None:
            return
        d = threads.deferToThread(hook, Path(path))
        d.addErrback(self._failed, path, job)
        self.pending.append(d)

    def _failed(self, failure: Any, path: Path, job: Any) -> None:
        text = str(failure.value).strip() if failure.value is not None else ""
        msg = text.splitlines()[0] if text else type(failure.value).__name__
        job.message(job.hooks.warc_hook_failed.format(name=Path(path).name, error=msg))
        job.hook_failures += 1
        job._count(hook_failures=1)

    def closed(self, spider: Spider, reason: str) -> defer.Deferred[Any]:
        # the pipeline finishes the last WARCs before this runs (pipelines close first)
        return defer.DeferredList(self.pending)

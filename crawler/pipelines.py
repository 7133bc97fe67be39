"""Item pipeline: page captures become WARC records, page entries and information objects."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from scrapy import Spider
from scrapy.crawler import Crawler

from bewaar.lock import file_lock
from bewaar.model import Outcome, PageEntry, append_pages
from crawler.capture import PageCapture
from crawler.warc_writer import WarcWriteError

log = logging.getLogger(__name__)

# Sent with the path of each WARC the moment it is finished (moved into archive/).
warc_finished = object()


class WarcPipeline:
    """Writes each page into its run's WARC files (crawler/warc_writer.WarcSet, one file per
    account), then acknowledges the page's lease: only a page whose records are on disk is
    done for the queue."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcPipeline:
        return cls(crawler)

    def open_spider(self, spider: Spider) -> None:
        pass

    def process_item(self, item: Any, spider: Spider) -> Any:
        if not isinstance(item, PageCapture):
            return item
        worker = spider.worker
        job = worker.runs.get(item.run)
        lease = {"bewaar_lease": item.lease, "bewaar": {"run": item.run}}
        try:
            if job is None or not worker.holds(lease):
                return item  # the run ended or the lease went back to the queue: not written
            self._write(worker, job, item)
        finally:
            worker.ack(lease)
        return item

    def _write(self, worker: Any, job: Any, item: PageCapture) -> None:
        if worker.netguard is not None:
            _remote_addresses(item, worker.netguard)
        redactor = job.redactors.get(job.targets[item.target.seed].context)
        if redactor is not None:  # a login session: its secrets never reach the WARC
            redactor.capture(item)
        files = worker.files_for(job)
        group = files.files(item.target.account or "-")
        try:
            written = group.write_page(item.exchanges, item.resources, main_url=item.final_url)
            group.sync()  # on disk before the lease is acknowledged
        except WarcWriteError as e:
            self._write_failed(job, item, str(e))
            return
        job.written(written.records, files.bytes_written, written.bytes)
        t = item.target
        entry = PageEntry(
            url=item.final_url or item.url,
            ts=item.captured_at,
            id=uuid.uuid4().hex,
            title=item.title,
            status=item.status,
            crawl_id=job.crawl_id,
            seed=t.depth == 0,
            depth=t.depth,
            warc=written.warc,
            outcome=str(item.outcome),
            reason=item.reason,
            platform=t.platform,
            account=t.account,
            kind=str(t.kind),
        )
        if item.url != entry.url:
            entry.extra["requested_url"] = item.url
        if t.post_id:
            entry.extra["post_id"] = t.post_id
        if written.main_record_id:
            entry.extra["record_id"] = written.main_record_id
        # several workers append to one collection: a short lock per append
        with file_lock(job.collection.pages_file.with_name(".pages.lock")):
            append_pages(job.collection.pages_file, [entry])
            if item.objects:
                path = job.collection.objects / f"{job.crawl_id}.jsonl"
                with path.open("a", encoding="utf-8") as fh:
                    fh.write("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in item.objects))
        # free the bodies: the item is done
        item.exchanges = []
        item.resources = []
        item.dom = ""

    def _write_failed(self, job: Any, item: PageCapture, reason: str) -> None:
        """Nothing more can be stored: count the page as failed and stop the crawl, rather than
        browse on and lose every further page (the ones written before are kept)."""
        # counted as captured when it was judged; it is not stored
        job.page_not_stored(
            item.target.account, item.outcome is Outcome.OK, item.final_url or item.url, reason
        )
        item.outcome, item.reason = Outcome.FAILED, f"not stored: {reason}"
        if job.write_error is None:
            job.write_error = reason
            log.error("%s; stopping the crawl", reason)
            self.crawler.spider.worker.write_failed(job, reason)

    def close_spider(self, spider: Spider) -> None:
        spider.worker.close_all_files()


def _remote_addresses(item: PageCapture, guard: Any) -> None:
    """Chromium connects through the network guard, so the address it reports is the guard's:
    WARC-IP-Address gets the address the guard connected to for that host instead (none when
    the guard does not know it)."""
    for ex in item.exchanges:
        if ex.remote_port == guard.port and ex.remote_ip and ex.remote_ip.strip("[]") in (
            guard.host, "::1", "::ffff:127.0.0.1",
        ):  # fmt: skip
            ex.remote_ip = guard.address_for(ex.url)

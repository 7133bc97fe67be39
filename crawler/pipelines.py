"""Item pipeline: page captures become WARC records, page entries and information objects."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from scrapy import Spider
from scrapy.crawler import Crawler
from scrapy.utils.defer import deferred_from_coro

from bewaar.model import SIGNATURE_SUFFIX, Outcome, PageEntry, append_pages
from crawler.capture import PageCapture
from crawler.dedup import DedupIndex
from crawler.indexer import add_to_index, unindexed
from crawler.redact import RULE
from crawler.warc_writer import WarcFiles, WarcWriteError, recover, warcinfo_fields

log = logging.getLogger(__name__)

# Sent with the path of each WARC the moment it is finished (moved into archive/).
warc_finished = object()


class WarcPipeline:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.files: WarcFiles | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcPipeline:
        return cls(crawler)

    def open_spider(self, spider: Spider) -> None:
        job = spider.job
        coll = job.collection.ensure()
        recovered = recover(coll)
        for path in recovered:
            job.messages.append(f"recovered {path.name} left unfinished by an earlier crawl")
        # An earlier crawl killed after finishing a file (rotation) but before its index and
        # signing steps left it in archive/ unindexed or unsigned: this crawl (holding the
        # collection's lock) indexes it now, so it is replayable and deduplicated against, and
        # signs it through the same hook as its own files.
        late = [w for w in unindexed(coll) if w not in recovered]
        if late:
            job.messages.append(
                f"indexed {len(late)} WARC file(s) an earlier crawl finished but did not index"
            )
        add_to_index(coll, recovered + late)
        unsigned = [w for w in coll.warcs() if not w.with_name(w.name + SIGNATURE_SUFFIX).exists()]
        if unsigned and not set(unsigned) <= set(recovered):
            job.messages.append(
                f"signing {len(unsigned)} WARC file(s) an earlier crawl left unsigned"
            )
        for path in unsigned:
            self._signal(path)
        dedup = DedupIndex.from_cdxj([coll.index_file])
        info = warcinfo_fields(
            job.software,
            {
                "isPartOf": coll.name,
                "description": "Browser capture of public pages by bewaar",
                "seeds": [t.url for t in job.targets],
                "behaviors": job.seeds.behaviors.model_dump(mode="json"),
                "crawl": job.config.crawl.model_dump(mode="json"),
                "http-header-user-agent": job.user_agent,
                **({"bewaar-redaction": RULE} if job.redactors else {}),
            },
        )
        self.files = WarcFiles(
            coll,
            job.crawl_id,
            info,
            max_size=job.config.crawl.warc_max_size,
            dedup=dedup,
            on_finished=self._finished,
        )

    def _signal(self, path: Any) -> None:
        self.crawler.signals.send_catch_log(warc_finished, path=path, spider=self.crawler.spider)

    def _finished(self, path: Any) -> None:
        self.crawler.spider.job.warcs.append(path)
        self._signal(path)

    def process_item(self, item: Any, spider: Spider) -> Any:
        if not isinstance(item, PageCapture) or self.files is None:
            return item
        job = spider.job
        if job.netguard is not None:
            _remote_addresses(item, job.netguard)
        redactor = job.redactors.get(job.targets[item.target.seed].context)
        if redactor is not None:  # a login session: its secrets never reach the WARC
            redactor.capture(item)
        try:
            written = self.files.write_page(item.exchanges, item.resources, main_url=item.final_url)
        except WarcWriteError as e:
            self._write_failed(job, item, str(e))
            return item
        job.written(written.records, self.files.bytes_written)
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
        append_pages(job.collection.pages_file, [entry])
        job.page_entries.append(json.loads(entry.to_json()))
        if item.objects:
            path = job.collection.objects / f"{job.crawl_id}.jsonl"
            with path.open("a", encoding="utf-8") as fh:
                for obj in item.objects:
                    fh.write(json.dumps(obj, ensure_ascii=False) + "\n")
        # free the bodies: the item is done
        item.exchanges = []
        item.resources = []
        item.dom = ""
        return item

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
            engine = self.crawler.engine
            if engine is not None:
                deferred_from_coro(engine.close_spider_async(reason="warc_write_failed"))

    def close_spider(self, spider: Spider) -> None:
        if self.files is not None:
            self.files.close()



def _remote_addresses(item: PageCapture, guard: Any) -> None:
    """Chromium connects through the network guard, so the address it reports is the guard's:
    WARC-IP-Address gets the address the guard connected to for that host instead (none when
    the guard does not know it)."""
    for ex in item.exchanges:
        if ex.remote_port == guard.port and ex.remote_ip and ex.remote_ip.strip("[]") in (
            guard.host, "::1", "::ffff:127.0.0.1",
        ):  # fmt: skip
            ex.remote_ip = guard.address_for(ex.url)

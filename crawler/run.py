"""Run one crawl: seeds -> targets -> Scrapy + Chromium -> WARCs.

Only the capture itself: indexing, signing, the catalog and the report are the application
layer's steps (bewaar/app/crawl.py), given to the crawl as hooks where they must run during it.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

from bewaar.config import RootConfig, SeedList
from bewaar.environment import find_chromium
from bewaar.model import Root
from crawler.job import CrawlHooks, CrawlJob
from crawler.netguard import NetGuard, Policy
from crawler.targets import make_targets

log = logging.getLogger(__name__)


def run_crawl(
    root: Root,
    seeds: SeedList,
    config: RootConfig,
    seed_file: Path | None = None,
    verbose: int = 0,
    quiet: bool = False,
    hooks: CrawlHooks | None = None,
) -> CrawlJob:
    """Crawl in this process (Scrapy's reactor runs once per process); the finished WARCs are
    in `job.warcs`."""
    from scrapy.crawler import CrawlerProcess

    from crawler.settings import build_settings, quiet_libraries
    from crawler.spider import CaptureSpider

    chromium = find_chromium(config.browser.executable)
    job = CrawlJob(root, seeds, config, seed_file)
    job.quiet = quiet
    if hooks is not None:
        job.hooks = hooks
    adapters = make_targets(job)
    job.collection.ensure()

    # every connection of the browser and of yt-dlp goes through the guard: no private
    # networks unless crawl.allow_private says so (crawler/netguard.py)
    job.netguard = NetGuard(Policy(config.crawl.allow_private, config.browser.loopback_only))
    with job.netguard:
        settings = build_settings(job, chromium, verbose, quiet)
        process = CrawlerProcess(settings)
        quiet_libraries(verbose)
        if not quiet:
            print(
                f"Crawling {len(job.targets)} seed(s) into {job.collection.path} "
                f"(crawl {job.crawl_id}, {config.crawl.concurrency} page(s) at a time)",
                file=sys.stderr,
                flush=True,
            )
        started = process.crawl(CaptureSpider, job=job, adapters=adapters)

        def could_not_start(failure: Any) -> None:
            job.run_error = f"{type(failure.value).__name__}: {failure.value}"

        started.addErrback(could_not_start)
        process.start()
    refused = job.netguard.summary()
    if refused:
        job.messages.append(refused)
    return job

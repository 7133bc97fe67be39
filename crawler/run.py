"""Run one crawl: seeds -> targets -> Scrapy + Chromium -> WARCs -> index -> summary."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bewaar.config import RootConfig, SeedList
from bewaar.environment import find_chromium
from bewaar.errors import FAILED, OK, BewaarError
from bewaar.model import Root
from crawler.indexer import add_to_index
from crawler.job import CrawlJob

log = logging.getLogger(__name__)


def make_targets(job: CrawlJob) -> dict[int, Any]:
    """Seeds become targets; account seeds get their platform adapter."""
    adapters: dict[int, Any] = {}
    for i, seed in enumerate(job.seeds.seeds):
        opts = job.seeds.platforms.get(seed.platform) if seed.platform else None
        login = seed.login_state or (opts.login_state if opts else None)
        state = _login_state_path(
            job.root, seed.platform or "generic", login, job.seed_file.parent if job.seed_file else None
        )
        context = f"login-{seed.platform}" if state else "default"
        if seed.url:
            t = job.add_target(seed, i, seed.url, context=context, login_state=state)
            if seed.platform == "generic":
                from crawler.platforms import get_adapter

                adapters[i] = get_adapter("generic", None)
            continue
        from crawler.platforms import get_adapter

        base = seed.base_url or (opts.base_url if opts else None)
        adapter = get_adapter(seed.platform, base)
        handle = seed.handle or ""  # as written: Mastodon's keeps its server
        urls = adapter.account_urls(handle)
        t = job.add_target(
            seed,
            i,
            urls[0],
            account=f"{seed.platform}:{adapter.account_key(handle)}",
            platform=seed.platform or "generic",
            handle=handle,
            base_url=adapter.base_for(handle),
            more_urls=urls[1:],
            max_posts=seed.max_posts,
            replies=seed.replies,
            context=context,
            login_state=state,
        )
        adapters[t.index] = adapter
    return adapters


def _login_state_path(
    root: Root, platform: str, ref: str | None, seed_dir: Path | None
) -> Path | None:
    if not ref:
        return None
    from crawler.login_state import resolve_state

    return resolve_state(root.path, platform, ref, relative_to=seed_dir)


def run_crawl(
    root: Root,
    seeds: SeedList,
    config: RootConfig,
    seed_file: Path | None = None,
    verbose: int = 0,
    quiet: bool = False,
) -> tuple[int, CrawlJob]:
    """Crawl in this process (Scrapy's reactor runs once per process)."""
    from scrapy.crawler import CrawlerProcess

    from crawler.settings import build_settings, quiet_libraries
    from crawler.spider import CaptureSpider

    chromium = find_chromium(config.browser.executable)
    job = CrawlJob(root, seeds, config, seed_file)
    job.quiet = quiet
    adapters = make_targets(job)
    job.collection.ensure()
    _announce_key(job)

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
    process.crawl(CaptureSpider, job=job, adapters=adapters)
    process.start()

    root, name = job.root.path, job.collection.name
    try:
        entries = add_to_index(job.collection, job.warcs)
        write_report(job, entries)  # the catalog reads it
        _update_catalog(job)
        report = write_report(job, entries)  # now with the catalog's findings
    except OSError as e:
        raise BewaarError(
            f"the captured pages are kept in {job.collection.archive}, but the index, report or "
            f"catalog could not be written ({e.strerror or e}); free space, then run "
            f"`bewaar index {name} --root {root}` and `bewaar catalog rebuild --root {root}`",
            FAILED,
        ) from e
    if not quiet:
        print_summary(job, entries, report)
    if job.write_error:
        kept = (
            "the pages stored before it are kept (signed and indexed)" if job.warcs
            else "no page had been stored yet"
        )
        print(
            f"error: {job.write_error}. The crawl stopped; {kept}. "
            "Free space (or raise the file size limit) and crawl again.",
            file=sys.stderr, flush=True,
        )
    # a blocked page (login wall, rate limit) is not a capture of the account: attention needed
    return (FAILED if (job.failed or job.blocked or job.sign_failures) else OK), job


def _announce_key(job: CrawlJob) -> None:
    from signing.api import ensure_key

    try:
        msg = ensure_key(job.root.path, job.config.signing)
    except NotImplementedError:
        msg = None
    if msg:
        print(msg, file=sys.stderr, flush=True)


def _update_catalog(job: CrawlJob) -> None:
    from catalog.api import update_after_crawl

    for line in update_after_crawl(job.root.path, job.collection.name, job.crawl_id):
        job.messages.append(line)


def write_report(job: CrawlJob, index_entries: int) -> Path:
    """collections/NAME/crawls/CRAWL_ID.json: what this crawl did, for people and the catalog."""
    path = job.collection.path / "crawls" / f"{job.crawl_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "crawl_id": job.crawl_id,
        "collection": job.collection.name,
        "software": job.software,
        "seed_file": str(job.seed_file) if job.seed_file else None,
        "started": job.started,
        "seconds": round(job.elapsed, 1),
        "targets": [
            {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(t).items()}
            for t in job.targets
        ],
        "pages": {"ok": job.done, "blocked": job.blocked, "failed": job.failed},
        "accounts": {k: asdict(v) for k, v in job.accounts.items()},
        "failures": [{"url": u, "reason": r} for u, r in job.failures],
        "blocked": [{"url": u, "reason": r} for u, r in job.blocked_pages],
        "gone": [{"url": u, "reason": r} for u, r in job.gone],
        "warcs": [p.name for p in job.warcs],
        "bytes": job.bytes_written,
        "records": job.records,
        "index_entries": index_entries,
        "messages": job.messages,
    }
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
    return path


def print_summary(job: CrawlJob, index_entries: int, report: Path) -> None:
    out = sys.stderr
    print(
        f"\nCrawl {job.crawl_id} of '{job.collection.name}': {job.done} page(s) captured, "
        f"{job.blocked} blocked, {job.failed} failed in {job.elapsed:.0f}s",
        file=out,
    )
    print(
        f"  {job.bytes_written / 1_000_000:.1f} MB in {len(job.warcs)} WARC file(s), "
        f"{job.records} records; {index_entries} index entries added",
        file=out,
    )
    for name, st in job.accounts.items():
        print(
            f"  {name}: {st.pages} page(s), {st.posts} post(s), {st.replies} repl(y/ies), "
            f"{st.media} media, {st.blocked} blocked, {st.failed} failed",
            file=out,
        )
    for msg in job.messages:
        print(f"  note: {msg}", file=out)
    if job.blocked_pages:
        print("Blocked (recorded, not counted as captured):", file=out)
        for url, reason in job.blocked_pages:
            print(f"  {url} — {reason}", file=out)
    if job.gone:
        print("No longer online (checked because an earlier crawl saw them):", file=out)
        for url, reason in job.gone:
            print(f"  {url} — {reason}", file=out)
    if job.failures:
        print("Failed:", file=out)
        for url, reason in job.failures:
            print(f"  {url} — {reason}", file=out)
    print(f"  report: {report}", file=out, flush=True)

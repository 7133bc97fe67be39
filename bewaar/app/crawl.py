"""`bewaar crawl`: a crawl and the steps after it, composed from the packages.

During the crawl: each finished WARC is signed (signing) and earlier posts are re-checked
(catalog), both as hooks the crawler calls. After it: the new WARCs are indexed (crawler's
indexer, pywb's own), the crawl report is written, the catalog reads the crawl and compares it
with earlier ones, and the report is written again with the catalog's findings.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from bewaar.config import RootConfig, SeedList, load_root_config, load_seed_list
from bewaar.errors import FAILED, OK, BewaarError
from bewaar.lock import collection_lock
from bewaar.model import Root
from crawler.job import CrawlHooks, CrawlJob


def hooks_for(root: Root, collection: str, config: RootConfig) -> CrawlHooks:
    from catalog.api import backfill_from, known_posts, known_relations
    from signing.api import sign_warc

    return CrawlHooks(
        known_posts=lambda account: known_posts(root.path, collection, account),
        backfill_from=lambda account: backfill_from(root.path, collection, account),
        known_relations=lambda account: known_relations(root.path, collection, account),
        warc_finished=lambda path: sign_warc(path, root.path, config.signing),
        warc_hook_failed="could not sign {name}: {error} (run `bewaar sign` later)",
    )


def announce_key(root: Root, config: RootConfig) -> None:
    """A root without a key gets a self-managed one at its first crawl; say so."""
    from signing.api import ensure_key

    msg = ensure_key(root.path, config.signing)
    if msg:
        print(msg, file=sys.stderr, flush=True)


def crawl(
    root: Root,
    seeds: SeedList,
    config: RootConfig,
    seed_file: Path | None = None,
    verbose: int = 0,
    quiet: bool = False,
) -> tuple[int, CrawlJob]:
    """Crawl, then index, report and catalog; the exit status and the finished job."""
    from crawler.run import run_crawl

    announce_key(root, config)
    # one writer per collection: the crawl and its after-crawl steps hold the lock (a second
    # crawl, `bewaar index` or `bewaar sign` of this collection stops with exit 3)
    with collection_lock(root.collection(seeds.collection).path):
        # Scrapy installs its own SIGINT/SIGTERM handlers and leaves them behind once its
        # reactor has stopped; a process that goes on after the crawl (the demo serving
        # replay) must answer SIGTERM again.
        saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            job = run_crawl(
                root, seeds, config, seed_file=seed_file, verbose=verbose, quiet=quiet,
                hooks=hooks_for(root, seeds.collection, config),
            )  # fmt: skip
        finally:
            for sig, handler in saved.items():
                if handler is not None:
                    signal.signal(sig, handler)
        return finish(job), job


def finish(job: CrawlJob) -> int:
    """The after-crawl steps; nothing captured is lost if one of them fails."""
    from bewaar.app.access.acl import refresh_acls
    from catalog.api import update_after_crawl
    from crawler.indexer import add_to_index
    from crawler.report import print_summary, write_report

    root, name = job.root.path, job.collection.name
    try:
        entries = add_to_index(job.collection, job.warcs)
        job.messages.extend(record_in_ledger(job))
        write_report(job, entries)  # the catalog reads it
        job.messages.extend(update_after_crawl(root, name, job.crawl_id))
        report = write_report(job, entries)  # now with the catalog's findings
        refresh_acls(job.root)  # new captures of restricted posts are restricted too
    except OSError as e:
        raise BewaarError(
            f"the captured pages are kept in {job.collection.archive}, but the index, report or "
            f"catalog could not be written ({e.strerror or e}); free space, then run "
            f"`bewaar index {name} --root {root}` and `bewaar catalog rebuild --root {root}`",
            FAILED,
        ) from e
    if not job.quiet:
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
    if job.run_error:
        print(
            f"error: the crawl could not run ({job.run_error}); run again with -vv and report "
            "this as a bug", file=sys.stderr, flush=True,
        )  # fmt: skip
    # a blocked page (login wall, rate limit) is not a capture of the account: attention needed
    failed = job.failed or job.blocked or job.hook_failures or job.run_error
    return FAILED if failed else OK


def record_in_ledger(job: CrawlJob) -> list[str]:
    """The crawl's signed WARCs (and the seed list's retention rules, where they changed) go
    into the collection's ledger under one seal. Never raises: the captures are complete and
    signed; `bewaar ledger update` records them later."""
    from bewaar.app.records.retention import remember_seeds
    from signing.api import update_ledger

    try:
        source = str(job.seed_file) if getattr(job, "seed_file", None) else "seed list"
        events = remember_seeds(job.collection, job.seeds, source)
        pos = update_ledger(job.root.path, job.config.signing, job.collection.path,
                            new=list(job.warcs), extra=events)
    except (BewaarError, OSError, ValueError) as e:
        return [f"ledger not updated ({e}); the WARCs are signed: run `bewaar ledger update "
                f"{job.collection.name}`"]
    if pos is None:
        return []
    return [f"ledger: {len(job.warcs)} file(s) recorded" + (f", {len(events)} retention rule(s)"
                                                           if events else "")
            + ("" if pos.get("timestamp") == "granted" else " (seal timestamp pending)")]


def cmd_crawl(args: argparse.Namespace) -> int:
    seeds = load_seed_list(args.seeds)  # validated before any browser starts
    root = Root(Path(args.root).resolve())
    config = load_root_config(root.path)
    if args.concurrency:
        config = config.model_copy(
            update={"crawl": config.crawl.model_copy(update={"concurrency": args.concurrency})}
        )
    code, _job = crawl(
        root, seeds, config, seed_file=Path(args.seeds), verbose=args.verbose, quiet=args.quiet
    )
    return code


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("crawl", help="capture the pages of a seed list into WARC files")
    p.add_argument("seeds", help="seed list (YAML)")
    p.add_argument("--root", default=".", help="root directory holding collections/ (default: .)")
    p.add_argument("--concurrency", type=int, help="pages captured at the same time")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines or summary")
    p.set_defaults(func=cmd_crawl)

"""`bewaar crawl`: a crawl and the steps after it, composed from the packages.

During the crawl: each finished WARC is signed (signing) and earlier posts are re-checked
(catalog), both as hooks the crawler calls. After it: the new WARCs are indexed (crawler's
indexer, pywb's own), the crawl report is written, the catalog reads the crawl and compares it
with earlier ones, and the report is written again with the catalog's findings.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import signal
import sys
from pathlib import Path
from typing import Any

from bewaar.config import RootConfig, SeedList, load_root_config, load_seed_list
from bewaar.errors import FAILED, INTERRUPTED, OK, BewaarError
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


def run_definition(
    seeds: SeedList, seed_file: Path | None, crawl_id: str, account_limit: float | None = None
) -> dict[str, Any]:
    """What a worker needs to crawl a run: the seed list (login-state paths made absolute),
    its crawl id."""
    from bewaar.timeutil import iso

    return {
        "crawl_id": crawl_id,
        "collection": seeds.collection,
        "seeds": seeds.model_dump(mode="json", exclude_none=True),
        "seed_file": str(seed_file.resolve()) if seed_file else None,
        "account_limit": account_limit,
        "created": iso(),
    }


def run_key(seeds: SeedList, seed_file: Path | None) -> str:
    """The same seed list (content, and where it lies: login states are relative to it)
    finds its unfinished run again: that is how a killed crawl is resumed."""
    data = json.dumps(
        [seeds.model_dump(mode="json", exclude_none=True), str(seed_file.resolve().parent) if seed_file else ""],
        sort_keys=True,
    )
    return hashlib.sha256(data.encode()).hexdigest()[:32]


def enqueue_run(
    r: Any, pool: str, root: Root, seeds: SeedList, config: RootConfig, seed_file: Path | None,
    due: float | None = None, account_limit: float | None = None, key: str | None = None,
) -> tuple[str, bool]:
    """A run in the queue (its start pages), or the unfinished run of the same seed list:
    (crawl id, resumed)."""
    import time

    from crawler.job import new_crawl_id
    from crawler.redisq import enqueue
    from crawler.runstate import Pool, create_run
    from crawler.spider import start_requests
    from crawler.targets import make_targets

    key = key or run_key(seeds, seed_file)
    due = time.time() if due is None else due
    crawl_id = new_crawl_id()
    run_id, resumed = create_run(
        r, pool, crawl_id, run_definition(seeds, seed_file, crawl_id, account_limit), key, due
    )
    if resumed:
        return run_id, True
    job = CrawlJob(root, seeds, config, seed_file, crawl_id=run_id)
    # the start pages depend on the adapters and on earlier crawls (a back-fill resumes)
    job.hooks = hooks_for(root, seeds.collection, config)
    job.adapters = make_targets(job)
    q = Pool(r, pool)
    queued = sum(enqueue(q, req, due) for req in start_requests(job))
    if not queued:
        q.mark_complete(run_id)  # nothing to crawl: the run is complete as it is
    return run_id, False


def crawl(
    root: Root,
    seeds: SeedList,
    config: RootConfig,
    seed_file: Path | None = None,
    verbose: int = 0,
    quiet: bool = False,
) -> tuple[int, CrawlJob]:
    """Crawl, then index, report and catalog; the exit status and the finished job.

    The queue is the root's private redis-server: a crawl killed midway (even by SIGKILL) is
    resumed by running the same command again, under the same crawl id."""
    from crawler.redis_server import RedisServer
    from crawler.runstate import connect, end_run, run_info
    from crawler.worker import Worker, WorkerHooks, load_job

    announce_key(root, config)
    # one writer per collection: the crawl and its after-crawl steps hold the lock (a second
    # crawl, `bewaar index` or `bewaar sign` of this collection stops with exit 3)
    with collection_lock(root.collection(seeds.collection).path):
        server = RedisServer(root.state_dir / "redis")
        url = server.ensure()
        # Scrapy installs its own SIGINT/SIGTERM handlers and leaves them behind once its
        # reactor has stopped; a process that goes on after the crawl (the demo serving
        # replay) must answer SIGTERM again.
        saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            r = connect(url, on_down=server.ensure)
            key = run_key(seeds, seed_file)
            run_id, resumed = enqueue_run(r, f"crawl-{key[:16]}", root, seeds, config, seed_file, key=key)
            hooks = WorkerHooks(crawl_hooks=lambda c: hooks_for(root, c, config))
            worker = Worker(
                root, config, url, f"crawl-{key[:16]}", local=True, hooks=hooks,
                verbose=verbose, quiet=quiet, until=lambda w: run_id in w.ready or bool(w.write_error),
                on_down=server.ensure,
            )  # fmt: skip
            if not quiet:
                info = run_info(r, run_id) or {}
                targets = len(seeds.seeds)
                if resumed:
                    done = RunStoreCounts(r, run_id)
                    print(
                        f"Resuming crawl {run_id} of {targets} seed(s) into "
                        f"{root.collection(seeds.collection).path}: {done} page(s) written before, "
                        f"{info.get('pending', 0)} to go",
                        file=sys.stderr, flush=True,
                    )  # fmt: skip
                else:
                    print(
                        f"Crawling {targets} seed(s) into {root.collection(seeds.collection).path} "
                        f"(crawl {run_id}, {config.crawl.concurrency} page(s) at a time)",
                        file=sys.stderr, flush=True,
                    )  # fmt: skip
            run_error = None
            try:
                worker.run()
            except RuntimeError as e:
                run_error = str(e)
            job = load_job(r, root, config, run_id, hooks.crawl_hooks(seeds.collection))
            if job is None:
                raise BewaarError(f"crawl {run_id} vanished from the queue", FAILED)
            job.quiet = quiet
            job.user_agent = worker.user_agent
            job.write_error = worker.write_error
            job.run_error = run_error
            job.load_totals()
            refused = worker.netguard.summary() if worker.netguard else ""
            if refused:
                job.messages.append(refused)
            complete = run_id in worker.ready or job.write_error or run_error
            if not complete:
                return _interrupted(job), job
            code = finish(job)
            end_run(r, run_id)
            return code, job
        finally:
            for sig, handler in saved.items():
                if handler is not None:
                    signal.signal(sig, handler)
            server.stop()


def RunStoreCounts(r: Any, run_id: str) -> int:  # noqa: N802 - reads like a number
    from crawler.runstate import RunStore

    return RunStore(r, run_id).counts().get("done", 0)


def _interrupted(job: CrawlJob) -> int:
    """A crawl stopped before its end: what it wrote is finished (moved into archive/,
    signed) and indexed, so it replays; the run waits in the queue to be resumed."""
    from crawler.indexer import add_to_index

    add_to_index(job.collection, [w for w in job.warcs if w.exists()])
    print(
        f"interrupted: crawl {job.crawl_id} stopped after {job.done} page(s); what it wrote is "
        "kept, signed and indexed. Run the same command again to resume it.",
        file=sys.stderr, flush=True,
    )  # fmt: skip
    return INTERRUPTED


LEDGER_LOCK_WAIT = 60.0  # seconds: a crawl outside the pool may hold the collection


def finish(job: CrawlJob) -> int:
    """The after-crawl steps; nothing captured is lost if one of them fails."""
    return finish_many([job])[0]


def finish_many(jobs: list[CrawlJob]) -> list[int]:
    """The after-crawl steps of several complete runs at once (a watch or the workers finish
    many together): one indexer run per collection, one catalog update for all, then each
    run's report; an exit status per run."""
    from bewaar.app.access.acl import refresh_acls
    from catalog.api import update_after_crawls
    from crawler.indexer import add_many
    from crawler.report import print_summary, write_report

    if not jobs:
        return []
    root = jobs[0].root
    entries: dict[str, int] = {}
    reports = {}
    try:
        by_coll: dict[str, list[CrawlJob]] = {}
        for job in jobs:
            by_coll.setdefault(job.collection.name, []).append(job)
        for group in by_coll.values():
            counts = add_many(group[0].collection, [[w for w in j.warcs if w.exists()] for j in group])
            entries.update({j.crawl_id: n for j, n in zip(group, counts, strict=True)})
            record_in_ledger(group)  # every WARC the runs published, under one seal
        for job in jobs:
            write_report(job, entries[job.crawl_id])  # the catalog reads it
        found = update_after_crawls(root.path, [j.crawl_id for j in jobs])
        for job in jobs:
            job.messages.extend(found.get(job.crawl_id, []))
            reports[job.crawl_id] = write_report(job, entries[job.crawl_id])  # with the findings
        refresh_acls(root)  # new captures of restricted posts are restricted too
    except OSError as e:
        name = jobs[0].collection.name
        raise BewaarError(
            f"the captured pages are kept in {jobs[0].collection.archive}, but the index, report "
            f"or catalog could not be written ({e.strerror or e}); free space, then run "
            f"`bewaar index {name} --root {root.path}` and `bewaar catalog rebuild --root {root.path}`",
            FAILED,
        ) from e
    codes = []
    for job in jobs:
        if not job.quiet:
            print_summary(job, entries[job.crawl_id], reports[job.crawl_id])
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
        codes.append(FAILED if failed else OK)
    return codes


def record_in_ledger(jobs: list[CrawlJob]) -> None:
    """The runs' signed WARCs (every file their workers published) and the seed lists'
    retention rules, where they changed, go into the collection's ledger under one seal: one
    ledger update for a batch of runs of one collection, by the one updater, holding the
    collection's lock. Never raises: the captures are complete and signed; `bewaar ledger
    update` records them later."""
    from bewaar.app.records.retention import remember_seeds
    from bewaar.lock import collection_lock
    from signing.api import update_ledger

    first = jobs[0]
    new = list(dict.fromkeys(w for j in jobs for w in j.warcs if w.exists()))
    try:
        with collection_lock(first.collection.path, wait=LEDGER_LOCK_WAIT):
            events = []
            for job in jobs:
                source = str(job.seed_file) if job.seed_file else "seed list"
                events += remember_seeds(job.collection, job.seeds, source)
            pos = update_ledger(first.root.path, first.config.signing, first.collection.path,
                                new=new, extra=events)  # fmt: skip
    except (BewaarError, OSError, ValueError) as e:
        for job in jobs:
            job.messages.append(f"ledger not updated ({e}); the WARCs are signed: run "
                                f"`bewaar ledger update {job.collection.name}`")  # fmt: skip
        return
    if pos is None:
        return
    pending = "" if pos.get("timestamp") == "granted" else " (seal timestamp pending)"
    for job in jobs:
        rules = f", {len(events)} retention rule(s)" if events else ""
        job.messages.append(f"ledger: {len(job.warcs)} file(s) recorded{rules}{pending}")


def cmd_crawl(args: argparse.Namespace) -> int:
    seeds = load_seed_list(args.seeds)  # validated before any browser starts
    root = Root(Path(args.root).resolve())
    config = load_root_config(root.path)
    if args.concurrency:
        config = config.model_copy(
            update={"crawl": config.crawl.model_copy(update={"concurrency": args.concurrency})}
        )
    if args.redis:
        return enqueue_shared(root, seeds, config, Path(args.seeds), args.redis)
    code, _job = crawl(
        root, seeds, config, seed_file=Path(args.seeds), verbose=args.verbose, quiet=args.quiet
    )
    return code


def enqueue_shared(root: Root, seeds: SeedList, config: RootConfig, seed_file: Path, url: str) -> int:
    """`bewaar crawl --redis URL`: the run goes to the shared queue, for `bewaar worker`."""
    from crawler.runstate import connect

    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise BewaarError(f"{url!r} is not a Redis URL (redis://HOST:PORT/DB)", 2)
    r = connect(url)
    run_id, resumed = enqueue_run(r, "shared", root, seeds, config, seed_file)
    what = "is still under way (resumed)" if resumed else "enqueued"
    print(
        f"crawl {run_id} of '{seeds.collection}' ({len(seeds.seeds)} seed(s)) {what} in {url}: "
        f"`bewaar worker --redis {url}` processes crawl it; its report will be "
        f"collections/{seeds.collection}/crawls/{run_id}.json",
        file=sys.stderr, flush=True,
    )  # fmt: skip
    return OK


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("crawl", help="capture the pages of a seed list into WARC files")
    p.add_argument("seeds", help="seed list (YAML)")
    p.add_argument("--root", default=".", help="root directory holding collections/ (default: .)")
    p.add_argument("--concurrency", type=int, help="pages captured at the same time")
    p.add_argument("--redis", metavar="URL", help="enqueue in this shared Redis queue for "
                   "`bewaar worker` processes instead of crawling here")  # fmt: skip
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines or summary")
    p.set_defaults(func=cmd_crawl)

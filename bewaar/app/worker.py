"""`bewaar worker --redis URL`: a crawl worker for a shared queue (several machines).

`bewaar crawl SEEDS --redis URL` and `bewaar watch SEEDS --redis URL` put runs in the shared
queue; every worker takes pages of any run (crawler/worker.py), writes its own WARC files
(their names carry the worker id), signs them with the root's key and publishes them into the
collection. One of the workers at a time is the updater (a lock in Redis): it returns a dead
worker's pages to the queue, recovers its files, and runs the after-crawl steps of complete
runs (index, report, catalog, changes) — so replay and the overview see one collection. The
workers share the root (one file system); each has its own staging directory under tmp/.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bewaar.config import load_root_config
from bewaar.errors import OK, BewaarError, InputError
from bewaar.lock import file_lock
from bewaar.model import Root
from crawler.job import CrawlJob


def finish_quietly(jobs: list[CrawlJob]) -> None:
    """The after-crawl steps of runs the workers completed; one line each for the log."""
    from bewaar.app.crawl import finish_many

    for job in jobs:
        job.quiet = True
        job.load_totals()
    try:
        codes = finish_many(jobs)
    except BewaarError as e:
        print(f"crawl {', '.join(j.crawl_id for j in jobs)}: {e}", file=sys.stderr, flush=True)
        raise
    for job, code in zip(jobs, codes, strict=True):
        print(
            f"crawl {job.crawl_id} of '{job.collection.name}' finished: {job.done} page(s) ok, "
            f"{job.blocked} blocked, {job.failed} failed, {len(job.warcs)} WARC file(s)"
            + ("" if code == OK else f" (exit {code})"),
            file=sys.stderr, flush=True,
        )  # fmt: skip


def cmd_worker(args: argparse.Namespace) -> int:
    from bewaar.app.crawl import announce_key, hooks_for
    from crawler.runstate import worker_id
    from crawler.worker import Worker, WorkerHooks

    root = Root(Path(args.root).resolve())
    if not root.path.is_dir():
        raise InputError(f"{root.path}: no such directory (give the root with --root)")
    if not args.redis.startswith(("redis://", "rediss://", "unix://")):
        raise InputError(f"{args.redis!r} is not a Redis URL (redis://HOST:PORT/DB or unix:///PATH)")
    config = load_root_config(root.path)
    if args.concurrency:
        config = config.model_copy(
            update={"crawl": config.crawl.model_copy(update={"concurrency": args.concurrency})}
        )
    with file_lock(root.state_dir / "keys.lock"):  # workers starting together make one key
        announce_key(root, config)
    wid = worker_id(args.id)
    worker = Worker(
        root, config, args.redis, "shared", wid=wid, local=False,
        hooks=WorkerHooks(crawl_hooks=lambda c: hooks_for(root, c, config), finish=finish_quietly),
        verbose=args.verbose, quiet=args.quiet,
    )  # fmt: skip
    print(f"worker {worker.id}: serving {args.redis} into {root.path} "
          f"({config.crawl.concurrency} page(s) at a time)", file=sys.stderr, flush=True)  # fmt: skip
    try:
        worker.run()
    finally:
        worker.wait_finished()
    print(f"worker {worker.id}: stopped after {worker.pages_done} page(s)", file=sys.stderr, flush=True)
    return OK


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("worker", help="crawl pages from a shared Redis queue (several machines)")
    p.add_argument("--redis", required=True, metavar="URL", help="the shared queue: redis://HOST:PORT/DB")
    p.add_argument("--root", default=".", help="root directory (shared by the workers; default: .)")
    p.add_argument("--id", help="worker id, part of its WARC file names (default: HOST-PID)")
    p.add_argument("--concurrency", type=int, help="pages captured at the same time")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=cmd_worker)

"""A crawl worker: one Scrapy crawler and one Chromium serving many runs from a Redis queue.

Every way of crawling runs this: `bewaar crawl` (one run, the root's private redis-server),
`bewaar watch` (the due accounts' runs, concurrently, in one browser) and `bewaar worker`
(several machines on a shared Redis). The worker
- takes page requests of any run from its pool's queue (crawler/redisq.py), each under a lease
  it renews while it lives and acknowledges once the page is written or has failed for good;
- writes each run's pages into that run's WARC files, one file per account (WarcSet), in its
  staging directory (tmp/, or tmp/WORKER/ for shared workers, whose file names carry the
  worker id), and publishes finished files into archive/;
- as the pool's one updater (a lock in Redis): returns the leases of dead workers to the queue,
  recovers the files they left, enqueues a complete run's re-checks, closes a run's files
  everywhere, then hands the run to the application's after-crawl steps.

Per-page and per-run time limits keep one hanging page or account from holding up the rest.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bewaar.config import RootConfig, SeedList
from bewaar.lock import holds
from bewaar.model import SIGNATURE_SUFFIX, WARC_SUFFIX, Collection, PageRequest, Root
from bewaar.timeutil import now as clock
from crawler.job import CrawlHooks, CrawlJob
from crawler.runstate import (
    HEARTBEAT,
    WORKER_TTL,
    Pool,
    RedisDedup,
    RunStore,
    connect,
    run_info,
    set_run,
    worker_alive,
)

log = logging.getLogger(__name__)
UPDATER_TTL = 15
RECOVER_EVERY = 10.0
SCAN_EVERY = 5.0
TICK = 0.5  # seconds between looks at the queue's state (runs complete, files to close)


@dataclass
class WorkerHooks:
    """What the application layer gives a worker.

    crawl_hooks(collection) -> CrawlHooks: earlier posts (catalog), signing of finished WARCs.
    finish(jobs): the after-crawl steps of complete runs (index, report, catalog, changes), in
      the worker's one finishing thread, as many together as are complete (one indexer run,
      one catalog update); None: the caller finishes (bewaar crawl).
    """

    crawl_hooks: Callable[[str], CrawlHooks] = lambda collection: CrawlHooks()
    finish: Callable[[list[CrawlJob]], None] | None = None


@dataclass
class Inflight:
    run: str
    since: float
    url: str
    account: str
    target: int


@dataclass
class _Runs:
    worker: Worker
    jobs: dict[str, CrawlJob] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)

    def get(self, run_id: str) -> CrawlJob | None:
        if not run_id or run_id in self.gone:
            return None
        job = self.jobs.get(run_id)
        if job is None:
            job = self.worker.load_job(run_id)
            if job is None:
                self.gone.add(run_id)
                return None
            self.jobs[run_id] = job
        return job

    def drop(self, run_id: str) -> None:
        self.jobs.pop(run_id, None)
        self.gone.add(run_id)


def load_job(
    r: Any, root: Root, config: RootConfig, run_id: str, hooks: CrawlHooks | None = None
) -> CrawlJob | None:
    """A run as its definition in Redis says (the seed list, its crawl id), with targets and
    adapters made as the enqueuer made them."""
    from crawler.targets import make_targets

    info = run_info(r, run_id)
    if info is None or info.get("state") == "done":
        return None
    d = info["def"]
    seeds = SeedList.model_validate(d["seeds"])
    seed_file = Path(d["seed_file"]) if d.get("seed_file") else None
    job = CrawlJob(root, seeds, config, seed_file, crawl_id=d["crawl_id"])
    job.store = RunStore(r, run_id)
    job.started = float(info.get("created") or time.time())
    job.due = float(info.get("due") or job.started)  # type: ignore[attr-defined]
    job.account_limit = d.get("account_limit")
    job.hooks = hooks or CrawlHooks()
    job.adapters = make_targets(job)
    for t in job.targets:
        for prefix in job.store.members(f"prefixes:{t.index}"):
            if prefix not in t.extra_prefixes:
                t.extra_prefixes.append(prefix)
    return job


class Worker:
    def __init__(
        self,
        root: Root,
        config: RootConfig,
        url: str,
        pool: str,
        *,
        wid: str = "",
        local: bool = True,
        hooks: WorkerHooks | None = None,
        verbose: int = 0,
        quiet: bool = False,
        until: Callable[[Worker], bool] | None = None,
        on_down: Callable[[], Any] | None = None,
    ) -> None:
        from crawler.runstate import worker_id

        self.root = root
        self.config = config
        self.url = url
        self.id = worker_id(wid or None)
        self.local = local  # the root's private server: files in tmp/, names without the id
        self.hooks = hooks or WorkerHooks()
        self.verbose, self.quiet = verbose, quiet
        self.until = until
        self.redis = connect(url, on_down)
        self.pool = Pool(self.redis, pool)
        self.runs = _Runs(self)
        self.inflight: dict[str, Inflight] = {}
        self.files: dict[str, Any] = {}  # run id -> WarcSet written by this worker
        self.stopping = False  # no more pages; stop once the pages in flight are done
        self.netguard: Any = None
        self.user_agent = ""
        self.crawler: Any = None
        self.recovered_collections: set[str] = set()
        self._dedup: dict[str, Any] = {}
        self._finishing: queue.Queue[CrawlJob | None] = queue.Queue()
        self._finisher: threading.Thread | None = None
        self._last_recover = 0.0
        self._last_scan = 0.0
        self._last_beat = 0.0
        self._closing: set[str] = set()
        self._staging_lock: int | None = None
        self.ready: set[str] = set()  # runs ready for the caller's after-crawl steps
        self.write_error: str | None = None
        self.pages_done = 0

    # -- runs -----------------------------------------------------------------------------
    def load_job(self, run_id: str) -> CrawlJob | None:
        info = run_info(self.redis, run_id)
        if info is None:
            return None
        coll = info["def"].get("collection", "")
        job = load_job(self.redis, self.root, self.config, run_id, self.hooks.crawl_hooks(coll))
        if job is not None:
            job.quiet = self.quiet
            job.user_agent = self.user_agent
            if self.crawler is not None:
                job.stats = self.crawler.stats
            self._open_collection(job)
        return job

    def _open_collection(self, job: CrawlJob) -> None:
        """A collection this process holds (a local crawl or watch): what a killed crawl left
        in tmp/ is recovered, and finished files it did not index or sign are (as before)."""
        coll = job.collection.ensure()
        if not self.local or coll.name in self.recovered_collections or not holds(coll.path):
            return
        self.recovered_collections.add(coll.name)
        from crawler.indexer import add_to_index, unindexed
        from crawler.warc_writer import recover

        recovered = recover(coll)
        for path in recovered:
            job.message(f"recovered {path.name} left unfinished by an earlier crawl")
            self._claim_recovered(path)
        late = [w for w in unindexed(coll) if w not in recovered]
        if late:
            job.message(f"indexed {len(late)} WARC file(s) an earlier crawl finished but did not index")
        add_to_index(coll, recovered + late)
        unsigned = [w for w in coll.warcs() if not w.with_name(w.name + SIGNATURE_SUFFIX).exists()]
        if unsigned and not set(unsigned) <= set(recovered):
            job.message(f"signing {len(unsigned)} WARC file(s) an earlier crawl left unsigned")
        for path in unsigned:
            self._sign(job, path)

    def _claim_recovered(self, path: Path) -> None:
        """A recovered file belongs to the run named in its warcinfo: its report lists it."""
        from crawler.warc_writer import warc_crawl_id

        crawl_id = warc_crawl_id(path)
        info = run_info(self.redis, crawl_id) if crawl_id else None
        if info is not None and info.get("state") != "done":
            RunStore(self.redis, crawl_id).append("warcs", path.name)

    def _sign(self, job: CrawlJob, path: Path) -> None:
        if self.crawler is not None:
            from crawler.pipelines import warc_finished

            self.crawler.signals.send_catch_log(warc_finished, path=path, spider=self.crawler.spider, job=job)
        elif job.hooks.warc_finished is not None:
            try:
                job.hooks.warc_finished(path)
            except Exception as e:  # noqa: BLE001 - the file is complete; sign it later
                job.message(job.hooks.warc_hook_failed.format(name=path.name, error=e))

    def page_limit(self, job: CrawlJob) -> float:
        """Seconds one page may take, everything included (load, behaviours, playback)."""
        b = job.seeds.behaviors
        return float(job.config.crawl.page_timeout + b.scroll_timeout + b.media_timeout + 30)

    # -- leases ---------------------------------------------------------------------------
    def may_take(self) -> bool:
        """`crawl.concurrency` pages at once, from the moment a page is taken until it is
        written: a page's browser context lives that long (Scrapy's own limit counts only
        downloads, and behaviours run after the download)."""
        return (
            not self.stopping and self.write_error is None
            and len(self.inflight) < self.config.crawl.concurrency
        )  # fmt: skip

    def take(self, request: Any, lease: str) -> bool:
        """A request popped from the queue: ready it for this worker, or settle it (its run
        is over, or over its time limit)."""
        meta = request.meta
        req = PageRequest.from_meta(meta.get("bewaar") or {})
        meta["bewaar_lease"] = lease
        job = self.runs.get(req.run)
        if job is None:
            self.pool.ack(lease, req.run)
            return False
        target = job.targets[req.target] if req.target < len(job.targets) else None
        now = clock().timestamp()  # the schedule's clock (simulated in benchmarks)
        first = self.redis.hsetnx(f"bewaar:run:{req.run}", "first_page", repr(now))
        if job.account_limit:
            started = now if first else float(self.redis.hget(f"bewaar:run:{req.run}", "first_page") or now)
            if now - started > job.account_limit:
                reason = f"not crawled: the account's time limit ({job.account_limit:.0f}s) was reached"
                job.page_failed(target.account if target else "", req.url, reason)
                self.pool.ack(lease, req.run)
                return False
        self.inflight[lease] = Inflight(req.run, time.monotonic(), req.url,
                                        target.account if target else "", req.target)  # fmt: skip
        self._prepare(job, request, lease)
        return True

    def _prepare(self, job: CrawlJob, request: Any, lease: str) -> None:
        from crawler.settings import context_kwargs

        meta = request.meta
        target = job.targets[PageRequest.from_meta(meta["bewaar"]).target]
        if target.context == "default":
            # a context per page: no cookie or storage of one account reaches another's pages
            meta["playwright_context"] = f"page-{lease}"
            meta["playwright_context_kwargs"] = context_kwargs(job.config, user_agent=self.user_agent)
        else:
            meta["playwright_context"] = target.context
            state = str(target.login_state) if target.login_state else None
            meta["playwright_context_kwargs"] = context_kwargs(job.config, state, self.user_agent)
        meta["playwright_include_page"] = True
        meta["playwright_page_init_callback"] = "crawler.capture.init_page"
        meta["playwright_page_goto_kwargs"] = {"wait_until": "load"}
        meta["bewaar_max_resource_size"] = job.config.crawl.max_resource_size
        meta["download_timeout"] = self.page_limit(job)

    def holds(self, meta: dict[str, Any]) -> bool:
        return meta.get("bewaar_lease") in self.inflight

    def ack(self, meta: dict[str, Any]) -> None:
        lease = meta.get("bewaar_lease")
        held = self.inflight.pop(lease, None) if lease else None
        if held is None:
            return
        self.pages_done += 1
        self.pool.ack(lease, held.run)
        self._wake_engine()

    def _wake_engine(self) -> None:
        """A page slot is free: let the engine ask the scheduler again now, not at its next
        heartbeat."""
        slot = getattr(getattr(self.crawler, "engine", None), "_slot", None)
        nextcall = getattr(slot, "nextcall", None)
        if nextcall is not None:
            nextcall.schedule()

    # -- files ----------------------------------------------------------------------------
    def files_for(self, job: CrawlJob) -> Any:
        from crawler.redact import RULE
        from crawler.warc_writer import WarcFiles, WarcSet, warcinfo_fields

        if job.crawl_id in self.files:
            return self.files[job.crawl_id]
        coll = job.collection
        if coll.name not in self._dedup:
            self._dedup[coll.name] = RedisDedup(self.redis, coll.name, coll.index_file)
        info = warcinfo_fields(
            job.software,
            {
                "isPartOf": coll.name,
                "description": "Browser capture of public pages by bewaar",
                "seeds": [t.url for t in job.targets],
                "behaviors": job.seeds.behaviors.model_dump(mode="json"),
                "crawl": job.config.crawl.model_dump(mode="json"),
                "http-header-user-agent": self.user_agent,
                **({"bewaar-redaction": RULE} if job.redactors else {}),
                **({"bewaar-worker": self.id} if not self.local else {}),
            },
        )
        wid = "" if self.local else self.id

        def make(group: str) -> WarcFiles:
            return WarcFiles(
                coll, job.crawl_id, {**info, "bewaar-group": group},
                max_size=job.config.crawl.warc_max_size, dedup=self._dedup[coll.name],
                on_finished=lambda path: self._finished(job, path), worker=wid,
                publish=None if self.local else lambda path: self._publish(coll, path),
            )  # fmt: skip

        if not self.local:
            self._lock_staging(coll)
        job.store.add("writers", self.id)
        files = self.files[job.crawl_id] = WarcSet(make)
        return files

    def _lock_staging(self, coll: Collection) -> None:
        """tmp/WORKER/.lock, held while this worker lives: the updater recovers a staging
        directory only when nobody holds it."""
        staging = coll.tmp / self.id
        staging.mkdir(parents=True, exist_ok=True)
        fd = os.open(staging / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._staging_locks = getattr(self, "_staging_locks", [])
        self._staging_locks.append(fd)

    def _publish(self, coll: Collection, path: Path) -> Path:
        """A worker's finished file into archive/: a short lock on the collection (another
        process writing it for long keeps the file staged a little longer)."""
        from bewaar.lock import collection_lock
        from crawler.warc_writer import publish_file

        with collection_lock(coll.path, command=f"bewaar worker {self.id} (publishing)", wait=float("inf")):
            return publish_file(coll, path)

    def _finished(self, job: CrawlJob, path: Path) -> None:
        job.warc_done(path)
        self._sign(job, path)

    def close_run_files(self, run_id: str) -> None:
        files = self.files.pop(run_id, None)
        if files is not None:
            files.close()
        RunStore(self.redis, run_id).r.srem(f"bewaar:run:{run_id}:S:writers", self.id)

    def close_all_files(self) -> None:
        for run_id in list(self.files):
            self.close_run_files(run_id)

    def write_failed(self, job: CrawlJob, reason: str) -> None:
        """The WARC could not be written: this worker takes no more pages and stops."""
        self.write_error = reason
        job.write_error = reason
        self.stop()

    # -- the loop -------------------------------------------------------------------------
    def opened(self, crawler: Any) -> None:
        self.crawler = crawler
        for job in self.runs.jobs.values():
            job.stats = crawler.stats

    def stop(self) -> None:
        """No more pages; the pages in flight finish, then the crawler closes."""
        self.stopping = True
        self.close_spider()

    def close_spider(self) -> None:
        if self.crawler is None or self.crawler.engine is None:
            return
        from scrapy.utils.defer import deferred_from_coro

        engine = self.crawler.engine
        if getattr(engine, "spider", None) is not None and engine.running:
            deferred_from_coro(engine.close_spider_async(reason="finished"))

    def heartbeat(self) -> None:
        self.redis.set(f"bewaar:worker:{self.id}", "1", ex=WORKER_TTL)
        self.pool.renew(self.inflight)

    def tick(self) -> None:
        """Every few seconds, in the reactor thread: stay alive, settle overdue pages, close
        the files of runs that are complete, and (as the updater) move runs on."""
        try:
            if time.monotonic() - self._last_beat >= HEARTBEAT:
                self._last_beat = time.monotonic()
                self.heartbeat()
            self._overdue_pages()
            self._close_complete()
            if self._is_updater():
                self.pool.reclaim()
                self._update()
            if self.until is not None and self.until(self) and not self.stopping:
                self.stop()
            elif self.stopping and not self.inflight:
                self.close_spider()
        except Exception:  # noqa: BLE001 - a tick must never end the worker
            log.exception("worker tick failed")

    def _overdue_pages(self) -> None:
        """A page that outlived every limit (a hung browser call): failed, so its run goes on."""
        now = time.monotonic()
        for lease, held in list(self.inflight.items()):
            job = self.runs.get(held.run)
            limit = self.page_limit(job) * 1.5 if job else 600
            if now - held.since > limit:
                log.warning("page %s hung for %.0fs: failed", held.url, now - held.since)
                if job is not None:
                    job.page_failed(held.account, held.url, f"the page hung for more than {limit:.0f}s")
                self.ack({"bewaar_lease": lease})

    def _close_complete(self) -> None:
        for run_id in list(self.files):
            info = run_info(self.redis, run_id)
            if info is None or info.get("state") in ("closing", "finishing", "done"):
                self.close_run_files(run_id)

    def _is_updater(self) -> bool:
        key = f"bewaar:updater:{self.pool.name}"
        if self.redis.set(key, self.id, nx=True, ex=UPDATER_TTL):
            return True
        holder = self.redis.get(key)
        if holder == self.id.encode():
            self.redis.expire(key, UPDATER_TTL)
            return True
        if holder is not None and not worker_alive(self.redis, holder.decode()):
            self.redis.delete(key)
        return False

    def _update(self) -> None:
        from crawler.redisq import enqueue
        from crawler.spider import recheck_requests

        for run_id in self.pool.take_complete():
            info = run_info(self.redis, run_id)
            if info is None or info.get("state") != "active" or info["pending"] > 0:
                continue
            if not info.get("rechecked"):
                set_run(self.redis, run_id, rechecked="1")
                job = self.runs.get(run_id)
                queued = 0
                if job is not None:
                    try:
                        for req in recheck_requests(job):
                            queued += enqueue(self.pool, req, job.due)
                    except Exception as e:  # noqa: BLE001 - the captures must still be finished
                        job.message(f"could not re-check earlier posts: {e}")
                if queued:
                    continue
            set_run(self.redis, run_id, state="closing")
            if run_id in self.files:
                self.close_run_files(run_id)
            self._closing.add(run_id)
        now = time.monotonic()
        if now - self._last_recover > RECOVER_EVERY:
            self._last_recover = now
            self._recover_dead_workers()
        if now - self._last_scan > SCAN_EVERY:
            self._last_scan = now
            candidates = set(self.pool.runs())
        else:
            candidates = set(self._closing)
        self._closing.clear()
        for run_id in sorted(candidates):
            info = run_info(self.redis, run_id)
            if info is None:
                continue
            state = info.get("state")
            if state == "active" and info["pending"] <= 0 and info.get("enqueued"):
                self.pool.mark_complete(run_id)  # (an ack whose mark was lost)
            if state == "finishing" and info.get("finisher") and info["finisher"] != self.id \
                    and not worker_alive(self.redis, info["finisher"]):
                state = "closing"  # its finisher died: finish it again
            if state != "closing":
                continue
            writers = RunStore(self.redis, run_id).members("writers")
            dead = {w for w in writers if w != self.id and not worker_alive(self.redis, w)}
            if dead:
                # a dead writer's staged file may hold pages of this run it acknowledged: file
                # it (recover, sign, claim for the run) before the run is finished without it
                self._recover_dead_workers()
            for wid in dead:
                if not self._staged_files(wid):
                    self.redis.srem(f"bewaar:run:{run_id}:S:writers", wid)
                    writers = writers - {wid}
            if writers:
                self._closing.add(run_id)
                continue
            set_run(self.redis, run_id, state="finishing", finisher=self.id)
            job = self.runs.get(run_id)
            if job is None:
                continue
            if self.hooks.finish is None:
                self.ready.add(run_id)
            else:
                self._finish_later(job)

    def _finish_later(self, job: CrawlJob) -> None:
        if self._finisher is None or not self._finisher.is_alive():
            self._finisher = threading.Thread(target=self._finish_loop, name="bewaar-finish", daemon=True)
            self._finisher.start()
        self._finishing.put(job)

    def _finish_loop(self) -> None:
        from crawler.runstate import end_run

        while True:
            first = self._finishing.get()
            jobs = [first]
            while True:  # every run complete by now, finished together
                try:
                    jobs.append(self._finishing.get_nowait())
                except queue.Empty:
                    break
            stop = None in jobs
            jobs = [j for j in jobs if j is not None]
            try:
                assert self.hooks.finish is not None
                if jobs:
                    self.hooks.finish(jobs)
            except Exception:  # noqa: BLE001 - the next finisher tries again
                log.exception("after-crawl steps of %s failed", ", ".join(j.crawl_id for j in jobs))
                for job in jobs:
                    set_run(self.redis, job.crawl_id, state="closing")
            else:
                for job in jobs:
                    end_run(self.redis, job.crawl_id)
                    self.runs.drop(job.crawl_id)
            if stop:
                return

    def _staged_files(self, wid: str) -> list[Path]:
        """WARCs still in a worker's staging directory, in any collection."""
        return [w for coll in self.root.collections() if (coll.tmp / wid).is_dir()
                for w in (coll.tmp / wid).glob(f"*{WARC_SUFFIX}")]  # fmt: skip

    def _recover_dead_workers(self) -> None:
        """Files a dead worker left in its staging directory: complete records into archive/,
        signed, and listed with their run (or indexed at once when the run is over)."""
        from crawler.indexer import add_to_index
        from crawler.warc_writer import recover

        for coll in self.root.collections():
            if not coll.tmp.is_dir():
                continue
            for staging in coll.tmp.iterdir():
                if not staging.is_dir() or staging.name == self.id:
                    continue
                if worker_alive(self.redis, staging.name):
                    continue
                fd = os.open(staging / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
                try:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        continue  # alive after all (same host)
                    from bewaar.lock import collection_lock

                    with collection_lock(coll.path, command=f"bewaar worker {self.id} (recovering)", wait=60):
                        moved = recover(coll, staging)
                    orphans = []
                    for path in moved:
                        log.warning("recovered %s left by worker %s", path.name, staging.name)
                        self._claim_recovered(path)
                        from crawler.warc_writer import warc_crawl_id

                        cid = warc_crawl_id(path)
                        job = self.runs.get(cid) if cid else None
                        if job is None:
                            orphans.append(path)
                        sign = self.hooks.crawl_hooks(coll.name).warc_finished
                        if sign is not None:
                            try:
                                sign(path)
                            except Exception as e:  # noqa: BLE001 - `bewaar sign` later
                                log.warning("could not sign %s: %s", path.name, e)
                    if orphans:
                        add_to_index(coll, orphans)
                    for leftover in staging.iterdir():
                        if leftover.name != ".lock" and not leftover.name.endswith(WARC_SUFFIX):
                            leftover.unlink(missing_ok=True)
                    (staging / ".lock").unlink(missing_ok=True)
                    with contextlib.suppress(OSError):
                        staging.rmdir()
                except Exception as e:  # noqa: BLE001 - try again next time
                    log.warning("could not recover %s: %s", staging, e)
                finally:
                    os.close(fd)

    # -- running --------------------------------------------------------------------------
    def run(self, install_signals: bool = True) -> None:
        """Crawl until `until` says so (or stop() is called); blocks (Scrapy's reactor runs
        once per process)."""
        from scrapy.crawler import CrawlerProcess
        from twisted.internet import task

        from bewaar.environment import find_chromium
        from crawler.netguard import NetGuard, Policy
        from crawler.settings import browser_user_agent, build_settings, quiet_libraries
        from crawler.spider import CaptureSpider

        chromium = find_chromium(self.config.browser.executable)
        self.user_agent = self.config.crawl.user_agent or browser_user_agent(chromium)
        self.heartbeat()
        self.netguard = NetGuard(Policy(self.config.crawl.allow_private, self.config.browser.loopback_only))
        with self.netguard:
            settings = build_settings(self.config, chromium, self.netguard, self.verbose, self.quiet)
            process = CrawlerProcess(settings)
            quiet_libraries(self.verbose)
            d = process.crawl(CaptureSpider, worker=self)
            errors: list[str] = []
            d.addErrback(lambda f: errors.append(f"{type(f.value).__name__}: {f.value}"))
            loop = task.LoopingCall(self.tick)
            loop.start(TICK, now=False)
            process.start(install_signal_handlers=install_signals)
            if loop.running:
                loop.stop()
        self.close_all_files()
        for fd in getattr(self, "_staging_locks", []):
            os.close(fd)
        self.redis.delete(f"bewaar:worker:{self.id}")
        if errors:
            raise RuntimeError(errors[0])

    def wait_finished(self) -> None:
        """(watch, worker) the runs handed to the finishing thread are finished."""
        if self._finisher is not None and self._finisher.is_alive():
            self._finishing.put(None)
            self._finisher.join()

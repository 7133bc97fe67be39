"""`bewaar watch seeds.yaml`: crawl each account on its seed's `every:` interval, for ever.

- The due times live in the catalog (table `schedule`), so a restarted watch carries on where
  the last one stopped; an account seen for the first time is due at once.
- Each due account becomes a run (a crawl of a generated seed list holding just that account's
  seeds, its own crawl id, report and changes) in a queue. The runs are crawled concurrently
  by one worker in this process (crawler/worker.py: one browser, a context per page,
  `crawl.concurrency` pages at once across accounts), the most overdue account first; a run
  over `crawl.account_timeout` is cut short, a page over its limit fails, so one account
  cannot hold up the rest. With `--redis URL` the runs go to a shared queue instead, which
  `bewaar worker` processes crawl.
- The queue is the root's private redis-server: a watch killed (even by SIGKILL) resumes its
  unfinished runs when it starts again; written pages are not crawled again.
- An account's run holds an exclusive lock (flock on ROOT/.bewaar/watch/locks/ACCOUNT.lock)
  until it is finished: two watch processes never crawl one account at once, and a lock dies
  with its holder, so a crash leaves nothing to clean up. The collection's writer lock is held
  while a run of it is under way, and released when none is.
- SIGTERM or Ctrl-C: no new run is started; the runs under way are finished (each bounded
  by crawl.account_timeout), then watch exits. A second signal stops at once (what was
  captured is kept; the unfinished runs resume at the next start, pages in flight included).
- The next run is due one interval after the last one started (missed slots are skipped).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import signal
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import yaml

from bewaar.config import Seed, SeedList, load_root_config, load_seed_list, parse_duration
from bewaar.errors import FAILED, OK, BewaarError, InputError
from bewaar.lock import CollectionBusy, busy, hold, release, this_command
from bewaar.model import Root
from bewaar.timeutil import iso, parse_iso
from bewaar.timeutil import now as tnow
from catalog.db import CatalogLocked, open_catalog, write_transaction
from crawler.runstate import run_info
from crawler.targets import account_name

KEEP_LOGS = 50  # per account, in ROOT/.bewaar/watch/logs/
CATALOG_WAIT = 30.0  # seconds to wait for the catalog's write lock before trying again later


@dataclass
class Job:
    """The seeds of one account in one collection, crawled together on one interval."""

    collection: str
    account: str
    every: int
    seeds: list[Seed] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return re.sub(r"[^A-Za-z0-9._-]+", "_", f"{self.collection}--{self.account}")[:150]


def plan(seeds: SeedList, source: Path) -> list[Job]:
    jobs: dict[str, Job] = {}
    missing = []
    for i, seed in enumerate(seeds.seeds):
        every = seed.every or seeds.every
        if not every:
            missing.append(f"seeds[{i}]")
            continue
        name = account_name(seeds, seed)
        job = jobs.setdefault(name, Job(seeds.collection, name, parse_duration(every)))
        job.every = min(job.every, parse_duration(every))
        job.seeds.append(seed)
    if missing:
        raise InputError(
            f"{source}: {', '.join(missing)} ha{'s' if len(missing) == 1 else 've'} no `every:` "
            "and the list has no default `every:`: watch needs an interval (e.g. every: 1h)"
        )
    return list(jobs.values())


def story_warnings(seeds: SeedList) -> list[str]:
    """Accounts whose stories (temporary content) disappear before the next run: an `every`
    longer than a story's life loses some of them."""
    from crawler.platforms import get_adapter

    out = []
    for seed in seeds.seeds:
        every = seed.every or seeds.every
        if not every or not seed.platform or not seed.stories:
            continue
        opts = seeds.platforms.get(seed.platform)
        adapter = get_adapter(seed.platform, seed.base_url or (opts.base_url if opts else None))
        has_stories = bool(adapter.story_urls(seed.handle or "")) or adapter.stories_on_profile
        life = adapter.story_lifetime
        if has_stories and parse_duration(every) > life:
            out.append(
                f"{account_name(seeds, seed)}: every {every} is longer than a {seed.platform} "
                f"story lives ({life // 3600} h): stories posted and gone between two runs are "
                f"lost; use every: {max(1, life // 3600 // 2)}h or less"
            )
    return out


def job_seed_list(seeds: SeedList, job: Job, source: Path) -> dict[str, Any]:
    """A seed list for one run: the job's seeds (without `every`), the list's behaviours and
    platform options, login-state paths made absolute (they were relative to `source`)."""
    data = seeds.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    data["collection"] = seeds.collection
    data.pop("every", None)
    data["seeds"] = []
    for seed in job.seeds:
        s = seed.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
        s.pop("every", None)
        if s.get("login_state"):
            s["login_state"] = _absolute_state(s["login_state"], source)
        data["seeds"].append(s)
    for opts in (data.get("platforms") or {}).values():
        if opts.get("login_state"):
            opts["login_state"] = _absolute_state(opts["login_state"], source)
    return data


def _absolute_state(ref: str, source: Path) -> str:
    from crawler.login_state import STORED

    if ref.lower() in STORED or (re.fullmatch(r"[a-z][a-z0-9_-]{0,31}", ref) and not Path(ref).suffix):
        return ref  # the root's stored state, by platform name
    path = Path(ref).expanduser()
    return str(path if path.is_absolute() else (source.parent / path).resolve())


# --------------------------------------------------------------------------- the loop


class Watch:
    def __init__(
        self,
        root: Root,
        seed_file: Path,
        once: bool = False,
        poll: float = 60.0,
        out: TextIO | None = None,
        wait: float = CATALOG_WAIT,
        redis_url: str | None = None,
        verbose: int = 0,
    ) -> None:
        self.root = root
        self.seed_file = seed_file
        self.once = once
        self.poll = poll
        self.out = out or sys.stdout
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self.failures = 0
        self.runs = 0
        self.wait = wait
        self.redis_url = redis_url
        self.verbose = verbose
        self.state = root.state_dir / "watch"
        self._seeds_mtime = 0.0
        self.seeds: SeedList | None = None
        self.jobs: list[Job] = []
        self.active: dict[str, Active] = {}  # run id -> the account's run under way
        self._active_lock = threading.Lock()
        self.worker: Any = None
        self.redis: Any = None
        self.pool = ""
        self.error: BaseException | None = None
        self.config = load_root_config(root.path)

    def log(self, msg: str) -> None:
        print(f"{iso(datetime.now(UTC))} {msg}", file=self.out, flush=True)

    # -- signals ------------------------------------------------------------------------
    def install_signals(self) -> None:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        if self.stopping.is_set():
            self.log(f"{name} again: stopping now (what was captured is kept; pages under way "
                     "are crawled again at the next start)")  # fmt: skip
            if self.worker is not None:
                self.worker.stop()
            return
        self.stopping.set()
        self.wake.set()
        if self.active:
            self.log(f"{name}: finishing the crawl under way, then stopping")
        else:
            self.log(f"{name}: stopping")

    # -- seeds and schedule ---------------------------------------------------------------
    def load(self) -> None:
        """(Re)read the seed list when it changed; a broken edit keeps the last good one."""
        try:
            mtime = self.seed_file.stat().st_mtime
        except OSError:
            if self.seeds is None:
                load_seed_list(self.seed_file)  # raises the loader's own one-line error
            return  # gone while watching: keep the list we have
        if mtime == self._seeds_mtime:
            return
        try:
            seeds = load_seed_list(self.seed_file)
            jobs = plan(seeds, self.seed_file)
        except InputError as e:
            if self.seeds is None:
                raise
            self.log(f"seed list not reloaded, keeping the previous one: {e}")
            self._seeds_mtime = mtime
            return
        self.seeds, self.jobs, self._seeds_mtime = seeds, jobs, mtime
        for warning in story_warnings(seeds):
            self.log(f"warning: {warning}")
        self.sync()

    def sync(self) -> None:
        """Schedule rows for the jobs: new accounts are due now; a shorter interval pulls
        the next run in."""
        now = tnow()

        def write(con: sqlite3.Connection) -> None:
            with write_transaction(con, self.root.catalog_file):
                for job in self.jobs:
                    row = con.execute(
                        "SELECT * FROM schedule WHERE collection = ? AND account = ?",
                        (job.collection, job.account),
                    ).fetchone()
                    if row is None:
                        con.execute(
                            "INSERT INTO schedule (collection, account, every, next_due)"
                            " VALUES (?, ?, ?, ?)",
                            (job.collection, job.account, job.every, iso(now)),
                        )
                        continue
                    due = row["next_due"]
                    if row["last_start"]:
                        due = min(due, iso(parse_iso(row["last_start"]) + timedelta(seconds=job.every)))
                    con.execute(
                        "UPDATE schedule SET every = ?, next_due = ? WHERE collection = ? AND account = ?",
                        (job.every, due, job.collection, job.account),
                    )

        self._catalog(write)

    def _catalog(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        """fn(connection); while another process holds the catalog (a rebuild), a running
        watch waits and tries again; `--once` fails at once (exit 3)."""
        while True:
            try:
                con = open_catalog(self.root.catalog_file, wait=self.wait)
                try:
                    return fn(con)
                finally:
                    con.close()
            except CatalogLocked as e:
                if self.once or self.stopping.is_set():
                    raise
                self.log(f"{e}; trying again in {self.poll:.0f}s")
                self.stopping.wait(self.poll)
            except sqlite3.OperationalError as e:  # locked mid-statement
                if "locked" not in str(e) or self.once or self.stopping.is_set():
                    raise
                self.log(f"catalog busy ({e}); trying again in {self.poll:.0f}s")
                self.stopping.wait(self.poll)

    def schedule(self) -> dict[tuple[str, str], dict[str, Any]]:
        return self._catalog(
            lambda con: {
                (r["collection"], r["account"]): dict(r)
                for r in con.execute("SELECT * FROM schedule").fetchall()
            }
        )

    def due(self) -> list[tuple[str, Job]]:
        """Due accounts, the most overdue first."""
        rows = self.schedule()
        now = iso(tnow())
        out = []
        for job in self.jobs:
            row = rows.get((job.collection, job.account))
            if row and row["next_due"] <= now:
                out.append((row["next_due"], job))
        return sorted(out, key=lambda x: (x[0], x[1].account))

    def next_due(self) -> tuple[str, Job] | None:
        rows = self.schedule()
        pending = [
            (rows[(j.collection, j.account)]["next_due"], j)
            for j in self.jobs
            if (j.collection, j.account) in rows and not self._is_active(j)
        ]
        return min(pending, key=lambda x: x[0]) if pending else None

    def _is_active(self, job: Job) -> bool:
        with self._active_lock:
            return any(a.job.slug == job.slug for a in self.active.values())

    # -- running ------------------------------------------------------------------------
    def run(self) -> int:
        self.load()
        self.log(
            f"watching {len(self.jobs)} account(s) from {self.seed_file} into {self.root.path}"
            + (" (once)" if self.once else "")
            + (f" (queue {self.redis_url})" if self.redis_url else "")
        )
        if self.redis_url:
            return self._run_shared()
        return self._run_local()

    def _run_local(self) -> int:
        """Runs crawled here: a worker on the root's private queue, in this thread (Scrapy's
        reactor); the schedule in another."""
        # imported here, in the main thread, before the schedule's thread needs them: two
        # threads importing Scrapy at once see half-initialised modules
        import crawler.platforms
        import crawler.redisq
        import crawler.spider
        import crawler.targets  # noqa: F401
        from bewaar.app.crawl import announce_key, hooks_for
        from crawler.redis_server import RedisServer
        from crawler.runstate import connect
        from crawler.worker import Worker, WorkerHooks

        announce_key(self.root, self.config)
        server = RedisServer(self.root.state_dir / "redis")
        url = server.ensure()
        try:
            self.redis = connect(url, on_down=server.ensure)
            self.pool = "watch-" + hashlib.sha256(str(self.seed_file).encode()).hexdigest()[:16]
            self.worker = Worker(
                self.root, self.config, url, self.pool, local=True,
                hooks=WorkerHooks(
                    crawl_hooks=lambda c: hooks_for(self.root, c, self.config),
                    finish=self._finish_run,
                ),
                verbose=self.verbose, quiet=True, until=self._worker_done, on_down=server.ensure,
            )  # fmt: skip
            self._adopt_unfinished()
            loop = threading.Thread(target=self._loop_guarded, name="bewaar-watch", daemon=True)
            loop.start()
            try:
                self.worker.run(install_signals=False)
            finally:
                self.stopping.set()
                self.wake.set()
                self.worker.wait_finished()
                loop.join(60)
                self._release_all()
        finally:
            server.stop()
        if self.error is not None:
            raise self.error
        return self._end()

    def _run_shared(self) -> int:
        """Runs go to a shared queue; `bewaar worker` processes crawl and finish them."""
        from crawler.runstate import connect

        self.redis = connect(self.redis_url or "")
        self.pool = "shared"
        self._adopt_unfinished()
        self._loop()
        self._release_all()
        return self._end()

    def _end(self) -> int:
        if self.once and self.runs == 0:
            nxt = self.next_due()
            when = f"; next: {nxt[1].account} at {nxt[0]}" if nxt else ""
            self.log(f"nothing due{when}")
        self.log(f"stopped after {self.runs} run(s), {self.failures} failed")
        return FAILED if self.failures else OK

    def _worker_done(self, worker: Any) -> bool:
        """Stopping: once the runs under way are finished (no new run starts meanwhile)."""
        if not self.stopping.is_set():
            return False
        with self._active_lock:
            return not self.active and not worker.inflight

    def _loop_guarded(self) -> None:
        try:
            self._loop()
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            self.error = e
        finally:
            self.stopping.set()

    def _loop(self) -> None:
        while not self.stopping.is_set():
            self.load()
            for when, job in self.due():
                if self.stopping.is_set():
                    break
                if not self._is_active(job):
                    self.start_run(job, when)
            if self.redis_url:
                self._poll_shared()
            if self.once:
                if not self.active:
                    break
                self.wake.wait(1.0)
                self.wake.clear()
                continue
            nxt = self.next_due()
            wait = self.poll
            if nxt is not None:
                wait = max(0.5, min(self.poll, (parse_iso(nxt[0]) - tnow()).total_seconds()))
            if self.redis_url:
                wait = min(wait, 2.0)
            self.wake.wait(wait)
            self.wake.clear()
        if self.redis_url:
            while self.active and self.once:
                self._poll_shared()
                time.sleep(1.0)

    def _lock(self, job: Job) -> int | None:
        locks = self.state / "locks"
        locks.mkdir(parents=True, exist_ok=True)
        fd = os.open(locks / f"{job.slug}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        os.ftruncate(fd, 0)
        os.write(fd, f"{socket.gethostname()}:{os.getpid()}\n".encode())
        return fd

    def start_run(self, job: Job, due: str) -> None:
        """The account's run into the queue (or its unfinished run, resumed)."""
        from bewaar.app.crawl import enqueue_run, run_key

        assert self.seeds is not None
        fd = self._lock(job)
        if fd is None:
            self.log(f"{job.collection} {job.account}: skipped, another process is crawling it")
            return
        try:
            row = self.schedule().get((job.collection, job.account))
            if row is None or row["next_due"] > iso(tnow()):
                os.close(fd)
                return  # another watch ran it between our look at the schedule and the lock
            coll = self.root.collection(job.collection)
            if not self.redis_url:
                try:
                    hold(coll.path, command=this_command())
                except CollectionBusy:
                    writer = busy(coll.path)
                    # one writer per collection: still due, so it runs at the next look
                    self.log(f"{job.collection} {job.account}: waiting, the collection is being "
                             f"written by {writer or 'another process'}")  # fmt: skip
                    os.close(fd)
                    return
            seed_path = self.state / "seeds" / f"{job.slug}.yaml"
            seed_path.parent.mkdir(parents=True, exist_ok=True)
            data = job_seed_list(self.seeds, job, self.seed_file)
            seed_path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
            seeds = SeedList.model_validate(data)
            start = tnow()
            run_id, resumed = enqueue_run(
                self.redis, self.pool, self.root, seeds, self.config, seed_path,
                due=parse_iso(due).timestamp(), account_limit=self.config.crawl.account_timeout,
                key=run_key(seeds, seed_path) + "-watch",
            )  # fmt: skip
        except BaseException:
            os.close(fd)
            raise
        with self._active_lock:
            self.active[run_id] = Active(job, fd, start, not self.redis_url)
        self._mark_running(job, start)
        what = "crawl resumed" if resumed else "crawl started"
        self.log(f"{job.collection} {job.account}: {what} ({run_id})")

    def _adopt_unfinished(self) -> None:
        """Runs of this seed list a killed watch left unfinished are resumed: their requests
        are in the queue; they are listed as under way so their accounts are not started
        twice."""
        from crawler.runstate import Pool

        by_slug = {j.slug: j for j in self.jobs}
        for run_id in Pool(self.redis, self.pool).runs():
            info = run_info(self.redis, run_id)
            if info is None:
                continue
            seed_file = Path(info["def"].get("seed_file") or "")
            job = by_slug.get(seed_file.stem)
            if job is None or seed_file.parent != self.state / "seeds":
                continue
            if self._is_active(job):
                continue
            fd = self._lock(job)
            if fd is None:
                continue
            if not self.redis_url:
                try:
                    hold(self.root.collection(job.collection).path, command=this_command())
                except CollectionBusy:
                    os.close(fd)
                    continue
            with self._active_lock:
                self.active[run_id] = Active(job, fd, tnow(), not self.redis_url)
            self.log(f"{job.collection} {job.account}: crawl resumed ({run_id})")

    def _finish_run(self, crawls: list[Any]) -> None:
        """(the worker's finishing thread) Complete runs: the after-crawl steps, then the
        watch lines and the schedule."""
        from bewaar.app.crawl import finish_many

        for crawl in crawls:
            crawl.quiet = True
            crawl.load_totals()
        try:
            codes = finish_many(crawls)
        except BewaarError as e:
            self.log(f"after-crawl steps failed: {e}")
            codes = [e.exit_code for _ in crawls]
        for crawl, code in zip(crawls, codes, strict=True):
            self._done(crawl.crawl_id, code)

    def _poll_shared(self) -> None:
        """(--redis) Runs the workers finished."""
        with self._active_lock:
            runs = list(self.active)
        for run_id in runs:
            info = run_info(self.redis, run_id)
            if info is None or info.get("state") == "done":
                code = self._report_code(run_id)
                self._done(run_id, code)

    def _report_code(self, run_id: str) -> int:
        with self._active_lock:
            active = self.active.get(run_id)
        if active is None:
            return FAILED
        path = self.root.collection(active.job.collection).path / "crawls" / f"{run_id}.json"
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return FAILED
        pages = report.get("pages") or {}
        return FAILED if pages.get("failed") or pages.get("blocked") else OK

    def _done(self, run_id: str, code: int) -> None:
        with self._active_lock:
            active = self.active.pop(run_id, None)
        if active is None:
            return
        job = active.job
        try:
            end = tnow()
            info = run_info(self.redis, run_id) if self.redis is not None else None
            if info and info.get("first_page"):  # when its first page was taken from the queue
                active.start = datetime.fromtimestamp(float(info["first_page"]), UTC)
            summary = self._summary(job, run_id, code)
            next_due = active.start + timedelta(seconds=job.every)
            while next_due <= end:  # skip slots missed while this run took long
                next_due += timedelta(seconds=job.every)
            self._mark_done(job, active.start, end, code, run_id, summary, next_due)
            self.runs += 1
            if code != 0:
                self.failures += 1
            secs = (end - active.start).total_seconds()
            state = "ok" if code == 0 else f"exit {code}"
            self.log(
                f"{job.collection} {job.account}: crawl {run_id} {state} in {secs:.0f}s: "
                f"{summary}; next run {iso(next_due)}"
            )
        finally:
            self._release(active)
            self.wake.set()

    def _release(self, active: Active) -> None:
        if active.holds_collection:
            release(self.root.collection(active.job.collection).path)
        os.close(active.fd)

    def _release_all(self) -> None:
        with self._active_lock:
            left = list(self.active.values())
            self.active.clear()
        for active in left:
            self._release(active)

    def _summary(self, job: Job, crawl_id: str | None, code: int) -> str:
        """Pages from the crawl's report, posts and changes from the catalog."""
        if crawl_id is None:
            return "no crawl report"
        report_path = self.root.collection(job.collection).path / "crawls" / f"{crawl_id}.json"
        try:
            report = json.loads(report_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            report = {}
        pages = report.get("pages") or {}
        text = f"{pages.get('ok', 0)} page(s) ok"
        for key in ("blocked", "failed"):
            if pages.get(key):
                text += f", {pages[key]} {key}"
        problems = (report.get("failures") or []) + (report.get("blocked") or [])
        if not pages.get("ok") and problems:
            text += f" ({problems[0].get('reason')})"

        def read(con: sqlite3.Connection) -> tuple[sqlite3.Row | None, dict[str, int]]:
            row = con.execute(
                "SELECT ac.posts_seen, a.id AS account_id, c.id AS crawl_row FROM account_crawls ac"
                " JOIN accounts a ON a.id = ac.account JOIN crawls c ON c.id = ac.crawl"
                " WHERE a.collection = ? AND a.name = ? AND c.crawl_id = ?",
                (job.collection, job.account, crawl_id),
            ).fetchone()
            if row is None:
                return None, {}
            counts = con.execute(
                "SELECT type, count(*) FROM changes WHERE account = ? AND crawl = ? GROUP BY type",
                (row["account_id"], row["crawl_row"]),
            ).fetchall()
            return row, dict(counts)

        row, counts = self._catalog(read)
        if row is None:
            return f"{text}; nothing for the catalog"
        found = ", ".join(f"{n} {t}" for t, n in sorted(counts.items())) or "no changes"
        return f"{text}, {row['posts_seen']} post(s) seen; {found}"

    def _mark_running(self, job: Job, start: datetime) -> None:
        self._catalog(
            lambda con: con.execute(
                "UPDATE schedule SET last_start = ?, running = ? WHERE collection = ? AND account = ?",
                (iso(start), f"{socket.gethostname()}:{os.getpid()}", job.collection, job.account),
            )
        )

    def _mark_done(
        self, job: Job, start: datetime, end: datetime, code: int, crawl_id: str | None, msg: str,
        next_due: datetime,
    ) -> None:
        self._catalog(
            lambda con: con.execute(
                "UPDATE schedule SET last_start = ?, last_end = ?, last_exit = ?, last_crawl = ?,"
                " last_message = ?, running = NULL, next_due = ? WHERE collection = ? AND account = ?",
                (iso(start), iso(end), code, crawl_id, msg, iso(next_due), job.collection, job.account),
            )
        )


@dataclass
class Active:
    """An account's run under way: its account lock (fd), when it was started."""

    job: Job
    fd: int
    start: datetime
    holds_collection: bool


# --------------------------------------------------------------------------- status


def status_lines(root: Root, now: datetime | None = None) -> list[str]:
    """Per account: last run, next due, overdue by, last outcome; then the backlog."""
    now = now or tnow()
    if not root.catalog_file.exists():
        return ["no schedule yet: `bewaar watch SEEDS` has not run in this root"]
    from catalog.db import open_readonly

    con = open_readonly(root.catalog_file)
    try:
        rows = [dict(r) for r in con.execute("SELECT * FROM schedule ORDER BY next_due, account")]
    finally:
        con.close()
    if not rows:
        return ["no schedule yet: `bewaar watch SEEDS` has not run in this root"]
    lines = []
    behind: list[float] = []
    for r in rows:
        due = parse_iso(r["next_due"])
        late = (now - due).total_seconds()
        if r["running"]:
            state = f"running since {r['last_start']} ({r['running']})"
        elif late > 0:
            state = f"overdue by {_duration(late)}"
            behind.append(late)
        else:
            state = f"due in {_duration(-late)}"
        last = "never"
        if r["last_start"]:
            outcome = "ok" if r["last_exit"] == 0 else (
                f"exit {r['last_exit']}" if r["last_exit"] is not None else "unfinished")
            last = f"{r['last_start']} {outcome}" + (f" ({r['last_message']})" if r["last_message"] else "")
        lines.append(
            f"{r['collection']} {r['account']}: every {_duration(r['every'])}; next {r['next_due']}, "
            f"{state}; last run {last}"
        )
    if behind:
        lines.append(
            f"backlog: {len(behind)} of {len(rows)} account(s) overdue, the most by "
            f"{_duration(max(behind))} (together {_duration(sum(behind))} behind the schedule)"
        )
    else:
        lines.append(f"backlog: none ({len(rows)} account(s) on schedule)")
    return lines


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    if s < 120:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 172800:
        return f"{s // 3600}h{(s % 3600) // 60:02d}m"
    return f"{s // 86400}d{(s % 86400) // 3600}h"


def cmd_watch(args: Any) -> int:
    root = Root(Path(args.root).resolve())
    if not root.path.is_dir():
        raise InputError(f"{root.path}: no such directory (give the root with --root)")
    if args.seeds == "status" and not Path(args.seeds).is_file():
        for line in status_lines(root):
            print(line)
        return OK
    if args.poll <= 0:
        raise InputError("--poll must be a positive number of seconds")
    w = Watch(root, Path(args.seeds).resolve(), once=args.once, poll=args.poll, wait=args.wait,
              redis_url=args.redis, verbose=args.verbose)  # fmt: skip
    w.install_signals()
    return w.run()


def register(sub: Any) -> None:
    p = sub.add_parser(
        "watch", help="crawl each seed on its `every:` interval, until stopped (`watch status`: "
        "the schedule and the backlog)",
    )  # fmt: skip
    p.add_argument("seeds", help="seed list (YAML) whose seeds (or the list) have `every:`; or "
                   "`status`")  # fmt: skip
    p.add_argument("--root", default=".", help="root directory (default: .)")
    p.add_argument("--once", action="store_true", help="run what is due now, then exit (cron)")
    p.add_argument(
        "--poll", type=float, default=60.0,
        help="longest sleep in seconds between looking for due runs and seed-list edits",
    )  # fmt: skip
    p.add_argument(
        "--wait", type=float, default=30.0,
        help="seconds to wait for a catalog another process is writing before trying again "
        "later (with --once: before giving up)",
    )  # fmt: skip
    p.add_argument("--redis", metavar="URL", help="enqueue the due runs in this Redis for "
                   "`bewaar worker` processes instead of crawling here")  # fmt: skip
    p.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    p.set_defaults(func=cmd_watch)

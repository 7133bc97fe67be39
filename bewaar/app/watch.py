"""`bewaar watch seeds.yaml`: crawl each account on its seed's `every:` interval, for ever.

- The due times live in the catalog (table `schedule`), so a restarted watch carries on where
  the last one stopped; an account seen for the first time is due at once.
- Each run is `bewaar crawl` of a generated seed list holding just that account's seeds, in a
  child process (Scrapy's reactor starts once per process), one run at a time.
- An account's run holds an exclusive lock (flock on ROOT/.bewaar/watch/locks/ACCOUNT.lock,
  inherited by the crawl process): two watch processes never crawl one account at once, and a
  lock dies with its holder, so a crash leaves nothing to clean up.
- SIGTERM or Ctrl-C: the crawl under way finishes (its WARCs complete), then watch exits; a
  second signal stops the crawl too (what it captured so far is kept).
- The next run is due one interval after the last one started (missed slots are skipped).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import yaml

from bewaar.config import Seed, SeedList, load_seed_list, parse_duration
from bewaar.errors import FAILED, OK, InputError
from bewaar.lock import busy
from bewaar.model import Root
from bewaar.timeutil import compact, iso, parse_iso
from catalog.db import CatalogLocked, open_catalog, write_transaction
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
        crawl_command: Callable[[Path, Path], list[str]] | None = None,
        wait: float = CATALOG_WAIT,
    ) -> None:
        self.root = root
        self.seed_file = seed_file
        self.once = once
        self.poll = poll
        self.out = out or sys.stdout
        self.stopping = threading.Event()
        self.child: subprocess.Popen[bytes] | None = None
        self.failures = 0
        self.runs = 0
        self.crawl_command = crawl_command or _bewaar_crawl
        self.wait = wait
        self.state = root.state_dir / "watch"
        self._seeds_mtime = 0.0
        self.seeds: SeedList | None = None
        self.jobs: list[Job] = []

    def log(self, msg: str) -> None:
        print(f"{iso(datetime.now(UTC))} {msg}", file=self.out, flush=True)

    # -- signals ------------------------------------------------------------------------
    def install_signals(self) -> None:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        name = signal.Signals(signum).name
        if self.stopping.is_set() and self.child is not None and self.child.poll() is None:
            self.log(f"{name} again: stopping the crawl under way (what it captured is kept)")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.child.pid, signal.SIGTERM)
            return
        self.stopping.set()
        if self.child is not None and self.child.poll() is None:
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
        now = datetime.now(UTC)

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
        rows = self.schedule()
        now = iso(datetime.now(UTC))
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
            if (j.collection, j.account) in rows
        ]
        return min(pending, key=lambda x: x[0]) if pending else None

    # -- running ------------------------------------------------------------------------
    def run(self) -> int:
        self.load()
        self.log(
            f"watching {len(self.jobs)} account(s) from {self.seed_file} into {self.root.path}"
            + (" (once)" if self.once else "")
        )
        while not self.stopping.is_set():
            self.load()
            for _when, job in self.due():
                if self.stopping.is_set():
                    break
                self.run_job(job)
            if self.once or self.stopping.is_set():
                break
            nxt = self.next_due()
            wait = self.poll
            if nxt is not None:
                wait = max(0.5, min(self.poll, (parse_iso(nxt[0]) - datetime.now(UTC)).total_seconds()))
            self.stopping.wait(wait)
        if self.once and self.runs == 0:
            nxt = self.next_due()
            when = f"; next: {nxt[1].account} at {nxt[0]}" if nxt else ""
            self.log(f"nothing due{when}")
        self.log(f"stopped after {self.runs} run(s), {self.failures} failed")
        return FAILED if self.failures else OK

    def _lock(self, job: Job) -> int | None:
        locks = self.state / "locks"
        locks.mkdir(parents=True, exist_ok=True)
        fd = os.open(locks / f"{job.slug}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        os.ftruncate(fd, 0)
        os.write(fd, f"{socket.gethostname()}:{os.getpid()}\n".encode())
        return fd

    def run_job(self, job: Job) -> None:
        assert self.seeds is not None
        fd = self._lock(job)
        if fd is None:
            self.log(f"{job.collection} {job.account}: skipped, another process is crawling it")
            return
        try:
            row = self.schedule().get((job.collection, job.account))
            if row is None or row["next_due"] > iso(datetime.now(UTC)):
                return  # another watch ran it between our look at the schedule and the lock
            writer = busy(self.root.collection(job.collection).path)
            if writer is not None:
                # one writer per collection: still due, so it runs at the next look
                self.log(f"{job.collection} {job.account}: waiting, the collection is being "
                         f"written by {writer}")  # fmt: skip
                return
            self._run_locked(job, fd)
        finally:
            os.close(fd)

    def _run_locked(self, job: Job, fd: int) -> None:
        assert self.seeds is not None
        seed_path = self.state / "seeds" / f"{job.slug}.yaml"
        seed_path.parent.mkdir(parents=True, exist_ok=True)
        seed_path.write_text(
            yaml.safe_dump(job_seed_list(self.seeds, job, self.seed_file), sort_keys=False,
                           allow_unicode=True),
            encoding="utf-8",
        )  # fmt: skip
        log_dir = self.state / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        start = datetime.now(UTC)
        log_path = log_dir / f"{job.slug}-{compact(start)}.log"
        reports = self.root.collection(job.collection).path / "crawls"
        before = set(reports.glob("*.json")) if reports.is_dir() else set()
        self._mark_running(job, start)
        self.log(f"{job.collection} {job.account}: crawl started (log: {log_path})")
        with log_path.open("wb") as logf:
            self.child = subprocess.Popen(
                self.crawl_command(seed_path, self.root.path),
                stdout=logf,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C in a terminal reaches watch, not the crawl
                pass_fds=(fd,),  # the lock lives as long as the crawl, even if watch dies
            )
            code = self.child.wait()
            self.child = None
        end = datetime.now(UTC)
        for old in sorted(log_dir.glob(f"{job.slug}-*.log"))[:-KEEP_LOGS]:
            old.unlink(missing_ok=True)
        new = sorted((set(reports.glob("*.json")) if reports.is_dir() else set()) - before)
        crawl_id = new[-1].stem if new else None
        summary = self._summary(job, crawl_id, code, log_path)
        next_due = start + timedelta(seconds=job.every)
        while next_due <= end:  # skip slots missed while this run took long
            next_due += timedelta(seconds=job.every)
        self._mark_done(job, end, code, crawl_id, summary, next_due)
        self.runs += 1
        if code != 0:
            self.failures += 1
        secs = (end - start).total_seconds()
        state = "ok" if code == 0 else f"exit {code}"
        self.log(
            f"{job.collection} {job.account}: crawl {crawl_id or '(none)'} {state} in {secs:.0f}s: "
            f"{summary}; next run {iso(next_due)}"
        )

    def _summary(self, job: Job, crawl_id: str | None, code: int, log_path: Path) -> str:
        """Pages from the crawl's report, posts and changes from the catalog."""
        if crawl_id is None:
            tail = _last_line(log_path)
            return f"no crawl report ({tail})" if tail else "no crawl report"
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
        self, job: Job, end: datetime, code: int, crawl_id: str | None, msg: str, next_due: datetime
    ) -> None:
        self._catalog(
            lambda con: con.execute(
                "UPDATE schedule SET last_end = ?, last_exit = ?, last_crawl = ?, last_message = ?,"
                " running = NULL, next_due = ? WHERE collection = ? AND account = ?",
                (iso(end), code, crawl_id, msg, iso(next_due), job.collection, job.account),
            )
        )


def _bewaar_crawl(seed_path: Path, root: Path) -> list[str]:
    return [sys.executable, "-m", "bewaar.app.cli", "crawl", str(seed_path), "--root", str(root)]


def _last_line(path: Path) -> str:
    try:
        lines = [ln for ln in path.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1][:200] if lines else ""


def cmd_watch(args: Any) -> int:
    root = Root(Path(args.root).resolve())
    if not root.path.is_dir():
        raise InputError(f"{root.path}: no such directory (give the root with --root)")
    if args.poll <= 0:
        raise InputError("--poll must be a positive number of seconds")
    w = Watch(root, Path(args.seeds).resolve(), once=args.once, poll=args.poll, wait=args.wait)
    w.install_signals()
    return w.run()


def register(sub: Any) -> None:
    p = sub.add_parser("watch", help="crawl each seed on its `every:` interval, until stopped")
    p.add_argument("seeds", help="seed list (YAML) whose seeds (or the list) have `every:`")
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
    p.set_defaults(func=cmd_watch)

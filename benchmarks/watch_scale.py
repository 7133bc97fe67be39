"""Can `bewaar watch` keep up with hundreds of accounts on this machine?

    .venv/bin/python benchmarks/watch_scale.py [--accounts 300] [--every 1h] [--hours 3]
        [--speed 12] [--depth 0] [--concurrency 2]

Serves --accounts synthetic accounts (benchmarks/synthetic_accounts.py: each publishes a new
post every --every, at its own moment), and runs the real `bewaar watch` over them, every
account on `every: --every`, for --hours of simulated time. The schedule's clock runs --speed
times as fast as the wall clock (BEWAAR_NOW + BEWAAR_CLOCK_SPEED, bewaar/timeutil.py), so hours
pass in minutes; pages themselves load at real speed, so a speed the machine cannot follow
shows as late runs. Reported:
  * pages/minute (real time), pages ok;
  * runs started within 10 % of their due time (after the first round, in which every account
    is due at once), and in the first round;
  * new posts captured within one interval (the first visit of the account after the post
    appeared came at most one interval later), of the posts that had an interval to be seen;
  * peak memory (RSS of watch, Chromium, redis-server together);
  * the machine's limit: accounts per interval it sustains at this page cost.
Results go to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.synthetic_accounts import SyntheticAccounts  # noqa: E402
from bewaar.config import parse_duration  # noqa: E402

T0 = "2031-01-01T00:00:00Z"


def tree_rss(pid: int) -> int:
    """Resident memory of a process and all its descendants, in bytes (from /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(stat[1]), []).append(int(d.name))
            rss[int(d.name)] = int(stat[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo += children.get(p, [])
    return total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--accounts", type=int, default=300)
    ap.add_argument("--every", default="1h")
    ap.add_argument("--hours", type=float, default=3.0, help="simulated hours")
    ap.add_argument("--speed", type=float, default=12.0, help="simulated seconds per real second")
    ap.add_argument("--depth", type=int, default=0, help="0: profile pages; 1: also their posts")
    ap.add_argument("--concurrency", type=int, default=2)
    args = ap.parse_args()
    every = parse_duration(args.every)
    real_seconds = args.hours * 3600 / args.speed

    start_real = time.time()
    env = dict(os.environ, BEWAAR_NOW=T0, BEWAAR_CLOCK_SPEED=str(args.speed),
               BEWAAR_CLOCK_START=repr(start_real))  # fmt: skip
    os.environ.update(env)  # the synthetic site runs on the same clock
    tmp = Path(tempfile.mkdtemp(prefix="bewaar-watch-bench-"))
    root = tmp / "root"
    root.mkdir()
    (root / "bewaar.yaml").write_text(yaml.safe_dump({
        "browser": {"loopback_only": True},
        "crawl": {"allow_private": ["127.0.0.1"], "concurrency": args.concurrency},
    }))  # fmt: skip
    with SyntheticAccounts(args.accounts, period=every) as site:
        seeds = tmp / "seeds.yaml"
        seeds.write_text(yaml.safe_dump({
            "collection": "bench", "every": args.every,
            "behaviors": {"play_media": False, "full_media": False, "scroll_timeout": 10},
            "seeds": [{"url": site.profile_url(n), "depth": args.depth}
                      for n in range(args.accounts)],
        }))  # fmt: skip
        log = (tmp / "watch.log").open("w")
        proc = subprocess.Popen(
            [sys.executable, "-m", "bewaar.app.cli", "watch", str(seeds), "--root", str(root),
             "--poll", "2"],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )  # fmt: skip
        peak = 0
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not stop.wait(2.0):
                peak = max(peak, tree_rss(proc.pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            proc.wait(timeout=real_seconds)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=60)
        stop.set()
        end_real = time.time()
        visits = list(site.log)

    def sim(real: float) -> float:
        return datetime.fromisoformat(T0.replace("Z", "+00:00")).timestamp() + (real - start_real) * args.speed

    sim_end = sim(end_real)
    profiles: dict[int, list[float]] = {}
    pages = 0
    for path, _real, when in visits:
        pages += 1
        m = re.fullmatch(r"/a/(\d+)", path)
        if m:
            profiles.setdefault(int(m.group(1)), []).append(when)
    # on time: run i+1 is due one interval after run i started (watch's schedule)
    late_first, on_time, runs = [], 0, 0
    t0 = datetime.fromisoformat(T0.replace("Z", "+00:00")).timestamp()
    for visits_n in profiles.values():
        visits_n.sort()
        late_first.append(visits_n[0] - t0)
        for prev, cur in zip(visits_n, visits_n[1:], strict=False):
            runs += 1
            if cur - (prev + every) <= 0.1 * every:
                on_time += 1
    # overdue runs that never started before the end count as late
    for n in range(args.accounts):
        v = profiles.get(n) or []
        due = (v[-1] + every) if v else t0
        if sim_end - due > 0.1 * every:
            runs += 1
    first_on_time = sum(1 for x in late_first if x <= 0.1 * every)
    captured = eligible = 0
    for n in range(args.accounts):
        visits_n = profiles.get(n, [])
        k = 0
        while site.published(n, k) <= sim_end - every:
            tp = site.published(n, k)
            # a post that appeared while the account was watched (after its first visit), with
            # an interval left before the end in which to be seen
            if visits_n and tp > visits_n[0]:
                eligible += 1
                seen = next((v for v in visits_n if v >= tp), None)
                if seen is not None and seen - tp <= every:
                    captured += 1
            k += 1
    (tmp / "visits.json").write_text(json.dumps(visits))
    minutes = (end_real - start_real) / 60
    text = (tmp / "watch.log").read_text(errors="replace")
    ok_runs = len(re.findall(r": crawl \S+ ok in", text))
    failed_runs = len(re.findall(r": crawl \S+ exit \d+ in", text))
    pages_per_min = pages / minutes if minutes else 0.0
    per_run = pages / max(1, ok_runs + failed_runs)
    result = {
        "benchmark": "watch_scale",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "accounts": args.accounts, "every_s": every, "simulated_hours": args.hours,
        "speed": args.speed, "depth": args.depth, "concurrency": args.concurrency,
        "real_minutes": round(minutes, 1),
        "pages": pages, "pages_per_minute": round(pages_per_min, 1),
        "runs_finished_ok": ok_runs, "runs_failed": failed_runs,
        "runs_on_time_after_first_round": round(on_time / runs, 3) if runs else None,
        "runs_counted": runs,
        "first_round_on_time": round(first_on_time / max(1, len(late_first)), 3),
        "first_round_last_start_min": round(max(late_first) / 60, 1) if late_first else None,
        "new_posts_within_one_interval": round(captured / eligible, 3) if eligible else None,
        "new_posts_counted": eligible,
        "peak_memory_mb": round(peak / 1e6),
        # what this machine sustains in real time, at the measured page rate and pages per run
        "pages_per_run": round(per_run, 2),
        "limit_accounts_per_real_interval": round(pages_per_min * (every / 60) / per_run),
        "load_accounts_per_real_interval": round(args.accounts * args.speed),
        "root": str(tmp),
    }
    out = REPO / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"watch_scale-{int(start_real)}.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

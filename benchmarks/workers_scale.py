"""Pages per minute with 1, 2 and 3 `bewaar worker` processes on one shared Redis, and the
Redis traffic per page.

    .venv/bin/python benchmarks/workers_scale.py [--accounts 20] [--shown 2] [--workers 1 2 3]

For each worker count: a fresh root and Redis (started here, like the tests), the synthetic
accounts of benchmarks/synthetic_accounts.py (each profile lists --shown posts: 1 + shown
pages per account), one `bewaar crawl --redis` of all of them, then N workers (concurrency 1
each, one shared root) until the run's report is written. Reported: wall time from the first
worker's start to the report, pages/minute, and Redis commands and bytes (in + out) per page
(INFO commandstats / stats). On a 2-core machine the browsers compete for the cores, so the
scaling flattens where the cores are busy; the figures say where. Results go to
benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.synthetic_accounts import SyntheticAccounts  # noqa: E402
from bewaar.timeutil import now as clock  # noqa: E402
from crawler.redis_server import RedisServer, free_port  # noqa: E402
from crawler.runstate import connect  # noqa: E402

BIN = Path(sys.executable).parent / "bewaar"


def redis_counts(r: object) -> tuple[int, int]:
    stats = r.info("stats")  # type: ignore[attr-defined]
    calls = sum(v["calls"] for k, v in r.info("commandstats").items())  # type: ignore[attr-defined]
    return calls, int(stats["total_net_input_bytes"]) + int(stats["total_net_output_bytes"])


def one(n_workers: int, args: argparse.Namespace) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix=f"bewaar-workers-{n_workers}-"))
    root = tmp / "root"
    root.mkdir()
    (root / "bewaar.yaml").write_text(yaml.safe_dump({
        "browser": {"loopback_only": True}, "crawl": {"allow_private": ["127.0.0.1"]}}))  # fmt: skip
    with RedisServer(tmp / "redis", port=free_port(), fsync="everysec") as server, \
            SyntheticAccounts(args.accounts, shown=args.shown, t0=clock() - timedelta(days=1)) as site:
        seeds = tmp / "seeds.yaml"
        seeds.write_text(yaml.safe_dump({
            "collection": "bench",
            "behaviors": {"play_media": False, "full_media": False, "scroll_timeout": 10},
            "seeds": [{"url": site.profile_url(n), "depth": 1} for n in range(args.accounts)],
        }))  # fmt: skip
        r = connect(server.url)
        subprocess.run([str(BIN), "keys", "init", "--root", str(root)], capture_output=True, check=False)
        enq = subprocess.run([str(BIN), "crawl", str(seeds), "--root", str(root), "--redis", server.url],
                             capture_output=True, text=True, check=True)  # fmt: skip
        crawl_id = enq.stderr.split("crawl ", 1)[1].split()[0]
        report = root / "collections/bench/crawls" / f"{crawl_id}.json"
        calls0, bytes0 = redis_counts(r)
        started = time.monotonic()
        procs = [
            subprocess.Popen([str(BIN), "worker", "--redis", server.url, "--root", str(root),
                              "--id", f"w{i}", "--concurrency", "1", "-q"],
                             stdout=subprocess.DEVNULL, stderr=(tmp / f"w{i}.log").open("wb"),
                             start_new_session=True)  # fmt: skip
            for i in range(n_workers)
        ]
        try:
            while not report.exists():
                if time.monotonic() - started > args.timeout:
                    raise SystemExit(f"{n_workers} worker(s): no report after {args.timeout}s ({tmp})")
                time.sleep(0.5)
            took = time.monotonic() - started
            calls1, bytes1 = redis_counts(r)
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(120)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
        data = json.loads(report.read_text())
    pages = data["pages"]["ok"] + data["pages"]["failed"] + data["pages"]["blocked"]
    return {
        "workers": n_workers, "pages": pages, "pages_ok": data["pages"]["ok"],
        "seconds": round(took, 1), "pages_per_minute": round(pages / took * 60, 1),
        "redis_commands_per_page": round((calls1 - calls0) / pages, 1),
        "redis_kb_per_page": round((bytes1 - bytes0) / pages / 1024, 1),
        "warcs": len(data["warcs"]), "root": str(tmp),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--accounts", type=int, default=20)
    ap.add_argument("--shown", type=int, default=2)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--timeout", type=float, default=1800)
    args = ap.parse_args()
    rows = [one(n, args) for n in args.workers]
    base = rows[0]["pages_per_minute"] or 1
    for row in rows:
        row["speedup"] = round(float(row["pages_per_minute"]) / float(base), 2)
    with open("/proc/loadavg") as fh:
        load = fh.read().split()[:3]
    result = {"benchmark": "workers_scale", "when": datetime.now(UTC).isoformat(timespec="seconds"),
              "cpus": os.cpu_count(), "load_average_after": load, "runs": rows}  # fmt: skip
    out = REPO / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"workers_scale-{int(time.time())}.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

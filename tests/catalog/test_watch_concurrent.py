"""`bewaar watch` with many accounts: a hanging page or a slow account does not hold up the
others (per-page and per-account time limits), a watch killed with SIGKILL resumes its runs
without crawling written pages again, and `bewaar watch status` shows the schedule."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bewaar.sites.httpserver import FixtureServer, Request, Response
from bewaar.sites.social import SocialSite
from tests.catalog.helpers import row
from tests.conftest import BIN, make_root, run_bewaar, write_seeds

pytestmark = pytest.mark.slow


def _pages(root: Path, coll: str) -> list[dict[str, Any]]:
    path = root / "collections" / coll / "pages/pages.jsonl"
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines()[1:] if x.strip()]


def test_a_hanging_page_and_a_slow_account_do_not_hold_up_the_rest(tmp_path: Path) -> None:
    release = threading.Event()
    hang = FixtureServer()

    @hang.route("GET", r"/hang")
    def forever(req: Request, m: Any) -> Response:
        release.wait(300)  # never answers while the test runs
        return Response.html("<p>too late</p>")

    hang.start()
    root = make_root(tmp_path / "root", crawl={"concurrency": 2, "page_timeout": 4, "account_timeout": 30})
    try:
        with SocialSite(posts=60) as slow, SocialSite(account="quick", posts=2) as quick:
            seeds = write_seeds(tmp_path / "seeds.yaml", {
                "collection": "gov", "every": "1h",
                # a page may take page_timeout + scroll_timeout + media_timeout + 30 s at most
                "behaviors": {"play_media": False, "full_media": False, "scroll_timeout": 5,
                              "media_timeout": 5},
                "seeds": [{"url": f"{hang.base_url}/hang", "depth": 0},  # hangs: page time limit
                          {"url": slow.profile_url},  # dozens of posts: more than its 30 s allow
                          {"url": quick.profile_url}],  # 3 pages, taking turns: done in time
            })  # fmt: skip
            started = time.monotonic()
            p = run_bewaar("watch", str(seeds), "--root", str(root), "--once", timeout=600)
            took = time.monotonic() - started
    finally:
        release.set()
        hang.stop()
    out = p.stdout
    assert p.returncode == 1, out + p.stderr
    host = hang.base_url.split("//")[1]
    assert re.search(rf"gov {re.escape(host)}: crawl \S+ exit 1 in \d+s: 0 page\(s\) ok, 1 failed "
                     r"\(page load timed out", out), out  # fmt: skip
    quick_host = quick.base_url.split("//")[1]
    assert re.search(rf"gov {re.escape(quick_host)}: crawl \S+ ok in \d+s: 3 page\(s\) ok", out), out
    slow_host = slow.base_url.split("//")[1]
    m = re.search(rf"gov {re.escape(slow_host)}: crawl (\S+) exit 1 in \d+s: (\d+) page\(s\) ok, (\d+) failed", out)
    assert m, out
    assert int(m[2]) >= 1 and int(m[3]) >= 10, out  # cut short: the posts it found were not all crawled
    report = json.loads((root / "collections/gov/crawls" / f"{m[1]}.json").read_text())
    assert any("time limit" in f["reason"] for f in report["failures"]), report["failures"]
    assert len(report["failures"]) == int(m[3])  # every page it did not crawl is accounted for
    assert "stopped after 3 run(s), 2 failed" in out
    assert took < 240, took


def test_watch_killed_with_sigkill_resumes_its_runs(tmp_path: Path) -> None:
    root = make_root(tmp_path / "root")
    with SocialSite(posts=12) as site:
        seeds = write_seeds(tmp_path / "seeds.yaml", {
            "collection": "gov", "every": "1h",
            "behaviors": {"play_media": False, "full_media": False},
            "seeds": [{"url": site.profile_url}],
        })  # fmt: skip
        proc = subprocess.Popen(
            [str(BIN), "watch", str(seeds), "--root", str(root), "--poll", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and len(_pages(root, "gov")) < 4:
            time.sleep(0.05)
        assert len(_pages(root, "gov")) >= 4, proc.stderr.read() if proc.poll() is not None else ""
        os.killpg(proc.pid, signal.SIGKILL)  # watch, its browser and its queue server
        out, _ = proc.communicate(timeout=30)
        run_id = re.search(r"crawl started \((\S+)\)", out)[1]
        before = {p["url"] for p in _pages(root, "gov")}
        assert row(root, "SELECT running FROM schedule")["running"]  # it was under way

        p = run_bewaar("watch", str(seeds), "--root", str(root), "--once", timeout=600)
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"crawl resumed ({run_id})" in p.stdout, p.stdout
    assert re.search(rf"crawl {re.escape(run_id)} ok in \d+s: 13 page\(s\) ok", p.stdout), p.stdout
    assert "stopped after 1 run(s), 0 failed" in p.stdout
    pages = _pages(root, "gov")
    counts = Counter(p["url"] for p in pages)
    assert len(counts) == 13 and set(counts.values()) == {1}, counts  # none crawled twice
    assert before <= set(counts) and {p["crawl_id"] for p in pages} == {run_id}
    sched = row(root, "SELECT * FROM schedule")
    assert sched["last_crawl"] == run_id and sched["running"] is None and sched["last_exit"] == 0

    status = run_bewaar("watch", "status", "--root", str(root))
    assert status.returncode == 0, status.stderr
    account = site.base_url.split("//")[1]
    assert re.search(rf"^gov {re.escape(account)}: every 1h00m; next \S+Z, due in \d+m; last run \S+Z ok",
                     status.stdout, re.M), status.stdout  # fmt: skip
    assert "backlog: none (1 account(s) on schedule)" in status.stdout
    # three hours on: the account is overdue, and the backlog says by how much
    env = dict(os.environ, BEWAAR_NOW=_later(sched["next_due"], 7200))
    late = subprocess.run([str(BIN), "watch", "status", "--root", str(root)], capture_output=True,
                          text=True, env=env, timeout=60)  # fmt: skip
    assert "overdue by 2h00m" in late.stdout, late.stdout
    assert "backlog: 1 of 1 account(s) overdue, the most by 2h00m" in late.stdout


def _later(when: str, seconds: int) -> str:
    from datetime import timedelta

    from bewaar.timeutil import iso, parse_iso

    return iso(parse_iso(when) + timedelta(seconds=seconds))

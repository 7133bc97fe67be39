"""`bewaar watch`: runs what is due, concurrently in one worker, remembers the next due time in the
catalog, never crawls an account another process holds, and finishes a crawl on SIGTERM."""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from bewaar.app.watch import Job
from bewaar.sites.platforms import SITES
from bewaar.sites.platforms.fixture import PlatformSite
from catalog.db import open_catalog
from tests.catalog.helpers import row
from tests.conftest import BIN, free_port, make_root, run_bewaar, write_seeds

pytestmark = pytest.mark.slow
ACCOUNT = "mastodon:minbzk@social.example"


@pytest.fixture(scope="module")
def site() -> Iterator[PlatformSite]:
    s = SITES["mastodon"]()
    s.start()
    try:
        yield s
    finally:
        s.stop()


def seed_list(root: Path, site: PlatformSite, *extra: dict) -> Path:  # noqa: ANN002
    return write_seeds(root / "seeds.yaml", {
        "collection": "gov",
        "every": "1h",
        "behaviors": {"play_media": False},  # quick: only the profile page, no playback
        "seeds": [{"platform": "mastodon", "handle": site.handle_in_seed, "base_url": site.base_url,
                   "depth": 0}, *extra],
    })  # fmt: skip


def reports(root: Path) -> list[Path]:
    return sorted((root / "collections/gov/crawls").glob("*.json"))


def seconds_between(a: str, b: str) -> float:
    def t(s: str) -> datetime:
        return datetime.fromisoformat(s.replace("Z", "+00:00"))

    return (t(b) - t(a)).total_seconds()


def test_once_runs_what_is_due_and_a_restart_remembers_the_next_time(site: PlatformSite, tmp_path: Path) -> None:
    root = make_root(tmp_path / "root")
    host = f"127.0.0.1:{free_port()}"  # nothing listens there: that account's crawl fails
    page = f"{site.base_url}/@minbzk/1790000000000000005"
    seeds = seed_list(root, site, {"url": page, "scope": "page", "depth": 0, "every": "2h"},
                      {"url": f"http://{host}/", "scope": "page", "depth": 0})  # fmt: skip
    p = run_bewaar("watch", str(seeds), "--root", str(root), "--once")
    out = p.stdout
    assert p.returncode == 1, out + p.stderr  # one of the three crawls failed
    assert "watching 3 account(s)" in out
    site_host = site.base_url.split("//")[1]
    for account in (ACCOUNT, site_host, host):
        assert re.search(rf"gov {re.escape(account)}: crawl started", out), out
    assert re.search(rf"gov {re.escape(ACCOUNT)}: crawl \S+ ok in \d+s: 1 page\(s\) ok, \d+ post\(s\) seen; "
                     r"no changes; next run \S+Z", out), out  # fmt: skip
    assert re.search(rf"gov {re.escape(host)}: crawl \S+ exit 1 in \d+s: 0 page\(s\) ok, 1 failed "
                     r"\(connection refused \(ERR_CONNECTION_REFUSED\)\); nothing for the catalog; "
                     r"next run \S+Z", out), out  # fmt: skip
    assert "stopped after 3 run(s), 1 failed" in out
    # concurrently, in one worker: every due account's run started before the first ended
    starts = [m.start() for m in re.finditer(r"crawl started", out)]
    ends = [m.start() for m in re.finditer(r": crawl \S+ (ok|exit \d+) in", out)]
    assert len(starts) == len(ends) == 3 and max(starts) < min(ends), out

    sched = {r: row(root, "SELECT * FROM schedule WHERE account = ?", r) for r in (ACCOUNT, site_host)}
    assert seconds_between(sched[ACCOUNT]["last_start"], sched[ACCOUNT]["next_due"]) == 3600
    assert seconds_between(sched[site_host]["last_start"], sched[site_host]["next_due"]) == 7200
    assert sched[ACCOUNT]["last_exit"] == 0 and sched[ACCOUNT]["running"] is None
    assert (root / "collections/gov/crawls" / f"{sched[ACCOUNT]['last_crawl']}.json").exists()
    # the run's seed list holds that account's seeds only, without `every`
    generated = yaml.safe_load((root / ".bewaar/watch/seeds" / f"{Job('gov', ACCOUNT, 0).slug}.yaml").read_text())
    assert [s.get("handle") for s in generated["seeds"]] == [site.handle_in_seed]
    assert "every" not in generated and "every" not in generated["seeds"][0]
    assert generated["behaviors"] == {"play_media": False}

    # a new process finds nothing due: the next due time survived in the catalog
    before = reports(root)
    p = run_bewaar("watch", str(seeds), "--root", str(root), "--once")
    assert p.returncode == 0, p.stdout + p.stderr
    assert re.search(r"nothing due; next: \S+ at \S+Z", p.stdout), p.stdout
    assert reports(root) == before
    status = run_bewaar("catalog", "status", "--root", str(root)).stdout
    assert f"watch gov/{ACCOUNT}: every 3600s, next " in status


def test_an_account_another_process_is_crawling_is_skipped(site: PlatformSite, tmp_path: Path) -> None:
    root = make_root(tmp_path / "root")
    seeds = seed_list(root, site)
    locks = root / ".bewaar/watch/locks"
    locks.mkdir(parents=True)
    fd = os.open(locks / f"{Job('gov', ACCOUNT, 0).slug}.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # as a running watch (or its crawl) holds it
    try:
        p = run_bewaar("watch", str(seeds), "--root", str(root), "--once")
    finally:
        os.close(fd)
    assert p.returncode == 0, p.stderr
    assert f"gov {ACCOUNT}: skipped, another process is crawling it" in p.stdout
    assert not (root / "collections/gov/crawls").exists()
    sched = row(root, "SELECT * FROM schedule WHERE account = ?", ACCOUNT)
    assert sched["last_start"] is None  # still due: the next watch run takes it


def test_sigterm_lets_the_crawl_under_way_finish(site: PlatformSite, tmp_path: Path) -> None:
    root = make_root(tmp_path / "root")
    seeds = seed_list(root, site)
    proc = subprocess.Popen(
        [str(BIN), "watch", str(seeds), "--root", str(root), "--poll", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    lines = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if "crawl started" in line or not line:
            break
    assert "crawl started" in lines[-1], "".join(lines)
    time.sleep(1.0)  # the crawl is under way
    proc.send_signal(signal.SIGTERM)
    rest, err = proc.communicate(timeout=180)
    out = "".join(lines) + rest
    assert proc.returncode == 0, out + err
    assert "SIGTERM: finishing the crawl under way, then stopping" in out
    m = re.search(rf"gov {re.escape(ACCOUNT)}: crawl (\S+) ok in", out)
    assert m, out
    assert "stopped after 1 run(s), 0 failed" in out
    report = json.loads((root / "collections/gov/crawls" / f"{m.group(1)}.json").read_text())
    assert report["pages"]["ok"] == 1 and report["warcs"]
    assert row(root, "SELECT count(*) AS n FROM crawls")["n"] == 1  # and it is in the catalog
    assert row(root, "SELECT running FROM schedule")["running"] is None


def test_watch_needs_an_interval(site: PlatformSite, tmp_path: Path) -> None:
    root = make_root(tmp_path / "root")
    seeds = write_seeds(root / "seeds.yaml", {"collection": "gov", "seeds": [
        {"url": f"{site.base_url}/@minbzk", "every": "30m"}, {"url": f"{site.base_url}/@other"}]})  # fmt: skip
    p = run_bewaar("watch", str(seeds), "--root", str(root), "--once")
    assert p.returncode == 2
    assert p.stderr.strip().endswith(
        "seeds[1] has no `every:` and the list has no default `every:`: watch needs an interval "
        "(e.g. every: 1h)"
    )
    assert p.stderr.count("\n") == 1
    p = run_bewaar("watch", str(root / "missing.yaml"), "--root", str(root))
    assert p.returncode == 2 and "missing.yaml: file not found" in p.stderr


def test_a_locked_catalog_is_waited_out_but_once_gives_up(site: PlatformSite, tmp_path: Path) -> None:
    root = make_root(tmp_path / "root")
    seeds = seed_list(root, site)
    open_catalog(root / "catalog.sqlite").close()
    con = sqlite3.connect(root / "catalog.sqlite", isolation_level=None)
    con.execute("BEGIN IMMEDIATE")  # as a long rebuild holds it
    try:
        p = run_bewaar("watch", str(seeds), "--root", str(root), "--once", "--wait", "0.2")
        assert p.returncode == 3 and "is locked by another process" in p.stderr
        proc = subprocess.Popen(
            [str(BIN), "watch", str(seeds), "--root", str(root), "--poll", "1", "--wait", "0.2"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "is locked by another process" in line and "trying again in 1s" in line, line
    finally:
        con.execute("ROLLBACK")
        con.close()
    proc.send_signal(signal.SIGTERM)  # the lock is free now: it stops without crawling
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, out + err
    assert "stopped after 0 run(s), 0 failed" in out

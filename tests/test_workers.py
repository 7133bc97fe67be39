"""Several workers on one shared Redis queue (scrapy-redis + leases), one shared root.

Three `bewaar worker` processes crawl one seed list that `bewaar crawl --redis` enqueued; one
is SIGKILLed mid-crawl, a fourth joins late, and Redis itself goes away and comes back. In the
end every page is captured exactly once, each worker wrote (and signed) its own files, every
WARC verifies, and replay shows every post."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from warcio.archiveiterator import ArchiveIterator

from bewaar.sites.platforms import SITES
from crawler.indexer import indexed_files
from crawler.redis_server import RedisServer
from tests.conftest import BIN, Replay, free_port, make_root, run_bewaar, write_seeds
from tests.pagecheck import open_page

pytestmark = pytest.mark.slow
PLATFORMS = ("mastodon", "x", "tiktok")
MAX_POSTS = 3


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """Our own redis-server on a free loopback port, data in a temporary directory."""
    server = RedisServer(tmp_path / "redis", port=free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _worker(root: Path, url: str, wid: str, logs: Path) -> subprocess.Popen[bytes]:
    log = (logs / f"{wid}.log").open("wb")
    return subprocess.Popen(
        [str(BIN), "worker", "--redis", url, "--root", str(root), "--id", wid, "--concurrency", "1"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip


def _wait(cond: Any, timeout: float, what: str, procs: list[subprocess.Popen[bytes]] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _pages(coll: Path) -> list[dict[str, Any]]:
    path = coll / "pages/pages.jsonl"
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines()[1:] if x.strip()]


def test_three_workers_one_killed_one_late_every_page_once(
    redis_server: RedisServer, tmp_path: Path, browser: Any
) -> None:
    sites = {name: SITES[name]() for name in PLATFORMS}
    for s in sites.values():
        s.start()
    logs = tmp_path / "logs"
    logs.mkdir()
    root = make_root(tmp_path / "root")
    coll = root / "collections/multi"
    url = redis_server.url
    workers: dict[str, subprocess.Popen[bytes]] = {}
    try:
        seeds = write_seeds(tmp_path / "seeds.yaml", {
            "collection": "multi",
            "behaviors": {"play_media": False, "full_media": False},
            "seeds": [{"platform": s.platform, "handle": s.handle_in_seed or s.account.handle,
                       "base_url": s.base_url, "max_posts": MAX_POSTS,
                       # the profile and its posts only: a known page count (the wider context
                       # is tests/platforms/test_context.py's)
                       "with_replies": False} for s in sites.values()],
        })  # fmt: skip
        for wid in ("w1", "w2", "w3"):
            workers[wid] = _worker(root, url, wid, logs)
        enq = run_bewaar("crawl", str(seeds), "--root", str(root), "--redis", url, timeout=120)
        assert enq.returncode == 0, enq.stderr
        crawl_id = re.search(r"^crawl (\S+) of 'multi' \(3 seed\(s\)\) enqueued", enq.stderr, re.M)[1]

        # w2 dies (SIGKILL, browser and all) while it holds a page
        r = redis.Redis.from_url(url)
        _wait(lambda: b"w2" in r.hvals("bewaar:pool:shared:lowner") and len(_pages(coll)) >= 2,
              240, "w2 to hold a page")  # fmt: skip
        time.sleep(0.5)
        os.killpg(workers["w2"].pid, signal.SIGKILL)
        workers["w2"].wait(30)
        # a fourth joins late and takes work at once
        workers["w4"] = _worker(root, url, "w4", logs)
        _wait(lambda: any("-w4-" in p["warc"] for p in _pages(coll)), 180, "w4 to write a page")
        # Redis goes away for a few seconds: the workers wait and carry on
        redis_server.stop()
        time.sleep(3)
        redis_server.start()
        report_path = coll / "crawls" / f"{crawl_id}.json"
        _wait(report_path.exists, 420, "the run to be finished by the updater")
        time.sleep(1)
        for wid, proc in workers.items():
            if wid != "w2":
                proc.send_signal(signal.SIGTERM)
        for wid, proc in workers.items():
            if wid != "w2":
                assert proc.wait(120) == 0, (logs / f"{wid}.log").read_text()[-3000:]
        texts = {wid: (logs / f"{wid}.log").read_text(errors="replace") for wid in workers}
        assert not any("Traceback" in t for t in texts.values()), texts
        assert any("redis unavailable" in t for t in texts.values())  # they waited, then went on

        report = json.loads(report_path.read_text())
        want = len(PLATFORMS) * (1 + MAX_POSTS)
        assert report["pages"] == {"ok": want, "blocked": 0, "failed": 0}, report
        warcs = sorted(coll.glob("archive/*.warc.gz"))
        names = {w.name for w in warcs}
        assert sorted(report["warcs"]) == sorted(names)
        # every file carries its worker's id; the late worker wrote some; none is left staged
        writers = {re.match(r"multi-\d{14}-(w\d)-\d{5}-[0-9a-f]{6}\.warc\.gz$", n)[1] for n in names}
        assert "w4" in writers and writers <= {"w1", "w2", "w3", "w4"}
        assert not list((coll / "tmp").rglob("*.warc.gz"))
        # every page exactly once (a page of the killed worker was crawled again, by another)
        seen: Counter[str] = Counter()
        for w in warcs:
            accounts = set()
            with w.open("rb") as fh:
                for rec in ArchiveIterator(fh):
                    uri = rec.rec_headers.get_header("WARC-Target-URI") or ""
                    if rec.rec_type == "metadata" and uri.startswith("urn:pageinfo:"):
                        info = json.loads(rec.content_stream().read())
                        seen[info.get("final_url") or info["url"]] += 1
                        accounts.add(info["target"]["account"])
            assert len(accounts) <= 1, (w.name, accounts)  # one file per account (retention)
        assert len(seen) == want and set(seen.values()) == {1}, seen
        pages = _pages(coll)
        assert sorted(p["url"] for p in pages) == sorted(seen)
        for name, site in sites.items():
            posts = [p["url"] for p in pages if p["platform"] == name and p["kind"] == "post"]
            assert len(posts) == MAX_POSTS and set(posts) <= set(site.expected_post_links()), name
        # indexed, signed, verified; in the catalog
        assert indexed_files(coll / "indexes/index.cdxj") == names
        assert all(w.with_name(w.name + ".sig.json").exists() for w in warcs)
        verify = run_bewaar("verify", "--root", str(root), str(coll), timeout=300)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        # the updater filed every published file in the collection's ledger, each once
        ledger = [json.loads(x) for x in (coll / "ledger/ledger.jsonl").read_text().splitlines() if x]
        added = Counter(e["file"] for e in ledger if e.get("event") == "added")
        assert set(added) == names and set(added.values()) == {1}, added
        con = sqlite3.connect(root / "catalog.sqlite")
        try:
            assert con.execute("SELECT pages_ok FROM crawls WHERE crawl_id = ?", (crawl_id,)).fetchone() == (want,)
        finally:
            con.close()
        for s in sites.values():
            s.stop()  # replay must not need the live sites
        objects = [json.loads(x) for f in sorted((coll / "objects").glob("*.jsonl"))
                   for x in f.read_text().splitlines() if x]  # fmt: skip
        with Replay(root) as rp:
            for p in pages:
                if p["kind"] != "post":
                    continue
                own = next(o for o in objects if o["type"] == "post" and o["page_url"] == p["url"]
                           and not o.get("reply_to"))  # fmt: skip
                words = re.findall(r"[A-Za-zÀ-ÿ]{6,}", own.get("text") or own.get("title") or "")
                page, frame, _failed = open_page(browser, f"{rp.url}/multi/{p['url']}", framed=True)
                try:
                    page.wait_for_timeout(800)
                    assert words and words[0] in frame.evaluate("document.body.innerText"), p["url"]
                finally:
                    page.close()
    finally:
        for proc in workers.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(30)
        for s in sites.values():
            s.stop()

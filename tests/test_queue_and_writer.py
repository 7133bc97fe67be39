"""The queue's leases and the writer's files, without a browser, against a real redis-server.

- a worker's leased requests come back to the queue when it dies; an acknowledgement counts
  once; a run is complete when its pending count reaches zero;
- the request fingerprint set is per run (the next run crawls the page again);
- WARC files are keyed by (run, account): one file per account, named in its warcinfo;
- a POST whose answer equals an earlier one is stored whole, never as a revisit (pywb could
  not resolve it); a GET duplicate is a revisit;
- recovery keeps whole pages: the records of a page cut off by a crash are dropped;
- a run's wider context (replies, stories, ...) is queued and counted once across workers.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from scrapy.http import Request
from warcio.archiveiterator import ArchiveIterator

from bewaar.model import Collection, PageRequest
from crawler.recorder import Exchange
from crawler.redis_server import RedisServer
from crawler.redisq import decode, enqueue
from crawler.runstate import Pool, RedisDedup, connect, create_run, run_info
from crawler.warc_writer import Resource, WarcFiles, WarcSet, complete_prefix, recover
from tests.conftest import free_port


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    s = RedisServer(tmp_path_factory.mktemp("redis"), port=free_port())
    s.start()
    try:
        yield s
    finally:
        s.stop()


class _Spider:
    name = "bewaar"

    def parse_page(self, response: object) -> None: ...

    def on_error(self, failure: object) -> None: ...


def _request(run: str, url: str, depth: int = 0) -> Request:
    return Request(url, meta={"bewaar": PageRequest(0, url, depth, run=run).to_meta()}, priority=-depth)


def test_leases_of_a_dead_worker_return_and_acks_count_once(server: RedisServer) -> None:
    r = connect(server.url)
    r.flushdb()
    pool = Pool(r, "t")
    run, _ = create_run(r, "t", "run-a", {"crawl_id": "run-a"}, "key-a", due=100.0)
    assert enqueue(pool, _request(run, "http://x.test/1"), 100.0)
    assert enqueue(pool, _request(run, "http://x.test/2", 1), 100.0)
    assert not enqueue(pool, _request(run, "http://x.test/1"), 100.0)  # seen in this run
    assert run_info(r, run)["pending"] == 2
    # another run crawls the same page again (its own fingerprint set)
    other, _ = create_run(r, "t", "run-b", {"crawl_id": "run-b"}, "key-b", due=50.0)
    assert enqueue(pool, _request(other, "http://x.test/1"), 50.0)
    # the most overdue run first, then breadth first
    first = decode(pool.pop("w-dead", "lease-1"), _Spider())
    assert PageRequest.from_meta(first.meta["bewaar"]).run == "run-b"
    assert pool.pop("w-dead", "lease-1") is not None  # a retried pop returns the same lease
    second = decode(pool.pop("w-dead", "lease-2"), _Spider())
    assert second.url == "http://x.test/1" and pool.leased() == 2 and pool.queued() == 1
    # the worker never heartbeat (dead): its leases go back to the queue, pending unchanged
    assert pool.reclaim() == 2
    assert pool.leased() == 0 and pool.queued() == 3
    r.set("bewaar:worker:w-live", "1", ex=30)
    got = {decode(pool.pop("w-live", f"l{i}"), _Spider()).url for i in range(3)}
    assert got == {"http://x.test/1", "http://x.test/2"}
    assert pool.reclaim() == 0  # a live worker keeps its leases
    assert pool.ack("l0", "run-b") == 0 and pool.ack("l0", "run-b") == -1  # once only
    assert pool.take_complete() == ["run-b"]
    assert pool.ack("l1", run) == 1 and pool.ack("l2", run) == 0
    assert pool.take_complete() == [run]
    # the same seed list (run key) finds its unfinished run again
    assert create_run(r, "t", "run-c", {"crawl_id": "run-c"}, "key-a", due=1.0) == (run, True)


def test_a_killed_worker_process_is_known_dead_at_once(server: RedisServer) -> None:
    r = connect(server.url)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    import socket

    from crawler.runstate import worker_alive

    wid = f"{socket.gethostname()}-{proc.pid}"
    r.set(f"bewaar:worker:{wid}", "1", ex=30)
    assert worker_alive(r, wid)
    proc.kill()
    proc.wait()
    assert not worker_alive(r, wid)  # its liveness key still stands; its pid is gone


def _ex(url: str, body: bytes, method: str = "GET", status: int = 200) -> Exchange:
    return Exchange(
        request_id=url, url=url, method=method, request_headers=[("User-Agent", "t")],
        wall_time=time.time(), status=status, response_headers=[("Content-Type", "text/plain")],
        body=body, finished=True, request_body=b'{"q": 1}' if method == "POST" else None,
        is_main_document=url.endswith("/page"),
    )  # fmt: skip


def _records(path: Path) -> list[tuple[str, str, str]]:
    with path.open("rb") as fh:
        return [
            (r.rec_type, r.rec_headers.get_header("WARC-Target-URI"), r.rec_headers.get_header("WARC-Concurrent-To") or "")
            for r in ArchiveIterator(fh)
        ]


def test_files_per_account_and_no_revisits_of_posts(server: RedisServer, tmp_path: Path) -> None:
    r = connect(server.url)
    r.flushdb()
    coll = Collection(tmp_path, "c").ensure()
    dedup = RedisDedup(r, "c", coll.index_file)

    def make(group: str) -> WarcFiles:
        return WarcFiles(coll, "run-1", {"software": "t", "bewaar-group": group}, dedup=dedup)

    files = WarcSet(make)
    same = b"the same answer" * 20
    info = Resource("urn:pageinfo:http://a.test/page", "metadata", "application/json", b"{}")
    files.files("x:a").write_page(
        [_ex("http://a.test/page", b"page a"), _ex("http://a.test/app.js", same),
         _ex("http://a.test/api/comments", same, "POST")], [info], main_url="http://a.test/page",
    )  # fmt: skip
    files.files("x:b").write_page(
        [_ex("http://b.test/page", b"page b"), _ex("http://b.test/app.js", same),
         _ex("http://b.test/api/comments", same, "POST")], [info], main_url="http://b.test/page",
    )  # fmt: skip
    done = files.close()
    assert len(done) == 2 and {p.parent for p in done} == {coll.archive}
    by_group = {}
    for path in done:
        with path.open("rb") as fh:
            rec = next(iter(ArchiveIterator(fh)))
            fields = rec.content_stream().read().decode()
        group = next(ln.split(":", 1)[1].strip() for ln in fields.splitlines() if ln.startswith("bewaar-group"))
        by_group[group] = _records(path)
    kinds_b = {(k, u) for k, u, _ in by_group["x:b"] if k in ("response", "revisit")}
    # the GET duplicate (another account's file, the same collection) is a revisit ...
    assert ("revisit", "http://b.test/app.js") in kinds_b
    # ... the POST duplicate is stored whole: a revisit of a POST would not replay
    assert ("response", "http://b.test/api/comments") in kinds_b
    assert not any((u or "").startswith("http://a.test") for _k, u, _c in by_group["x:b"])
    # the dedup map is shared (Redis): another worker finds the original too
    other = RedisDedup(r, "c")
    from crawler.warc_writer import sha256_digest

    assert other.get(sha256_digest(same)).uri == "http://a.test/app.js"


def test_recovery_drops_a_page_cut_off_mid_write(tmp_path: Path) -> None:
    coll = Collection(tmp_path, "c").ensure()
    files = WarcFiles(coll, "run-1", {"software": "t"}, worker="w9")
    for n in (1, 2):
        files.write_page(
            [_ex(f"http://a.test/{n}/page", b"x" * 5000)],
            [Resource(f"urn:pageinfo:http://a.test/{n}/page", "metadata", "application/json", b"{}")],
            main_url=f"http://a.test/{n}/page",
        )  # fmt: skip
    whole_two_pages = files._fh.tell()  # noqa: SLF001 - where page 2 ended
    files.write_page([_ex("http://a.test/3/page", os.urandom(60_000))], [], main_url=None)
    files.sync()
    path = next((coll.tmp / "w9").glob("*.warc.gz"))
    assert "-w9-" in path.name  # the worker's id is in the name
    with path.open("r+b") as fh:
        fh.truncate(path.stat().st_size - 10)  # killed while page 3 was being written
    assert complete_prefix(path) > whole_two_pages  # page 3's request record is whole ...
    moved = recover(coll, coll.tmp / "w9")
    uris = [u for _k, u, _c in _records(moved[0])]
    assert moved[0].stat().st_size == whole_two_pages  # ... but page 3 is not kept
    assert not any("/3/" in (u or "") for u in uris)
    assert sum(1 for u in uris if (u or "").startswith("urn:pageinfo:")) == 2


def test_a_runs_wider_context_is_queued_and_counted_once_across_workers(
    server: RedisServer, tmp_path: Path
) -> None:
    """Two workers hold the same run (each its own CrawlJob, one RunStore in Redis): a post link
    one of them queued the other does not queue again, max_posts holds for the run as a whole,
    and a story both saw counts once in the run's totals (crawler/context.py on the job's sets)."""
    from dataclasses import dataclass, field
    from typing import Any

    from bewaar.config import RootConfig, SeedList
    from bewaar.model import PageKind, Root
    from crawler.job import CrawlJob
    from crawler.runstate import RunStore
    from crawler.targets import make_targets

    base = "https://social.example"
    seeds = SeedList.model_validate({"collection": "c", "seeds": [
        {"platform": "mastodon", "handle": "@minbzk@social.example", "base_url": base, "max_posts": 3}]})

    @dataclass
    class Cap:  # the parts of a PageCapture the context rules read
        post_links: list[str]
        kind: PageKind = PageKind.PROFILE
        url: str = base + "/@minbzk"
        objects: list[dict[str, Any]] = field(default_factory=list)
        behavior: Any = None
        not_followed: dict[str, str] = field(default_factory=dict)
        backfill: dict[str, Any] = field(default_factory=dict)

        @property
        def target(self) -> Any:
            return type("T", (), {"kind": self.kind})()

    r = connect(server.url)
    jobs = []
    for _ in range(2):  # as two workers load the run
        job = CrawlJob(Root(tmp_path), seeds, RootConfig(), crawl_id="ctx-run")
        job.store = RunStore(r, "ctx-run")
        job.adapters = make_targets(job)
        jobs.append(job)
    a, b = jobs
    t = a.targets[0]
    links = [f"{base}/@minbzk/{i}" for i in range(6, 0, -1)]
    req = PageRequest(t.index, t.url, 0, PageKind.PROFILE, run="ctx-run")
    first = [x.url for x in a.context.follow(t, Cap(links[:2]), req)]
    second_cap = Cap(links)
    second = [x.url for x in b.context.follow(b.targets[0], second_cap, req)]
    assert first == links[:2] and second == links[2:3]  # max_posts 3 for the run, not per worker
    assert set(second_cap.not_followed) == set(links[3:])

    story = {"type": "post", "id": "s1", "story": True, "author": {"handle": "minbzk"}}
    a.context.count(t, Cap([], PageKind.STORY, objects=[story]))
    b.context.count(b.targets[0], Cap([], PageKind.STORY, objects=[story, {**story, "id": "s2"}]))
    fresh = CrawlJob(Root(tmp_path), seeds, RootConfig(), crawl_id="ctx-run")
    fresh.store = RunStore(r, "ctx-run")
    fresh.adapters = make_targets(fresh)
    fresh.load_totals()
    assert fresh.accounts[t.account].stories == 2

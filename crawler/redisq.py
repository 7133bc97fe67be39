"""The Scrapy scheduler of a worker: scrapy-redis' scheduler and queue, with leases on top.

scrapy-redis keeps the requests (a sorted set, as its PriorityQueue) and the request
fingerprint set (its RFPDupeFilter's fingerprints) in Redis, so several workers share them; on its own it drops a request
the moment a worker pops it, and a worker that dies loses what it held. Here a pop moves the
request into a lease (crawler/runstate.py) that the worker renews while it lives and
acknowledges only when the page's records are written; a dead worker's leases return to the
queue. Differences from scrapy-redis' own:
- the fingerprint set is per run (a page is crawled once per run, and again in the next run),
  and checking it, queueing and counting the run's pending pages is one atomic script;
- the score orders runs by how overdue they are (the run's due time); runs due together take
  turns page by page (so a big account does not starve a small one); within a run, pages go
  in the order they were found (breadth first);
- requests are stored as JSON of bewaar's own PageRequest, not pickled.
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

from scrapy.http import Request
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler as RedisScheduler

from bewaar.model import PageRequest
from crawler.runstate import Pool

log = logging.getLogger(__name__)
CALLBACK, ERRBACK = "parse_page", "on_error"


def fingerprint(request: Request) -> str:
    """scrapy-redis' request fingerprint (method, canonical URL, body)."""
    return RFPDupeFilter.request_fingerprint(None, request)  # type: ignore[arg-type]


def encode(request: Request) -> bytes:
    """A page request as JSON: its URL, its PageRequest, priority and filter flag, and a token
    that makes every queued payload distinct. Not scrapy-redis' pickle: whoever can write to a
    shared Redis must not be able to run code in the workers (a pickle can)."""
    data = {
        "url": request.url,
        "bewaar": request.meta["bewaar"],
        "priority": request.priority,
        "dont_filter": request.dont_filter,
        "token": secrets.token_hex(6),
    }
    return json.dumps(data, ensure_ascii=False, sort_keys=True).encode()


def decode(payload: bytes, spider: Any) -> Request:
    data = json.loads(payload)
    req = PageRequest.from_meta(data["bewaar"])  # checks the fields
    return Request(
        str(data["url"]), callback=getattr(spider, CALLBACK), errback=getattr(spider, ERRBACK),
        meta={"playwright": True, "bewaar": req.to_meta()}, priority=int(data.get("priority", 0)),
        dont_filter=bool(data.get("dont_filter")),
    )  # fmt: skip


def enqueue(pool: Pool, request: Request, due: float) -> bool:
    """Queue a page request of a run unless the run has seen it (True when queued). The
    queue orders by the run's due time, then by the run's own order (crawler/runstate.py)."""
    run = PageRequest.from_meta(request.meta["bewaar"]).run
    fp = "" if request.dont_filter else fingerprint(request)
    return pool.push(run, encode(request), due, fp)


class LeasedQueue(PriorityQueue):
    """scrapy-redis' priority queue (a sorted set in Redis) whose pop leases a request instead
    of removing it, and whose push checks the run's fingerprints and counts the run's pending
    pages (crawler/runstate.Pool's scripts, atomic). Requests are JSON (encode/decode)."""

    def __init__(self, server: Any, spider: Any, key: str, serializer: Any = json) -> None:
        super().__init__(server, spider, key, serializer)
        self.worker = spider.worker
        self.pool: Pool = spider.worker.pool

    def _encode_request(self, request: Request) -> bytes:
        return encode(request)

    def _decode_request(self, encoded_request: bytes) -> Request:
        return decode(encoded_request, self.spider)

    def __len__(self) -> int:
        return self.pool.queued()

    def push(self, request: Request) -> bool:  # type: ignore[override]
        run = PageRequest.from_meta(request.meta["bewaar"]).run
        job = self.worker.runs.get(run)
        if job is None:
            return False  # its run is over (a time limit)
        ok = enqueue(self.pool, request, job.due)
        if ok:
            job.scheduled += 1
        return ok

    def pop(self, timeout: int = 0) -> Request | None:
        """The next request this worker may crawl, under a lease (None: nothing to do)."""
        while True:
            lease = secrets.token_hex(8)
            data = self.pool.pop(self.worker.id, lease)
            if data is None:
                return None
            request = self._decode_request(data)
            if self.worker.take(request, lease):
                return request


class Scheduler(RedisScheduler):
    """scrapy-redis' scheduler on the worker's pool; the worker (spider.worker) gives the
    connection, its id, the runs it knows and the leases it holds."""

    @classmethod
    def from_crawler(cls, crawler: Any) -> Scheduler:
        worker = crawler.spider.worker
        inst = cls(server=worker.redis, persist=True, dupefilter=_NoDupeFilter())
        inst.stats = crawler.stats
        inst.worker = worker
        return inst

    def open(self, spider: Any) -> None:
        self.spider = spider
        self.pool = self.worker.pool
        self.queue = LeasedQueue(self.server, spider, self.pool.queue)
        queued = self.pool.queued() + self.pool.leased()
        if queued:
            log.info("resuming: %d request(s) in the queue", queued)

    def close(self, reason: str) -> None:
        pass  # the queue persists: that is the point

    def enqueue_request(self, request: Request) -> bool:
        # the fingerprint check is part of the queue's push (per run, atomic)
        ok = self.queue.push(request)
        if ok and self.stats:
            self.stats.inc_value("scheduler/enqueued/redis", spider=self.spider)
        return ok

    def next_request(self) -> Request | None:
        if not self.worker.may_take():
            return None
        request = self.queue.pop()
        if request is not None and self.stats:
            self.stats.inc_value("scheduler/dequeued/redis", spider=self.spider)
        return request

    def has_pending_requests(self) -> bool:
        return self.worker.may_take() and self.pool.queued() > 0


class _NoDupeFilter:
    """The fingerprint check is part of the queue's push script (per run); scrapy-redis'
    scheduler wants an object here."""

    def request_seen(self, request: Request) -> bool:  # pragma: no cover - not called
        return False

    def clear(self) -> None:
        pass

    def close(self, reason: str = "") -> None:
        pass

    def log(self, request: Request, spider: Any) -> None:
        pass


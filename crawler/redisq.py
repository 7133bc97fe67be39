"""The Scrapy scheduler of a worker: scrapy-redis' scheduler and queue, with leases on top.

scrapy-redis keeps the requests (a sorted set, its PriorityQueue) and the request fingerprint
set (its RFPDupeFilter) in Redis, so several workers share them; on its own it drops a request
the moment a worker pops it, and a worker that dies loses what it held. Here a pop moves the
request into a lease (crawler/runstate.py) that the worker renews while it lives and
acknowledges only when the page's records are written; a dead worker's leases return to the
queue. Differences from scrapy-redis' own:
- the fingerprint set is per run (a page is crawled once per run, and again in the next run),
  and checking it, queueing and counting the run's pending pages is one atomic script;
- the score orders runs by how overdue they are (the run's due time), breadth first within
  a run (depth).
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from scrapy.http import Request
from scrapy.utils.request import request_from_dict
from scrapy_redis import picklecompat
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.scheduler import Scheduler as RedisScheduler

from bewaar.model import PageRequest
from crawler.runstate import Pool

log = logging.getLogger(__name__)
CALLBACK, ERRBACK = "parse_page", "on_error"


def fingerprint(request: Request) -> str:
    """scrapy-redis' request fingerprint (method, canonical URL, body)."""
    return RFPDupeFilter.request_fingerprint(None, request)  # type: ignore[arg-type]


def encode(request: Request) -> bytes:
    """A request as plain data (scrapy-redis' pickle of Request.to_dict), with the spider's
    callbacks named; a token makes every queued payload distinct."""
    data = request.to_dict()
    data["callback"], data["errback"] = CALLBACK, ERRBACK
    data["meta"] = {**data.get("meta", {}), "bewaar_token": secrets.token_hex(6)}
    return picklecompat.dumps(data)


def decode(payload: bytes, spider: Any) -> Request:
    return request_from_dict(picklecompat.loads(payload), spider=spider)


def score(due: float, request: Request) -> float:
    """Lower first: the run's due time (the most overdue run first), then depth (breadth
    first: scrapy's priority is minus the depth)."""
    return due - request.priority * 0.001


def enqueue(pool: Pool, request: Request, due: float) -> bool:
    """Queue a page request of a run unless the run has seen it (True when queued)."""
    run = PageRequest.from_meta(request.meta["bewaar"]).run
    fp = "" if request.dont_filter else fingerprint(request)
    return pool.push(run, encode(request), score(due, request), fp)


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
        queued = self.pool.queued() + self.pool.leased()
        if queued:
            log.info("resuming: %d request(s) in the queue", queued)

    def close(self, reason: str) -> None:
        pass  # the queue persists: that is the point

    def __len__(self) -> int:
        return self.pool.queued()

    def enqueue_request(self, request: Request) -> bool:
        run = PageRequest.from_meta(request.meta["bewaar"]).run
        job = self.worker.runs.get(run)
        if job is None:
            return False  # its run is over (a time limit)
        ok = enqueue(self.pool, request, job.due)
        if ok:
            job.scheduled += 1
            if self.stats:
                self.stats.inc_value("scheduler/enqueued/redis", spider=self.spider)
        return ok

    def next_request(self) -> Request | None:
        if not self.worker.may_take():
            return None
        while True:
            lease = secrets.token_hex(8)
            data = self.pool.pop(self.worker.id, lease)
            if data is None:
                return None
            request = decode(data, self.spider)
            if self.worker.take(request, lease):
                if self.stats:
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


"""Crawl state in Redis: runs, their queue with leases, counters, and the collection's dedup map.

One mechanism for every mode: `bewaar crawl` and `bewaar watch` keep it in the root's private
redis-server (crawler/redis_server.py), `--redis URL` in a shared one that several workers
serve. Because every page request, every lease and every counter lives in Redis (append-only,
fsynced), a crawl killed with SIGKILL is resumed by running the same command again: pages
written are acknowledged and not crawled again, pages in flight come back when their lease is
reclaimed.

A *run* is one crawl of one seed list (one collection, one crawl id); a *pool* is a queue that
workers serve (`crawl-KEY` for a local crawl, `watch-KEY` for a local watch, `shared` for
workers). A run is complete when its pending count (enqueued minus acknowledged: a page is
acknowledged only after its records are written) is zero and its re-checks are done.

Keys (all under `bewaar:`): `run:ID` (hash: definition, state, pending), `run:ID:n` (counters),
`run:ID:L:NAME` (lists), `run:ID:S:NAME` (sets), `run:ID:fp` (request fingerprints: scrapy-redis'
dupefilter set, one per run), `runkey:KEY` (the unfinished run of a seed list), `pool:P:q`
(scrapy-redis' priority queue), `pool:P:leases` / `:ldata` / `:lowner` / `:lscore` (leases),
`pool:P:runs`, `pool:P:complete`, `worker:ID` (liveness), `dedup:COLLECTION` (payload digest ->
original record), `updater:P` (the one updater's lock).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)
P = "bewaar:"
LEASE_SECONDS = 300.0  # renewed every few seconds while a worker lives; reclaimed when it dies
WORKER_TTL = 20  # seconds a worker's liveness key outlives its last heartbeat
HEARTBEAT = 3.0


class _PatientRetry(Retry):
    """Redis going away makes a worker wait and retry (for ever), saying so once in a while,
    never crash or drop what it was doing. `on_down` may restart a private server."""

    def __init__(self, on_down: Any = None) -> None:
        super().__init__(ExponentialBackoff(cap=5.0, base=0.2), -1)
        self.on_down = on_down
        self._said = 0.0

    def __deepcopy__(self, memo: dict[int, Any]) -> _PatientRetry:
        return self  # redis-py copies it per connection; ours holds no per-connection state

    def call_with_retry(self, do: Any, fail: Any, *args: Any, **kw: Any) -> Any:
        def failed(error: Exception, *rest: Any) -> None:
            now = time.monotonic()
            if now - self._said > 30:
                self._said = now
                # said on stderr whatever the log level: an operator must see why work stalls
                print(f"redis unavailable ({error}); waiting and retrying", file=sys.stderr, flush=True)
            if self.on_down is not None:
                try:
                    self.on_down()
                except Exception as e:  # noqa: BLE001 - keep waiting
                    log.debug("could not restart the queue server: %s", e)
            if rest:
                fail(error, *rest)
            else:
                fail(error)

        # redis-py 6+ asks for the failure count (with_failure_count=True) and its callback needs
        # it: passed through as given
        return super().call_with_retry(do, failed, *args, **kw)


def connect(url: str, on_down: Any = None) -> redis.Redis:
    """A client that waits out an unavailable server (retries for ever, with backoff)."""
    return redis.Redis.from_url(
        url, retry=_PatientRetry(on_down),
        retry_on_error=[redis.ConnectionError, redis.TimeoutError, ConnectionError, OSError],
        socket_timeout=60, socket_connect_timeout=5, health_check_interval=15,
    )  # fmt: skip


def worker_id(name: str | None = None) -> str:
    """host-pid (or the given name), made safe for file names."""
    import re

    raw = name or f"{socket.gethostname()}-{os.getpid()}"
    return re.sub(r"[^A-Za-z0-9.-]+", "-", raw).strip("-.")[:60] or "worker"


def worker_alive(r: redis.Redis, wid: str) -> bool:
    """Its liveness key is there, and (on this host) its process still runs: a worker killed
    here is known dead at once, not only when its key expires."""
    if not r.exists(P + f"worker:{wid}"):
        return False
    host, _, pid = wid.rpartition("-")
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
    return True


# --------------------------------------------------------------------------- scripts

# Push a request unless the run has seen its fingerprint; count it pending. Its score is the
# run's due time plus a millisecond per page the run queued before: the most overdue run goes
# first, runs due together take turns page by page, and within a run pages go in the order
# they were found (breadth first). Idempotent when retried after a lost reply (the same
# payload is not added twice).
_PUSH = """
if ARGV[3] ~= '' then
  if redis.call('SADD', KEYS[3], ARGV[3]) == 0 then return 0 end
end
local n = tonumber(redis.call('HGET', KEYS[2], 'enqueued') or '0') + 1
if redis.call('ZADD', KEYS[1], 'NX', tonumber(ARGV[2]) + n * 0.001, ARGV[1]) == 1 then
  redis.call('HINCRBY', KEYS[2], 'pending', 1)
  redis.call('HINCRBY', KEYS[2], 'enqueued', 1)
  return 1
end
return 0
"""
# Pop the lowest-scored request into a lease (owner, deadline). Retried with the same lease id
# it returns the same request (never a second one under that id).
_POP = """
local held = redis.call('HGET', KEYS[3], ARGV[4])
if held then return held end
local items = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #items == 0 then return false end
redis.call('ZREM', KEYS[1], items[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[4])
redis.call('HSET', KEYS[3], ARGV[4], items[1])
redis.call('HSET', KEYS[4], ARGV[4], ARGV[3])
redis.call('HSET', KEYS[5], ARGV[4], items[2])
return items[1]
"""
# Acknowledge a lease (its page is written, or failed for good): pending - 1; a run whose
# pending reaches zero is marked for the updater. A lease already reclaimed counts nothing.
_ACK = """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return -1 end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
local n = redis.call('HINCRBY', KEYS[5], 'pending', -1)
if n <= 0 then redis.call('SADD', KEYS[6], ARGV[2]) end
return n
"""
# A lease whose worker died (or whose time ran out) goes back to the queue, with its score.
_REQUEUE = """
if redis.call('ZREM', KEYS[2], ARGV[1]) == 0 then return 0 end
local data = redis.call('HGET', KEYS[3], ARGV[1])
local score = redis.call('HGET', KEYS[5], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
redis.call('HDEL', KEYS[5], ARGV[1])
if data then redis.call('ZADD', KEYS[1], score or 0, data) end
return 1
"""


class Pool:
    """A queue that workers serve: scrapy-redis' priority queue plus leases."""

    def __init__(self, r: redis.Redis, name: str) -> None:
        self.r = r
        self.name = name
        base = P + f"pool:{name}:"
        self.queue = base + "q"
        self.leases = base + "leases"
        self.ldata = base + "ldata"
        self.lowner = base + "lowner"
        self.lscore = base + "lscore"
        self.runs_key = base + "runs"
        self.complete_key = base + "complete"
        self._push = r.register_script(_PUSH)
        self._pop = r.register_script(_POP)
        self._ack = r.register_script(_ACK)
        self._requeue = r.register_script(_REQUEUE)

    def push(self, run_id: str, payload: bytes, score: float, fingerprint: str = "") -> bool:
        keys = [self.queue, run_key(run_id), run_key(run_id, "fp")]
        return bool(self._push(keys=keys, args=[payload, repr(score), fingerprint]))

    def pop(self, wid: str, lease: str) -> bytes | None:
        keys = [self.queue, self.leases, self.ldata, self.lowner, self.lscore]
        data = self._pop(keys=keys, args=["", repr(time.time() + LEASE_SECONDS), wid, lease])
        return data or None

    def ack(self, lease: str, run_id: str) -> int:
        keys = [self.leases, self.ldata, self.lowner, self.lscore, run_key(run_id), self.complete_key]
        return int(self._ack(keys=keys, args=[lease, run_id]))

    def renew(self, leases: Iterable[str]) -> None:
        leases = list(leases)
        if leases:
            deadline = time.time() + LEASE_SECONDS
            self.r.zadd(self.leases, dict.fromkeys(leases, deadline), xx=True)

    def reclaim(self) -> int:
        """Leases whose worker is dead (or whose time ran out) go back to the queue."""
        expired = {x.decode() for x in self.r.zrangebyscore(self.leases, "-inf", time.time())}
        owners = {k.decode(): v.decode() for k, v in self.r.hgetall(self.lowner).items()}
        alive: dict[str, bool] = {}
        for lease, wid in owners.items():
            if wid not in alive:
                alive[wid] = worker_alive(self.r, wid)
            if not alive[wid]:
                expired.add(lease)
        n = 0
        for lease in expired:
            keys = [self.queue, self.leases, self.ldata, self.lowner, self.lscore]
            n += int(self._requeue(keys=keys, args=[lease]))
        if n:
            log.info("%d request(s) of a worker that stopped went back to the queue", n)
        return n

    def queued(self) -> int:
        return int(self.r.zcard(self.queue))

    def leased(self) -> int:
        return int(self.r.zcard(self.leases))

    def runs(self) -> list[str]:
        return sorted(x.decode() for x in self.r.smembers(self.runs_key))

    def take_complete(self) -> list[str]:
        """Runs whose pending count reached zero since the last look."""
        out = []
        while True:
            x = self.r.spop(self.complete_key)
            if x is None:
                return out
            out.append(x.decode())

    def mark_complete(self, run_id: str) -> None:
        self.r.sadd(self.complete_key, run_id)


def run_key(run_id: str, suffix: str = "") -> str:
    return P + f"run:{run_id}" + (f":{suffix}" if suffix else "")


# --------------------------------------------------------------------------- runs


def create_run(
    r: redis.Redis, pool: str, run_id: str, definition: dict[str, Any], key: str | None,
    due: float,
) -> tuple[str, bool]:
    """A new run in `pool`, or the unfinished run of the same seed list (key) to resume:
    (run id, resumed)."""
    if key:
        existing = r.get(P + f"runkey:{key}")
        if existing is not None:
            rid = existing.decode()
            if r.hget(run_key(rid), "state") not in (None, b"done"):
                return rid, True
    r.hset(run_key(run_id), mapping={
        "def": json.dumps(definition, ensure_ascii=False), "pool": pool, "state": "active",
        "pending": 0, "enqueued": 0, "due": repr(due), "created": repr(time.time()),
        "key": key or "",
    })  # fmt: skip
    if key:
        r.set(P + f"runkey:{key}", run_id)
    r.sadd(P + f"pool:{pool}:runs", run_id)
    return run_id, False


def run_info(r: redis.Redis, run_id: str) -> dict[str, Any] | None:
    raw = r.hgetall(run_key(run_id))
    if not raw:
        return None
    info: dict[str, Any] = {k.decode(): v.decode() for k, v in raw.items()}
    info["def"] = json.loads(info.get("def") or "{}")
    for k in ("pending", "enqueued"):
        info[k] = int(info.get(k) or 0)
    for k in ("due", "created", "first_page", "deadline"):
        if info.get(k):
            info[k] = float(info[k])
    return info


def set_run(r: redis.Redis, run_id: str, **fields: Any) -> None:
    r.hset(run_key(run_id), mapping={k: (v if isinstance(v, str) else repr(v)) for k, v in fields.items()})


def end_run(r: redis.Redis, run_id: str, keep_seconds: int = 86400) -> None:
    """A finished run: its seed list starts afresh next time; its counters, lists, sets and
    fingerprints go (the report has them); its hash stays a day, marked done, for a worker
    that still holds one of its pages."""
    info = run_info(r, run_id)
    r.hset(run_key(run_id), "state", "done")
    if info is not None:
        if info.get("key") and r.get(P + f"runkey:{info['key']}") == run_id.encode():
            r.delete(P + f"runkey:{info['key']}")
        r.srem(P + f"pool:{info.get('pool')}:runs", run_id)
    for k in list(r.scan_iter(run_key(run_id, "*"), count=1000)):
        r.delete(k)
    r.expire(run_key(run_id), keep_seconds)


def forget_payloads(r: redis.Redis, collection: str) -> None:
    """Drop a collection's dedup map; it is seeded again from the collection's index when next
    needed. Needed after WARC files were destroyed (retention): revisits must never point at
    a record that is gone."""
    r.delete(P + f"dedup:{collection}", P + f"dedup:{collection}:seeded")


def forget_collection_payloads(state_dir: Path, collection: str) -> str | None:
    """After records were destroyed or redacted: the root's private queue forgets the
    collection's dedup map (payload digest -> URI and date of its original) and rewrites its
    append-only file, which otherwise keeps a deleted key's bytes on disk. Returns a line
    saying what was done, or None when the root has no queue yet. A shared Redis (workers) is
    the operator's: `docs/records.md` says what to run there."""
    from crawler.redis_server import RedisServer

    if not (state_dir / "appendonlydir").exists():
        return None
    server = RedisServer(state_dir)
    try:
        r = redis.Redis.from_url(server.ensure(), socket_timeout=60)
        forget_payloads(r, collection)
        r.bgrewriteaof()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            info = r.info("persistence")
            if not info.get("aof_rewrite_in_progress") and not info.get("aof_rewrite_scheduled"):
                break
            time.sleep(0.05)
        r.close()
    finally:
        server.stop()  # only stops a server this process started
    return "queue: the collection's payload map forgotten, its file rewritten"


def active_runs(r: redis.Redis) -> list[dict[str, Any]]:
    """Every unfinished run in every pool (for `bewaar watch status`)."""
    out = []
    for key in r.scan_iter(P + "pool:*:runs"):
        for rid in r.smembers(key):
            info = run_info(r, rid.decode())
            if info is not None:
                info["id"] = rid.decode()
                out.append(info)
    return out


class RunStore:
    """A run's counters, lists and sets in Redis: what the report is written from, whichever
    process (or processes) crawled it."""

    def __init__(self, r: redis.Redis, run_id: str) -> None:
        self.r = r
        self.run_id = run_id
        self.counters = run_key(run_id, "n")

    def incr(self, **fields: int) -> None:
        pipe = self.r.pipeline(transaction=False)
        for k, v in fields.items():
            if v:
                pipe.hincrby(self.counters, k, v)
        pipe.execute()

    def incr_many(self, fields: dict[str, int]) -> None:
        pipe = self.r.pipeline(transaction=False)
        for k, v in fields.items():
            if v:
                pipe.hincrby(self.counters, k, v)
        pipe.execute()

    def set_max(self, field: str, value: int) -> None:
        """(for a total such as bytes written, kept per worker and summed)"""
        self.r.hset(self.counters, field, value)

    def counts(self) -> dict[str, int]:
        return {k.decode(): int(v) for k, v in self.r.hgetall(self.counters).items()}

    def append(self, name: str, value: Any) -> None:
        self.r.rpush(run_key(self.run_id, f"L:{name}"), json.dumps(value, ensure_ascii=False))

    def items(self, name: str) -> list[Any]:
        return [json.loads(x) for x in self.r.lrange(run_key(self.run_id, f"L:{name}"), 0, -1)]

    def add(self, name: str, *members: str) -> int:
        """Members new to the set NAME (how many)."""
        if not members:
            return 0
        return int(self.r.sadd(run_key(self.run_id, f"S:{name}"), *members))

    def members(self, name: str) -> set[str]:
        return {x.decode() for x in self.r.smembers(run_key(self.run_id, f"S:{name}"))}

    def size(self, name: str) -> int:
        return int(self.r.scard(run_key(self.run_id, f"S:{name}")))

    def hincr(self, name: str, field: str, n: int = 1) -> int:
        return int(self.r.hincrby(run_key(self.run_id, f"H:{name}"), field, n))


# --------------------------------------------------------------------------- dedup


class RedisDedup:
    """The collection's payload digest -> original record, shared by every run and worker
    (crawler.dedup.DedupIndex's interface). Seeded once from the collection's CDXJ index, so a
    root that predates it loses no deduplication; filled as pages are written."""

    def __init__(self, r: redis.Redis, collection: str, index_file: Any = None) -> None:
        self.r = r
        self.key = P + f"dedup:{collection}"
        self._cache: dict[str, Any] = {}
        self._added: dict[str, Any] | None = None
        if index_file is not None and not r.exists(self.key + ":seeded"):
            self._seed(index_file)

    def _seed(self, index_file: Any) -> None:
        from crawler.dedup import DedupIndex

        idx = DedupIndex.from_cdxj([index_file])
        pipe = self.r.pipeline(transaction=False)
        for i, (digest, orig) in enumerate(idx.items()):
            pipe.hsetnx(self.key, digest, json.dumps([orig.uri, orig.date, orig.record_id]))
            if i % 1000 == 999:
                pipe.execute()
        pipe.set(self.key + ":seeded", "1")
        pipe.execute()

    def prefetch(self, digests: Iterable[str]) -> None:
        """One round trip for a page's digests."""
        want = [d for d in dict.fromkeys(digests) if d not in self._cache]
        if not want:
            return
        from crawler.dedup import Original

        for d, v in zip(want, self.r.hmget(self.key, want), strict=True):
            if v is not None:
                uri, date, rid = json.loads(v)
                self._cache[d] = Original(uri, date, rid)
            else:
                self._cache[d] = None

    def get(self, digest: str) -> Any:
        if digest not in self._cache:
            self.prefetch([digest])
        return self._cache.get(digest)

    def add(self, digest: str, original: Any) -> None:
        if self._cache.get(digest) is None:
            self._cache[digest] = original
            if self._added is not None:
                self._added[digest] = original

    def transaction(self) -> Any:
        """Originals of a page reach Redis only once the page is written whole; a page cut
        from the WARC after a failed write leaves nothing behind."""
        import contextlib

        @contextlib.contextmanager
        def tx() -> Any:
            self._added = {}
            try:
                yield
            except BaseException:
                for d in self._added:
                    self._cache.pop(d, None)
                raise
            else:
                if self._added:
                    pipe = self.r.pipeline(transaction=False)
                    for d, o in self._added.items():
                        pipe.hsetnx(self.key, d, json.dumps([o.uri, o.date, o.record_id]))
                    results = pipe.execute()
                    # another worker stored the same payload first: later pages point at its
                    # record (ours stays a full response, replayable on its own)
                    for d, added in zip(self._added, results, strict=True):
                        if not added:
                            self._cache.pop(d, None)
            finally:
                self._added = None
                if len(self._cache) > 200_000:
                    self._cache.clear()

        return tx()

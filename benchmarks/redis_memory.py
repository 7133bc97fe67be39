"""Redis memory per URL: queued page requests, request fingerprints, dedup entries.

    .venv/bin/python benchmarks/redis_memory.py [--n 20000]

Starts its own redis-server (like the tests), fills it through bewaar's own code paths (the
enqueue script, the dedup map) with --n synthetic page requests of a run and --n payload
digests, and reports Redis' used_memory per item, extrapolated to a million URLs. No browser.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scrapy.http import Request  # noqa: E402

from bewaar.model import PageKind, PageRequest  # noqa: E402
from crawler.dedup import Original  # noqa: E402
from crawler.redis_server import RedisServer, free_port  # noqa: E402
from crawler.redisq import enqueue  # noqa: E402
from crawler.runstate import Pool, RedisDedup, connect, create_run  # noqa: E402
from crawler.warc_writer import sha256_digest  # noqa: E402


def used(r: object) -> int:
    return int(r.info("memory")["used_memory"])  # type: ignore[attr-defined]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, RedisServer(Path(tmp), port=free_port()) as server:
        r = connect(server.url)
        pool = Pool(r, "bench")
        run, _ = create_run(r, "bench", "20310101T000000Z-abcd", {"crawl_id": "x"}, "k", due=0.0)
        base = used(r)
        for i in range(args.n):
            url = f"https://social.example.nl/@account{i % 300}/status/{1790000000000000000 + i}"
            req = PageRequest(i % 300, url, 1, PageKind.POST, scoped=True, run=run)
            enqueue(pool, Request(url, meta={"playwright": True, "bewaar": req.to_meta()}, priority=-1), 0.0)
        queued = used(r)
        r.delete(pool.queue)  # what stays once the requests are crawled: the fingerprints
        fingerprints = used(r)
        dedup = RedisDedup(r, "bench")
        with dedup.transaction():
            for i in range(args.n):
                dedup.add(sha256_digest(str(i).encode()), Original(
                    f"https://cdn.example.nl/media/{i}/image-1080.jpg", "2031-01-01T00:00:00.123456Z",
                    f"<urn:uuid:{i:08d}-0000-4000-8000-000000000000>"))  # fmt: skip
        digests = used(r)
    per = {
        "queued_request_bytes": (queued - fingerprints + (fingerprints - base)) / args.n,
        "fingerprint_bytes": (fingerprints - base) / args.n,
        "dedup_entry_bytes": (digests - fingerprints) / args.n,
    }
    per["million_urls_mb"] = {
        "queue_while_queued": round(per["queued_request_bytes"] * 1e6 / 1e6),
        "fingerprints": round(per["fingerprint_bytes"] * 1e6 / 1e6),
        "dedup_map": round(per["dedup_entry_bytes"] * 1e6 / 1e6),
    }
    print(json.dumps({"n": args.n, **{k: (round(v) if isinstance(v, float) else v) for k, v in per.items()}}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

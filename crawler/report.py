"""collections/NAME/crawls/CRAWL_ID.json and the summary printed after a crawl."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

from crawler.job import CrawlJob


def write_report(job: CrawlJob, index_entries: int) -> Path:
    """collections/NAME/crawls/CRAWL_ID.json: what this crawl did, for people and the catalog."""
    path = job.collection.path / "crawls" / f"{job.crawl_id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "crawl_id": job.crawl_id,
        "collection": job.collection.name,
        "software": job.software,
        "seed_file": str(job.seed_file) if job.seed_file else None,
        "started": job.started,
        "seconds": round(job.elapsed, 1),
        "targets": [
            {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(t).items()}
            for t in job.targets
        ],
        "pages": {"ok": job.done, "blocked": job.blocked, "failed": job.failed},
        "stats": job.stats_snapshot,
        "accounts": {k: asdict(v) for k, v in job.accounts.items()},
        "failures": [{"url": u, "reason": r} for u, r in job.failures],
        "blocked": [{"url": u, "reason": r} for u, r in job.blocked_pages],
        "gone": [{"url": u, "reason": r} for u, r in job.gone],
        "warcs": [p.name for p in job.warcs],
        "bytes": job.bytes_written,
        "records": job.records,
        "index_entries": index_entries,
        "messages": job.messages,
    }
    # a login session's secrets stay out of the report too (failed URLs, messages)
    text = job.redact_text(json.dumps(data, indent=1, ensure_ascii=False))
    path.write_text(text, encoding="utf-8")
    return path


def print_summary(job: CrawlJob, index_entries: int, report: Path) -> None:
    out = _Redacting(job)
    print(
        f"\nCrawl {job.crawl_id} of '{job.collection.name}': {job.done} page(s) captured, "
        f"{job.blocked} blocked, {job.failed} failed in {job.elapsed:.0f}s",
        file=out,
    )
    print(
        f"  {job.bytes_written / 1_000_000:.1f} MB in {len(job.warcs)} WARC file(s), "
        f"{job.records} records; {index_entries} index entries added",
        file=out,
    )
    for name, st in job.accounts.items():
        print(
            f"  {name}: {st.pages} page(s), {st.posts} post(s), {st.replies} repl(y/ies), "
            f"{st.media} media, {st.blocked} blocked, {st.failed} failed",
            file=out,
        )
        more = [
            f"{n} {words}"
            for n, words in (
                (st.own_replies, "repl(y/ies) by the account"),
                (st.received, "received (mentions, tags)"),
                (st.stories, "stor(y/ies)"),
                (st.relations, "follow relation(s)"),
                (st.out_of_scope, "out of scope (its seed's rules)"),
            )
            if n
        ]
        if more:
            print(f"    also: {', '.join(more)}", file=out)
    for msg in job.messages:
        print(f"  note: {msg}", file=out)
    if job.blocked_pages:
        print("Blocked (recorded, not counted as captured):", file=out)
        for url, reason in job.blocked_pages:
            print(f"  {url} — {reason}", file=out)
    if job.gone:
        print("No longer online (checked because an earlier crawl saw them):", file=out)
        for url, reason in job.gone:
            print(f"  {url} — {reason}", file=out)
    if job.failures:
        print("Failed:", file=out)
        for url, reason in job.failures:
            print(f"  {url} — {reason}", file=out)
    print(f"  report: {report}", file=out, flush=True)


class _Redacting:
    """stderr, without a login session's secrets (watch keeps these lines in its logs)."""

    def __init__(self, job: CrawlJob) -> None:
        self.job = job

    def write(self, text: str) -> int:
        return sys.stderr.write(self.job.redact_text(text))

    def flush(self) -> None:
        sys.stderr.flush()

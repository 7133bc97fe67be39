"""Catalog size and speed for many accounts crawled often.

    .venv/bin/python benchmarks/catalog_scale.py [--accounts 100] [--crawls 24] [--posts 20]

Writes --crawls crawls of each of --accounts accounts (hourly, one crawl per account as
`bewaar watch` runs them) with the crawler's own WARC writer: a profile page listing the
newest --posts posts and two post pages; each crawl adds one post per account, edits one in
twenty, and every count changes (as likes do). Then measures:
  * reading each crawl into the catalog (the hook the crawler calls), per crawl;
  * `catalog rebuild` of everything from the WARCs;
  * catalog size, and rows per table (versions are kept only when something changed);
  * the queries behind the overview page, a keyword search, `bewaar changes` and the
    re-check list, on the full catalog.
Results go to benchmarks/results/catalog_scale.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bewaar.app.web.overview import OverviewApp  # noqa: E402
from bewaar.model import Root  # noqa: E402
from bewaar.sites.synth import Synth, post, post_page, profile, profile_page  # noqa: E402
from catalog.api import known_posts, update_after_crawl  # noqa: E402
from catalog.db import open_catalog, open_readonly  # noqa: E402
from catalog.ingest import rebuild  # noqa: E402
from catalog.query import ChangeFilter as Filter  # noqa: E402
from catalog.query import list_changes as query  # noqa: E402

WORDS = ("open", "data", "overheid", "woo", "rapport", "digitaal", "burger", "gemeente",
         "wet", "besluit", "vandaag", "nieuws", "toegankelijk", "jaarverslag", "privacy")  # fmt: skip


def text_for(account: int, n: int, edit: int = 0) -> str:
    words = [WORDS[(account * 7 + n * 3 + i) % len(WORDS)] for i in range(12)]
    return f"Bericht {n} van account {account}: " + " ".join(words) + (f" (bijgewerkt {edit})" if edit else "")


def call(app: OverviewApp, path: str, query_string: str = "") -> tuple[float, int]:
    status = []
    t = time.perf_counter()
    body = app({"PATH_INFO": path, "QUERY_STRING": query_string, "REQUEST_METHOD": "GET"},
               lambda s, h: status.append(s))  # fmt: skip
    return time.perf_counter() - t, len(body[0]) if status[0].startswith("200") else -1


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--accounts", type=int, default=100)
    ap.add_argument("--crawls", type=int, default=24)
    ap.add_argument("--posts", type=int, default=20)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        s = Synth(Path(tmp) / "root")
        start = datetime(2024, 5, 1, tzinfo=UTC)
        per_crawl: list[float] = []
        edits: dict[int, int] = {}
        write_s = 0.0
        for c in range(args.crawls):
            for a in range(args.accounts):
                handle = f"acct{a}"
                newest = args.posts + c  # one new post per crawl
                visible = list(range(newest, newest - args.posts, -1))
                if c and (a + c) % 20 == 0:  # one edit in twenty account-crawls
                    edits[a] = edits.get(a, 0) + 1
                posts = [
                    post(f"{a}-{n}", text_for(a, n, edits.get(a, 0) if n == args.posts else 0),
                         handle=handle, likes=10 * c + n,
                         published=(start + timedelta(hours=c)).strftime("%Y-%m-%dT%H:%M:%SZ"))
                    for n in visible
                ]  # fmt: skip
                when = (start + timedelta(hours=c, seconds=a * 10)).strftime("%Y-%m-%dT%H:%M:%SZ")
                t = time.perf_counter()
                crawl_id = s.crawl(
                    when,
                    [profile_page(profile(handle=handle, followers=1000 + c), *posts, handle=handle),
                     post_page(posts[0]), post_page(posts[1])],
                    handle=handle,
                )  # fmt: skip
                write_s += time.perf_counter() - t
                t = time.perf_counter()
                lines = update_after_crawl(s.root.path, "gov", crawl_id)
                per_crawl.append(time.perf_counter() - t)
                assert lines and not lines[0].startswith("catalog not updated"), lines
            print(f"crawl round {c + 1}/{args.crawls}: median read {statistics.median(per_crawl) * 1000:.1f} ms",
                  file=sys.stderr)  # fmt: skip

        db = s.root.catalog_file
        con = open_readonly(db)
        rows = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # noqa: S608
                for t in ("crawls", "accounts", "pages", "posts", "post_versions", "post_sightings",
                          "changes")}  # fmt: skip
        try:
            sizes = {
                name: round(n / 1e6, 2)
                for name, n in con.execute(
                    "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC LIMIT 8"
                )
            }
        except Exception:  # noqa: BLE001 - SQLite built without dbstat
            sizes = {}
        t = time.perf_counter()
        found = query(con, Filter())
        changes_s = time.perf_counter() - t
        con.close()
        t = time.perf_counter()
        kp = known_posts(s.root.path, "gov", "mastodon:acct0")
        known_s = time.perf_counter() - t
        size = db.stat().st_size + sum(p.stat().st_size for p in db.parent.glob("catalog.sqlite-*"))
        warc_bytes = sum(p.stat().st_size for p in s.coll.archive.glob("*.warc.gz"))

        app = OverviewApp(db)
        for path in ("/_overview", "/_overview/post/1", "/_overview/account/1"):
            call(app, path)  # templates compile once per process
        pages = {
            "index": call(app, "/_overview"),
            "search": call(app, "/_overview", "q=jaarverslag+privacy"),
            "search_prefix": call(app, "/_overview", "q=toegank*"),
            "filter_edited": call(app, "/_overview", "change=edited"),
            "filter_account_dates": call(app, "/_overview", "account=5&from=2024-05-01&to=2024-05-01"),
            "post": call(app, "/_overview/post/1"),
            "account": call(app, "/_overview/account/1"),
        }

        con = open_catalog(db)
        t = time.perf_counter()
        rebuild(con, db, Root(s.root.path))
        rebuild_s = time.perf_counter() - t
        con.close()

    result = {
        "machine": f"{platform.machine()} {platform.system()}, Python {platform.python_version()}",
        "params": vars(args),
        "account_crawls": len(per_crawl),
        "read_after_crawl_ms": {
            "median": round(statistics.median(per_crawl) * 1000, 1),
            "p95": round(sorted(per_crawl)[int(len(per_crawl) * 0.95)] * 1000, 1),
            "last_round_median": round(statistics.median(per_crawl[-args.accounts:]) * 1000, 1),
        },
        "rebuild_s": round(rebuild_s, 1),
        "synthetic_warcs_mb": round(warc_bytes / 1e6, 1),
        "catalog_mb": round(size / 1e6, 1),
        "rows": rows,
        "largest_mb": sizes,
        "changes_listed": len(found),
        "changes_query_ms": round(changes_s * 1000, 1),
        "known_posts": len(kp),
        "known_posts_ms": round(known_s * 1000, 1),
        "overview_ms": {k: round(v[0] * 1000, 1) for k, v in pages.items()},
        "overview_ok": all(v[1] > 0 for v in pages.values()),
    }
    out = REPO / "benchmarks" / "results" / "catalog_scale.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

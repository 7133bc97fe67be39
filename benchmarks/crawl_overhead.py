"""Crawl speed and recording overhead on the example site.

    .venv/bin/python benchmarks/crawl_overhead.py [--posts 40] [--concurrency 2] [--runs 2]

Serves the example social site on 127.0.0.1 (a profile with --posts posts, so posts + 1
pages), then, best of --runs each:
  * `bewaar crawl` of the profile and its posts (recording, screenshots, DOM, WARC writing,
    signing, indexing included): wall time and pages/minute;
  * a bare Playwright visit of the same pages, same browser flags, same concurrency and the
    same behaviours (scrolling, clicking, media, sweeping), but no recording: the network is
    only watched for quiet, no bodies are kept, nothing is written. Like the depth-1 crawl it
    visits the profile first and then the posts linked from its rendered DOM, and like the
    crawl it runs as its own process, so both are timed from command start to finish.
Overhead = crawl time / bare time (target <= 1.10). Results go to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bewaar.config import Behaviors, RootConfig  # noqa: E402
from bewaar.environment import find_chromium  # noqa: E402
from bewaar.sites.social import SocialSite  # noqa: E402
from crawler.behaviors import BehaviorRunner  # noqa: E402
from crawler.recorder import NetworkRecorder  # noqa: E402
from crawler.settings import browser_user_agent, chromium_args, context_kwargs  # noqa: E402

BIN = Path(sys.executable).parent / "bewaar"


def crawl_once(site: SocialSite, concurrency: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cfg = {"browser": {"loopback_only": True},
               "crawl": {"concurrency": concurrency, "allow_private": ["127.0.0.1"]}}
        (root / "bewaar.yaml").write_text(yaml.safe_dump(cfg))
        seeds = root / "seeds.yaml"
        seeds.write_text(yaml.safe_dump({"collection": "bench", "seeds": [{"url": site.profile_url, "depth": 1}]}))
        t = time.perf_counter()
        proc = subprocess.run([str(BIN), "crawl", str(seeds), "--root", str(root), "-q"], capture_output=True, text=True)
        elapsed = time.perf_counter() - t
        if proc.returncode != 0:
            raise SystemExit(f"crawl failed: {proc.stderr}")
        pages = sum(1 for _ in (root / "collections/bench/pages/pages.jsonl").open()) - 1
    return elapsed, pages


def bare_once(urls: list[str], concurrency: int) -> float:
    """The bare visit as its own process, like the crawl: both pay interpreter start-up."""
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--bare", "--concurrency", str(concurrency), *urls],
        capture_output=True, text=True,
    )
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"bare visit failed: {proc.stderr}")
    return elapsed


async def bare_visit(urls: list[str], concurrency: int) -> None:
    from playwright.async_api import async_playwright

    cfg = RootConfig.model_validate({"browser": {"loopback_only": True}})
    behaviors = Behaviors()
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=find_chromium(), args=chromium_args(cfg))
        context = await browser.new_context(**context_kwargs(cfg, user_agent=browser_user_agent(find_chromium())))
        queue: asyncio.Queue[str] = asyncio.Queue()

        async def visit(url: str) -> list[str]:
            page = await context.new_page()
            try:
                rec = NetworkRecorder(page, keep_bodies=False)
                await rec.start()
                await page.goto(url, wait_until="load")
                await BehaviorRunner(page, rec, behaviors).run()
                links = await page.evaluate("() => window.__bewaar.links()")
                await rec.finish()
                return links
            finally:
                await page.close()

        async def worker() -> None:
            while not queue.empty():
                await visit(queue.get_nowait())

        # Like the depth-1 crawl: the posts are known only once the profile has rendered, so
        # the profile is visited first and its rendered links (those the crawl also followed)
        # fill the queue. Handing the workers every URL up front would time link discovery,
        # not recording.
        wanted = set(urls[1:])
        for link in await visit(urls[0]):
            if link in wanted:
                wanted.discard(link)
                queue.put_nowait(link)
        for missing in sorted(wanted):  # pages the profile did not link still get visited
            queue.put_nowait(missing)
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        await browser.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=40)
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--bare", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("urls", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.bare:
        asyncio.run(bare_visit(args.urls, args.concurrency))
        return
    with SocialSite(posts=args.posts) as site:
        urls = [site.profile_url] + [site.post_url(p.id) for p in site.posts]
        crawl_times, bare_times = [], []
        pages = 0
        for _ in range(args.runs):
            bare_times.append(bare_once(urls, args.concurrency))
            t, pages = crawl_once(site, args.concurrency)
            crawl_times.append(t)
    crawl_t, bare_t = min(crawl_times), min(bare_times)
    result = {
        "pages": pages,
        "concurrency": args.concurrency,
        "crawl_seconds": round(crawl_t, 1),
        "bare_seconds": round(bare_t, 1),
        "pages_per_minute": round(pages / crawl_t * 60, 1),
        "bare_pages_per_minute": round(len(urls) / bare_t * 60, 1),
        "overhead": round(crawl_t / bare_t, 3),
        "runs": args.runs,
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores, Python {platform.python_version()}",
    }
    out = REPO / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "crawl_overhead.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    print(f"overhead {result['overhead']:.2f}x (target <= 1.10), {result['pages_per_minute']} pages/min")


if __name__ == "__main__":
    main()

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


def minimal_once(urls: list[str], concurrency: int) -> tuple[float, dict[str, int]]:
    """The minimal visit as its own process; (seconds, what it saw)."""
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--minimal", "--concurrency", str(concurrency), *urls],
        capture_output=True, text=True,
    )
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"minimal visit failed: {proc.stderr}")
    return elapsed, json.loads(proc.stdout.strip().splitlines()[-1])


# What a person with a browser script does to see everything on this site, and no more: open
# the page, accept the consent banner, scroll to the end until the timeline stops growing (it
# answers within a second here), click "more" until every reply shows, and let the images in
# the document finish. No recording, no waiting for the network to be quiet.
MINIMAL_SCROLL = """async () => {
  const grows = (h) => new Promise((res) => {
    const t0 = performance.now();
    const check = () => {
      if (document.documentElement.scrollHeight > h) res(true);
      else if (performance.now() - t0 > 1000) res(false);
      else requestAnimationFrame(check);
    };
    requestAnimationFrame(check);
  });
  for (let i = 0; i < 200; i++) {
    const h = document.documentElement.scrollHeight;
    window.scrollTo(0, h);
    if (!(await grows(h))) break;
  }
}"""
MINIMAL_MORE = """async () => {
  for (let i = 0; i < 25; i++) {
    const b = document.querySelector('#more-replies');
    if (!b) break;
    const n = document.querySelectorAll('#replies .reply').length;
    b.click();
    await new Promise((res) => {
      const t0 = performance.now();
      const check = () => {
        const now = document.querySelector('#more-replies');
        if (document.querySelectorAll('#replies .reply').length > n && (!now || !now.disabled)) res();
        else if (performance.now() - t0 > 5000) res();
        else requestAnimationFrame(check);
      };
      requestAnimationFrame(check);
    });
  }
}"""
MINIMAL_IMAGES = """() => Promise.all([...document.images].filter(i => i.src)
  .map(i => i.complete ? 0 : new Promise(r => { i.onload = i.onerror = r; setTimeout(r, 5000); })))"""


async def minimal_visit(urls: list[str], concurrency: int) -> dict[str, int]:
    from playwright.async_api import async_playwright

    cfg = RootConfig.model_validate({"browser": {"loopback_only": True}})
    seen = {"pages": 0, "posts": 0, "replies": 0}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=find_chromium(), args=chromium_args(cfg))
        context = await browser.new_context(**context_kwargs(cfg, user_agent=browser_user_agent(find_chromium())))
        queue: asyncio.Queue[str] = asyncio.Queue()

        async def visit(url: str) -> list[str]:
            page = await context.new_page()
            try:
                await page.goto(url, wait_until="load")
                consent = page.locator(".consent button")
                if await consent.count():
                    await consent.first.click()
                if await page.locator("#timeline").count():
                    await page.evaluate(MINIMAL_SCROLL)
                else:  # a post page: its post and first replies come from the API
                    await page.wait_for_function("document.querySelectorAll('#replies .reply').length > 0",
                                                 timeout=10000)
                    await page.evaluate(MINIMAL_MORE)
                await page.evaluate(MINIMAL_IMAGES)
                seen["pages"] += 1
                seen["posts"] += await page.locator("article.post").count()
                seen["replies"] += await page.locator("#replies .reply").count()
                return await page.evaluate("[...document.querySelectorAll('a[href]')].map(a => a.href)")
            finally:
                await page.close()

        async def worker() -> None:
            while not queue.empty():
                await visit(queue.get_nowait())

        wanted = set(urls[1:])  # the depth-1 order, as in bare_visit
        for link in await visit(urls[0]):
            if link in wanted:
                wanted.discard(link)
                queue.put_nowait(link)
        for missing in sorted(wanted):
            queue.put_nowait(missing)
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        await browser.close()
    return seen


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=40)
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--bare", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--minimal", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("urls", nargs="*", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.bare:
        asyncio.run(bare_visit(args.urls, args.concurrency))
        return
    if args.minimal:
        print(json.dumps(asyncio.run(minimal_visit(args.urls, args.concurrency))))
        return
    with SocialSite(posts=args.posts) as site:
        urls = [site.profile_url] + [site.post_url(p.id) for p in site.posts]
        crawl_times, bare_times, minimal_times = [], [], []
        pages = 0
        minimal_seen: dict[str, int] = {}
        for _ in range(args.runs):
            bare_times.append(bare_once(urls, args.concurrency))
            t, minimal_seen = minimal_once(urls, args.concurrency)
            minimal_times.append(t)
            t, pages = crawl_once(site, args.concurrency)
            crawl_times.append(t)
        replies = sum(len(p.replies) for p in site.posts)
    if minimal_seen != {"pages": len(urls), "posts": 2 * len(site.posts), "replies": replies}:
        raise SystemExit(f"the minimal visit did not see everything: {minimal_seen}")
    crawl_t, bare_t, minimal_t = min(crawl_times), min(bare_times), min(minimal_times)
    result = {
        "pages": pages,
        "concurrency": args.concurrency,
        "crawl_seconds": round(crawl_t, 1),
        "bare_seconds": round(bare_t, 1),
        "minimal_seconds": round(minimal_t, 1),
        "pages_per_minute": round(pages / crawl_t * 60, 1),
        "bare_pages_per_minute": round(len(urls) / bare_t * 60, 1),
        "overhead": round(crawl_t / bare_t, 3),
        "vs_minimal": round(crawl_t / minimal_t, 3),
        "runs": args.runs,
        "machine": f"{platform.machine()}, {__import__('os').cpu_count()} cores, Python {platform.python_version()}",
    }
    out = REPO / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "crawl_overhead.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    print(f"overhead {result['overhead']:.2f}x the bare visit with bewaar's behaviours (target <= 1.10), "
          f"{result['vs_minimal']:.2f}x a minimal visit; {result['pages_per_minute']} pages/min")


if __name__ == "__main__":
    main()

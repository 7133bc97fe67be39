"""Replay speed: time to usable content through `bewaar replay`, against the live site.

    .venv/bin/python benchmarks/replay_speed.py [--rounds 5] [--posts 12] [--modes live,framed,frameless]

Serves the example social site on 127.0.0.1, crawls five of its pages (the profile and four
post pages, each a seed of depth 0) with `bewaar crawl`, starts `bewaar replay` as a user would
(its own process, the gate in front of pywb), and opens the same five pages in headless
Chromium:

  live       the site itself
  framed     pywb's framed view, /COLL/TIMESTAMP/URL (pywb's banner frame around the page), what
             the overview links to
  frameless  the archived page alone, /COLL/TIMESTAMPmp_/URL from the same pywb and rules with
             framed replay off (wombat, rewriting, lookups; no frame), as `bewaar qa` replays

"Usable" is what a reader waits for, measured in the page (or the replay frame) itself from
the top document's navigation start: the profile shows its name and first ten posts, a post page
its post and first replies, and every image in the first screen is decoded. Warm: per mode one
browser context visits the five pages once untimed (pywb's index and the browser's cache as a
reader who has just opened a page has them), then --rounds timed rounds; a round is the five
pages in a row, each in a new tab. The figure is the median round (sum over the five pages),
and the ratio replay / live. Results go to benchmarks/results/replay_speed.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bewaar.config import ReplayConfig  # noqa: E402
from bewaar.model import Root, read_pages  # noqa: E402
from bewaar.sites.social import SocialSite  # noqa: E402
from replay.server import ReplayServer  # noqa: E402
from tests.conftest import Replay, make_root, run_bewaar  # noqa: E402

COLLECTION = "bench"
POST_PAGES = ("p001", "p002", "p003", "p004")
# the same check for the live page and the replayed one: what a reader needs to see
USABLE = """() => {
  const inView = [...document.images].filter(i => {
    const r = i.getBoundingClientRect();
    return r.bottom > 0 && r.top < innerHeight && r.width > 0;
  });
  const images = inView.every(i => i.complete && i.naturalWidth > 0);
  const posts = document.querySelectorAll('article.post').length;
  let ready;
  if (document.getElementById('timeline')) {
    ready = posts >= 10 && (document.getElementById('name') || {}).textContent;
  } else {
    ready = posts >= 1 && document.querySelectorAll('#replies .reply').length > 0;
  }
  return ready && images ? performance.timeOrigin + performance.now() : false;
}"""


def crawl(site: SocialSite, root: Path) -> dict[str, str]:
    """The five pages, crawled; their capture timestamps (14 digits) by URL."""
    urls = [site.profile_url, *(site.post_url(p) for p in POST_PAGES)]
    seeds = root.parent / "seeds.yaml"
    seeds.write_text(yaml.safe_dump({"collection": COLLECTION, "seeds": [{"url": u, "depth": 0} for u in urls]}))
    proc = run_bewaar("crawl", str(seeds), "--root", str(root), "-q")
    if proc.returncode != 0:
        raise SystemExit(f"crawl failed: {proc.stderr}")
    ts = {}
    for entry in read_pages(root / "collections" / COLLECTION / "pages" / "pages.jsonl"):
        t = entry["ts"]
        ts[entry["url"]] = t[0:4] + t[5:7] + t[8:10] + t[11:13] + t[14:16] + t[17:19]
    missing = [u for u in urls if u not in ts]
    if missing:
        raise SystemExit(f"not captured: {missing}")
    return ts


def open_usable(context: Any, url: str, framed: bool, timeout_s: float = 60) -> float:
    """Open `url` in a new tab; seconds from navigation start until USABLE holds."""
    page = context.new_page()
    try:
        page.goto(url, wait_until="commit", timeout=timeout_s * 1000)
        deadline = time.monotonic() + timeout_s
        start = None
        while start is None:  # the top document's navigation start (retried while it commits)
            try:
                start = page.evaluate("performance.timeOrigin")
            except Exception:  # noqa: BLE001 - its context was replaced: ask the new one
                if time.monotonic() > deadline:
                    raise
                page.wait_for_timeout(5)
        frame = None
        while frame is None:
            if framed:
                frame = next((f for f in page.frames if "mp_/" in f.url), None)
            else:
                frame = page.main_frame
            if frame is None:
                if time.monotonic() > deadline:
                    raise SystemExit(f"no replay frame for {url}")
                page.wait_for_timeout(5)
        while True:
            try:
                done = frame.wait_for_function(USABLE, polling="raf", timeout=timeout_s * 1000).json_value()
                break
            except Exception as e:  # the frame navigated while being checked: check again
                if time.monotonic() > deadline or "Timeout" in type(e).__name__:
                    raise SystemExit(f"{url} never became usable: {e}") from None
        return (float(done) - float(start)) / 1000
    finally:
        page.close()


def measure(browser: Any, urls: list[tuple[str, bool]], rounds: int) -> list[list[float]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        for url, framed in urls:  # warm-up, untimed
            open_usable(context, url, framed)
        return [[open_usable(context, url, framed) for url, framed in urls] for _ in range(rounds)]
    finally:
        context.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--posts", type=int, default=12)
    ap.add_argument("--modes", default="live,framed,frameless")
    ap.add_argument("--root", type=Path, help="keep the crawl here (default: a temporary directory)")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from tests.chromium import launch

    modes = args.modes.split(",")
    site = SocialSite(posts=args.posts).start()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = make_root(args.root or Path(tmp) / "root")
        try:
            ts = crawl(site, root)
            pages = list(ts)
            t = time.perf_counter()
            # framed: `bewaar replay` as a user starts it (the gate in front of pywb); frameless:
            # the same pywb and rules with framed replay off, as `bewaar qa` replays
            frameless_cfg = ReplayConfig.model_validate({"pywb": {"framed_replay": False}})
            with Replay(root) as replay, ReplayServer(
                Root(root), frameless_cfg, "127.0.0.1", 0, state=root / ".frameless", echo_errors=False
            ) as frameless, sync_playwright() as pw:
                results["replay_start_s"] = round(time.perf_counter() - t, 2)  # both servers
                browser = launch(pw)
                plan = {
                    "live": [(u, False) for u in pages],
                    "framed": [(f"{replay.url}/{COLLECTION}/{ts[u]}/{u}", True) for u in pages],
                    "frameless": [(f"{frameless}/{COLLECTION}/{ts[u]}mp_/{u}", False) for u in pages],
                }
                for mode in modes:
                    rows = measure(browser, plan[mode], args.rounds)
                    sums = [sum(r) for r in rows]
                    results[mode] = {
                        "median_round_s": round(statistics.median(sums), 3),
                        "best_round_s": round(min(sums), 3),
                        "per_page_median_s": [round(statistics.median(c), 3) for c in zip(*rows, strict=True)],
                    }
                    print(f"{mode:10s} median {results[mode]['median_round_s']:.2f} s, best "
                          f"{results[mode]['best_round_s']:.2f} s; per page {results[mode]['per_page_median_s']}")
                browser.close()
        finally:
            site.stop()
    for mode in modes:
        if mode != "live" and "live" in results:
            results[mode]["vs_live"] = round(results[mode]["median_round_s"] / results["live"]["median_round_s"], 2)
            print(f"{mode}: {results[mode]['vs_live']}x live")
    results["machine"] = {"platform": platform.platform(), "python": platform.python_version(),
                          "load": Path("/proc/loadavg").read_text().split()[:3]}
    out = REPO / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "replay_speed.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

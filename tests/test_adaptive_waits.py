"""The behaviours' adaptive waits must not cost completeness.

The waits move on as soon as the network is quiet (crawler/behaviors.py `_settle`); a page
whose loaders are *late* — a scroll handler and a "more" button that debounce before they ask
for anything — must still be captured whole: every item, every reply, every image.
"""

from __future__ import annotations

import asyncio
import re
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from playwright.async_api import async_playwright

from bewaar.config import Behaviors
from bewaar.sites.httpserver import FixtureServer, Request, Response
from bewaar.sites.png import png
from crawler.behaviors import BehaviorRunner
from crawler.recorder import NetworkRecorder
from tests.chromium import ARGS, executable

PAGES = 4  # timeline pages: the first in the HTML, the rest from the API
PER_PAGE = 3
REPLIES = 2

PAGE = """<!doctype html><meta charset="utf-8"><title>late loaders</title>
<style>.item { height: 420px; border: 1px solid #ccc; } .item img { width: 64px; height: 64px; }</style>
<section id="replies"></section><button id="more" type="button">Show more replies</button>
<main id="items">%s</main>
<script>
  let page = 1, busy = false, timer = null;
  const add = (items) => {
    for (const it of items) {
      const d = document.createElement("div");
      d.className = "item"; d.dataset.id = it.id;
      d.innerHTML = '<p>' + it.id + '</p><img src="/img/' + it.id + '.png" alt="">';
      document.getElementById("items").appendChild(d);
    }
  };
  // debounced: asks only after scrolling has rested for 150 ms
  addEventListener("scroll", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      if (busy || page >= %d) return;
      if (innerHeight + scrollY < document.documentElement.scrollHeight - 200) return;
      busy = true;
      const r = await fetch("/api/items?page=" + (page + 1));
      add((await r.json()).items);
      page += 1; busy = false;
    }, 150);
  });
  // a handler that waits 300 ms before it asks for the replies (once)
  let asked = false;
  document.getElementById("more").addEventListener("click", (ev) => {
    if (asked) return;
    asked = true;
    setTimeout(async () => {
      const r = await fetch("/api/replies");
      for (const t of (await r.json()).replies) {
        const p = document.createElement("p"); p.className = "reply"; p.textContent = t;
        document.getElementById("replies").appendChild(p);
      }
      ev.target.remove();
    }, 300);
  });
</script>"""


def _items(page: int) -> list[dict[str, str]]:
    return [{"id": f"i{page}-{k}"} for k in range(PER_PAGE)]


def _site() -> FixtureServer:
    s = FixtureServer()
    first = "".join(
        f'<div class="item" data-id="{it["id"]}"><p>{it["id"]}</p><img src="/img/{it["id"]}.png" alt=""></div>'
        for it in _items(1)
    )

    @s.route("GET", "/")
    def index(req: Request, m: Any) -> Response:
        return Response.html(PAGE % (first, PAGES))

    @s.route("GET", "/api/items")
    def items(req: Request, m: Any) -> Response:
        time.sleep(0.08)
        return Response.json({"items": _items(int(req.arg("page") or 1))})

    @s.route("GET", "/api/replies")
    def replies(req: Request, m: Any) -> Response:
        time.sleep(0.08)
        return Response.json({"replies": [f"reply {k}" for k in range(REPLIES)]})

    @s.route("GET", r"/img/(?P<id>[\w-]+)\.png")
    def img(req: Request, m: Any) -> Response:
        return Response(200, png(64, 64, m["id"]), [("Content-Type", "image/png")])

    return s


async def _capture(url: str) -> tuple[dict[str, Any], list[str]]:
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=executable(), args=ARGS)
        try:
            page = await browser.new_page()
            rec = NetworkRecorder(page)
            await rec.start()
            await page.goto(url, wait_until="load")
            blog = await BehaviorRunner(page, rec, Behaviors()).run()
            seen = await page.evaluate(
                """() => ({items: [...document.querySelectorAll('.item')].map(e => e.dataset.id),
                          replies: document.querySelectorAll('.reply').length})"""
            )
            exchanges = await rec.finish()
        finally:
            await browser.close()
    recorded = [e.url for e in exchanges if e.status == 200 and e.finished and not e.failed]
    return {**seen, "media": blog.media, "clicks": blog.clicks, "steps": blog.steps}, recorded


def test_late_loaders_are_captured_whole() -> None:
    # its own thread: a sync Playwright of another test module may hold this thread's loop
    with _site() as site, ThreadPoolExecutor(1) as pool:
        seen, recorded = pool.submit(asyncio.run, _capture(site.base_url + "/")).result()
    every = [it["id"] for n in range(1, PAGES + 1) for it in _items(n)]
    assert seen["items"] == every  # the debounced scroll loader answered every time
    assert seen["replies"] == REPLIES  # the late click handler too
    images = {m.group(1) for u in recorded if (m := re.search(r"/img/([\w-]+)\.png$", u))}
    assert images == set(every)  # and every image was recorded, not just shown
    assert sum(1 for u in recorded if "/api/items?page=" in u) == PAGES - 1
    assert any(u.endswith("/api/replies") for u in recorded)
    assert seen["media"] == 0 and set(seen["steps"]) >= {"load", "scroll", "expand", "sweep", "media", "end"}

"""One crawl of the example social site for the whole test session.

The end-to-end test replays it with pywb and the WACZ tests replay its package in ReplayWeb.page;
crawling the site once for both keeps the suite inside its time budget. What a reader of the live
site sees is measured here, before any test stops the site, so every replay is compared with the
same live observation.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bewaar.sites.social import SocialSite
from tests.conftest import make_root, run_bewaar, write_seeds
from tests.pagecheck import Seen, expand_replies, look, open_page, scroll_to_end, sweep_images

POSTS = 36
REPLY_POSTS = ("p003", "p004", "p005")  # 2, 5 and 8 replies; Dutch and English buttons
COLLECTION = "social"
# what each profile widget (sibling endpoints sharing a path prefix) shows, by widget
WIDGETS_JS = (
    "Object.fromEntries([...document.querySelectorAll('#widgets .widget')]"
    ".map(w => [w.dataset.widget, [w.dataset.answered, w.textContent]]))"
)


@pytest.fixture(scope="session")
def social_crawl(
    tmp_path_factory: pytest.TempPathFactory, chromium_browser: Any
) -> Iterator[dict[str, Any]]:
    """`bewaar crawl` of the example site (profile + its posts, depth 1) into `root`, with
    `site`, the crawl's `proc` and `live`: what the live site showed (Seen per page)."""
    tmp = tmp_path_factory.mktemp("social-crawl")
    site = SocialSite(posts=POSTS).start()
    try:
        root = make_root(tmp / "root")
        seeds = write_seeds(
            tmp / "seeds.yaml",
            # the old profile URL redirects (301) to /@minx: the hop must be kept
            {"collection": COLLECTION, "seeds": [{"url": f"{site.base_url}/minx", "depth": 1}]},
        )
        proc = run_bewaar("crawl", str(seeds), "--root", str(root))
        live: dict[str, Seen] = {}
        page, frame, _ = open_page(chromium_browser, site.profile_url)
        frame.click(".consent button")
        scroll_to_end(page, frame)
        sweep_images(page, frame)
        live["profile"] = look(page, frame)
        live["widgets"] = frame.evaluate(WIDGETS_JS)
        page.close()
        for pid in REPLY_POSTS:
            page, frame, _ = open_page(chromium_browser, site.post_url(pid))
            sweep_images(page, frame)
            seen = look(page, frame)
            seen.replies = expand_replies(page, frame)
            live[pid] = seen
            page.close()
        yield {"site": site, "root": root, "proc": proc, "live": live}
    finally:
        site.stop()

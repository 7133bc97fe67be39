"""Pages captured in parallel must be exactly as complete as pages captured one at a time.

Background pages can starve lazy loaders (timers and animation frames are throttled); the
crawl must not lose posts or images for it. Each page's records are compared, URL by URL.
The parallel crawl also rotates its WARC files at the smallest size, so every page must still
land whole in one finished file.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from bewaar.sites.social import SocialSite
from tests.conftest import make_root, run_bewaar, write_seeds

POSTS = 14
VOLATILE = re.compile(r"([?&]_=)\d+")


def per_page(root: Path) -> dict[str, set[str]]:
    """Page URL -> URLs recorded for it (a page's records are written together, its page-info
    record last)."""
    pages: dict[str, set[str]] = defaultdict(set)
    warcs = sorted((root / "collections/p/archive").glob("*.warc.gz"))
    for warc in warcs:
        current: set[str] = set()
        with warc.open("rb") as fh:
            for rec in ArchiveIterator(fh):
                uri = rec.rec_headers.get_header("WARC-Target-URI") or ""
                if rec.rec_type in ("response", "revisit"):
                    current.add(VOLATILE.sub(r"\1T", uri))
                elif uri.startswith("urn:pageinfo:"):
                    page = uri[len("urn:pageinfo:"):]
                    assert page not in pages, f"{page} recorded twice"
                    pages[page] = current
                    current = set()
        assert not current, f"records after the last page in {warc.name}: a page was split"
    return pages


def test_parallel_crawl_is_as_complete_as_serial(tmp_path: Path) -> None:
    with SocialSite(posts=POSTS) as site:
        seeds = {"collection": "p", "seeds": [{"url": site.profile_url, "depth": 1}]}
        serial = make_root(tmp_path / "serial", crawl={"concurrency": 1})
        parallel = make_root(tmp_path / "parallel", crawl={"concurrency": 4, "warc_max_size": 1_000_000})
        for root in (serial, parallel):
            proc = run_bewaar("crawl", str(write_seeds(root / "seeds.yaml", seeds)), "--root", str(root))
            assert proc.returncode == 0, proc.stderr
    one = per_page(serial)
    many = per_page(parallel)
    assert set(one) == set(many) == {site.profile_url} | {site.post_url(p.id) for p in site.posts}
    for page in one:
        assert many[page] == one[page], (page, many[page] ^ one[page])
    profile = one[site.profile_url]
    for p in site.posts:  # every post's image (each srcset size; data-src ones too)
        if p.image:
            assert f"{site.base_url}/media/img/{p.id}-400.png" in profile
            if not p.lazy_js:
                assert f"{site.base_url}/media/img/{p.id}-800.png" in profile
    warcs = sorted((parallel / "collections/p/archive").glob("*.warc.gz"))
    assert len(warcs) >= 2  # rotated
    assert not list((parallel / "collections/p/tmp").glob("*.warc.gz"))
    warcio = Path(sys.executable).parent / "warcio"
    for w in warcs:
        res = subprocess.run([str(warcio), "check", str(w)], capture_output=True, text=True)
        assert res.returncode == 0, res.stdout

"""A crawl killed with SIGKILL mid-page is resumed by running the same command again: pages
already written are not crawled again, the pages in flight are, nothing written is lost, and no
file is left half-written, unindexed or unsigned."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from bewaar.sites.social import SocialSite
from crawler.indexer import indexed_files
from tests.conftest import BIN, make_root, run_bewaar, write_seeds


def _pages(coll: Path) -> list[dict]:
    path = coll / "pages/pages.jsonl"
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines()[1:] if x.strip()]


def _pageinfo_urls(coll: Path) -> Counter[str]:
    urls: Counter[str] = Counter()
    for warc in sorted((coll / "archive").glob("*.warc.gz")):
        with warc.open("rb") as fh:
            for rec in ArchiveIterator(fh):
                uri = rec.rec_headers.get_header("WARC-Target-URI") or ""
                if rec.rec_type == "metadata" and uri.startswith("urn:pageinfo:"):
                    info = json.loads(rec.content_stream().read())
                    urls[info.get("final_url") or info["url"]] += 1
    return urls


def test_sigkill_mid_page_resumes_where_it_stopped(tmp_path: Path) -> None:
    root = make_root(tmp_path / "root", crawl={"concurrency": 2})
    coll = root / "collections/k"
    with SocialSite(posts=14) as site:
        seeds = write_seeds(tmp_path / "seeds.yaml", {"collection": "k", "seeds": [{"url": site.profile_url}]})
        proc = subprocess.Popen(
            [str(BIN), "crawl", str(seeds), "--root", str(root)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and len(_pages(coll)) < 4:
            time.sleep(0.05)
        assert len(_pages(coll)) >= 4, "the crawl never wrote pages"
        time.sleep(0.3)  # a page is being captured: two are always in flight
        os.killpg(proc.pid, signal.SIGKILL)  # no clean shutdown at all (kill -9)
        _, first_err = proc.communicate(timeout=30)
        before = {p["url"] for p in _pages(coll)}
        crawl_id = re.search(r"\(crawl (\S+),", first_err)[1]
        assert not list((coll / "archive").glob("*.warc.gz"))  # the file was still open
        assert list((coll / "tmp").glob("*.warc.gz"))

        again = run_bewaar("crawl", str(seeds), "--root", str(root))
        assert again.returncode == 0, again.stderr
        err = again.stderr
        # the same crawl, resumed: what was written counts, and is not crawled again
        assert f"Resuming crawl {crawl_id} of 1 seed(s)" in err, err
        assert re.search(r"recovered \S+\.warc\.gz left unfinished by an earlier crawl", err)
        second = set(re.findall(r"\] ok (\S+)", err))
        assert not second & before, "pages written before the kill were crawled again"
        expected = {site.profile_url} | {site.post_url(p.id) for p in site.posts}
        pages = _pages(coll)
        assert {p["url"] for p in pages} == expected
        assert Counter(p["url"] for p in pages if p["outcome"] == "ok").most_common(1)[0][1] == 1
        assert {p["crawl_id"] for p in pages} == {crawl_id}
        assert set(_pageinfo_urls(coll)) == expected
        assert max(_pageinfo_urls(coll).values()) == 1  # the page in flight was crawled once more
    # one report for the whole crawl, counting both processes' pages and listing every file
    report = json.loads((coll / "crawls" / f"{crawl_id}.json").read_text())
    assert report["pages"]["ok"] == len(expected)
    warcs = sorted(w.name for w in (coll / "archive").glob("*.warc.gz"))
    assert sorted(report["warcs"]) == warcs and len(warcs) == 2
    assert not list((coll / "tmp").rglob("*.warc.gz"))
    assert indexed_files(coll / "indexes/index.cdxj") == set(warcs)
    assert all((coll / "archive" / f"{w}.sig.json").exists() for w in warcs)
    verify = run_bewaar("verify", "--root", str(root), str(coll), timeout=300)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    # the next crawl of the list is a new one
    third = run_bewaar("crawl", str(seeds), "--root", str(root))
    assert "Resuming" not in third.stderr and crawl_id not in third.stderr.split("\n")[0]

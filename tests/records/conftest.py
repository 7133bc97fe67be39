"""One archive for the records tests, made once: a key and a real RFC 3161 TSA on 127.0.0.1,
then two crawls of the fixture sites —

  crawl 1  the Mastodon account (term 1y from capture): files holding one account's pages;
  crawl 2  the Mastodon account again and the X account (term 10y): one file mixing both, whose
           pages deduplicate against crawl 1 (scripts, images, video, API answers as revisits;
           X's images are byte-identical to Mastodon's, so they are revisits of crawl 1 too).

Tests copy it (`life` fixture) and change the copy only; the clock is moved with BEWAAR_NOW.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from bewaar.config import load_root_config
from bewaar.sites.platforms import SITES
from bewaar.timeutil import iso, parse_iso
from signing import api
from signing.tsa_server import LocalTSA
from tests.conftest import BIN, make_root, run_bewaar, write_seeds

LIST = "Selectielijst gemeenten en intergemeentelijke organen 2020"
MASTODON_RULE = {"category": "1.1.4", "term": "1y", "from": "captured", "list": LIST}
X_RULE = {"category": "1.1.1", "term": "10y", "from": "captured", "list": LIST}
THREAD_ID = "1790000000000000005"  # the Mastodon post citizens replied to
CITIZEN = "burger_anna"
CITIZEN_WORDS = "Heel goed initiatief"


@dataclass
class Life:
    root: Path
    tsa: LocalTSA
    mastodon: str  # base URLs as captured
    x: str
    crawl1: tuple[str, str]  # first and last capture time
    crawl2: tuple[str, str]

    @property
    def coll(self) -> Path:
        return self.root / "collections" / "gov"

    def bewaar(self, *args: str, now: str | None = None) -> subprocess.CompletedProcess[str]:
        """The real command on this root; `now` moves its clock (BEWAAR_NOW)."""
        env = dict(os.environ)
        env.pop("BEWAAR_DEBUG", None)
        env.pop("BEWAAR_NOW", None)
        if now:
            env["BEWAAR_NOW"] = now
        return subprocess.run([str(BIN), *args, "--root", str(self.root)], capture_output=True,
                              text=True, timeout=600, env=env)

    def verify(self, *paths: str) -> tuple[int, dict]:
        p = self.bewaar("verify", "--json", *paths)
        assert "Traceback" not in p.stderr, p.stderr
        return p.returncode, json.loads(p.stdout)

    def after(self, crawl: tuple[str, str], term: timedelta) -> str:
        return iso(parse_iso(crawl[1]) + term)


def _span(root: Path, crawl_id: str) -> tuple[str, str]:
    times = [e["ts"] for e in (json.loads(line) for line in
             (root / "collections/gov/pages/pages.jsonl").read_text().splitlines()[1:])
             if e.get("crawl_id") == crawl_id]
    return min(times), max(times)


@pytest.fixture(scope="session")
def life_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Life]:
    tmp = tmp_path_factory.mktemp("records")
    with LocalTSA(tmp / "tsa") as tsa:
        root = make_root(tmp / "root")
        cfg = load_root_config(root).signing
        cfg, _ = api.init_keys(root, cfg, common_name="Gemeente Testdorp webarchief")
        cfg = api.set_tsa_url(root, tsa.url)
        api.trust_tsa_root(root, cfg, tsa.root_cert_path)
        m, x = SITES["mastodon"](), SITES["x"]()
        m.start()
        x.start()
        try:
            mseed = {"platform": "mastodon", "handle": m.handle_in_seed, "base_url": m.base_url,
                     "max_posts": 6, "retention": MASTODON_RULE}
            xseed = {"platform": "x", "handle": x.handle_in_seed, "base_url": x.base_url,
                     "max_posts": 4, "retention": X_RULE}
            ids = []
            for n, seeds in enumerate(([mseed], [mseed, xseed]), 1):
                f = write_seeds(tmp / f"seeds{n}.yaml", {"collection": "gov", "seeds": seeds})
                p = run_bewaar("crawl", str(f), "--root", str(root))
                assert p.returncode == 0, p.stderr
                ids.append(sorted(q.stem for q in (root / "collections/gov/crawls").glob("*.json"))[-1])
            life = Life(root, tsa, m.base_url, x.base_url, _span(root, ids[0]), _span(root, ids[1]))
        finally:
            m.stop()
            x.stop()
        yield life


@pytest.fixture
def life(life_template: Life, tmp_path: Path) -> Life:
    """A copy of the archive this test may change."""
    target = tmp_path / "root"
    shutil.copytree(life_template.root, target, ignore=shutil.ignore_patterns("*.lock"))
    return Life(target, life_template.tsa, life_template.mastodon, life_template.x,
                life_template.crawl1, life_template.crawl2)

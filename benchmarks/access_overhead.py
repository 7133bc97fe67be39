"""What access control costs replay: the gate in front of pywb and pywb's ACL checks.

    .venv/bin/python benchmarks/access_overhead.py [--rounds 5]

Crawls the Mastodon fixture once (about 90 captures), then asks pywb for every capture in the
index (id_, one request at a time, a new connection each, as a page's resources: Sec-Fetch-Dest
image, so not each in the audit trail) in four set-ups, each its own `bewaar replay`-equivalent process:
  * bare: pywb with an empty ACL directory and no gate (replay as it was before access control)
  * open: the gate in open mode (no accounts), no restrictions
  * reader: built-in accounts, two restrictions (a post, replies by others), a reader's session
  * archivist: the same, an archivist's session (pywb's user-specific ACL rules)
Best and median of --rounds rounds per set-up; results in benchmarks/results/access_overhead.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bewaar.app.serve import Servers  # noqa: E402
from bewaar.config import load_root_config  # noqa: E402
from bewaar.model import Root  # noqa: E402
from bewaar.sites.platforms import SITES  # noqa: E402
from replay.server import ReplayServer  # noqa: E402

BIN = Path(sys.executable).parent / "bewaar"
PASSWORD = "benchmark passphrase"


def get(url: str, cookie: str = "") -> int:
    p = urlsplit(url)
    conn = http.client.HTTPConnection(p.hostname, p.port, timeout=60)
    try:
        # as a browser asks for a page's resources (Sec-Fetch-Dest), which the audit trail
        # does not log one by one
        headers = {"Sec-Fetch-Dest": "image", **({"Cookie": cookie} if cookie else {})}
        conn.request("GET", p.path + ("?" + p.query if p.query else ""), headers=headers)
        r = conn.getresponse()
        r.read()
        return r.status
    finally:
        conn.close()


def bewaar(*args: str, stdin: str = "") -> None:
    subprocess.run([str(BIN), *args], input=stdin, check=True, capture_output=True, text=True)


def crawl(tmp: Path) -> tuple[Path, str]:
    site = SITES["mastodon"]()
    site.start()
    try:
        root = tmp / "root"
        root.mkdir()
        (root / "bewaar.yaml").write_text("browser: {loopback_only: true}\n")
        seeds = tmp / "seeds.yaml"
        seeds.write_text(json.dumps({"collection": "gov", "seeds": [{
            "platform": "mastodon", "handle": site.handle_in_seed, "base_url": site.base_url,
            "max_posts": 6}]}))  # fmt: skip
        bewaar("crawl", str(seeds), "--root", str(root))
        return root, site.base_url
    finally:
        site.stop()


def timed(urls: list[str], cookie: str, rounds: int) -> dict[str, Any]:
    totals = []
    for _ in range(rounds):
        t = time.perf_counter()
        for u in urls:
            get(u, cookie)
        totals.append(time.perf_counter() - t)
    return {"best_s": min(totals), "median_s": statistics.median(totals),
            "per_request_ms": 1000 * min(totals) / len(urls)}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        root, base = crawl(tmp)
        lines = (root / "collections/gov/indexes/index.cdxj").read_text().splitlines()
        entries = [(ln.split(" ", 2)[1], json.loads(ln.split(" ", 2)[2])["url"]) for ln in lines]
        paths = [f"/gov/{ts}id_/{url}" for ts, url in entries]
        cfg = load_root_config(root).replay
        r = Root(root)

        (root / ".bewaar/replay/acl/gov").mkdir(parents=True, exist_ok=True)
        with ReplayServer(r, cfg, "127.0.0.1", 0, echo_errors=False) as url:
            results["bare"] = timed([url + p for p in paths], "", args.rounds)
        servers = Servers(r, cfg, "127.0.0.1", 0, None)
        servers.replay.echo_errors = False
        url, _ = servers.start()
        try:
            results["open"] = timed([url + p for p in paths], "", args.rounds)
        finally:
            servers.stop()

        bewaar("users", "add", "anna", "--role", "reader", "--root", str(root), stdin=PASSWORD + "\n")
        bewaar("users", "add", "arch", "--role", "archivist", "--root", str(root), stdin=PASSWORD + "\n")
        bewaar("restrict", "add", "--post", f"{base}/@minbzk/1790000000000000001", "--reason", "b", "--root", str(root))
        bewaar("restrict", "add", "--replies-by-others", "--reason", "b", "--root", str(root))
        servers = Servers(r, load_root_config(root).replay, "127.0.0.1", 0, None)
        servers.replay.echo_errors = False
        url, overview = servers.start()
        try:
            for name in ("anna", "arch"):
                p = urlsplit(overview)
                conn = http.client.HTTPConnection(p.hostname, p.port, timeout=60)
                conn.request("POST", "/_login", body=urlencode({"name": name, "password": PASSWORD}),
                             headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
                resp = conn.getresponse()
                cookie = resp.getheader("Set-Cookie").split(";")[0]
                conn.close()
                results["reader" if name == "anna" else "archivist"] = timed(
                    [url + p for p in paths], cookie, args.rounds
                )
        finally:
            servers.stop()
        shutil.rmtree(root, ignore_errors=True)
    bare = results["bare"]["best_s"]
    for v in results.values():
        v["vs_bare"] = round(v["best_s"] / bare, 3)
    out = {"requests": len(paths), "rounds": args.rounds, "results": results,
           "python": platform.python_version(), "load": os.getloadavg()}  # fmt: skip
    dest = REPO / "benchmarks/results/access_overhead.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(out, indent=1))
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

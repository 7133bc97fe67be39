"""A package over 4 GiB, written by `bewaar package` and opened in ReplayWeb.page.

    .venv/bin/python benchmarks/wacz_large.py [--bulk-gib 4.4] [--keep DIR]

Crawls the example site (12 posts, depth 1) into a temporary root, adds a signed WARC of
--bulk-gib GiB of incompressible 4 MiB responses whose name sorts first (so in the package the
crawl's WARC starts beyond 4 GiB), and times `bewaar package`. Then checks the ZIP layout
(ZIP64 sizes for the big WARC in both headers, ZIP64 offsets after it, ZIP64 end records,
every member where wabac.js looks for it) and opens the package in ReplayWeb.page: the profile
with its first posts and decoded images, a post page's replies after clicks, and the last bulk
response (read from beyond 4 GiB inside the ZIP64 member) byte for byte. Needs about 2.3x
--bulk-gib of free disk; everything is deleted afterwards unless --keep is given. Results are
printed and saved as JSON under benchmarks/results/ (ignored by git). Not part of `make test`:
it takes minutes.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))

from playwright.sync_api import sync_playwright  # noqa: E402
from warcio.statusandheaders import StatusAndHeaders  # noqa: E402
from warcio.utils import Digester  # noqa: E402
from warcio.warcwriter import WARCWriter  # noqa: E402

from bewaar.app.view import ReplayWebPage  # noqa: E402
from bewaar.config import load_root_config  # noqa: E402
from bewaar.sites.social import SocialSite  # noqa: E402
from signing import api  # noqa: E402
from tests.chromium import launch  # noqa: E402
from tests.pagecheck import expand_replies, look, sweep_images  # noqa: E402
from tests.replaywebpage import ZIP64_EXTRA, Viewer, misread_by_wabac, zip_layout  # noqa: E402

BEWAAR = str(Path(sys.executable).parent / "bewaar")
BLOB = 4 << 20
BULK_URL = "https://bulk.example/blob/{:05d}.bin"
GIB = 1 << 30


class _Writer(WARCWriter):
    @staticmethod
    def _create_digester() -> Digester:
        return Digester("sha256")


def bulk_warc(path: Path, size: int, seed: int = 11) -> tuple[int, str, str]:
    """Responses of 4 MiB of random bytes until the file passes `size`; each record its own
    gzip member, deflate level 0 (the bytes are incompressible: level 9 would only be slow).
    Returns (records, last URL, sha256 of the last payload)."""
    pool = random.Random(seed).randbytes(64 << 20)
    n = 0
    last_url, last_sha = "", ""
    with path.open("wb") as fh:
        while fh.tell() < size:
            start = (n * 7_919 * 4_096) % (len(pool) - BLOB)
            body = pool[start : start + BLOB]
            url = BULK_URL.format(n)
            plain = io.BytesIO()
            w = _Writer(plain, gzip=False, warc_version="WARC/1.1")
            http = StatusAndHeaders(
                "200 OK",
                [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(body)))],
                protocol="HTTP/1.1",
            )
            rec = w.create_warc_record(
                url, "response", payload=io.BytesIO(body), http_headers=http,
                warc_headers_dict={"WARC-Date": "2026-01-01T00:00:00Z"},
            )
            w.write_record(rec)
            z = zlib.compressobj(0, zlib.DEFLATED, 31)
            fh.write(z.compress(plain.getvalue()) + z.flush())
            last_url, last_sha = url, hashlib.sha256(body).hexdigest()
            n += 1
    return n, last_url, last_sha


def crawl(root: Path, tmp: Path) -> SocialSite:
    site = SocialSite(posts=12).start()
    root.mkdir(parents=True)
    (root / "bewaar.yaml").write_text("browser:\n  loopback_only: true\n")
    seeds = tmp / "seeds.yaml"
    seeds.write_text(f"collection: social\nseeds:\n  - url: {site.base_url}/minx\n    depth: 1\n")
    proc = subprocess.run([BEWAAR, "crawl", str(seeds), "--root", str(root)], capture_output=True, text=True)
    site.stop()
    if proc.returncode != 0:
        raise SystemExit(f"crawl failed: {proc.stderr}")
    return site


def check_layout(package: Path) -> dict:
    members = zip_layout(package)
    bulk = next(m for m in members if m.name.startswith("archive/bulk-"))
    social = next(m for m in members if m.name.startswith("archive/social-"))
    tail = package.open("rb")
    tail.seek(-98, 2)
    end = tail.read()
    tail.close()
    out = {
        "bulk_member_zip64_both_headers": bulk.local_sizes == (0xFFFFFFFF, 0xFFFFFFFF)
        and ZIP64_EXTRA in bulk.local_extra and ZIP64_EXTRA in bulk.central_extra,
        "crawl_warc_offset": social.header_offset,
        "crawl_warc_zip64_offset": social.central_offset == 0xFFFFFFFF,
        "zip64_end_records": b"PK\x06\x06" in end and b"PK\x06\x07" in end,
        "misread_by_wabac": misread_by_wabac(members),
        "zip64_members": [m.name for m in members if m.zip64],
    }
    out["ok"] = (
        out["bulk_member_zip64_both_headers"] and social.header_offset > 4 * GIB
        and out["crawl_warc_zip64_offset"] and out["zip64_end_records"] and not out["misread_by_wabac"]
    )
    return out


def open_in_replaywebpage(package: Path, site: SocialSite, last_url: str, last_sha: str) -> dict:
    out: dict = {}
    with ReplayWebPage() as server, sync_playwright() as pw:
        browser = launch(pw)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        viewer = Viewer(server, context)
        name = viewer.add(package)
        t = time.perf_counter()
        page, frame, failed = viewer.open(name, site.profile_url)
        sweep_images(page, frame)
        seen = look(page, frame)
        out["profile_seconds_incl_warmup"] = round(time.perf_counter() - t, 1)
        out["profile_posts"] = len(seen.posts)
        out["profile_images"], out["undecoded"] = seen.images, seen.undecoded
        t = time.perf_counter()
        digest = frame.evaluate(
            "async (u) => { const r = await fetch(u); const b = await r.arrayBuffer();"
            " const d = await crypto.subtle.digest('SHA-256', b);"
            " return [r.status, b.byteLength, [...new Uint8Array(d)].map(x => x.toString(16).padStart(2, '0')).join('')]; }",
            last_url,
        )
        out["last_bulk_blob"] = {"status": digest[0], "bytes": digest[1], "sha256_matches": digest[2] == last_sha,
                                 "seconds": round(time.perf_counter() - t, 1)}
        out["failed_requests"] = [f for f in failed if "favicon" not in f]
        page.close()
        pid = site.posts[3].id
        page, frame, _ = viewer.open(name, site.post_url(pid))
        out["replies"] = expand_replies(page, frame)
        out["replies_expected"] = [r["id"] for r in site.posts[3].replies]
        page.close()
        reads = [s for m, p, s in server.requests if p == f"/wacz/{name}"]
        out["wacz_reads"] = {"range_206": reads.count(206), "whole_200": reads.count(200)}
        context.close()
        browser.close()
    out["ok"] = (
        out["profile_posts"] >= 10 and not out["undecoded"] and out["profile_images"] > 0
        and out["last_bulk_blob"]["status"] == 200 and out["last_bulk_blob"]["sha256_matches"]
        and out["replies"] == out["replies_expected"] and not out["failed_requests"]
        and out["wacz_reads"]["whole_200"] == 0
    )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bulk-gib", type=float, default=4.4)
    ap.add_argument("--keep", type=Path, help="keep the root and package in this directory")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bewaar-wacz-large-", dir=args.keep))
    result: dict = {"bulk_gib": args.bulk_gib, "machine": platform.platform(), "python": platform.python_version()}
    try:
        root = work / "root"
        t = time.perf_counter()
        site = crawl(root, work)
        result["crawl_seconds"] = round(time.perf_counter() - t, 1)
        bulk = root / "collections/social/archive/bulk-20260101000000.warc.gz"
        t = time.perf_counter()
        records, last_url, last_sha = bulk_warc(bulk, int(args.bulk_gib * GIB))
        result["bulk_write_seconds"] = round(time.perf_counter() - t, 1)
        result["bulk_warc_bytes"], result["bulk_records"] = bulk.stat().st_size, records
        t = time.perf_counter()
        api.sign_warc(bulk, root, load_root_config(root).signing)
        result["bulk_sign_seconds"] = round(time.perf_counter() - t, 1)
        package = work / "social-large.wacz"
        t = time.perf_counter()
        proc = subprocess.run([BEWAAR, "package", "--root", str(root), "social", "-o", str(package)],
                              capture_output=True, text=True)
        result["package_seconds"] = round(time.perf_counter() - t, 1)
        if proc.returncode != 0:
            raise SystemExit(f"package failed: {proc.stderr}")
        result["package_bytes"] = package.stat().st_size
        result["layout"] = check_layout(package)
        result["replaywebpage"] = open_in_replaywebpage(package, site, last_url, last_sha)
        result["ok"] = result["layout"]["ok"] and result["replaywebpage"]["ok"]
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=2))
    out = HERE / "results" / "wacz_large.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    return 0 if result.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())

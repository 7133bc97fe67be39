"""Export speed and memory for 1,000 posts.

    .venv/bin/python benchmarks/export_scale.py [--posts 1000] [--small 250]

Writes a collection with the crawler's own WARC writer (bewaar/sites/synth.py): --posts posts
over five accounts, each post on its own page with a full-page screenshot (a 1280 px wide PNG,
as the crawler's), one photo, its information objects and page info; plus each account's
profile page. The WARCs are signed, indexed and read into the catalog as after a crawl. Then
times `bewaar export --collection` as its own process:
  * WACZ + XML + EML + HTML   (target: under 2 minutes for 1,000 posts)
  * the same plus PDF/A      (target: under 5 minutes)
and the peak memory (max RSS) of each run, for --small posts too, to show that memory does not
grow with the number of posts. Results go to benchmarks/results/export_scale.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bewaar.config import load_root_config  # noqa: E402
from bewaar.sites.synth import BASE, Page, Synth, post, post_page, profile  # noqa: E402
from catalog.api import update_after_crawl  # noqa: E402
from signing import api  # noqa: E402

BIN = Path(sys.executable).parent / "bewaar"
WORDS = ("open", "data", "overheid", "woo", "rapport", "digitaal", "burger", "gemeente",
         "wet", "besluit", "vandaag", "nieuws", "toegankelijk", "jaarverslag", "privacy")  # fmt: skip
ACCOUNTS = 5


def images(n: int) -> list[bytes]:
    """n distinct full-page screenshots: 1280 x 2400, text-like stripes (about 60-90 KB)."""
    from PIL import Image, ImageDraw

    out = []
    for k in range(n):
        img = Image.new("RGB", (1280, 2400), "white")
        d = ImageDraw.Draw(img)
        for y in range(40, 2360, 28):
            d.rectangle((60, y, 60 + ((y * 7 + k * 131) % 1000) + 100, y + 12), fill=(40, 40, 40))
        d.rectangle((60, 300 + k, 700, 800 + k), fill=(30 + k % 200, 120, 200))
        buf = io.BytesIO()
        img.save(buf, "PNG")
        out.append(buf.getvalue())
    return out


def photo(i: int) -> bytes:
    from PIL import Image

    img = Image.new("RGB", (800, 600), ((i * 37) % 256, (i * 91) % 256, (i * 13) % 256))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def build(root: Path, posts: int) -> None:
    s = Synth(root, "bench")
    api.init_keys(root, load_root_config(root).signing)
    shots = images(20)
    per = posts // ACCOUNTS
    for a in range(ACCOUNTS):
        handle = f"org{a}"
        objs = []
        pages: list[Page] = []
        for n in range(per):
            pid = f"{a}{n:05d}"
            words = " ".join(WORDS[(a * 7 + n * 3 + i) % len(WORDS)] for i in range(25))
            url = f"{BASE}/media/{handle}/{pid}.jpg"
            o = post(pid, f"Bericht {n} van {handle}: {words} 📄 #OpenData", media=[url], handle=handle,
                     published=f"2024-{1 + n % 12:02d}-{1 + n % 28:02d}T09:00:00Z")  # fmt: skip
            objs.append(o)
            pg = post_page(o, media={url: photo(a * per + n)})
            pg.screenshot = shots[(a * per + n) % len(shots)]
            pages.append(pg)
        prof = Page(f"{BASE}/@{handle}", "profile", [profile(handle=handle), *objs[:20]], screenshot=shots[0])
        crawl_id = s.crawl(f"2024-12-0{1 + a}T10:00:00Z", [prof, *pages], handle=handle)
        for w in s.coll.warcs():
            if not w.with_name(w.name + ".sig.json").exists():
                api.sign_warc(w, root, load_root_config(root).signing)
        update_after_crawl(root, "bench", crawl_id)
    subprocess.run([str(BIN), "index", "--root", str(root), "bench"], check=True, capture_output=True)


def timed_export(root: Path, formats: str, out: Path) -> dict[str, float]:
    """`bewaar export` as its own process: wall time and peak RSS (via a fresh wrapper, so
    RUSAGE_CHILDREN is this export's alone)."""
    wrapper = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:], capture_output=True, text=True);"
               " sys.stderr.write(p.stderr[-2000:] if p.returncode else '');"
               " print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(p.returncode)")  # fmt: skip
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", wrapper, str(BIN), "export", "--root", str(root), "--collection",
                        "bench", "--format", formats, "-o", str(out)], capture_output=True, text=True)  # fmt: skip
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise SystemExit(f"export failed: {p.stderr}")
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    return {"seconds": round(wall, 1), "peak_rss_mb": round(int(p.stdout.strip()) / 1024, 1),
            "output_mb": round(size / 1e6, 1)}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=1000)
    ap.add_argument("--small", type=int, default=250)
    args = ap.parse_args()
    results: dict[str, object] = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load": os.getloadavg()},
    }
    with tempfile.TemporaryDirectory(prefix="bewaar-export-bench-") as tmp:
        for n in (args.small, args.posts):
            root = Path(tmp) / f"root-{n}"
            t = time.perf_counter()
            build(root, n)
            built = time.perf_counter() - t
            runs = {
                "wacz,xml,eml,html": timed_export(root, "wacz,xml,eml,html", Path(tmp) / f"out-{n}-a"),
                "wacz,pdf,html,xml,eml": timed_export(root, "wacz,pdf,html,xml,eml", Path(tmp) / f"out-{n}-b"),
                "pdf": timed_export(root, "pdf", Path(tmp) / f"out-{n}-c"),
            }
            results[str(n)] = {"build_seconds": round(built, 1), **runs}
            print(f"{n} posts: " + "; ".join(f"{k}: {v['seconds']} s, {v['peak_rss_mb']} MB peak, "
                                               f"{v['output_mb']} MB out" for k, v in runs.items()), flush=True)  # fmt: skip
    out = REPO / "benchmarks" / "results" / "export_scale.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

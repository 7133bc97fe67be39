"""Verification throughput and memory against `sha256sum`, on a generated WARC.

    .venv/bin/python benchmarks/verify_throughput.py [--size-mb 1024] [--mix social|text] [--runs 3]

Writes a signed WARC of the given size into a temporary root (warcio, gzip per record, sha256
digests, as the crawler writes), then times, best of --runs, alternating so a busy neighbour
slows all alike:
  * `sha256sum FILE`                       reads the compressed bytes once (the target: >= 80 %)
  * `zcat FILE | sha256sum`                inflates every record and hashes it once, on two cores
  * bewaar verify (checks 1-4, in a child process; its peak RSS and the CPU time it used over
    all its threads and worker processes are reported too, so "cores used" = CPU / wall)
  * signing the file (the crawler's sign_warc at file close)
CPU seconds of each are reported as well: on a shared machine the wall times depend on the
neighbours, the CPU seconds much less.
Mixes: "social" = 75 % of payload bytes incompressible (stand-ins for JPEG/MP4 media) and 25 %
HTML-like text; "text" = all HTML-like text (the worst case: much more to inflate and hash).
Results are printed and saved as JSON under benchmarks/results/ (ignored by git).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from warcio.statusandheaders import StatusAndHeaders  # noqa: E402
from warcio.utils import Digester  # noqa: E402
from warcio.warcwriter import WARCWriter  # noqa: E402

CHILD = """
import json, resource, sys, time
from pathlib import Path
from signing import trust, verify

def cpu():
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

root = Path(sys.argv[1]); warc = Path(sys.argv[2])
policy = verify.Policy(signer_trust=trust.load_trust(root / "trust/roots.pem"),
                       tsa_trust=trust.load_trust(root / "trust/tsa-roots.pem"))
c, t = cpu(), time.perf_counter()
report = verify.verify_paths([warc], policy)
elapsed = time.perf_counter() - t
print(json.dumps({"seconds": elapsed, "cpu_seconds": cpu() - c, "exit": report.exit_code,
                  "max_rss_mb": max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                                    resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024}))
"""


class _Writer(WARCWriter):
    @staticmethod
    def _create_digester() -> Digester:
        return Digester("sha256")


def make_warc(path: Path, size: int, mix: str, seed: int = 7) -> int:
    rnd = random.Random(seed)
    words = [bytes(rnd.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(2, 10))) for _ in range(5000)]
    noise = os.urandom(8 << 20)

    def text(n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            out += b'<div class="post"><p>' + b" ".join(rnd.choices(words, k=24)) + b"</p></div>\n"
        return bytes(out[:n])

    records = 0
    with path.open("wb") as fh:
        w = _Writer(fh, gzip=True, warc_version="WARC/1.1")
        w.write_record(w.create_warcinfo_record(path.name, {"software": "bewaar benchmark"}))
        while fh.tell() < size:
            records += 1
            media = mix == "social" and rnd.random() < 0.5
            if media:  # ~75 % of bytes: media responses are bigger than documents
                n = rnd.randint(50_000, 900_000)
                start = rnd.randint(0, len(noise) - n)
                body, ctype = noise[start : start + n], "image/jpeg"
            else:
                body, ctype = text(rnd.randint(5_000, 150_000)), "text/html"
            http = StatusAndHeaders("200 OK", [("Content-Type", ctype), ("Content-Length", str(len(body)))],
                                    protocol="HTTP/1.1")
            w.write_record(w.create_warc_record(f"https://example.gov/{records}", "response",
                                                payload=io.BytesIO(body), http_headers=http))
    return records


def _records(path: Path):
    from warcio.archiveiterator import ArchiveIterator

    with path.open("rb") as fh:
        yield from (r for r in ArchiveIterator(fh) if r.rec_type == "response")


def best(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mb", type=int, default=1024)
    ap.add_argument("--mix", choices=("social", "text"), default="social")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="keep the generated root here")
    ap.add_argument("--cache", type=Path, metavar="DIR",
                    help="keep generated WARCs here and reuse them (same size and mix)")
    args = ap.parse_args()

    from bewaar.config import load_root_config
    from signing import api

    work = Path(tempfile.mkdtemp(prefix="bewaar-bench-"))
    try:
        root = work / "root"
        cfg, _ = api.init_keys(root, load_root_config(root).signing)
        warc = root / "collections" / "bench" / "archive" / "bench.warc.gz"
        warc.parent.mkdir(parents=True)
        t = time.perf_counter()
        cached = args.cache / f"{args.mix}-{args.size_mb}mb.warc.gz" if args.cache else None
        if cached and cached.exists():
            shutil.copyfile(cached, warc)
            records = sum(1 for _ in _records(warc))
        else:
            records = make_warc(warc, args.size_mb * 1_000_000, args.mix)
            if cached:
                cached.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(warc, cached)
        made = time.perf_counter() - t
        size = warc.stat().st_size
        print(f"generated {size / 1e6:.0f} MB WARC ({records} records, mix={args.mix}) in {made:.0f} s")

        def sign_once() -> None:
            (warc.parent / (warc.name + ".sig.json")).unlink(missing_ok=True)
            api.sign_warc(warc, root, cfg)

        signing = best(sign_once, args.runs)

        # sha256sum, zcat | sha256sum and verify alternate, so a busy neighbour slows all alike.
        # Ratios are of the best times (the least disturbed run of each); the median of the
        # paired ratios is kept beside them, as a check on noise
        shas, zcats, vers, cpus, rss = [], [], [], [], 0.0
        cpu_sha, cpu_zcat, cpu_ver = [], [], []
        for _ in range(args.runs):
            c, t = _children_cpu(), time.perf_counter()
            subprocess.run(["sha256sum", str(warc)], check=True, capture_output=True)
            shas.append(time.perf_counter() - t)
            cpu_sha.append(_children_cpu() - c)
            c, t = _children_cpu(), time.perf_counter()
            subprocess.run(["bash", "-c", 'zcat "$1" | sha256sum', "-", str(warc)], check=True,
                           capture_output=True)
            zcats.append(time.perf_counter() - t)
            cpu_zcat.append(_children_cpu() - c)
            c = _children_cpu()
            out = subprocess.run([sys.executable, "-c", CHILD, str(root), str(warc)], check=True,
                                 capture_output=True, text=True, cwd=HERE.parent)
            r = json.loads(out.stdout)
            assert r["exit"] == 0, r
            vers.append(r["seconds"])
            cpus.append(r["cpu_seconds"])
            cpu_ver.append(_children_cpu() - c)
            rss = max(rss, r["max_rss_mb"])
        sha, zc, ver = min(shas), min(zcats), min(vers)
        paired = statistics.median(s / v for s, v in zip(shas, vers, strict=True))
        paired_z = statistics.median(z / v for z, v in zip(zcats, vers, strict=True))
        load = os.getloadavg()[0]

        mbps = lambda s: size / s / 1e6  # noqa: E731
        result = {
            "machine": {"cpus": os.cpu_count(), "cpu": _cpu(), "python": platform.python_version()},
            "mix": args.mix, "file_mb": round(size / 1e6), "records": records,
            "sha256sum_mb_s": round(mbps(sha)), "zcat_sha256sum_mb_s": round(mbps(zc)),
            "verify_mb_s": round(mbps(ver)),
            "verify_vs_sha256sum": round(sha / ver, 2), "paired_ratio_median": round(paired, 2),
            "verify_vs_zcat_sha256sum": round(zc / ver, 2), "paired_zcat_ratio_median": round(paired_z, 2),
            "verify_cores_used": round(statistics.median(c / v for c, v in zip(cpus, vers, strict=True)), 2),
            # CPU seconds (least of the runs): what each costs whatever the neighbours do. On a
            # machine where verify gets every core it spreads over, its wall time is about its
            # CPU time / cores; the last figure projects the ratio to sha256sum from that
            "cpu_seconds": {"sha256sum": round(min(cpu_sha), 2), "zcat_sha256sum": round(min(cpu_zcat), 2),
                            "verify": round(min(cpu_ver), 2)},
            "projected_verify_vs_sha256sum_all_cores_free": round(
                min(cpu_sha) / (min(cpu_ver) / (os.cpu_count() or 1)), 2),
            "sign_mb_s": round(mbps(signing)),
            "verify_peak_rss_mb": round(rss), "runs": args.runs, "load_average_1min": round(load, 2),
        }
        print(f"sha256sum            {result['sha256sum_mb_s']:>6} MB/s")
        print(f"zcat | sha256sum     {result['zcat_sha256sum_mb_s']:>6} MB/s")
        print(f"bewaar verify        {result['verify_mb_s']:>6} MB/s  = {sha / ver:.0%} of sha256sum, "
              f"{zc / ver:.0%} of zcat | sha256sum (best times; paired medians {paired:.0%}, {paired_z:.0%})")
        print(f"                     {result['verify_cores_used']} cores busy on average, peak RSS "
              f"{result['verify_peak_rss_mb']} MB; checks 1-4, every record")
        print(f"CPU seconds          sha256sum {min(cpu_sha):.2f}, zcat | sha256sum {min(cpu_zcat):.2f}, "
              f"verify {min(cpu_ver):.2f} (over {os.cpu_count()} cores: "
              f"{result['projected_verify_vs_sha256sum_all_cores_free']:.0%} of sha256sum if they were free)")
        print(f"bewaar sign          {result['sign_mb_s']:>6} MB/s  (sign_warc at file close)")
        print(f"machine: {result['machine']['cpus']} CPUs, {result['machine']['cpu']}, load average {load:.1f}")
        out_dir = HERE / "results"
        out_dir.mkdir(exist_ok=True)
        (out_dir / f"verify_throughput-{args.mix}-{args.size_mb}mb.json").write_text(json.dumps(result, indent=2))
        if args.keep:
            shutil.copytree(root, args.keep, dirs_exist_ok=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    sys.exit(main())

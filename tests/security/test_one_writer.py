"""One writer per collection, tried with real processes: a second crawl, `bewaar index` and
`bewaar sign` of a collection being crawled stop at once (exit 3, one line naming the holder)
and the running crawl finishes untouched; index merges running at the same time lose no
entry; WARCs a SIGKILLed crawl had already rotated are indexed and signed by the next crawl."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from bewaar.lock import collection_lock
from bewaar.sites.social import SocialSite
from bewaar.sites.synth import Synth, profile, profile_page
from crawler.indexer import indexed_files
from tests.conftest import BIN, make_root, run_bewaar, write_seeds

HOLDER = re.compile(
    r"^bewaar: error: collection (?P<coll>\S+) is being written by pid (?P<pid>\d+) on \S+ "
    r"\((?P<cmd>bewaar [^)]*), since (?P<since>\d{4}-\d\d-\d\dT[\d:]+Z)\): wait until it has finished"
)


def _one_line(proc: subprocess.CompletedProcess[str], code: int) -> str:
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def _wait_for(cond, timeout: float, what: str) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_second_writer_stops_with_the_holder_named(tmp_path: Path) -> None:
    root = make_root(tmp_path / "root")
    # a finished WARC already in the collection, so `bewaar sign` has something to write for
    Synth(root, "k").crawl("2024-05-01T10:00:00Z", [profile_page(profile())])
    with SocialSite(posts=10) as site:
        seeds = write_seeds(tmp_path / "seeds.yaml", {"collection": "k", "seeds": [{"url": site.profile_url}]})
        first = subprocess.Popen(
            [str(BIN), "crawl", str(seeds), "--root", str(root)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        lock = root / "collections/k/.lock"
        try:
            _wait_for(lambda: lock.exists() and str(first.pid) in lock.read_text(), 120, "the lock")
            started = time.monotonic()
            second = run_bewaar("crawl", str(seeds), "--root", str(root), timeout=60)
            assert time.monotonic() - started < 20  # no browser was started
            m = HOLDER.match(_one_line(second, 3))
            assert m and m["coll"] == "k" and int(m["pid"]) == first.pid, second.stderr
            assert m["cmd"].startswith("bewaar crawl ") and str(seeds) in m["cmd"]
            index = run_bewaar("index", "k", "--root", str(root), timeout=60)
            assert HOLDER.match(_one_line(index, 3))
            signing = run_bewaar("sign", "--root", str(root), str(root / "collections/k"), timeout=60)
            assert HOLDER.match(_one_line(signing, 3))
            assert first.poll() is None  # the first crawl goes on
            out, err = first.communicate(timeout=600)
        finally:
            if first.poll() is None:
                first.kill()
    assert first.returncode == 0, err
    assert lock.read_text() == ""  # released, and no stale holder line
    coll = root / "collections/k"
    warcs = sorted((coll / "archive").glob("*.warc.gz"))
    assert warcs and not list((coll / "tmp").glob("*.warc.gz"))
    assert indexed_files(coll / "indexes/index.cdxj") == {w.name for w in warcs}
    verify = run_bewaar("verify", "--root", str(root), str(coll), timeout=300)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    again = run_bewaar("index", "k", "--root", str(root), timeout=120)
    assert again.returncode == 0, again.stderr


def test_lock_names_a_python_holder(tmp_path: Path) -> None:
    coll = tmp_path / "collections" / "c"
    with collection_lock(coll, command="bewaar watch seeds.yaml"):
        proc = subprocess.run(
            [sys.executable, "-c",
             "import sys; from pathlib import Path; from bewaar.lock import collection_lock\n"
             "try:\n"
             f"    with collection_lock(Path({str(coll)!r})): pass\n"
             "except Exception as e:\n"
             "    print(e); sys.exit(e.exit_code)"],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert f"pid {os.getpid()} on " in proc.stdout and "(bewaar watch seeds.yaml, since " in proc.stdout
    with collection_lock(coll):  # released: taken again at once
        pass


MERGER = """
import sys
from pathlib import Path
from crawler.indexer import _merge_into
index, who, n = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
for i in range(n):
    _merge_into(index, [f'org,example)/{who}/{i:04d} 20240101000000 {{"filename": "{who}.warc.gz"}}'])
"""


def test_concurrent_index_merges_drop_nothing(tmp_path: Path) -> None:
    index = tmp_path / "indexes" / "index.cdxj"
    procs = [
        subprocess.Popen([sys.executable, "-c", MERGER, str(index), who, "60"])
        for who in ("a", "b", "c")
    ]
    for p in procs:
        assert p.wait(120) == 0
    lines = index.read_text().splitlines()
    assert len(lines) == 180 and lines == sorted(lines)
    assert not list(index.parent.glob("*.tmp"))


def test_warcs_rotated_before_a_sigkill_are_indexed_and_signed_next_time(tmp_path: Path) -> None:
    root = make_root(tmp_path / "root", crawl={"warc_max_size": 1_000_000, "concurrency": 1})
    coll = root / "collections/k"
    with SocialSite(posts=16) as site:
        seeds = write_seeds(tmp_path / "seeds.yaml", {"collection": "k", "seeds": [{"url": site.profile_url}]})
        proc = subprocess.Popen(
            [str(BIN), "crawl", str(seeds), "--root", str(root)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        try:
            _wait_for(lambda: list((coll / "archive").glob("*.warc.gz")), 300, "a rotated WARC")
        finally:
            os.killpg(proc.pid, signal.SIGKILL)  # no clean shutdown at all
            proc.wait(30)
        rotated = sorted((coll / "archive").glob("*.warc.gz"))
        assert not (coll / "indexes/index.cdxj").exists() or not (
            {w.name for w in rotated} <= indexed_files(coll / "indexes/index.cdxj")
        )
        for w in rotated:  # as if killed before the signing thread got to it
            w.with_name(w.name + ".sig.json").unlink(missing_ok=True)
        one_page = write_seeds(
            tmp_path / "one.yaml",
            {"collection": "k", "seeds": [{"url": site.post_url("p001"), "scope": "page"}]},
        )
        again = run_bewaar("crawl", str(one_page), "--root", str(root))
    assert again.returncode == 0, again.stderr
    assert "an earlier crawl finished but did not index" in again.stderr
    assert "an earlier crawl left unsigned" in again.stderr
    warcs = sorted((coll / "archive").glob("*.warc.gz"))
    assert {w.name for w in rotated} < {w.name for w in warcs}
    assert indexed_files(coll / "indexes/index.cdxj") == {w.name for w in warcs}
    assert all(w.with_name(w.name + ".sig.json").is_file() for w in warcs)
    verify = run_bewaar("verify", "--root", str(root), str(coll), timeout=300)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_watch_waits_while_another_process_writes_the_collection(tmp_path: Path) -> None:
    from bewaar.sites.platforms import SITES
    from tests.catalog.helpers import row

    site = SITES["mastodon"]()
    site.start()
    try:
        root = make_root(tmp_path / "root")
        seeds = write_seeds(root / "seeds.yaml", {
            "collection": "gov", "every": "1h", "behaviors": {"play_media": False},
            "seeds": [{"platform": "mastodon", "handle": site.handle_in_seed, "base_url": site.base_url,
                       "depth": 0}],
        })  # fmt: skip
        with collection_lock(root / "collections/gov", command="bewaar index gov"):
            p = run_bewaar("watch", str(seeds), "--root", str(root), "--once", timeout=120)
    finally:
        site.stop()
    assert p.returncode == 0, p.stdout + p.stderr
    assert re.search(rf"gov \S+: waiting, the collection is being written by pid {os.getpid()} on \S+ "
                     r"\(bewaar index gov, since ", p.stdout), p.stdout  # fmt: skip
    assert not (root / "collections/gov/crawls").exists()  # no crawl was started
    due = row(root, "SELECT last_start FROM schedule WHERE collection = 'gov'")
    assert due is not None and due["last_start"] is None  # still due: the next look runs it

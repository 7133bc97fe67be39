"""Bad seeds, dead crawls and busy ports: one clear line, the rest still works, nothing lost."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import WARCWriter

from bewaar.model import Collection
from bewaar.sites.social import SocialSite
from crawler.warc_writer import complete_prefix, recover
from tests.conftest import BIN, Replay, free_port, make_root, run_bewaar, write_seeds


def _warcio_check(path: Path) -> None:
    warcio = Path(sys.executable).parent / "warcio"
    res = subprocess.run([str(warcio), "check", str(path)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_failing_seeds_are_reported_and_the_rest_completes(tmp_path: Path) -> None:
    closed = free_port()  # nothing listens here
    with SocialSite(posts=3) as site:
        root = make_root(tmp_path / "root")
        seeds = write_seeds(
            tmp_path / "seeds.yaml",
            {
                "collection": "mixed",
                "seeds": [
                    {"url": f"http://127.0.0.1:{closed}/", "scope": "page"},
                    {"url": "http://archief.invalid/", "scope": "page"},
                    {"url": f"{site.base_url}/gone", "scope": "page"},
                    {"url": f"{site.base_url}/broken", "scope": "page"},
                    {"url": site.post_url("p001"), "scope": "page"},
                ],
            },
        )
        proc = run_bewaar("crawl", str(seeds), "--root", str(root))
    assert proc.returncode == 1, proc.stderr
    err = proc.stderr
    assert "Traceback" not in err
    assert "1 page(s) captured, 0 blocked, 4 failed" in err
    assert f"http://127.0.0.1:{closed}/ — connection refused (ERR_CONNECTION_REFUSED)" in err
    assert "http://archief.invalid/ — host not found (DNS) (ERR_NAME_NOT_RESOLVED)" in err
    assert f"{site.base_url}/gone — HTTP 404" in err
    assert f"{site.base_url}/broken — HTTP 500" in err

    coll = root / "collections/mixed"
    warcs = list((coll / "archive").glob("*.warc.gz"))
    assert len(warcs) == 1
    _warcio_check(warcs[0])
    index = (coll / "indexes/index.cdxj").read_text()
    assert "/@minx/post/p001" in index and "/gone" in index  # the 404 page is evidence too
    pages = [json.loads(x) for x in (coll / "pages/pages.jsonl").read_text().splitlines()[1:]]
    outcomes = {p["url"]: (p["outcome"], p["status"]) for p in pages}
    assert outcomes[site.post_url("p001")] == ("ok", 200)
    assert outcomes[f"{site.base_url}/gone"] == ("failed", 404)
    report = json.loads(next((coll / "crawls").glob("*.json")).read_text())
    assert {f["url"] for f in report["failures"]} >= {f"http://127.0.0.1:{closed}/", "http://archief.invalid/"}


def _write_warc(path: Path, n: int) -> None:
    with path.open("wb") as fh:
        w = WARCWriter(fh, gzip=True, warc_version="1.1")
        for i in range(n):
            from io import BytesIO

            body = (f"record {i} " * 200).encode()
            w.write_record(w.create_warc_record(f"urn:test:{i}", "resource", payload=BytesIO(body),
                                                length=len(body), warc_content_type="text/plain"))


def test_recover_keeps_whole_records_of_a_truncated_warc(tmp_path: Path) -> None:
    coll = Collection(tmp_path, "c").ensure()
    path = coll.tmp / "c-20260101000000-00001-abcdef.warc.gz"
    _write_warc(path, 5)
    full = path.stat().st_size
    assert complete_prefix(path) == full
    with path.open("r+b") as fh:
        fh.truncate(full - 40)  # the crawl died while writing the last record
    moved = recover(coll)
    assert [p.name for p in moved] == [path.name]
    assert not path.exists()
    final = coll.archive / path.name
    _warcio_check(final)
    with final.open("rb") as fh:
        uris = [r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(fh)]
    assert uris == [f"urn:test:{i}" for i in range(4)]


def test_killed_crawl_loses_nothing_finished_and_next_crawl_recovers(tmp_path: Path) -> None:
    root = make_root(tmp_path / "root")
    with SocialSite(posts=24) as site:
        seeds = write_seeds(tmp_path / "seeds.yaml", {"collection": "k", "seeds": [{"url": site.profile_url}]})
        proc = subprocess.Popen(
            [str(BIN), "crawl", str(seeds), "--root", str(root)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )
        tmpdir = root / "collections/k/tmp"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            files = list(tmpdir.glob("*.warc.gz")) if tmpdir.exists() else []
            if files and files[0].stat().st_size > 300_000:
                break
            time.sleep(0.2)
        else:
            proc.kill()
            raise AssertionError("crawl never started writing")
        os.killpg(proc.pid, signal.SIGKILL)  # no clean shutdown at all
        proc.wait(30)
        # nothing half-written is served: archive/ is untouched, the partial file is in tmp/
        assert not list((root / "collections/k/archive").glob("*.warc.gz"))
        partial = list(tmpdir.glob("*.warc.gz"))
        assert len(partial) == 1

        again = run_bewaar("crawl", str(seeds), "--root", str(root))
    assert again.returncode == 0, again.stderr
    assert f"recovered {partial[0].name}" in again.stderr
    warcs = sorted((root / "collections/k/archive").glob("*.warc.gz"))
    assert partial[0].name in {w.name for w in warcs} and len(warcs) == 2
    for w in warcs:
        _warcio_check(w)
    index = (root / "collections/k/indexes/index.cdxj").read_text()
    assert partial[0].name in index  # recovered records are replayable
    # the second crawl stored the page's script again only as a revisit of the first
    second = next(w for w in warcs if w.name != partial[0].name)
    with second.open("rb") as fh:
        kinds = {
            r.rec_type for r in ArchiveIterator(fh)
            if r.rec_headers.get_header("WARC-Target-URI", "").endswith("/static/app.css")
        }
    assert "revisit" in kinds


def test_replay_port_in_use_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "collections/x/archive").mkdir(parents=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = run_bewaar("replay", "--root", str(tmp_path), "--port", str(port), timeout=60)
    assert proc.returncode == 3
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1
    assert f"cannot listen on 127.0.0.1:{port}" in err and "--port" in err


def test_replay_without_collections(tmp_path: Path) -> None:
    proc = run_bewaar("replay", "--root", str(tmp_path), "--port", str(free_port()), timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("bewaar: error: no collections under")


def test_replay_binds_loopback_by_default(tmp_path: Path) -> None:
    (tmp_path / "collections/x/archive").mkdir(parents=True)
    with Replay(tmp_path) as rp:
        assert rp.url.startswith("http://127.0.0.1:")
        with socket.socket() as s:
            # not reachable on another local address of this machine
            addr = socket.gethostbyname(socket.gethostname())
            if addr != "127.0.0.1" and not addr.startswith("127."):
                assert s.connect_ex((addr, rp.port)) != 0


def _port_closes(port: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return True
        time.sleep(0.1)
    return False


def test_replay_leaves_no_server_behind_when_killed(tmp_path: Path) -> None:
    """pywb runs as a child process: it must end with `bewaar replay`, even on SIGKILL."""
    (tmp_path / "collections/x/archive").mkdir(parents=True)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        rp = Replay(tmp_path).__enter__()
        assert rp.proc is not None
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", rp.port)) == 0
        rp.proc.send_signal(sig)
        rp.proc.wait(15)
        assert _port_closes(rp.port), f"pywb still listening after {sig.name}"


def test_warc_write_failure_stops_the_crawl_and_keeps_whole_pages(tmp_path: Path) -> None:
    """A real write failure: once the crawl is writing, its own process (not Chromium) gets a
    file size limit (RLIMIT_FSIZE; writes past it fail with EFBIG, as on a full disk)."""
    import resource

    root = make_root(tmp_path / "root", crawl={"concurrency": 1})
    with SocialSite(posts=12) as site:
        seeds = write_seeds(tmp_path / "seeds.yaml", {"collection": "f", "seeds": [{"url": site.profile_url}]})
        proc = subprocess.Popen(
            [str(BIN), "crawl", str(seeds), "--root", str(root)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        coll = root / "collections/f"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:  # until the first page (the profile) is stored
            pages_file = coll / "pages/pages.jsonl"
            if pages_file.exists() and len(pages_file.read_text().splitlines()) >= 2:
                break
            time.sleep(0.05)
        else:
            proc.kill()
            raise AssertionError("crawl never stored a page")
        files = list((coll / "tmp").glob("*.warc.gz"))
        limit = files[0].stat().st_size + 150_000  # room for about one post page
        resource.prlimit(proc.pid, resource.RLIMIT_FSIZE, (limit, limit))
        _, err = proc.communicate(timeout=600)
    assert proc.returncode == 1, err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error: could not write the WARC")]
    assert len(errors) == 1 and "File too large" in errors[0], err
    assert not list((coll / "tmp").glob("*.warc.gz"))  # finished, not left behind
    warcs = list((coll / "archive").glob("*.warc.gz"))
    assert len(warcs) == 1 and warcs[0].stat().st_size <= limit
    _warcio_check(warcs[0])
    # every page the pages list calls stored is whole in the WARC: its screenshot is there
    pages = [json.loads(line) for line in (coll / "pages/pages.jsonl").read_text().splitlines()[1:]]
    assert pages, "pages were stored before the limit"
    with warcs[0].open("rb") as fh:
        shots = {
            r.rec_headers.get_header("WARC-Target-URI").removeprefix("urn:screenshot:")
            for r in ArchiveIterator(fh)
            if r.rec_type == "resource" and r.rec_headers.get_header("WARC-Target-URI").startswith("urn:screenshot:")
        }
    assert {p["url"] for p in pages} <= shots, (pages, shots)
    assert len(pages) < 13  # the crawl stopped instead of browsing on and losing every page
    assert "not stored: could not write the WARC" in err  # the page that hit the limit is named
    assert "the pages stored before it are kept" in errors[0]
    verify = run_bewaar("verify", "--root", str(root), str(coll))
    assert verify.returncode == 0, verify.stdout + verify.stderr

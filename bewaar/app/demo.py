"""`bewaar demo`: what bewaar is for, in a couple of minutes, nothing leaving 127.0.0.1.

Two government accounts on two platform-shaped fixture sites (Mastodon and X, from
bewaar/sites/platforms) are served on 127.0.0.1 next to a local RFC 3161 timestamp authority.
The demo crawls both accounts (signing every WARC), then changes the Mastodon account as such
accounts change (a post edited, one deleted, one new) and crawls again, so the catalog has
changes to report. It scores the second crawl with `bewaar qa`, writes a signed WACZ package,
verifies the collection and the package, and then serves replay, the overview (posts and
changes, with a QA column) and ReplayWeb.page with the package, printing their URLs.

Each step runs as the `bewaar` command a user would type, in a child process: Scrapy's reactor
runs once per process, so two crawls cannot share one, and a child in its own session is
stopped by the demo alone, once. Ctrl-C and SIGTERM stop the demo at every step: the running
step, the sites and the servers are stopped, and the exit status is 130.

The demo writes into a root of its own (default ./bewaar-demo), which it starts afresh on every
run; it refuses a non-empty directory it did not create.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from bewaar.errors import FAILED, OK, EnvironmentProblem, InputError
from bewaar.model import Root

COLLECTION = "demo"
PLATFORMS = ("mastodon", "x")
MARKER = ".bewaar-demo"
MAX_POSTS = 3  # the newest three posts of each account: enough to show edits and deletions
# the changes made between the two crawls, on the Mastodon account
EDITED = "1790000000000000004"
EDITED_TEXT = "Lees het jaarverslag over open data 📄 #OpenData"
DELETED = "1790000000000000006"
NEW = "1790000000000000007"
NEW_TEXT = "Nieuw: de #Woo-index staat online 🚀"
STOP_GRACE = 10.0  # seconds a step gets to stop after SIGTERM, before it is made to


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ports(wanted: int | None) -> tuple[int, int, int]:
    """Replay, overview and ReplayWeb.page ports: WANTED (default 8080) and the next two, or
    free ones where those are taken. Chosen before the crawls, so the links `bewaar changes`
    prints are the ones the demo serves."""
    out = []
    for i in range(3):
        port = (wanted or 8080) + i
        if not _free(port):
            if wanted and i == 0:
                raise EnvironmentProblem(f"port {port} on 127.0.0.1 is in use: pick another with --port")
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
        out.append(port)
    return out[0], out[1], out[2]


def _interrupt(signum: int, frame: object) -> None:
    """Ctrl-C or SIGTERM: unwind once. Further signals are ignored while the `finally` blocks
    stop the running step and the servers, so a second Ctrl-C cannot leave one behind."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


def _stop(proc: subprocess.Popen[str]) -> None:
    """SIGTERM, then (a crawl finishes the pages under way first) SIGTERM again, then SIGKILL."""
    for attempt in range(3):
        if proc.poll() is not None:
            return
        if attempt < 2:
            proc.terminate()
        else:
            proc.kill()
        try:
            proc.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            continue


def _bewaar(*args: str, capture: bool = False) -> tuple[int, str]:
    """Run `bewaar ARGS` as a child; its progress goes to our stderr. Interrupted, the child is
    stopped before the interrupt goes on."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bewaar.app.cli", *args],
        stdout=subprocess.PIPE if capture else sys.stderr,
        text=True,
        start_new_session=True,  # a terminal's Ctrl-C reaches the demo only; it stops the child
    )
    try:
        while True:
            # never one blocking wait: a signal the kernel hands to another thread (a fixture
            # site's) would not interrupt it, and Python runs its handler only in this thread
            # once it gets back to bytecode
            try:
                out, _ = proc.communicate(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                continue
    except BaseException:
        _stop(proc)
        raise
    return proc.returncode, out or ""


def _fresh_root(path: Path) -> Root:
    if path.exists() and not path.is_dir():
        raise InputError(f"--root {path} is a file, not a directory")
    if path.exists() and any(path.iterdir()):
        if not (path / MARKER).exists():
            raise InputError(
                f"{path} is not empty and was not made by `bewaar demo`: the demo starts its "
                "root afresh on every run, so give it a new or empty directory with --root"
            )
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / MARKER).write_text("made by `bewaar demo`, which deletes it on its next run\n")
    # the fixture sites live on 127.0.0.1, which a crawl refuses unless allowed; the browser
    # may not leave loopback at all
    cfg = {"browser": {"loopback_only": True}, "crawl": {"allow_private": ["127.0.0.1"]}}
    (path / "bewaar.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return Root(path)


def _seed(site: Any) -> dict[str, Any]:
    return {
        "platform": site.platform,
        "handle": site.handle_in_seed or site.account.handle,
        "base_url": site.base_url,
        "max_posts": MAX_POSTS,
    }


def _change_account(site: Any) -> None:
    """What happens to a government account between two crawls: an edit, a deletion, a post."""
    from bewaar.sites.platforms.fixture import Post

    a = site.account
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    site.posts.insert(0, Post(id=NEW, text=NEW_TEXT, published=now, author=a.handle,
                              author_name=a.name, likes=3))  # fmt: skip
    site.edit_post(EDITED, EDITED_TEXT)
    site.delete_post(DELETED)


def _step(n: int, text: str) -> None:
    print(f"\n[{n}/6] {text}", flush=True)


def _indent(text: str, keep: int = 20) -> None:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    for line in lines[:keep]:
        print("  " + line)
    if len(lines) > keep:
        print(f"  … and {len(lines) - keep} more line(s)")


def _qa_lines(root: Root) -> list[str]:
    """The QA scores of the latest checked crawl, per account, as the overview shows them."""
    from replay import qa_report

    qa = qa_report.load(root.path)
    lines = []
    for (_coll, account), s in sorted(qa.by_account.items()):
        lines.append(f"QA {account}: {s['pages']} page(s), mean {s['mean']:.2f}, lowest {s['min']:.2f}"
                     f", {s['below']} below {qa.threshold}")  # fmt: skip
    return lines


def cmd_demo(args: argparse.Namespace) -> int:
    from bewaar.config import load_root_config
    from bewaar.sites.platforms import SITES
    from signing.api import set_tsa_url, trust_tsa_root
    from signing.tsa_server import LocalTSA

    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    ports = _ports(args.port)
    root = _fresh_root(Path(args.root).resolve())
    code = OK
    sites = {name: SITES[name]() for name in PLATFORMS}
    tsa = LocalTSA(root.state_dir / "demo-tsa")
    try:
        for site in sites.values():
            site.start()
        tsa_url = tsa.start()
        trust_tsa_root(root.path, load_root_config(root.path).signing, tsa.root_cert_path)
        set_tsa_url(root.path, tsa_url)
        print(f"Demo root: {root.path}")
        for name, site in sites.items():
            print(f"Fixture site ({name}): {site.base_url}  — account {site.handle_in_seed}")
        print(f"Local RFC 3161 timestamp authority (test only): {tsa_url}", flush=True)

        seeds = root.path / "demo-seeds.yaml"
        seeds.write_text(yaml.safe_dump({
            "collection": COLLECTION,
            "behaviors": {"play_media": False},  # a couple of minutes, not five
            "seeds": [_seed(s) for s in sites.values()],
        }, sort_keys=False), encoding="utf-8")  # fmt: skip
        crawl = ("crawl", str(seeds), "--root", str(root.path))

        _step(1, f"First crawl of {len(sites)} accounts (every WARC signed and timestamped)")
        rc, _ = _bewaar(*crawl)
        code = max(code, FAILED if rc else OK)

        mastodon = sites["mastodon"]
        _change_account(mastodon)
        _step(2, f"The Mastodon account changes: post {EDITED} edited, post {DELETED} deleted, "
                 f"post {NEW} new; second crawl")  # fmt: skip
        rc, _ = _bewaar(*crawl)
        code = max(code, FAILED if rc else OK)
        rc, out = _bewaar("changes", "--root", str(root.path), "--replay-url",
                          f"http://127.0.0.1:{ports[0]}", capture=True)  # fmt: skip
        print("What changed (`bewaar changes`):")
        _indent(out)

        _step(3, "QA: every page of the second crawl replayed in Chromium and scored (`bewaar qa`)")
        rc, _ = _bewaar("qa", "--root", str(root.path), COLLECTION)
        code = max(code, FAILED if rc else OK)
        for line in _qa_lines(root):
            print("  " + line)

        _step(4, "A signed WACZ package of the collection (`bewaar package`)")
        wacz = root.path / f"{COLLECTION}.wacz"
        rc, out = _bewaar("package", COLLECTION, "-o", str(wacz), "--root", str(root.path), capture=True)
        _indent(out)
        code = max(code, FAILED if rc else OK)

        _step(5, "Verifying the collection and the package (signatures, timestamps, digests)")
        rc, out = _bewaar("verify", "--root", str(root.path), str(root.collection(COLLECTION).path),
                          str(wacz), capture=True)  # fmt: skip
        checks = [line.strip() for line in out.splitlines() if line.strip().startswith("[")]
        for line in checks:
            if not line.startswith("[ok"):
                print("  " + line)
        passed = sum(1 for line in checks if line.startswith("[ok"))
        print(f"  verify: {passed} of {len(checks)} checks passed"
              f"{'' if rc == 0 else ' — FAILED'} (`bewaar verify` shows each)", flush=True)  # fmt: skip
        code = max(code, FAILED if rc else OK)

        _step(6, "Replay, the overview and ReplayWeb.page, on 127.0.0.1")
        return max(code, _serve(args, ports, root, mastodon, wacz, load_root_config(root.path)))
    finally:
        tsa.stop()
        for site in sites.values():
            site.stop()


def _serve(args: argparse.Namespace, ports: tuple[int, int, int], root: Root, site: Any, wacz: Path, config: Any) -> int:
    from bewaar.app.serve import Servers
    from bewaar.app.view import ReplayWebPage

    servers = Servers(root, config.replay, "127.0.0.1", ports[0], ports[1])
    servers.replay.echo_errors = False
    rwp: ReplayWebPage | None = None
    try:
        url, overview = servers.start()
        profile = site.base_url + "/@" + site.account.handle
        with urllib.request.urlopen(f"{url}/{COLLECTION}/mp_/{profile}", timeout=30) as resp:
            ok = resp.status == 200
        code = OK if ok else FAILED
        print(f"Replay:          {url}/{COLLECTION}/{profile}  ({'answers' if ok else 'NOT answering'})")
        print(f"Search:          {url}/{COLLECTION}/")
        print(f"Overview:        {overview}  (posts, changes, QA)")
        try:
            rwp = ReplayWebPage(port=ports[2])
            name = rwp.add(wacz)
            rwp.start()
            print(f"ReplayWeb.page:  {rwp.view_url(name)}  (the package {wacz.name}, its pages)")
            edited = site.post_page_url(site.post(EDITED))
            print(f"  edited post:   {rwp.view_url(name, edited)}")
        except EnvironmentProblem as e:
            rwp = None
            print(f"ReplayWeb.page:  not available ({e}); `bewaar setup` installs it")
        print(f"Package:         {wacz}")
        print(f"Verify:          bewaar verify --root {root.path} {wacz}")
        if args.no_serve:
            return code
        print("Serving replay, the overview and ReplayWeb.page; press Ctrl-C to stop.", flush=True)
        while servers.replay.proc and servers.replay.proc.poll() is None:
            time.sleep(0.5)
        print("bewaar: error: the replay server stopped", file=sys.stderr)
        return FAILED
    finally:
        if rwp is not None:
            rwp.stop()
        servers.stop()


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="crawl two platform-shaped accounts twice, then show changes, QA, a signed package "
        "and replay, all on 127.0.0.1",
    )
    p.add_argument("--root", default="bewaar-demo",
                   help="the demo's own root, started afresh each run (default: ./bewaar-demo)")
    p.add_argument("--port", type=int, help="replay port (default 8080, or a free one); "
                   "the overview and ReplayWeb.page take the next two")
    p.add_argument("--no-serve", action="store_true", help="exit after checking the replay answers")
    p.set_defaults(func=cmd_demo)

"""`bewaar demo`: the whole chain on the bundled example site, nothing leaving 127.0.0.1.

Serves the example social site, runs a local RFC 3161 timestamp authority, crawls the site into
the root's `demo` collection (signing each WARC), verifies it, starts replay and prints the URLs.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from bewaar.config import load_root_config
from bewaar.errors import FAILED
from bewaar.model import Root

SITE_PORT = 8765


def _example_site() -> Any:
    """The example site is installed with bewaar (bewaar/sites/social)."""
    from bewaar.sites.social import SocialSite

    return SocialSite


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cmd_demo(args: argparse.Namespace) -> int:
    from bewaar.app.crawl import crawl
    from bewaar.app.serve import Servers
    from signing.api import set_tsa_url, trust_tsa_root
    from signing.tsa_server import LocalTSA

    root = Root(Path(args.root).resolve())
    root.path.mkdir(parents=True, exist_ok=True)
    site_cls = _example_site()
    site = site_cls().start(SITE_PORT if _free(SITE_PORT) else 0)
    tsa = LocalTSA(root.state_dir / "demo-tsa")
    try:
        tsa_url = tsa.start()
        config = load_root_config(root.path)
        trust_tsa_root(root.path, config.signing, tsa.root_cert_path)
        set_tsa_url(root.path, tsa_url)
        config = load_root_config(root.path)
        # the example site lives on 127.0.0.1, which a crawl refuses unless allowed
        allow = list(dict.fromkeys([*config.crawl.allow_private, "127.0.0.1"]))
        config = config.model_copy(
            update={
                "browser": config.browser.model_copy(update={"loopback_only": True}),
                "crawl": config.crawl.model_copy(update={"allow_private": allow}),
            }
        )
        print(f"Example social site: {site.profile_url}")
        print(f"Local RFC 3161 timestamp authority (test only): {tsa_url}")
        seeds_path = root.state_dir / "demo-seeds.yaml"
        seeds_path.write_text(
            yaml.safe_dump(
                {"collection": "demo", "seeds": [{"url": site.profile_url, "depth": 1}]},
                sort_keys=False,
            ),
            encoding="utf-8",
        )
        from bewaar.config import load_seed_list

        code, job = crawl(root, load_seed_list(seeds_path), config, seed_file=seeds_path)
        print("\nVerifying the capture (signatures, timestamps, digests):", flush=True)
        verify = subprocess.run(
            [sys.executable, "-m", "bewaar.app.cli", "verify", "--root", str(root.path),
             str(job.collection.path)],
            capture_output=True,
            text=True,
        )
        lines = verify.stdout.strip().splitlines()
        for line in lines[-8:]:
            print("  " + line)
        if verify.returncode != 0:
            print(verify.stderr.strip(), file=sys.stderr)
            code = FAILED

        port = args.port
        if port is None:
            port = 8080 if _free(8080) else 0
        overview_port = port + 1 if port and _free(port + 1) else 0
        servers = Servers(root, config.replay, "127.0.0.1", port, overview_port)
        servers.replay.echo_errors = False
        url, overview = servers.start()
        try:
            replay_url = f"{url}/demo/{site.profile_url}"
            with urllib.request.urlopen(f"{url}/demo/mp_/{site.profile_url}", timeout=30) as resp:
                ok = resp.status == 200
            print(f"\nReplay:   {replay_url}  ({'answers' if ok else 'NOT answering'})")
            print(f"Search:   {url}/demo/*/{site.base_url}/*")
            print(f"Overview: {overview}")
            print(f"Verify:   bewaar verify --root {root.path} {job.collection.path}")
            print(f"Package:  bewaar package demo -o demo.wacz --root {root.path}")
            if args.no_serve:
                return code
            print("Serving the live example site and the replay; press Ctrl-C to stop.", flush=True)
            try:
                while servers.replay.proc and servers.replay.proc.poll() is None:
                    time.sleep(0.5)
            except KeyboardInterrupt:
                pass
            return code
        finally:
            servers.stop()
    finally:
        tsa.stop()
        site.stop()


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo", help="crawl, sign, verify and replay the bundled example site on 127.0.0.1"
    )
    p.add_argument("--root", default=".", help="root directory (default: .)")
    p.add_argument("--port", type=int, help="replay port (default 8080, or a free one)")
    p.add_argument("--no-serve", action="store_true", help="exit after checking the replay answers")
    p.set_defaults(func=cmd_demo)

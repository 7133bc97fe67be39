"""Sub-commands: replay, qa."""

from __future__ import annotations

import argparse
from pathlib import Path

from bewaar.config import load_root_config
from bewaar.model import Root


def cmd_replay(args: argparse.Namespace) -> int:
    from replay.server import ReplayServer

    root = Root(Path(args.root).resolve())
    cfg = load_root_config(root.path).replay
    host = args.host or cfg.host
    port = cfg.port if args.port is None else args.port
    server = ReplayServer(root, cfg, host, port)
    url = server.start()
    names = ", ".join(c.name for c in root.collections())
    print(f"Replay of {root.path} at {url}/ (collections: {names})")
    for c in root.collections():
        print(f"  {url}/{c.name}/  — search and replay '{c.name}'")
    print(f"  {url}/_overview  — every account and post, searchable")
    print("Press Ctrl-C to stop.", flush=True)
    return server.wait()


def cmd_qa(args: argparse.Namespace) -> int:
    from replay.qa import print_summary, run_qa

    result = run_qa(Root(Path(args.root).resolve()), args.collection, args.crawl, args.min_score)
    print_summary(result)
    return result.exit_code


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="serve the root's collections with pywb")
    p.add_argument("--root", default=".", help="root directory holding collections/")
    p.add_argument("--host", help="address to bind (default 127.0.0.1: not public)")
    p.add_argument("--port", type=int, help="port (default 8080; 0 picks a free one)")
    p.set_defaults(func=cmd_replay)

    q = sub.add_parser(
        "qa",
        help="replay every page of a crawl and score it against its capture",
        description="Replay every page a crawl captured in headless Chromium through bewaar's "
        "replay and score it against the capture (screenshot, text, which records answered); "
        "check every captured request against the learned rules. Writes "
        "collections/NAME/crawls/CRAWL_ID.qa.json. Exit status 1 when a page scores below "
        "--min-score or a request is answered by another URL's record.",
    )
    q.add_argument("collection", metavar="COLLECTION", help="the collection to check")
    q.add_argument("--root", default=".", help="root directory holding collections/")
    q.add_argument("--crawl", metavar="ID", help="the crawl to check (default: the latest)")
    q.add_argument("--min-score", type=float, metavar="S",
                   help="fail (exit 1) when a page scores below S (0..1)")
    q.set_defaults(func=cmd_qa)

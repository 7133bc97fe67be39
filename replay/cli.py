"""Sub-command: replay."""

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


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="serve the root's collections with pywb")
    p.add_argument("--root", default=".", help="root directory holding collections/")
    p.add_argument("--host", help="address to bind (default 127.0.0.1: not public)")
    p.add_argument("--port", type=int, help="port (default 8080; 0 picks a free one)")
    p.set_defaults(func=cmd_replay)

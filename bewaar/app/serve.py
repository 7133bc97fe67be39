"""`bewaar replay`: pywb's replay and bewaar's own pages, on two origins.

Archived pages run their own JavaScript when replayed. pywb serves them on one origin
(127.0.0.1:8080 by default); the overview is served on another (the next port), so a replayed
page cannot read or drive it. Both stop together, on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bewaar.config import ReplayConfig, load_root_config
from bewaar.model import Root


class Servers:
    """pywb (a child process) and the overview (a thread), started and stopped together."""

    def __init__(self, root: Root, cfg: ReplayConfig, host: str, port: int, overview_port: int | None) -> None:
        from bewaar.app.web.server import WebServer
        from replay.server import ReplayServer

        self.replay = ReplayServer(root, cfg, host, port)
        self.web = WebServer(root, host, 0, "")
        self._overview_port = overview_port

    def start(self) -> tuple[str, str]:
        replay_url = self.replay.start()
        port = self._overview_port
        if port is None:
            port = self.replay.port + 1 if self.replay.port < 65535 else 0
        self.web.port = port
        self.web.replay_base = replay_url
        try:
            overview = self.web.start()
        except BaseException:
            self.replay.stop()
            raise
        return replay_url, overview + "/_overview/"

    def stop(self) -> None:
        self.web.stop()
        self.replay.stop()

    def __enter__(self) -> tuple[str, str]:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def cmd_replay(args: argparse.Namespace) -> int:
    root = Root(Path(args.root).resolve())
    cfg = load_root_config(root.path).replay
    host = args.host or cfg.host
    port = cfg.port if args.port is None else args.port
    overview_port = args.overview_port if args.overview_port is not None else cfg.overview_port
    servers = Servers(root, cfg, host, port, overview_port)
    url, overview = servers.start()
    try:
        names = ", ".join(c.name for c in root.collections())
        print(f"Replay of {root.path} at {url}/ (collections: {names})")
        for c in root.collections():
            print(f"  {url}/{c.name}/  — search and replay '{c.name}'")
        print(f"Overview at {overview}  — every account and post, searchable (its own origin)")
        print("Press Ctrl-C to stop.", flush=True)
        return servers.replay.wait()
    finally:
        servers.stop()


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="serve the root's collections with pywb, and the overview")
    p.add_argument("--root", default=".", help="root directory holding collections/")
    p.add_argument("--host", help="address to bind (default 127.0.0.1: not public)")
    p.add_argument("--port", type=int, help="replay port (default 8080; 0 picks a free one)")
    p.add_argument(
        "--overview-port", type=int,
        help="port of the overview, another origin than replay (default: replay port + 1)",
    )  # fmt: skip
    p.set_defaults(func=cmd_replay)



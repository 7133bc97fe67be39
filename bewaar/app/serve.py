"""`bewaar replay`: pywb's replay and bewaar's own pages, on two origins.

Archived pages run their own JavaScript when replayed. pywb serves them on one origin
(127.0.0.1:8080 by default); the overview and the login page are served on another (the next
port), so a replayed page cannot read or drive them. Both stop together, on Ctrl-C or SIGTERM.

Access (docs/access.md): with built-in accounts or a trusted proxy header, both origins need a
signed-in user; without either, everyone is an anonymous reader, which is allowed on a
loopback address only unless --public says otherwise. pywb's access-control lists are written
from the restrictions before pywb starts, and again when an embargo ends.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
from pathlib import Path
from typing import Any

from bewaar.config import ReplayConfig, load_root_config
from bewaar.errors import InputError
from bewaar.model import Root
from bewaar.timeutil import iso, parse_iso


class Servers:
    """pywb (a child process) and the overview (a thread), started and stopped together."""

    def __init__(
        self, root: Root, cfg: ReplayConfig, host: str, port: int, overview_port: int | None,
        public: bool = False,
    ) -> None:  # fmt: skip
        from bewaar.app.access import Access, is_loopback
        from bewaar.app.web.server import WebServer
        from replay.server import ReplayServer

        self.root = root
        self.access = Access(root, cfg.auth)
        self.mode = self.access.mode
        if self.mode == "open" and not is_loopback(host) and not public:
            raise InputError(
                f"replay on {host} would show the archive to anyone who reaches it: add users "
                "(`bewaar users add`), configure replay.auth (a trusted proxy), or pass --public"
            )
        self.gate_file = root.state_dir / "replay" / "gate.json"
        self.replay = ReplayServer(root, cfg, host, port, gate=self.gate_file, on_event=self._event)
        self.web = WebServer(root, host, 0, "", access=self.access, mode=self.mode)
        self._overview_port = overview_port
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None

    def start(self) -> tuple[str, str]:
        from bewaar.app.access.acl import write_acls

        write_acls(self.root)
        port = self._overview_port
        if port is None:
            port = self.replay.port + 1 if 0 < self.replay.port < 65535 else 0
        self.web.port = port
        overview = self.web.start()
        try:
            self._write_gate()
            replay_url = self.replay.start()
            self.web.set_replay(replay_url, self.replay.port)
        except BaseException:
            self.web.stop()
            raise
        self._timer = threading.Thread(target=self._embargoes, name="bewaar-embargoes", daemon=True)
        self._timer.start()
        return replay_url, overview + "/_overview/"

    def _write_gate(self) -> None:
        """The gate's settings for the pywb process (replay/pywb_app.py)."""
        from bewaar.app.access import COOKIE
        from bewaar.app.access.acl import acl_secret
        from bewaar.app.access.store import AccessStore

        cfg = self.access.cfg
        settings: dict[str, Any] = {
            "mode": self.mode, "secret": acl_secret(self.root),
            "db": str(AccessStore.file_of(self.root)), "cookie": COOKIE,
            "header": cfg.header, "trusted_proxies": cfg.trusted_proxies,
            "default_role": cfg.default_role, "login_port": self.web.port,
            "collections": [c.name for c in self.root.collections()],
        }  # fmt: skip
        self.gate_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.gate_file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(settings, fh)
        tmp.replace(self.gate_file)

    def _event(self, ev: dict[str, Any]) -> None:
        """An audit event from the gate in front of pywb."""
        self.access.audit.append(
            ev.get("action", "view"), ev.get("user", ""), ev.get("role", ""),
            ev.get("target", ""), ev.get("outcome", ""),
            address=ev.get("address"), where=ev.get("where"),
        )  # fmt: skip

    def _embargoes(self) -> None:
        """Write the ACLs again when an embargo ends (pywb's rules cannot hold a date)."""
        from bewaar.app.access.acl import write_acls
        from bewaar.app.access.policy import next_change

        while not self._stop.is_set():
            try:
                ends = next_change(self.root)
            except Exception:  # noqa: BLE001 - the store may be busy; try again shortly
                ends = None
            wait = 60.0
            if ends:
                wait = min(wait, max(0.5, (parse_iso(ends) - parse_iso(iso())).total_seconds()))
            if self._stop.wait(wait):
                return
            if ends and ends <= iso():
                write_acls(self.root)

    def stop(self) -> None:
        self._stop.set()
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
    servers = Servers(root, cfg, host, port, overview_port, public=args.public)
    url, overview = servers.start()
    try:
        names = ", ".join(c.name for c in root.collections())
        print(f"Replay of {root.path} at {url}/ (collections: {names})")
        print(_access_line(servers, overview))
        for c in root.collections():
            print(f"  {url}/{c.name}/  — search and replay '{c.name}'")
        print(f"Overview at {overview}  — every account and post, searchable (its own origin)")
        print("Press Ctrl-C to stop.", flush=True)
        return servers.replay.wait()
    finally:
        servers.stop()


def _access_line(servers: Servers, overview: str) -> str:
    if servers.mode == "users":
        login = overview.replace("/_overview/", "/_login")
        return f"Access: sign in at {login} (built-in accounts; `bewaar users list`)"
    if servers.mode == "header":
        cfg = servers.access.cfg
        return (f"Access: users named in {cfg.header} by a proxy at "
                f"{', '.join(cfg.trusted_proxies)}")  # fmt: skip
    return "Access: open — everyone who reaches it is an anonymous reader (no restricted material)"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("replay", help="serve the root's collections with pywb, and the overview")
    p.add_argument("--root", default=".", help="root directory holding collections/")
    p.add_argument("--host", help="address to bind (default 127.0.0.1: not public)")
    p.add_argument("--port", type=int, help="replay port (default 8080; 0 picks a free one)")
    p.add_argument(
        "--overview-port", type=int,
        help="port of the overview, another origin than replay (default: replay port + 1)",
    )  # fmt: skip
    p.add_argument(
        "--public", action="store_true",
        help="serve a non-loopback address without sign-in: anyone who reaches it reads "
        "everything not restricted",
    )  # fmt: skip
    p.set_defaults(func=cmd_replay)



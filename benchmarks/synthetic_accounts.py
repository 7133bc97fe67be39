"""Many synthetic accounts on one loopback server, with new posts appearing as (simulated) time
passes: the load of the watch and worker benchmarks.

Account N has a profile page /a/N listing its newest posts (each a link to /a/N/p/K) and a
post page per post, on a port of its own (bewaar names a URL seed's account by its host and
port, so each account is its own run). Account N publishes post K at T0 + offset(N) + K * period, on the
schedule's clock (bewaar.timeutil.now(), which BEWAAR_NOW / BEWAAR_CLOCK_SPEED can run fast),
so a crawl sees new posts between runs. Every request is logged (path, real time), so the
benchmark knows when each account was visited and what each visit could see.
"""

from __future__ import annotations

import hashlib
import html
import threading
import time
from datetime import datetime
from typing import Any

from bewaar.sites.httpserver import FixtureServer, Request, Response
from bewaar.timeutil import now as clock


class SyntheticAccounts:
    def __init__(self, accounts: int, period: float = 3600.0, shown: int = 3, t0: datetime | None = None) -> None:
        self.accounts = accounts
        self.period = period  # seconds between two posts of an account (simulated)
        self.shown = shown  # posts listed on a profile page
        self.t0 = (t0 or clock()).timestamp()
        self.servers = [FixtureServer() for _ in range(accounts)]
        self.log: list[tuple[str, float, float]] = []  # (path, real time, simulated time)
        self._lock = threading.Lock()
        self._routes()

    def offset(self, n: int) -> float:
        h = int(hashlib.sha256(str(n).encode()).hexdigest()[:8], 16)
        return (h % 10_000) / 10_000 * self.period

    def published(self, n: int, k: int) -> float:
        return self.t0 + self.offset(n) + k * self.period

    def posts_at(self, n: int, when: float) -> list[int]:
        """Post numbers of account N published by `when` (simulated), newest first."""
        if when < self.published(n, 0):
            return []
        last = int((when - self.t0 - self.offset(n)) // self.period)
        return list(range(last, -1, -1))

    def _note(self, path: str) -> float:
        sim = clock().timestamp()
        with self._lock:
            self.log.append((path, time.time(), sim))
        return sim

    def _routes(self) -> None:
        for srv in self.servers:
            self._route(srv)

    def _route(self, srv: FixtureServer) -> None:
        @srv.route("GET", r"/a/(\d+)")
        def profile(req: Request, m: Any) -> Response:
            n = int(m.group(1))
            sim = self._note(req.path)
            items = "".join(
                f'<li><a href="/a/{n}/p/{k}">Bericht {k} van account {n}</a></li>'
                for k in self.posts_at(n, sim)[: self.shown]
            )
            return Response.html(
                f"<!doctype html><html><head><title>Account {n}</title></head><body>"
                f"<h1>Account {n}</h1><p>Openbaar account van organisatie {n}.</p>"
                f"<ul>{items}</ul></body></html>"
            )

        @srv.route("GET", r"/a/(\d+)/p/(\d+)")
        def post(req: Request, m: Any) -> Response:
            self._note(req.path)
            n, k = int(m.group(1)), int(m.group(2))
            text = html.escape(f"Bericht {k} van account {n}: nieuws over beleid en uitvoering.")
            return Response.html(
                f"<!doctype html><html><head><title>Bericht {k}</title></head><body>"
                f"<article><p>{text}</p></article></body></html>"
            )

    def profile_url(self, n: int) -> str:
        return f"{self.servers[n].base_url}/a/{n}"

    def __enter__(self) -> SyntheticAccounts:
        for srv in self.servers:
            srv.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for srv in self.servers:
            srv.stop()

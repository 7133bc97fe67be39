"""Shared test helpers: run the real `bewaar` command, fixture sites, a loopback-only root.

Nothing here mocks the browser, the archive or the replay: tests run the CLI as a user would,
against fixture sites on 127.0.0.1, with a real Chromium and a real pywb.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

BIN = Path(sys.executable).parent / "bewaar"
REPO = Path(__file__).resolve().parents[1]


def run_bewaar(*args: str, cwd: Path | None = None, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("BEWAAR_DEBUG", None)
    return subprocess.run(
        [str(BIN), *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )


def make_root(path: Path, **config: Any) -> Path:
    """A root whose browser never leaves 127.0.0.1, and may crawl the fixture sites there
    (127.0.0.1 is private, refused unless crawl.allow_private lists it)."""
    path.mkdir(parents=True, exist_ok=True)
    cfg: dict[str, Any] = {"browser": {"loopback_only": True}, "crawl": {"allow_private": ["127.0.0.1"]}}
    for section, values in config.items():
        cfg.setdefault(section, {}).update(values)
    (path / "bewaar.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def write_seeds(path: Path, data: dict[str, Any] | str) -> Path:
    text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    path.write_text(text, encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Replay:
    """`bewaar replay` as a subprocess; yields its URL once it answers."""

    def __init__(self, root: Path, port: int | None = None) -> None:
        self.root = root
        self.port = port or free_port()
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.overview = ""  # the overview's own origin, e.g. http://127.0.0.1:PORT/_overview

    def __enter__(self) -> Replay:
        self.proc = subprocess.Popen(
            [str(BIN), "replay", "--root", str(self.root), "--port", str(self.port),
             "--overview-port", str(free_port())],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            m = re.search(r"^Replay of .* at (http://\S+?)/? ", line)
            if m:
                self.url = m.group(1).rstrip("/")
            m = re.search(r"^Overview at (http://\S+?)/? ", line)
            if m:
                self.overview = m.group(1).rstrip("/")
            if self.url and self.overview:
                return self
        err = self.proc.stderr.read() if self.proc.stderr else ""
        self.proc.kill()
        raise AssertionError(f"bewaar replay did not start: {err}")

    def __exit__(self, *exc: Any) -> None:
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[Any]:
    """One Playwright and one headless Chromium for the whole session, confined to loopback
    like the crawler. Playwright's sync API allows one instance per thread, so every test
    module shares this one."""
    from playwright.sync_api import sync_playwright

    from tests.chromium import launch

    pw = sync_playwright().start()
    try:
        b = launch(pw)
        try:
            yield b
        finally:
            b.close()
    finally:
        pw.stop()


@pytest.fixture
def browser(chromium_browser: Any) -> Any:
    return chromium_browser


# --------------------------------------------------------------------------- shared crawls

MAX_POSTS = 6  # every post of a fixture account: the older ones carry the media


def seed_for(site: Any, **extra: Any) -> dict[str, Any]:
    return {
        "platform": site.platform,
        "handle": site.handle_in_seed or site.account.handle,
        "base_url": site.base_url,
        "max_posts": MAX_POSTS,
        **extra,
    }


@pytest.fixture(scope="session")
def accounts_crawl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One `bewaar crawl` of one account on each of the seven platform fixture sites, for the
    whole session: tests/platforms checks the capture, tests/export exports it. Read-only:
    a test that changes the root works on a copy."""
    from bewaar.sites.platforms import SITES

    tmp = tmp_path_factory.mktemp("accounts")
    sites = {name: cls() for name, cls in SITES.items()}
    for s in sites.values():
        s.start()
    try:
        root = make_root(tmp / "root")
        seeds = write_seeds(
            tmp / "seeds.yaml",
            {"collection": "accounts", "seeds": [seed_for(s) for s in sites.values()]},
        )
        proc = run_bewaar("crawl", str(seeds), "--root", str(root))
        yield {"sites": sites, "root": root, "proc": proc}
    finally:
        for s in sites.values():
            s.stop()


# Session fixtures kept in their own modules, available to every test package:
# one crawl of the example social site, and ReplayWeb.page for replaying packages.
from tests.replaywebpage import replaywebpage  # noqa: E402, F401
from tests.social_crawl import social_crawl  # noqa: E402, F401

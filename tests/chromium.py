"""The Chromium the tests drive: the one bewaar itself would use, confined to 127.0.0.1."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from bewaar.environment import find_chromium
from crawler.settings import LOOPBACK_ONLY_ARG

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    LOOPBACK_ONLY_ARG,
]


@lru_cache(maxsize=1)
def executable() -> str:
    """A system Chromium, else Playwright's (as `bewaar setup` installed it)."""
    return find_chromium()


def launch(playwright: Any, **kw: Any) -> Any:
    return playwright.chromium.launch(executable_path=executable(), args=ARGS, **kw)

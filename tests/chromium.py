"""The Chromium the tests drive: the one bewaar itself would use, confined to 127.0.0.1."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from bewaar.config import RootConfig
from bewaar.environment import find_chromium
from crawler.settings import chromium_args

# the crawler's own flags, confined to loopback: tests see pages as the crawler's browser does
ARGS = chromium_args(RootConfig.model_validate({"browser": {"loopback_only": True}}))


@lru_cache(maxsize=1)
def executable() -> str:
    """A system Chromium, else Playwright's (as `bewaar setup` installed it)."""
    return find_chromium()


def launch(playwright: Any, **kw: Any) -> Any:
    return playwright.chromium.launch(executable_path=executable(), args=ARGS, **kw)

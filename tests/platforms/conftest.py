"""Shared fixtures: a renderer on the session's Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.platforms.browser import Renderer


@pytest.fixture(scope="session")
def renderer(chromium_browser: Any) -> Iterator[Renderer]:
    """Renders with the session's shared Chromium (one Playwright per thread)."""
    r = Renderer(chromium_browser)
    try:
        yield r
    finally:
        r.close()

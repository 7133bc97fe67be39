"""Shared fixtures: one Chromium per session, and the seven platform sites."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.platforms.browser import Renderer


@pytest.fixture(scope="session")
def renderer() -> Iterator[Renderer]:
    r = Renderer()
    try:
        yield r
    finally:
        r.close()

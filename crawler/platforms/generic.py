"""Plain URLs: no account semantics, so no objects; only HTTP-level blocks are recognised."""

from __future__ import annotations

from crawler.platforms.base import Adapter


class GenericAdapter(Adapter):
    platform = "generic"
    version = "1.0"

    def profile_url(self, handle: str) -> str:
        """A generic "handle" is a URL (or a path under base_url)."""
        handle = handle.strip()
        if handle.startswith(("http://", "https://")):
            return handle
        return self.base_url + "/" + handle.lstrip("/")

"""What other parts of bewaar may call. Everything here takes paths and configuration only."""

from __future__ import annotations

from pathlib import Path

from bewaar.config import SigningConfig


def ensure_key(root: Path, cfg: SigningConfig) -> str | None:
    """Create a self-managed key + certificate if the root has none (and trust it).

    Returns one line to show the user when a key was created, else None.
    """
    raise NotImplementedError


def sign_warc(path: Path, root: Path, cfg: SigningConfig) -> Path:
    """Write PATH.sig.json next to a finished WARC. An unreachable TSA never raises: the
    manifest then says "timestamp pending"."""
    raise NotImplementedError

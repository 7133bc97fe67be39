"""Sub-commands of the replay package alone. `bewaar replay` itself is the application
layer's (bewaar/app/serve.py): it serves the overview beside pywb, on its own origin."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    """No command needs the replay package alone yet."""

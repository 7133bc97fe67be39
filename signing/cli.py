"""Sub-commands: keys, sign, package, verify."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    pass

"""`bewaar verify`: prove a WARC, a collection or a WACZ is exactly what was signed, or say
precisely what is not. Every file is read once, streaming; every record is checked.

This module is the entry point and holds the policy; the checks live by what they verify:
verify_warc (a WARC and its manifest), verify_collection (a collection's archive/ listing),
verify_wacz (a package), verify_proof (signatures, timestamps, renewals and revocation, shared
by manifests and packages). They all fill one report model (report.py).

Input that cannot be read at all (missing path, not a WARC, empty file, not a zip, a zip bomb,
a device or pipe) raises InputError (exit 2). Everything else becomes a pass/fail/warn line.
"""

from __future__ import annotations

from pathlib import Path

from bewaar.errors import InputError
from signing import files
from signing.policy import Policy
from signing.report import Report

__all__ = ["Policy", "verify_paths"]


def verify_paths(paths: list[Path], policy: Policy) -> Report:
    from signing.verify_collection import verify_collection
    from signing.verify_wacz import verify_wacz
    from signing.verify_warc import verify_warc

    report = Report(strict=policy.strict)
    for path in paths:
        if not path.exists():
            raise InputError(f"{path}: no such file or directory")
        if path.is_dir():
            for coll in _collections_in(path):
                report.subjects.extend(verify_collection(coll, policy))
        elif _is_zip(path):
            report.subjects.extend(verify_wacz(path, policy))
        else:
            report.subjects.append(verify_warc(path, policy, direct=True))
    return report


def _collections_in(path: Path) -> list[Path]:
    if (path / "archive").is_dir():
        return [path]
    if (path / "collections").is_dir():
        found = sorted(p for p in (path / "collections").iterdir() if (p / "archive").is_dir())
        if found:
            return found
    raise InputError(
        f"{path}: not a collection (no archive/ directory) nor a root (no collections/*/archive)"
    )


def _is_zip(path: Path) -> bool:
    with files.open_regular(path) as fh:
        return fh.read(4) == b"PK\x03\x04" or path.suffix.lower() == ".wacz"


"""Fixtures for the export tests: the session's real crawl of the seven platform fixture sites
(tests/conftest.py), copied into a root that has a trusted local TSA, and exported once in
every format; plus a small synthetic catalog (the crawler's own writer) for edits, deletions
and access decisions."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from signing import api
from signing.tsa_server import LocalTSA
from tests.conftest import run_bewaar


@dataclass
class Exported:
    root: Path
    out: Path
    proc: subprocess.CompletedProcess[str]
    tsa: LocalTSA

    @property
    def trust_args(self) -> list[str]:
        return ["--trusted-roots", str(self.root / "trust/roots.pem"),
                "--trusted-tsa-roots", str(self.root / "trust/tsa-roots.pem")]  # fmt: skip


@pytest.fixture(scope="session")
def export_tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTSA]:
    with LocalTSA(tmp_path_factory.mktemp("export-tsa")) as t:
        yield t


@pytest.fixture(scope="session")
def export_root(accounts_crawl: dict[str, Any], export_tsa: LocalTSA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the crawl's root whose exports are timestamped by a trusted local TSA."""
    assert accounts_crawl["proc"].returncode == 0, accounts_crawl["proc"].stderr
    root = tmp_path_factory.mktemp("export-root") / "root"
    shutil.copytree(accounts_crawl["root"], root)
    cfg = api.set_tsa_url(root, export_tsa.url)
    api.trust_tsa_root(root, cfg, export_tsa.root_cert_path)
    return root


@pytest.fixture(scope="session")
def exported(export_root: Path, export_tsa: LocalTSA, tmp_path_factory: pytest.TempPathFactory) -> Exported:
    """The whole collection with replies and every version, in every format, once."""
    out = tmp_path_factory.mktemp("exported") / "out"
    proc = run_bewaar("export", "--root", str(export_root), "--collection", "accounts", "--with-replies",
                      "--versions", "all", "--format", "wacz,pdf,html,xml,eml", "-o", str(out))  # fmt: skip
    return Exported(export_root, out, proc, export_tsa)


def site_of(accounts_crawl: dict[str, Any], platform: str) -> Any:
    return accounts_crawl["sites"][platform]

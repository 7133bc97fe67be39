"""Fixtures: real keys, a real RFC 3161 TSA on 127.0.0.1 (openssl ts), real WARCs (warcio)."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bewaar.config import SigningConfig, load_root_config
from signing import api, trust, verify
from signing.tsa_server import LocalTSA
from tests.signing.helpers import write_warc


@pytest.fixture(scope="session")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTSA]:
    with LocalTSA(tmp_path_factory.mktemp("tsa")) as t:
        yield t


@pytest.fixture(scope="session")
def rogue_tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTSA]:
    """A working TSA whose root nobody trusts."""
    with LocalTSA(tmp_path_factory.mktemp("rogue-tsa"), name="rogue TSA") as t:
        yield t


@dataclass
class Setup:
    root: Path
    cfg: SigningConfig
    tsa: LocalTSA

    @property
    def collection(self) -> Path:
        return self.root / "collections" / "c"

    @property
    def archive(self) -> Path:
        return self.collection / "archive"

    def policy(self, **kw: object) -> verify.Policy:
        return verify.Policy(
            signer_trust=trust.load_trust(api.resolve(self.root, self.cfg.trusted_roots)),
            tsa_trust=trust.load_trust(api.resolve(self.root, self.cfg.trusted_tsa_roots)),
            max_delay=self.cfg.max_timestamp_delay,
            **kw,  # type: ignore[arg-type]
        )

    def reload(self) -> SigningConfig:
        self.cfg = load_root_config(self.root).signing
        return self.cfg


def make_root(path: Path, tsa: LocalTSA | None) -> Setup:
    path.mkdir(parents=True, exist_ok=True)
    cfg = load_root_config(path).signing
    cfg, _msg = api.init_keys(path, cfg, common_name="Gemeente Testdorp archive")
    if tsa is not None:
        cfg = api.set_tsa_url(path, tsa.url)
        api.trust_tsa_root(path, cfg, tsa.root_cert_path)
    return Setup(path, load_root_config(path).signing, tsa)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def signed_template(tmp_path_factory: pytest.TempPathFactory, tsa: LocalTSA) -> Setup:
    """A root with a key, a trusted TSA and two signed, timestamped WARCs (copied per test)."""
    s = make_root(tmp_path_factory.mktemp("template") / "root", tsa)
    w1 = write_warc(s.archive / "20250301120000-a.warc.gz")
    w2 = write_warc(
        s.archive / "20250302120000-b.warc.gz",
        ["https://example.gov/agenda", "https://example.gov/besluit/7", "https://example.gov/x"],
        date=dt.datetime(2025, 3, 2, 12, 0, 0, tzinfo=dt.UTC),
    )
    for w in (w1, w2):
        api.sign_warc(w, s.root, s.cfg)
    return s


@pytest.fixture
def signed(signed_template: Setup, tmp_path: Path) -> Setup:
    target = tmp_path / "root"
    shutil.copytree(signed_template.root, target)
    return Setup(target, load_root_config(target).signing, signed_template.tsa)

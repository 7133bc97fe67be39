"""`bewaar transfer`: a BagIt bag of a collection that the `bagit` package validates, holding
the signed WACZ (which `bewaar verify` passes), the MDTO XML, the evidence report and a README
in Dutch and English; and the overview's export link over a real server."""

from __future__ import annotations

import io
import json
import urllib.request
import zipfile
from pathlib import Path

import bagit
import pytest

from bewaar.app.export.xml import validate
from bewaar.app.web.server import WebServer
from bewaar.model import Root
from tests.conftest import run_bewaar
from tests.export.conftest import Exported

pytestmark = pytest.mark.slow


def test_transfer_builds_a_valid_bag(exported: Exported, tmp_path: Path) -> None:
    out = tmp_path / "bag"
    p = run_bewaar("transfer", "--root", str(exported.root), "accounts", "-o", str(out))
    assert p.returncode == 0, p.stderr
    assert "validated; timestamp granted" in p.stdout
    bag = bagit.Bag(str(out))
    bag.validate()  # raises on any missing, extra or changed file
    assert {"sha256", "sha512"} <= set(bag.algorithms)
    data = out / "data"
    readme = (data / "README.txt").read_text(encoding="utf-8")
    assert "NEDERLANDS" in readme and "ENGLISH" in readme and "accounts.wacz" in readme
    # (the crawl's own WARCs were signed without a TSA: their timestamps are pending, a warning)
    p = run_bewaar("verify", str(data / "accounts.wacz"), *exported.trust_args, cwd=tmp_path)
    assert p.returncode == 0 and "[fail]" not in p.stdout, p.stdout
    assert "<html" in (data / "evidence-report.html").read_text(encoding="utf-8")[:400].lower()
    xml = list((data / "metadata" / "xml").rglob("*.xml"))
    assert len(xml) > 100 and [e for f in xml[:60] for e in validate(f)] == []
    # every crawl appends to the signed ledger; it travels with the bag (no records yet)
    ledger = data / "records" / "ledger" / "ledger.jsonl"
    assert ledger.exists() and not (data / "records" / "NONE.txt").exists()
    assert "records/ledger/ledger.jsonl" in readme
    # a bag is refused inside the collection, and never written over
    p = run_bewaar("transfer", "--root", str(exported.root), "accounts", "-o", str(out))
    assert p.returncode == 2 and "is not empty" in p.stderr
    p = run_bewaar("transfer", "--root", str(exported.root), "nosuch", "-o", str(tmp_path / "x"))
    assert p.returncode == 2 and "no collection 'nosuch'" in p.stderr


def test_the_overview_exports_its_search_result(exported: Exported) -> None:
    with WebServer(Root(exported.root), "127.0.0.1", 0, "http://127.0.0.1:9") as base:
        with urllib.request.urlopen(f"{base}/_overview/?q=rapport", timeout=60) as r:
            page = r.read().decode()
        assert 'action="/_overview/export"' in page
        url = f"{base}/_overview/export?q=rapport&format=xml&format=html&format=wacz"
        with urllib.request.urlopen(url, timeout=300) as r:
            assert r.headers["Content-Type"] == "application/zip"
            body = r.read()
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        names = z.namelist()
        m = json.loads(z.read("manifest.json"))
    assert "export.wacz" in names and "html/index.html" in names
    assert m["selection"]["overview_filter"] == {"q": "rapport"}
    assert m["items"] and all(f["path"] in names for f in m["files"])

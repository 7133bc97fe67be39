"""What exports carry of records management: every item's ledger position and selection-list
classification (MDTO), and a transfer's ledger with its destruction records — on the records
tests' archive (two accounts, two terms), after a lawful destruction."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from lxml import etree

from tests.records.conftest import LIST, Life

YEAR = timedelta(days=365)


def test_exports_carry_ledger_positions_and_classification(life: Life, tmp_path: Path) -> None:
    out = tmp_path / "export"
    p = life.bewaar("export", "--collection", "gov", "--format", "xml,eml", "-o", str(out))
    assert p.returncode == 0, p.stderr
    emls = list((out / "eml").rglob("*.eml"))
    assert emls and all("Ledger: " in e.read_text(encoding="utf-8", errors="replace") for e in emls)
    text = emls[0].read_text(encoding="utf-8", errors="replace")
    assert "ledger.jsonl line" in text and "sealed by line" in text
    mdto = [f for f in (out / "xml").rglob("*.mdto.xml")]
    assert mdto
    categories = set()
    for f in mdto:
        tree = etree.parse(str(f))
        for el in tree.iter():
            if isinstance(el.tag, str) and el.tag.endswith("classificatie"):
                categories.add(" ".join(el.itertext()))
    joined = " ".join(categories)
    assert "1.1.4" in joined and "1.1.1" in joined and LIST in joined, joined[:500]


def test_a_transfer_carries_the_ledger_and_the_destruction_record(life: Life, tmp_path: Path) -> None:
    later = life.after(life.crawl2, YEAR + timedelta(days=3))
    plan = tmp_path / "plan.json"
    p = life.bewaar("destroy", "plan", "gov", "--due", "-o", str(plan), now=later)
    assert p.returncode == 0, p.stderr
    p = life.bewaar("destroy", "execute", str(plan), "--approved-by", "J. Jansen", now=later)
    assert p.returncode == 0, p.stderr
    bag = tmp_path / "bag"
    p = life.bewaar("transfer", "gov", "-o", str(bag))
    assert p.returncode == 0, p.stderr
    records = bag / "data" / "records"
    assert (records / "ledger" / "ledger.jsonl").is_file()
    (rec,) = (records / "ledger" / "records").glob("destruction-*.json")
    assert json.loads(json.loads(rec.read_text())["statement"])["approved_by"] == "J. Jansen"
    assert "ledger/records/" in (bag / "data" / "README.txt").read_text(encoding="utf-8")
    import bagit

    bagit.Bag(str(bag)).validate()

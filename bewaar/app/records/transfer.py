"""What exports hand over of a collection's records management (the export code calls these).

  ledger_position(root, collection, warc_name)  -> where the ledger vouches for a WARC: put it
      in the PDF/HTML/EML evidence beside the WARC's hash, so a later reader can check the
      ledger still holds that line (and was not cut short since)
  records_for_transfer(root, collection)       -> the ledger and every destruction and
      redaction record, with the path each takes in a transfer (BagIt `data/`)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bewaar.model import Root


def ledger_position(root: Path, collection: str, warc_name: str) -> dict[str, Any] | None:
    """{ledger, file, sha256, line, line_sha256, sealed_by: {line, sha256, timestamp}, head:
    {line, sha256}}, or None when the collection has no ledger or it does not hold the WARC."""
    from signing.ledger import position

    return position(Root(Path(root)).collection(collection).path, warc_name)


def records_for_transfer(root: Path, collection: str) -> list[tuple[str, Path]]:
    """[(path in the transfer, file on disk)]: ledger/ledger.jsonl and ledger/records/*.json
    (destruction and redaction records are kept permanently and travel with every transfer)."""
    from signing.ledger import LEDGER_DIR, LEDGER_FILE, RECORDS_DIR, ledger_file, records_dir

    coll = Root(Path(root)).collection(collection).path
    out: list[tuple[str, Path]] = []
    if ledger_file(coll).exists():
        out.append((f"{LEDGER_DIR}/{LEDGER_FILE}", ledger_file(coll)))
    rdir = records_dir(coll)
    for p in sorted(rdir.glob("*.json")) if rdir.is_dir() else []:
        out.append((f"{LEDGER_DIR}/{RECORDS_DIR}/{p.name}", p))
    return out

"""Records management: retention rules, destruction in two steps, redaction (application layer:
it composes the catalog, the crawler's indexer, signing and access).

  content.py   what the WARCs hold, page by page and record by record
  retention.py which selection-list rule applies to a capture, and when its term ends
  edit.py      taking a post or reply out of a JSON or HTML payload
  rewrite.py   what a removal does to each record and file; writing the files that remain
  plan.py      destruction plans: made for approval, executed exactly as approved
  execute.py   carrying out a removal: new files signed, the record, the ledger, then deletion
  transfer.py  what an export hands over of it (ledger position, records)
  cli.py       `bewaar retention`, `bewaar destroy`, `bewaar redact`

The evidence (the ledger, signed records, verification) lives in signing/ (ledger.py,
verify_ledger.py). See docs/records.md.
"""

"""Verify a collection: its archive/ holds exactly the signed WARCs, each of which is verified,
and exactly the WARCs its ledger says it holds.

The listing is check 2 for the collection itself: no WARC without its manifest, no manifest
without its WARC, nothing else in archive/, and nothing that leads out of the collection (a
symbolic link to another file or to /dev/zero is reported, never followed). Check 6 compares
the WARCs present with the ledger (verify_ledger.py): a WARC deleted together with its manifest
is named there, and a lawful removal is reported with its record.
"""

from __future__ import annotations

from pathlib import Path

from bewaar.model import SIGNATURE_SUFFIX, WARC_SUFFIX, read_pages
from signing import files, ledger
from signing.manifest import manifest_path
from signing.policy import Policy
from signing.report import FAIL, PASS, PageSeen, Subject
from signing.verify_ledger import Present, check_ledger
from signing.verify_warc import MAX_LISTED_PAGES, verify_warc

MAX_PAGES_FILE = 256 * 1024 * 1024


def _is_warc(name: str) -> bool:
    return name.endswith((WARC_SUFFIX, ".warc"))


def _listing(path: Path) -> tuple[list[Path], list[str], list[str]]:
    """(WARCs that may be read, problems, refused names) for archive/."""
    warcs: list[Path] = []
    manifests: list[Path] = []
    extra: list[str] = []
    refused: dict[str, str] = {}  # name -> why it is not read
    for p in sorted((path / "archive").iterdir()):
        why = files.escapes(p, path)
        if why is not None:
            refused[p.name] = f"archive/{p.name} is {why}"
            continue
        if _is_warc(p.name):
            warcs.append(p)
        elif p.name.endswith(SIGNATURE_SUFFIX):
            manifests.append(p)
        else:
            extra.append(p.name)
    problems = list(refused.values())
    orphans = [m.name for m in manifests if not m.with_name(m.name[: -len(SIGNATURE_SUFFIX)]).exists()]
    unsigned = [w.name for w in warcs if not manifest_path(w).exists()]
    if orphans:
        problems.append(
            "missing WARC(s): " + ", ".join(o[: -len(SIGNATURE_SUFFIX)] for o in orphans)
            + " (their signature manifests are present)"
        )
    if unsigned:
        problems.append("unsigned WARC(s): " + ", ".join(unsigned))
    if extra:
        problems.append("unexpected file(s) in archive/: " + ", ".join(extra))
    if not warcs and not orphans and not refused:
        problems.append("no WARC files in archive/")
    # a manifest that is itself refused must not be read when its WARC is verified
    warcs = [w for w in warcs if manifest_path(w).name not in refused]
    return warcs, problems, sorted(refused)


def verify_collection(path: Path, policy: Policy) -> list[Subject]:
    listing = Subject(str(path), "collection")
    warcs, problems, refused = _listing(path)
    if ledger.ledger_file(path).exists():
        # every WARC may have been destroyed lawfully: the ledger (check 6) judges an empty archive
        problems = [p for p in problems if p != "no WARC files in archive/"]
    listing.facts["warcs"] = len(warcs)
    if problems:
        listing.add(2, FAIL, "; ".join(problems))
    else:
        listing.add(2, PASS, f"{len(warcs)} WARC file(s), each with its signature manifest; no extra files")
    subjects = [listing]
    present = []
    for w in warcs:
        sub = verify_warc(w, policy)
        subjects.append(sub)
        present.append(Present(w.name, sub.facts.get("sha256")))
    present += [Present(n, None) for n in refused if _is_warc(n)]
    # after the files: a file's own failure (a changed record) is named first, the ledger's
    # view of it (the hash it recorded) after
    book = Subject(str(ledger.ledger_file(path)), "ledger")
    _check_ledger(book, path, present, policy)
    subjects.append(book)
    if policy.evidence:
        _pages_from_jsonl(listing, path, path / "pages" / "pages.jsonl")
    return subjects


def _check_ledger(book: Subject, path: Path, present: list[Present], policy: Policy) -> None:
    """Check 6: the ledger and its records, read as untrusted files like everything else."""
    lfile = ledger.ledger_file(path)
    data: bytes | None = None
    records: dict[str, bytes] = {}
    if lfile.exists() or lfile.is_symlink():
        why = files.escapes(lfile, path)
        if why is not None:
            book.add(6, FAIL, f"{ledger.LEDGER_DIR}/{ledger.LEDGER_FILE} is {why}")
            return
        data = files.read_bounded(lfile, ledger.MAX_LEDGER, "ledger")
        rdir = ledger.records_dir(path)
        for p in sorted(rdir.glob("*.json")) if rdir.is_dir() else []:
            if files.escapes(p, path) is None:
                records[p.name[: -len(".json")]] = files.read_bounded(p, MAX_RECORD, "record")
    check_ledger(book, data, records, present, policy)


MAX_RECORD = 256 * 1024 * 1024


def _pages_from_jsonl(subject: Subject, collection: Path, path: Path) -> None:
    if not path.exists():
        return
    why = files.escapes(path, collection)
    if why is not None:
        subject.facts["pages_note"] = f"pages/pages.jsonl is {why}"
        return
    try:
        if path.stat().st_size > MAX_PAGES_FILE:
            subject.facts["pages_note"] = "pages.jsonl is too large to list"
            return
        for entry in read_pages(path):
            if len(subject.pages) >= MAX_LISTED_PAGES:
                break
            status = entry.get("status")
            subject.pages.append(
                PageSeen(url=str(entry.get("url", "")), time=str(entry.get("ts", "")),
                         status=status if isinstance(status, int) else None,
                         title=str(entry.get("title", "")), warc=str(entry.get("warc", "")))
            )
    except (OSError, ValueError):
        subject.facts["pages_note"] = "pages.jsonl could not be read"

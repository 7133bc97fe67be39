"""`bewaar transfer COLLECTION -o DIR`: a BagIt bag for the transfer to an e-depot.

    DIR/bagit.txt, bag-info.txt, manifest-sha256.txt, manifest-sha512.txt, tagmanifest-*.txt
    DIR/data/COLLECTION.wacz          the whole collection as a signed WACZ (its WARCs exactly as
                                      captured, with their capture-time signature manifests)
    DIR/data/metadata/                the XML export of the collection (xml/: MDTO XML and bewaar
                                      XML of every post and reply, every version) and its
                                      manifest.json
    DIR/data/evidence-report.html     `bewaar verify --report` of the WACZ (and .json)
    DIR/data/records/                 ledger and destruction/redaction records (hook: written
                                      by `transfer_records` once those records exist)
    DIR/data/README.txt               what is where, in Dutch and English

The bag is made and then validated with the `bagit` package (Library of Congress); a bag that
does not validate is an error.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from bewaar import SOFTWARE
from bewaar.app.export.run import prepare_output, run_export
from bewaar.app.export.selection import Request
from bewaar.config import load_root_config
from bewaar.errors import BewaarError, InputError
from bewaar.model import COLLECTION_NAME, Root
from bewaar.timeutil import iso


@dataclass
class TransferResult:
    path: Path
    items: int
    files: list[str]
    timestamp: str
    failed: list[str] = field(default_factory=list)


def transfer_records(root: Path, collection: str, target: Path) -> list[Path]:
    """The collection ledger and its destruction/redaction records, copied into TARGET."""
    from bewaar.app.export.records_mgmt import transfer_records as copy_records

    return copy_records(root, collection, target)


def build(root: Path, collection: str, output: Path) -> TransferResult:
    root = Path(root)
    coll = Root(root).collection(collection)
    if not COLLECTION_NAME.match(collection) or not coll.archive.is_dir():
        raise InputError(f"no collection '{collection}' in {root} (no {coll.archive})")
    if coll.path.resolve() in Path(output).resolve().parents or coll.path.resolve() == Path(output).resolve():
        raise InputError(f"{output} is inside the collection: write the bag elsewhere")
    created = prepare_output(output)
    out = Path(output)
    try:
        return _build(root, collection, out)
    except BaseException:
        if created:
            shutil.rmtree(out, ignore_errors=True)
        else:
            for child in out.iterdir():
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        raise


def _build(root: Path, collection: str, out: Path) -> TransferResult:
    import bagit

    from signing import api, evidence, trust, verify
    from signing import wacz as package_writer

    cfg = load_root_config(root).signing
    failed: list[str] = []
    wacz = out / f"{collection}.wacz"
    from bewaar.app.package import volatile_parameters

    pkg = package_writer.package(root, cfg, collection, wacz, title=f"{collection} (transfer)",
                                 volatile=volatile_parameters(Root(root), [collection]))  # fmt: skip

    items = 0
    meta = out / "metadata"
    try:
        outcome = run_export(root, Request(collection=collection, versions="all", with_replies=True), ["xml"],
                             meta, title=f"Overdracht / transfer: {collection}", progress=lambda _l: None)  # fmt: skip
        items = outcome.items
        failed += outcome.failed
    except InputError as e:  # a collection without posts (plain web pages) has no post metadata
        shutil.rmtree(meta, ignore_errors=True)
        meta.mkdir()
        (meta / "NO-POSTS.txt").write_text(f"{e}\n", encoding="utf-8")

    policy = verify.Policy(
        signer_trust=trust.load_trust(api.resolve(root, cfg.trusted_roots), "signer"),
        tsa_trust=trust.load_trust(api.resolve(root, cfg.trusted_tsa_roots), "tsa"),
        max_delay=cfg.max_timestamp_delay, evidence=True,
    )  # fmt: skip
    report = verify.verify_paths([wacz], policy)
    evidence.write(report, out / "evidence-report.html", title=f"Evidence report: {collection}")
    (out / "evidence-report.json").write_text(report.as_json() + "\n", encoding="utf-8")
    if report.exit_code != 0:
        failed.append(f"the WACZ does not verify: {report.verdict()}; see evidence-report.html")

    records = out / "records"
    records.mkdir()
    written = transfer_records(root, collection, records)
    if not written:
        (records / "NONE.txt").write_text(
            "Geen ledger of vernietigings-/lakkingsverslagen in dit archief.\n"
            "No ledger or destruction/redaction records exist in this archive.\n", encoding="utf-8")
    (out / "README.txt").write_text(_readme(collection, pkg.pages, items, [w.relative_to(out) for w in written], pkg.timestamp), encoding="utf-8")

    bag = bagit.make_bag(
        str(out),
        bag_info={
            "Source-Organization": _organisation(root),
            "External-Description": f"bewaar transfer of collection {collection}",
            "External-Identifier": f"bewaar:{collection}:{iso()}",
            "Bag-Software-Agent": SOFTWARE,
            "Bagging-Date": iso()[:10],
        },
        checksums=["sha256", "sha512"],
    )
    try:
        bag.validate()
    except bagit.BagValidationError as e:
        raise BewaarError(f"the bag {out} does not validate: {e}", 1) from None
    files = sorted(p for p in bag.payload_files())
    return TransferResult(out, items, files, pkg.timestamp, failed)


def _organisation(root: Path) -> str:
    from signing import api, keys

    try:
        cert = api.load_identity(root, load_root_config(root).signing).certificate
    except (BewaarError, OSError, ValueError):
        return "unknown"
    return keys.subject_name(cert)


def _readme(collection: str, pages: int, items: int, records: list[Path], timestamp: str) -> str:
    ts_nl = "met een vertrouwd tijdstempel" if timestamp == "granted" else "ZONDER tijdstempel (geen TSA ingesteld of bereikbaar)"
    ts_en = "with a trusted timestamp" if timestamp == "granted" else "WITHOUT a timestamp (no TSA configured or reachable)"
    rec = [f"    {p.as_posix()}" for p in records] or ["  records/NONE.txt"]
    return "\n".join([
        f"Overdrachtspakket van collectie '{collection}' — gemaakt door {SOFTWARE} op {iso()}",
        "",
        "NEDERLANDS",
        "Dit is een BagIt-pakket (RFC 8493). De map data/ bevat:",
        f"  {collection}.wacz          de hele collectie als WACZ: {pages} pagina's, de WARC-bestanden precies",
        "                         zoals vastgelegd met hun ondertekende manifesten; het pakket is",
        f"                         ondertekend, {ts_nl}. Afspelen: ReplayWeb.page of pywb.",
        f"  metadata/xml/          MDTO-XML (Nationaal Archief, MDTO 1.0.1) en bewaar-XML van {items} berichten",
        "                         en reacties, alle versies; schema's in metadata/xml/schemas/",
        "  evidence-report.html   verificatierapport (bewaar verify): handtekeningen, tijdstempels, digests",
        "  records/               ledger en vernietigings-/lakkingsverslagen"
        + ("" if records else " (nog niet aanwezig in dit archief)"),
        *rec,
        "Controleren: `bagit.py --validate MAP` of een andere BagIt-validator; `bewaar verify data/*.wacz`.",
        "",
        "ENGLISH",
        "This is a BagIt bag (RFC 8493). The folder data/ holds:",
        f"  {collection}.wacz          the whole collection as a WACZ: {pages} pages, the WARC files exactly as",
        "                         captured with their signed manifests; the package is signed,",
        f"                         {ts_en}. Replay it with ReplayWeb.page or pywb.",
        f"  metadata/xml/          MDTO XML (Nationaal Archief, MDTO 1.0.1) and bewaar XML of {items} posts and",
        "                         replies, every version; schemas in metadata/xml/schemas/",
        "  evidence-report.html   the verification report (bewaar verify): signatures, timestamps, digests",
        "  records/               ledger and destruction/redaction records"
        + ("" if records else " (none exist in this archive yet)"),
        "Check it: `bagit.py --validate DIR` or any BagIt validator; `bewaar verify data/*.wacz`.",
        "",
    ])  # fmt: skip


def describe(path: Path) -> dict[str, object]:
    """The bag's bag-info as a dict (for tests and tools)."""
    import bagit

    return dict(bagit.Bag(str(path)).info) | {"manifest": json.loads((Path(path) / "data/metadata/manifest.json").read_text())}

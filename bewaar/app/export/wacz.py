"""WACZ: only the selected pages, with everything they need to replay, signed.

Each selected version's page is copied record by record (request/response pairs, media,
screenshot, DOM, information objects, page info), and for every revisit among them the
response it refers to — wherever it lies, also in older WARC files of the collection. Records
are copied byte for byte (each is one gzip member), so their WARC-Record-IDs and digests are
the captured ones. They go into new WARC files that start with:

  warcinfo                         what this export is
  resource urn:bewaar:export:provenance   JSON: for every copied record its source file,
                                   offset, length, id and header hash, and whether the source
                                   file's capture-time signature manifest lists it
  resource urn:bewaar:signature:NAME      each source WARC's capture-time signature manifest

so anyone can check, record by record, that the export holds what was signed at capture time
(`provenance_problems` does). The new files are signed like any WARC, and signing/wacz.py's
package writer (the same as `bewaar package`) indexes them, writes pages.jsonl and signs the
package. Pages that show a left-out or redacted post are left out of the WACZ (a WARC record
cannot be redacted without breaking its digest) and listed in the manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import WARCWriter

from bewaar import SOFTWARE
from bewaar.app.export.base import ExportJob, Written
from bewaar.app.export.records import PageRecords, RecordRef
from bewaar.config import load_root_config
from bewaar.model import PAGES_HEADER, WARC_SUFFIX, Root
from bewaar.timeutil import compact

PROVENANCE_URN = "urn:bewaar:export:provenance"
SIGNATURE_URN = "urn:bewaar:signature:"
STAGE_COLLECTION = "export"
MAX_WARC = 1_000_000_000


@dataclass
class _Copy:
    ref: RecordRef
    signed: bool


@dataclass
class _Plan:
    pages: list[dict[str, Any]] = field(default_factory=list)  # catalog page rows
    copies: dict[tuple[Path, int], _Copy] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)


def _sha256_digest(data: bytes) -> str:
    import base64

    return "sha256:" + base64.b32encode(hashlib.sha256(data).digest()).decode("ascii")


class WaczExporter:
    name = "wacz"
    description = "the selected pages with all they need to replay, signed (WACZ 1.1.1)"

    def write(self, job: ExportJob) -> Written:
        res = Written(self.name)
        plan = self._plan(job, res)
        if not plan.pages:
            res.failed.append("wacz: no page of the selection may be shown in full: no WACZ written")
            return res
        stage = job.work / "wacz-root"
        coll = Root(stage).collection(STAGE_COLLECTION).ensure()
        warcs = self._write_warcs(job, plan, coll.archive)
        cfg = _absolute_signing(job.root)
        from signing import api
        from signing import wacz as package_writer

        for w in warcs:
            api.sign_warc(w, job.root, cfg)
        self._pages(plan, coll.pages_file)
        out = job.out / "export.wacz"
        job.progress(f"wacz: {len(plan.pages)} page(s), {len(plan.copies)} record(s) in {len(warcs)} WARC file(s); signing")
        from bewaar.app.package import volatile_parameters

        sources = sorted({c.ref.warc.parent.parent.name for c in plan.copies.values()})
        r = package_writer.package(stage, cfg, STAGE_COLLECTION, out, title=job.title,
                                   volatile=volatile_parameters(Root(job.root), sources))  # fmt: skip
        if r.timestamp != "granted":
            res.notes.append(f"wacz: the package has no trusted timestamp ({r.reason})")
        res.paths.append(out)
        res.failed += plan.missing
        shutil.rmtree(stage, ignore_errors=True)
        return res

    # -- what to copy ---------------------------------------------------------------------
    def _plan(self, job: ExportJob, res: Written) -> _Plan:
        plan = _Plan()
        sel = job.selection
        withheld = {e["key"] for e in sel.redacted + sel.left_out}
        withheld_ids = {
            (i.post["platform"], str(i.post["post_id"])) for i in sel.all_items() if i.key in withheld
        } | self._left_out_ids(job)
        seen: set[int] = set()
        for item in sel.all_items():
            for v in item.versions:
                page = v.get("page")
                if not page or page["id"] in seen:
                    continue
                seen.add(page["id"])
                if item.key in withheld:
                    continue
                pr = job.store.page(page)
                if withheld_ids and self._shows(job, pr) & withheld_ids:
                    res.notes.append(f"wacz: page {page['url']} ({page['captured_at']}) left out: it also shows "
                                     "a post withheld from this export")  # fmt: skip
                    continue
                plan.pages.append(pr.page)
                for ref in pr.records:
                    self._add(job, plan, ref)
                    if ref.type == "revisit":
                        orig = job.store.original(ref)
                        if orig is None:
                            plan.missing.append(f"wacz: the original of revisit {ref.uri} ({ref.id}) is not in "
                                                "the collection's index: that resource will not replay")  # fmt: skip
                        else:
                            self._add(job, plan, orig)
        return plan

    @staticmethod
    def _left_out_ids(job: ExportJob) -> set[tuple[str, str]]:
        keys = [e["post"] for e in job.selection.left_out if e.get("post") is not None]
        if not keys:
            return set()
        rows = job.con.execute(
            f"SELECT a.platform, p.post_id FROM posts p JOIN accounts a ON a.id = p.account"
            f" WHERE p.id IN ({','.join('?' * len(keys))})", keys)  # fmt: skip
        return {(r[0], str(r[1])) for r in rows}

    @staticmethod
    def _shows(job: ExportJob, pr: PageRecords) -> set[tuple[str, str]]:
        """(platform, post id) of every post the page's information objects name."""
        ref = pr.objects
        data = job.store.payload(ref) if ref is not None else None
        try:
            objects = json.loads(data) if data else []
        except ValueError:
            objects = []
        return {(str(o.get("platform")), str(o.get("id"))) for o in objects
                if isinstance(o, dict) and o.get("type") == "post"}  # fmt: skip

    @staticmethod
    def _add(job: ExportJob, plan: _Plan, ref: RecordRef) -> None:
        key = (ref.warc, ref.offset)
        if key not in plan.copies:
            plan.copies[key] = _Copy(ref, job.store.signed_entry(ref) is not None)

    # -- the new WARC files -----------------------------------------------------------------
    def _write_warcs(self, job: ExportJob, plan: _Plan, archive: Path) -> list[Path]:
        stamp = compact().replace("T", "").rstrip("Z")[:14]
        copies = list(plan.copies.values())
        sources = sorted({c.ref.warc for c in copies})
        paths: list[Path] = []
        n = 0
        while copies or not paths:
            n += 1
            path = archive / f"export-{stamp}-{n:05d}{WARC_SUFFIX}"
            batch: list[_Copy] = []
            size = 0
            while copies and (not batch or size + copies[0].ref.length <= MAX_WARC):
                c = copies.pop(0)
                batch.append(c)
                size += c.ref.length
            self._write_one(job, path, batch, sources)
            paths.append(path)
        return paths

    def _write_one(self, job: ExportJob, path: Path, batch: list[_Copy], sources: list[Path]) -> None:
        with path.open("xb") as fh:
            writer = WARCWriter(fh, gzip=True, warc_version="1.1")
            info = {
                "software": SOFTWARE, "format": "WARC File Format 1.1",
                "description": f"bewaar export: {job.title}", "isPartOf": STAGE_COLLECTION,
                "export-created": job.created,
            }  # fmt: skip
            writer.write_record(writer.create_warcinfo_record(path.name, info))
            provenance = {
                "format": "bewaar-export-provenance/1",
                "created": job.created,
                "records": [
                    {"id": c.ref.id, "type": c.ref.type, "uri": c.ref.uri, "source": c.ref.warc.name,
                     "collection": c.ref.warc.parent.parent.name, "offset": c.ref.offset,
                     "length": c.ref.length, "header_sha256": c.ref.header_sha256,
                     "in_signed_manifest": c.signed}
                    for c in batch
                ],
            }  # fmt: skip
            self._resource(writer, PROVENANCE_URN, "application/json",
                           json.dumps(provenance, indent=1).encode("utf-8"), job.created)  # fmt: skip
            for src in sources:
                m = job.store.manifest(src)
                if m is not None and m.path is not None:
                    self._resource(writer, SIGNATURE_URN + src.name, "application/json", m.path.read_bytes(),
                                   job.created)  # fmt: skip
            fh.flush()
            for c in batch:
                job.store.raw(c.ref, fh)
            fh.flush()
            os.fsync(fh.fileno())

    @staticmethod
    def _resource(writer: WARCWriter, uri: str, ctype: str, data: bytes, when: str) -> None:
        digest = _sha256_digest(data)
        headers = {"WARC-Date": when, "Content-Type": ctype, "WARC-Block-Digest": digest,
                   "WARC-Payload-Digest": digest}  # fmt: skip
        rec = writer.create_warc_record(uri, "resource", payload=BytesIO(data), length=len(data),
                                        warc_content_type=ctype, warc_headers_dict=headers)  # fmt: skip
        writer.write_record(rec)

    @staticmethod
    def _pages(plan: _Plan, pages_file: Path) -> None:
        lines = [json.dumps(PAGES_HEADER)]
        for p in plan.pages:
            entry: dict[str, Any] = {
                "url": p["url"], "ts": p["captured_at"],
                "id": hashlib.sha256(f"{p['crawl_id']} {p['url']} {p['captured_at']}".encode()).hexdigest()[:32],
                "title": p.get("title") or "", "status": p.get("status"), "crawl_id": p["crawl_id"],
                "outcome": p["outcome"], "kind": p["kind"],
            }  # fmt: skip
            lines.append(json.dumps(entry, ensure_ascii=False))
        pages_file.parent.mkdir(parents=True, exist_ok=True)
        pages_file.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _absolute_signing(root: Path) -> Any:
    """The root's signing configuration with absolute paths, so that the package writer can
    run on the staging root inside the export while using the root's key and trust."""
    cfg = load_root_config(root).signing
    fields = ("key", "certificate", "trusted_roots", "trusted_tsa_roots")
    return cfg.model_copy(update={f: str((Path(root) / getattr(cfg, f)).resolve()) for f in fields})


# --------------------------------------------------------------------------- checking


def provenance_problems(wacz: Path, policy: Any) -> tuple[int, list[str]]:
    """Check an exported WACZ's records against the capture-time signatures it carries:
    every copied record must be listed (same id and header hash) in its source file's
    manifest, whose signature must verify and whose record list must match its signed
    statement. Returns (records checked, problems)."""
    import zipfile

    from signing.manifest import Manifest, ManifestError, records_digest
    from signing.report import PASS, Subject
    from signing.verify_warc import check_manifest_signature

    problems: list[str] = []
    checked = 0
    with zipfile.ZipFile(wacz) as z:
        for member in (n for n in z.namelist() if n.startswith("archive/") and n.endswith(WARC_SUFFIX)):
            provenance: dict[str, Any] | None = None
            manifests: dict[str, dict[tuple[int, str], str]] = {}
            with z.open(member) as fh:
                for rec in ArchiveIterator(fh):
                    uri = rec.rec_headers.get_header("WARC-Target-URI") or ""
                    if uri == PROVENANCE_URN:
                        provenance = json.loads(rec.content_stream().read())
                        by_id = {r["id"]: r for r in provenance["records"]}
                    elif uri.startswith(SIGNATURE_URN):
                        name = uri[len(SIGNATURE_URN):]
                        try:
                            m = Manifest.from_data(json.loads(rec.content_stream().read()))
                        except (ManifestError, ValueError) as e:
                            problems.append(f"{name}: {e}")
                            continue
                        sub = Subject(name, "warc")
                        check_manifest_signature(sub, m, policy)
                        bad = [c.detail for c in sub.checks if c.number == 3 and c.status != PASS]
                        if bad:
                            problems.append(f"{name}: signature does not verify: {bad[0]}")
                        if records_digest(m.records) != m.statement.get("records", {}).get("sha256"):
                            problems.append(f"{name}: its record list does not match its signed statement")
                        manifests[name] = {(int(e[0]), str(e[3])): str(e[5]) for e in m.records}
                    elif rec.rec_type != "warcinfo":
                        rid = rec.rec_headers.get_header("WARC-Record-ID")
                        entry = by_id.get(rid) if provenance else None
                        checked += 1
                        if entry is None:
                            problems.append(f"{member}: record {rid} has no provenance entry")
                            continue
                        header = hashlib.sha256(
                            rec.rec_headers.to_str().encode("utf-8", "surrogateescape")).hexdigest()
                        signed = manifests.get(entry["source"], {}).get((entry["offset"], rid))
                        if signed is None:
                            problems.append(f"{rid}: not listed in the signed manifest of {entry['source']}")
                        elif signed != header:
                            problems.append(f"{rid}: header differs from the one signed in {entry['source']}")
    return checked, problems

"""Run an export: resolve the selection, let each asked-for format write, then the manifest.

Output goes only into the directory the user named (created if missing; refused if it holds
anything). A failed or interrupted export removes what it wrote, so a directory with a
manifest.json is always a complete export.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bewaar.app.export.base import Exporter, ExportJob, Written, write_manifest
from bewaar.app.export.records import Evidence, RecordStore
from bewaar.app.export.selection import Access, Request, connect, resolve
from bewaar.errors import InputError
from bewaar.model import Root

FORMAT_NAMES = ("wacz", "pdf", "html", "xml", "eml")


_CLASSES = {  # --format name -> module and class (imported only when asked for)
    "wacz": ("bewaar.app.export.wacz", "WaczExporter"),
    "pdf": ("bewaar.app.export.pdf", "PdfExporter"),
    "html": ("bewaar.app.export.html", "HtmlExporter"),
    "xml": ("bewaar.app.export.xml", "XmlExporter"),
    "eml": ("bewaar.app.export.eml", "EmlExporter"),
}


def exporter(name: str) -> Exporter:
    """The format called NAME (its libraries load only when an export asks for it)."""
    import importlib

    module, cls = _CLASSES[name]
    return getattr(importlib.import_module(module), cls)()  # type: ignore[no-any-return]


def parse_formats(text: str) -> list[str]:
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    if "all" in names:
        return list(FORMAT_NAMES)
    bad = [n for n in names if n not in FORMAT_NAMES]
    if bad or not names:
        raise InputError(f"unknown format '{bad[0] if bad else text}': use any of {','.join(FORMAT_NAMES)} (or all)")
    return list(dict.fromkeys(names))


@dataclass
class Outcome:
    out: Path
    items: int
    results: list[Written] = field(default_factory=list)
    left_out: int = 0
    redacted: int = 0

    @property
    def failed(self) -> list[str]:
        return [f for r in self.results for f in r.failed]


def prepare_output(out: Path) -> bool:
    """Create OUT (True) or accept an empty existing one (False); refuse anything else."""
    out = Path(out)
    if out.exists():
        if not out.is_dir():
            raise InputError(f"{out} exists and is not a directory: name a new directory with -o")
        if any(out.iterdir()):
            raise InputError(f"{out} is not empty: an export never overwrites; name a new directory with -o")
        return False
    try:
        out.mkdir(parents=True)
    except OSError as e:
        raise InputError(f"cannot create {out}: {e.strerror or e}") from None
    return True


def run_export(
    root: Path, request: Request, formats: list[str], out: Path, *,
    access: Access | None = None, title: str = "",
    progress: Callable[[str], None] | None = None,
) -> Outcome:  # fmt: skip
    root = Path(root)
    r = Root(root)
    for coll in r.collections():
        if coll.path.resolve() == Path(out).resolve() or coll.path.resolve() in Path(out).resolve().parents:
            raise InputError(f"{out} is inside the collection {coll.name}: write the export elsewhere")
    selection = resolve(r.catalog_file, request, access)  # bad input fails before OUT exists
    chosen = {name: exporter(name) for name in formats}
    created = prepare_output(out)
    con = connect(r.catalog_file)
    try:
        store = RecordStore(root, con)
        job = ExportJob(root, selection, Path(out), store, Evidence.for_root(root, store), con,
                        title=title or _title(request))  # fmt: skip
        from bewaar.app.export.records_mgmt import ledger_for, retention_for

        job.ledger = ledger_for(job)
        job.retention = retention_for(job)
        if progress:
            job.progress = progress
        outcome = Outcome(Path(out), len(selection.all_items()), left_out=len(selection.left_out),
                          redacted=len(selection.redacted))  # fmt: skip
        for name in formats:
            job.progress(f"{name}: writing {outcome.items} item(s)")
            outcome.results.append(chosen[name].write(job))
        write_manifest(job, outcome.results)
        shutil.rmtree(job.out / ".work", ignore_errors=True)
    except BaseException:
        con.close()
        _discard(Path(out), created)
        raise
    con.close()
    return outcome


def _discard(out: Path, created: bool) -> None:
    if created:
        shutil.rmtree(out, ignore_errors=True)
    else:
        for child in out.iterdir():
            if child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)


def _title(req: Request) -> str:
    what = req.accounts or req.posts[:3] or ([f"'{req.query}'"] if req.query else []) or [req.collection or ""]
    return "Export: " + ", ".join(str(w) for w in what)

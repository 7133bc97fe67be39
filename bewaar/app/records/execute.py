"""Carry out a destruction or a redaction, so that it is provable and nothing else is lost.

Order, chosen so that a crash at any point leaves the collection verifiable or says what is
left to do (and the next `bewaar destroy execute` or `bewaar redact` finishes it):
  1. every file to rewrite is written anew (kept records byte for byte) into archive/ under a
     new name, and signed (its own manifest, timestamped);
  2. the record (destruction or redaction) is written and signed: what was removed, with hashes,
     why, approved and carried out by whom, when;
  3. one ledger append files the record and, per file, `destroyed` or `replaced` (old hash ->
     new hash, the record ids removed, edited and materialised), under one seal;
  4. only then the old files and their manifests are deleted (unlinked: copies in backups are
     the backup's retention to handle, see docs/records.md);
  5. pages.jsonl, the objects files, the CDXJ index, the catalog (and its search index), pywb's
     access lists and the audit trail are brought in line.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bewaar.config import RootConfig
from bewaar.errors import BewaarError
from bewaar.model import SIGNATURE_SUFFIX, Collection, Root, read_pages
from bewaar.timeutil import compact, iso, now, wall

from .content import FileMap, Page
from .edit import Posts, Target
from .rewrite import FilePlan, write_file

Say = Callable[[str], None]


def operator(name: str | None = None) -> str:
    """Who carries it out: --by, else the login name, with the host."""
    who = name or os.environ.get("USER") or getpass.getuser()
    return f"{who}@{socket.gethostname()}"


def new_record_id(kind: str) -> str:
    return f"{kind}-{compact(wall())}-{secrets.token_hex(3)}"


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def posts_of(files: list[FileMap]) -> Posts:
    posts = Posts()
    for fm in files:
        for p in fm.pages:
            for o in p.objects:
                if o.get("type") == "post":
                    posts.add(o)
    return posts


def as_target(o: dict[str, Any]) -> Target:
    author = o.get("author") or {}
    media = tuple(str(m.get("url")) for m in o.get("media") or [] if isinstance(m, dict) and m.get("url"))
    return Target(str(o.get("id")), str(o.get("url")), str(o.get("text") or ""),
                  str(author.get("handle") or "") if isinstance(author, dict) else "", media)


def _local(handle: str) -> str:
    return handle.lower().lstrip("@").split("@")[0]


def targets_where(files: list[FileMap], test: Callable[[dict[str, Any]], bool]) -> list[Target]:
    out: list[Target] = []
    for fm in files:
        for p in fm.pages:
            for o in p.objects:
                if o.get("type") == "post" and o.get("id") and o.get("url") and test(o):
                    t = as_target(o)
                    if t not in out:
                        out.append(t)
    return out


def replies_by(files: list[FileMap], handle: str) -> list[Target]:
    """Replies (and comments) whose author is HANDLE (`name`, `@name` or `name@server`)."""
    want = handle.lower().lstrip("@")

    def test(o: dict[str, Any]) -> bool:
        a = str((o.get("author") or {}).get("handle") or "").lower().lstrip("@")
        return bool(o.get("reply_to")) and (a == want or ("@" not in want and _local(a) == want))

    return targets_where(files, test)


def posts_at(files: list[FileMap], url: str) -> list[Target]:
    return targets_where(files, lambda o: o.get("url") == url)


@dataclass
class Removal:
    kind: str  # destruction | redaction
    coll: Collection
    files: list[FileMap]
    plans: list[FilePlan]
    record_id: str
    reason: str
    approved_by: str
    executed_by: str
    details: dict[str, Any] = field(default_factory=dict)  # plan / request, for the record
    pages_judged: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    list_urls: bool = True  # destruction lists what went; a redaction keeps no URL of it

    def changed(self) -> list[FilePlan]:
        return [p for p in self.plans if p.action != "keep"]


def _rec_entry(removal: Removal, plan: FilePlan, i: int) -> dict[str, Any]:
    r = plan.fm.records[i]
    a = plan.actions[i]
    e: dict[str, Any] = {"id": r.id, "type": r.type, "why": a.why}
    if removal.list_urls:
        e["uri"] = r.uri
    else:
        e["uri_sha256"] = sha256_text(r.uri)
    return e


def _page_entry(removal: Removal, p: Page) -> dict[str, Any]:
    e: dict[str, Any] = {"captured_at": p.captured_at, "account": p.account, "kind": p.kind}
    if removal.list_urls:
        e["url"] = p.url
    else:
        e["url_sha256"] = sha256_text(p.url)
    judged = removal.pages_judged.get(p.key)
    if judged:
        e["retention"] = judged
    return e


def _file_entry(removal: Removal, plan: FilePlan, new: tuple[Path, str, int] | None) -> dict[str, Any]:
    from signing.ledger import statement_hash
    from signing.manifest import load_for

    fm = plan.fm
    entry: dict[str, Any] = {
        "file": fm.name, "sha256": fm.sha256, "size": fm.size, "crawl_id": fm.crawl_id,
        "manifest_statement_sha256": statement_hash(load_for(fm.path)),
        "action": "destroyed" if plan.action == "destroy" else "rewritten",
        "pages_removed": [_page_entry(removal, p) for p in plan.pages_removed],
        "pages_edited": [p.url for p in plan.pages_edited],
        "records": len(fm.records),
    }
    if new is not None:
        entry.update(new_file=new[0].name, new_sha256=new[1], new_size=new[2])
        for what in ("drop", "edit", "materialise", "repoint"):
            key = {"drop": "removed_records", "edit": "edited_records",
                   "materialise": "materialised_records", "repoint": "repointed_revisits"}[what]
            entry[key] = [_rec_entry(removal, plan, i) for i, a in sorted(plan.actions.items())
                          if a.action == what]
        entry["screenshots_dropped"] = sum(
            1 for i, a in plan.actions.items()
            if a.action == "drop" and fm.records[i].uri.startswith("urn:screenshot:"))
    return entry


def finish_pending(root: Root, coll: Collection, say: Say) -> list[str]:
    """Files the ledger says a record removed but that are still present (a run stopped
    between its ledger append and the deletion): deleted now. Returns their names."""
    from signing import ledger

    state = ledger.replay_events(ledger.load(coll.path))
    done = []
    for name, f in state.removed().items():
        path = coll.archive / name
        if path.exists() and f.record in state.records:
            if f.status == "replaced" and not (coll.archive / f.replaced_by).exists():
                continue  # its replacement is not there: keep it, verify will say so
            _unlink(path)
            done.append(name)
            say(f"finished an earlier removal: deleted {name} (record {f.record})")
    return done


def _unlink(path: Path) -> None:
    for p in (path, path.with_name(path.name + SIGNATURE_SUFFIX)):
        p.unlink(missing_ok=True)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def carry_out(root: Root, config: RootConfig, removal: Removal, say: Say) -> dict[str, Any]:
    """Steps 1-5 (see the module). The caller holds the collection's lock."""
    from bewaar.environment import pywb_python
    from signing import api, ledger, manifest

    pywb_python()  # the index is rebuilt with pywb's indexer at the end: fail before anything changes
    coll = removal.coll
    new_files: dict[str, tuple[Path, str, int]] = {}
    for plan in removal.changed():
        if plan.action != "rewrite":
            continue
        target = coll.archive / plan.new_name()
        if target.exists():
            raise FileExistsError(f"{target} exists already")
        tmp = coll.tmp / target.name
        coll.tmp.mkdir(parents=True, exist_ok=True)
        tmp.unlink(missing_ok=True)
        write_file(plan, tmp, removal.record_id)
        os.replace(tmp, target)
        api.sign_warc(target, root.path, config.signing)
        st = manifest.load_for(target).statement
        new_files[plan.fm.name] = (target, str(st["sha256"]), int(st["size"]))
        say(f"{plan.fm.name}: rewritten as {target.name} ({len(plan.ids('drop'))} record(s) "
            f"removed, {len(plan.ids('edit'))} edited, {len(plan.ids('materialise'))} made whole)")

    evaluated = now()
    statement: dict[str, Any] = {
        "kind": removal.kind,
        "collection": coll.name,
        "reason": removal.reason,
        "approved_by": removal.approved_by,
        "executed_by": removal.executed_by,
        "executed_at": iso(wall()),
        "evaluated_at": iso(evaluated),
        **removal.details,
        "files": [_file_entry(removal, p, new_files.get(p.fm.name)) for p in removal.changed()],
        "screenshots": "a screenshot of a page that showed removed content is dropped, never "
                       "edited or rendered anew (a new rendering would not be the capture)",
    }
    if os.environ.get("BEWAAR_NOW"):
        statement["clock"] = (f"BEWAAR_NOW={os.environ['BEWAAR_NOW']}: terms were judged as if it "
                              "were then (a dry run or a test)")
    signer = api.ledger_signer(root.path, config.signing)
    rpath, rsha = ledger.write_record(coll.path, signer, removal.record_id, statement)
    events: list[dict[str, Any]] = [{"event": "record", "record": removal.record_id,
                                     "kind": removal.kind, "sha256": rsha,
                                     "file": f"{ledger.RECORDS_DIR}/{rpath.name}"}]
    for plan in removal.changed():
        fm = plan.fm
        if plan.action == "destroy":
            events.append({"event": "destroyed", "file": fm.name, "sha256": fm.sha256,
                           "record": removal.record_id})
            continue
        path, sha, size = new_files[fm.name]
        events.append({
            "event": "replaced", "file": fm.name, "sha256": fm.sha256, "new_file": path.name,
            "new_sha256": sha, "new_size": size,
            "manifest": ledger.statement_hash(manifest.load_for(path)),
            "record": removal.record_id, "reason": removal.reason,
            "removed": plan.ids("drop"), "edited": plan.ids("edit"),
            "materialised": plan.ids("materialise"), "repointed": plan.ids("repoint"),
        })
    # files the ledger does not list yet (signed before it started) are recorded first
    pos = ledger.update(coll.path, signer, extra=events,
                         skip={p.name for p, _s, _n in new_files.values()})
    for plan in removal.changed():
        _unlink(plan.fm.path)
    say(f"record {rpath.relative_to(coll.path)} signed (timestamp "
        f"{json.loads(rpath.read_text(encoding='utf-8'))['timestamp']['status']}); ledger "
        f"sealed at line {pos['line'] if pos else '?'}")
    try:
        after(root, removal, new_files, say)
    except (BewaarError, OSError) as e:
        raise BewaarError(
            f"the removal is done and recorded ({rpath.name}), but bringing the rest in line "
            f"failed: {e}; run `bewaar index {coll.name}` and `bewaar catalog rebuild`", 1) from e
    return {"record": rpath, "ledger": pos, "new_files": new_files}


def after(root: Root, removal: Removal, new_files: dict[str, tuple[Path, str, int]], say: Say) -> None:
    """Step 5: everything derived from the WARCs follows them."""
    from bewaar.app.access import Access
    from bewaar.app.access.acl import refresh_acls
    from bewaar.app.access.store import User
    from catalog.api import forget
    from crawler.indexer import reindex
    from crawler.runstate import forget_collection_payloads

    coll = removal.coll
    gone_pages = {(p.file, p.main_id or "", p.url, p.captured_at)
                  for plan in removal.plans for p in plan.pages_removed}
    destroyed = {p.fm.name for p in removal.plans if p.action == "destroy"}
    renamed = {old: new[0].name for old, new in new_files.items()}
    _rewrite_pages(coll, gone_pages, destroyed, renamed)
    _rewrite_objects(coll, removal)
    entries = reindex(coll)
    say(f"index rebuilt ({entries} entries)")
    for line in forget(root.path, coll.name, _catalog_rows(removal)):
        say(line)
    refresh_acls(root)
    try:  # revisits must never point at a removed record; no removed URI may stay on disk
        line = forget_collection_payloads(root.state_dir / "redis", coll.name)
    except Exception as e:  # noqa: BLE001 - the removal itself is complete
        line = (f"queue not cleaned ({e}): delete {root.state_dir / 'redis'} while no crawl runs "
                "(unfinished crawls then start afresh)")
    if line:
        say(line)
    who = removal.executed_by.split("@")[0]
    Access(root).log(
        f"records.{removal.kind}", User(f"cli:{who}", "admin"), f"{coll.name}: {removal.record_id}",
        reason=removal.reason, approved_by=removal.approved_by,
        files=len(removal.changed()),
    )


def _rewrite_pages(coll: Collection, gone: set[tuple[str, str, str, str]], destroyed: set[str],
                   renamed: dict[str, str]) -> None:
    path = coll.pages_file
    if not path.exists():
        return
    by_id = {(f, rid) for f, rid, _u, _t in gone if rid}
    by_url = {(f, u, t) for f, _rid, u, t in gone}
    out = []
    with path.open(encoding="utf-8") as fh:
        header = fh.readline()
    for entry in read_pages(path):
        warc = str(entry.get("warc", ""))
        rid = str((entry.get("extra") or {}).get("record_id", ""))
        if warc in destroyed or (warc, rid) in by_id or (warc, entry.get("url"), entry.get("ts")) in by_url:
            continue
        if warc in renamed:
            entry["warc"] = renamed[warc]
        out.append(json.dumps(entry, ensure_ascii=False) + "\n")
    _replace(path, header + "".join(out))


def _rewrite_objects(coll: Collection, removal: Removal) -> None:
    """objects/CRAWL_ID.jsonl keeps the information objects of the pages still held."""
    if not coll.objects.is_dir():
        return
    gone_pages = {(p.url, p.captured_at) for plan in removal.plans for p in plan.pages_removed}
    gone_objects = {(t.id, t.url) for t in removal.targets}
    for f in sorted(coll.objects.glob("*.jsonl")):
        keep, changed = [], False
        for line in f.read_text(encoding="utf-8").splitlines(keepends=True):
            try:
                o = json.loads(line)
            except json.JSONDecodeError:
                keep.append(line)
                continue
            if (str(o.get("id")), o.get("url")) in gone_objects or \
                    (o.get("page_url"), o.get("captured_at")) in gone_pages:
                changed = True
                continue
            keep.append(line)
        if changed:
            if keep:
                _replace(f, "".join(keep))
            else:
                f.unlink()


def _replace(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)


def _catalog_rows(removal: Removal) -> list[dict[str, Any]]:
    at = iso(wall())
    kind = "destroyed" if removal.kind == "destruction" else "redacted"
    rows, seen = [], set()
    for plan in removal.plans:
        for p in plan.pages_removed:
            for o in p.objects:
                if o.get("type") == "post" and (str(o.get("id")), p.account) not in seen:
                    seen.add((str(o.get("id")), p.account))
                    rows.append(_row(removal, kind, at, p.account, o))
    for t in removal.targets:
        if (t.id, t.url) not in seen:
            seen.add((t.id, t.url))
            rows.append(_row(removal, kind, at, "", {"id": t.id, "url": t.url}))
    return rows


def _row(removal: Removal, kind: str, at: str, account: str, o: dict[str, Any]) -> dict[str, Any]:
    url = str(o.get("url") or "")
    return {
        "collection": removal.coll.name, "record": removal.record_id, "kind": kind, "at": at,
        "account": account or None, "post_id": str(o.get("id")) if removal.list_urls else None,
        "url": url if removal.list_urls else None, "url_sha256": sha256_text(url),
        "reason": removal.reason,
    }

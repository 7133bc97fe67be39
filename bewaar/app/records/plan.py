"""Destruction in two steps: a plan for approval, then its execution exactly as approved.

`bewaar destroy plan` writes what would be destroyed, under which rule and why, file by file:
a file that holds only what is due is destroyed whole; a file that also holds what is kept is
rewritten without it (destruction becomes redaction there); a later file whose revisits point
at what goes is rewritten with those payloads made whole. Nothing is changed.

`bewaar destroy execute PLAN --approved-by NAME` refuses a plan whose files changed since it was
made, or whose pages are no longer due (a rule changed), and a plan already carried out; else it
does what the plan lists and nothing more (execute.py), and files a signed destruction record.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from bewaar import SOFTWARE
from bewaar.errors import BewaarError, InputError
from bewaar.model import Collection
from bewaar.timeutil import iso, now, wall

from . import retention
from .content import FileMap, scan_collection
from .execute import as_target, posts_at, posts_of
from .rewrite import FilePlan, Selection, plan_removal

PLAN_FORMAT = "bewaar-destruction-plan/1"
DUE_REASON = "retention term ended (selection list)"


def _account_matches(page_account: str, wanted: str) -> bool:
    a, w = page_account.lower(), wanted.lower().lstrip("@")
    return a == w or a.split(":", 1)[-1] == w or a.split(":", 1)[-1].split("@")[0] == w


def select(coll: Collection, files: list[FileMap], *, due: bool, before: datetime | None,
           accounts: list[str], posts: list[str]) -> tuple[Selection, dict[tuple[str, str], dict[str, Any]]]:
    sel = Selection()
    judged: dict[tuple[str, str], dict[str, Any]] = {}
    if due:
        st = retention.status(coll, files, before or now())
        for page, j in st.due_pages:
            sel.pages.add(page.key)
            judged[page.key] = j.as_json()
        for obj, _page, _j in st.due_objects:
            t = as_target(obj)
            if t not in sel.targets:
                sel.targets.append(t)
    for wanted in accounts:
        found = [p for fm in files for p in fm.pages if _account_matches(p.account, wanted)]
        if not found:
            raise InputError(f"no pages of account '{wanted}' in collection {coll.name}")
        sel.pages.update(p.key for p in found)
    for url in posts:
        found_t = posts_at(files, url)
        if not found_t and not any(p.url == url for fm in files for p in fm.pages):
            raise InputError(f"no post {url} in collection {coll.name}")
        for t in found_t:
            if t not in sel.targets:
                sel.targets.append(t)
        if not found_t:
            sel.pages.update(p.key for fm in files for p in fm.pages if p.url == url)
    return sel, judged


def _file_doc(plan: FilePlan, judged: dict[tuple[str, str], dict[str, Any]]) -> dict[str, Any]:
    fm = plan.fm
    return {
        "file": fm.name, "sha256": fm.sha256, "action": plan.action,
        "pages_removed": [{"url": p.url, "captured_at": p.captured_at, "account": p.account,
                           "kind": p.kind, "retention": judged.get(p.key)}
                          for p in plan.pages_removed],
        "pages_kept": len(fm.pages) - len(plan.pages_removed),
        "pages_edited": [p.url for p in plan.pages_edited],
        "records_removed": len(plan.ids("drop")),
        "records_edited": len(plan.ids("edit")),
        "records_materialised": len(plan.ids("materialise")),
    }


def make(coll: Collection, *, due: bool, before: datetime | None, accounts: list[str],
         posts: list[str], reason: str | None, by: str) -> dict[str, Any] | None:
    """The plan document, or None when nothing is selected."""
    if not (due or accounts or posts):
        raise InputError("say what to destroy: --due, --account NAME or --post URL")
    if (accounts or posts) and not reason:
        raise InputError("--account and --post need --reason (the request or decision it carries out)")
    files = scan_collection(coll)
    sel, judged = select(coll, files, due=due, before=before, accounts=accounts, posts=posts)
    if sel.empty():
        return None
    plans = plan_removal(files, sel, posts_of(files), "plan")
    changed = [p for p in plans if p.action != "keep"]
    return {
        "format": PLAN_FORMAT,
        "collection": coll.name,
        "created": iso(wall()),
        "evaluated_at": iso(now()),
        "prepared_by": by,
        "software": SOFTWARE,
        "selection": {"due": due, "due_before": iso(before) if before else None,
                      "accounts": accounts, "posts": posts},
        "reason": reason or DUE_REASON,
        "pages": sorted([f, pid] for f, pid in sel.pages),
        "objects": [{"id": t.id, "url": t.url} for t in sel.targets],
        "files": [_file_doc(p, judged) for p in changed],
        "summary": {
            "files_destroyed": sum(1 for p in changed if p.action == "destroy"),
            "files_rewritten": sum(1 for p in changed if p.action == "rewrite"),
            "pages_removed": sum(len(p.pages_removed) for p in changed),
            "objects_removed": len(sel.targets),
        },
    }


def load(path: Path) -> tuple[dict[str, Any], str]:
    """The plan and the sha256 of its bytes (the destruction record names it)."""
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(f"{path}: cannot read the plan ({e.strerror})") from None
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InputError(f"{path}: not a destruction plan (not JSON)") from None
    if not isinstance(doc, dict) or doc.get("format") != PLAN_FORMAT:
        raise InputError(f"{path}: not a destruction plan ({PLAN_FORMAT})")
    return doc, hashlib.sha256(data).hexdigest()


def reselect(coll: Collection, doc: dict[str, Any]) -> tuple[list[FileMap], Selection,
                                                              dict[tuple[str, str], dict[str, Any]],
                                                              list[FilePlan]]:
    """The plan's selection against the collection as it is now; refuses what changed."""
    files = scan_collection(coll)
    by_name = {fm.name: fm for fm in files}
    for f in doc.get("files", []):
        fm = by_name.get(f.get("file"))
        if fm is None or fm.sha256 != f.get("sha256"):
            raise BewaarError(
                f"{f.get('file')} changed or is gone since the plan was made: nothing was done; "
                "make a new plan and have it approved", 1)
    sel = Selection(pages={(str(a), str(b)) for a, b in doc.get("pages", [])})
    wanted = {(str(o.get("id")), str(o.get("url"))) for o in doc.get("objects", [])}
    for fm in files:
        for p in fm.pages:
            for o in p.objects:
                t = as_target(o)
                if (t.id, t.url) in wanted and t not in sel.targets:
                    sel.targets.append(t)
    judged: dict[tuple[str, str], dict[str, Any]] = {}
    if doc.get("selection", {}).get("due"):
        rf = retention.load(coll)
        moment = now()
        for fm in files:
            for p in fm.pages:
                if p.key not in sel.pages:
                    continue
                j = retention.judge_page(rf, coll.name, p)
                if (j.due is None or j.due > moment) and not _named(doc, p):
                    raise BewaarError(
                        f"{p.url} (captured {p.captured_at}) is not due now under its rule "
                        f"({j.rule.describe() if j.rule else 'none'}): the rule changed since the "
                        "plan was made; nothing was done", 1)
                judged[p.key] = j.as_json()
    plans = plan_removal(files, sel, posts_of(files), "plan")
    now_files = {p.fm.name: p.action for p in plans if p.action != "keep"}
    planned = {f["file"]: f["action"] for f in doc.get("files", [])}
    if now_files != planned:
        raise BewaarError("the collection changed since the plan was made (the files to destroy "
                          "or rewrite differ): nothing was done; make a new plan", 1)
    return files, sel, judged, plans


def _named(doc: dict[str, Any], p: Any) -> bool:
    sel = doc.get("selection", {})
    return bool(sel.get("accounts")) and any(_account_matches(p.account, a) for a in sel["accounts"])


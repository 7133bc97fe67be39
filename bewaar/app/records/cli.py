"""`bewaar retention`, `bewaar destroy plan|execute`, `bewaar redact`."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from bewaar.config import Retention, load_root_config
from bewaar.errors import OK, BewaarError, InputError
from bewaar.lock import collection_lock
from bewaar.model import Collection, Root
from bewaar.timeutil import iso, now, parse_iso

from . import execute, plan, retention
from .content import scan_collection


def _root(args: argparse.Namespace) -> Root:
    return Root(Path(args.root).resolve())


def _collection(root: Root, name: str) -> Collection:
    coll = root.collection(name)
    if not coll.archive.is_dir():
        raise InputError(f"no collection '{name}' in {root.path}")
    return coll


def _date(text: str | None, flag: str) -> datetime | None:
    if not text:
        return None
    try:
        if len(text) == 10:
            return parse_iso(text + "T00:00:00Z")
        return parse_iso(text)
    except ValueError:
        raise InputError(f"{flag}: '{text}' is not a date (YYYY-MM-DD or an ISO 8601 time)") from None


def _say(line: str) -> None:
    print(line, flush=True)


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- retention


def cmd_status(args: argparse.Namespace) -> int:
    root = _root(args)
    before = _date(args.due_before, "--due-before") or now()
    colls = [_collection(root, args.collection)] if args.collection else root.collections()
    out: list[dict[str, Any]] = []
    for coll in colls:
        _progress(f"reading the WARCs of {coll.name} …")
        files = scan_collection(coll)
        st = retention.status(coll, files, before)
        due_keys = {p.key for p, _j in st.due_pages}
        whole = [fm.name for fm in files if fm.pages and all(p.key in due_keys for p in fm.pages)]
        mixed = [fm.name for fm in files if any(p.key in due_keys for p in fm.pages)
                 and fm.name not in whole]
        rows = [{"rule": r["rule"].as_json() if r["rule"] else None,
                 "describe": r["rule"].describe() if r["rule"] else "unclassified (never due)",
                 "set_on": src, "key": key, "pages": r["pages"], "due": r["due"],
                 "next_due": iso(r["next_due"]) if r["next_due"] else None,
                 "files": len(r["files"])} for (src, key), r in sorted(st.rows.items())]
        out.append({"collection": coll.name, "evaluated_at": iso(now()), "due_before": iso(before),
                    "rules": rows, "due_pages": len(st.due_pages),
                    "due_objects": len(st.due_objects), "unclassified_pages": st.unclassified,
                    "files_due_whole": whole, "files_due_in_part": mixed,
                    "removed": _removed(root, coll.name)})
    if args.json:
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return OK
    for c in out:
        print(f"collection {c['collection']} (due before {c['due_before']})")
        for r in c["rules"]:
            where = f"{r['set_on']} {r['key']}".strip() if r["set_on"] != "none" else "-"
            nxt = f", next due {r['next_due']}" if r["next_due"] else ""
            print(f"  {r['describe']}: set on {where}: {r['pages']} page(s) in {r['files']} "
                  f"file(s), {r['due']} due{nxt}")
        print(f"  due: {c['due_pages']} page(s); {len(c['files_due_whole'])} file(s) hold only "
              f"what is due (destroyed whole), {len(c['files_due_in_part'])} hold it among what "
              "is kept (rewritten without it)"
              + (f"; {c['due_objects']} post(s) with a rule of their own" if c["due_objects"] else ""))
        if c["unclassified_pages"]:
            print(f"  warning: {c['unclassified_pages']} page(s) have no retention rule: give "
                  "their seeds or the collection `retention:` (nothing unclassified is destroyed)")
        if c["removed"]:
            kinds: dict[str, int] = {}
            for r in c["removed"]:
                kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
            print("  removed so far: " + ", ".join(f"{n} post(s) {k}" for k, n in kinds.items()))
    return OK


def _removed(root: Root, collection: str) -> list[dict[str, Any]]:
    from catalog import query
    from catalog.db import open_readonly

    if not root.catalog_file.exists():
        return []
    con = open_readonly(root.catalog_file)
    try:
        return query.removals(con, collection)
    finally:
        con.close()


def cmd_set(args: argparse.Namespace) -> int:
    root = _root(args)
    coll = _collection(root, args.collection)
    rule = None
    if not args.clear:
        if not (args.term or args.permanent):
            raise InputError("give --term (e.g. 10y), --permanent, or --clear")
        data = {"term": "permanent" if args.permanent else args.term, "from": args.from_,
                "category": args.category, "list": args.list}
        try:
            rule = Retention.model_validate({k: v for k, v in data.items() if v is not None})
        except ValueError as e:
            first = str(e).splitlines()
            raise InputError(first[2].strip() if len(first) > 2 else str(e)) from None
    by = execute.operator(args.by)
    from signing import api

    with collection_lock(coll.path):
        event = retention.set_post(coll, args.post, rule, by, args.reason)
        api.update_ledger(root.path, load_root_config(root.path).signing, coll.path, extra=[event])
    print(f"{args.post}: " + (f"own rule {rule.describe()}" if rule else "own rule removed: it "
                              "follows its account again") + " (recorded in the ledger)")
    return OK


# --------------------------------------------------------------------------- destroy


def cmd_plan(args: argparse.Namespace) -> int:
    root = _root(args)
    coll = _collection(root, args.collection)
    _progress(f"reading the WARCs of {coll.name} …")
    doc = plan.make(coll, due=args.due, before=None, accounts=args.account or [],
                    posts=args.post or [], reason=args.reason, by=execute.operator(args.by))
    if doc is None:
        print(f"{coll.name}: nothing to destroy" + (" is due" if args.due else ""))
        return OK
    out = Path(args.output)
    if out.exists():
        raise InputError(f"{out} exists: plans are never overwritten (choose another name)")
    out.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    for f in doc["files"]:
        how = {"destroy": "destroy whole", "rewrite": "rewrite without"}[f["action"]]
        what = (f"{len(f['pages_removed'])} page(s)" if f["pages_removed"] else "")
        extra = []
        if f["records_materialised"]:
            extra.append(f"{f['records_materialised']} revisit(s) made whole")
        if f["pages_edited"]:
            extra.append(f"{len(f['pages_edited'])} page(s) edited")
        print(f"  {f['file']}: {how} {what}".rstrip() + (f" ({', '.join(extra)})" if extra else "")
              + (f"; {f['pages_kept']} page(s) kept" if f["action"] == "rewrite" else ""))
    s = doc["summary"]
    print(f"plan {out}: {s['files_destroyed']} file(s) destroyed whole, {s['files_rewritten']} "
          f"rewritten, {s['pages_removed']} page(s) and {s['objects_removed']} post(s) removed; "
          f"reason: {doc['reason']}. After approval: bewaar destroy execute {out} --approved-by NAME")
    return OK


def cmd_execute(args: argparse.Namespace) -> int:
    root = _root(args)
    doc, plan_sha = plan.load(Path(args.plan))
    coll = _collection(root, str(doc.get("collection")))
    if not args.approved_by.strip():
        raise InputError("--approved-by: name who approved the plan")
    config = load_root_config(root.path)
    with collection_lock(coll.path):
        execute.finish_pending(root, coll, _say)
        done = _carried_out(coll, plan_sha)
        if done:
            print(f"{args.plan} was carried out already (record {done}); nothing to do")
            return OK
        _progress(f"reading the WARCs of {coll.name} …")
        files, sel, judged, plans = plan.reselect(coll, doc)
        removal = execute.Removal(
            kind="destruction", coll=coll, files=files, plans=plans,
            record_id=execute.new_record_id("destruction"), reason=str(doc.get("reason", "")),
            approved_by=args.approved_by.strip(), executed_by=execute.operator(args.by),
            details={"plan": {"sha256": plan_sha, "created": doc.get("created"),
                              "prepared_by": doc.get("prepared_by"),
                              "selection": doc.get("selection")}},
            pages_judged=judged, targets=sel.targets, list_urls=True,
        )
        result = execute.carry_out(root, config, removal, _say)
    print(f"destruction record: {result['record']}")
    return OK


def _carried_out(coll: Collection, plan_sha: str) -> str | None:
    from signing import ledger

    state = ledger.replay_events(ledger.load(coll.path))
    for rid in state.records:
        path = ledger.records_dir(coll.path) / f"{rid}.json"
        try:
            st = json.loads(json.loads(path.read_text(encoding="utf-8"))["statement"])
        except (OSError, ValueError, KeyError):
            continue
        if (st.get("plan") or {}).get("sha256") == plan_sha:
            return rid
    return None


# --------------------------------------------------------------------------- redact


def cmd_redact(args: argparse.Namespace) -> int:
    root = _root(args)
    coll = _collection(root, args.collection)
    if not (args.post or args.record or args.replies_by):
        raise InputError("say what to redact: --post URL, --record ID or --replies-by HANDLE")
    if not args.reason.strip():
        raise InputError("--reason: say why (the request it carries out)")
    config = load_root_config(root.path)
    with collection_lock(coll.path):
        if not args.dry_run:
            execute.finish_pending(root, coll, _say)
        _progress(f"reading the WARCs of {coll.name} …")
        files = scan_collection(coll)
        sel = plan.Selection(records=set(args.record or []))
        for url in args.post or []:
            found = execute.posts_at(files, url)
            if not found:
                raise InputError(f"no post {url} in collection {coll.name}")
            sel.targets += [t for t in found if t not in sel.targets]
        for handle in args.replies_by or []:
            found = execute.replies_by(files, handle)
            if not found:
                raise InputError(f"no replies by {handle} in collection {coll.name}")
            sel.targets += [t for t in found if t not in sel.targets]
            sel.handles.add(handle.lower().lstrip("@").split("@")[0])
        known = {r.id for fm in files for r in fm.records}
        for rid in args.record or []:
            if rid not in known:
                raise InputError(f"no record {rid} in collection {coll.name}")
        record_id = execute.new_record_id("redaction")
        plans = plan.plan_removal(files, sel, execute.posts_of(files), record_id)
        changed = [p for p in plans if p.action != "keep"]
        for p in changed:
            print(f"  {p.fm.name}: {'destroy whole' if p.action == 'destroy' else 'rewrite'}: "
                  f"{len(p.ids('drop'))} record(s) removed, {len(p.ids('edit'))} edited, "
                  f"{len(p.ids('materialise'))} made whole; {len(p.pages_edited)} page(s) edited")
        if args.dry_run:
            print(f"dry run: {len(changed)} file(s) would change; nothing was done")
            return OK
        if not changed:
            raise BewaarError("nothing in the collection shows it: nothing was done", 1)
        request: dict[str, Any] = {
            "posts_sha256": [hashlib.sha256(u.encode()).hexdigest() for u in args.post or []],
            "records": list(args.record or []),
            "replies_by_sha256": [hashlib.sha256(h.lower().lstrip("@").encode()).hexdigest()
                                  for h in args.replies_by or []],
            "posts_removed": len(sel.targets),
        }
        removal = execute.Removal(
            kind="redaction", coll=coll, files=files, plans=plans, record_id=record_id,
            reason=args.reason.strip(), approved_by=(args.approved_by or "").strip(),
            executed_by=execute.operator(args.by), details={"request": request},
            targets=sel.targets, list_urls=False,
        )
        result = execute.carry_out(root, config, removal, _say)
    print(f"redaction record: {result['record']}")
    return OK


# --------------------------------------------------------------------------- parsers


def register(sub: argparse._SubParsersAction) -> None:
    def root_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--root", default=".", metavar="DIR", help="the bewaar root (default: .)")

    def by_arg(p: argparse.ArgumentParser) -> None:
        p.add_argument("--by", help="who does this, for the record and the audit trail "
                       "(default: your login name)")

    r = sub.add_parser("retention", help="retention rules (selection lists) and what is due")
    rsub = r.add_subparsers(dest="retention_command", metavar="ACTION")
    rsub.required = True
    st = rsub.add_parser("status", help="what is kept under which rule, and what is due")
    root_arg(st)
    st.add_argument("collection", nargs="?", help="one collection (default: all)")
    st.add_argument("--due-before", metavar="DATE", help="what is due before DATE (default: now)")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=cmd_status)
    s = rsub.add_parser("set", help="give a post or reply a rule of its own")
    root_arg(s)
    by_arg(s)
    s.add_argument("collection")
    s.add_argument("--post", required=True, metavar="URL")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--term", help="e.g. 10y, 18mo, 90d")
    g.add_argument("--permanent", action="store_true", help="keep permanently (bewaren)")
    g.add_argument("--clear", action="store_true", help="remove its own rule")
    s.add_argument("--from", dest="from_", choices=("captured", "published"))
    s.add_argument("--category", help="the selection list's category, e.g. 1.1.4")
    s.add_argument("--list", help="the selection list, e.g. 'Selectielijst gemeenten 2020'")
    s.add_argument("--reason")
    s.set_defaults(func=cmd_set)

    d = sub.add_parser("destroy", help="destruction in two steps: a plan, then its approved execution")
    dsub = d.add_subparsers(dest="destroy_command", metavar="ACTION")
    dsub.required = True
    p = dsub.add_parser("plan", help="write what would be destroyed (what, rule, reason) for approval")
    root_arg(p)
    by_arg(p)
    p.add_argument("collection")
    p.add_argument("--due", action="store_true", help="everything whose retention term has ended")
    p.add_argument("--account", action="append", metavar="NAME", help="every page of an account")
    p.add_argument("--post", action="append", metavar="URL", help="a post, wherever it shows")
    p.add_argument("--reason", help="the decision or request (required with --account/--post)")
    p.add_argument("-o", "--output", required=True, metavar="PLAN", help="the plan file (JSON)")
    p.set_defaults(func=cmd_plan)
    e = dsub.add_parser("execute", help="carry out an approved plan; writes a signed destruction record")
    root_arg(e)
    by_arg(e)
    e.add_argument("plan", metavar="PLAN")
    e.add_argument("--approved-by", required=True, metavar="NAME", help="who approved the plan")
    e.set_defaults(func=cmd_execute)

    x = sub.add_parser("redact", help="take posts, replies or records out of a collection's WARCs "
                       "(e.g. an AVG art. 17 request); writes a signed redaction record")
    root_arg(x)
    by_arg(x)
    x.add_argument("collection")
    x.add_argument("--post", action="append", metavar="URL", help="a post or reply, wherever it shows")
    x.add_argument("--record", action="append", metavar="ID", help="a WARC-Record-ID")
    x.add_argument("--replies-by", action="append", metavar="HANDLE",
                   help="every reply by this person (name, @name or name@server)")
    x.add_argument("--reason", required=True, help="the request or decision it carries out")
    x.add_argument("--approved-by", metavar="NAME", help="who decided it")
    x.add_argument("--dry-run", action="store_true", help="show what would change; change nothing")
    x.set_defaults(func=cmd_redact)

"""Sub-commands: changes, catalog {update, rebuild, status} (`bewaar watch` is bewaar/app/watch.py)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bewaar.errors import InputError
from bewaar.model import Root


def _root(args: argparse.Namespace) -> Root:
    root = Root(Path(args.root).resolve())
    if not root.path.is_dir():
        raise InputError(f"{root.path}: no such directory (give the root with --root)")
    return root


def _progress(quiet: bool):  # noqa: ANN202 - a callable or None
    if quiet:
        return None
    return lambda msg: print(msg, file=sys.stderr, flush=True)


def cmd_changes(args: argparse.Namespace) -> int:
    from bewaar.config import load_root_config
    from catalog import changes as ch
    from catalog import query as cq
    from catalog.db import open_readonly

    root = _root(args)
    since = ch.parse_since(args.since) if args.since else None  # bad input before any I/O
    con = open_readonly(root.catalog_file, wait=args.wait)
    try:
        accounts = ch.resolve_account(con, args.account, args.collection) if args.account else None
        types = tuple(dict.fromkeys(args.types)) if args.types else cq.DEFAULT_TYPES
        if args.all:
            types = cq.TYPES
        if args.gaps:
            return _print_gaps(cq.gap_reports(con, accounts, args.collection), args.json)
        found = cq.list_changes(con, cq.ChangeFilter(accounts, since, types, args.collection))
    finally:
        con.close()
    if args.json:
        print(json.dumps(found, indent=1, ensure_ascii=False))
        return 0
    if args.replay_url:
        base = args.replay_url
    else:
        cfg = load_root_config(root.path).replay
        base = f"http://{cfg.host}:{cfg.port}"
    for line in ch.format_text(found, base):
        print(line)
    n_accounts = len({c["account"] for c in found})
    print(
        f"{len(found)} change(s) in {n_accounts} account(s)"
        + (f" since {since}" if since else ""),
        file=sys.stderr,
    )
    return 0


def _print_gaps(reports: list[dict], as_json: bool) -> int:
    """`bewaar changes --gaps`: each account's latest gap report."""
    from catalog.gaps import describe

    if as_json:
        print(json.dumps(reports, indent=1, ensure_ascii=False))
        return 0
    for g in reports:
        print(f"{g['account']} ({g['collection']}, crawl {g['crawl_id']}): {describe(g)}")
        for m in g.get("missing") or []:
            print(f"    not captured: {m['url']} — {m['why']}")
    print(f"gap report(s) of {len(reports)} account(s)", file=sys.stderr)
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    from catalog.db import open_catalog
    from catalog.ingest import update

    root = _root(args)
    con = open_catalog(root.catalog_file, wait=args.wait)
    try:
        result = update(
            con, root.catalog_file, root, finished_only=not args.unfinished,
            progress=_progress(args.quiet),
        )  # fmt: skip
    finally:
        con.close()
    for line in result.lines():
        print(line.removeprefix("catalog: "))
    if result.deferred:
        print(
            f"{len(result.deferred)} crawl(s) without a report left for later (still running, or "
            "killed: add --unfinished to read them now): " + ", ".join(result.deferred)
        )
    if not result.crawls and not result.deferred:
        print(f"{root.catalog_file}: up to date")
    return 1 if result.problems else 0


def cmd_rebuild(args: argparse.Namespace) -> int:
    from catalog.db import open_catalog
    from catalog.ingest import rebuild

    root = _root(args)
    if not root.collections():
        raise InputError(f"no collections under {root.collections_dir}: nothing to rebuild from")
    con = open_catalog(root.catalog_file, wait=args.wait)
    try:
        result = rebuild(con, root.catalog_file, root, progress=_progress(args.quiet))
        counts = {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # noqa: S608
            for t in ("crawls", "accounts", "pages", "posts", "post_versions", "changes")
        }
    finally:
        con.close()
    for p in result.problems:
        print(p, file=sys.stderr)
    print(
        f"{root.catalog_file}: rebuilt from the WARCs: "
        + ", ".join(f"{n} {t.replace('_', ' ')}" for t, n in counts.items())
    )
    return 1 if result.problems else 0


def cmd_status(args: argparse.Namespace) -> int:
    from catalog.db import SCHEMA_VERSION, open_readonly
    from catalog.ingest import pending_files

    root = _root(args)
    con = open_readonly(root.catalog_file, wait=args.wait)
    try:
        rows = con.execute(
            "SELECT a.collection, a.name, a.platform, max(ac.ended) AS last,"
            " (SELECT count(*) FROM posts p WHERE p.account = a.id AND p.relation = 'own') AS posts,"
            " (SELECT count(*) FROM changes c WHERE c.account = a.id AND c.type != 'counts') AS changes"
            " FROM accounts a LEFT JOIN account_crawls ac ON ac.account = a.id"
            " GROUP BY a.id ORDER BY a.collection, a.name"
        ).fetchall()
        pending = sum(len(pending_files(con, c)) for c in root.collections())
        sched = con.execute("SELECT * FROM schedule ORDER BY next_due").fetchall()
    finally:
        con.close()
    print(f"{root.catalog_file} (schema {SCHEMA_VERSION})")
    for r in rows:
        print(f"  {r['collection']}/{r['name']}: last capture {r['last'] or '-'}, "
              f"{r['posts']} post(s), {r['changes']} change(s)")  # fmt: skip
    if pending:
        print(f"  {pending} WARC file(s) not read yet: run `bewaar catalog update`")
    for s in sched:
        running = f", running on {s['running']}" if s["running"] else ""
        print(f"  watch {s['collection']}/{s['account']}: every {s['every']}s, next {s['next_due']}"
              f"{running}, last exit {s['last_exit'] if s['last_exit'] is not None else '-'}")  # fmt: skip
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from catalog.query import TYPES

    p = sub.add_parser(
        "changes", help="new, edited and deleted posts and profile changes found by re-crawls"
    )
    p.add_argument("--root", default=".", help="root directory (default: .)")
    p.add_argument(
        "--account",
        help="an account as crawl summaries name it (mastodon:minbzk@social.example), its handle "
        "as in the seed list (@minbzk@social.example), or a site's host",
    )  # fmt: skip
    p.add_argument("--collection", help="only this collection")
    p.add_argument("--since", help="YYYY-MM-DD, an ISO 8601 time, or a span back (36h, 7d)")
    p.add_argument(
        "--type", dest="types", action="append", choices=TYPES, metavar="TYPE",
        help=f"only these (repeatable): {', '.join(TYPES)}; default all but counts",
    )  # fmt: skip
    p.add_argument("--all", action="store_true", help="include count changes (followers, ...)")
    p.add_argument("--json", action="store_true", help="a JSON list instead of text")
    p.add_argument(
        "--gaps", action="store_true",
        help="instead of changes: each account's gap report (the profile's post count against "
        "posts captured to date, posts seen but not captured and why, how far a back-fill got)",
    )  # fmt: skip
    p.add_argument("--replay-url", help="replay server for links (default: from bewaar.yaml)")
    p.add_argument("--wait", type=float, default=10.0, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_changes)

    cat = sub.add_parser("catalog", help="the catalog of accounts, posts and versions")
    csub = cat.add_subparsers(dest="catalog_command", metavar="ACTION")
    csub.required = True
    for name, func, text in (
        ("update", cmd_update, "read WARC files not in the catalog yet (after a failed update)"),
        ("rebuild", cmd_rebuild, "rebuild the catalog from the WARCs alone"),
        ("status", cmd_status, "accounts, last captures, unread files, watch schedule"),
    ):
        c = csub.add_parser(name, help=text)
        c.add_argument("--root", default=".", help="root directory (default: .)")
        c.add_argument(
            "--wait", type=float, default=30.0,
            help="seconds to wait for a catalog another process is writing (default 30)",
        )  # fmt: skip
        c.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
        if name == "update":
            c.add_argument(
                "--unfinished", action="store_true",
                help="also read crawls that have no report (killed crawls); not while one runs",
            )  # fmt: skip
        c.set_defaults(func=func)

"""`bewaar export` (a selection in WACZ, PDF/A, HTML, XML and EML) and `bewaar transfer`
(a collection as a BagIt bag for the e-depot)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bewaar.errors import FAILED, OK


def register(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser(
        "export",
        help="export a selection of posts as WACZ, PDF/A, HTML, XML (MDTO) and/or EML",
        description="Select posts as the overview's search does (all given selectors must hold) "
        "and write them in the chosen formats into a new directory, with manifest.json listing "
        "every file, and what was left out or redacted and why. Exit 0 done, 1 something could "
        "not be exported (listed), 2 bad selection or arguments, 3 environment not ready.",
    )
    e.add_argument("--root", type=Path, default=Path("."), metavar="DIR", help="the bewaar root (default: .)")
    e.add_argument("--account", action="append", default=[], metavar="PLATFORM:HANDLE",
                   help="posts of this account (repeatable), e.g. mastodon:minbzk@social.example")
    e.add_argument("--post", action="append", default=[], metavar="URL", help="this post (repeatable)")
    e.add_argument("--query", default="", metavar="TEXT",
                   help='words, "phrases", prefix* in any version of the text (the overview\'s search)')
    e.add_argument("--collection", metavar="NAME", help="posts of this collection")
    e.add_argument("--from", dest="date_from", metavar="DATE", help="published on or after DATE (YYYY-MM-DD)")
    e.add_argument("--to", dest="date_to", metavar="DATE", help="published on or before DATE")
    e.add_argument("--versions", choices=("latest", "all"), default="latest",
                   help="the latest captured version of each post (default) or every version")
    e.add_argument("--with-replies", action="store_true", help="also the replies under each post")
    e.add_argument("--format", default="wacz,pdf,html,xml,eml", metavar="LIST",
                   help="comma-separated: wacz,pdf,html,xml,eml (default: all)")
    e.add_argument("--title", help="the export's title (default: from the selection)")
    e.add_argument("-o", "--output", type=Path, required=True, metavar="DIR", help="a new (or empty) directory")
    e.add_argument("--as", dest="as_user", metavar="USER",
                   help="export as this user of the root's access control, with their restrictions "
                   "(default: as an archivist at the server's command line)")
    e.set_defaults(func=cmd_export)

    t = sub.add_parser(
        "transfer",
        help="build a BagIt transfer package of a collection (signed WACZ, MDTO XML, evidence report)",
        description="Writes a BagIt bag for an e-depot: the collection as one signed WACZ, its "
        "posts' MDTO and bewaar XML, the evidence report of `bewaar verify`, and a README in "
        "Dutch and English. Exit 0 done, 1 a check failed, 2 bad arguments.",
    )
    t.add_argument("--root", type=Path, default=Path("."), metavar="DIR", help="the bewaar root (default: .)")
    t.add_argument("collection", help="collection name")
    t.add_argument("-o", "--output", type=Path, required=True, metavar="DIR", help="a new (or empty) directory")
    t.set_defaults(func=cmd_transfer)


def cmd_export(args: argparse.Namespace) -> int:
    from bewaar.app.export.run import parse_formats, run_export
    from bewaar.app.export.selection import Request

    formats = parse_formats(args.format)
    req = Request(
        accounts=args.account, posts=args.post, query=args.query, collection=args.collection,
        date_from=args.date_from, date_to=args.date_to, versions=args.versions,
        with_replies=args.with_replies,
    )  # fmt: skip
    from bewaar.app.export.restrictions import access_for, log_export, requesting_user
    from bewaar.model import Root

    user = requesting_user(args.root, args.as_user)
    req.requested_by = user.name
    access = access_for(args.root, user, Root(Path(args.root)).catalog_file)
    try:
        outcome = run_export(args.root, req, formats, args.output, title=args.title or "", access=access)
    except BaseException as e:
        log_export(args.root, user, str(args.output), "failed", error=str(e)[:200])
        raise
    log_export(args.root, user, str(outcome.out), "ok", items=outcome.items,
               left_out=outcome.left_out, redacted=outcome.redacted, formats=formats)  # fmt: skip
    print(f"exported {outcome.items} item(s) to {outcome.out}: "
          + ", ".join(f"{r.name} ({len(r.paths)} file(s))" for r in outcome.results))  # fmt: skip
    if outcome.left_out or outcome.redacted:
        print(f"{outcome.left_out} left out, {outcome.redacted} redacted: see {outcome.out / 'manifest.json'}")
    for line in outcome.failed:
        print(f"not exported: {line}", file=sys.stderr)
    return FAILED if outcome.failed else OK


def cmd_transfer(args: argparse.Namespace) -> int:
    from bewaar.app.export.transfer import build

    result = build(args.root, args.collection, args.output)
    print(f"wrote BagIt bag {result.path}: {result.items} item(s), {len(result.files)} payload file(s), "
          f"validated; timestamp {result.timestamp}")  # fmt: skip
    for line in result.failed:
        print(f"not included: {line}", file=sys.stderr)
    return FAILED if result.failed else OK

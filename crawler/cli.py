"""Sub-commands of the crawler alone: index, login (`bewaar crawl` is bewaar/app/crawl.py)."""

from __future__ import annotations

import argparse
from pathlib import Path
from urllib.parse import urlsplit

from bewaar.errors import InputError
from bewaar.lock import collection_lock
from bewaar.model import Root


def cmd_index(args: argparse.Namespace) -> int:
    from crawler.indexer import reindex

    root = Root(Path(args.root).resolve())
    names = args.collections or [c.name for c in root.collections()]
    if not names:
        raise InputError(f"no collections under {root.collections_dir}: run `bewaar crawl` first")
    for name in names:
        coll = root.collection(name)
        if not coll.archive.is_dir():
            raise InputError(f"collection '{name}' not found under {root.collections_dir}")
        with collection_lock(coll.path):  # not while a crawl of it runs
            n = reindex(coll)
        print(f"{name}: {n} index entries from {len(coll.warcs())} WARC file(s)")
    return 0


def cmd_login(args: argparse.Namespace) -> int:
    from bewaar.config import PLATFORMS
    from crawler import login_state

    if args.platform not in PLATFORMS or args.platform == "generic":
        raise InputError(
            f"unknown platform '{args.platform}': use one of "
            + ", ".join(p for p in PLATFORMS if p != "generic")
        )
    root = Path(args.root).resolve()
    if args.import_file:
        domains = [urlsplit(args.base_url).hostname or ""] if args.base_url else []
        path = login_state.import_state(root, args.platform, args.import_file, domains)
    else:
        path = login_state.create_state(root, args.platform, base_url=args.base_url)
    print(
        f"stored {args.platform} login state in {path} (readable by you only); "
        f"use it in a seed list with `login_state: stored`"
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "login",
        help="store a platform's browser login state (headed browser, or --import a file)",
    )
    p.add_argument("platform", help="x, instagram, facebook, linkedin, mastodon, youtube, tiktok, snapchat")
    p.add_argument(
        "--import", dest="import_file", metavar="FILE",
        help="a Playwright storage state, cookies.txt or JSON cookie export to store instead",
    )
    p.add_argument("--base-url", help="the platform's site, e.g. a Mastodon server")
    p.add_argument("--root", default=".", help="root directory (state goes in ROOT/.bewaar/login)")
    p.set_defaults(func=cmd_login)

    p = sub.add_parser("index", help="rebuild the CDXJ index of collections from their WARCs")
    p.add_argument("collections", nargs="*", help="collection names (default: all)")
    p.add_argument("--root", default=".", help="root directory holding collections/")
    p.set_defaults(func=cmd_index)

"""Sub-commands of the replay package alone: qa. `bewaar replay` itself is the application
layer's (bewaar/app/serve.py): it serves the overview beside pywb, on its own origin."""

from __future__ import annotations

import argparse
from pathlib import Path

from bewaar.model import Root


def cmd_qa(args: argparse.Namespace) -> int:
    from replay.qa import print_summary, run_qa

    result = run_qa(Root(Path(args.root).resolve()), args.collection, args.crawl, args.min_score)
    print_summary(result)
    return result.exit_code


def register(sub: argparse._SubParsersAction) -> None:
    q = sub.add_parser(
        "qa",
        help="replay every page of a crawl and score it against its capture",
        description="Replay every page a crawl captured in headless Chromium through bewaar's "
        "replay and score it against the capture (screenshot, text, which records answered); "
        "check every captured request against the learned rules. Writes "
        "collections/NAME/crawls/CRAWL_ID.qa.json. Exit status 1 when a page scores below "
        "--min-score or a request is answered by another URL's record.",
    )
    q.add_argument("collection", metavar="COLLECTION", help="the collection to check")
    q.add_argument("--root", default=".", help="root directory holding collections/")
    q.add_argument("--crawl", metavar="ID", help="the crawl to check (default: the latest)")
    q.add_argument("--min-score", type=float, metavar="S",
                   help="fail (exit 1) when a page scores below S (0..1)")
    q.set_defaults(func=cmd_qa)

"""`bewaar`: one command line over the packages.

Each package registers the sub-commands that need only itself (`register(subparsers)`); the
application layer registers those that compose several (crawl, watch, demo). A command returns
an exit status. Problems the user can fix are BewaarError: one line on stderr, no traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence

from bewaar import __version__
from bewaar.errors import INTERRUPTED, OK, BewaarError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bewaar",
        description="Archive public social-media pages as a person sees them: "
        "capture to WARC, sign and timestamp, replay with pywb.",
    )
    parser.add_argument("--version", action="version", version=f"bewaar {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    from bewaar import environment
    from bewaar.app import crawl, demo, importer, package, serve, view, watch, worker
    from bewaar.app.access import cli as access_cli
    from bewaar.app.export import cli as export_cli
    from bewaar.app.records import cli as records_cli
    from catalog import cli as catalog_cli
    from crawler import cli as crawler_cli
    from replay import cli as replay_cli
    from signing import cli as signing_cli

    crawl.register(sub)
    crawler_cli.register(sub)
    serve.register(sub)
    replay_cli.register(sub)
    signing_cli.register(sub)
    package.register(sub)
    catalog_cli.register(sub)
    watch.register(sub)
    worker.register(sub)
    export_cli.register(sub)
    environment.register(sub)
    view.register(sub)
    demo.register(sub)
    access_cli.register(sub)
    records_cli.register(sub)
    importer.register(sub)
    return parser


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM unwinds like Ctrl-C, so every `finally` stops what the command started
    (servers, the browser) and finishes files. Scrapy and `watch` install their own."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _terminate)
    parser = build_parser()
    args = parser.parse_args(argv)
    debug = args.debug or os.environ.get("BEWAAR_DEBUG") == "1"
    try:
        code = args.func(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # the reader went away (`bewaar verify … | head`): not an error of ours. Point stdout
        # at /dev/null so the interpreter's own flush at exit does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        code = OK
    except BewaarError as e:
        print(f"bewaar: error: {e}", file=sys.stderr)
        code = e.exit_code
    except KeyboardInterrupt:
        print("bewaar: interrupted; files already finished are kept", file=sys.stderr)
        code = INTERRUPTED
    except Exception as e:  # noqa: BLE001 - last line of defence: one line, not a traceback
        if debug:
            raise
        print(
            f"bewaar: internal error: {type(e).__name__}: {e} "
            "(run again with --debug for details and report it)",
            file=sys.stderr,
        )
        code = 70
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())

"""Runs inside pywb's own environment (not bewaar's): pywb with bewaar's configuration.

Started by `bewaar replay` as `<pywb python> pywb_app.py --root R --config C --rules X ...`.
It imports only pywb, its dependencies and the standard library. bewaar's learned fuzzy rules
are placed in front of pywb's default rules (replay/pywb_rules.py writes the merged file), and
requests under /_overview go to the overview app; everything else is pywb's FrontEndApp,
unpatched.
"""

from gevent import monkey

monkey.patch_all()  # as pywb's own `wayback` does, before anything opens a socket

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from gevent.pywsgi import WSGIServer  # noqa: E402
from pywb.apps.frontendapp import FrontEndApp  # noqa: E402
from pywb_rules import final_config  # noqa: E402 - replay/pywb_rules.py, beside this script

HERE = Path(__file__).resolve().parent


class Dispatch:
    """/_overview and its assets to the overview app, the rest to pywb."""

    def __init__(self, pywb_app, overview_app=None) -> None:
        self.pywb = pywb_app
        self.overview = overview_app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if self.overview is not None and (path == "/_overview" or path.startswith("/_overview/")):
            return self.overview(environ, start_response)
        return self.pywb(environ, start_response)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--rules", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--catalog", default="")
    args = ap.parse_args()

    root = Path(args.root)
    os.chdir(root)
    final = final_config(Path(args.config), Path(args.rules))
    app = FrontEndApp(config_file=str(final))
    overview = None
    if args.catalog:
        sys.path.insert(0, str(HERE))
        try:
            from overview import OverviewApp  # replay/overview.py, stdlib + jinja2 only

            overview = OverviewApp(Path(args.catalog), prefix="/_overview")
        except Exception as e:  # noqa: BLE001 - replay still works without the overview
            print(f"overview disabled: {type(e).__name__}: {e}", file=sys.stderr, flush=True)
    server = WSGIServer((args.host, args.port), Dispatch(app, overview), log=None, error_log=sys.stderr)
    server.init_socket()
    print(json.dumps({"ready": True, "host": args.host, "port": server.server_port}), flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())

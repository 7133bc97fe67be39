"""Runs inside pywb's own environment (not bewaar's): pywb with bewaar's configuration.

Started by `bewaar replay` as `<pywb python> pywb_app.py --root R --config C --rules X ...`.
It imports only pywb, its dependencies and the standard library. bewaar's learned fuzzy rules
are placed in front of pywb's default rules (replay/pywb_rules.py writes the merged file);
everything is pywb's FrontEndApp, unpatched. (The overview is served by bewaar itself, on
another origin.)
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


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--rules", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080)
    args = ap.parse_args()

    root = Path(args.root)
    os.chdir(root)
    final = final_config(Path(args.config), Path(args.rules))
    app = FrontEndApp(config_file=str(final))
    server = WSGIServer((args.host, args.port), app, log=None, error_log=sys.stderr)
    server.init_socket()
    print(json.dumps({"ready": True, "host": args.host, "port": server.server_port}), flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())

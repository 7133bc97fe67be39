"""Runs inside pywb's own environment (not bewaar's): pywb with bewaar's configuration.

Started by `bewaar replay` as `<pywb python> pywb_app.py --root R --config C --rules X ...`.
It imports only pywb, its dependencies and the standard library. bewaar's learned fuzzy rules
are placed in front of pywb's default rules (pywb's `rules_file` setting replaces the defaults,
so the merged file is written here, where pywb's own defaults can be read); everything is
pywb's FrontEndApp, unpatched. (The overview is served by bewaar itself, on another origin.)
"""

from gevent import monkey

monkey.patch_all()  # as pywb's own `wayback` does, before anything opens a socket

import argparse  # noqa: E402
import contextlib  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import yaml  # noqa: E402
from gevent.pywsgi import WSGIServer  # noqa: E402
from pywb import DEFAULT_RULES_FILE  # noqa: E402
from pywb.apps.frontendapp import FrontEndApp  # noqa: E402
from pywb.utils.loaders import load_yaml_config  # noqa: E402


def merged_rules(bewaar_rules_path: Path, out: Path) -> Path:
    default = load_yaml_config(DEFAULT_RULES_FILE)
    ours = yaml.safe_load(bewaar_rules_path.read_text(encoding="utf-8")) or {}
    filters = dict(default.get("default_filters") or {})
    filters["url_normalize"] = list(filters.get("url_normalize") or []) + list(
        ours.get("url_normalize") or []
    )
    merged = {"default_filters": filters, "rules": list(ours.get("rules") or []) + default["rules"]}
    out.write_text(yaml.safe_dump(merged, sort_keys=False), encoding="utf-8")
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)  # collections_root in the config points into it
    ap.add_argument("--config", required=True)
    ap.add_argument("--rules", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080)
    args = ap.parse_args()

    config_path = Path(args.config).resolve()
    # pywb reads ./templates before its own templates: bewaar's (written next to the config)
    # replace the frame and banner templates that wrote the request URL into scripts unescaped
    os.chdir(config_path.parent)
    config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    config["rules_file"] = str(merged_rules(Path(args.rules), config_path.with_name("rules.merged.yaml")))
    final = config_path.with_name("config.final.yaml")
    final.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")

    app = FrontEndApp(config_file=str(final))
    server = WSGIServer((args.host, args.port), app, log=None, error_log=sys.stderr)
    server.init_socket()
    print(json.dumps({"ready": True, "host": args.host, "port": server.server_port}), flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())

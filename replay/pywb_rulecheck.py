"""Runs inside pywb's own environment: which record pywb serves for each request of a plan.

Started by replay/rulecheck.py as
`<pywb python> pywb_rulecheck.py --root R --config C --rules X --collection NAME --plan P`.
It builds pywb's warcserver from the same configuration and merged rules as replay
(replay/pywb_rules.py) and sends every request of the plan the way pywb's replay app does: a
POST to /COLL/resource/postreq carrying the whole original request (method, headers, body),
with url, closest and matchType=exact as parameters. What answered is read from the
`Warcserver-Cdx` header, as pywb's replay app reads it. Nothing of pywb's matching is
re-implemented here. Output: one JSON object per line in the --out file (pywb prints to stdout).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from base64 import b64decode
from io import BytesIO
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from pywb.utils.canonicalize import canonicalize
from pywb.warcserver.index.cdxobject import CDXObject
from pywb.warcserver.inputrequest import MethodQueryCanonicalizer
from pywb.warcserver.warcserver import WarcServer
from pywb_rules import final_config  # replay/pywb_rules.py, beside this script


def urlkey(method: str, url: str, ctype: str, body: bytes) -> str:
    """The lookup key pywb computes for a request (POST bodies appended as a query)."""
    query = MethodQueryCanonicalizer(method, ctype, len(body), BytesIO(body))
    return canonicalize(query.append_query(url))


def raw_request(method: str, url: str, ctype: str, body: bytes) -> bytes:
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [f"{method} {target} HTTP/1.1", f"Host: {parts.netloc}"]
    if body or method not in ("GET", "HEAD"):
        lines += [f"Content-Type: {ctype or 'application/octet-stream'}", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


def lookup(app: WarcServer, coll: str, method: str, url: str, ts: str, ctype: str, body: bytes) -> dict:
    req = raw_request(method, url, ctype, body)
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": f"/{coll}/resource/postreq",
        "QUERY_STRING": urlencode({"url": url, "closest": ts, "matchType": "exact"}),
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": "application/request",
        "CONTENT_LENGTH": str(len(req)),
        "wsgi.input": BytesIO(req),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
    }
    got: dict = {}

    def start_response(status: str, headers: list, exc_info: object = None) -> None:
        got["status"] = int(status.split(" ", 1)[0])
        got["headers"] = {k.lower(): v for k, v in headers}

    body_iter = app(environ, start_response)
    try:
        for _ in body_iter:  # the record's bytes are not needed, only which record it is
            pass
    finally:
        close = getattr(body_iter, "close", None)
        if close:
            close()
    cdx = got.get("headers", {}).get("warcserver-cdx")
    return {"status": got.get("status"), "cdx": dict(CDXObject(cdx.encode("utf-8"))) if cdx else None}


def check(app: WarcServer, coll: str, item: dict) -> dict:
    """One plan item: the record pywb serves for the changed request, and the lookup keys of
    the captured and the changed request."""
    body = b64decode(item.get("body") or "")
    new_body = b64decode(item.get("new_body") or "")
    ctype = item.get("content_type") or ""
    method = item["method"]
    res = lookup(app, coll, method, item["new_url"], item["ts"], ctype, new_body)
    if res["cdx"] is None or res["status"] != 200:
        # can the captured request itself be served? If not, no rule is at fault
        res["unchanged_status"] = lookup(app, coll, method, item["url"], item["ts"], ctype, body)["status"]
    res.update(
        id=item["id"],
        key=urlkey(method, item["url"], ctype, body),
        new_key=urlkey(method, item["new_url"], ctype, new_body),
    )
    return res


def main() -> int:
    ap = argparse.ArgumentParser()
    for name in ("--root", "--config", "--rules", "--collection", "--plan", "--out"):
        ap.add_argument(name, required=True)
    args = ap.parse_args()
    plan = json.loads(Path(args.plan).read_text(encoding="utf-8"))
    os.chdir(args.root)
    app = WarcServer(config_file=str(final_config(Path(args.config), Path(args.rules))))
    with open(args.out, "w", encoding="utf-8") as out:
        for item in plan:
            out.write(json.dumps(check(app, args.collection, item)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

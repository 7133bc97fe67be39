"""Small collections written record by record, for the rules: what the crawler writes for an
exchange (response, then its request pointing at it), indexed by pywb's own indexer."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from bewaar.model import Collection, Root
from crawler.indexer import add_to_index

START = datetime(2026, 11, 30, 10, 0, 0, tzinfo=UTC)


def clock(seconds: float) -> str:
    """A client clock (epoch ms) `seconds` after START, as a page's Date.now() sends it."""
    return str(int((START + timedelta(seconds=seconds)).timestamp() * 1000))


@dataclass
class Ex:
    url: str
    answer: Any  # the JSON the server answered
    method: str = "GET"
    body: Any = None  # JSON body of a POST
    at: float = 0  # seconds after START
    headers: dict[str, str] = field(default_factory=dict)


def write_collection(root: Path, name: str, exchanges: list[Ex]) -> tuple[Root, Collection]:
    r = Root(root)
    coll = r.collection(name).ensure()
    path = coll.archive / f"{name}-20261130100000-00001.warc.gz"
    with path.open("wb") as fh:
        w = WARCWriter(fh, gzip=True, warc_version="WARC/1.1")
        for ex in exchanges:
            when = (START + timedelta(seconds=ex.at)).strftime("%Y-%m-%dT%H:%M:%SZ")
            payload = json.dumps(ex.answer).encode()
            http = StatusAndHeaders("200 OK", [("Content-Type", "application/json"),
                                               ("Content-Length", str(len(payload)))], protocol="HTTP/1.1")
            resp = w.create_warc_record(ex.url, "response", payload=BytesIO(payload), http_headers=http,
                                        warc_headers_dict={"WARC-Date": when})
            body = json.dumps(ex.body).encode() if ex.body is not None else b""
            target = ex.url.split("/", 3)[3] if ex.url.count("/") >= 3 else ""
            req_headers = [("Host", ex.url.split("/")[2])]
            if body:
                req_headers += [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            req_http = StatusAndHeaders(f"{ex.method} /{target} HTTP/1.1", req_headers, is_http_request=True)
            req = w.create_warc_record(ex.url, "request", payload=BytesIO(body), http_headers=req_http,
                                       warc_headers_dict={
                                           "WARC-Date": when,
                                           "WARC-Concurrent-To": resp.rec_headers.get_header("WARC-Record-ID"),
                                       })
            w.write_record(resp)
            w.write_record(req)
    add_to_index(coll, [path])
    return r, coll

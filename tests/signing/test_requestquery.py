"""JSON request bodies in WACZ index keys: the Request Body Canonicalization spec's encoding."""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from pathlib import Path
from urllib.parse import quote_plus, unquote_plus

import pytest
from warcio.statusandheaders import StatusAndHeaders

from bewaar.model import VolatileParameters
from signing import api, wacz
from signing.requestquery import js_number, json_query, url_without, without
from tests.signing.conftest import Setup
from tests.signing.helpers import SHA256WARCWriter


def test_the_specs_own_example() -> None:
    body = (
        b'{"type": "event", "id": 44.0, "float": 35.7, "values": [true, false, null],'
        b' "source": {"type": "component", "id": "a+b&c= d", "values": [3, 4]}}'
    )
    assert json_query(body) == (
        "type=event&id=44&float=35.7&values=true&values.2_=false&values.3_=null"
        "&type.2_=component&id.2_=a%2Bb%26c%3D+d&values.4_=3&values.5_=4"
    )


@pytest.mark.parametrize(
    ("value", "js"),
    [  # what Number.prototype.toString() prints (node 20)
        (0.0, "0"), (-0.0, "0"), (1.0, "1"), (100.0, "100"), (1.5, "1.5"), (0.1, "0.1"),
        (1e-6, "0.000001"), (1e-7, "1e-7"), (-2.5e-9, "-2.5e-9"), (1e20, "100000000000000000000"),
        (1e21, "1e+21"), (1.23e22, "1.23e+22"), (2.0**53 + 1, "9007199254740992"),
        (12345678901234567890.0, "12345678901234567000"),
    ],
)
def test_numbers_as_javascript_prints_them(value: float, js: str) -> None:
    assert js_number(value) == js


def test_big_integers_are_doubles_and_keys_enumerate_as_in_javascript() -> None:
    assert json_query(b'{"id": 12345678901234567890}') == "id=12345678901234567000"
    # integer-like keys first, ascending: they decide which repeated name gets ".2_"
    assert json_query(b'{"b": {"x": 1}, "2": {"x": 2}, "1": {"x": 3}}') == "x=3&x.2_=2&x.3_=1"


def test_not_json_is_left_to_cdxj_indexer() -> None:
    assert json_query(b"not json") is None
    assert json_query(b'{"x": NaN}') is None


def _post_warc(path: Path, url: str, body: dict) -> Path:
    """A request/response pair as the crawler writes it: a JSON POST and its answer."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        w = SHA256WARCWriter(fh, gzip=True, warc_version="WARC/1.1")
        data = json.dumps(body).encode()
        req = w.create_warc_record(
            url, "request", payload=io.BytesIO(data),
            http_headers=StatusAndHeaders(
                "POST /api/timeline HTTP/1.1",
                [("Host", "example.gov"), ("Content-Type", "application/json"),
                 ("Content-Length", str(len(data)))],
                is_http_request=True,
            ),
            warc_headers_dict={"WARC-Date": "2025-03-01T12:00:00Z"},
        )
        answer = b'{"posts": []}'
        resp = w.create_warc_record(
            url, "response", payload=io.BytesIO(answer),
            http_headers=StatusAndHeaders(
                "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(answer)))],
                protocol="HTTP/1.1",
            ),
            warc_headers_dict={"WARC-Date": "2025-03-01T12:00:00Z"},
        )
        resp.rec_headers.add_header("WARC-Concurrent-To", req.rec_headers.get_header("WARC-Record-ID"))
        w.write_record(req)
        w.write_record(resp)
    return path


def test_package_index_keys_json_posts_as_the_spec(signed: Setup, tmp_path: Path) -> None:
    url = "https://example.gov/api/timeline"
    warc = _post_warc(signed.archive / "20250301130000-post.warc.gz", url,
                      {"cursor": None, "count": 10.0, "more": True, "q": "a b"})
    api.sign_warc(warc, signed.root, signed.cfg)
    out = tmp_path / "p.wacz"
    wacz.package(signed.root, signed.cfg, "c", out)
    with zipfile.ZipFile(out) as z:
        lines = gzip.decompress(z.read("indexes/index.cdx.gz")).decode().splitlines()
    post = [line for line in lines if "/api/timeline" in line]
    assert len(post) == 1
    key, _, entry = post[0].split(" ", 2)
    assert key == "gov,example)/api/timeline?__wb_method=post&count=10&cursor=null&more=true&q=a+b"
    assert json.loads(entry)["requestBody"] == "cursor=null&count=10&more=true&q=a+b"
    assert json.loads(entry)["method"] == "POST"


def test_without_leaves_out_volatile_parameters_and_keeps_the_rest_byte_for_byte() -> None:
    names = frozenset({"nonce", "client_ts", "_"})
    q = "account=minx&cursor=eyJvIjogMTB9&count=10&nonce=k3j4h5&client_ts=1796144151671&q=a+b%26c"
    assert without(q, names) == "account=minx&cursor=eyJvIjogMTB9&count=10&q=a+b%26c"
    assert without("Nonce=x&a=1", names) == "a=1"  # names compare lower-cased
    assert without("", names) == "" and without("a=1", frozenset()) == "a=1"
    assert url_without("https://x.gov/api/status/3?_=1796144151671", names) == "https://x.gov/api/status/3"
    assert url_without("https://x.gov/r?page=2&_=1", names) == "https://x.gov/r?page=2"
    assert url_without("https://x.gov/r", names) == "https://x.gov/r"
    # a JSON-valued parameter keeps its identifying leaves and loses its client-made ones
    features = '{"rweb_ts":1796144151671,"cursor":"abc","nested":{"rweb_ts":1,"id":7}}'
    got = without(f"variables={quote_plus(features)}&x=1", frozenset(), {"variables": frozenset({"rweb_ts"})})
    name, value = got.split("&")[0].split("=", 1)
    assert name == "variables" and json.loads(unquote_plus(value)) == {"cursor": "abc", "nested": {"id": 7}}


def test_volatile_parameters_round_trip_and_merge() -> None:
    a = VolatileParameters({("POST", "gov,x)/api/timeline?"): frozenset({"nonce"})},
                           {("GET", "gov,x)/g?"): {"features": frozenset({"rweb_ts"})}})
    b = VolatileParameters({("POST", "gov,x)/api/timeline?"): frozenset({"client_ts"})})
    assert VolatileParameters.from_json(json.loads(json.dumps(a.to_json()))) == a
    both = a.merged(b)
    assert both.names("post", "gov,x)/api/timeline?") == {"nonce", "client_ts"}
    assert both.json_leaves("GET", "gov,x)/g?") == {"features": {"rweb_ts"}}
    assert not VolatileParameters() and both


def test_package_leaves_volatile_parameters_out_of_the_index(signed: Setup, tmp_path: Path) -> None:
    """What ReplayWeb.page matches a replayed POST against is `requestBody`: without the nonce
    and the client clock there, the cursor decides which capture answers (signing/wacz.py)."""
    url = "https://example.gov/api/timeline"
    warc = _post_warc(signed.archive / "20250301130000-post.warc.gz", url,
                      {"cursor": "eyJvIjogMTB9", "count": 10, "nonce": "k3j4h5l6", "client_ts": 1796144151671})
    api.sign_warc(warc, signed.root, signed.cfg)
    volatile = VolatileParameters({("POST", "gov,example)/api/timeline?"): frozenset({"nonce", "client_ts"})})
    out = tmp_path / "p.wacz"
    wacz.package(signed.root, signed.cfg, "c", out, volatile=volatile)
    with zipfile.ZipFile(out) as z:
        lines = gzip.decompress(z.read("indexes/index.cdx.gz")).decode().splitlines()
    key, _, entry = next(line for line in lines if "/api/timeline" in line).split(" ", 2)
    assert key == "gov,example)/api/timeline?__wb_method=post&count=10&cursor=eyjvijogmtb9"
    assert json.loads(entry)["requestBody"] == "cursor=eyJvIjogMTB9&count=10"
    assert json.loads(entry)["url"] == url  # the record's own URL, as wabac.js checks
    # without them the nonce stays, as before
    wacz.package(signed.root, signed.cfg, "c", tmp_path / "q.wacz")
    with zipfile.ZipFile(tmp_path / "q.wacz") as z:
        assert "nonce=k3j4h5l6" in gzip.decompress(z.read("indexes/index.cdx.gz")).decode()

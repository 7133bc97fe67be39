"""The query a JSON request body becomes in a WACZ index key, as Webrecorder's Request Body
Canonicalization spec defines it (https://specs.webrecorder.net/request-body-canonicalization/).

A POST or PUT is indexed as its URL plus `__wb_method=POST&<body as query>`, and a replay engine
finds the record by converting the replayed request the same way. cdxj-indexer (1.5.0, the
newest release) turns JSON leaves into text with Python's `str()`: `None`, `True`, `44.0`. The
spec and wabac.js (ReplayWeb.page's engine) write `null`, `true`, `44`. A timeline whose first
page is requested with `{"cursor": null}` was then matched in ReplayWeb.page to whichever page's
record fuzzy matching liked best, and the first ten posts never appeared. Only the JSON rule
differs; cdxj-indexer's other encodings are kept. Written here because no Python library
implements the spec's JSON rule.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any
from urllib.parse import quote_plus, unquote_plus

MAX_QUERY_LENGTH = 4096  # as cdxj-indexer


def json_query(body: bytes) -> str | None:
    """The spec's query for a JSON body; None if the body is not one JSON value (the caller
    keeps cdxj-indexer's encoding then)."""
    try:
        # every number is a JavaScript double, so 10**20 and 1.0 are written as JavaScript does
        value = json.loads(body, parse_int=float, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError):
        return None
    pairs: list[str] = []
    counts: dict[str, int] = {}

    def encode(v: Any, name: str) -> None:
        if isinstance(v, dict):
            for key in _js_key_order(v):
                encode(v[key], key)
            return
        if isinstance(v, list):
            for element in v:
                encode(element, name)
            return
        if v is True or v is False:
            text = "true" if v else "false"
        elif v is None:
            text = "null"
        elif isinstance(v, float):
            text = js_number(v)
        else:
            text = quote_plus(str(v), safe="")
        if name in counts:
            counts[name] += 1
            key = f"{name}.{counts[name]}_"
        else:
            counts[name] = 1
            key = name
        pairs.append(f"{quote_plus(key, safe='')}={text}")

    encode(value, "")
    return "&".join(pairs)[:MAX_QUERY_LENGTH]


def _js_key_order(obj: dict[str, Any]) -> list[str]:
    """The order JavaScript enumerates an object's keys in: array indices ascending, then the
    others as written (it decides which repeated name gets which `.N_` suffix)."""
    index = [k for k in obj if k.isdigit() and (k == "0" or k[0] != "0") and int(k) < 2**32 - 1]
    taken = set(index)
    return sorted(index, key=int) + [k for k in obj if k not in taken]


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def js_number(x: float) -> str:
    """`Number.prototype.toString()` of a double (ECMAScript Number::toString, radix 10)."""
    if x == 0:
        return "0"
    if not math.isfinite(x):
        raise ValueError("not a JSON number")
    sign = "-" if x < 0 else ""
    d = Decimal(repr(abs(x))).normalize()  # repr: the shortest digits that round-trip, as JS
    digits = "".join(map(str, d.as_tuple().digits))
    k = len(digits)
    n = k + int(d.as_tuple().exponent)  # the value is 0.<digits> * 10**n
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    e = n - 1
    mantissa = digits[0] + ("." + digits[1:] if k > 1 else "")
    return f"{sign}{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"


def without(query: str, names: frozenset[str], leaves: dict[str, frozenset[str]] | None = None) -> str:
    """`query` (`a=1&b=2`, as in an index key) without the parameters in `names` (compared by
    their decoded, lower-cased name), and without the `leaves` listed for a JSON-valued
    parameter. The pairs kept are kept byte for byte."""
    if not query or not (names or leaves):
        return query
    leaves = leaves or {}
    kept: list[str] = []
    for pair in query.split("&"):
        raw_name, eq, raw_value = pair.partition("=")
        name = unquote_plus(raw_name).lower()
        if name in names:
            continue
        if eq and name in leaves:
            pair = f"{raw_name}={_without_leaves(raw_value, leaves[name])}"
        kept.append(pair)
    return "&".join(kept)


def url_without(url: str, names: frozenset[str], leaves: dict[str, frozenset[str]] | None = None) -> str:
    """`url` with its query passed through `without` (no `?` left if nothing is)."""
    base, q, query = url.partition("?")
    if not q:
        return url
    rest = without(query, names, leaves)
    return f"{base}?{rest}" if rest else base


def _without_leaves(raw: str, drop: frozenset[str]) -> str:
    """A URL-encoded JSON value without the leaves named in `drop` (at any depth); the value
    unchanged if it is not JSON."""
    try:
        value = json.loads(unquote_plus(raw))
    except ValueError:
        return raw

    def prune(v: Any) -> Any:
        if isinstance(v, dict):
            return {
                k: prune(x) for k, x in v.items()
                if isinstance(x, dict | list) or k.lower() not in drop
            }  # fmt: skip
        if isinstance(v, list):
            return [prune(x) for x in v]
        return v

    return quote_plus(json.dumps(prune(value), separators=(",", ":"), ensure_ascii=False), safe="")

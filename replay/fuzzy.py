"""Learn, from a collection's own captures, which request parameters identify a response.

A replayed page asks again for what it asked at capture time, but with new random values:
nonces, client clocks, cache-busters (and under pywb, a different clock and a seeded
Math.random). pywb then falls back to fuzzy matching, whose catch-all rule answers such a POST
with the *first* capture of the URL: every page of a paginated API replays as page one.

pywb's fuzzy rules are the right mechanism, but rules name parameters, and naming one site's
parameters does not generalise. So bewaar derives rules per endpoint from the captures:

- a parameter is *volatile* if its value looks client-made and the server never sent it:
  an epoch time near the capture time, a Math.random() float, a UUID, or a token that varies
  between captures and appears in no captured response;
- every other parameter *identifies* the response (cursors the server handed out, page
  numbers, ids that appear in the HTML) and must match exactly.

A fuzzy match must never cross to another path or method. pywb's FuzzyMatcher (2.10) looks
up the URL up to and including its `?` as a prefix when a rule yields filters, but the URL
*without* its query (and without a trailing slash) when it yields none or only `urlkey:`:
`/api/status/3?_=1` then also finds `/api/status/3/replies?...` and `/api/status/36?...`, and
serves whichever sorts first; a POST's URL has no `?` at all. So every learned rule carries a
filter that pins the endpoint's own path (which also keeps pywb's `?`), and a method guard: a
GET rule never answers a POST to the same path, nor a POST rule a GET.

The rules go in front of pywb's defaults (see replay/pywb_rules.py). pywb ships no such
analysis, so this module is bewaar's own.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from warcio.archiveiterator import ArchiveIterator

from bewaar.model import Collection, VolatileParameters

_UUID = re.compile(r"^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$", re.I)
_FLOAT = re.compile(r"^0?\.\d{6,}$")
_DIGITS = re.compile(r"^\d+$")
_TOKEN = re.compile(r"^[A-Za-z0-9_\-+/=%.~]{8,}$")
# characters that stand for themselves inside pywb's regex filter ('.' matches itself too);
# a value with any other character is matched by the loose ("contains") variant
_SAFE_VALUE = r"[\w%.~,:;@!'\"/=<>-]*"
_TEXT_MIMES = ("json", "javascript", "html", "text", "xml", "ecmascript")
_MAX_BODY = 8_000_000
_TIME_WINDOW = 7 * 86400  # client clocks are wrong, but not by more than a week
RULES_VERSION = 3  # part of the cache stamp: rules cached by an older bewaar are made again


@dataclass
class Capture:
    ts: str  # 14-digit timestamp
    params: list[tuple[str, str]]  # original-case parameters (query or POST body)
    key_params: list[tuple[str, str]]  # as in the (lowercased) urlkey


@dataclass
class Endpoint:
    prefix: str  # urlkey up to and including '?'
    method: str
    captures: list[Capture] = field(default_factory=list)


def _epoch(ts: str) -> float:
    return datetime.strptime(ts[:14].ljust(14, "0"), "%Y%m%d%H%M%S").replace(tzinfo=UTC).timestamp()


def looks_like_time(value: str, ts: str) -> bool:
    if not _DIGITS.match(value) or len(value) not in (10, 13):
        return False
    t = int(value) / (1000 if len(value) == 13 else 1)
    return abs(t - _epoch(ts)) <= _TIME_WINDOW


def looks_generated(value: str, ts: str) -> bool:
    """Client-made values whatever the server said: clocks, Math.random(), UUIDs."""
    return bool(looks_like_time(value, ts) or _FLOAT.match(value) or _UUID.match(value))


def _small(value: str) -> bool:
    """Page numbers, offsets, counts, short words: identifying even if never served."""
    if _DIGITS.match(value):
        return len(value) <= 6
    return len(value) <= 6 and value.isalpha()


def read_endpoints(index: Path) -> dict[tuple[str, str], Endpoint]:
    endpoints: dict[tuple[str, str], Endpoint] = {}
    if not index.exists():
        return endpoints
    with index.open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.split(" ", 2)
            if len(parts) < 3 or "?" not in parts[0]:
                continue
            try:
                data = json.loads(parts[2])
            except ValueError:
                continue
            urlkey = parts[0]
            prefix, key_query = urlkey.split("?", 1)
            method = (data.get("method") or "GET").upper()
            raw = urlsplit(data.get("url", "")).query
            if method != "GET" and data.get("requestBody"):
                # a POST's URL parameters identify it as much as its body's
                raw = "&".join(x for x in (raw, data["requestBody"]) if x)
            params = [(k, v) for k, v in parse_qsl(raw, keep_blank_values=True) if k != "__wb_method"]
            key_params = [
                (k, v) for k, v in parse_qsl(key_query, keep_blank_values=True) if k != "__wb_method"
            ]
            if not key_params:
                continue
            ep = endpoints.setdefault((prefix, method), Endpoint(prefix + "?", method))
            ep.captures.append(Capture(parts[1], params, key_params))
    return endpoints


def served_values(collection: Collection, candidates: set[str]) -> set[str]:
    """Which candidate values appear in a captured response (the server handed them out)."""
    found: set[str] = set()
    if not candidates:
        return found
    todo = {c.lower() for c in candidates if c}
    for warc in collection.warcs():
        with warc.open("rb") as fh:
            for rec in ArchiveIterator(fh):
                if rec.rec_type != "response" or not rec.http_headers:
                    continue
                mime = (rec.http_headers.get_header("Content-Type") or "").lower()
                if not any(m in mime for m in _TEXT_MIMES):
                    continue
                body = rec.content_stream().read(_MAX_BODY).decode("utf-8", "replace").lower()
                body_unescaped = body.replace("\\/", "/")
                for v in list(todo):
                    if v in body or v in body_unescaped:
                        found.add(v)
                        todo.discard(v)
                if not todo:
                    return found
    return found


def json_leaves(value: str) -> dict[str, str] | None:
    """A JSON-valued parameter flattened to its leaves (last key -> value text), like pywb
    flattens JSON bodies; None if the value is not a JSON object or array."""
    v = value.strip()
    if not v or v[0] not in "{[":
        return None
    try:
        data = json.loads(v)
    except ValueError:
        return None
    leaves: dict[str, list[str]] = defaultdict(list)

    def walk(x: Any, key: str) -> None:
        if isinstance(x, dict):
            for k, y in x.items():
                walk(y, str(k))
        elif isinstance(x, list):
            for y in x:
                walk(y, key)
        elif key:
            leaves[key].append(x if isinstance(x, str) else json.dumps(x))

    walk(data, "")
    return {k: ",".join(vs) for k, vs in leaves.items()}


@dataclass
class Classification:
    identifying: list[str] = field(default_factory=list)
    volatile: list[str] = field(default_factory=list)
    # JSON-valued parameters mixing identifying and client-made leaves: the identifying leaves
    fragments: dict[str, list[str]] = field(default_factory=dict)
    # ... and their client-made leaves
    generated_leaves: dict[str, list[str]] = field(default_factory=dict)


def classify(ep: Endpoint, served: set[str]) -> Classification:
    """Parameters of an endpoint by the rules in the module docstring; JSON-valued parameters
    are judged by their leaves."""
    values: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for cap in ep.captures:
        for k, v in cap.params:
            values[k].append((v, cap.ts))
    out = Classification()
    for name, vals in sorted(values.items()):
        nonempty_vals = [(v, ts) for v, ts in vals if v]
        parsed = [(json_leaves(v), ts) for v, ts in nonempty_vals]
        if nonempty_vals and all(leaves is not None for leaves, _ in parsed):
            generated = {
                k for leaves, ts in parsed for k, lv in (leaves or {}).items() if looks_generated(lv, ts)
            }
            if generated:
                rest = [{k: lv for k, lv in (leaves or {}).items() if k not in generated} for leaves, _ in parsed]
                varying = sorted({k for r in rest for k in r if any(r.get(k) != o.get(k) for o in rest)})
                # matched by its identifying leaves, if any differ between captures at all
                out.volatile.append(name)
                if varying:
                    out.fragments[name] = varying
                    out.generated_leaves[name] = sorted(generated)
                continue
        distinct = {v for v, _ in vals}
        if any(looks_generated(v, ts) for v, ts in vals if v):
            out.volatile.append(name)
        elif len(distinct) > 1 or len(ep.captures) == 1:
            nonempty = [v for v in distinct if v and v.lower() not in ("null", "none", "undefined")]
            server_made = any(v.lower() in served or _small(v) for v in nonempty)
            random_looking = all(_TOKEN.match(v) for v in nonempty) and nonempty
            if server_made or not random_looking:
                out.identifying.append(name)
            else:
                out.volatile.append(name)
        else:
            out.identifying.append(name)  # constant: harmless to require
    return out


def _literal(text: str) -> str:
    """`text` as a regex that pywb can put in a filter: escaped, and with braces doubled,
    because pywb fills each filter in with str.format."""
    return re.escape(text).replace("{", "{{").replace("}", "}}")


def _method_guard(method: str) -> tuple[str, str]:
    """(regex lookahead, filter) that keep a rule on its own method. pywb appends a non-GET
    request's method and body to its lookup key as `__wb_method=post&...`."""
    if method == "GET":
        return r"(?!.*[?&]__wb_method=)", "!~urlkey:.*[?&]__wb_method="
    m = _literal(method.lower())
    return rf"(?=.*[?&]__wb_method={m}(?:&|$))", rf"~urlkey:.*[?&]__wb_method={m}(?:&|$)"


# a leaf of a JSON-valued parameter as it stands in a urlkey: pywb's key decodes %22 and %3A,
# so both forms are accepted; a number is captured with what ends it, so that 1 is not 10
_Q = r'(?:%22|")'
_LEAF_VALUE = rf"(?:{_Q}(?:(?!%22|\").)*?{_Q}|[\w.+-]+(?:%2c|%7d|%5d|[,}}\]&]|$))"


def _rules_for(ep: Endpoint, c: Classification) -> list[dict[str, Any]]:
    """pywb rules for one endpoint: one per combination of identifying parameters the
    captures show, most specific first. Each identifying value is captured in a lookahead (so
    order never matters); a strict variant filters exact values with a regex, a loose one by
    "contains" (for values a regex filter cannot take, and for leaves inside JSON values).

    Every rule pins the endpoint's path and method with filters (see the module docstring):
    whatever the shape, pywb then looks up `path?` as a prefix and keeps only records of this
    path and method."""
    if not c.volatile:
        return []  # exact lookups already work
    method_rx, method_filter = _method_guard(ep.method)
    own = [f"~urlkey:{_literal(ep.prefix)}", method_filter]
    key_names = {k.lower() for cap in ep.captures for k, _ in cap.key_params}
    ident = sorted(n.lower() for n in c.identifying if n.lower() in key_names)
    leaf_groups = [
        rf"(?=.*?({_Q}{re.escape(leaf.lower())}{_Q}(?:%3a|:){_LEAF_VALUE}))"
        for leaves in c.fragments.values()
        for leaf in leaves
    ]
    combos = sorted(
        {tuple(sorted(n for n in ident if any(k == n for k, _ in cap.key_params))) for cap in ep.captures},
        key=len,
        reverse=True,
    )
    rules: list[dict[str, Any]] = []
    for combo in combos:
        absent = [n for n in ident if n not in combo]
        guard = method_rx + "".join(f"(?!.*[?&]{re.escape(n)}=)" for n in absent)
        filters = [*own, *(f"!~urlkey:.*[?&]{_literal(n)}=" for n in absent)]
        if combo and not leaf_groups:
            strict = "^" + guard + "".join(
                f"(?=.*?[?&]({re.escape(n)}={_SAFE_VALUE})(?=&|$))" for n in combo
            )
            rules.append(_rule(ep.prefix, strict, ["~urlkey:.*[?&]{0}(?:&|$)", *filters]))
        if combo or leaf_groups:
            # the value with the '&' after it, when there is one: page=1& is not page=10&
            loose = "^" + guard + "".join(f"(?=.*?([?&]{re.escape(n)}=[^&]*(?:&|$)))" for n in combo)
            rules.append(_rule(ep.prefix, loose + "".join(leaf_groups), ["urlkey:{0}", *filters]))
        else:
            # nothing identifies a capture but the path and method: the filters pin those
            rules.append(_rule(ep.prefix, "^" + guard + "()", filters))
    return rules


def _rule(prefix: str, regex: str, filters: list[str]) -> dict[str, Any]:
    return {
        "url_prefix": prefix,
        "fuzzy_lookup": {"match": regex, "filter": filters, "type": "prefix"},
    }


def analyse(collection: Collection) -> list[tuple[Endpoint, Classification]]:
    """Every endpoint of the collection with its parameters classified."""
    endpoints = read_endpoints(collection.index_file)
    candidates: set[str] = set()
    for ep in endpoints.values():
        for cap in ep.captures:
            for _k, v in cap.params:
                if v and _TOKEN.match(v) and not looks_generated(v, cap.ts):
                    candidates.add(v)
    served = served_values(collection, candidates)
    return [(ep, classify(ep, served)) for ep in endpoints.values()]


def learn_rules(collection: Collection) -> list[dict[str, Any]]:
    return learn(collection)[0]


def volatile_parameters(analysed: Iterable[tuple[Endpoint, Classification]]) -> VolatileParameters:
    """What a package's index leaves out (see VolatileParameters): per endpoint, the volatile
    parameters, except JSON-valued ones that also hold identifying leaves, whose client-made
    leaves are listed instead."""
    endpoints: dict[tuple[str, str], frozenset[str]] = {}
    leaves: dict[tuple[str, str], dict[str, frozenset[str]]] = {}
    for ep, c in analysed:
        key = (ep.method.upper(), ep.prefix)
        names = frozenset(n.lower() for n in c.volatile if n not in c.fragments)
        if names:
            endpoints[key] = names
        if c.generated_leaves:
            leaves[key] = {n.lower(): frozenset(x.lower() for x in ls) for n, ls in c.generated_leaves.items()}
    return VolatileParameters(endpoints, leaves)


def learn(collection: Collection) -> tuple[list[dict[str, Any]], VolatileParameters]:
    """The collection's fuzzy rules and its volatile parameters, from one analysis."""
    analysed = analyse(collection)
    rules: list[dict[str, Any]] = []
    for ep, c in analysed:
        rules.extend(_rules_for(ep, c))
    return rules, volatile_parameters(analysed)


def learned_cached(collection: Collection, cache_dir: Path) -> tuple[list[dict[str, Any]], VolatileParameters]:
    """Rules and volatile parameters, recomputed only when the collection's index changed
    (the analysis reads every WARC of the collection)."""
    idx = collection.index_file
    if not idx.exists():
        return [], VolatileParameters()
    st = idx.stat()
    stamp = f"{RULES_VERSION}:{st.st_size}:{st.st_mtime_ns}"
    cache = cache_dir / f"rules-{collection.name}.json"
    if cache.exists():
        try:
            data = json.loads(cache.read_text(encoding="utf-8"))
            if data.get("stamp") == stamp:
                return list(data["rules"]), VolatileParameters.from_json(data["volatile"])
        except (ValueError, KeyError, TypeError):
            pass
    rules, volatile = learn(collection)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"stamp": stamp, "rules": rules, "volatile": volatile.to_json()}, indent=1),
                   encoding="utf-8")  # fmt: skip
    tmp.replace(cache)  # a concurrent reader never sees half a file
    return rules, volatile


def learned_rules_cached(collection: Collection, cache_dir: Path) -> list[dict[str, Any]]:
    return learned_cached(collection, cache_dir)[0]


def volatile_parameters_cached(collection: Collection, cache_dir: Path) -> VolatileParameters:
    return learned_cached(collection, cache_dir)[1]


def all_rules(collections: Iterable[Collection], cache_dir: Path) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for c in collections:
        rules.extend(learned_rules_cached(c, cache_dir))
    return rules

"""The browserless rule check: does every captured request still find its own record when
its client-made values change, as they do in every replay?

For each captured request with a query or a body, the values that fuzzy.py judged volatile
(clocks, nonces, cache-busters, client-made JSON leaves) are replaced by new ones of the same
shape, and pywb itself says which record it would serve: replay/pywb_rulecheck.py runs pywb's
warcserver, in pywb's environment, with the same configuration and merged rules as replay. The
answer is then judged here:

- own: the request's own record (or an identical copy of it);
- other_capture: another capture of the same request (same path, method and identifying
  values), e.g. from another crawl: pywb's fuzzy lookup takes the first in index order;
- unresolved: no record at all: the rules are too strict;
- unloadable: not even the captured request, unchanged, can be served (e.g. a revisit record
  whose original pywb cannot find): a capture problem, not a rule bug, listed apart;
- wrong: another URL's record: a different path (cross-path), another method (cross-method)
  or other identifying values (other-params). This is a rule bug.
"""

from __future__ import annotations

import json
import random
import re
import subprocess
import tempfile
import uuid
from base64 import b64encode
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote_plus, urlencode, urlsplit, urlunsplit

import surt
from warcio.archiveiterator import ArchiveIterator

from bewaar.config import ReplayConfig
from bewaar.environment import pywb_python
from bewaar.errors import BewaarError, EnvironmentProblem
from bewaar.model import Collection, Root
from replay.fuzzy import Classification, analyse, json_leaves, looks_generated, looks_like_time

HERE = Path(__file__).resolve().parent
WRONG_KINDS = ("cross-path", "cross-method", "other-params")
MAX_EXAMPLES = 3


@dataclass
class Captured:
    """One captured request and what identifies its own record."""

    method: str
    url: str
    content_type: str
    body: bytes
    ts: str  # 14 digits, of its response
    digest: str  # payload digest of its response


@dataclass
class EndpointResult:
    endpoint: str  # scheme://host/path of the endpoint
    method: str
    requests: int = 0
    changed: int = 0  # requests that had volatile values to change
    own: int = 0
    other_capture: int = 0
    unresolved: int = 0
    unloadable: int = 0
    wrong: int = 0
    examples: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class RuleCheck:
    collection: str
    requests: int = 0
    wrong: int = 0
    unresolved: int = 0
    unloadable: int = 0
    endpoints: list[EndpointResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.wrong or self.unresolved)

    def to_dict(self) -> dict[str, Any]:
        return {
            "collection": self.collection,
            "requests": self.requests,
            "wrong": self.wrong,
            "unresolved": self.unresolved,
            "unloadable": self.unloadable,
            # problems first, then by name
            "endpoints": [
                asdict(e)
                for e in sorted(
                    self.endpoints,
                    key=lambda e: (-(e.wrong + e.unresolved), -e.unloadable, e.endpoint, e.method),
                )
            ],
        }


# --------------------------------------------------------------------------- captures


def _ts14(warc_date: str) -> str:
    return re.sub(r"\D", "", warc_date)[:14]


def captured_requests(collection: Collection, warcs: list[str] | None = None) -> list[Captured]:
    """Requests with a query or a body (in the named WARC files, default all), each with its
    response's time and digest (a request record is written right after its response,
    pointing at it with WARC-Concurrent-To)."""
    out: list[Captured] = []
    seen: set[tuple[str, str, bytes]] = set()
    for warc in collection.warcs():
        if warcs is not None and warc.name not in warcs:
            continue
        responses: dict[str, tuple[str, str]] = {}
        with warc.open("rb") as fh:
            for rec in ArchiveIterator(fh):
                h = rec.rec_headers
                if rec.rec_type in ("response", "revisit"):
                    responses[h.get_header("WARC-Record-ID")] = (
                        _ts14(h.get_header("WARC-Date") or ""),
                        h.get_header("WARC-Payload-Digest") or "",
                    )
                    continue
                if rec.rec_type != "request" or rec.http_headers is None:
                    continue
                url = h.get_header("WARC-Target-URI") or ""
                method = (rec.http_headers.protocol or "GET").upper()
                body = rec.content_stream().read()
                if not urlsplit(url).query and not body:
                    continue
                resp = responses.get(h.get_header("WARC-Concurrent-To") or "")
                if resp is None or (method, url, body) in seen:
                    continue
                seen.add((method, url, body))
                ctype = rec.http_headers.get_header("Content-Type") or ""
                out.append(Captured(method, url, ctype, body, resp[0], resp[1]))
    return out


# --------------------------------------------------------------------------- mutation


def new_value(value: str, ts: str, rng: random.Random) -> str:
    """Another value of the same shape, as the next visit's client would make it."""
    if looks_like_time(value, ts):
        return str(int(value) + (7919 if len(value) == 13 else 8))
    if re.fullmatch(r"0?\.\d+", value):
        lead, digits = value.split(".")
        return f"{lead}.{''.join(rng.choice('0123456789') for _ in digits)}"
    if re.fullmatch(r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}", value):
        new = str(uuid.UUID(int=rng.getrandbits(128)))
        new = new if "-" in value else new.replace("-", "")
        return new.upper() if value.isupper() else new
    if not value:
        return "x"
    out = []
    for ch in value:
        if ch.isdigit():
            out.append(rng.choice("0123456789"))
        elif ch.isalpha():
            pool = "abcdefghijklmnopqrstuvwxyz"
            c = rng.choice(pool)
            out.append(c.upper() if ch.isupper() else c)
        else:
            out.append(ch)
    new = "".join(out)
    return new if new != value else new + "x"


def _mutate_json(data: Any, names: set[str] | None, ts: str, rng: random.Random, key: str = "") -> Any:
    """Change the leaves named in `names`; with names=None, the leaves that look client-made."""
    if isinstance(data, dict):
        return {k: _mutate_json(v, names, ts, rng, str(k)) for k, v in data.items()}
    if isinstance(data, list):
        return [_mutate_json(v, names, ts, rng, key) for v in data]
    if data is None or isinstance(data, bool):
        return data
    text = data if isinstance(data, str) else json.dumps(data)
    if (key.lower() in names) if names is not None else looks_generated(text, ts):
        new = new_value(text, ts, rng)
        if isinstance(data, str):
            return new
        return _json(new) if _json(new) is not None else new
    return data


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def mutate(req: Captured, c: Classification, rng: random.Random) -> tuple[str, bytes, list[str]]:
    """The request as a later visit's client would make it: every volatile value new.
    Returns (url, body, names of what changed)."""
    volatile = {n.lower() for n in c.volatile}
    changed: list[str] = []
    parts = urlsplit(req.url)
    pairs = []
    for piece in parts.query.split("&") if parts.query else []:
        k, sep, v = piece.partition("=")
        name = unquote_plus(k).lower()
        if name in volatile:
            value = unquote_plus(v)
            data = _json(value) if json_leaves(value) is not None else None
            if data is not None:  # a JSON value: its client-made leaves change
                new = json.dumps(_mutate_json(data, None, req.ts, rng), separators=(",", ":"))
            else:
                new = new_value(value, req.ts, rng)
            if new != value:
                changed.append(name)
                v = quote(new, safe="")
        pairs.append(f"{k}{sep}{v}")
    url = urlunsplit(parts._replace(query="&".join(pairs)))
    body = req.body
    ctype = req.content_type.lower()
    if body and volatile:
        if "json" in ctype or ctype.startswith("text/plain"):
            data = _json(body.decode("utf-8", "replace"))
            if data is not None:
                new_data = _mutate_json(data, volatile, req.ts, rng)
                if new_data != data:
                    changed.append("(body)")
                    body = json.dumps(new_data, separators=(",", ":")).encode()
        elif "x-www-form-urlencoded" in ctype:
            form = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
            new_form = [(k, new_value(v, req.ts, rng) if k.lower() in volatile else v) for k, v in form]
            if new_form != form:
                changed.append("(body)")
                body = urlencode(new_form).encode()
    return url, body, changed


# --------------------------------------------------------------------------- judging


def _prefix(url: str) -> str:
    """The endpoint's urlkey prefix, as fuzzy.read_endpoints names it (pywb's key is surt's)."""
    return surt.surt(url).split("?", 1)[0] + "?"


def identity(key: str, c: Classification | None) -> tuple[str, tuple[Any, ...]]:
    """A lookup key without its volatile values: (path, identifying parameters)."""
    path, _, query = key.partition("?")
    if c is None:
        return path, tuple(sorted(parse_qsl(query, keep_blank_values=True)))
    volatile = {n.lower() for n in c.volatile}
    frag = {n.lower(): {leaf.lower() for leaf in leaves} for n, leaves in c.fragments.items()}
    kept: list[tuple[str, Any]] = []
    for k, v in parse_qsl(query, keep_blank_values=True):
        if k in frag:  # a JSON value is identified by its identifying leaves
            leaves = json_leaves(v) or {}
            kept.append((k, tuple(sorted((n, x) for n, x in leaves.items() if n in frag[k]))))
        elif k not in volatile:
            kept.append((k, v))
    return path, tuple(sorted(kept, key=str))


def judge(req: Captured, res: dict[str, Any], c: Classification | None) -> str:
    cdx = res.get("cdx")
    if not cdx or res.get("status") != 200:
        return "unloadable" if res.get("unchanged_status", 200) != 200 else "unresolved"
    if cdx.get("url") == req.url and cdx.get("timestamp") == req.ts and (
        (cdx.get("method") or "GET").upper() == req.method
    ):
        return "own"
    if req.digest and cdx.get("digest") and cdx["digest"] == req.digest.split(":", 1)[-1]:
        return "own"  # an identical copy
    key, got = res["key"], cdx.get("urlkey", "")
    if key.split("?", 1)[0] != got.split("?", 1)[0]:
        return "cross-path"
    if (cdx.get("method") or "GET").upper() != req.method:
        return "cross-method"
    if identity(key, c) == identity(got, c):
        return "other_capture"
    return "other-params"


# --------------------------------------------------------------------------- running


def check_collection(
    root: Root, cfg: ReplayConfig, collection: Collection, warcs: list[str] | None = None, seed: int = 9
) -> RuleCheck:
    """Run the check for one collection (the requests in `warcs`, default all) against the
    rules replay would use now."""
    from replay.server import prepare

    classes: dict[tuple[str, str], Classification] = {(ep.prefix, ep.method): c for ep, c in analyse(collection)}
    rng = random.Random(seed)
    plan: list[dict[str, Any]] = []
    reqs = captured_requests(collection, warcs)
    for i, req in enumerate(reqs):
        c = classes.get((_prefix(req.url), req.method))
        new_url, new_body, changed = mutate(req, c, rng) if c else (req.url, req.body, [])
        plan.append({
            "id": i, "method": req.method, "url": req.url, "new_url": new_url, "ts": req.ts,
            "content_type": req.content_type, "body": b64encode(req.body).decode(),
            "new_body": b64encode(new_body).decode(), "changed": changed,
        })  # fmt: skip
    result = RuleCheck(collection.name, requests=len(reqs))
    if not plan:
        return result
    config_path, rules_path = prepare(root, cfg, root.state_dir / "rulecheck")
    with tempfile.TemporaryDirectory(prefix="bewaar-rulecheck-") as tmp:
        plan_path, out_path = Path(tmp) / "plan.json", Path(tmp) / "answers.jsonl"
        plan_path.write_text(json.dumps(plan), encoding="utf-8")
        cmd = [
            str(pywb_python()), str(HERE / "pywb_rulecheck.py"), "--root", str(root.path),
            "--config", str(config_path), "--rules", str(rules_path),
            "--collection", collection.name, "--plan", str(plan_path), "--out", str(out_path),
        ]  # fmt: skip
        proc = subprocess.run(cmd, cwd=root.path, capture_output=True, text=True)
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise EnvironmentProblem(f"the rule check could not run pywb: {last}")
        lines = out_path.read_text(encoding="utf-8").splitlines()
    answers = {r["id"]: r for r in (json.loads(x) for x in lines if x.strip())}
    if len(answers) != len(plan):
        raise BewaarError(f"the rule check got {len(answers)} answers for {len(plan)} requests")
    by_endpoint: dict[tuple[str, str], EndpointResult] = {}
    for item, req in zip(plan, reqs, strict=True):
        prefix = _prefix(req.url)
        c = classes.get((prefix, req.method))
        p = urlsplit(req.url)
        ep = by_endpoint.setdefault(
            (prefix, req.method), EndpointResult(f"{p.scheme}://{p.netloc}{p.path}", req.method)
        )
        ep.requests += 1
        ep.changed += bool(item["changed"])
        res = answers[item["id"]]
        verdict = judge(req, res, c)
        if verdict == "own":
            ep.own += 1
        elif verdict == "other_capture":
            ep.other_capture += 1
        elif verdict == "unresolved":
            ep.unresolved += 1
            result.unresolved += 1
        elif verdict == "unloadable":
            ep.unloadable += 1
            result.unloadable += 1
        else:
            ep.wrong += 1
            result.wrong += 1
        if verdict not in ("own", "other_capture") and len(ep.examples) < MAX_EXAMPLES:
            cdx = res.get("cdx") or {}
            ep.examples.append({
                "kind": verdict, "request": item["new_url"], "changed": item["changed"],
                "captured": req.url, "answered": cdx.get("url"),
                "answered_method": (cdx.get("method") or "GET").upper() if cdx else None,
                "answered_at": cdx.get("timestamp"),
            })  # fmt: skip
    result.endpoints = list(by_endpoint.values())
    return result

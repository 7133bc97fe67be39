"""Every shape of fuzzy rule bewaar replays with, checked with pywb's own lookup: a request whose
client-made values changed must find its own record, never a neighbour's.

Each collection holds the request and neighbours that a lookup could cross to: a sub-resource
under the same path, a path that extends the request's (`/3` and `/36`), the same path by
another method, and other identifying values that start alike (`page=1`, `page=10`). The
neighbours are captured so that they sort *before* the request's own record in the index,
which is what pywb's prefix lookup would serve first. The check itself (replay/rulecheck.py)
runs pywb's warcserver in pywb's environment.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bewaar.config import ReplayConfig
from replay.fuzzy import learn_rules
from replay.rulecheck import RuleCheck, check_collection
from tests.replay.helpers import Ex, clock, write_collection

SITE = "https://social.example"


def check(tmp_path: Path, exchanges: list[Ex]) -> RuleCheck:
    root, coll = write_collection(tmp_path / "root", "c", exchanges)
    return check_collection(root, ReplayConfig(), coll)


def endpoint(res: RuleCheck, url: str, method: str = "GET") -> Any:
    return next(e for e in res.endpoints if e.endpoint == url and e.method == method)


def assert_all_own(res: RuleCheck, *changed: tuple[str, str]) -> None:
    bad = [(e.method, e.endpoint, e.examples) for e in res.endpoints if e.wrong or e.unresolved]
    assert not bad, bad
    assert res.wrong == res.unresolved == 0
    for method, url in changed:  # these requests really were looked up fuzzily
        e = endpoint(res, url, method)
        assert e.changed == e.requests > 0 and e.own == e.requests, e


def test_a_resource_and_its_sub_resource_both_with_cache_busters(tmp_path: Path) -> None:
    # nothing but the path identifies /api/status/3: its rule is the "()" shape
    res = check(tmp_path, [
        Ex(f"{SITE}/api/status/3/replies?page=1&_={clock(1)}", {"replies": ["r1"]}, at=1),
        Ex(f"{SITE}/api/status/36?_={clock(2)}", {"id": 36}, at=2),
        Ex(f"{SITE}/api/status/3?_={clock(3)}", {"id": 3}, at=3),
        Ex(f"{SITE}/api/items/42?_={clock(4)}", {"item": 42}, at=4),
        Ex(f"{SITE}/api/items?_={clock(5)}", {"items": [42]}, at=5),
        Ex(f"{SITE}/api/tag-cloud?_={clock(6)}", {"cloud": 1}, at=6),
        Ex(f"{SITE}/api/tag?_={clock(7)}", {"tag": 1}, at=7),
    ])  # fmt: skip
    assert_all_own(res, ("GET", f"{SITE}/api/status/3"), ("GET", f"{SITE}/api/status/3/replies"),
                   ("GET", f"{SITE}/api/items"), ("GET", f"{SITE}/api/tag"))  # fmt: skip


def test_post_and_get_on_one_path_and_a_post_on_a_longer_one(tmp_path: Path) -> None:
    res = check(tmp_path, [
        Ex(f"{SITE}/api/stats?_={clock(1)}", {"views": 1}, at=1),
        Ex(f"{SITE}/api/stats/daily", {"daily": 1}, "POST", {"nonce": "q8x1z7w0pl", "client_ts": int(clock(2))}, at=2),
        Ex(f"{SITE}/api/stats", {"counted": True}, "POST", {"nonce": "m3k9a2b7cx", "client_ts": int(clock(3))}, at=3),
    ])  # fmt: skip
    assert_all_own(res, ("POST", f"{SITE}/api/stats"), ("GET", f"{SITE}/api/stats"),
                   ("POST", f"{SITE}/api/stats/daily"))  # fmt: skip


def test_strict_rule_with_a_served_cursor_and_a_post_carrying_it(tmp_path: Path) -> None:
    # the cursor identifies (a strict regex filter); a POST with the same cursor must not answer
    res = check(tmp_path, [
        Ex(f"{SITE}/api/feed/more?cursor=c0ffee&_={clock(1)}", {"more": 1}, at=1),
        Ex(f"{SITE}/api/feed", {"posted": 1}, "POST", {"cursor": "c0ffee", "nonce": "z9y8x7w6v5"}, at=2),
        Ex(f"{SITE}/api/feed?cursor=c0ffee&_={clock(3)}", {"feed": 1}, at=3),
    ])  # fmt: skip
    assert_all_own(res, ("GET", f"{SITE}/api/feed"), ("POST", f"{SITE}/api/feed"))


def test_loose_rule_keeps_what_ends_a_value(tmp_path: Path) -> None:
    # q has a '+', which a regex filter cannot hold: the loose ("contains") variant; page=1 is
    # a prefix of page=10, which is captured first and so sorts first
    res = check(tmp_path, [
        Ex(f"{SITE}/api/search?q=open+data&page=10&_={clock(1)}", {"page": 10}, at=1),
        Ex(f"{SITE}/api/search?q=open+data&page=1&_={clock(2)}", {"page": 1}, at=2),
        Ex(f"{SITE}/api/search?q=open+data&page=2&_={clock(3)}", {"page": 2}, at=3),
    ])  # fmt: skip
    assert_all_own(res, ("GET", f"{SITE}/api/search"))


def test_absent_parameter_guard(tmp_path: Path) -> None:
    # the first page has no page parameter (the absent-guard variant), later pages have one
    res = check(tmp_path, [
        Ex(f"{SITE}/api/list/archive?_={clock(1)}", {"archive": 1}, at=1),
        Ex(f"{SITE}/api/list?page=2&_={clock(2)}", {"page": 2}, at=2),
        Ex(f"{SITE}/api/list", {"posted": 1}, "POST", {"nonce": "p0o9i8u7y6"}, at=3),
        Ex(f"{SITE}/api/list?_={clock(4)}", {"page": 1}, at=4),
    ])  # fmt: skip
    assert_all_own(res, ("GET", f"{SITE}/api/list"), ("POST", f"{SITE}/api/list"))


def test_json_valued_parameter_judged_by_its_leaves(tmp_path: Path) -> None:
    # a client clock inside the JSON, identifying leaves beside it (page 1 and page 10)
    def gql(page: int, t: float) -> str:
        return f'{SITE}/i/api/graphql/Q1/Timeline?variables=%7B%22page%22%3A{page}%2C%22ts%22%3A{clock(t)}%7D'

    res = check(tmp_path, [
        Ex(gql(10, 1), {"page": 10}, at=1),
        Ex(gql(1, 2), {"page": 1}, at=2),
        Ex(gql(2, 3), {"page": 2}, at=3),
        Ex(f"{SITE}/i/api/graphql/Q1/Timeline/count?variables=%7B%22ts%22%3A{clock(4)}%7D", {"n": 3}, at=4),
    ])  # fmt: skip
    assert_all_own(res, ("GET", f"{SITE}/i/api/graphql/Q1/Timeline"))


def test_post_body_and_its_url_parameters_both_identify(tmp_path: Path) -> None:
    # GraphQL-style: the operation is in the URL, the body holds only client-made values
    res = check(tmp_path, [
        Ex(f"{SITE}/graphql?op=UserB", {"op": "B"}, "POST", {"nonce": "a1s2d3f4g5", "client_ts": int(clock(1))}, at=1),
        Ex(f"{SITE}/graphql?op=UserA", {"op": "A"}, "POST", {"nonce": "h6j7k8l9z0", "client_ts": int(clock(2))}, at=2),
    ])  # fmt: skip
    assert_all_own(res, ("POST", f"{SITE}/graphql"))


def test_every_learned_rule_pins_its_path_and_method(tmp_path: Path) -> None:
    root, coll = write_collection(tmp_path / "root", "c", [
        Ex(f"{SITE}/api/status/3?_={clock(1)}", {"id": 3}, at=1),
        Ex(f"{SITE}/api/stats", {"n": 1}, "POST", {"nonce": "m3k9a2b7cx"}, at=2),
        Ex(f"{SITE}/api/feed?cursor=c0ffee&_={clock(3)}", {"feed": 1}, at=3),
    ])  # fmt: skip
    rules = learn_rules(coll)
    assert len(rules) >= 3
    for rule in rules:
        prefix = rule["url_prefix"]
        regexes = [f.format("")[len("~urlkey:"):] for f in rule["fuzzy_lookup"]["filter"]
                   if f.startswith("~urlkey:") and "{0}" not in f]  # fmt: skip
        path = prefix[:-1]
        post = "__wb_method=post&" if prefix.endswith("stats?") else ""
        own, longer, sub = prefix + post + "x=1", path + "s?" + post + "x=1", path + "/sub?" + post + "x=1"
        assert all(re.match(rx, own) for rx in regexes), (rule, own)
        assert not all(re.match(rx, k) for rx in regexes for k in (longer,)), (rule, longer)
        assert not all(re.match(rx, k) for rx in regexes for k in (sub,)), (rule, sub)
        method = [f for f in rule["fuzzy_lookup"]["filter"] if "__wb_method=" in f]
        assert method, rule


def test_pywb_defaults_and_url_normalize_stay_on_the_path(tmp_path: Path, monkeypatch: Any) -> None:
    """Without learned rules only bewaar's rules.yaml (url_normalize) and pywb's defaults
    answer: pywb's catch-all keeps the path by its own check; its "()" rules for named sites
    (here Instagram) are pinned by replay/pywb_rules.py."""
    import replay.server

    monkeypatch.setattr(replay.server, "all_rules", lambda *a, **k: [])
    ig = "https://www.instagram.com"
    res = check(tmp_path, [
        Ex(f"{ig}/api/v1/feed/user/1/reels/?count=12&_={clock(1)}", {"reels": 1}, at=1),
        Ex(f"{ig}/api/v1/feed/user/1/?count=12&_={clock(2)}", {"feed": 1}, at=2),
        Ex(f"{SITE}/api/items/42?t={clock(3)}", {"item": 42}, at=3),
        Ex(f"{SITE}/api/items?t={clock(4)}", {"items": 1}, at=4),
        Ex(f"{SITE}/api/tag-cloud?_={clock(5)}", {"cloud": 1}, at=5),
        Ex(f"{SITE}/api/tag?_={clock(6)}", {"tag": 1}, at=6),
    ])  # fmt: skip
    assert res.wrong == 0, [(e.endpoint, e.examples) for e in res.endpoints if e.wrong]
    ig_feed = endpoint(res, f"{ig}/api/v1/feed/user/1/")
    assert ig_feed.changed and ig_feed.own == 1  # found, on its own path
    assert endpoint(res, f"{SITE}/api/items").own == 1  # bewaar's url_normalize (t=) at work

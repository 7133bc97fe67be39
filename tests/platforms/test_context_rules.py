"""The rules of crawler/context.py on plain data (no browser): which links a back-fill follows
within its budget and which it leaves (with why), out-of-scope matching, recipients."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bewaar.config import Seed
from bewaar.model import PageKind, PageRequest
from crawler.context import AccountContext, AccountOptions, out_of_scope, recipient_of
from crawler.job import CrawlHooks, Target
from crawler.platforms import get_adapter

BASE = "https://social.example"


@dataclass
class Job:
    hooks: CrawlHooks
    messages: list[str] = field(default_factory=list)

    sets: dict[str, set[str]] = field(default_factory=dict)

    def note(self, msg: str) -> None:
        self.messages.append(msg)

    # a run's shared sets, as CrawlJob keeps them without Redis
    def add_to_set(self, name: str, *members: str) -> set[str]:
        seen = self.sets.setdefault(name, set())
        new = set(members) - seen
        seen.update(new)
        return new

    def set_members(self, name: str) -> set[str]:
        return set(self.sets.get(name, set()))

    def set_size(self, name: str) -> int:
        return len(self.sets.get(name, ()))


@dataclass
class Cap:
    post_links: list[str]
    url: str = BASE + "/@minbzk"
    objects: list[dict[str, Any]] = field(default_factory=list)
    behavior: Any = None
    not_followed: dict[str, str] = field(default_factory=dict)
    backfill: dict[str, Any] = field(default_factory=dict)


def _setup(opts: AccountOptions, known: list[tuple[str, str]]) -> tuple[AccountContext, Target]:
    adapter = get_adapter("mastodon", BASE)
    job = Job(CrawlHooks(known_posts=lambda account: known))
    target = Target(0, BASE + "/@minbzk", "prefix", 1, "mastodon:minbzk@social.example",
                    platform="mastodon", handle="@minbzk@social.example", max_posts=2, opts=opts)  # fmt: skip
    return AccountContext(job, {0: adapter}), target


def test_backfill_follows_unknown_posts_beyond_max_posts_and_skips_known_ones() -> None:
    links = [f"{BASE}/@minbzk/{i}" for i in range(10, 0, -1)]
    ctx, target = _setup(AccountOptions(since="2020-01-01", backfill_seconds=600), [("5", links[5]), ("4", links[6])])
    cap = Cap(links)
    reqs = ctx.follow(target, cap, PageRequest(0, cap.url, 0, PageKind.PROFILE))
    followed = [r.url for r in reqs]
    assert followed == [u for u in links if u not in (links[5], links[6])]
    assert cap.not_followed == {links[5]: "captured by an earlier crawl (back-fill skips it)",
                                links[6]: "captured by an earlier crawl (back-fill skips it)"}  # fmt: skip
    assert cap.backfill["since"] == "2020-01-01" and cap.backfill["reached"] is False


def test_backfill_stops_following_when_its_budget_is_used() -> None:
    links = [f"{BASE}/@minbzk/{i}" for i in range(5, 0, -1)]
    ctx, target = _setup(AccountOptions(since="2020-01-01", backfill_seconds=0), [])
    cap = Cap(links)
    reqs = ctx.follow(target, cap, PageRequest(0, cap.url, 0, PageKind.PROFILE))
    assert [r.url for r in reqs] == links[:2]  # max_posts
    assert set(cap.not_followed.values()) == {"back-fill time budget used up"}


def test_without_backfill_max_posts_is_recorded_as_the_reason() -> None:
    links = [f"{BASE}/@minbzk/{i}" for i in range(4, 0, -1)]
    ctx, target = _setup(AccountOptions(), [])
    cap = Cap(links)
    reqs = ctx.follow(target, cap, PageRequest(0, cap.url, 0, PageKind.PROFILE))
    assert len(reqs) == 2 and cap.not_followed == {u: "max_posts 2 reached" for u in links[2:]}
    assert ctx.hints(target, PageKind.PROFILE) == {}  # no back-fill: the usual scrolling limits


def test_out_of_scope_rules() -> None:
    rules = AccountOptions.from_seed(Seed(
        platform="x", handle="a", account_type="hybrid",
        out_of_scope=[{"hashtag": "#Campagne"}, {"keyword": "partij congres"},
                      {"from": "2025-09-01", "to": "2025-10-29"}])).rules  # fmt: skip
    post = {"hashtags": ["campagne"], "text": "x"}
    assert out_of_scope(post, rules) == {"rule": "hashtag:Campagne", "matched": "#campagne"}
    assert out_of_scope({"text": "Naar het Partij Congres!"}, rules)["rule"] == "keyword:partij congres"
    assert out_of_scope({"text": "partij congressen"}, rules) is None  # whole words only
    assert out_of_scope({"published_at": "2025-10-29T23:00:00Z"}, rules)["rule"] == "date:2025-09-01..2025-10-29"
    assert out_of_scope({"published_at": "2025-10-30T00:00:00Z", "text": "werk"}, rules) is None


def test_recipient_of_replies_and_direct_mentions() -> None:
    assert recipient_of({"reply_to": {"author": "anna"}, "mentions": [{"handle": "anna", "name": "Anna"}]}) == {
        "handle": "anna", "name": "Anna"}  # fmt: skip
    assert recipient_of({"text": "@gemeente_x dank!", "mentions": [{"handle": "gemeente_x", "id": "7"}]}) == {
        "handle": "gemeente_x", "id": "7"}  # fmt: skip
    assert recipient_of({"text": "Dank aan @gemeente_x"}) is None  # a mention, not addressed

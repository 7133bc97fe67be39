"""An account's wider context: its replies elsewhere, what it received, stories, follow lists,
which posts are government information, what was seen but not captured, and back-fill.

The spider stays generic: it asks this module which extra pages an account has (`start_pages`),
which links of a captured page to follow and which not (`follow`), what an adapter's page
yields as links (`links_for`), and it hands every extracted object to `annotate` (account type,
source, recipient, out-of-scope rules, story expiry, follow-list bound). The adapters say where
a platform keeps these pages (crawler/platforms/base.py).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bewaar.config import Seed
from bewaar.model import PageKind, PageRequest

MAX_RECEIVED = 100  # posts followed from mention pages when the seed has no max_posts
MAX_STORY_ITEMS = 100  # story items followed per account and crawl
MAX_CONTEXT_PAGES = 200  # thread-context pages (posts replied to) per account and crawl
BACKFILL_MAX_SCROLLS = 5000  # scrolling for a back-fill ends at `since` or at its time budget


@dataclass
class AccountOptions:
    """The seed options of issue 16, as plain data (a Target travels in crawl reports)."""

    account_type: str = "corporate"
    rules: list[dict[str, Any]] = field(default_factory=list)  # {name, hashtag|keyword|from,to}
    with_replies: bool = True
    received: bool = False
    stories: bool = True
    follow_lists: int = 0
    since: str | None = None  # YYYY-MM-DD
    backfill_seconds: int = 900
    backfill_from: str | None = None  # the oldest day an earlier back-fill reached

    @classmethod
    def from_seed(cls, seed: Seed) -> AccountOptions:
        rules = []
        for r in seed.out_of_scope:
            rules.append({
                "name": r.name, "hashtag": r.hashtag, "keyword": r.keyword,
                "from": r.date_from.isoformat() if r.date_from else None,
                "to": r.date_to.isoformat() if r.date_to else None,
            })  # fmt: skip
        return cls(
            account_type=seed.account_type,
            rules=rules,
            with_replies=seed.with_replies,
            received=seed.received,
            stories=seed.stories,
            follow_lists=seed.follow_lists,
            since=seed.since.isoformat() if seed.since else None,
            backfill_seconds=seed.backfill_seconds,
        )


# --------------------------------------------------------------------------- out of scope


def out_of_scope(obj: dict[str, Any], rules: list[dict[str, Any]]) -> dict[str, str] | None:
    """The first rule a post matches, as {rule, matched}; None when it is in scope."""
    for r in rules:
        if r.get("hashtag"):
            want = r["hashtag"].lower()
            for tag in obj.get("hashtags") or []:
                if tag.lower() == want:
                    return {"rule": r["name"], "matched": f"#{tag}"}
        elif r.get("keyword"):
            rx = re.compile(r"(?<!\w)" + re.escape(r["keyword"]) + r"(?!\w)", re.IGNORECASE)
            for text in (obj.get("title"), obj.get("text")):
                m = rx.search(text or "")
                if m:
                    return {"rule": r["name"], "matched": m.group(0)}
        else:
            day = (obj.get("published_at") or "")[:10]
            if day and (not r.get("from") or day >= r["from"]) and (not r.get("to") or day <= r["to"]):
                return {"rule": r["name"], "matched": day}
    return None


# --------------------------------------------------------------------------- objects


def _is_own(adapter: Any, obj: dict[str, Any], handle: str) -> bool:
    author = (obj.get("author") or {}).get("handle")
    return not author or not handle or adapter.same_handle(author, handle)


def recipient_of(obj: dict[str, Any]) -> dict[str, Any] | None:
    """Whom a post addresses: the author of the post it replies to, or the account a post
    opens with (`@name …`, a direct mention)."""
    reply_to = obj.get("reply_to") or {}
    mentions = obj.get("mentions") or []
    if reply_to.get("author"):
        want = reply_to["author"].lower().lstrip("@")
        for m in mentions:
            if (m.get("handle") or "").lower() == want:
                return dict(m)
        return {"handle": reply_to["author"]}
    text = (obj.get("text") or "").lstrip()
    m = re.match(r"@([\w.]+(?:@[\w.-]+)?)", text)
    if m:
        name = m.group(1).lower().rstrip(".")
        for ref in mentions:
            h = (ref.get("handle") or "").lower()
            if h == name or h.split("@")[0] == name.split("@")[0]:
                return dict(ref)
        return {"handle": m.group(1).rstrip(".")}
    return None


def annotate(
    objects: list[dict[str, Any]],
    adapter: Any,
    handle: str,
    kind: str,
    opts: AccountOptions,
    first_seen: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """What the seed says about the objects of one page, added to them (then validated
    again): the account type, `source: browser`, the recipient of replies and direct
    mentions, the out-of-scope rule a post of the account matches, a story's expiry where
    the page gave none, and the follow list cut to `follow_lists` with each relation's
    first sighting."""
    from bewaar.objects import iso_utc, validate_object

    out = []
    for obj in objects:
        obj = dict(obj)
        obj["account_type"] = opts.account_type
        obj["source"] = obj.get("source") or "browser"
        if obj.get("type") == "post":
            if not obj.get("recipient"):
                obj["recipient"] = recipient_of(obj)
            if opts.rules and _is_own(adapter, obj, handle):
                obj["out_of_scope"] = out_of_scope(obj, opts.rules)
            if kind == str(PageKind.STORY) and _is_own(adapter, obj, handle):
                obj["story"] = True
                if not obj.get("expires_at") and obj.get("published_at"):
                    start = datetime.fromisoformat(obj["published_at"].replace("Z", "+00:00"))
                    obj["expires_at"] = iso_utc(
                        (start + timedelta(seconds=adapter.story_lifetime)).isoformat()
                    )
        elif obj.get("type") == "profile" and obj.get("relations"):
            rels = obj["relations"][: opts.follow_lists] if opts.follow_lists else []
            seen = first_seen or {}
            obj["relations"] = [
                {**r, "first_seen": r.get("first_seen")
                 or seen.get(relation_key(r)) or obj.get("captured_at")}
                for r in rels
            ]  # fmt: skip
        out.append(validate_object(obj).to_dict())
    return out


def relation_key(r: dict[str, Any]) -> str:
    """"follower:handle" — how the catalog keys a relation."""
    acct = r.get("account") or {}
    key = acct.get("handle") or acct.get("url") or acct.get("id") or (
        f"name:{acct['name']}" if acct.get("name") else ""
    )
    return f"{r.get('type')}:{key.lower()}"


def account_refs(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """Every account reference of an object (author, mentions, recipient, relations)."""
    refs = [obj.get("author"), obj.get("recipient"), *(obj.get("mentions") or [])]
    refs += [r.get("account") for r in obj.get("relations") or []]
    return [r for r in refs if isinstance(r, dict)]


def wanted_photos(objects: list[dict[str, Any]]) -> list[str]:
    """Profile photos the objects name: the page fetches the ones it did not load."""
    return [r["avatar"] for o in objects for r in account_refs(o) if r.get("avatar")]


def link_photos(objects: list[dict[str, Any]], exchanges: list[Any]) -> None:
    """Each account reference's photo gets the payload digest of its captured record (what
    the WARC stores as WARC-Payload-Digest for that URL), so the object names the record."""
    from crawler.warc_writer import sha256_digest

    digests: dict[str, str] = {}
    for ex in exchanges:
        if ex.status == 200 and ex.body and ex.url not in digests:
            digests[ex.url] = sha256_digest(ex.body)
    if not digests:
        return
    for obj in objects:
        if obj.get("avatar") and obj["avatar"] in digests:
            obj["avatar_digest"] = digests[obj["avatar"]]
        for ref in account_refs(obj):
            if ref.get("avatar") in digests:
                ref["avatar_digest"] = digests[ref["avatar"]]


# --------------------------------------------------------------------------- pages


def links_for(adapter: Any, snap: Any, handle: str, kind: str) -> list[str] | None:
    """The links an account page hands on: post links of a profile or timeline view, posts
    by others on a mention page, story items on a stories page."""
    if kind in (PageKind.PROFILE, PageKind.TIMELINE):
        return adapter.post_links(snap, handle)
    if kind == PageKind.RECEIVED:
        return adapter.received_links(snap, handle)
    if kind == PageKind.STORY:
        return adapter.story_links(snap, handle)
    return None


class AccountContext:
    """Per run: which extra pages each account gets, and which links are followed.

    What the run queued and counted lives in the job's sets (`job.add_to_set`: in Redis when
    several processes crawl the run, so a link one worker queued another does not queue again);
    only read-only caches are kept here."""

    def __init__(self, job: Any, adapters: dict[int, Any]) -> None:
        self.job = job
        self.adapters = adapters
        self.started = time.monotonic()
        self._known: dict[int, set[str]] = {}
        self.relations: dict[int, dict[str, str]] = {}  # target -> known_relations, cached

    def _claim(self, name: str, link: str) -> bool:
        """True if LINK is new to the run's set NAME (and now in it)."""
        return bool(self.job.add_to_set(name, link))

    def _has_login(self, target: Any) -> bool:
        return target.login_state is not None

    def start_pages(self, target: Any) -> list[tuple[str, PageKind]]:
        """Extra account pages at depth 0, after the profile and its tabs."""
        ad = self.adapters.get(target.index)
        if ad is None or target.platform == "generic" or target.depth < 1:
            return []  # depth 0: the profile (and its tabs) only
        opts: AccountOptions = target.opts
        out: list[tuple[str, PageKind]] = []
        if opts.with_replies:
            out += [(u, PageKind.TIMELINE) for u in ad.replies_urls(target.handle)]
        if opts.since and opts.backfill_from and opts.backfill_from > opts.since:
            url = ad.backfill_url(target.handle, opts.backfill_from)
            if url:  # resume where the last back-fill stopped
                out.append((url, PageKind.TIMELINE))
        for wanted, urls, needs, what in (
            (opts.received, ad.received_urls(target.handle), ad.received_needs_login,
             "posts mentioning the account"),
            (opts.stories, ad.story_urls(target.handle), ad.stories_need_login, "stories"),
            (opts.follow_lists > 0, list(ad.follow_urls(target.handle).values()),
             ad.follow_needs_login, "follower lists"),
        ):  # fmt: skip
            if not wanted or not urls:
                continue
            if needs and not self._has_login(target):
                self.job.note(
                    f"{target.account}: {ad.platform} shows {what} only to a logged-in "
                    "visitor; not captured (give the seed a login_state)"
                )
                continue
            kind = {"stories": PageKind.STORY, "follower lists": PageKind.FOLLOWS}.get(
                what, PageKind.RECEIVED
            )
            out += [(u, kind) for u in urls]
        return out

    def backfilling(self, target: Any) -> bool:
        return bool(target.opts.since)

    def budget_left(self, target: Any) -> float:
        return target.opts.backfill_seconds - (time.monotonic() - self.started)

    def known(self, target: Any) -> set[str]:
        """Post ids and URLs earlier crawls captured (skipped beyond max_posts in a back-fill)."""
        if target.index not in self._known:
            found: set[str] = set()
            known_posts = self.job.hooks.known_posts
            if known_posts is not None:
                try:
                    for post_id, url in known_posts(target.account):
                        found.update((post_id, url))
                except Exception as e:  # noqa: BLE001 - a back-fill without it revisits posts
                    self.job.note(f"could not read earlier posts: {e}")
            self._known[target.index] = found
        return self._known[target.index]

    def _used(self, target: Any, budget: str) -> int:
        return self.job.set_size(f"budget:{target.index}:{budget}")

    def _take(self, target: Any, budget: str, limit: int | None, link: str) -> bool:
        if limit is not None and self._used(target, budget) >= limit:
            return False
        self.job.add_to_set(f"budget:{target.index}:{budget}", link)
        return True

    def follow(self, target: Any, cap: Any, req: PageRequest) -> list[PageRequest]:
        """The pages a capture leads to; links left out go to cap.not_followed with why."""
        kind = req.kind
        depth = req.depth + 1
        out: list[PageRequest] = []
        not_followed: dict[str, str] = {}
        posts = f"posts:{target.index}"  # the account's post pages queued by the run
        if kind in (PageKind.PROFILE, PageKind.TIMELINE) and req.depth == 0:
            budget = "posts" if kind is PageKind.PROFILE else "replies"
            queued_posts = self.job.set_members(posts)
            for link in dict.fromkeys(cap.post_links or []):
                if link in queued_posts:
                    continue
                limit = target.max_posts
                full = limit is not None and self._used(target, budget) >= limit
                if full and self.backfilling(target):
                    post_id = _post_id(self.adapters[target.index], link)
                    if link in self.known(target) or post_id in self.known(target):
                        not_followed[link] = "captured by an earlier crawl (back-fill skips it)"
                        continue
                    if self.budget_left(target) <= 0:
                        not_followed[link] = "back-fill time budget used up"
                        continue
                elif full:
                    not_followed[link] = f"max_posts {limit} reached"
                    continue
                if not self._claim(posts, link):
                    continue  # another page (or worker) queued it
                queued_posts.add(link)
                self._take(target, budget, None, link)
                out.append(PageRequest(target.index, link, depth, PageKind.POST, scoped=True))
        elif kind in (PageKind.POST, PageKind.RECHECK):
            # at the reply's own depth: the thread's context is not a step further out
            out += self._context_of(target, cap, req.depth, self.job.set_members(posts))
        elif kind is PageKind.RECEIVED and req.depth == 0:
            queued_posts = self.job.set_members(posts)
            for link in dict.fromkeys(cap.post_links or []):
                if link in queued_posts or link in self.job.set_members("ctx"):
                    continue
                limit = target.max_posts if target.max_posts is not None else MAX_RECEIVED
                if not self._take(target, "received", limit, link):
                    not_followed[link] = f"max_posts {limit} reached"
                    continue
                if self._claim("ctx", link):
                    out.append(PageRequest(target.index, link, depth, PageKind.RECEIVED, scoped=True))
        elif kind is PageKind.STORY and req.depth == 0:
            for link in dict.fromkeys(cap.post_links or []):
                if link == cap.url or link in self.job.set_members("ctx"):
                    continue
                if not self._take(target, "stories", MAX_STORY_ITEMS, link):
                    not_followed[link] = f"more than {MAX_STORY_ITEMS} story items"
                    continue
                if self._claim("ctx", link):
                    out.append(PageRequest(target.index, link, depth, PageKind.STORY, scoped=True))
        cap.not_followed = not_followed
        if self.backfilling(target) and kind in (PageKind.PROFILE, PageKind.TIMELINE):
            cap.backfill = self.backfill_info(target, cap)
        return out

    def _context_of(
        self, target: Any, cap: Any, depth: int, queued_posts: set[str]
    ) -> list[PageRequest]:
        """The post one of the account's replies answers (depth 1 of the thread), on its own
        page: a reply's page may show it too, but only its own page is the capture of it."""
        ad = self.adapters.get(target.index)
        if ad is None or not target.opts.with_replies:
            return []
        out = []
        for obj in cap.objects:
            parent = obj.get("reply_to") or {}
            if obj.get("type") != "post" or not parent or not _is_own(ad, obj, target.handle):
                continue
            url = parent.get("url") or (
                ad.post_url(parent["author"], parent["id"]) if parent.get("author") and parent.get("id") else None
            )
            url = (ad.canonical_post_url(url) or url) if url else None
            if not url or url in queued_posts or url in self.job.set_members("ctx"):
                continue
            if not self._take(target, "context", MAX_CONTEXT_PAGES, url):
                break
            if not self._claim("ctx", url):
                continue
            out.append(PageRequest(target.index, url, depth, PageKind.CONTEXT, scoped=True))
        return out

    def backfill_info(self, target: Any, cap: Any) -> dict[str, Any]:
        """How far back this page reached: its oldest post, and why scrolling stopped."""
        days = sorted(
            o["published_at"] for o in cap.objects if o.get("type") == "post" and o.get("published_at")
        )
        stopped = cap.behavior.stopped if cap.behavior else ""
        return {
            "since": target.opts.since,
            "budget_seconds": target.opts.backfill_seconds,
            "resumed_from": target.opts.backfill_from,
            "oldest": days[0] if days else None,
            "reached": bool(days) and days[0][:10] < (target.opts.since or ""),
            "stopped": stopped,
        }

    def hints(self, target: Any, kind: PageKind) -> dict[str, Any]:
        """Behaviour hints for a back-fill: scroll until a post older than `since` shows (or the
        time budget is used)."""
        if not self.backfilling(target) or kind not in (PageKind.PROFILE, PageKind.TIMELINE):
            return {}
        ad = self.adapters.get(target.index)
        return {
            "older_than": target.opts.since + "T00:00:00Z",
            "time_selector": ad.time_selector if ad is not None else "time[datetime]",
            "scroll_seconds": max(1.0, self.budget_left(target)),
            "max_scrolls": BACKFILL_MAX_SCROLLS,
        }

    def count(self, target: Any, cap: Any) -> None:
        """Per-account counters of the summary beyond pages, posts, replies and media: each
        post or relation once, however many pages showed it (job.distinct_seen)."""
        ad = self.adapters.get(target.index)
        seen: dict[str, set[str]] = {}
        for obj in cap.objects:
            if obj.get("type") == "profile":
                for r in obj.get("relations") or []:
                    seen.setdefault("relations", set()).add(relation_key(r))
                continue
            if obj.get("type") != "post":
                continue
            own = ad is None or _is_own(ad, obj, target.handle)
            key = str(obj.get("id"))
            if cap.target.kind is PageKind.RECEIVED and not own:
                seen.setdefault("received", set()).add(key)
            elif obj.get("story"):
                seen.setdefault("stories", set()).add(key)
            elif own and obj.get("reply_to"):
                seen.setdefault("own_replies", set()).add(key)
            if obj.get("out_of_scope"):
                seen.setdefault("out_of_scope", set()).add(key)
        for name, keys in seen.items():
            self.job.distinct_seen(target.account, target.index, name, sorted(keys))


def _post_id(adapter: Any, url: str) -> str | None:
    try:
        return adapter.post_id(url)
    except Exception:  # noqa: BLE001
        return None


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

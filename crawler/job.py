"""The state of one crawl, shared by the spider, the pipeline and the progress extension.

Counters change only through the `CrawlJob` methods below (one place decides what a page
counts as), and are mirrored into Scrapy's stats collector under `bewaar/`. What the crawler
needs from the rest of bewaar (earlier posts to re-check; what to do with a finished WARC) it
gets as callbacks in `CrawlHooks`, given by the application layer: the crawler imports no
other package.
"""

from __future__ import annotations

import secrets
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bewaar import SOFTWARE
from bewaar.config import RootConfig, Seed, SeedList
from bewaar.model import Collection, Outcome, PageKind, Root
from bewaar.timeutil import compact
from crawler.context import AccountContext, AccountOptions


@dataclass
class Target:
    """A seed made concrete: where to start, what is in scope, which account it belongs to."""

    index: int
    url: str
    scope: str
    depth: int
    account: str  # "platform:handle" for accounts, the host for plain URLs
    platform: str = "generic"
    handle: str = ""
    base_url: str = ""
    max_posts: int | None = None
    replies: bool = True
    context: str = "default"
    login_state: Path | None = None
    extra_prefixes: list[str] = field(default_factory=list)  # where the seed redirected to
    more_urls: list[str] = field(default_factory=list)  # further account pages (e.g. /videos)
    opts: AccountOptions = field(default_factory=AccountOptions)  # crawler/context.py


@dataclass
class AccountStats:
    pages: int = 0
    posts: int = 0
    replies: int = 0
    media: int = 0
    blocked: int = 0
    failed: int = 0
    own_replies: int = 0  # the account's replies in others' threads (crawler/context.py)
    received: int = 0  # posts by others mentioning or tagging it
    stories: int = 0
    relations: int = 0  # followers / following listed
    out_of_scope: int = 0  # posts its seed's rules mark as not government information


# AccountStats counters of distinct keys, kept as sets of the run (see CrawlJob.distinct_seen)
DISTINCT = ("media", "own_replies", "received", "stories", "relations", "out_of_scope")


@dataclass
class CrawlHooks:
    """What the application layer plugs into a crawl.

    known_posts(account) -> [(post id, URL)]: an account's posts seen by earlier crawls and not
      known to be gone, so that the ones not seen again are re-checked.
    warc_finished(path): called in a worker thread the moment a WARC is finished (moved into
      archive/), e.g. to sign it; an exception is reported with `warc_hook_failed` and the
      crawl goes on (the WARC is complete).
    """

    known_posts: Callable[[str], list[tuple[str, str]]] | None = None
    warc_finished: Callable[[Path], None] | None = None
    warc_hook_failed: str = "could not process {name}: {error}"
    # backfill_from(account) -> YYYY-MM-DD: how far back earlier crawls of the account got
    # (a back-fill resumes there); known_relations(account) -> {"follower:handle": first seen}
    backfill_from: Callable[[str], str | None] | None = None
    known_relations: Callable[[str], dict[str, str]] | None = None


def new_crawl_id() -> str:
    return compact() + "-" + secrets.token_hex(2)


class CrawlJob:
    """One run: a crawl of one seed list into one collection under one crawl id.

    A worker holds many at once (a watch's accounts, the runs workers share). Counters live
    in memory for this process and, with a `store` (crawler.runstate.RunStore), in Redis,
    where every process that crawled the run adds to them: `load_totals()` reads the sums
    back before the report is written."""

    def __init__(
        self,
        root: Root,
        seeds: SeedList,
        config: RootConfig,
        seed_file: Path | None = None,
        crawl_id: str | None = None,
    ) -> None:
        self.root = root
        self.seeds = seeds
        self.config = config
        self.seed_file = seed_file
        self.collection: Collection = root.collection(seeds.collection)
        self.crawl_id = crawl_id or new_crawl_id()
        self.store: Any = None  # crawler.runstate.RunStore: the run's state in Redis
        self.adapters: dict[int, Any] = {}  # target index -> platform adapter
        self.files: Any = None  # crawler.warc_writer.WarcSet, once this process writes
        self.account_limit: float | None = None  # seconds for the whole run (watch)
        self.started = time.time()
        self.due = self.started  # when the run was due (the queue orders runs by it)
        self.targets: list[Target] = []
        self.scheduled = 0  # requests the scheduler accepted
        self.finished = 0  # requests that reached a callback or errback
        self.done = 0
        self.failed = 0
        self.blocked = 0
        self.bytes_written = 0
        self.records = 0
        self.failures: list[tuple[str, str]] = []
        self.blocked_pages: list[tuple[str, str]] = []
        self.gone: list[tuple[str, str]] = []  # re-checked posts the platform says are gone
        self.accounts: dict[str, AccountStats] = defaultdict(AccountStats)
        self.outcomes: Counter[str] = Counter()
        self.warcs: list[Path] = []
        self.messages: list[str] = []
        self.page_entries: list[dict[str, Any]] = []
        self.hook_failures = 0  # WARCs the warc_finished hook could not process (e.g. sign)
        self.write_error: str | None = None  # the WARC could not be written: crawl stopped
        self.run_error: str | None = None  # the crawl itself failed (a bug): report it
        self.quiet = False
        self.software = SOFTWARE
        self.user_agent = ""
        self.hooks = CrawlHooks()
        self.stats: Any = None  # Scrapy's stats collector, once the crawl runs
        self.stats_snapshot: dict[str, Any] = {}  # its bewaar/ values when the crawl ended
        self.netguard: Any = None  # crawler.netguard.NetGuard while the crawl runs
        # browser context -> crawler.redact.Redactor, for contexts with a login state
        self.redactors: dict[str, Any] = {}
        self._local_sets: dict[str, set[str]] = {}  # add_to_set without a store
        self._context: AccountContext | None = None

    @property
    def context(self) -> AccountContext:
        """The run's wider-context rules (crawler/context.py): extra account pages, which
        links are followed; what it queued lives in the run's shared sets."""
        if self._context is None or self._context.adapters is not self.adapters:
            self._context = AccountContext(self, self.adapters)  # (adapters set after targets)
        return self._context

    def redact_text(self, text: str) -> str:
        """Text that leaves the crawl (the report) without any login session's secrets."""
        for redactor in self.redactors.values():
            text = redactor.text(text)
        return text

    # -- counting: the only place that decides what a page counts as ----------------------
    def _stat(self, key: str, n: int = 1) -> None:
        if self.stats is not None:
            self.stats.inc_value(f"bewaar/{key}", n)
        self._count(**{f"stat:bewaar/{key}": n})

    def _count(self, **fields: int) -> None:
        if self.store is not None:
            self.store.incr_many(fields)

    def _list(self, name: str, value: Any) -> None:
        if self.store is not None:
            self.store.append(name, value)

    def page_failed(self, account: str, url: str, reason: str) -> None:
        """A page that gave no capture at all (the browser could not load or prepare it)."""
        self.failed += 1
        self.failures.append((url, reason))
        self.accounts[account].failed += 1
        self.outcomes[Outcome.FAILED] += 1
        self._count(**{"failed": 1, f"acct:{account}:failed": 1, "outcome:failed": 1})
        self._list("failures", [url, reason])
        self._stat("pages/failed")

    def page_judged(
        self,
        account: str,
        kind: PageKind,
        outcome: Outcome,
        url: str,
        reason: str,
        will_retry: bool = False,
    ) -> None:
        """A captured page, judged. A blocked page that will be retried is evidence but not
        counted: the retry's outcome is what counts."""
        stats = self.accounts[account]
        self.outcomes[outcome] += 1
        self._count(**{f"outcome:{outcome}": 1})
        self._stat(f"pages/{outcome}")
        if outcome is Outcome.GONE:
            self.gone.append((url, reason))
            self._list("gone", [url, reason])
        elif outcome is Outcome.OK:
            self.done += 1
            stats.pages += 1
            post = int(kind is PageKind.POST)
            stats.posts += post
            self._count(**{"done": 1, f"acct:{account}:pages": 1, f"acct:{account}:posts": post})
        elif outcome is Outcome.BLOCKED:
            if not will_retry:
                self.blocked += 1
                stats.blocked += 1
                self.blocked_pages.append((url, reason))
                self._count(**{"blocked": 1, f"acct:{account}:blocked": 1})
                self._list("blocked", [url, reason])
        else:
            self.failed += 1
            stats.failed += 1
            self.failures.append((url, reason))
            self._count(**{"failed": 1, f"acct:{account}:failed": 1})
            self._list("failures", [url, reason])

    def page_not_stored(self, account: str, was_ok: bool, url: str, reason: str) -> None:
        """A judged page whose records could not be written: it is a failure after all."""
        stats = self.accounts[account]
        if was_ok:
            self.done -= 1
            stats.pages -= 1
            self._count(**{"done": -1, f"acct:{account}:pages": -1})
            self._stat("pages/ok", -1)
        self.failed += 1
        stats.failed += 1
        self.failures.append((url, f"not stored: {reason}"))
        self._count(**{"failed": 1, f"acct:{account}:failed": 1})
        self._list("failures", [url, f"not stored: {reason}"])
        self._stat("pages/not_stored")

    def written(self, records: int, bytes_total: int, page_bytes: int = 0) -> None:
        self.records += records
        self.bytes_written = bytes_total
        self._count(records=records, bytes=page_bytes)
        self._stat("warc/records", records)

    def count_replies(self, account: str, n: int) -> None:
        self.accounts[account].replies += n
        self._count(**{f"acct:{account}:replies": n})

    def media_seen(self, account: str, target: int, keys: list[str]) -> None:
        """Distinct media items of a target, across every process that crawled the run."""
        self.distinct_seen(account, target, "media", keys)

    def distinct_seen(self, account: str, target: int, name: str, keys: list[str]) -> None:
        """Counter NAME of the account's summary (media, stories, relations, ...): each key
        once, however many pages (of however many processes) showed it."""
        self.add_to_set(f"{name}:{target}", *keys)
        setattr(self.accounts[account], name, self.set_size(f"{name}:{target}"))

    # -- what the run has seen and queued (shared by the processes that crawl it) ----------
    def add_to_set(self, name: str, *members: str) -> set[str]:
        """The members that are new to the run's set NAME."""
        if self.store is not None:
            return {m for m in dict.fromkeys(members) if self.store.add(name, m)}
        seen = self._local_sets.setdefault(name, set())
        new = set(members) - seen
        seen.update(new)
        return new

    def set_size(self, name: str) -> int:
        if self.store is not None:
            return self.store.size(name)
        return len(self._local_sets.get(name, ()))

    def set_members(self, name: str) -> set[str]:
        if self.store is not None:
            return self.store.members(name)
        return set(self._local_sets.get(name, set()))

    def message(self, text: str) -> None:
        self.messages.append(text)
        self._list("messages", text)

    def warc_done(self, path: Path) -> None:
        self.warcs.append(path)
        self._list("warcs", path.name)

    def load_totals(self) -> None:
        """The run's totals from Redis: what every process that crawled it counted (a run
        resumed after a kill, or shared by workers), for the report and the summary."""
        if self.store is None:
            return
        n = self.store.counts()
        self.done, self.failed, self.blocked = n.get("done", 0), n.get("failed", 0), n.get("blocked", 0)
        self.records, self.bytes_written = n.get("records", 0), n.get("bytes", 0)
        self.failures = [tuple(x) for x in self.store.items("failures")]
        self.blocked_pages = [tuple(x) for x in self.store.items("blocked")]
        self.gone = [tuple(x) for x in self.store.items("gone")]
        self.messages = list(dict.fromkeys(self.store.items("messages") + self.messages))
        names = list(dict.fromkeys(self.store.items("warcs")))
        self.warcs = [self.collection.archive / name for name in names]
        self.outcomes = Counter({k[8:]: v for k, v in n.items() if k.startswith("outcome:") and v})
        self.stats_snapshot = {k[5:]: v for k, v in sorted(n.items()) if k.startswith("stat:")}
        for key, value in n.items():
            if key.startswith("acct:"):
                account, _, fld = key[5:].rpartition(":")
                if hasattr(AccountStats, fld) and fld not in DISTINCT:
                    setattr(self.accounts[account], fld, value)
        for t in self.targets:
            for name in DISTINCT:
                if size := self.store.size(f"{name}:{t.index}"):
                    setattr(self.accounts[t.account], name, size)
        if n.get("hook_failures"):
            self.hook_failures = n["hook_failures"]

    def add_target(self, seed: Seed, index: int, url: str, **kw: Any) -> Target:
        account = kw.pop("account", None) or urlsplit(url).netloc
        t = Target(index=index, url=url, scope=seed.scope, depth=seed.depth, account=account, **kw)
        self.targets.append(t)
        self.accounts[account]  # noqa: B018 - every account appears in the summary
        return t

    def note(self, message: str) -> None:
        """Something the user should know now and find in the summary."""
        self.message(message)
        if not self.quiet:
            print(f"note: {message}", file=sys.stderr, flush=True)

    @property
    def queued(self) -> int:
        return max(0, self.scheduled - self.finished)

    @property
    def elapsed(self) -> float:
        return time.time() - self.started

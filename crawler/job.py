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
from crawler.context import AccountOptions


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
    def __init__(
        self,
        root: Root,
        seeds: SeedList,
        config: RootConfig,
        seed_file: Path | None = None,
    ) -> None:
        self.root = root
        self.seeds = seeds
        self.config = config
        self.seed_file = seed_file
        self.collection: Collection = root.collection(seeds.collection)
        self.crawl_id = new_crawl_id()
        self.started = time.time()
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

    def redact_text(self, text: str) -> str:
        """Text that leaves the crawl (the report) without any login session's secrets."""
        for redactor in self.redactors.values():
            text = redactor.text(text)
        return text

    # -- counting: the only place that decides what a page counts as ----------------------
    def _stat(self, key: str, n: int = 1) -> None:
        if self.stats is not None:
            self.stats.inc_value(f"bewaar/{key}", n)

    def page_failed(self, account: str, url: str, reason: str) -> None:
        """A page that gave no capture at all (the browser could not load or prepare it)."""
        self.failed += 1
        self.failures.append((url, reason))
        self.accounts[account].failed += 1
        self.outcomes[Outcome.FAILED] += 1
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
        self._stat(f"pages/{outcome}")
        if outcome is Outcome.GONE:
            self.gone.append((url, reason))
        elif outcome is Outcome.OK:
            self.done += 1
            stats.pages += 1
            if kind is PageKind.POST:
                stats.posts += 1
        elif outcome is Outcome.BLOCKED:
            if not will_retry:
                self.blocked += 1
                stats.blocked += 1
                self.blocked_pages.append((url, reason))
        else:
            self.failed += 1
            stats.failed += 1
            self.failures.append((url, reason))

    def page_not_stored(self, account: str, was_ok: bool, url: str, reason: str) -> None:
        """A judged page whose records could not be written: it is a failure after all."""
        stats = self.accounts[account]
        if was_ok:
            self.done -= 1
            stats.pages -= 1
            self._stat("pages/ok", -1)
        self.failed += 1
        stats.failed += 1
        self.failures.append((url, f"not stored: {reason}"))
        self._stat("pages/not_stored")

    def written(self, records: int, bytes_total: int) -> None:
        self.records += records
        self.bytes_written = bytes_total
        self._stat("warc/records", records)

    def add_target(self, seed: Seed, index: int, url: str, **kw: Any) -> Target:
        account = kw.pop("account", None) or urlsplit(url).netloc
        t = Target(index=index, url=url, scope=seed.scope, depth=seed.depth, account=account, **kw)
        self.targets.append(t)
        self.accounts[account]  # noqa: B018 - every account appears in the summary
        return t

    def note(self, message: str) -> None:
        """Something the user should know now and find in the summary."""
        self.messages.append(message)
        if not self.quiet:
            print(f"note: {message}", file=sys.stderr, flush=True)

    @property
    def queued(self) -> int:
        return max(0, self.scheduled - self.finished)

    @property
    def elapsed(self) -> float:
        return time.time() - self.started

"""The state of one crawl, shared by the spider, the pipeline and the progress extension."""

from __future__ import annotations

import secrets
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bewaar import SOFTWARE
from bewaar.config import RootConfig, Seed, SeedList
from bewaar.model import Collection, Root


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


@dataclass
class AccountStats:
    pages: int = 0
    posts: int = 0
    replies: int = 0
    media: int = 0
    blocked: int = 0
    failed: int = 0


def new_crawl_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(2)


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
        self.sign_failures = 0
        self.write_error: str | None = None  # the WARC could not be written: crawl stopped
        self.quiet = False
        self.software = SOFTWARE
        self.user_agent = ""

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

"""Seeds become crawl targets: where to start, what is in scope, which account it is.

`account_name` is the one definition of the account a seed's pages belong to; the catalog,
`bewaar changes` and `bewaar watch` all see accounts under this name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bewaar.config import Seed, SeedList
from bewaar.model import Root
from crawler.context import AccountOptions
from crawler.job import CrawlJob


def _adapter(seeds: SeedList, seed: Seed) -> Any:
    from crawler.platforms import get_adapter

    opts = seeds.platforms.get(seed.platform) if seed.platform else None
    base = seed.base_url or (opts.base_url if opts else None)
    return get_adapter(seed.platform, base)


def account_name(seeds: SeedList, seed: Seed) -> str:
    """"platform:key" for an account seed (e.g. mastodon:minbzk@social.example), the host for
    a URL seed."""
    if seed.url:
        return urlsplit(seed.url).netloc
    return f"{seed.platform}:{_adapter(seeds, seed).account_key(seed.handle or '')}"


def make_targets(job: CrawlJob) -> dict[int, Any]:
    """Seeds become targets; account seeds get their platform adapter (by target index)."""
    adapters: dict[int, Any] = {}
    for i, seed in enumerate(job.seeds.seeds):
        opts = job.seeds.platforms.get(seed.platform) if seed.platform else None
        login = seed.login_state or (opts.login_state if opts else None)
        state = _login_state_path(
            job.root, seed.platform or "generic", login, job.seed_file.parent if job.seed_file else None
        )
        # one browser context per login state (a long-lived worker holds many runs' states)
        context = f"login-{seed.platform}-{_short_hash(str(state))}" if state else "default"
        if state:
            _learn_login_state(job, context, state)
        if seed.url:
            job.add_target(
                seed, i, seed.url, context=context, login_state=state,
                opts=AccountOptions.from_seed(seed),
            )  # fmt: skip
            if seed.platform == "generic":
                from crawler.platforms import get_adapter

                adapters[i] = get_adapter("generic", None)
            continue
        adapter = _adapter(job.seeds, seed)
        handle = seed.handle or ""  # as written: Mastodon's keeps its server
        urls = adapter.account_urls(handle)
        opts = AccountOptions.from_seed(seed)
        if opts.since and job.hooks.backfill_from is not None:
            opts.backfill_from = job.hooks.backfill_from(account_name(job.seeds, seed))
        t = job.add_target(
            seed,
            i,
            urls[0],
            account=account_name(job.seeds, seed),
            platform=seed.platform or "generic",
            handle=handle,
            base_url=adapter.base_for(handle),
            more_urls=urls[1:],
            max_posts=seed.max_posts,
            replies=seed.replies,
            context=context,
            login_state=state,
            opts=opts,
        )
        adapters[t.index] = adapter
    return adapters


def _short_hash(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode()).hexdigest()[:10]


def _login_state_path(
    root: Root, platform: str, ref: str | None, seed_dir: Path | None
) -> Path | None:
    if not ref:
        return None
    from crawler.login_state import resolve_state

    return resolve_state(root.path, platform, ref, relative_to=seed_dir)


def _learn_login_state(job: CrawlJob, context: str, state: Path) -> None:
    """The session's secrets start with what the login state holds (crawler/redact.py)."""
    from crawler.login_state import read_state_file
    from crawler.redact import Redactor

    redactor = job.redactors.setdefault(context, Redactor())
    redactor.learn_state(read_state_file(state))

"""Which discovered links a crawl follows: a Scrapy spider middleware on the spider's output."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from scrapy import Request, Spider

from bewaar.model import PageRequest

log = logging.getLogger(__name__)


def _strip(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.lower(), parts.path, parts.query, ""))


def _prefix(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc.lower(), parts.path, "", ""))


def in_scope(url: str, seed_url: str, scope: str, extra_prefixes: Iterable[str] = ()) -> bool:
    """prefix: the URL starts with the seed URL's path (or where the seed redirected to);
    host: same scheme and host; page: only the seed page itself."""
    if not url.startswith(("http://", "https://")):
        return False
    u = _strip(url)
    if scope == "page":
        return u == _strip(seed_url) or any(u == _strip(p) for p in extra_prefixes)
    if scope == "host":
        hosts = {urlsplit(seed_url).netloc.lower()} | {urlsplit(p).netloc.lower() for p in extra_prefixes}
        return urlsplit(u).netloc in hosts
    prefixes = [_prefix(seed_url), *(_prefix(p) for p in extra_prefixes)]
    return any(u.startswith(p) for p in prefixes)


class ScopeMiddleware:
    """Drops follow-up requests beyond a seed's depth or outside its scope.

    The spider marks each request with `meta["bewaar"]`, a `PageRequest` as a dict; requests
    already judged in scope by a platform adapter carry `scoped`.
    """

    def process_spider_output(
        self, response: Any, result: Iterable[Any], spider: Spider
    ) -> Iterable[Any]:
        for item in result:
            if self._allowed(item, spider):
                yield item

    async def process_spider_output_async(
        self, response: Any, result: AsyncIterator[Any], spider: Spider
    ) -> AsyncIterator[Any]:
        async for item in result:
            if self._allowed(item, spider):
                yield item

    def _allowed(self, item: Any, spider: Spider) -> bool:
        if not isinstance(item, Request):
            return True
        if "bewaar" not in item.meta:
            return True
        req = PageRequest.from_meta(item.meta["bewaar"])
        if req.retry_of:
            return True
        target = spider.job.targets[req.target]
        if req.depth > target.depth:
            return False
        if req.scoped:
            return True
        ok = in_scope(item.url, target.url, target.scope, target.extra_prefixes)
        if not ok:
            log.debug("out of scope: %s", item.url)
        return ok

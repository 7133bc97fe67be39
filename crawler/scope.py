"""Which discovered links a crawl follows: a Scrapy spider middleware on the spider's output."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from scrapy import Request, Spider

from bewaar.model import PageRequest

log = logging.getLogger(__name__)
_DEFAULT_PORTS = {"http": 80, "https": 443}


class Origin(NamedTuple):
    scheme: str
    host: str
    port: int


def _parts(url: str) -> tuple[Origin, str, str] | None:
    """(scheme, host, port), path and query of an http(s) URL; None for anything else or
    anything a browser could read differently (whitespace, backslashes, a bad port)."""
    if any(c in url for c in "\\\t\r\n ") or any(ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    origin = Origin(scheme, parts.hostname.lower().rstrip("."), port or _DEFAULT_PORTS[scheme])
    return origin, parts.path or "/", parts.query


def _under(path: str, prefix: str) -> bool:
    """`path` is `prefix` or lies below it, on a segment boundary: /a/b is under /a, /ab is not."""
    if path == prefix or prefix.endswith("/") and path.startswith(prefix):
        return True
    return path.startswith(prefix + "/")


def in_scope(url: str, seed_url: str, scope: str, extra_prefixes: Iterable[str] = ()) -> bool:
    """prefix: same scheme, host and port as the seed (or where the seed redirected to), and a
    path at or below the seed's path; host: same scheme, host and port; page: only the seed
    page itself. Hosts and ports are compared exactly (never as text prefixes), so a seed
    https://example.org does not take in example.org.evil.net, example.org@evil.net or
    example.orgevil.com."""
    got = _parts(url)
    if got is None:
        return False
    origin, path, query = got
    for start in (seed_url, *extra_prefixes):
        base = _parts(start)
        if base is None or base[0] != origin:
            continue
        if scope == "host":
            return True
        if scope == "page":
            if (base[1], base[2]) == (path, query):
                return True
        elif _under(path, base[1]):
            return True
    return False


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
        job = spider.job_for(req)
        if job is None:
            return False
        target = job.targets[req.target]
        if req.depth > target.depth:
            return False
        if req.scoped:
            return True
        ok = in_scope(item.url, target.url, target.scope, target.extra_prefixes)
        if not ok:
            log.debug("out of scope: %s", item.url)
        return ok

"""Scrapy settings for a capture crawl, derived from the validated configuration."""

from __future__ import annotations

import logging
import os
import re
import subprocess
from typing import Any

from bewaar.config import RootConfig
from crawler.netguard import chromium_proxy_args

# Flags that keep Chromium quiet and make every page behave as a foreground page: background
# pages must not starve lazy loaders (timers, animation frames) when pages run in parallel.
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
    "--disable-ipc-flooding-protection",
    "--autoplay-policy=no-user-gesture-required",
    "--mute-audio",
    # keep cross-site frames in the page's process so one CDP session records their traffic
    "--disable-site-isolation-trials",
    "--disable-features=IsolateOrigins,site-per-process,Translate,MediaRouter",
]
LOOPBACK_ONLY_ARG = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost"


def chromium_args(cfg: RootConfig) -> list[str]:
    args = list(CHROMIUM_ARGS)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    if cfg.browser.loopback_only:
        args.append(LOOPBACK_ONLY_ARG)
    args.extend(cfg.browser.args)
    return args


def browser_user_agent(chromium: str) -> str:
    """The UA a person's Chromium of this version sends. Headless Chromium says
    "HeadlessChrome", and platforms serve such visitors a different (often empty) page."""
    version = "0.0.0.0"
    try:
        out = subprocess.run([chromium, "--version"], capture_output=True, text=True, timeout=20).stdout
        m = re.search(r"(\d+)\.\d+\.\d+\.\d+", out)
        if m:
            version = f"{m.group(1)}.0.0.0"  # Chrome reduces its UA to the major version
    except (OSError, subprocess.SubprocessError):
        pass
    return (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/{version} Safari/537.36"
    )


def context_kwargs(
    cfg: RootConfig, storage_state: str | None = None, user_agent: str | None = None
) -> dict[str, Any]:
    kw: dict[str, Any] = {
        "viewport": {"width": cfg.browser.viewport_width, "height": cfg.browser.viewport_height},
        # a service worker would answer requests the page's CDP session never sees
        "service_workers": "block",
        "accept_downloads": False,
    }
    if cfg.crawl.user_agent or user_agent:
        kw["user_agent"] = cfg.crawl.user_agent or user_agent
    if storage_state:
        kw["storage_state"] = storage_state
    return kw


def build_settings(
    cfg: RootConfig, chromium: str, netguard: Any = None, verbose: int = 0, quiet: bool = False
) -> dict[str, Any]:
    """A worker's settings: the queue is scrapy-redis' (crawler/redisq.py); browser contexts
    are made per page (and per login state) as requests arrive, so one browser serves every
    run."""
    n = cfg.crawl.concurrency
    level = {0: "ERROR", 1: "INFO"}.get(verbose, "DEBUG")
    return {
        "BOT_NAME": "bewaar",
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        "DOWNLOAD_HANDLERS": {
            "http": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
            "https": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
        },
        "PLAYWRIGHT_BROWSER_TYPE": "chromium",
        "PLAYWRIGHT_LAUNCH_OPTIONS": {
            "executable_path": chromium,
            "headless": cfg.browser.headless,
            "args": chromium_args(cfg) + (chromium_proxy_args(netguard) if netguard else []),
            "timeout": 60_000,
        },
        "PLAYWRIGHT_CONTEXTS": {},
        "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": n,
        "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": int(cfg.crawl.page_timeout * 1000),
        # the browser sends its own headers; bewaar records them as sent
        "PLAYWRIGHT_PROCESS_REQUEST_HEADERS": None,
        "CONCURRENT_REQUESTS": n,
        "CONCURRENT_REQUESTS_PER_DOMAIN": n,
        "DOWNLOAD_DELAY": 0,
        "DOWNLOAD_TIMEOUT": int(cfg.crawl.page_timeout + 180),  # per request: see worker._prepare
        # breadth first: seeds before what they link to (the queue's score, crawler/redisq.py)
        "DEPTH_PRIORITY": 1,
        "SCHEDULER": "crawler.redisq.Scheduler",
        "ROBOTSTXT_OBEY": False,
        "COOKIES_ENABLED": False,  # the browser keeps cookies
        "RETRY_ENABLED": False,  # a retry is a new page; the spider retries 429 with backoff
        "HTTPERROR_ALLOW_ALL": True,  # error pages are captured too: they are evidence
        "REDIRECT_ENABLED": False,  # the browser follows redirects; the recorder keeps each hop
        "METAREFRESH_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": level,
        "LOG_INSTALL_ROOT_HANDLER": True,
        "LOG_FORMAT": "%(levelname)s %(name)s: %(message)s",
        "ITEM_PIPELINES": {"crawler.pipelines.WarcPipeline": 300},
        "SPIDER_MIDDLEWARES": {"crawler.scope.ScopeMiddleware": 550},
        "EXTENSIONS": {
            "crawler.extensions.Progress": 500,
            "crawler.extensions.WarcHooks": 510,
            "scrapy.extensions.logstats.LogStats": None,
            "scrapy.extensions.memusage.MemoryUsage": None,
        },
        "BEWAAR_QUIET": quiet,
        "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",
    }


def quiet_libraries(verbose: int) -> None:
    """scrapy-playwright logs expected failures (a refused connection) with tracebacks."""
    if verbose < 2:
        for name in ("scrapy_playwright", "scrapy.core.scraper", "asyncio", "playwright"):
            logging.getLogger(name).setLevel(logging.CRITICAL)

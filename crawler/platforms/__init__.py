"""Platform adapters: one small, mostly data-driven file per platform.

`get_adapter(platform, base_url)` is all the crawler needs; base.py documents the contract.
"""

from __future__ import annotations

from crawler.platforms.base import Adapter, Block, CapturedResponse, PageSnapshot
from crawler.platforms.facebook import FacebookAdapter
from crawler.platforms.generic import GenericAdapter
from crawler.platforms.instagram import InstagramAdapter
from crawler.platforms.linkedin import LinkedInAdapter
from crawler.platforms.mastodon import MastodonAdapter
from crawler.platforms.snapchat import SnapchatAdapter
from crawler.platforms.tiktok import TikTokAdapter
from crawler.platforms.x import XAdapter
from crawler.platforms.youtube import YouTubeAdapter

ADAPTERS: dict[str, type[Adapter]] = {
    a.platform: a
    for a in (
        XAdapter,
        InstagramAdapter,
        FacebookAdapter,
        LinkedInAdapter,
        MastodonAdapter,
        YouTubeAdapter,
        TikTokAdapter,
        SnapchatAdapter,
        GenericAdapter,
    )
}


def get_adapter(platform: str, base_url: str | None = None) -> Adapter:
    """The adapter for a platform name (bewaar.config.PLATFORMS); base_url overrides the
    platform's own site (tests, private instances)."""
    try:
        cls = ADAPTERS[platform]
    except KeyError:
        raise ValueError(
            f"unknown platform {platform!r}: use one of {', '.join(ADAPTERS)}"
        ) from None
    return cls(base_url)


__all__ = ["ADAPTERS", "Adapter", "Block", "CapturedResponse", "PageSnapshot", "get_adapter"]

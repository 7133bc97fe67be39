"""The eight platform fixture sites, by platform name."""

from __future__ import annotations

from bewaar.sites.platforms.facebook import FacebookSite
from bewaar.sites.platforms.fixture import PlatformSite
from bewaar.sites.platforms.instagram import InstagramSite
from bewaar.sites.platforms.linkedin import LinkedInSite
from bewaar.sites.platforms.mastodon import MastodonSite
from bewaar.sites.platforms.snapchat import SnapchatSite
from bewaar.sites.platforms.tiktok import TikTokSite
from bewaar.sites.platforms.x import XSite
from bewaar.sites.platforms.youtube import YouTubeSite

SITES: dict[str, type[PlatformSite]] = {
    s.platform: s
    for s in (
        XSite,
        InstagramSite,
        FacebookSite,
        LinkedInSite,
        MastodonSite,
        YouTubeSite,
        TikTokSite,
        SnapchatSite,
    )
}

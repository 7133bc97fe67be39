"""The seven platform fixture sites, by platform name."""

from __future__ import annotations

from tests.platforms.fixture import PlatformSite
from tests.platforms.sites.facebook import FacebookSite
from tests.platforms.sites.instagram import InstagramSite
from tests.platforms.sites.linkedin import LinkedInSite
from tests.platforms.sites.mastodon import MastodonSite
from tests.platforms.sites.tiktok import TikTokSite
from tests.platforms.sites.x import XSite
from tests.platforms.sites.youtube import YouTubeSite

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
    )
}

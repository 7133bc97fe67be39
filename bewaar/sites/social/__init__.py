"""The example social site: a platform-like profile rendered by JavaScript (see site.py)."""

from bewaar.sites.social.site import SocialSite

__all__ = ["SocialSite"]

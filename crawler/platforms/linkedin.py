from crawler.platforms.base import Adapter


class LinkedInAdapter(Adapter):
    platform = "linkedin"

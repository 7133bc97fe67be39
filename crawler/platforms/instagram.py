from crawler.platforms.base import Adapter


class InstagramAdapter(Adapter):
    platform = "instagram"

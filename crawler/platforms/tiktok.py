from crawler.platforms.base import Adapter


class TikTokAdapter(Adapter):
    platform = "tiktok"

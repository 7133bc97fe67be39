from crawler.platforms.base import Adapter


class YouTubeAdapter(Adapter):
    platform = "youtube"

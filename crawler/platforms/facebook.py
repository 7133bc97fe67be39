from crawler.platforms.base import Adapter


class FacebookAdapter(Adapter):
    platform = "facebook"

from crawler.platforms.base import Adapter


class XAdapter(Adapter):
    platform = "x"

"""YouTube as a logged-out visitor in the EU sees it.

- /@HANDLE (Home: a shelf of the 3 latest uploads and a featured video of another channel) and
  /@HANDLE/videos (a grid of 4, the rest by POST /youtubei/v1/browse with a continuation token
  when the grid's end scrolls into view). Both embed `var ytInitialData = {...}`; the header is
  a pageHeaderViewModel; "...more" on the description opens the About panel, loaded by POST
  /youtubei/v1/browse (aboutChannelViewModel: joined date, exact view and video counts, links).
- /watch?v=ID: ytInitialPlayerResponse (videoDetails, microformat with the ISO publish date,
  streamingData) and ytInitialData (title, exact views, likes in the like button's label,
  description with /redirect?q= links); comments load by POST /youtubei/v1/next with a
  continuation token when the comments section scrolls into view, 2 per batch.
- Video: the player appends VP9 WebM to a MediaSource, fetching
  /videoplayback?...&itag=278&range=A-B&rn=N in chunks (the range is a query parameter, the
  answer a plain 200 - YouTube's own pattern); streamingData.formats[0] (itag 18) is the whole
  progressive MP4 at one URL (HTTP Range supported). Both URLs stay valid for the whole test.
- A consent lightbox (ytd-consent-bump-v2-lightbox) over every page until "Reject all".
- login_wall: "Sign in to confirm you're not a bot" (playabilityStatus LOGIN_REQUIRED);
  rate_limited: Google's 429 "unusual traffic" page; a deleted video: "Video unavailable".
"""

from __future__ import annotations

import html
import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import quote

from bewaar.sites.httpserver import FixtureServer, Request, Response
from bewaar.sites.media import video
from bewaar.sites.platforms.fixture import PlatformSite, Post, segments, with_headers

NOW = datetime.fromisoformat("2024-05-08T12:00:00+00:00")  # the fixture's "today"
GRID_PAGE = 4
COMMENTS_PAGE = 2
CHUNK = 8000
COUNTRY = "Netherlands"

PAGE = """<!DOCTYPE html><html lang="en" dir="ltr"><head><meta charset="utf-8"><title>{title}</title>
<link rel="canonical" href="{canonical}"><style>ytd-consent-bump-v2-lightbox {{ position: fixed; inset: 0; background: rgba(0,0,0,.6); z-index: 99 }}
tp-yt-paper-dialog {{ display: block; margin: 10% auto; width: 480px; background: #fff; padding: 16px }}
#about-dialog {{ position: fixed; top: 10%; left: 30%; background: #fff; z-index: 50; padding: 10px }}
#player {{ display: block; height: 720px }} ytd-rich-item-renderer, ytd-grid-video-renderer {{ display: block; height: 260px }}</style>
<script>var ytcfg = {{"INNERTUBE_API_KEY": "AIzaSyAO_FJ2SlqU8Q4STEHLGCilw_Y9_11qcW8", "INNERTUBE_CONTEXT": {{"client": {{"clientName": "WEB", "clientVersion": "2.20240508.00.00", "hl": "en", "gl": "NL"}}}}}};</script>
</head><body dir="ltr"><ytd-app><div id="content"><ytd-page-manager id="page-manager"></ytd-page-manager></div></ytd-app>
<script nonce="n">var ytInitialData = {data};</script>{player}
<script src="/s/desktop/app/desktop_polymer.js"></script>
{consent}</body></html>"""

CONSENT = """<ytd-consent-bump-v2-lightbox><tp-yt-paper-dialog role="dialog" aria-modal="true">
<h2>Before you continue to YouTube</h2><p>We use cookies and data to deliver and maintain Google services.</p>
<ytd-button-renderer><button aria-label="Reject the use of cookies and other data for the purposes described"><span>Reject all</span></button></ytd-button-renderer>
<ytd-button-renderer><button aria-label="Accept the use of cookies and other data for the purposes described"><span>Accept all</span></button></ytd-button-renderer>
</tp-yt-paper-dialog></ytd-consent-bump-v2-lightbox>"""

SORRY = """<html><head><title>https://www.youtube.com/</title></head><body><div id="infoDiv">
Our systems have detected unusual traffic from your computer network. This page checks to see if it's really you sending the requests, and not a robot.</div></body></html>"""


def yt_short(n: int) -> str:
    """YouTube's abbreviation: three significant digits (123456 -> 123K, 1250000 -> 1.25M)."""
    if n < 1000:
        return str(n)
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= div:
            v = n / div
            text = f"{v:.2f}" if v < 10 else f"{v:.1f}" if v < 100 else f"{v:.0f}"
            if "." in text:
                text = text[: 4 if v < 10 else 4].rstrip("0").rstrip(".")
            return text + suffix
    return str(n)


def ago(iso: str) -> str:
    delta = NOW - datetime.fromisoformat(iso.replace("Z", "+00:00"))
    days = delta.days
    if days >= 1:
        return f"{days} day{'s' if days != 1 else ''} ago"
    hours = delta.seconds // 3600
    return f"{hours} hour{'s' if hours != 1 else ''} ago"


class YouTubeSite(PlatformSite):
    platform = "youtube"
    replies_via = "scroll"

    def __init__(self) -> None:
        super().__init__()
        self.account.handle = "rijksoverheid"
        self.channel_id = "UCbzk" + "0" * 17 + "Q"
        ids = {}
        for i, p in enumerate(self.posts):
            new = f"bzkVideo{i:02d}x"[:11]
            ids[p.id] = new
            p.id = new
            p.author = self.account.handle
            p.title = p.title or p.text.split("\n")[0].split(" #")[0].split(" http")[0][:60]
            p.video = True
            p.photos = 0
            p.gif = False
        for p in self.all_posts():
            if p.reply_to:
                p.reply_to = ids.get(p.reply_to, p.reply_to)
            if p.author != self.account.handle:
                p.id = "Ugz" + p.id + "AaABAg"

    @property
    def handle_in_seed(self) -> str:  # type: ignore[override]
        return "@" + self.account.handle

    def post_page_url(self, post: Post) -> str:
        return f"{self.base_url}/watch?v={post.id}"

    def expected_profile(self) -> dict[str, Any]:
        a = self.account
        joined = datetime.fromisoformat(a.joined.replace("Z", "+00:00"))
        return {
            "id": self.channel_id,
            "handle": a.handle,
            "name": a.name,
            "bio": a.bio,
            "created_text": f"Joined {joined:%b} {joined.day}, {joined.year}",
            "avatar": f"{self.base_url}/yt3/{a.handle}-avatar.png",
            "header": f"{self.base_url}/yt3/{a.handle}-banner.png",
            "links": [{"url": a.website, "text": a.website[8:]}],
            "location": COUNTRY,  # the About panel shows the channel's country
            "counts": {"followers": yt_short(a.followers), "posts": a.posts, "views": a.views},
        }

    def expected_post(self, p: Post, page: str = "post") -> dict[str, Any]:
        if p.reply_to:  # a comment
            return {
                "id": p.id,
                "text": p.text,
                "published_text": ago(p.published),
                "published_at": None,
                "author.handle": p.author,
                "counts": {"reactions": p.likes},
            }
        exp: dict[str, Any] = {
            "id": p.id,
            "url": self.post_page_url(p),
            "title": p.title,
            "author.handle": self.account.handle,
        }
        if page == "profile":
            return exp | {"published_text": ago(p.published), "counts": {"views": p.views}}
        return exp | {
            "text": p.text,
            "hashtags": p.hashtags,
            "published_at": p.published,
            "links": [{"url": u} for u in p.links],
            "mentions": [{"handle": m} for m in p.mentions],
            "counts": {"views": p.views, "reactions": p.likes, "replies": len(p.replies)},
        }

    def expected_post_links(self) -> list[str]:
        return [self.post_page_url(p) for p in self.visible_posts()]

    def check_collapsed(
        self, post: Post, extracted: dict[str, Any], bare_html: str, full_html: str
    ) -> None:
        assert not [r for r in post.replies if r.id in extracted], (
            "comments loaded without scrolling"
        )

    def rate_limited_page(self, req: Request) -> Response:
        return with_headers(Response.html(SORRY, 429), ("Retry-After", "60"))

    def login_wall_page(self, req: Request) -> Response:
        return self.page(req, "YouTube", {"contents": {}}, self.player_json(None, "LOGIN_REQUIRED"))

    # -- JSON in YouTube's shapes ------------------------------------------------------------
    def video_renderer(self, p: Post) -> dict[str, Any]:
        return {
            "videoRenderer": {
                "videoId": p.id,
                "thumbnail": {
                    "thumbnails": [
                        {
                            "url": f"{self.base_url}/vi/{p.id}/hqdefault.png",
                            "width": 320,
                            "height": 240,
                        }
                    ]
                },
                "title": {
                    "runs": [{"text": p.title}],
                    "accessibility": {"accessibilityData": {"label": p.title}},
                },
                "publishedTimeText": {"simpleText": ago(p.published)},
                "lengthText": {"simpleText": "0:02"},
                "viewCountText": {"simpleText": f"{p.views:,} views"},
                "shortViewCountText": {"simpleText": f"{yt_short(p.views)} views"},
                "navigationEndpoint": {
                    "commandMetadata": {"webCommandMetadata": {"url": f"/watch?v={p.id}"}},
                    "watchEndpoint": {"videoId": p.id},
                },
                "shortBylineText": {
                    "runs": [
                        {
                            "text": self.account.name,
                            "navigationEndpoint": {
                                "browseEndpoint": {
                                    "browseId": self.channel_id,
                                    "canonicalBaseUrl": "/@" + self.account.handle,
                                }
                            },
                        }
                    ]
                },
            }
        }

    def header_json(self) -> dict[str, Any]:
        a = self.account
        return {
            "pageHeaderRenderer": {
                "pageTitle": a.name,
                "content": {
                    "pageHeaderViewModel": {
                        "title": {"dynamicTextViewModel": {"text": {"content": a.name}}},
                        "image": {
                            "decoratedAvatarViewModel": {
                                "avatar": {
                                    "avatarViewModel": {
                                        "image": {
                                            "sources": [
                                                {
                                                    "url": f"{self.base_url}/yt3/{a.handle}-avatar.png",
                                                    "width": 160,
                                                    "height": 160,
                                                }
                                            ]
                                        }
                                    }
                                }
                            }
                        },
                        "metadata": {
                            "contentMetadataViewModel": {
                                "metadataRows": [
                                    {"metadataParts": [{"text": {"content": "@" + a.handle}}]},
                                    {
                                        "metadataParts": [
                                            {
                                                "text": {
                                                    "content": f"{yt_short(a.followers)} subscribers"
                                                }
                                            },
                                            {"text": {"content": f"{yt_short(a.posts)} videos"}},
                                        ]
                                    },
                                ]
                            }
                        },
                        "description": {
                            "descriptionPreviewViewModel": {
                                "description": {"content": a.bio},
                                "moreEndpoint": {"continuationCommand": {"token": "about-" + a.id}},
                            }
                        },
                        "banner": {
                            "imageBannerViewModel": {
                                "image": {
                                    "sources": [
                                        {
                                            "url": f"{self.base_url}/yt3/{a.handle}-banner.png",
                                            "width": 1060,
                                            "height": 175,
                                        }
                                    ]
                                }
                            }
                        },
                    }
                },
            }
        }

    def channel_data(self, tab: str) -> dict[str, Any]:
        a = self.account
        posts = self.visible_posts()
        if tab == "videos":
            items: list[dict[str, Any]] = [
                {"richItemRenderer": {"content": self.video_renderer(p)}} for p in posts[:GRID_PAGE]
            ]
            if len(posts) > GRID_PAGE:
                items.append(
                    {
                        "continuationItemRenderer": {
                            "trigger": "CONTINUATION_TRIGGER_ON_ITEM_SHOWN",
                            "continuationEndpoint": {
                                "continuationCommand": {"token": f"grid-{GRID_PAGE}"}
                            },
                        }
                    }
                )
            content = {"richGridRenderer": {"contents": items}}
        else:
            foreign = {
                "videoRenderer": {
                    "videoId": "otherChan01",
                    "title": {"runs": [{"text": "Uitgelicht: een ander kanaal"}]},
                    "navigationEndpoint": {
                        "commandMetadata": {"webCommandMetadata": {"url": "/watch?v=otherChan01"}}
                    },
                    "shortBylineText": {
                        "runs": [
                            {
                                "text": "Ander kanaal",
                                "navigationEndpoint": {
                                    "browseEndpoint": {
                                        "browseId": "UCother",
                                        "canonicalBaseUrl": "/@anderkanaal",
                                    }
                                },
                            }
                        ]
                    },
                }
            }
            content = {
                "sectionListRenderer": {
                    "contents": [
                        {
                            "itemSectionRenderer": {
                                "contents": [
                                    {
                                        "shelfRenderer": {
                                            "title": {"runs": [{"text": "Videos"}]},
                                            "content": {
                                                "horizontalListRenderer": {
                                                    "items": [
                                                        self.video_renderer(p) for p in posts[:3]
                                                    ]
                                                }
                                            },
                                        }
                                    }
                                ]
                            }
                        },
                        {
                            "itemSectionRenderer": {
                                "contents": [
                                    {
                                        "shelfRenderer": {
                                            "title": {"runs": [{"text": "Featured"}]},
                                            "content": {
                                                "horizontalListRenderer": {"items": [foreign]}
                                            },
                                        }
                                    }
                                ]
                            }
                        },
                    ]
                }
            }
        tabs = [
            {
                "tabRenderer": {
                    "title": t.title(),
                    "selected": t == tab,
                    "endpoint": {
                        "commandMetadata": {
                            "webCommandMetadata": {
                                "url": f"/@{a.handle}" + ("" if t == "home" else "/" + t)
                            }
                        }
                    },
                    **({"content": content} if t == tab else {}),
                }
            }
            for t in ("home", "videos")
        ]
        return {
            "contents": {"twoColumnBrowseResultsRenderer": {"tabs": tabs}},
            "header": self.header_json(),
            "metadata": {
                "channelMetadataRenderer": {
                    "title": a.name,
                    "description": a.bio,
                    "externalId": self.channel_id,
                    "vanityChannelUrl": f"http://www.youtube.com/@{a.handle}",
                    "channelUrl": f"https://www.youtube.com/channel/{self.channel_id}",
                    "avatar": {
                        "thumbnails": [
                            {
                                "url": f"{self.base_url}/yt3/{a.handle}-avatar.png",
                                "width": 900,
                                "height": 900,
                            }
                        ]
                    },
                }
            },
        }

    def about_json(self) -> dict[str, Any]:
        a = self.account
        joined = datetime.fromisoformat(a.joined.replace("Z", "+00:00"))
        return {
            "onResponseReceivedEndpoints": [
                {
                    "appendContinuationItemsAction": {
                        "continuationItems": [
                            {
                                "aboutChannelRenderer": {
                                    "metadata": {
                                        "aboutChannelViewModel": {
                                            "description": a.bio,
                                            "country": COUNTRY,
                                            "channelId": self.channel_id,
                                            "canonicalChannelUrl": f"http://www.youtube.com/@{a.handle}",
                                            "joinedDateText": {
                                                "content": f"Joined {joined:%b} {joined.day}, {joined.year}"
                                            },
                                            "viewCountText": f"{a.views:,} views",
                                            "videoCountText": f"{a.posts:,} videos",
                                            "subscriberCountText": f"{yt_short(a.followers)} subscribers",
                                            "links": [
                                                {
                                                    "channelExternalLinkViewModel": {
                                                        "title": {"content": "Website"},
                                                        "link": {
                                                            "content": a.website[8:],
                                                            "commandRuns": [
                                                                {
                                                                    "onTap": {
                                                                        "innertubeCommand": {
                                                                            "urlEndpoint": {
                                                                                "url": "https://www.youtube.com/redirect?event=channel_description&q="
                                                                                + quote(
                                                                                    a.website,
                                                                                    safe="",
                                                                                )
                                                                            }
                                                                        }
                                                                    }
                                                                }
                                                            ],
                                                        },
                                                    }
                                                }
                                            ],
                                        }
                                    }
                                }
                            }
                        ]
                    }
                }
            ]
        }

    def description(self, p: Post) -> dict[str, Any]:
        """attributedDescription: the text plus commandRuns that make links of parts of it."""
        text, runs = "", []
        for kind, value in segments(p.text):
            start = len(text.encode("utf-16-le")) // 2
            shown = value if kind in ("text", "url") else ("#" if kind == "tag" else "@") + value
            text += shown
            if kind == "text":
                continue
            url = {
                "url": "https://www.youtube.com/redirect?event=video_description&q="
                + quote(value, safe=""),
                "tag": f"/hashtag/{value.lower()}",
                "mention": f"/@{value}",
            }[kind]
            runs.append(
                {
                    "startIndex": start,
                    "length": len(shown.encode("utf-16-le")) // 2,
                    "onTap": {
                        "innertubeCommand": {
                            "commandMetadata": {"webCommandMetadata": {"url": url}}
                        }
                    },
                }
            )
        return {"content": text, "commandRuns": runs}

    def player_json(self, p: Post | None, status: str = "OK") -> dict[str, Any]:
        if p is None or status != "OK":
            reason = {
                "LOGIN_REQUIRED": "Sign in to confirm you’re not a bot",
                "ERROR": "Video unavailable",
            }[status]
            sub = (
                "This helps protect our community. Learn more"
                if status == "LOGIN_REQUIRED"
                else "This video has been removed by the uploader"
            )
            return {
                "playabilityStatus": {
                    "status": status,
                    "reason": reason,
                    "errorScreen": {
                        "playerErrorMessageRenderer": {
                            "reason": {"simpleText": reason},
                            "subreason": {"simpleText": sub},
                        }
                    },
                }
            }
        base = self.base_url
        clen = {ext: len(video(ext)) for ext in ("mp4", "webm")}
        common = f"expire=1715200000&ei=fx&ip=127.0.0.1&id=o-{p.id}&source=youtube&requiressl=yes&dur=2.200&lmt=1714700000000000"
        published = datetime.fromisoformat(p.published.replace("Z", "+00:00")).astimezone()
        return {
            "playabilityStatus": {"status": "OK", "playableInEmbed": True},
            "streamingData": {
                "expiresInSeconds": "21540",
                "formats": [
                    {
                        "itag": 18,
                        "url": f"{base}/videoplayback?{common}&itag=18&mime=video%2Fmp4&clen={clen['mp4']}",
                        "mimeType": 'video/mp4; codecs="avc1.42001E"',
                        "width": 160,
                        "height": 90,
                        "contentLength": str(clen["mp4"]),
                        "approxDurationMs": "2200",
                        "quality": "tiny",
                    }
                ],
                "adaptiveFormats": [
                    {
                        "itag": 278,
                        "url": f"{base}/videoplayback?{common}&itag=278&mime=video%2Fwebm&clen={clen['webm']}",
                        "mimeType": 'video/webm; codecs="vp9"',
                        "width": 160,
                        "height": 90,
                        "contentLength": str(clen["webm"]),
                        "approxDurationMs": "2200",
                    }
                ],
            },
            "videoDetails": {
                "videoId": p.id,
                "title": p.title,
                "lengthSeconds": "2",
                "channelId": self.channel_id,
                "shortDescription": p.text,
                "viewCount": str(p.views),
                "author": self.account.name,
                "isLiveContent": False,
                "thumbnail": {"thumbnails": [{"url": f"{base}/vi/{p.id}/hqdefault.png"}]},
            },
            "microformat": {
                "playerMicroformatRenderer": {
                    "title": {"simpleText": p.title},
                    "description": {"simpleText": p.text},
                    "lengthSeconds": "2",
                    "ownerProfileUrl": f"http://www.youtube.com/@{self.account.handle}",
                    "externalChannelId": self.channel_id,
                    "publishDate": published.isoformat(),
                    "uploadDate": published.isoformat(),
                    "viewCount": str(p.views),
                    "category": "News & Politics",
                    "ownerChannelName": self.account.name,
                }
            },
        }

    def watch_data(self, p: Post) -> dict[str, Any]:
        return {
            "contents": {
                "twoColumnWatchNextResults": {
                    "results": {
                        "results": {
                            "contents": [
                                {
                                    "videoPrimaryInfoRenderer": {
                                        "title": {"runs": [{"text": p.title}]},
                                        "viewCount": {
                                            "videoViewCountRenderer": {
                                                "viewCount": {"simpleText": f"{p.views:,} views"},
                                                "shortViewCount": {
                                                    "simpleText": f"{yt_short(p.views)} views"
                                                },
                                            }
                                        },
                                        "dateText": {
                                            "simpleText": datetime.fromisoformat(
                                                p.published.replace("Z", "+00:00")
                                            ).strftime("%b %-d, %Y")
                                        },
                                        "videoActions": {
                                            "menuRenderer": {
                                                "topLevelButtons": [
                                                    {
                                                        "segmentedLikeDislikeButtonViewModel": {
                                                            "likeButtonViewModel": {
                                                                "likeButtonViewModel": {
                                                                    "toggleButtonViewModel": {
                                                                        "toggleButtonViewModel": {
                                                                            "defaultButtonViewModel": {
                                                                                "buttonViewModel": {
                                                                                    "title": yt_short(
                                                                                        p.likes
                                                                                    ),
                                                                                    "accessibilityText": f"like this video along with {p.likes:,} other people",
                                                                                }
                                                                            }
                                                                        }
                                                                    }
                                                                }
                                                            }
                                                        }
                                                    }
                                                ]
                                            }
                                        },
                                    }
                                },
                                {
                                    "videoSecondaryInfoRenderer": {
                                        "owner": {
                                            "videoOwnerRenderer": {
                                                "title": {
                                                    "runs": [
                                                        {
                                                            "text": self.account.name,
                                                            "navigationEndpoint": {
                                                                "browseEndpoint": {
                                                                    "browseId": self.channel_id,
                                                                    "canonicalBaseUrl": "/@"
                                                                    + self.account.handle,
                                                                }
                                                            },
                                                        }
                                                    ]
                                                },
                                                "subscriberCountText": {
                                                    "simpleText": f"{yt_short(self.account.followers)} subscribers"
                                                },
                                            }
                                        },
                                        "attributedDescription": self.description(p),
                                    }
                                },
                                {
                                    "itemSectionRenderer": {
                                        "sectionIdentifier": "comment-item-section",
                                        "contents": [
                                            {
                                                "continuationItemRenderer": {
                                                    "trigger": "CONTINUATION_TRIGGER_ON_ITEM_SHOWN",
                                                    "continuationEndpoint": {
                                                        "continuationCommand": {
                                                            "token": f"comments-{p.id}-0"
                                                        }
                                                    },
                                                }
                                            }
                                        ],
                                    }
                                },
                            ]
                        }
                    }
                }
            },
            "currentVideoEndpoint": {"watchEndpoint": {"videoId": p.id}},
        }

    def comment(self, c: Post) -> dict[str, Any]:
        return {
            "commentThreadRenderer": {
                "comment": {
                    "commentRenderer": {
                        "commentId": c.id,
                        "authorText": {"simpleText": "@" + c.author},
                        "authorEndpoint": {"browseEndpoint": {"canonicalBaseUrl": "/@" + c.author}},
                        "authorThumbnail": {
                            "thumbnails": [{"url": f"{self.base_url}/yt3/{c.author}-avatar.png"}]
                        },
                        "contentText": {"runs": [{"text": c.text}]},
                        "publishedTimeText": {"runs": [{"text": ago(c.published)}]},
                        "voteCount": {"simpleText": str(c.likes)},
                        "replyCount": 0,
                    }
                }
            }
        }

    def page(
        self,
        req: Request,
        title: str,
        data: dict[str, Any],
        player: dict[str, Any] | None,
        canonical: str = "",
    ) -> Response:
        consent = "" if "SOCS=" in req.headers.get("cookie", "") else CONSENT
        player_js = (
            f"<script>var ytInitialPlayerResponse = {json.dumps(player)};</script>"
            if player
            else ""
        )
        return Response.html(
            PAGE.format(
                title=html.escape(title),
                canonical=canonical or self.base_url,
                data=json.dumps(data),
                player=player_js,
                consent=consent,
            ),
            gzip=True,
        )

    # -- routes ----------------------------------------------------------------------------
    def routes(self, server: FixtureServer) -> None:
        site = self

        @server.route("GET", r"/@(?P<handle>[\w.-]+)(?P<tab>/videos)?")
        def channel(req: Request, m: re.Match[str]) -> Response:
            if (g := site.gate(req)) is not None:
                return g
            if m.group("handle") != site.account.handle:
                return Response.html(
                    "<title>404 Not Found</title><p>This page isn't available. Sorry about that.</p>",
                    404,
                )
            tab = "videos" if m.group("tab") else "home"
            return site.page(
                req,
                f"{site.account.name} - YouTube",
                site.channel_data(tab),
                None,
                f"{site.base_url}/@{site.account.handle}",
            )

        @server.route("GET", r"/watch")
        def watch(req: Request, m: re.Match[str]) -> Response:
            if (g := site.gate(req)) is not None:
                return g
            vid = req.arg("v") or ""
            try:
                p = site.post(vid)
            except KeyError:
                p = None
            if p is None or p.deleted:
                return site.page(req, "YouTube", {"contents": {}}, site.player_json(None, "ERROR"))
            return site.page(
                req,
                f"{p.title} - YouTube",
                site.watch_data(p),
                site.player_json(p),
                site.post_page_url(p),
            )

        @server.route("POST", r"/youtubei/v1/browse")
        def browse(req: Request, m: re.Match[str]) -> Response:
            token = req.json().get("continuation", "")
            if token.startswith("about-"):
                return Response.json(site.about_json())
            start = int(token.split("-")[1])
            posts = site.visible_posts()
            items: list[dict[str, Any]] = [
                {"richItemRenderer": {"content": site.video_renderer(p)}}
                for p in posts[start : start + GRID_PAGE]
            ]
            if start + GRID_PAGE < len(posts):
                items.append(
                    {
                        "continuationItemRenderer": {
                            "continuationEndpoint": {
                                "continuationCommand": {"token": f"grid-{start + GRID_PAGE}"}
                            }
                        }
                    }
                )
            return Response.json(
                {
                    "onResponseReceivedActions": [
                        {"appendContinuationItemsAction": {"continuationItems": items}}
                    ]
                }
            )

        @server.route("POST", r"/youtubei/v1/next")
        def next_(req: Request, m: re.Match[str]) -> Response:
            body = req.json()
            if body.get("context", {}).get("client", {}).get("clientName") != "WEB":
                return Response.json(
                    {"error": {"code": 400, "message": "Request contains an invalid argument."}},
                    400,
                )
            _, vid, start_s = body["continuation"].rsplit("-", 2)
            start = int(start_s)
            replies = [r for r in site.post(vid).replies if not r.deleted]
            items: list[dict[str, Any]] = [
                site.comment(c) for c in replies[start : start + COMMENTS_PAGE]
            ]
            if start + COMMENTS_PAGE < len(replies):
                items.append(
                    {
                        "continuationItemRenderer": {
                            "trigger": "CONTINUATION_TRIGGER_ON_ITEM_SHOWN",
                            "continuationEndpoint": {
                                "continuationCommand": {
                                    "token": f"comments-{vid}-{start + COMMENTS_PAGE}"
                                }
                            },
                        }
                    }
                )
            header = (
                [
                    {
                        "commentsHeaderRenderer": {
                            "countText": {
                                "runs": [{"text": str(len(replies))}, {"text": " Comments"}]
                            }
                        }
                    }
                ]
                if start == 0
                else []
            )
            action = (
                "reloadContinuationItemsCommand" if start == 0 else "appendContinuationItemsAction"
            )
            return Response.json(
                {"onResponseReceivedEndpoints": [{action: {"continuationItems": header + items}}]}
            )

        @server.route("GET", r"/videoplayback")
        def videoplayback(req: Request, m: re.Match[str]) -> Response:
            data = video("webm" if req.arg("itag") == "278" else "mp4")
            mime = "video/webm" if req.arg("itag") == "278" else "video/mp4"
            rng = req.arg("range")
            if rng:
                a, b = (int(x) for x in rng.split("-"))
                data = data[a : b + 1]  # YouTube answers a range *parameter* with a plain 200
                return Response(
                    200, data, [("Content-Type", mime), ("Cache-Control", "private, max-age=21298")]
                )
            return Response(200, data, [("Content-Type", mime)])

        @server.route("GET", r"/s/desktop/app/desktop_polymer\.js")
        def app_js(req: Request, m: re.Match[str]) -> Response:
            return Response(
                200,
                APP_JS.replace("__CHUNK__", str(CHUNK)).encode(),
                [("Content-Type", "text/javascript")],
                gzip=True,
            )

        self.media_routes(server, r"/(?:yt3|vi/[\w-]+)")


APP_JS = r"""
(() => {
const data = window.ytInitialData, player = window.ytInitialPlayerResponse, cfg = window.ytcfg;
const root = document.getElementById('page-manager');
const esc = s => String(s == null ? '' : s).replace(/[&<>"]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
const txt = t => t == null ? '' : typeof t === 'string' ? t : t.simpleText != null ? t.simpleText : t.content != null ? t.content : (t.runs || []).map(r => r.text).join('');
const api = (ep, body) => fetch(`/youtubei/v1/${ep}?prettyPrint=false`, {method: 'POST', headers: {'Content-Type': 'application/json', 'X-Youtube-Client-Name': '1', 'X-Youtube-Client-Version': cfg.INNERTUBE_CONTEXT.client.clientVersion},
  body: JSON.stringify({context: cfg.INNERTUBE_CONTEXT, ...body})}).then(r => r.json());
const onShown = (el, fn) => { const io = new IntersectionObserver(es => { if (es.some(e => e.isIntersecting)) { io.disconnect(); fn(); } }); io.observe(el); };

document.addEventListener('click', e => {
  const b = e.target.closest('ytd-consent-bump-v2-lightbox button');
  if (b) { document.cookie = 'SOCS=CAE' + (b.getAttribute('aria-label').startsWith('Reject') ? 'S' : 'I') + 'AGg; path=/'; b.closest('ytd-consent-bump-v2-lightbox').remove(); }
});

function videoItem(v, tag) {
  const by = ((v.shortBylineText || {}).runs || [{}])[0];
  const chan = by.navigationEndpoint ? by.navigationEndpoint.browseEndpoint.canonicalBaseUrl : '';
  return `<${tag} class="style-scope"><div id="dismissible"><a id="thumbnail" href="/watch?v=${v.videoId}"><yt-image><img src="${v.thumbnail ? v.thumbnail.thumbnails[0].url : ''}" alt=""></yt-image></a>
    <div id="details"><h3><a id="video-title-link" href="/watch?v=${v.videoId}" title="${esc(txt(v.title))}"><yt-formatted-string id="video-title">${esc(txt(v.title))}</yt-formatted-string></a></h3>
    <ytd-channel-name><a href="${chan}">${esc(by.text)}</a></ytd-channel-name>
    <div id="metadata-line"><span class="inline-metadata-item">${esc(txt(v.shortViewCountText))}</span><span class="inline-metadata-item">${esc(txt(v.publishedTimeText))}</span></div></div></div></${tag}>`;
}

function channel() {
  const vm = data.header.pageHeaderRenderer.content.pageHeaderViewModel;
  const rows = vm.metadata.contentMetadataViewModel.metadataRows;
  const tabs = data.contents.twoColumnBrowseResultsRenderer.tabs;
  const sel = tabs.find(t => t.tabRenderer.selected).tabRenderer;
  root.innerHTML = `<ytd-browse page-subtype="channels"><div id="page-header"><yt-page-header-renderer>
    <yt-image-banner-view-model><img class="yt-core-image" src="${vm.banner.imageBannerViewModel.image.sources[0].url}" alt=""></yt-image-banner-view-model>
    <yt-decorated-avatar-view-model><img class="yt-core-image" src="${vm.image.decoratedAvatarViewModel.avatar.avatarViewModel.image.sources[0].url}" alt=""></yt-decorated-avatar-view-model>
    <yt-dynamic-text-view-model><h1 class="dynamic-text-view-model-wiz__h1"><span>${esc(vm.title.dynamicTextViewModel.text.content)}</span></h1></yt-dynamic-text-view-model>
    <yt-content-metadata-view-model>${rows.map(r => `<div class="yt-content-metadata-view-model-wiz__metadata-row">${r.metadataParts.map(p => `<span class="yt-core-attributed-string">${esc(p.text.content)}</span>`).join('<span class="delimiter"> • </span>')}</div>`).join('')}</yt-content-metadata-view-model>
    <yt-description-preview-view-model><span class="yt-core-attributed-string">${esc(vm.description.descriptionPreviewViewModel.description.content)}</span><button class="truncated-text-wiz__absolute-button" aria-label="Description. tap for more">...more</button></yt-description-preview-view-model>
    </yt-page-header-renderer></div>
    <tp-yt-app-toolbar><div id="tabsContent">${tabs.map(t => `<a class="yt-tab-shape-wiz__tab" href="${t.tabRenderer.endpoint.commandMetadata.webCommandMetadata.url}" aria-selected="${!!t.tabRenderer.selected}">${t.tabRenderer.title}</a>`).join('')}</div></tp-yt-app-toolbar>
    <div id="primary"></div></ytd-browse>`;
  const primary = root.querySelector('#primary');
  if (sel.content.richGridRenderer) {
    primary.innerHTML = '<ytd-rich-grid-renderer><div id="contents"></div></ytd-rich-grid-renderer>';
    const grid = primary.querySelector('#contents');
    const add = items => items.forEach(it => {
      if (it.richItemRenderer) grid.insertAdjacentHTML('beforeend', videoItem(it.richItemRenderer.content.videoRenderer, 'ytd-rich-item-renderer'));
      if (it.continuationItemRenderer) { grid.insertAdjacentHTML('beforeend', '<ytd-continuation-item-renderer><tp-yt-paper-spinner active></tp-yt-paper-spinner></ytd-continuation-item-renderer>');
        const spin = grid.lastElementChild; onShown(spin, () => api('browse', {continuation: it.continuationItemRenderer.continuationEndpoint.continuationCommand.token}).then(j => { spin.remove(); add(j.onResponseReceivedActions[0].appendContinuationItemsAction.continuationItems); })); }
    });
    add(sel.content.richGridRenderer.contents);
  } else {
    primary.innerHTML = sel.content.sectionListRenderer.contents.map(s => s.itemSectionRenderer.contents.map(sh =>
      `<ytd-shelf-renderer><h2><span id="title">${esc(txt(sh.shelfRenderer.title))}</span></h2><div id="items">${sh.shelfRenderer.content.horizontalListRenderer.items.map(v => videoItem(v.videoRenderer, 'ytd-grid-video-renderer')).join('')}</div></ytd-shelf-renderer>`).join('')).join('');
  }
  root.querySelector('.truncated-text-wiz__absolute-button').addEventListener('click', ev => {
    ev.target.remove();
    api('browse', {continuation: vm.description.descriptionPreviewViewModel.moreEndpoint.continuationCommand.token}).then(j => {
      const a = j.onResponseReceivedEndpoints[0].appendContinuationItemsAction.continuationItems[0].aboutChannelRenderer.metadata.aboutChannelViewModel;
      document.body.insertAdjacentHTML('beforeend', `<tp-yt-paper-dialog id="about-dialog"><ytd-engagement-panel-section-list-renderer><ytd-about-channel-renderer>
        <h2>About</h2><yt-attributed-string id="description-container">${esc(a.description)}</yt-attributed-string>
        <div id="link-list-container">${a.links.map(l => { const v = l.channelExternalLinkViewModel; return `<yt-channel-external-link-view-model><span class="yt-channel-external-link-view-model-wiz__title">${esc(v.title.content)}</span><a href="${v.link.commandRuns[0].onTap.innertubeCommand.urlEndpoint.url}">${esc(v.link.content)}</a></yt-channel-external-link-view-model>`; }).join('')}</div>
        <table class="style-scope ytd-about-channel-renderer"><tr><td>${esc(a.videoCountText)}</td></tr><tr><td>${esc(a.viewCountText)}</td></tr><tr><td>${esc(a.joinedDateText.content)}</td></tr><tr><td>${esc(a.country)}</td></tr></table>
        </ytd-about-channel-renderer></ytd-engagement-panel-section-list-renderer></tp-yt-paper-dialog>`);
    });
  });
}

function playVideo(video, fmt) {
  // YouTube's pattern: MSE, chunks fetched with a range *query parameter*
  const ms = new MediaSource(); video.src = URL.createObjectURL(ms);
  ms.addEventListener('sourceopen', async () => {
    const sb = ms.addSourceBuffer(fmt.mimeType); const clen = +fmt.contentLength; let pos = 0, rn = 1;
    while (pos < clen) {
      const end = Math.min(pos + __CHUNK__, clen) - 1;
      const buf = await fetch(`${fmt.url}&range=${pos}-${end}&rn=${rn++}&rbuf=0`).then(r => r.arrayBuffer());
      sb.appendBuffer(buf); await new Promise(r => sb.addEventListener('updateend', r, {once: true})); pos = end + 1;
    }
    ms.endOfStream();
  });
}

function watch() {
  const ps = player.playabilityStatus;
  root.innerHTML = `<ytd-watch-flexy video-id="${player.videoDetails ? player.videoDetails.videoId : ''}"><div id="player"><div id="movie_player" class="html5-video-player"><div class="html5-video-container"><video class="video-stream html5-main-video" muted playsinline></video></div></div></div><div id="below"></div></ytd-watch-flexy>`;
  if (ps.status !== 'OK') {
    root.querySelector('#movie_player').innerHTML = `<div class="ytp-error" role="alert"><div class="ytp-error-content-wrap-reason"><span>${esc(txt(ps.errorScreen.playerErrorMessageRenderer.reason))}</span></div><div class="ytp-error-content-wrap-subreason"><span>${esc(txt(ps.errorScreen.playerErrorMessageRenderer.subreason))}</span></div></div>`;
    return;
  }
  playVideo(root.querySelector('video'), player.streamingData.adaptiveFormats[0]);
  const c = data.contents.twoColumnWatchNextResults.results.results.contents;
  const pri = c[0].videoPrimaryInfoRenderer, sec = c[1].videoSecondaryInfoRenderer, like = pri.videoActions.menuRenderer.topLevelButtons[0].segmentedLikeDislikeButtonViewModel.likeButtonViewModel.likeButtonViewModel.toggleButtonViewModel.toggleButtonViewModel.defaultButtonViewModel.buttonViewModel;
  const d = sec.attributedDescription; let desc = '', pos = 0; const units = d.content;
  for (const r of d.commandRuns) { desc += esc(units.slice(pos, r.startIndex)); desc += `<a class="yt-core-attributed-string__link" href="${r.onTap.innertubeCommand.commandMetadata.webCommandMetadata.url}">${esc(units.substr(r.startIndex, r.length))}</a>`; pos = r.startIndex + r.length; }
  desc += esc(units.slice(pos));
  const owner = sec.owner.videoOwnerRenderer;
  root.querySelector('#below').innerHTML = `<ytd-watch-metadata><div id="title"><h1><yt-formatted-string>${esc(txt(pri.title))}</yt-formatted-string></h1></div>
    <div id="owner"><ytd-video-owner-renderer><ytd-channel-name><a href="${owner.title.runs[0].navigationEndpoint.browseEndpoint.canonicalBaseUrl}">${esc(owner.title.runs[0].text)}</a></ytd-channel-name><yt-formatted-string id="owner-sub-count">${esc(txt(owner.subscriberCountText))}</yt-formatted-string></ytd-video-owner-renderer></div>
    <like-button-view-model><button aria-label="${esc(like.accessibilityText)}"><div class="yt-spec-button-shape-next__button-text-content">${esc(like.title)}</div></button></like-button-view-model>
    <div id="description"><div id="info-container"><yt-formatted-string id="info"><span>${esc(txt(pri.viewCount.videoViewCountRenderer.viewCount))}</span> <span>${esc(txt(pri.dateText))}</span></yt-formatted-string></div>
    <yt-attributed-string id="attributed-snippet-text"><span class="yt-core-attributed-string">${desc.replace(/\n/g, '<br>')}</span></yt-attributed-string></div></ytd-watch-metadata>
    <ytd-comments id="comments"><ytd-item-section-renderer id="sections"><div id="header"></div><div id="contents"></div></ytd-item-section-renderer></ytd-comments>`;
  const list = root.querySelector('#comments #contents'), head = root.querySelector('#comments #header');
  const add = items => items.forEach(it => {
    if (it.commentsHeaderRenderer) head.innerHTML = `<ytd-comments-header-renderer><h2 id="count"><span>${esc(txt(it.commentsHeaderRenderer.countText))}</span></h2></ytd-comments-header-renderer>`;
    if (it.commentThreadRenderer) { const cr = it.commentThreadRenderer.comment.commentRenderer;
      list.insertAdjacentHTML('beforeend', `<ytd-comment-thread-renderer><ytd-comment-view-model id="comment" data-comment-id="${cr.commentId}"><div id="author-thumbnail"><img src="${cr.authorThumbnail.thumbnails[0].url}" alt=""></div>
        <div id="header-author"><a id="author-text" href="${cr.authorEndpoint.browseEndpoint.canonicalBaseUrl}"><span>${esc(txt(cr.authorText))}</span></a><span id="published-time-text"><a href="/watch?v=${player.videoDetails.videoId}&lc=${cr.commentId}">${esc(txt(cr.publishedTimeText))}</a></span></div>
        <div id="content"><yt-attributed-string id="content-text"><span class="yt-core-attributed-string">${esc(txt(cr.contentText))}</span></yt-attributed-string></div>
        <div id="toolbar"><span id="vote-count-middle" aria-label="${esc(txt(cr.voteCount))} likes">${esc(txt(cr.voteCount))}</span></div></ytd-comment-view-model></ytd-comment-thread-renderer>`); }
    if (it.continuationItemRenderer) { list.insertAdjacentHTML('beforeend', '<ytd-continuation-item-renderer><tp-yt-paper-spinner active></tp-yt-paper-spinner></ytd-continuation-item-renderer>');
      const spin = list.lastElementChild; onShown(spin, () => api('next', {continuation: it.continuationItemRenderer.continuationEndpoint.continuationCommand.token}).then(j => { spin.remove(); const e = j.onResponseReceivedEndpoints[0]; add((e.reloadContinuationItemsCommand || e.appendContinuationItemsAction).continuationItems); })); }
  });
  add(c[2].itemSectionRenderer.contents);
}

if (player) watch(); else if (data.header) channel();
})();
"""

"""Crawls written with the crawler's own WARC writer, without a browser: for the rules.

Each page becomes what the crawler writes for it (crawler/warc_writer.py, crawler/capture.py):
the main response, media responses, an urn:objects record and an urn:pageinfo record, in a
WARC whose warcinfo names the crawl; plus the crawl report that marks the crawl finished.
The end-to-end tests (test_changes_e2e.py) check the same reading against real crawls.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bewaar.model import OBJECTS_URN, PAGEINFO_URN, SCREENSHOT_URN, Root
from crawler.recorder import Exchange
from crawler.warc_writer import Resource, WarcFiles, warcinfo_fields

BASE = "https://social.example"


def post(
    pid: str, text: str, page: str | None = None, media: list[str] | None = None,
    published: str | None = "2024-05-01T09:00:00Z", reply_to: str | None = None,
    likes: int = 1, title: str | None = None, handle: str = "minbzk",
) -> dict[str, Any]:  # fmt: skip
    url = f"{BASE}/@{handle}/{pid}"
    return {
        "type": "post", "schema": 1, "platform": "mastodon", "adapter": "mastodon@1.0",
        "url": url, "page_url": page or url, "captured_at": "2024-05-01T10:00:00Z",
        "id": pid, "author": {"handle": f"{handle}@social.example", "name": "BZK"},
        "title": title, "text": text, "published_at": published,
        "media": [{"kind": "photo", "url": m} for m in (media or [])],
        "reply_to": {"id": reply_to} if reply_to else None,
        "counts": {"reactions": likes, "reposts": 0},
    }  # fmt: skip


def profile(bio: str = "Officieel account", avatar: str = f"{BASE}/avatars/a.png",
            followers: int = 100, handle: str = "minbzk") -> dict[str, Any]:  # fmt: skip
    return {
        "type": "profile", "schema": 1, "platform": "mastodon", "adapter": "mastodon@1.0",
        "url": f"{BASE}/@{handle}", "page_url": f"{BASE}/@{handle}",
        "captured_at": "2024-05-01T10:00:00Z", "handle": f"{handle}@social.example",
        "name": "BZK", "bio": bio, "avatar": avatar, "links": [],
        "counts": {"followers": followers, "posts": 10},
    }  # fmt: skip


@dataclass
class Page:
    url: str
    kind: str  # profile | post | recheck
    objects: list[dict[str, Any]] = field(default_factory=list)
    outcome: str = "ok"
    status: int = 200
    reason: str = ""
    post_id: str | None = None
    media: dict[str, bytes] = field(default_factory=dict)  # URL -> bytes loaded by the page
    screenshot: bytes | None = None  # a PNG, written as the crawler's urn:screenshot: record


def profile_page(*objects: dict[str, Any], media: dict[str, bytes] | None = None,
                 handle: str = "minbzk") -> Page:  # fmt: skip
    return Page(f"{BASE}/@{handle}", "profile", list(objects), media=media or {})


def post_page(obj: dict[str, Any], *more: dict[str, Any], media: dict[str, bytes] | None = None) -> Page:
    return Page(obj["url"], "post", [obj, *more], media=media or {})


def recheck(pid: str, outcome: str, status: int, reason: str = "", objects: list | None = None) -> Page:
    return Page(f"{BASE}/@minbzk/{pid}", "recheck", objects or [], outcome, status, reason, pid)


class Synth:
    def __init__(self, root: Path, collection: str = "gov") -> None:
        self.root = Root(root)
        self.coll = self.root.collection(collection).ensure()
        self.n = 0

    def crawl(self, when: str, pages: list[Page], report: bool = True, handle: str = "minbzk") -> str:
        """Write one crawl of an account started at `when` (ISO, seconds); pages one second
        apart."""
        from datetime import datetime, timedelta

        self.n += 1
        start = datetime.fromisoformat(when.replace("Z", "+00:00"))
        crawl_id = start.strftime("%Y%m%dT%H%M%SZ") + f"-{self.n:04x}"
        files = WarcFiles(self.coll, crawl_id, warcinfo_fields("bewaar/test", {"isPartOf": self.coll.name}))
        files._stamp = start.strftime("%Y%m%d%H%M%S")  # name files by the crawl's time
        for i, page in enumerate(pages):
            at = start + timedelta(seconds=i)
            captured = at.strftime("%Y-%m-%dT%H:%M:%SZ")
            body = f"<html><title>{page.kind}</title></html>".encode()
            exchanges = [_exchange(page.url, page.status, body, "text/html", at.timestamp(), main=True)]
            for url, data in page.media.items():
                exchanges.append(_exchange(url, 200, data, "image/png", at.timestamp()))
            resources = []
            if page.screenshot is not None:
                resources.append(Resource(SCREENSHOT_URN + page.url, "resource", "image/png", page.screenshot))
            if page.objects:
                objs = [dict(o, page_url=o.get("page_url") or page.url, captured_at=captured)
                        for o in page.objects]  # fmt: skip
                resources.append(Resource(OBJECTS_URN + page.url, "metadata", "application/json",
                                          json.dumps(objs).encode()))  # fmt: skip
            target = {"seed": 0, "depth": 0 if page.kind == "profile" else 1, "kind": page.kind,
                      "account": f"mastodon:{handle}", "platform": "mastodon", "handle": handle}  # fmt: skip
            if page.post_id:
                target["post_id"] = page.post_id
            info = {"url": page.url, "final_url": page.url, "status": page.status, "title": page.kind,
                    "captured_at": captured, "outcome": page.outcome, "reason": page.reason,
                    "target": target}  # fmt: skip
            resources.append(Resource(PAGEINFO_URN + page.url, "metadata", "application/json",
                                      json.dumps(info).encode()))  # fmt: skip
            files.write_page(exchanges, resources, main_url=page.url)
        files.close()
        if report:
            self.finish(crawl_id)
        return crawl_id

    def finish(self, crawl_id: str) -> None:
        path = self.coll.path / "crawls" / f"{crawl_id}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"crawl_id": crawl_id, "collection": self.coll.name}))


def _exchange(url: str, status: int, body: bytes, mime: str, when: float, main: bool = False) -> Exchange:
    return Exchange(
        request_id=url, url=url, method="GET", request_headers=[("User-Agent", "test")],
        wall_time=when, status=status, status_text="OK" if status == 200 else "Not Found",
        response_headers=[("Content-Type", mime)], mime=mime, body=body, finished=True,
        is_main_document=main, resource_type="Document" if main else "Image",
    )  # fmt: skip

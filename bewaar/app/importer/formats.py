"""Readers of the platforms' own account exports, each to the format the platform publishes.

Every reader turns an export into information objects marked `source: export` (a profile,
with follow relations where the export lists them, and posts) and names the export's media
files; the importer writes those as WARC resource records. Where the export gives the post's
platform id (X, Mastodon, LinkedIn, YouTube) the object keeps it, so the catalog joins it with
the browser's capture of the same post; Meta's exports give none, so a post there is matched
to a captured post of the account by its time and text (`match`), else it gets an id of its
own ("export-TIMESTAMP").

Formats (paths as the platforms document them; each reader says what it reads):
  x          X archive zip: data/tweets.js (window.YTD.tweets.part0 = [...]), account.js,
             profile.js, follower.js / following.js, data/tweets_media/ID-NAME
  facebook   Meta "Download your information", JSON: your_facebook_activity/posts/
             your_posts__check_ins__photos_and_videos_1.json (older: posts/your_posts_1.json),
             profile_information/profile_information.json, connections/followers/*.json
  instagram  Meta "Download your information", JSON: your_instagram_activity/content/
             posts_1.json and stories.json (older: content/...), personal_information/...,
             connections/followers_and_following/followers_1.json and following.json
  mastodon   Mastodon's account archive (tar.gz or zip): outbox.json (ActivityPub
             OrderedCollection of Create/Announce activities), actor.json, media_attachments/
  linkedin   LinkedIn's data export zip: Shares.csv, Comments.csv, Profile.csv, Connections.csv
  youtube    Google Takeout: YouTube and YouTube Music/video metadata/videos.csv, channels/
             channel.csv, comments/comments.csv, videos/*.mp4
Meta's JSON writes text as UTF-8 bytes escaped one by one ("\u00f0\u009f\u0098\u0080"); it is
decoded back (`meta_text`).
"""

from __future__ import annotations

import csv
import html
import io
import json
import mimetypes
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from bewaar.app.importer.archive import ExportArchive
from bewaar.errors import InputError
from bewaar.objects import SCHEMA_VERSION, iso_utc, validate_object

READER_VERSION = "1"


@dataclass
class Context:
    """Who the export belongs to and how its objects are named."""

    platform: str
    handle: str  # normalised, as the platform writes it in URLs
    base_url: str  # the platform's site (or a test fixture)
    captured_at: str  # when it was imported (ISO UTC)
    page_url: str  # the urn of the export's own WARC record
    media_prefix: str  # urn prefix of the export's media records
    post_url: Callable[[str, str], str]  # (author handle, id) -> the post's URL
    account_type: str = "corporate"

    def media_urn(self, path: str) -> str:
        """The WARC-Target-URI of a media file of the export (no spaces: percent-encoded)."""
        return self.media_prefix + quote(path, safe="/")


@dataclass
class ExportRead:
    profile: dict[str, Any] | None = None
    posts: list[dict[str, Any]] = field(default_factory=list)
    media: dict[str, str] = field(default_factory=dict)  # archive path -> mime
    notes: list[str] = field(default_factory=list)


def obj(ctx: Context, type_: str, url: str, **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": type_, "schema": SCHEMA_VERSION, "platform": ctx.platform,
        "adapter": f"{ctx.platform}@export.{READER_VERSION}", "url": url,
        "page_url": ctx.page_url, "captured_at": ctx.captured_at,
        "account_type": ctx.account_type, "source": "export",
    }  # fmt: skip
    out.update({k: v for k, v in fields.items() if v not in (None, "", [], {})})
    return validate_object(out).to_dict()


def media_item(ctx: Context, read: ExportRead, archive: ExportArchive, path: str | None,
               alt: str | None = None, kind: str | None = None) -> dict[str, Any] | None:  # fmt: skip
    """A media file of the export, as an object's media entry naming its record."""
    if not path or path not in archive.files:
        return None
    mime = mimetypes.guess_type(path)[0] or "application/octet-stream"
    read.media[path] = mime
    guessed = "video" if mime.startswith("video/") else "audio" if mime.startswith("audio/") else "photo"
    return {"kind": kind or guessed, "url": ctx.media_urn(path), "mime": mime, "alt": alt or None}


def hashtags(text: str | None) -> list[str]:
    return list(dict.fromkeys(re.findall(r"(?:^|(?<=[\s(]))#(\w+)", text or "")))


def meta_text(s: Any) -> Any:
    """Meta's exports escape UTF-8 bytes as code points; put the characters back."""
    if not isinstance(s, str):
        return s
    try:
        return s.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return s


def _json(archive: ExportArchive, path: str) -> Any:
    try:
        return json.loads(archive.text(path))
    except ValueError as e:
        raise InputError(f"{archive.name}: {path} is not JSON ({e})") from None


def _ytd(archive: ExportArchive, path: str) -> list[Any]:
    """X's data files: `window.YTD.NAME.partN = [...]`."""
    text = archive.text(path)
    m = re.match(r"\s*window\.YTD\.[\w.]+\s*=\s*", text)
    try:
        data = json.loads(text[m.end():] if m else text)
    except ValueError as e:
        raise InputError(f"{archive.name}: {path} is not an X archive data file ({e})") from None
    return data if isinstance(data, list) else []


def _csv(archive: ExportArchive, path: str, header_starts: str = "") -> list[dict[str, str]]:
    """CSV rows; LinkedIn puts notes above the header (skipped up to `header_starts`)."""
    text = archive.text(path)
    if header_starts and not text.startswith(header_starts):
        at = text.find("\n" + header_starts)
        text = text[at + 1:] if at >= 0 else text
    return [{k.strip(): (v or "").strip() for k, v in row.items() if k} for row in csv.DictReader(io.StringIO(text))]


# --------------------------------------------------------------------------- X


def read_x(archive: ExportArchive, ctx: Context) -> ExportRead:
    read = ExportRead()
    tweets_files = archive.find("**/data/tweets.js", "**/data/tweet.js", "**/data/tweets-part*.js")
    if not tweets_files:
        raise InputError(f"{archive.name}: no data/tweets.js: not an X archive (Settings > Your account > Download an archive)")
    account = next(iter(_ytd(archive, p) for p in archive.find("**/data/account.js")), [])
    acc = (account[0] if account else {}).get("account", {})
    profile = next(iter(_ytd(archive, p) for p in archive.find("**/data/profile.js")), [])
    prof = (profile[0] if profile else {}).get("profile", {})
    handle = acc.get("username") or ctx.handle
    relations = []
    for kind, name in (("follower", "follower"), ("following", "following")):
        for p in archive.find(f"**/data/{name}.js"):
            for row in _ytd(archive, p):
                who = row.get(name) or {}
                if who.get("accountId"):
                    relations.append({"type": kind, "account": {"id": who["accountId"], "url": who.get("userLink")}})
    desc = prof.get("description") or {}
    read.profile = obj(
        ctx, "profile", f"{ctx.base_url}/{handle}", handle=handle, id=acc.get("accountId"),
        name=acc.get("accountDisplayName"), bio=desc.get("bio"), location=desc.get("location"),
        links=[{"url": desc["website"]}] if desc.get("website") else [],
        created_at=iso_utc(acc.get("createdAt")), relations=relations,
    )  # fmt: skip
    media_dir = {p.rsplit("/", 1)[-1]: p for p in archive.find("**/data/tweets_media/*")}
    for p in tweets_files:
        for row in _ytd(archive, p):
            t = row.get("tweet", row)
            if not t.get("id_str"):
                continue
            full = t.get("full_text") or ""
            lo, hi = (int(x) for x in (t.get("display_text_range") or [0, len(full)])[:2])
            text = full[lo:hi]
            for u in (t.get("entities") or {}).get("urls") or []:
                if u.get("url") and u.get("expanded_url"):
                    text = text.replace(u["url"], u["expanded_url"])
            media = []
            for m in (t.get("extended_entities") or {}).get("media") or []:
                name = f"{t['id_str']}-{(m.get('media_url_https') or '').rsplit('/', 1)[-1]}"
                item = media_item(ctx, read, archive, media_dir.get(name), m.get("ext_alt_text"),
                                  {"photo": "photo", "video": "video", "animated_gif": "gif"}.get(m.get("type", "")))  # fmt: skip
                if item:
                    media.append(item)
            reply = t.get("in_reply_to_status_id_str")
            reply_user = t.get("in_reply_to_screen_name")
            read.posts.append(obj(
                ctx, "post", ctx.post_url(handle, t["id_str"]), id=t["id_str"],
                author={"handle": handle, "name": acc.get("accountDisplayName"), "id": acc.get("accountId")},
                text=html.unescape(text).strip(), language=t.get("lang"),
                published_at=iso_utc(t.get("created_at")), hashtags=hashtags(text),
                mentions=[{"handle": m["screen_name"], "name": m.get("name"), "id": m.get("id_str")}
                          for m in (t.get("entities") or {}).get("user_mentions") or [] if m.get("screen_name")],
                links=[{"url": u.get("expanded_url") or u["url"], "text": u.get("display_url")}
                       for u in (t.get("entities") or {}).get("urls") or [] if u.get("url")],
                media=media,
                reply_to={"id": reply, "author": reply_user,
                          "url": ctx.post_url(reply_user, reply) if reply_user else None} if reply else None,
                counts={"reactions": _int(t.get("favorite_count")), "reposts": _int(t.get("retweet_count"))},
            ))  # fmt: skip
    return read


def _int(v: Any) -> int | None:
    return int(v) if str(v or "").isdigit() else None


# --------------------------------------------------------------------------- Meta


def _stamp(v: Any) -> str | None:
    return iso_utc(int(v)) if str(v or "").isdigit() else None


def read_facebook(archive: ExportArchive, ctx: Context) -> ExportRead:
    read = ExportRead()
    files = archive.find("**/posts/your_posts__check_ins__photos_and_videos_*.json",
                         "**/posts/your_posts_*.json", "**/posts/profile_posts_*.json")  # fmt: skip
    if not files:
        raise InputError(f"{archive.name}: no posts/your_posts…_1.json: not a Facebook export in JSON format")
    name = None
    prof_path = archive.first("**/profile_information/profile_information.json")
    if prof_path:
        info = _json(archive, prof_path).get("profile_v2") or {}
        name = meta_text((info.get("name") or {}).get("full_name"))
    relations = []
    for p in archive.find("**/connections/followers/*.json", "**/followers_and_following/*follow*.json"):
        data = _json(archive, p)
        rows = next((v for v in data.values() if isinstance(v, list)), []) if isinstance(data, dict) else data
        kind = "following" if "following" in p.rsplit("/", 1)[-1] else "follower"
        for row in rows or []:
            if isinstance(row, dict) and row.get("name"):
                relations.append({"type": kind, "account": {"name": meta_text(row["name"])},
                                  "since": _stamp(row.get("timestamp"))})  # fmt: skip
    read.profile = obj(ctx, "profile", f"{ctx.base_url}/{ctx.handle}", handle=ctx.handle, name=name,
                       relations=relations)  # fmt: skip
    for p in files:
        for row in _json(archive, p) or []:
            if not isinstance(row, dict):
                continue
            text = next((meta_text(d["post"]) for d in row.get("data") or [] if isinstance(d, dict) and d.get("post")), None)
            media, links = [], []
            for att in row.get("attachments") or []:
                for d in att.get("data") or []:
                    m = d.get("media") or {}
                    item = media_item(ctx, read, archive, m.get("uri"), meta_text(m.get("description")))
                    if item:
                        media.append(item)
                    url = (d.get("external_context") or {}).get("url")
                    if url:
                        links.append({"url": url})
            when = _stamp(row.get("timestamp"))
            read.posts.append(obj(
                ctx, "post", "", id=f"export-{row.get('timestamp')}",
                author={"handle": ctx.handle, "name": name}, text=text, published_at=when,
                hashtags=hashtags(text), media=media, links=links,
            ))  # fmt: skip
    return read


def read_instagram(archive: ExportArchive, ctx: Context) -> ExportRead:
    read = ExportRead()
    files = archive.find("**/content/posts_*.json")
    if not files:
        raise InputError(f"{archive.name}: no content/posts_1.json: not an Instagram export in JSON format")
    name, handle = None, ctx.handle
    p = archive.first("**/personal_information/personal_information.json")
    if p:
        m = ((_json(archive, p).get("profile_user") or [{}])[0]).get("string_map_data") or {}
        name = meta_text((m.get("Name") or {}).get("value"))
        handle = (m.get("Username") or {}).get("value") or handle
    relations = []
    for p in archive.find("**/followers_and_following/followers_*.json", "**/followers_and_following/following.json"):
        data = _json(archive, p)
        rows = data.get("relationships_following", []) if isinstance(data, dict) else data
        kind = "following" if p.endswith("following.json") else "follower"
        for row in rows or []:
            for s in row.get("string_list_data") or []:
                if s.get("value"):
                    relations.append({"type": kind, "account": {"handle": s["value"], "url": s.get("href")},
                                      "since": _stamp(s.get("timestamp"))})  # fmt: skip
    read.profile = obj(ctx, "profile", f"{ctx.base_url}/{handle}/", handle=handle, name=name, relations=relations)
    for p in files:
        for row in _json(archive, p) or []:
            items = row.get("media") or []
            text = meta_text(row.get("title") or (items[0].get("title") if items else None))
            when = row.get("creation_timestamp") or (items[0].get("creation_timestamp") if items else None)
            media = [m for m in (media_item(ctx, read, archive, i.get("uri")) for i in items) if m]
            read.posts.append(obj(ctx, "post", "", id=f"export-{when}", author={"handle": handle, "name": name},
                                  text=text, published_at=_stamp(when), hashtags=hashtags(text), media=media))  # fmt: skip
    for p in archive.find("**/content/stories.json"):
        for s in _json(archive, p).get("ig_stories") or []:
            when = _stamp(s.get("creation_timestamp"))
            media = [m for m in [media_item(ctx, read, archive, s.get("uri"))] if m]
            read.posts.append(obj(ctx, "post", "", id=f"export-story-{s.get('creation_timestamp')}",
                                  author={"handle": handle, "name": name}, text=meta_text(s.get("title")) or None,
                                  published_at=when, story=True, media=media))  # fmt: skip
    return read


# --------------------------------------------------------------------------- Mastodon


def read_mastodon(archive: ExportArchive, ctx: Context) -> ExportRead:
    read = ExportRead()
    path = archive.first("**/outbox.json")
    if not path:
        raise InputError(f"{archive.name}: no outbox.json: not a Mastodon account archive")
    actor_path = archive.first("**/actor.json")
    actor = _json(archive, actor_path) if actor_path else {}
    handle = ctx.handle
    prefix = path[: -len("outbox.json")]
    links = []
    for a in actor.get("attachment") or []:
        value = re.search(r'href="([^"]+)"', a.get("value") or "")
        if value:
            links.append({"url": html.unescape(value.group(1)), "text": a.get("name")})
    read.profile = obj(
        ctx, "profile", actor.get("url") or f"{ctx.base_url}/@{handle.split('@')[0]}", handle=handle,
        name=actor.get("name"), bio=_html_text(actor.get("summary")), links=links,
        created_at=iso_utc(actor.get("published")),
    )  # fmt: skip
    for act in _json(archive, path).get("orderedItems") or []:
        note = act.get("object")
        if act.get("type") != "Create" or not isinstance(note, dict) or note.get("type") not in ("Note", "Question"):
            continue
        sid = (note.get("id") or "").rstrip("/").rsplit("/", 1)[-1]
        text = _html_text(note.get("content"))
        media = []
        for a in note.get("attachment") or []:
            item = media_item(ctx, read, archive, prefix + (a.get("url") or "").lstrip("/"), a.get("name"))
            if item:
                media.append(item)
        tags = note.get("tag") or []
        parent = note.get("inReplyTo")
        parent_author = _acct_of(parent)
        read.posts.append(obj(
            ctx, "post", note.get("url") or ctx.post_url(handle, sid), id=sid,
            author={"handle": handle, "name": actor.get("name"), "url": actor.get("url")},
            title=note.get("summary") or None, text=text,
            language=next(iter(note.get("contentMap") or {}), None),
            published_at=iso_utc(note.get("published")),
            hashtags=[t["name"].lstrip("#") for t in tags if t.get("type") == "Hashtag" and t.get("name")],
            mentions=[{"handle": t["name"].lstrip("@"), "url": t.get("href")} for t in tags
                      if t.get("type") == "Mention" and t.get("name")],
            media=media,
            reply_to={"id": parent.rstrip("/").rsplit("/", 1)[-1], "author": parent_author,
                      "url": parent} if parent else None,
        ))  # fmt: skip
    return read


def _acct_of(url: str | None) -> str | None:
    """user@server from an ActivityPub status URL (…/users/NAME/statuses/ID)."""
    if not url:
        return None
    parts = urlsplit(url)
    m = re.match(r"^/users/([\w.]+)/statuses/", parts.path) or re.match(r"^/@([\w.]+)/", parts.path)
    return f"{m.group(1)}@{parts.netloc.split(':')[0]}" if m else None


def _html_text(s: str | None) -> str | None:
    if not s:
        return None
    s = re.sub(r"<br\s*/?>", "\n", s)
    s = re.sub(r"</p>\s*<p>", "\n\n", s)
    s = re.sub(r'<span class="invisible">[^<]*</span>', lambda m: re.sub(r"<[^>]+>", "", m.group(0)), s)
    return html.unescape(re.sub(r"<[^>]+>", "", s)).strip()


# --------------------------------------------------------------------------- LinkedIn


def _li_id(url: str) -> str | None:
    m = re.search(r"urn:li:(?:activity|share|ugcPost):(\d+)", unquote(url or ""))
    return m.group(1) if m else None


def _li_date(s: str) -> str | None:
    for fmt in ("%Y-%m-%d %H:%M:%S", "%d %b %Y"):
        try:
            return datetime.strptime(s, fmt).replace(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            continue
    return None


def read_linkedin(archive: ExportArchive, ctx: Context) -> ExportRead:
    read = ExportRead()
    shares = archive.first("**/Shares.csv")
    if not shares:
        raise InputError(f"{archive.name}: no Shares.csv: not a LinkedIn data export")
    name = None
    p = archive.first("**/Profile.csv")
    if p:
        rows = _csv(archive, p)
        if rows:
            name = " ".join(x for x in (rows[0].get("First Name"), rows[0].get("Last Name")) if x) or None
    relations = []
    p = archive.first("**/Connections.csv")
    if p:
        for r in _csv(archive, p, "First Name"):
            who = " ".join(x for x in (r.get("First Name"), r.get("Last Name")) if x)
            if who or r.get("URL"):
                relations.append({"type": "following", "account": {"name": who or None, "url": r.get("URL") or None},
                                  "since": _li_date(r.get("Connected On", ""))})  # fmt: skip
    read.profile = obj(ctx, "profile", f"{ctx.base_url}/{ctx.handle}/", handle=ctx.handle, name=name, relations=relations)
    for r in _csv(archive, shares):
        text = r.get("ShareCommentary") or None
        pid = _li_id(r.get("ShareLink", ""))
        read.posts.append(obj(
            ctx, "post", r.get("ShareLink") or "", id=pid or f"export-{r.get('Date')}",
            author={"handle": ctx.handle, "name": name}, text=text, published_at=_li_date(r.get("Date", "")),
            hashtags=hashtags(text), links=[{"url": r["SharedUrl"]}] if r.get("SharedUrl") else [],
        ))  # fmt: skip
    p = archive.first("**/Comments.csv")
    for r in _csv(archive, p) if p else []:
        parent = _li_id(r.get("Link", ""))
        read.posts.append(obj(
            ctx, "post", r.get("Link") or "", id=f"export-comment-{r.get('Date')}",
            author={"handle": ctx.handle, "name": name}, text=r.get("Message") or None,
            published_at=_li_date(r.get("Date", "")),
            reply_to={"id": parent, "url": r.get("Link") or None} if parent else None,
        ))  # fmt: skip
    return read


# --------------------------------------------------------------------------- YouTube


def _takeout_time(s: str) -> str | None:
    s = (s or "").strip().replace(" UTC", "+00:00")
    return iso_utc(s.replace(" ", "T", 1) if re.match(r"\d{4}-\d{2}-\d{2} \d", s) else s)


def read_youtube(archive: ExportArchive, ctx: Context) -> ExportRead:
    read = ExportRead()
    videos = archive.first("**/video metadata/videos.csv", "**/video metadata/video.csv")
    if not videos:
        raise InputError(f"{archive.name}: no 'video metadata/videos.csv': not a YouTube Takeout export")
    channel = {}
    p = archive.first("**/channels/channel.csv")
    if p:
        rows = _csv(archive, p)
        channel = rows[0] if rows else {}
    name = channel.get("Channel Title (Original)") or None
    read.profile = obj(ctx, "profile", f"{ctx.base_url}/@{ctx.handle}", handle=ctx.handle,
                       id=channel.get("Channel ID") or None, name=name)  # fmt: skip
    files = {p.rsplit("/", 1)[-1].rsplit(".", 1)[0]: p for p in archive.find("**/videos/*.mp4", "**/videos/*.webm")}
    for r in _csv(archive, videos):
        vid, title = r.get("Video ID"), r.get("Video Title (Original)") or None
        if not vid:
            continue
        ms = r.get("Approx Duration (ms)")
        item = media_item(ctx, read, archive, files.get(title or "") or files.get(vid), kind="video")
        if item and ms and ms.isdigit():
            item["duration"] = int(ms) / 1000
        text = r.get("Video Description (Original)") or None
        read.posts.append(obj(
            ctx, "post", f"{ctx.base_url}/watch?v={vid}", id=vid,
            author={"handle": ctx.handle, "name": name, "id": r.get("Channel ID") or None},
            title=title, text=text, hashtags=hashtags(text), language=r.get("Video Audio Language") or None,
            published_at=_takeout_time(r.get("Video Publish Timestamp") or r.get("Video Create Timestamp", "")),
            media=[item] if item else [],
        ))  # fmt: skip
    p = archive.first("**/comments/comments.csv")
    for r in _csv(archive, p) if p else []:
        text = "".join(seg.get("text", "") for seg in _segments(r.get("Comment Text", "")))
        parent = r.get("Parent Comment ID") or r.get("Video ID") or None
        read.posts.append(obj(
            ctx, "post", f"{ctx.base_url}/watch?v={r.get('Video ID')}&lc={r.get('Comment ID')}",
            id=r.get("Comment ID") or f"export-comment-{r.get('Comment Create Timestamp')}",
            author={"handle": ctx.handle, "name": name, "id": r.get("Channel ID") or None},
            text=text or None, published_at=_takeout_time(r.get("Comment Create Timestamp", "")),
            reply_to={"id": parent, "url": f"{ctx.base_url}/watch?v={r.get('Video ID')}"} if parent else None,
        ))  # fmt: skip
    return read


def _segments(text: str) -> list[dict[str, Any]]:
    """Takeout's comment text: JSON segments ({"text": …}), comma-joined."""
    try:
        data = json.loads(f"[{text}]")
    except ValueError:
        return [{"text": text}]
    return [d for d in data if isinstance(d, dict)]


READERS: dict[str, Callable[[ExportArchive, Context], ExportRead]] = {
    "x": read_x,
    "facebook": read_facebook,
    "instagram": read_instagram,
    "mastodon": read_mastodon,
    "linkedin": read_linkedin,
    "youtube": read_youtube,
}

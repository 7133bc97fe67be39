"""What counts as a change: the rules, as pure functions over information objects.

A post is *edited* when its text (or title) or its media changed. Counts (likes, reposts,
views) change on every crawl: they are stored with each sighting, never reported as edits.
Text is compared after Unicode NFC normalisation and collapsing whitespace, so re-rendering
does not look like an edit. A media item is the same when its payload digest (the bytes
captured) or its URL path is the same: platforms re-sign CDN URLs on every visit, and a
re-encoded file keeps its path.

A post read from a listing (profile timeline, thread) may show less than its own page (a
"show more" cut, the first photo of a carousel). Between a listing and a post page, a text
that is a cut-off start of the other, or media that are a subset of the other's, is "the same
post seen less completely": stored as a version, never reported as an edit.

A profile is changed when its name, bio, avatar, header, location, links or verified mark
changed; its counts (followers, ...) are reported separately, as `counts`.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

_SPACE = re.compile(r"\s+")
_CUT_MARKS = ("…", "...", "… more", "...more", "… meer", "…meer", "See more", "Show more")
_TOKEN = re.compile(r"\s+|\S+\s*")  # a word with the space after it


def norm_text(text: str | None) -> str:
    if not text:
        return ""
    return _SPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def url_path(url: str | None) -> str:
    """A media URL without scheme, query and fragment: what stays when a CDN re-signs it."""
    if not url:
        return ""
    parts = urlsplit(url)
    return parts.netloc.lower() + parts.path


@dataclass(frozen=True)
class MediaItem:
    kind: str
    url: str | None
    digest: str | None  # payload digest of the captured file, when it was captured

    @property
    def key(self) -> str:
        return self.digest or url_path(self.url) or f"{self.kind}:blob"

    def same(self, other: MediaItem) -> bool:
        if self.kind != other.kind:
            return False
        if self.digest and other.digest and self.digest == other.digest:
            return True
        if self.url or other.url:
            return url_path(self.url) == url_path(other.url)
        return True  # blob-only media of the same kind: nothing else to compare

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "url": self.url, "key": self.key}


def media_items(obj: dict[str, Any], digests: dict[str, str]) -> list[MediaItem]:
    out = []
    for m in obj.get("media") or []:
        url = m.get("url")
        out.append(MediaItem(m.get("kind") or "photo", url, digests.get(url) if url else None))
    return out


def media_from_json(data: str) -> list[MediaItem]:
    return [MediaItem(m["kind"], m.get("url"), _digest_of(m.get("key"))) for m in json.loads(data)]


def _digest_of(key: str | None) -> str | None:
    return key if key and key.startswith(("sha256:", "sha1:")) else None


def media_hash(items: list[MediaItem]) -> str:
    return sha256("\n".join(f"{m.kind} {m.key}" for m in items))


def post_text_hash(title: str | None, text: str | None) -> str:
    return sha256(norm_text(title) + "\x00" + norm_text(text))


def _strip_cut(text: str) -> str:
    for mark in _CUT_MARKS:
        if text.endswith(mark):
            return text[: -len(mark)].rstrip()
    return text


def is_cut_of(short: str, full: str) -> bool:
    """`short` is `full` cut off (with or without an ellipsis), as a listing shows it."""
    short, full = norm_text(short), norm_text(full)
    if short == full:
        return True
    stem = _strip_cut(short)
    return bool(stem) and len(stem) < len(full) and full.startswith(stem)


def same_media(a: list[MediaItem], b: list[MediaItem]) -> bool:
    return len(a) == len(b) and all(x.same(y) for x, y in zip(a, b, strict=True))


def media_subset(small: list[MediaItem], big: list[MediaItem]) -> bool:
    return all(any(x.same(y) for y in big) for x in small)


@dataclass(frozen=True)
class PostContent:
    title: str | None
    text: str | None
    media: list[MediaItem]
    source: str  # post | listing

    @property
    def text_hash(self) -> str:
        return post_text_hash(self.title, self.text)

    def identical(self, other: PostContent) -> bool:
        return self.text_hash == other.text_hash and same_media(self.media, other.media)


def explained_by_source(new: PostContent, old: PostContent) -> bool:
    """Different pages show one post differently: is the difference only that one of them
    shows less (cut text, fewer media)? Only applies between a listing and a post page."""
    if new.source == old.source:
        return False
    listing, full = (new, old) if new.source == "listing" else (old, new)
    text_ok = norm_text(listing.title) in ("", norm_text(full.title)) and is_cut_of(
        listing.text or "", full.text or ""
    )
    return text_ok and media_subset(listing.media, full.media)


def edited_fields(new: PostContent, old: PostContent) -> list[str]:
    fields = []
    if norm_text(new.title) != norm_text(old.title):
        fields.append("title")
    if norm_text(new.text) != norm_text(old.text):
        fields.append("text")
    if not same_media(new.media, old.media):
        fields.append("media")
    return fields


def word_diff(old: str | None, new: str | None) -> list[list[str]]:
    """[["=", same], ["-", removed], ["+", added], ...] by words (each with the space after
    it, so lone spaces never match and a rewrite reads as one change), whitespace kept."""
    a, b = _TOKEN.findall(old or ""), _TOKEN.findall(new or "")
    out: list[list[str]] = []

    def put(op: str, text: str) -> None:
        if not text:
            return
        if out and out[-1][0] == op:
            out[-1][1] += text
        else:
            out.append([op, text])

    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            put("=", "".join(a[i1:i2]))
        else:
            put("-", "".join(a[i1:i2]))
            put("+", "".join(b[j1:j2]))
    return out


def media_diff(new: list[MediaItem], old: list[MediaItem]) -> dict[str, Any]:
    return {
        "old": [m.to_dict() for m in old],
        "new": [m.to_dict() for m in new],
        "removed": [m.to_dict() for m in old if not any(m.same(n) for n in new)],
        "added": [m.to_dict() for m in new if not any(m.same(o) for o in old)],
    }


# --------------------------------------------------------------------------- profiles

PROFILE_FIELDS = ("name", "bio", "avatar", "header", "location", "links", "verified")
COUNT_KEYS = ("posts", "followers", "following", "likes", "views")


def profile_fields(obj: dict[str, Any], digests: dict[str, str]) -> dict[str, Any]:
    """The compared fields of a profile; images by digest or URL path."""
    links = [link.get("url") for link in obj.get("links") or [] if link.get("url")]

    def image_key(url: str | None) -> str | None:
        return (digests.get(url) or url_path(url)) if url else None

    return {
        "name": norm_text(obj.get("name")) or None,
        "bio": norm_text(obj.get("bio")) or None,
        "avatar": obj.get("avatar"),
        "avatar_key": image_key(obj.get("avatar")),
        "header": obj.get("header"),
        "header_key": image_key(obj.get("header")),
        "location": norm_text(obj.get("location")) or None,
        "links": links,
        "verified": obj.get("verified"),
    }


def profile_hash(f: dict[str, Any]) -> str:
    data = [f["name"], f["bio"], f["avatar_key"], f["header_key"], f["location"], f["links"],
            f["verified"]]  # fmt: skip
    return sha256(json.dumps(data, ensure_ascii=False))


def profile_changes(new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    """{field: {"old": .., "new": .., ["diff": word diff]}} for fields that changed."""
    out: dict[str, Any] = {}
    for name in PROFILE_FIELDS:
        key = f"{name}_key" if name in ("avatar", "header") else name
        if _image_same(name, new, old) if name in ("avatar", "header") else new[key] == old[key]:
            continue
        entry: dict[str, Any] = {"old": old[name], "new": new[name]}
        if name in ("bio", "name", "location"):
            entry["diff"] = word_diff(old[name], new[name])
        out[name] = entry
    return out


def _image_same(name: str, new: dict[str, Any], old: dict[str, Any]) -> bool:
    """An avatar is the same by digest or by URL path (see MediaItem.same)."""
    if new[f"{name}_key"] == old[f"{name}_key"]:
        return True
    return url_path(new[name]) == url_path(old[name])


def count_changes(new: dict[str, Any], old: dict[str, Any]) -> dict[str, list[int]]:
    """{key: [old, new]} for counts both crawls know and that differ."""
    return {
        k: [old[k], new[k]]
        for k in COUNT_KEYS
        if new.get(k) is not None and old.get(k) is not None and new[k] != old[k]
    }


def clean_counts(counts: dict[str, Any] | None) -> dict[str, int]:
    return {k: v for k, v in (counts or {}).items() if isinstance(v, int)}

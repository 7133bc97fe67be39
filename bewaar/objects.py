"""Information objects: what an archive needs to know about an account and its posts.

Adapters (crawler/platforms/) read them from a rendered page and the JSON it loaded; the crawler
stores them as a WARC `metadata` record tied to the page and as JSON Lines in
collections/NAME/objects/*.jsonl; a catalog later compares them between crawls (new, edited and
deleted posts by `id` and hashes of `text` and `media`). The shape is therefore strict:

- Unknown fields stay empty (null or []). Nothing is guessed or invented.
- `text` is the post's own text only (no author name, counts or "Show more"), with emoji and
  hashtags as the page shows them, so a hash of it changes only when the post is edited.
- Dates are ISO 8601 UTC (`2024-05-01T09:30:00Z`) where the page gives a machine-readable time
  (a `datetime` attribute, a timestamp in JSON). Where it only shows words ("3 h", "May 2019")
  the words go into the sibling `*_text` field and the ISO field stays null.
- Counts are integers. When the page shows only an abbreviated value ("1,2K", "3 mln") the
  integer is the best parse of it and `counts_text` keeps the shown text under the same key:
  a key in `counts_text` means "approximate, this is what the page showed".
- `schema` is the object-format version (bumped on incompatible changes); `adapter` is
  `platform@version` of the adapter that extracted the object. Version 2 added account
  photos in every account reference, reactions per type, action buttons, recipients,
  stories, follow relations, account types, out-of-scope marks and the object's source
  (browser or export); every version-1 object is a valid version-2 object (`upgrade()`).

`python -m bewaar.objects --schema` prints the JSON Schema (also kept in objects.schema.json).
"""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

SCHEMA_VERSION = 2
SCHEMA_VERSIONS = (1, 2)  # versions this bewaar reads
SCHEMA_FILE = Path(__file__).with_name("objects.schema.json")

_ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
ISO_UTC_PATTERN = _ISO_UTC.pattern

Platform = Literal[
    "x", "instagram", "facebook", "linkedin", "mastodon", "youtube", "tiktok", "snapchat", "generic"
]
MediaKind = Literal["photo", "video", "gif", "audio"]
AccountType = Literal["corporate", "project", "personal", "hybrid"]  # the guide's account types
Source = Literal["browser", "export"]  # captured from the web, or read from a platform export
RelationType = Literal["follower", "following"]
IsoUtc = Annotated[str, Field(pattern=ISO_UTC_PATTERN, examples=["2024-05-01T09:30:00Z"])]
Count = Annotated[int, Field(ge=0)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AccountRef(_Strict):
    """Who wrote a post, is mentioned or addressed: as much as the page shows."""

    handle: str | None = None  # without a leading "@"; Mastodon: user@server
    name: str | None = None
    url: str | None = None
    id: str | None = None  # the platform's own account id, where the page has it
    avatar: str | None = None  # (v2) the profile photo's URL as the page shows it
    # (v2) WARC-Payload-Digest of the captured photo ("sha256:BASE32"): with `avatar` (the
    # record's WARC-Target-URI) it names the record in this capture's WARC and the index
    avatar_digest: str | None = None


class PostRef(_Strict):
    """Another post this one replies to, quotes, reposts or links to."""

    id: str | None = None
    url: str | None = None
    author: str | None = None  # handle


class Link(_Strict):
    """A link to another site. `url` is the destination where the page gives it (a t.co or
    l.facebook.com redirect is resolved only when the page itself says where it goes)."""

    url: str
    text: str | None = None  # what the page shows for it


class Media(_Strict):
    """A photo, video, GIF or audio item, by the URL the page loads it from."""

    kind: MediaKind
    url: str | None = None  # the file, or a stream's playlist/manifest; None for blob-only media
    mime: str | None = None
    poster: str | None = None  # still image shown before a video plays
    alt: str | None = None
    width: int | None = None
    height: int | None = None
    duration: float | None = None  # seconds


class Place(_Strict):
    """A location attached to a post (Instagram location, TikTok place, live location)."""

    name: str | None = None
    url: str | None = None
    latitude: float | None = None
    longitude: float | None = None


class ProfileCounts(_Strict):
    posts: Count | None = None
    followers: Count | None = None
    following: Count | None = None
    likes: Count | None = None  # TikTok's total likes ("hearts")
    views: Count | None = None  # YouTube channel views


class Relation(_Strict):
    """(v2) A follower or followed account, as a follower/following list shows it."""

    type: RelationType
    account: AccountRef
    since: IsoUtc | None = None  # the platform's own date of the relation, where it shows one
    first_seen: IsoUtc | None = None  # when bewaar first saw the relation (an earlier crawl)


class OutOfScope(_Strict):
    """(v2) Why a post of a hybrid or personal account is not government information."""

    rule: str  # the seed's rule that matched: "hashtag:verkiezingen", "keyword:…", "date:A..B"
    matched: str  # what in the post matched it: "#Verkiezingen", a word, the date


class PostCounts(_Strict):
    reactions: Count | None = None  # likes, favourites, hearts, all reaction kinds together
    reposts: Count | None = None  # retweets, boosts, shares
    replies: Count | None = None  # replies or comments
    quotes: Count | None = None
    views: Count | None = None


class _Object(_Strict):
    type: Literal["profile", "post"]
    schema_: Literal[1, 2] = Field(SCHEMA_VERSION, alias="schema")
    platform: Platform
    adapter: Annotated[str, Field(pattern=r"^[a-z]+@[\w.]+$", examples=["x@1.0"])]
    url: str  # the object's own (canonical) URL
    page_url: str  # the captured page it was read from
    captured_at: IsoUtc
    # (v2) the seed's account type (the guide's: corporate, project, personal, hybrid)
    account_type: AccountType | None = None
    # (v2) browser: read from a captured page; export: from the platform's account export
    source: Source | None = None

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _counts_text_keys(self) -> _Object:
        counts = getattr(self, "counts", None)
        for key in getattr(self, "counts_text", {}):
            if counts is None or key not in type(counts).model_fields:
                raise ValueError(f"counts_text has '{key}', which is not a count of this object")
            if getattr(counts, key) is None:
                raise ValueError(f"counts_text has '{key}' but counts.{key} is empty")
        return self

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class Profile(_Object):
    """An account: what its profile page shows."""

    type: Literal["profile"] = "profile"
    id: str | None = None  # the platform's account id, where the page has it
    handle: str
    name: str | None = None
    bio: str | None = None
    avatar: str | None = None
    avatar_digest: str | None = None  # (v2) payload digest of the captured photo
    header: str | None = None  # banner / cover image
    location: str | None = None
    links: list[Link] = Field(default_factory=list)
    created_at: IsoUtc | None = None
    created_text: str | None = None  # e.g. "Joined March 2010" when there is no exact date
    verified: bool | None = None
    counts: ProfileCounts = Field(default_factory=ProfileCounts)
    counts_text: dict[str, str] = Field(default_factory=dict)
    # (v2) followers / following as the platform's lists show them (seed `follow_lists: N`)
    relations: list[Relation] = Field(default_factory=list)


class Post(_Object):
    """A post, video, comment or reply."""

    type: Literal["post"] = "post"
    id: str  # stable platform id; the catalog's key
    author: AccountRef = Field(default_factory=AccountRef)
    title: str | None = None  # videos (YouTube, ...) have a title besides the text
    text: str | None = None
    language: str | None = None
    published_at: IsoUtc | None = None
    published_text: str | None = None
    edited_at: IsoUtc | None = None
    hashtags: list[Annotated[str, Field(pattern=r"^[^#\s]")]] = Field(
        default_factory=list
    )  # no "#"
    mentions: list[AccountRef] = Field(default_factory=list)
    links: list[Link] = Field(default_factory=list)  # to other sites
    linked_posts: list[PostRef] = Field(default_factory=list)  # quoted / linked posts
    media: list[Media] = Field(default_factory=list)
    reply_to: PostRef | None = None
    # (v2) whom a reply or a direct mention addresses: the author replied to, or the account
    # a post opens with (@name …)
    recipient: AccountRef | None = None
    repost_of: PostRef | None = None
    pinned: bool | None = None
    location: Place | None = None
    counts: PostCounts = Field(default_factory=PostCounts)
    counts_text: dict[str, str] = Field(default_factory=dict)
    # (v2) reaction counts per type where the platform shows them ({"like": 120, "love": 8});
    # counts.reactions stays their sum (or the one count shown)
    reactions: dict[Annotated[str, Field(pattern=r"^[a-z_]+$")], Count] = Field(default_factory=dict)
    # (v2) the action buttons shown with the post, in page order ("reply", "repost", "like")
    actions: list[str] = Field(default_factory=list)
    story: bool | None = None  # (v2) temporary content (a story item)
    expires_at: IsoUtc | None = None  # (v2) when temporary content disappears from the platform
    out_of_scope: OutOfScope | None = None  # (v2) set by the seed's rules, not by the page


InformationObject = Annotated[Profile | Post, Field(discriminator="type")]
_ADAPTER: TypeAdapter[Profile | Post] = TypeAdapter(InformationObject)


def validate_object(data: dict[str, Any]) -> Profile | Post:
    """A Profile or Post from a dict (e.g. one JSONL line) of any version this bewaar reads;
    pydantic.ValidationError if bad."""
    return _ADAPTER.validate_python(data)


def upgrade(data: dict[str, Any]) -> dict[str, Any]:
    """An object of any readable version as the current version: version 2 only added
    fields, so a version-1 object gets the new ones empty (nothing is guessed)."""
    obj = validate_object(data).to_dict()
    obj["schema"] = SCHEMA_VERSION
    return validate_object(obj).to_dict()


def json_schema() -> dict[str, Any]:
    schema = _ADAPTER.json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://bewaar.invalid/objects/v{SCHEMA_VERSION}.schema.json"
    schema["title"] = "bewaar information object"
    schema["description"] = (__doc__ or "").strip().split("\n\n")[0]
    return schema


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- value helpers
# Adapters share these so that every platform parses counts and dates the same way.

_MULTIPLIERS = {
    "k": 10**3, "K": 10**3, "tsd": 10**3, "tsd.": 10**3, "rb": 10**3, "mil": 10**3,
    "m": 10**6, "M": 10**6, "mln": 10**6, "mln.": 10**6, "mio": 10**6, "mio.": 10**6,
    "mi": 10**6, "millones": 10**6, "million": 10**6, "millions": 10**6, "miljoen": 10**6,
    "b": 10**9, "B": 10**9, "bn": 10**9, "mld": 10**9, "mld.": 10**9, "mrd": 10**9,
    "mrd.": 10**9, "md": 10**9, "billion": 10**9, "miljard": 10**9,
}  # fmt: skip
_GROUPED = re.compile(r"\d{1,3}(?:[.,\u00a0\u202f' ]\d{3})+")
_NUMBER = re.compile(
    r"(?P<num>\d{1,3}(?:[.,\u00a0\u202f' ]\d{3})+(?![\d.,])|\d+(?:[.,]\d+)?)"
    r"\s*(?P<suffix>[A-Za-z]+\.?)?"
)


def parse_count(text: str | None) -> tuple[int | None, bool]:
    value, exact, _shown = _parse_count(text)
    return value, exact


def _parse_count(text: str | None) -> tuple[int | None, bool, str]:
    """(value, exact) from a count as shown: "1,234" / "1.234" -> (1234, True);
    "1,2K" / "1.2K" / "3 mln" / "12.3M" -> (1200, False) etc.; no number -> (None, True).

    A separator followed by exactly three digits is a thousands separator (counts are whole
    numbers); otherwise it is a decimal comma/point before a multiplier."""
    if not text:
        return None, True, ""
    for m in _NUMBER.finditer(text.strip()):
        num, suffix = m.group("num"), m.group("suffix") or ""
        mult = _MULTIPLIERS.get(suffix) or _MULTIPLIERS.get(suffix.lower())
        seps = len(re.findall(r"\D", num))
        if mult:  # "1,2K", "1.234K", "3 mln": a decimal before a multiplier
            value = float(re.sub(r"\D", "", num)) if seps > 1 else float(num.replace(",", "."))
            return int(round(value * mult)), False, m.group(0).strip()
        if seps:
            if _GROUPED.fullmatch(num):
                return int(re.sub(r"\D", "", num)), True, num
            return None, True, ""  # "1,5" without a multiplier is not a count
        return int(num), True, num
    return None, True, ""


def set_count(obj: dict[str, Any], key: str, value: int | str | None) -> None:
    """Put a count into an object dict: an int as is; shown text parsed, and kept in
    counts_text when it is abbreviated."""
    if value is None:
        return
    if isinstance(value, bool):
        return
    if isinstance(value, int):
        obj.setdefault("counts", {})[key] = value
        return
    parsed, exact, shown = _parse_count(value)
    if parsed is None:
        return
    obj.setdefault("counts", {})[key] = parsed
    if not exact:
        obj.setdefault("counts_text", {})[key] = shown  # "1,2K" of "1,2K volgers"


def iso_utc(value: str | int | float | None) -> str | None:
    """ISO 8601 UTC (…Z) from a machine-readable time: ISO with any offset, Unix seconds or
    milliseconds, or Twitter's "Wed Oct 10 20:19:24 +0000 2018". None when it is not one."""
    if value is None or value == "":
        return None
    dt: datetime | None = None
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        n = float(value)
        dt = datetime.fromtimestamp(n / 1000 if n > 1e11 else n, UTC)
    else:
        s = value.strip()
        try:
            dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
        except ValueError:
            try:
                dt = datetime.strptime(s, "%a %b %d %H:%M:%S %z %Y")
            except ValueError:
                return None
        if dt.tzinfo is None:
            return None  # a time without a zone is not machine-readable UTC
    dt = dt.astimezone(UTC)
    if dt.microsecond:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0") + "Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--schema"]:
        sys.stdout.write(schema_text())
        return 0
    if args == ["--write-schema"]:
        SCHEMA_FILE.write_text(schema_text(), encoding="utf-8")
        print(SCHEMA_FILE)
        return 0
    if len(args) == 2 and args[0] == "--validate":
        bad = 0
        for n, line in enumerate(Path(args[1]).read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    validate_object(json.loads(line))
                except ValueError as e:
                    bad += 1
                    print(f"{args[1]}:{n}: {str(e).splitlines()[0]}", file=sys.stderr)
        return 1 if bad else 0
    print(
        "usage: python -m bewaar.objects --schema | --write-schema | --validate FILE.jsonl",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main())

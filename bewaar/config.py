"""All configuration, validated in one typed place: seed lists and a root's bewaar.yaml.

Errors name the file, the line and the field, e.g.
  seeds.yaml:7: seeds[2].scope: 'prefx' is not one of prefix, host, page
and are raised before any browser starts.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from bewaar.errors import InputError
from bewaar.model import valid_collection_name

PLATFORMS = (
    "x", "instagram", "facebook", "linkedin", "mastodon", "youtube", "tiktok", "snapchat", "generic",
)  # fmt: skip
Platform = Literal[
    "x", "instagram", "facebook", "linkedin", "mastodon", "youtube", "tiktok", "snapchat", "generic"
]
# The guide's account types: corporate (the organisation's own), project (a campaign or
# programme), personal (an official's own account), hybrid (an official's account that also
# carries private or party-political posts).
AccountType = Literal["corporate", "project", "personal", "hybrid"]
ACCOUNT_TYPES = ("corporate", "project", "personal", "hybrid")
Scope = Literal["prefix", "host", "page"]

# "Load more / show more replies"-style controls, several languages. Matched case-insensitively
# against a control's visible text or aria-label.
DEFAULT_MORE_PATTERNS = [
    r"\b(show|load|see|view|read)\s+(\d+\s+)?(more|all|older|previous|additional)\b",
    r"\bmore\s+(replies|comments|answers|posts)\b",
    r"\bshow\s+replies\b",
    r"\b(meer|alle)\s+(reacties|antwoorden|berichten|weergeven|laden|tonen|bekijken)\b",
    r"\b(toon|laad|bekijk|lees)\s+(\d+\s+)?(meer|alle|oudere|eerdere)\b",
    r"\bmeer\s+(weergeven|laden|tonen)\b",
    r"\b(mehr|weitere)\s+(anzeigen|laden|antworten|kommentare)\b",
    r"\b(afficher|voir|charger)\s+(plus|la suite|les réponses)\b",
    r"\b(ver|mostrar|cargar)\s+más\b",
]
# Overlays (cookie consent, login nags) are closed by clicking one of these.
DEFAULT_OVERLAY_PATTERNS = [
    r"^(accept|allow|agree|ok|got it|close|dismiss|not now|no thanks|decline|reject)( all)?( cookies)?$",
    r"^(alles |alle cookies )?(accepteren|akkoord|toestaan|weigeren|sluiten|niet nu|nee,? bedankt)$",
    r"^(only allow essential cookies|decline optional cookies|allow all cookies)$",
    r"^(×|✕|x)$",
]

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d|w)\s*$")
_DURATION_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: str | int | float) -> int:
    """'90s', '15m', '1h', '2d', '1w' or a number of seconds -> seconds."""
    if isinstance(value, int | float):
        return int(value)
    m = _DURATION.match(str(value))
    if not m:
        raise ValueError(f"'{value}' is not a duration like 30m, 1h or 2d")
    return int(m.group(1)) * _DURATION_SECONDS[m.group(2)]


MAX_URL_LENGTH = 8192
_HOST = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[^\s/?#@:\[\]\\]+)$")


def check_http_url(v: str) -> str:
    """An http(s) URL with a host, as a browser reads it too: no whitespace, control
    characters or backslashes (a browser treats '\\' as '/', Python does not, so the two
    would disagree on the host), no user:password@ (credentials would be recorded), a valid
    port."""
    from urllib.parse import urlsplit

    shown = repr(v) if not v.isprintable() else f"'{v}'"
    if len(v) > MAX_URL_LENGTH:
        raise ValueError(f"URL of {len(v)} characters is longer than {MAX_URL_LENGTH}")
    if not re.match(r"^https?://", v, re.IGNORECASE):
        raise ValueError(f"{shown} is not an http(s) URL")
    if not v.isprintable() or any(c.isspace() for c in v):
        raise ValueError(f"{shown} holds whitespace or control characters")
    if "\\" in v:
        raise ValueError(f"{shown} holds a backslash: write '/'")
    try:
        parts = urlsplit(v)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as e:
        raise ValueError(f"{shown} is not a valid URL: {e}") from None
    if "@" in parts.netloc:
        raise ValueError(f"{shown} holds a user name or password before '@': leave them out")
    host = parts.netloc.rsplit(":", 1)[0] if not parts.netloc.endswith("]") else parts.netloc
    if not parts.hostname or not _HOST.match(host):
        raise ValueError(f"{shown} has no valid host")
    return v


def check_one_line(v: str, limit: int = 1000) -> str:
    """A handle or a path: printable, not empty, not padded, of a sane length."""
    if not v.strip() or v != v.strip() or not v.isprintable() or len(v) > limit:
        shown = repr(v) if len(v) <= 80 else repr(v[:80]) + "…"
        raise ValueError(f"{shown} must be one line of printable text (at most {limit} characters)")
    return v


def _check_duration(cls: type, v: str | None) -> str | None:
    """`every:` fields: a duration like 30m, 1h or 2d (checked, kept as written)."""
    if v is not None:
        parse_duration(v)
    return v


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Behaviors(_Strict):
    """What runs inside each page before it is recorded; bounded in time."""

    scroll_timeout: Annotated[float, Field(gt=0)] = 30.0
    max_scrolls: Annotated[int, Field(ge=0)] = 50
    expand_more: bool = True
    max_clicks: Annotated[int, Field(ge=0)] = 50
    more_patterns: list[str] = Field(default_factory=lambda: list(DEFAULT_MORE_PATTERNS))
    close_overlays: bool = True
    overlay_patterns: list[str] = Field(default_factory=lambda: list(DEFAULT_OVERLAY_PATTERNS))
    play_media: bool = True
    media_timeout: Annotated[float, Field(ge=0)] = 60.0  # seconds to play media to the end
    fetch_srcset: bool = True
    full_media: bool = True  # streams (HLS/DASH) the page names are fetched whole with yt-dlp
    network_quiet_ms: Annotated[int, Field(ge=50)] = 500

    @field_validator("more_patterns", "overlay_patterns")
    @classmethod
    def _patterns_compile(cls, v: list[str]) -> list[str]:
        for p in v:
            try:
                re.compile(p)
            except re.error as e:
                raise ValueError(f"pattern {p!r} is not a valid regular expression: {e}") from e
        return v


class Retention(_Strict):
    """A selection-list classification (selectielijst): what category the captures fall in,
    how long they are kept, and from when the term runs. `term: permanent` is "bewaren".

        retention: {category: "1.1.4", term: 10y, from: captured, list: "Selectielijst ..."}
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    category: str | None = None
    term: str
    from_: Literal["captured", "published"] = Field("captured", alias="from")
    list_: str | None = Field(None, alias="list")

    @field_validator("term")
    @classmethod
    def _term(cls, v: str) -> str:
        v = str(v).strip()
        if v.lower() in ("permanent", "bewaren"):
            return "permanent"
        from bewaar.timeutil import parse_term

        parse_term(v)
        return v

    @field_validator("category", "list_")
    @classmethod
    def _one_line(cls, v: str | None) -> str | None:
        return None if v is None else check_one_line(str(v))

    @property
    def permanent(self) -> bool:
        return self.term == "permanent"

    def due(self, captured: datetime, published: datetime | None = None) -> datetime | None:
        """When the term ends (None: kept permanently). `from: published` counts from the
        publication time when it is known, else from the capture."""
        if self.permanent:
            return None
        from bewaar.timeutil import add_term

        start = published if self.from_ == "published" and published is not None else captured
        return add_term(start, self.term)

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)

    def describe(self) -> str:
        what = "permanent (bewaren)" if self.permanent else f"{self.term} from {self.from_}"
        cat = f"category {self.category}, " if self.category else ""
        lst = f" ({self.list_})" if self.list_ else ""
        return f"{cat}{what}{lst}"


class ScopeRule(_Strict):
    """A rule marking posts of a hybrid or personal account out of scope (not government
    information): a hashtag, a keyword, or a date range (a campaign period). Out-of-scope
    posts are still captured and shown to archivists, counted apart, and left out of exports.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    hashtag: str | None = None  # without "#"; matched case-insensitively
    keyword: str | None = None  # a word or phrase in the text or title, case-insensitively
    date_from: date | None = Field(None, alias="from")  # published on or after
    date_to: date | None = Field(None, alias="to")  # published on or before

    @field_validator("hashtag", "keyword")
    @classmethod
    def _words(cls, v: str | None) -> str | None:
        if v is None:
            return None
        v = check_one_line(v, 200)
        return v.lstrip("#") if v.startswith("#") else v

    @model_validator(mode="after")
    def _one_kind(self) -> ScopeRule:
        kinds = [k for k, v in (("hashtag", self.hashtag), ("keyword", self.keyword),
                                ("date", self.date_from or self.date_to)) if v]  # fmt: skip
        if len(kinds) != 1:
            raise ValueError("a rule has exactly one of hashtag, keyword, or from/to (a date range)")
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise ValueError(f"from {self.date_from} is after to {self.date_to}")
        return self

    @property
    def name(self) -> str:
        """How objects and the catalog record the rule: hashtag:X, keyword:X, date:A..B."""
        if self.hashtag:
            return f"hashtag:{self.hashtag}"
        if self.keyword:
            return f"keyword:{self.keyword}"
        return f"date:{self.date_from or ''}..{self.date_to or ''}"


class Seed(_Strict):
    """A URL, or an account on a platform (then the platform's adapter makes the URLs)."""

    url: str | None = None
    platform: Platform | None = None
    handle: str | None = None
    base_url: str | None = None
    scope: Scope = "prefix"
    depth: Annotated[int, Field(ge=0, le=10)] = 1
    max_posts: Annotated[int, Field(ge=0)] | None = None
    replies: bool = True
    login_state: str | None = None
    every: str | None = None
    retention: Retention | None = None  # this seed's account (or site); else the collection's
    account_type: AccountType = "corporate"
    out_of_scope: list[ScopeRule] = Field(default_factory=list)  # hybrid / personal only
    # the account's replies in others' threads (the platform's "posts and replies" view),
    # each with the post it answers
    with_replies: bool = True
    received: bool = False  # public posts mentioning or tagging the account (up to max_posts)
    stories: bool = True  # stories and other temporary content (a login state where needed)
    follow_lists: Annotated[int, Field(ge=0, le=1_000_000)] = 0  # followers/following, up to N
    since: date | None = None  # back-fill: scroll back until posts older than this appear
    backfill_budget: str = "15m"  # time a back-fill may take per crawl (resumed next crawl)

    @field_validator("url", "base_url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        return None if v is None else check_http_url(v)

    _every = field_validator("every")(_check_duration)
    _budget = field_validator("backfill_budget")(_check_duration)

    @field_validator("handle", "login_state")
    @classmethod
    def _one_line(cls, v: str | None) -> str | None:
        return None if v is None else check_one_line(v)

    @model_validator(mode="after")
    def _url_or_account(self) -> Seed:
        if self.url and (self.platform not in (None, "generic") or self.handle):
            raise ValueError("give either url or platform + handle, not both")
        if not self.url and not (self.platform and self.handle):
            raise ValueError("needs url, or platform and handle")
        if self.out_of_scope and self.account_type not in ("hybrid", "personal"):
            raise ValueError(
                f"out_of_scope rules are for hybrid and personal accounts; this seed's "
                f"account_type is {self.account_type}"
            )
        return self

    @property
    def every_seconds(self) -> int | None:
        return parse_duration(self.every) if self.every else None

    @property
    def backfill_seconds(self) -> int:
        return parse_duration(self.backfill_budget)


class PlatformOptions(_Strict):
    base_url: str | None = None
    login_state: str | None = None

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, v: str | None) -> str | None:
        return None if v is None else check_http_url(v)

    @field_validator("login_state")
    @classmethod
    def _one_line(cls, v: str | None) -> str | None:
        return None if v is None else check_one_line(v)


class SeedList(_Strict):
    collection: str
    seeds: Annotated[list[Seed], Field(min_length=1)]
    behaviors: Behaviors = Behaviors()
    platforms: dict[Platform, PlatformOptions] = Field(default_factory=dict)
    every: str | None = None
    retention: Retention | None = None  # the collection's classification, for seeds without one

    @field_validator("collection")
    @classmethod
    def _collection_name(cls, v: str) -> str:
        if not valid_collection_name(v):
            raise ValueError(
                f"{v!r} is not a collection name: use lowercase letters, digits, '.', '_' or '-'"
                " (starting with a letter or digit, no '..')"
            )
        return v

    _every = field_validator("every")(_check_duration)


class BrowserConfig(_Strict):
    executable: str | None = None  # found automatically when not given
    args: list[str] = Field(default_factory=list)
    headless: bool = True
    # Resolve every host except loopback to "not found": tests and the demo never leave
    # 127.0.0.1, and Chromium's own background traffic goes nowhere.
    loopback_only: bool = False
    viewport_width: Annotated[int, Field(ge=320)] = 1280
    viewport_height: Annotated[int, Field(ge=240)] = 900


class CrawlConfig(_Strict):
    concurrency: Annotated[int, Field(ge=1, le=32)] = 2
    page_timeout: Annotated[float, Field(gt=0)] = 60.0
    warc_max_size: Annotated[int, Field(ge=1_000_000)] = 1_000_000_000
    max_resource_size: Annotated[int, Field(ge=1_000_000)] = 512_000_000
    user_agent: str | None = None
    # `bewaar watch`: seconds one account's run may take before its remaining pages are
    # given up (reported as failed), so a slow or hanging account cannot hold up the rest
    account_timeout: Annotated[float, Field(gt=0)] = 1800.0
    # Private, loopback and link-local addresses (and cloud-metadata names) are refused unless
    # listed here: networks in CIDR form or single addresses (10.1.2.0/24, 127.0.0.1), or host
    # names (intranet.example.nl). See crawler/netguard.py and docs/crawling.md.
    allow_private: list[str] = Field(default_factory=list)

    @field_validator("allow_private")
    @classmethod
    def _networks_or_hosts(cls, v: list[str]) -> list[str]:
        import ipaddress

        for entry in v:
            text = entry.strip().strip("[]")
            try:
                ipaddress.ip_network(text, strict=False)
                continue
            except ValueError:
                pass
            if not re.fullmatch(r"(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?"
                                r"(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?", text):
                shown = repr(entry) if len(entry) <= 80 else repr(entry[:80]) + "…"
                raise ValueError(
                    f"{shown} is neither a network (10.0.0.0/8, 127.0.0.1) nor a host name"
                )
        return v


class SigningConfig(_Strict):
    """Keys live outside collections/ so they never end up in a package."""

    key: str = "keys/signing-key.pem"
    certificate: str = "keys/signing-cert.pem"  # leaf first, then its chain
    tsa_url: str | None = None
    tsa_timeout: Annotated[float, Field(gt=0)] = 10.0
    trusted_roots: str = "trust/roots.pem"  # signer trust anchors: PEMs and/or sha256 fingerprints
    trusted_tsa_roots: str = "trust/tsa-roots.pem"
    max_timestamp_delay: Annotated[int, Field(ge=0)] = 86400  # seconds between signing and TSA time
    # fetch CRLs / OCSP answers named by the signer's and the TSA's certificates when signing
    # and renewing, and keep them in the manifest for offline checks years later
    fetch_revocation: bool = True


ROLES = ("reader", "archivist", "admin")
Role = Literal["reader", "archivist", "admin"]


class AuthConfig(_Strict):
    """Who may use `bewaar replay` (docs/access.md). Without it, and without built-in
    accounts, everyone who reaches the server is an anonymous reader: fine on 127.0.0.1,
    refused elsewhere unless `--public` is given."""

    # users: built-in accounts (`bewaar users add`; the default as soon as one exists);
    # header: a trusted reverse proxy names the user in `header`
    mode: Literal["users", "header"] | None = None
    header: str = "X-Remote-User"
    trusted_proxies: list[str] = Field(default_factory=list)  # CIDRs the header is taken from
    default_role: Role | None = None  # header mode: role of a user bewaar does not list
    session_hours: Annotated[float, Field(gt=0, le=24 * 30)] = 8.0
    max_failures: Annotated[int, Field(ge=1)] = 5  # failed logins per account or address ...
    lockout_minutes: Annotated[int, Field(ge=1)] = 15  # ... within this window lock it out

    @field_validator("trusted_proxies")
    @classmethod
    def _cidrs(cls, v: list[str]) -> list[str]:
        import ipaddress

        for net in v:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise ValueError(f"{net!r} is not an address or CIDR range like 10.0.0.0/8") from None
        return v

    @field_validator("header")
    @classmethod
    def _header_name(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9-]+", v) or v.lower().startswith("x-pywb"):
            raise ValueError(f"{v!r} is not a usable header name")
        return v

    @model_validator(mode="after")
    def _header_needs_proxies(self) -> AuthConfig:
        if self.mode == "header" and not self.trusted_proxies:
            raise ValueError("mode 'header' needs trusted_proxies: the addresses of the proxy")
        return self


class ReplayConfig(_Strict):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8080
    # the overview (and later admin pages) on another origin than archived content;
    # default: port + 1
    overview_port: Annotated[int, Field(ge=1, le=65535)] | None = None
    pywb: dict[str, Any] = Field(default_factory=dict)  # merged over bewaar's pywb config
    auth: AuthConfig = AuthConfig()


class RootConfig(_Strict):
    crawl: CrawlConfig = CrawlConfig()
    browser: BrowserConfig = BrowserConfig()
    signing: SigningConfig = SigningConfig()
    replay: ReplayConfig = ReplayConfig()


# --------------------------------------------------------------------------- loading


def _node_at(node: yaml.Node | None, loc: tuple[Any, ...]) -> yaml.Node | None:
    """Walk a composed YAML node tree along a pydantic error location."""
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = None
            for k, v in node.value:
                if k.value == part:
                    nxt = v
                    break
            if nxt is None:
                # the key itself is the culprit (e.g. an unknown key): point at it
                for k, _v in node.value:
                    if k.value == part:
                        return k
                return node
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return node
            node = node.value[part]
        else:
            return node
    return node


def _key_node(node: yaml.Node | None, loc: tuple[Any, ...]) -> yaml.Node | None:
    parent = _node_at(node, loc[:-1])
    if isinstance(parent, yaml.MappingNode):
        for k, _v in parent.value:
            if k.value == loc[-1]:
                return k
    return parent


def _field_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _describe(err: dict[str, Any]) -> str:
    kind = err["type"]
    given = err.get("input")
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        options = ", ".join(s.strip().strip("'") for s in re.split(r",| or ", expected) if s.strip())
        return f"{given!r} is not one of {options}"
    if kind == "extra_forbidden":
        return "unknown key (check the spelling; see docs/crawling.md for the seed-list format)"
    if kind == "missing":
        return "is required"
    if kind == "too_short" and isinstance(given, list):
        return "must not be empty"
    msg = err["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    if given is not None and kind not in ("value_error",) and not isinstance(given, dict | list):
        return f"{given!r}: {msg[0].lower() + msg[1:]}"
    return msg[0].lower() + msg[1:] if msg else msg


MAX_FILE_BYTES = 10_000_000  # a seed list of 100,000 seeds is well under this
MAX_DEPTH = 64  # nesting of mappings and lists
MAX_VALUES = 1_000_000  # values after YAML aliases are expanded (an "alias bomb" is billions)
_BRACKETS = re.compile(r"[\[\]{}]")


def _check_shape(text: str) -> None:
    """Refuse, before building anything, YAML nested deeper than any configuration needs
    (PyYAML's composer recurses: 20,000 '[' took a minute to end in RecursionError) or whose
    aliases expand to more values than memory holds. One pass over the parser's events, which
    PyYAML produces without recursion."""
    # PyYAML's scanner slows down quadratically on open brackets (5,000 '[' took 7 s), so
    # flow nesting is counted on the raw text first (brackets inside strings count too: no
    # real configuration nests 64 deep)
    level = 0
    for m in _BRACKETS.finditer(text):
        level = level + 1 if m.group() in "[{" else max(0, level - 1)
        if level > MAX_DEPTH:
            line = text.count("\n", 0, m.start())
            raise ValueError(f"nested more than {MAX_DEPTH} levels deep", yaml.Mark("", 0, line, 0, None, None))
    depth = 0
    sizes: dict[str, int] = {}
    stack: list[tuple[str | None, int]] = []  # open collections: (anchor, values so far)
    total = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise ValueError(f"nested more than {MAX_DEPTH} levels deep", event.start_mark)
            stack.append((event.anchor, 1))
            continue
        if isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
            anchor, size = stack.pop()
        elif isinstance(event, yaml.ScalarEvent):
            anchor, size = event.anchor, 1
        elif isinstance(event, yaml.AliasEvent):
            anchor, size = None, sizes.get(event.anchor or "", 1)
        else:
            continue
        if anchor:
            sizes[anchor] = size
        if stack:
            stack[-1] = (stack[-1][0], stack[-1][1] + size)
        else:
            total += size
        if size > MAX_VALUES or (stack and stack[-1][1] > MAX_VALUES) or total > MAX_VALUES:
            raise ValueError(
                f"expands to more than {MAX_VALUES} values (YAML aliases)", event.start_mark
            )


def _load_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InputError(f"{path}: larger than {MAX_FILE_BYTES // 1_000_000} MB: not a configuration file")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read: {e}") from None
    try:
        _check_shape(text)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise InputError(f"{path}{where}: not valid YAML: {problem}") from None
    except (ValueError, RecursionError) as e:
        # _check_shape's refusals, and values PyYAML cannot build (an integer of 5,000 digits)
        mark = e.args[1] if len(e.args) > 1 and hasattr(e.args[1], "line") else None
        where = f":{mark.line + 1}" if mark else ""
        text = str(e.args[0] if e.args else e).splitlines()[0][:200] if str(e) else type(e).__name__
        raise InputError(f"{path}{where}: not a usable configuration: {text}") from None
    return data, node


def _validate(model: type[BaseModel], path: Path, data: Any, node: yaml.Node | None) -> Any:
    if not isinstance(data, dict):
        raise InputError(f"{path}:1: expected a mapping of keys (see docs/crawling.md for the format)")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = tuple(err["loc"])
        target = _key_node(node, loc) if err["type"] == "extra_forbidden" else _node_at(node, loc)
        line = f":{target.start_mark.line + 1}" if target is not None else ""
        more = f" (and {len(e.errors()) - 1} more problem(s))" if len(e.errors()) > 1 else ""
        raise InputError(f"{path}{line}: {_field_path(loc)}: {_describe(err)}{more}") from None


def load_seed_list(path: str | Path) -> SeedList:
    path = Path(path)
    data, node = _load_yaml(path)
    return _validate(SeedList, path, data, node)


def load_root_config(root: str | Path) -> RootConfig:
    """The root's bewaar.yaml, or the defaults when there is none."""
    path = Path(root) / "bewaar.yaml"
    if not path.exists():
        return RootConfig()
    data, node = _load_yaml(path)
    if data is None:
        return RootConfig()
    return _validate(RootConfig, path, data, node)


class RetentionEntry(_Strict):
    rule: Retention
    since: str  # when it was set (ISO 8601 UTC)
    source: str  # "seeds.yaml" (at a crawl) or "bewaar retention set" (by whom)
    reason: str | None = None


class RetentionFile(_Strict):
    """collections/NAME/retention.json: the classifications in force for a collection. Written
    by bewaar (each crawl records its seed list's, `bewaar retention set` a post's own); read by
    `bewaar retention status` and `bewaar destroy plan`."""

    format: Literal["bewaar-retention/1"] = "bewaar-retention/1"
    collection: RetentionEntry | None = None
    accounts: dict[str, RetentionEntry] = Field(default_factory=dict)  # account name -> rule
    posts: dict[str, RetentionEntry] = Field(default_factory=dict)  # post URL -> its own rule


def load_retention_file(path: str | Path) -> RetentionFile:
    path = Path(path)
    if not path.exists():
        return RetentionFile()
    if path.stat().st_size > MAX_FILE_BYTES * 10:
        raise InputError(f"{path}: larger than {MAX_FILE_BYTES * 10} bytes: refusing")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise InputError(f"{path}: not a retention file ({e})") from None
    try:
        return RetentionFile.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        raise InputError(f"{path}: {_field_path(tuple(err['loc']))}: {_describe(err)}") from None


def save_retention_file(path: str | Path, rf: RetentionFile) -> Path:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(rf.model_dump(by_alias=True, exclude_none=True, mode="json"),
                              indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def save_root_config(root: str | Path, config: RootConfig) -> Path:
    """Write bewaar.yaml with only the values that differ from the defaults."""
    path = Path(root) / "bewaar.yaml"
    data = config.model_dump(exclude_defaults=True, mode="json")
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    tmp.replace(path)
    return path

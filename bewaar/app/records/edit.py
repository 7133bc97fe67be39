"""Taking one post or reply out of a payload that shows others too: an API answer (JSON), a page
or a DOM snapshot (HTML), a page's information objects.

A payload is a tree; the part to take out is the largest subtree that shows the target and no
post that is kept (a thread's JSON `descendants` element, a reply's `<article>`, a timeline
entry). A post is recognised in JSON by an object whose id field is its id with its URL or text
somewhere below, in HTML by an element carrying its id (`data-id`, …) or linking to its URL.
After the edit, the payload must no longer hold the target's URL or the words of its text; if
it still does (the text quoted in another post, an unrecognised layout) the caller drops the
whole record rather than keep what was to be removed.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from bs4 import BeautifulSoup, Tag

ID_KEYS = ("id", "id_str", "rest_id", "post_id", "postId", "tweet_id")
HTML_ID_ATTRS = ("data-id", "data-post-id", "data-tweet-id", "data-status-id", "data-urn", "id")
MIN_NEEDLE = 12  # words shorter than this are too common to prove anything
MIN_PATH_ID = 6  # an id this long, as a whole token in a URL's path, names the post


@dataclass(frozen=True)
class Target:
    """An information object to take out wherever it shows."""

    id: str
    url: str
    text: str = ""
    author: str = ""  # handle
    media: tuple[str, ...] = ()

    @property
    def needle(self) -> str:
        """The longest stretch of the text that survives HTML and JSON escaping unchanged."""
        parts = re.split(r"[&<>\"'\\\n\r\t]|[^\u0000-\uffff]|[\U00010000-\U0010ffff]", self.text)
        best = max((p.strip() for p in parts), key=len, default="")
        return best if len(best) >= MIN_NEEDLE else ""

    @property
    def path(self) -> str:
        p = urlsplit(self.url)
        return p.path + (f"?{p.query}" if p.query else "")


@dataclass
class Posts:
    """Every post the collection holds (by id), to tell what a subtree shows."""

    by_id: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # id -> [(url, needle)]
    paths: dict[str, set[str]] = field(default_factory=dict)  # URL path -> ids

    def add(self, obj: dict[str, Any]) -> None:
        pid, url = str(obj.get("id") or ""), str(obj.get("url") or "")
        if not pid or not url:
            return
        t = Target(pid, url, str(obj.get("text") or ""))
        self.by_id.setdefault(pid, []).append((url, t.needle))
        self.paths.setdefault(t.path, set()).add(pid)


# --------------------------------------------------------------------------- JSON


def _strings(node: Any, out: list[str], limit: int = 4000) -> None:
    if len(out) > limit:
        return
    if isinstance(node, str):
        out.append(node)
    elif isinstance(node, dict):
        for v in node.values():
            _strings(v, out, limit)
    elif isinstance(node, list):
        for v in node:
            _strings(v, out, limit)


def _own_ids(node: dict[str, Any], posts: Posts) -> set[str]:
    """The posts this object *is* (its own id field, with the post's URL or text below it)."""
    found: set[str] = set()
    for k in ID_KEYS:
        v = node.get(k)
        if v is None or str(v) not in posts.by_id:
            continue
        texts: list[str] = []
        _strings(node, texts)
        blob = "\n".join(texts)
        for url, needle in posts.by_id[str(v)]:
            if url in blob or (needle and needle in blob):
                found.add(str(v))
    return found


def _is_target(node: Any, targets: set[str], posts: Posts) -> bool:
    """An object that is one of the targets (a reply that refers to a kept post is still the
    reply)."""
    return isinstance(node, dict) and bool(_own_ids(node, posts) & targets)


def _json_names(node: Any, posts: Posts) -> set[str]:
    """Ids of the posts this subtree shows."""
    found: set[str] = set()
    if isinstance(node, list):
        for v in node:
            found |= _json_names(v, posts)
        return found
    if not isinstance(node, dict):
        return found
    for v in node.values():
        if isinstance(v, dict | list):
            found |= _json_names(v, posts)
    return found | _own_ids(node, posts)


def _prune(node: Any, targets: set[str], posts: Posts) -> tuple[Any, int]:
    """(node without the targets, parts removed)."""
    removed = 0
    if isinstance(node, list):
        out = []
        for v in node:
            names = _json_names(v, posts)
            if _is_target(v, targets, posts) or (names & targets and not names - targets):
                removed += 1
                continue
            if names & targets:
                v, n = _prune(v, targets, posts)
                removed += n
            out.append(v)
        return out, removed
    if isinstance(node, dict):
        out_d = {}
        for k, v in node.items():
            if isinstance(v, dict | list):
                names = _json_names(v, posts)
                if _is_target(v, targets, posts) or (names & targets and not names - targets):
                    out_d[k] = None if isinstance(v, dict) else []
                    removed += 1
                    continue
                if names & targets:
                    v, n = _prune(v, targets, posts)
                    removed += n
            out_d[k] = v
        return out_d, removed
    return node, 0


@dataclass
class Edited:
    data: bytes | None  # None: drop the whole record
    removed: int  # parts taken out
    why: str


def edit_json(data: bytes, targets: list[Target], posts: Posts, *, indent: int | None = None
              ) -> Edited | None:
    """None when the payload does not show a target (or is not JSON)."""
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    ids = {t.id for t in targets}
    names = _json_names(value, posts)
    if not names & ids:
        return None
    if not names - ids or _is_target(value, ids, posts):
        return Edited(None, 1, "shows only what is removed")
    value, n = _prune(value, ids, posts)
    if indent is None:
        out = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    else:
        out = json.dumps(value, ensure_ascii=False, indent=indent).encode("utf-8")
    return Edited(out, n, f"{n} part(s) taken out of the JSON")


# --------------------------------------------------------------------------- HTML


def _element_posts(el: Tag, posts: Posts) -> set[str]:
    found: set[str] = set()
    for a in HTML_ID_ATTRS:
        v = el.get(a)
        if isinstance(v, str) and v in posts.by_id:
            found.add(v)
    href = el.get("href")
    if isinstance(href, str) and href:
        p = urlsplit(href)
        path = p.path + (f"?{p.query}" if p.query else "")
        found |= posts.paths.get(path, set())
    return found


def edit_html(data: bytes, targets: list[Target], posts: Posts) -> Edited | None:
    ids = {t.id for t in targets}
    text = data.decode("utf-8", "replace")
    if not any(t.id in text or t.path in text for t in targets):
        return None
    soup = BeautifulSoup(text, "html.parser")
    shows: dict[int, set[str]] = {}
    marked: list[Tag] = []
    for el in soup.find_all(True):
        own = _element_posts(el, posts)
        if not own:
            continue
        if own & ids:
            marked.append(el)
        node: Any = el
        while isinstance(node, Tag):
            shows.setdefault(id(node), set()).update(own)
            node = node.parent
    if not marked:
        return None
    removed = 0
    for el in marked:
        if el.decomposed or not _attached(el):
            continue
        top = el
        while isinstance(top.parent, Tag) and top.parent.name not in ("html", "body", "head", "[document]"):
            if shows.get(id(top.parent), set()) - ids:
                break
            top = top.parent
        top.decompose()
        removed += 1
    return Edited(str(soup).encode("utf-8"), removed, f"{removed} element(s) taken out of the HTML")


def _attached(el: Tag) -> bool:
    node: Any = el
    while node is not None:
        if getattr(node, "name", None) == "[document]":
            return True
        node = node.parent
    return False


# --------------------------------------------------------------------------- what is left


def residue(data: bytes, targets: list[Target]) -> str | None:
    """What of a target a payload still holds (its URL, or the words of its text), or None."""
    text = data.decode("utf-8", "replace")
    try:
        parsed = json.loads(text)
        strings: list[str] = []
        _strings(parsed, strings, limit=1_000_000)
        text = text + "\n" + "\n".join(strings)  # the unescaped strings too
    except (json.JSONDecodeError, RecursionError):
        pass
    for t in targets:
        if t.url and t.url in text:
            return f"still names {t.url}"
        if t.needle and t.needle in text:
            return "still holds its text"
        if t.needle and "<" in text:
            flat = BeautifulSoup(text, "html.parser").get_text(" ")
            if t.needle in " ".join(flat.split()):
                return "still holds its text"
    return None


def url_names(url: str, targets: list[Target], handles: set[str]) -> bool:
    """A fetched URL that belongs to a target: one of its media, its id as a whole token in the
    path, or (replies by a person) that person's handle in the path (an avatar)."""
    path = urlsplit(url).path
    for t in targets:
        if url in t.media:
            return True
        if len(t.id) >= MIN_PATH_ID and re.search(rf"(?<![\w]){re.escape(t.id)}(?![\w])", path):
            return True
    # an avatar file is often the handle with a size after it (burger_anna_400x400.png)
    return any(re.search(rf"(?<![\w.]){re.escape(h)}(?![a-z0-9])", path, re.I) for h in handles)

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


def host_of(url: str) -> str:
    try:
        return urlsplit(url).netloc.lower()
    except ValueError:
        return ""


@dataclass
class Posts:
    """Every post the collection holds, to tell what a subtree shows. A post is known by its
    URL: platforms number independently, so the same id can be two posts on two sites."""

    by_id: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # id -> [(url, needle)]
    paths: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # (host, path) -> urls

    def add(self, obj: dict[str, Any]) -> None:
        pid, url = str(obj.get("id") or ""), str(obj.get("url") or "")
        if not pid or not url:
            return
        t = Target(pid, url, str(obj.get("text") or ""))
        entry = (url, t.needle)
        if entry not in self.by_id.setdefault(pid, []):
            self.by_id[pid].append(entry)
        self.paths.setdefault((host_of(url), t.path), set()).add(url)

    def which(self, pid: str, blob: str, host: str) -> set[str]:
        """The posts (URLs) with id `pid` that a text naming that id shows: its URL in the text,
        else its words; where two sites share the id and the words, the one on `host`."""
        cands = self.by_id.get(pid, [])
        found = [u for u, _n in cands if u in blob]
        if not found:
            found = [u for u, n in cands if n and n in blob]
            if len(found) > 1:
                found = [u for u in found if host_of(u) == host] or found
        return set(found)


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


def _own_ids(node: dict[str, Any], posts: Posts, host: str) -> set[str]:
    """The posts (URLs) this object *is*: its own id field, with the post's URL or words below."""
    found: set[str] = set()
    blob: str | None = None
    for k in ID_KEYS:
        v = node.get(k)
        if v is None or str(v) not in posts.by_id:
            continue
        if blob is None:
            texts: list[str] = []
            _strings(node, texts)
            blob = "\n".join(texts)
        found |= posts.which(str(v), blob, host)
    return found


class _Json:
    """One payload's tree, judged against the posts (what each subtree shows, memoised)."""

    def __init__(self, posts: Posts, host: str) -> None:
        self.posts, self.host = posts, host
        self._names: dict[int, set[str]] = {}

    def is_target(self, node: Any, targets: set[str]) -> bool:
        """An object that is one of the targets (a reply naming the post it answers is still
        the reply)."""
        return isinstance(node, dict) and bool(_own_ids(node, self.posts, self.host) & targets)

    def names(self, node: Any) -> set[str]:
        """The posts (URLs) this subtree shows."""
        key = id(node)
        if key in self._names:
            return self._names[key]
        found: set[str] = set()
        if isinstance(node, list):
            for v in node:
                found |= self.names(v)
        elif isinstance(node, dict):
            for v in node.values():
                if isinstance(v, dict | list):
                    found |= self.names(v)
            found |= _own_ids(node, self.posts, self.host)
        self._names[key] = found
        return found

    def prune(self, node: Any, targets: set[str]) -> tuple[Any, int]:
        """(node without the targets, parts removed): the largest part showing a target and no
        kept post goes; a part showing both is pruned inside."""
        removed = 0
        if isinstance(node, list):
            out = []
            for v in node:
                names = self.names(v)
                if self.is_target(v, targets) or (names & targets and not names - targets):
                    removed += 1
                    continue
                if names & targets:
                    v, n = self.prune(v, targets)
                    removed += n
                out.append(v)
            return out, removed
        if isinstance(node, dict):
            out_d = {}
            for k, v in node.items():
                if isinstance(v, dict | list):
                    names = self.names(v)
                    if self.is_target(v, targets) or (names & targets and not names - targets):
                        out_d[k] = None if isinstance(v, dict) else []
                        removed += 1
                        continue
                    if names & targets:
                        v, n = self.prune(v, targets)
                        removed += n
                out_d[k] = v
            return out_d, removed
        return node, 0


@dataclass
class Edited:
    data: bytes | None  # None: drop the whole record
    removed: int  # parts taken out
    why: str


def edit_json(data: bytes, targets: list[Target], posts: Posts, host: str, *,
              indent: int | None = None) -> Edited | None:
    """None when the payload does not show a target (or is not JSON). `host`: the site the
    payload came from (it decides between two sites' posts with the same id and words)."""
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return None
    ids = {t.url for t in targets}
    tree = _Json(posts, host)
    names = tree.names(value)
    if not names & ids:
        return None
    if not names - ids or tree.is_target(value, ids):
        return Edited(None, 1, "shows only what is removed")
    value, n = tree.prune(value, ids)
    if indent is None:
        out = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    else:
        out = json.dumps(value, ensure_ascii=False, indent=indent).encode("utf-8")
    return Edited(out, n, f"{n} part(s) taken out of the JSON")


# --------------------------------------------------------------------------- HTML


def _element_posts(el: Tag, posts: Posts, host: str) -> set[str]:
    """The posts (URLs) an element names: an id attribute (the post on this host when ids are
    shared), or a link to the post."""
    found: set[str] = set()
    for a in HTML_ID_ATTRS:
        v = el.get(a)
        if isinstance(v, str) and v in posts.by_id:
            urls = [u for u, _n in posts.by_id[v]]
            found |= {u for u in urls if host_of(u) == host} or (set(urls) if len(urls) == 1 else set())
    href = el.get("href")
    if isinstance(href, str) and href:
        try:
            p = urlsplit(href)
        except ValueError:
            return found
        path = p.path + (f"?{p.query}" if p.query else "")
        found |= posts.paths.get(((p.netloc or host).lower(), path), set())
    return found


def edit_html(data: bytes, targets: list[Target], posts: Posts, host: str) -> Edited | None:
    ids = {t.url for t in targets}
    text = data.decode("utf-8", "replace")
    if not any(t.id in text or t.path in text for t in targets):
        return None
    soup = BeautifulSoup(text, "html.parser")
    shows: dict[int, set[str]] = {}
    marked: list[Tag] = []
    for el in soup.find_all(True):
        own = _element_posts(el, posts, host)
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


def residue(data: bytes, targets: list[Target], host: str) -> str | None:
    """What of a target a payload still holds (its URL, or the words of its text when the
    payload comes from the target's own site: another site may carry a post with the same
    words that is not the one removed), or None."""
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
        if host_of(t.url) != host:
            continue
        if t.needle and t.needle in text:
            return "still holds its text"
        if t.needle and "<" in text:
            flat = BeautifulSoup(text, "html.parser").get_text(" ")
            if t.needle in " ".join(flat.split()):
                return "still holds its text"
    return None


def url_names(url: str, targets: list[Target], handles: set[str]) -> bool:
    """A fetched URL that belongs to a target: one of its media, its id as a whole token in the
    path on its own site, or (replies by a person) that person's handle in the path (an
    avatar)."""
    path, host = urlsplit(url).path, host_of(url)
    for t in targets:
        if url in t.media:
            return True
        if len(t.id) >= MIN_PATH_ID and host == host_of(t.url) and \
                re.search(rf"(?<![\w]){re.escape(t.id)}(?![\w])", path):
            return True
    # an avatar file is often the handle with a size after it (burger_anna_400x400.png)
    return any(re.search(rf"(?<![\w.]){re.escape(h)}(?![a-z0-9])", path, re.I) for h in handles)

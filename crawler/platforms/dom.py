"""Reading rendered pages: the few DOM and embedded-JSON helpers every adapter needs.

beautifulsoup4 does the parsing; what is here is only what it does not do itself: text as a
person reads it (emoji drawn as <img alt="😀">, line breaks), JSON assigned inside <script>
tags (`var ytInitialData = {...};`), and walking parsed JSON for objects of a given shape.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

from bs4 import BeautifulSoup, NavigableString, Tag

_HIDDEN = ("script", "style", "noscript", "template")
_BLOCK = {"p", "div", "li", "br", "h1", "h2", "h3", "h4", "blockquote", "article", "section"}


def parse(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "lxml")


def text_of(el: Tag | None, blocks: frozenset[str] | set[str] = _BLOCK) -> str | None:
    """The text a person reads in `el`: emoji images become their alt text, <br> and block
    elements become line breaks, runs of spaces collapse. None for a missing element. Pages
    that lay text out with white-space: pre-wrap and inline <div>s (X) pass blocks=set()."""
    if el is None:
        return None
    parts: list[str] = []

    def walk(node: Tag) -> None:
        for child in node.children:
            if isinstance(child, NavigableString):
                if child.__class__.__name__ in ("Comment", "Script", "Stylesheet"):
                    continue
                parts.append(str(child))
            elif isinstance(child, Tag):
                if child.name in _HIDDEN or child.get("hidden") is not None:
                    continue
                if child.name == "img":
                    parts.append(str(child.get("alt") or ""))
                elif child.name == "br":
                    parts.append("\n")
                else:
                    block = child.name in blocks
                    if block and parts and not parts[-1].endswith("\n"):
                        parts.append("\n")
                    walk(child)
                    if block:
                        parts.append("\n\n" if child.name == "p" else "\n")

    walk(el)
    text = "".join(parts).replace("\u00a0", " ")
    text = re.sub(r"[ \t\r\f\v]+", " ", text)
    text = re.sub(r" *\n *", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def visible_text(soup: BeautifulSoup) -> str:
    """All text of the page outside scripts, styles and <noscript>, for block-page patterns."""
    body = soup.body or soup
    return " ".join(s.strip() for s in _visible_strings(body) if s.strip())


def _visible_strings(el: Tag) -> Iterator[str]:
    for child in el.children:
        if isinstance(child, NavigableString):
            if child.__class__.__name__ not in ("Comment", "Script", "Stylesheet"):
                yield str(child)
        elif isinstance(child, Tag) and child.name not in _HIDDEN:
            yield from _visible_strings(child)


def attr(el: Tag | None, name: str) -> str | None:
    if el is None:
        return None
    value = el.get(name)
    if isinstance(value, list):
        value = " ".join(value)
    return value or None


def absolute(base: str, href: str | None) -> str | None:
    if not href or href.startswith(("javascript:", "#", "data:", "blob:")):
        return None
    return urljoin(base, href)


def same_origin(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.netloc.lower()) == (pb.scheme, pb.netloc.lower())


def script_json(soup: BeautifulSoup, name: str) -> Any | None:
    """JSON a page embeds in a script: `<script id=NAME type="application/json">`, or a
    `NAME = {...}` / `window["NAME"] = {...}` assignment inside a script."""
    tag = soup.find("script", id=name)
    if tag is not None and tag.string:
        try:
            return json.loads(tag.string)
        except ValueError:
            pass
    rx = re.compile(r"""(?:\b|\[["'])""" + re.escape(name) + r"""(?:["']\])?\s*=\s*""")
    decoder = json.JSONDecoder()
    for script in soup.find_all("script"):
        src = script.string or ""
        for m in rx.finditer(src):
            try:
                return decoder.raw_decode(src, m.end())[0]
            except ValueError:
                continue
    return None


def walk_json(data: Any, want: Callable[[dict[str, Any]], bool]) -> Iterator[dict[str, Any]]:
    """Every dict inside `data` (depth first, document order) for which want(d) is true."""
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if want(node):
                yield node
            stack.extend(reversed(list(node.values())))
        elif isinstance(node, list):
            stack.extend(reversed(node))


def dig(data: Any, *path: str | int, default: Any = None) -> Any:
    """data[a][b][c]..., or default when any step is missing."""
    for key in path:
        try:
            data = data[key]
        except (KeyError, IndexError, TypeError):
            return default
    return data


def runs_text(node: Any) -> str | None:
    """YouTube-style text: {"simpleText": s} or {"runs": [{"text": s}, ...]} or {"content": s}."""
    if not isinstance(node, dict):
        return node if isinstance(node, str) else None
    if "simpleText" in node:
        return node["simpleText"]
    if "content" in node and isinstance(node["content"], str):
        return node["content"]
    if "runs" in node:
        return "".join(r.get("text", "") for r in node["runs"])
    return None


HASHTAG = re.compile(r"(?:^|(?<=[\s(]))#(\w+)", re.UNICODE)
MENTION = re.compile(r"(?:^|(?<=[\s(]))@([A-Za-z0-9_.]+(?:@[A-Za-z0-9.-]+\.[a-z]{2,})?)")


def hashtags_in(text: str | None) -> list[str]:
    """Hashtags (without '#') in order of appearance, once each."""
    return list(dict.fromkeys(HASHTAG.findall(text or "")))


def mentions_in(text: str | None) -> list[str]:
    return list(dict.fromkeys(m.rstrip(".") for m in MENTION.findall(text or "")))

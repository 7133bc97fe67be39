"""How close a replayed page is to its capture: pictures, words and the records that answered.

- visual: SSIM (scikit-image) of the capture-time screenshot and the replay's, both full page,
  in greyscale at a common width, the shorter one padded with white so that a page that lost
  its lower half scores low;
- text: the words of the capture-time DOM and of the replayed DOM, both read by the same
  extractor (scripts and styles left out), compared as bags of words (F1);
- resources: every request the replayed page made to the archive, by the record that
  answered it (pywb names it in Content-Location): exact, fuzzy (the same request with new
  volatile values), wrong (another URL's record) or missing (no record).
"""

from __future__ import annotations

import io
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import surt
from bs4 import BeautifulSoup
from PIL import Image
from skimage.metrics import structural_similarity

from replay.fuzzy import Classification
from replay.rulecheck import identity

WIDTH = 256  # px the screenshots are compared at: layout, not anti-aliasing
MAX_HEIGHT = 8192  # px at that width (a 40,000 px page at 1280 wide is 8,000)
WEIGHTS = {"visual": 0.4, "text": 0.3, "resources": 0.3}
WRONG_WEIGHT = 5
_WORD = re.compile(r"\w+", re.UNICODE)
# /COLL/TIMESTAMP[MODIFIER_]/URL, pywb's replay URLs
_REPLAY = re.compile(r"^/(?P<coll>[^/]+)/(?P<ts>\d{1,14})(?P<mod>[a-z]{2}_)?/(?P<url>.+)$")


# --------------------------------------------------------------------------- pictures


def _grey(png: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(png)).convert("L")
    h = max(1, min(MAX_HEIGHT, round(img.height * WIDTH / max(img.width, 1))))
    return img.resize((WIDTH, h), Image.Resampling.BILINEAR)


def visual_similarity(captured_png: bytes, replayed_png: bytes) -> float:
    """SSIM in [0, 1] of two full-page screenshots."""
    a, b = _grey(captured_png), _grey(replayed_png)
    height = max(a.height, b.height, 7)
    canvas = []
    for img in (a, b):
        c = Image.new("L", (WIDTH, height), 255)
        c.paste(img, (0, 0))
        canvas.append(np.asarray(c))
    score = structural_similarity(canvas[0], canvas[1], data_range=255)
    return float(min(1.0, max(0.0, score)))


# --------------------------------------------------------------------------- words


def page_words(html: str) -> Counter[str]:
    """The words a reader sees in a DOM: text outside scripts, styles and templates."""
    soup = BeautifulSoup(html or "", "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    return Counter(w.lower() for w in _WORD.findall(soup.get_text(" ")))


def text_similarity(captured: Counter[str], replayed: Counter[str]) -> float:
    """Bag-of-words F1: 1.0 for the same words, lower for each word lost or added."""
    total = sum(captured.values()) + sum(replayed.values())
    if not total:
        return 1.0
    return 2 * sum((captured & replayed).values()) / total


# --------------------------------------------------------------------------- records


def replay_target(url: str, base: str, collection: str) -> tuple[str, str] | None:
    """(timestamp, original URL) of a replay URL of this collection, else None."""
    if not url.startswith(base):
        return None
    m = _REPLAY.match(url[len(base):])
    if not m or m["coll"] != collection:
        return None
    return m["ts"], m["url"]


def _path_key(url: str) -> str:
    try:
        return surt.surt(url).split("?", 1)[0]
    except Exception:  # noqa: BLE001 - a URL surt cannot read is compared as it is
        return url.split("?", 1)[0]


@dataclass
class Answer:
    method: str
    url: str  # what the page asked for (original URL)
    status: int | None
    answered: str | None  # the URL of the record that answered, None if none did
    kind: str  # exact | fuzzy | wrong | missing
    why: str = ""  # for wrong: cross-path | other-request


def judge_answer(
    method: str, url: str, status: int | None, headers: dict[str, str], base: str, collection: str,
    classes: dict[tuple[str, str], Classification],
) -> Answer:  # fmt: skip
    """Which record answered a replayed request, and was it the request's own?"""
    archived = "content-location" in headers or "memento-datetime" in headers or any(
        k.startswith("x-archive-orig-") for k in headers
    )
    if status is None or not archived:
        return Answer(method, url, status, None, "missing")
    answered = url
    loc = headers.get("content-location")
    if loc:
        target = replay_target(loc if loc.startswith("http") else base + loc, base, collection)
        if target:
            answered = target[1]
    if answered == url:
        return Answer(method, url, status, answered, "exact")
    if _path_key(answered) != _path_key(url):
        return Answer(method, url, status, answered, "wrong", "cross-path")
    prefix = _path_key(url) + "?"
    c = classes.get((prefix, method))
    if c is not None and identity(surt.surt(url), c) != identity(surt.surt(answered), c):
        # other identifying values, or (for a POST, whose body the header does not show)
        # another method's record
        return Answer(method, url, status, answered, "wrong", "other-request")
    return Answer(method, url, status, answered, "fuzzy")


@dataclass
class ResourceResult:
    answers: list[Answer] = field(default_factory=list)
    not_requested: list[str] = field(default_factory=list)  # captured, never asked for in replay

    def counts(self) -> dict[str, int]:
        c = Counter(a.kind for a in self.answers)
        return {k: c.get(k, 0) for k in ("exact", "fuzzy", "wrong", "missing")} | {
            "not_requested": len(self.not_requested)
        }

    def score(self) -> float:
        """Share of requests answered by their own record; a wrong answer (the page silently
        shows another resource) weighs as much as WRONG_WEIGHT missing ones."""
        c = self.counts()
        good = c["exact"] + c["fuzzy"]
        denominator = good + c["missing"] + WRONG_WEIGHT * c["wrong"]
        return good / denominator if denominator else 1.0


def not_requested(captured: list[tuple[str, str]], answers: list[Answer],
                  classes: dict[tuple[str, str], Classification]) -> list[str]:  # fmt: skip
    """Captured requests the replayed page never made (nor any with only new volatile values)."""
    seen = {(a.method, a.url) for a in answers} | {(a.method, a.answered) for a in answers if a.answered}
    seen_ids = set()
    for a in answers:
        c = classes.get((_path_key(a.url) + "?", a.method))
        if c is not None:
            seen_ids.add((a.method, identity(surt.surt(a.url), c)))
    out = []
    for method, url in captured:
        if (method, url) in seen:
            continue
        c = classes.get((_path_key(url) + "?", method))
        if c is not None and (method, identity(surt.surt(url), c)) in seen_ids:
            continue
        out.append(url if method == "GET" else f"{method} {url}")
    return sorted(set(out))


def overall(parts: dict[str, float | None]) -> float:
    """Weighted mean of the parts that could be measured."""
    have = {k: v for k, v in parts.items() if v is not None}
    if not have:
        return 0.0
    return sum(WEIGHTS[k] * v for k, v in have.items()) / sum(WEIGHTS[k] for k in have)


def summary(answer: Answer) -> dict[str, Any]:
    out: dict[str, Any] = {"url": answer.url, "status": answer.status}
    if answer.method != "GET":
        out["method"] = answer.method
    if answer.answered and answer.answered != answer.url:
        out["answered"] = answer.answered
    if answer.why:
        out["why"] = answer.why
    return out

"""The parts of a QA score as pure functions: pictures, words, and which record answered."""

from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image, ImageDraw

from replay import qa_report
from replay.qa_score import (
    ResourceResult,
    judge_answer,
    overall,
    page_words,
    text_similarity,
    visual_similarity,
)

BASE = "http://127.0.0.1:8080"


def page_png(blocks: list[tuple[int, int, str]], height: int = 1800) -> bytes:
    """A 1280-wide page: light background, coloured blocks (top, height, colour)."""
    img = Image.new("RGB", (1280, height), "#f4f4f8")
    d = ImageDraw.Draw(img)
    for top, h, colour in blocks:
        d.rectangle([320, top, 960, top + h], fill=colour)
        d.line([320, top, 960, top + h], fill="black", width=6)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def test_screenshots_compare_by_layout_and_lost_content_costs() -> None:
    post = [(20, 400, "#7a0a22"), (500, 60, "white"), (580, 60, "white")]
    same = visual_similarity(page_png(post), page_png(post))
    assert same == 1.0
    without_post = visual_similarity(page_png(post), page_png(post[1:]))
    assert without_post < 0.95  # the post (text and image) is gone: replies only
    more = post + [(1900, 400, "#225577"), (2400, 400, "#557722"), (2900, 400, "#775522")]
    shorter = visual_similarity(page_png(more, 3600), page_png(post, 1800))
    assert shorter < 0.9  # the replay lost the lower half of a long page


def test_words_of_a_dom_leave_scripts_out_and_compare_as_bags() -> None:
    dom = "<html><head><style>p{}</style><script>var x = 'geheim'</script></head><body><p>Bericht 3 van @minx</p><div>Reactie 1</div></body></html>"
    words = page_words(dom)
    assert "geheim" not in words and words["bericht"] == 1 and words["reactie"] == 1
    replies_only = page_words("<body><div>Reactie 1</div></body>")
    assert text_similarity(words, words) == 1.0
    assert text_similarity(words, replies_only) < 0.7
    assert text_similarity(page_words(""), page_words("")) == 1.0


def test_which_record_answered() -> None:
    archived = {"x-archive-orig-date": "Tue, 01 Dec 2026 14:53:35 GMT"}
    url = "http://site.example/api/status/3?_=1796137152069"

    def loc(u: str) -> dict[str, str]:
        return {**archived, "content-location": f"{BASE}/social/20261201145912mp_/{u}"}

    exact = judge_answer("GET", url, 200, archived, BASE, "social", {})
    fuzzy = judge_answer("GET", url, 200, loc("http://site.example/api/status/3?_=1796137152105"), BASE, "social", {})
    cross = judge_answer("GET", url, 200, loc("http://site.example/api/status/3/replies?page=1&_=17"), BASE, "social", {})
    missing = judge_answer("GET", url, 404, {"content-type": "text/html"}, BASE, "social", {})
    assert (exact.kind, fuzzy.kind, cross.kind, missing.kind) == ("exact", "fuzzy", "wrong", "missing")
    assert cross.why == "cross-path" and cross.answered.endswith("replies?page=1&_=17")
    res = ResourceResult([exact, fuzzy, cross, missing])
    assert res.counts() == {"exact": 1, "fuzzy": 1, "wrong": 1, "missing": 1, "not_requested": 0}
    assert res.score() < 0.3  # one wrong answer outweighs the good ones
    assert ResourceResult([exact, fuzzy]).score() == 1.0
    assert overall({"visual": 1.0, "text": None, "resources": 0.5}) == (0.4 + 0.15) / 0.7


def test_overview_reads_the_latest_qa_per_collection(tmp_path: Path) -> None:
    crawls = tmp_path / "collections/gov/crawls"
    crawls.mkdir(parents=True)

    def run(crawl: str, scores: dict[str, float]) -> None:
        pages = [{"url": u, "ts": "20261201000000", "account": "x:minbzk", "score": s, "visual": s,
                  "text": 1.0, "resources": 1.0, "wrong": [], "missing": [], "error": ""}
                 for u, s in scores.items()]  # fmt: skip
        (crawls / f"{crawl}.qa.json").write_text(json.dumps(
            {"crawl_id": crawl, "summary": {"threshold": 0.8}, "pages": pages}))  # fmt: skip

    run("20261130T100000Z-0001", {"https://x.example/a": 0.2})
    run("20261201T100000Z-0002", {"https://x.example/a": 0.95, "https://x.example/b": 0.5})
    qa = qa_report.load(tmp_path)
    acct = qa.by_account[("gov", "x:minbzk")]
    assert (acct["min"], acct["pages"], acct["below"]) == (0.5, 2, 1)
    assert [b["url"] for b in qa.below] == ["https://x.example/b"] and qa.threshold == 0.8

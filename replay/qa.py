"""`bewaar qa`: replay every page a crawl captured, in headless Chromium through bewaar's own
replay, and score it against what was captured (replay/qa_score.py says how).

The replay is bewaar's pywb (replay/server.py's ReplayServer, the same rules as `bewaar
replay`), started for the check with framed replay off, so that the archived page is the top
document and its full-page screenshot compares with the capture's. The replayed page gets what
the crawler did to it (the page-info record says: overlays closed, "more" controls clicked by
their label), then a scroll to its end and back. Results go to
collections/NAME/crawls/CRAWL_ID.qa.json, referenced from the crawl report, together with the
browserless rule check (replay/rulecheck.py) of the crawl's requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from bewaar import __version__
from bewaar.config import Behaviors, RootConfig, load_root_config
from bewaar.environment import find_chromium
from bewaar.errors import FAILED, OK, InputError
from bewaar.model import COLLECTION_NAME, Root
from replay.fuzzy import Classification, analyse
from replay.qa_capture import CapturedPage, captured_pages, choose_crawl
from replay.qa_score import (
    ResourceResult,
    judge_answer,
    not_requested,
    overall,
    page_words,
    replay_target,
    summary,
    text_similarity,
    visual_similarity,
)
from replay.rulecheck import RuleCheck, check_collection
from replay.server import ReplayServer

HERE = Path(__file__).resolve().parent
JS = (HERE / "qa_behave.js").read_text(encoding="utf-8")
DEFAULT_THRESHOLD = 0.8  # "below threshold" in the overview when no --min-score was given
WORST = 10  # pages listed as the worst offenders
MAX_LISTED = 20  # wrong / missing / not requested URLs kept per page
# The replay runs on 127.0.0.1 and the archive is offline: nothing else is ever resolved. The
# other flags keep pages running in parallel from being throttled (as the crawler's do).
CHROMIUM_ARGS = [
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
    "--mute-audio",
]


@dataclass
class PageScore:
    url: str
    ts: str
    account: str = ""
    kind: str = ""
    score: float = 0.0
    visual: float | None = None
    text: float | None = None
    resources: float | None = None
    counts: dict[str, int] = field(default_factory=dict)
    wrong: list[dict[str, Any]] = field(default_factory=list)
    missing: list[dict[str, Any]] = field(default_factory=list)
    not_requested: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str = ""


# --------------------------------------------------------------------------- one page


class _Network:
    """Requests in flight and every answer, as the replayed page saw them."""

    def __init__(self) -> None:
        self.inflight = 0
        self.last_change = time.monotonic()
        self.responses: list[tuple[str, str, int, dict[str, str]]] = []
        self.failed: list[tuple[str, str]] = []

    def attach(self, page: Any) -> None:
        page.on("request", self._start)
        page.on("requestfinished", self._end)
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def _start(self, req: Any) -> None:
        self.inflight += 1
        self.last_change = time.monotonic()

    def _end(self, req: Any) -> None:
        self.inflight = max(0, self.inflight - 1)
        self.last_change = time.monotonic()

    def _failed(self, req: Any) -> None:
        self._end(req)
        failure = req.failure or ""
        if "ERR_ABORTED" not in failure:  # the page cancelling its own request (media do)
            self.failed.append((req.method, req.url))

    def _response(self, resp: Any) -> None:
        self.responses.append((resp.request.method, resp.url, resp.status, dict(resp.headers)))

    async def quiet(self, ms: int = 500, timeout: float = 8.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.inflight == 0 and time.monotonic() - self.last_change >= ms / 1000:
                return
            await asyncio.sleep(0.05)


async def _behave(page: Any, net: _Network, cap: CapturedPage, behaviors: Behaviors) -> None:
    """What the crawler did to the page, bounded in time like its behaviours."""
    deadline = time.monotonic() + behaviors.scroll_timeout

    async def call(expr: str, arg: Any = None) -> Any:
        await page.evaluate(JS)  # a no-op once installed; again after a same-page reload
        return await page.evaluate(expr, arg)

    async def scroll_to_end() -> None:
        last, stable = -1, 0
        for _ in range(behaviors.max_scrolls):
            m = await call("(by) => window.__bewaarQA.scrollBy(by)", 800)
            await net.quiet(300, 5)
            at_end = m["top"] + m["view"] >= m["height"] - 5
            stable = stable + 1 if (m["height"] == last and at_end) else 0
            last = m["height"]
            if stable >= 2 or time.monotonic() > deadline:
                return

    await net.quiet()
    if cap.overlays_closed:
        await call("(p) => window.__bewaarQA.closeOverlays(p)", behaviors.overlay_patterns)
        await net.quiet(300, 5)
    await scroll_to_end()
    for text in cap.clicked:
        if time.monotonic() > deadline:
            break
        if await call("(t) => window.__bewaarQA.click(t)", text):
            await net.quiet(400, 8)
    if cap.clicked:
        await scroll_to_end()
    # a sweep from the top, so that every lazy image has been in view
    m = await call("(y) => window.__bewaarQA.scrollTo(y)", 0)
    while m["top"] + m["view"] < m["height"] - 5 and time.monotonic() < deadline:
        before = m["top"]
        m = await call("(by) => window.__bewaarQA.scrollBy(by)", 600)
        if m["top"] <= before:
            break
    await call("(ms) => window.__bewaarQA.imagesLoaded(ms)", 3000)
    await net.quiet(500, 8)
    await call("(y) => window.__bewaarQA.scrollTo(y)", 0)


async def replay_page(
    browser: Any, base: str, collection: str, cap: CapturedPage, classes: dict[tuple[str, str], Classification],
    cfg: RootConfig,
) -> PageScore:  # fmt: skip
    started = time.monotonic()
    result = PageScore(cap.url, cap.ts, cap.entry.get("account", ""), cap.entry.get("kind", ""))
    try:
        context = await browser.new_context(
            viewport={"width": cfg.browser.viewport_width, "height": cfg.browser.viewport_height},
            user_agent=cap.user_agent or None,
            service_workers="block",
            accept_downloads=False,
        )
    except Exception as e:  # noqa: BLE001 - that page's score says so
        result.error = str(e).splitlines()[0][:300]
        return result
    try:
        page = await context.new_page()
        try:
            net = _Network()
            net.attach(page)
            await page.goto(f"{base}/{collection}/{cap.ts}mp_/{cap.url}", wait_until="load", timeout=60000)
            await _behave(page, net, cap, Behaviors())
            html = await page.content()
            shot = await page.screenshot(full_page=True, timeout=60000)
        finally:
            # closing must not replace what is under way (an interrupt cancels the page)
            with contextlib.suppress(Exception):
                await page.close()
    except Exception as e:  # noqa: BLE001 - one page that cannot be replayed is that page's score
        result.error = str(e).splitlines()[0][:300]
        result.seconds = round(time.monotonic() - started, 1)
        return result
    finally:
        with contextlib.suppress(Exception):
            await context.close()

    # reading the capture and comparing pictures is CPU work: off the event loop
    await asyncio.to_thread(_score, result, cap, net, html, shot, base, collection, classes)
    result.seconds = round(time.monotonic() - started, 1)
    return result


def _score(
    result: PageScore, cap: CapturedPage, net: _Network, html: str, shot: bytes, base: str,
    collection: str, classes: dict[tuple[str, str], Classification],
) -> None:  # fmt: skip
    answers = []
    for method, url, status, headers in net.responses:
        target = replay_target(url, base, collection)
        if target:
            answers.append(judge_answer(method, target[1], status, headers, base, collection, classes))
    for method, url in net.failed:
        target = replay_target(url, base, collection)
        if target:
            answers.append(judge_answer(method, target[1], None, {}, base, collection, classes))
    res = ResourceResult(answers, not_requested(cap.requests, answers, classes))
    captured_shot, captured_dom = cap.screenshot, cap.dom
    result.visual = round(visual_similarity(captured_shot, shot), 4) if captured_shot else None
    result.text = round(text_similarity(page_words(captured_dom), page_words(html)), 4) if captured_dom else None
    result.resources = round(res.score(), 4)
    result.score = round(overall({"visual": result.visual, "text": result.text, "resources": result.resources}), 4)
    result.counts = res.counts()
    result.wrong = [summary(a) for a in answers if a.kind == "wrong"][:MAX_LISTED]
    result.missing = [summary(a) for a in answers if a.kind == "missing"][:MAX_LISTED]
    result.not_requested = res.not_requested[:MAX_LISTED]


async def replay_all(
    base: str, collection: str, pages: list[CapturedPage], classes: dict[tuple[str, str], Classification],
    cfg: RootConfig, progress: TextIO,
) -> list[PageScore]:  # fmt: skip
    from playwright.async_api import async_playwright

    args = list(CHROMIUM_ARGS)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
    args += cfg.browser.args
    sem = asyncio.Semaphore(cfg.crawl.concurrency)
    done = 0

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=find_chromium(cfg.browser.executable), args=args, headless=True
        )
        try:

            async def one(cap: CapturedPage) -> PageScore:
                nonlocal done
                async with sem:
                    score = await replay_page(browser, base, collection, cap, classes, cfg)
                done += 1
                flag = f"  ({score.error})" if score.error else ""
                print(f"[{done}/{len(pages)}] {score.score:.2f} {cap.url}{flag}", file=progress, flush=True)
                return score

            return list(await asyncio.gather(*(one(p) for p in pages)))
        finally:
            with contextlib.suppress(Exception):
                await browser.close()


# --------------------------------------------------------------------------- the command


@dataclass
class QAResult:
    path: Path
    data: dict[str, Any]
    below: list[PageScore]
    rules: RuleCheck

    @property
    def exit_code(self) -> int:
        """1 when a page scores below --min-score, a replayed request was answered by another
        URL's record, or the rule check found a request that does not find its own."""
        wrong = self.data["summary"]["wrong_records"]
        return FAILED if (self.below or wrong or self.rules.wrong or self.rules.unresolved) else OK


def run_qa(
    root: Root, name: str, crawl_id: str | None = None, min_score: float | None = None,
    progress: TextIO = sys.stderr,
) -> QAResult:  # fmt: skip
    if not COLLECTION_NAME.match(name) or not root.collection(name).path.is_dir():
        known = ", ".join(c.name for c in root.collections()) or "none"
        raise InputError(f"no collection '{name}' under {root.collections_dir} (collections: {known})")
    if min_score is not None and not 0 <= min_score <= 1:
        raise InputError(f"--min-score {min_score} is not between 0 and 1")
    cfg = load_root_config(root.path)
    coll = root.collection(name)
    crawl_id, report = choose_crawl(coll, crawl_id)
    warcs = list(report.get("warcs") or [])
    pages = captured_pages(coll, crawl_id, warcs)
    if not pages:
        raise InputError(f"crawl {crawl_id} of '{name}' captured no page to check")
    print(f"QA of crawl {crawl_id} of '{name}': {len(pages)} page(s)", file=progress, flush=True)

    rules = check_collection(root, cfg.replay, coll, warcs or None)
    print(
        f"  rule check: {rules.requests} request(s), {rules.wrong} answered by another URL's "
        f"record, {rules.unresolved} unresolved, {rules.unloadable} not loadable",
        file=progress, flush=True,
    )  # fmt: skip
    classes = {(ep.prefix, ep.method): c for ep, c in analyse(coll)}
    # frameless: the archived page is the top document, as it was when captured
    replay_cfg = cfg.replay.model_copy(update={"pywb": {**cfg.replay.pywb, "framed_replay": False}})
    server = ReplayServer(
        root, replay_cfg, "127.0.0.1", 0, state=root.state_dir / "qa", acl=False
    )
    with server as base:
        scores = asyncio.run(replay_all(base, name, pages, classes, cfg, progress))
    return write_results(coll.path / "crawls", crawl_id, name, scores, rules, min_score)


def write_results(
    crawls_dir: Path, crawl_id: str, collection: str, scores: list[PageScore], rules: RuleCheck,
    min_score: float | None,
) -> QAResult:  # fmt: skip
    threshold = DEFAULT_THRESHOLD if min_score is None else min_score
    ranked = sorted(scores, key=lambda s: (s.score, s.url))
    below = [s for s in ranked if min_score is not None and s.score < min_score]
    values = [s.score for s in scores]
    summary_ = {
        "pages": len(scores),
        "mean": round(sum(values) / len(values), 4) if values else None,
        "min": min(values) if values else None,
        "threshold": threshold,
        "min_score": min_score,
        "below": sum(1 for v in values if v < threshold),
        "wrong_records": sum(s.counts.get("wrong", 0) for s in scores),
        "missing_records": sum(s.counts.get("missing", 0) for s in scores),
        "rules_wrong": rules.wrong,
        "rules_unresolved": rules.unresolved,
    }
    data = {
        "crawl_id": crawl_id,
        "collection": collection,
        "software": f"bewaar/{__version__}",
        "checked_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "summary": summary_,
        "worst": [asdict(s) for s in ranked[:WORST]],
        "pages": [asdict(s) for s in sorted(scores, key=lambda s: s.url)],
        "rules": rules.to_dict(),
    }
    path = crawls_dir / f"{crawl_id}.qa.json"
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)
    report = crawls_dir / f"{crawl_id}.json"
    try:
        data_r = json.loads(report.read_text(encoding="utf-8"))
        data_r["qa"] = {"file": path.name, "checked_at": data["checked_at"], **summary_}
        tmp = report.with_name(report.name + ".tmp")
        tmp.write_text(json.dumps(data_r, indent=1, ensure_ascii=False), encoding="utf-8")
        tmp.replace(report)
    except (OSError, ValueError):
        pass  # the QA file stands on its own
    return QAResult(path, data, below, rules)


def print_summary(result: QAResult, out: TextIO = sys.stderr) -> None:
    s = result.data["summary"]
    print(
        f"\nQA of crawl {result.data['crawl_id']}: {s['pages']} page(s), mean score {s['mean']:.2f}, "
        f"lowest {s['min']:.2f}; {s['wrong_records']} request(s) answered by another URL's record, "
        f"{s['missing_records']} without a record",
        file=out,
    )
    for w in result.data["worst"][:5]:
        parts = [f"visual {w['visual']}", f"text {w['text']}", f"resources {w['resources']}"]
        print(f"  {w['score']:.2f} {w['url']} ({', '.join(parts)}){' — ' + w['error'] if w['error'] else ''}",
              file=out)  # fmt: skip
    bugs = [e for e in result.rules.endpoints if e.wrong or e.unresolved]
    for e in bugs[:10]:
        ex = e.examples[0] if e.examples else {}
        print(
            f"  rule bug: {e.method} {e.endpoint}: {e.wrong} wrong, {e.unresolved} unresolved"
            + (f" (e.g. {ex.get('kind')}: answered by {ex.get('answered_method')} {ex.get('answered')})" if ex else ""),
            file=out,
        )  # fmt: skip
    if len(bugs) > 10:
        print(f"  … and {len(bugs) - 10} more endpoint(s) with rule bugs (see the report)", file=out)
    if result.below:
        print(f"{len(result.below)} page(s) below --min-score {result.data['summary']['min_score']}:", file=out)
        for b in result.below[:20]:
            print(f"  {b.score:.2f} {b.url}", file=out)
        if len(result.below) > 20:
            print(f"  … and {len(result.below) - 20} more (see the report)", file=out)
    print(f"  report: {result.path}", file=out, flush=True)

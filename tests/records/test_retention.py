"""Retention rules: how terms are written and counted, which rule a capture takes, and a post or
reply with a rule of its own."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bewaar.config import Retention
from bewaar.timeutil import add_term, parse_term
from tests.conftest import run_bewaar, write_seeds
from tests.records.conftest import THREAD_ID, Life


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(("start", "term", "end"), [
    ("2024-02-29T10:00:00", "1y", "2025-02-28T10:00:00"),
    ("2024-01-31T00:00:00", "1mo", "2024-02-29T00:00:00"),
    ("2020-05-01T00:00:00", "10 jaar", "2030-05-01T00:00:00"),
    ("2020-05-01T00:00:00", "18 maanden", "2021-11-01T00:00:00"),
    ("2020-05-01T00:00:00", "90d", "2020-07-30T00:00:00"),
    ("2020-05-01T00:00:00", "2w", "2020-05-15T00:00:00"),
])
def test_terms_count_on_the_calendar(start: str, term: str, end: str) -> None:
    assert add_term(at(start), term) == at(end)


@pytest.mark.parametrize("bad", ["10m", "ten years", "1y2mo", "-1y", ""])
def test_a_term_that_is_no_term_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_term(bad)


def test_from_published_counts_from_publication() -> None:
    r = Retention.model_validate({"term": "5y", "from": "published", "category": "2.3"})
    assert r.due(at("2030-01-01T00:00:00"), at("2020-03-01T00:00:00")) == at("2025-03-01T00:00:00")
    assert r.due(at("2030-01-01T00:00:00"), None) == at("2035-01-01T00:00:00")  # unknown: capture
    assert Retention.model_validate({"term": "bewaren"}).due(at("2030-01-01T00:00:00")) is None


def test_seed_list_retention_is_validated_with_file_and_line(tmp_path: Path) -> None:
    seeds = write_seeds(tmp_path / "s.yaml", (
        "collection: gov\nretention: {term: 10y, list: Selectielijst}\nseeds:\n"
        "  - url: https://example.gov/\n    retention: {term: 10m, category: '1.1'}\n"))
    p = run_bewaar("crawl", str(seeds), "--root", str(tmp_path))
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert p.stderr.strip() == (f"bewaar: error: {seeds}:5: seeds[0].retention.term: '10m' is not a "
                                "retention term like 10y, 18mo, 6w or 90d (or permanent)")


def test_a_post_with_its_own_rule_stays_and_a_reply_with_one_goes(life: Life, tmp_path: Path) -> None:
    thread = f"{life.mastodon}/@minbzk/{THREAD_ID}"
    p = life.bewaar("retention", "set", "gov", "--post", thread, "--permanent", "--category", "1.1.1",
                    "--reason", "besluit college 2026-12")
    assert p.returncode == 0, p.stderr
    # an X reply (X's account is kept 10y) with a short term of its own
    reply = f"{life.x}/pieter/status/900003"
    p = life.bewaar("retention", "set", "gov", "--post", reply, "--term", "30d")
    assert p.returncode == 0, p.stderr
    lines = [json.loads(x) for x in (life.coll / "ledger/ledger.jsonl").read_text().splitlines()]
    assert [x["key"] for x in lines if x["event"] == "retention" and x["scope"] == "post"] == [thread, reply]

    # 40 days on: only the reply is due, inside X's pages that are kept -> it is redacted from them
    soon = life.after(life.crawl2, __import__("datetime").timedelta(days=40))
    p = life.bewaar("destroy", "plan", "gov", "--due", "-o", str(tmp_path / "p1.json"), now=soon)
    plan = json.loads((tmp_path / "p1.json").read_text())
    assert plan["objects"] == [{"id": "900003", "url": reply}] and not plan["pages"]
    (f,) = plan["files"]
    assert f["action"] == "rewrite" and f["records_edited"] >= 2 and f["pages_edited"]

    # a year on: the Mastodon account is due but the thread keeps its own (permanent) rule, so
    # crawl 1's file is no longer all due: rewritten, not destroyed
    later = life.after(life.crawl2, __import__("datetime").timedelta(days=400))
    p = life.bewaar("destroy", "plan", "gov", "--due", "-o", str(tmp_path / "p2.json"), now=later)
    assert p.returncode == 0, p.stderr
    plan = json.loads((tmp_path / "p2.json").read_text())
    actions = {f["file"]: f["action"] for f in plan["files"]}
    assert set(actions.values()) == {"rewrite"}
    removed = {pg["url"] for f in plan["files"] for pg in f["pages_removed"]}
    assert thread not in removed and f"{life.mastodon}/@minbzk" in removed
    p = life.bewaar("retention", "status", "gov", now=later)
    assert "set on post " + thread in p.stdout and "permanent" in p.stdout


def test_plans_need_a_selection_and_a_reason(life: Life, tmp_path: Path) -> None:
    p = life.bewaar("destroy", "plan", "gov", "-o", str(tmp_path / "p.json"))
    assert p.returncode == 2 and "--due, --account NAME or --post URL" in p.stderr
    p = life.bewaar("destroy", "plan", "gov", "--account", "x:MinBZK", "-o", str(tmp_path / "p.json"))
    assert p.returncode == 2 and "need --reason" in p.stderr
    p = life.bewaar("destroy", "plan", "gov", "--account", "nobody", "--reason", "r",
                    "-o", str(tmp_path / "p.json"))
    assert p.returncode == 2 and "no pages of account 'nobody'" in p.stderr
    p = life.bewaar("destroy", "plan", "gov", "--due", "-o", str(tmp_path / "p.json"))
    assert p.returncode == 0 and "nothing to destroy is due" in p.stdout
    assert not (tmp_path / "p.json").exists()
    p = life.bewaar("destroy", "execute", str(tmp_path / "missing.json"), "--approved-by", "x")
    assert p.returncode == 2 and "cannot read the plan" in p.stderr


def test_plans_by_account_and_by_post(life: Life, tmp_path: Path) -> None:
    p = life.bewaar("destroy", "plan", "gov", "--account", "x:MinBZK", "--reason",
                    "account opgeheven, besluit 2026/77", "-o", str(tmp_path / "a.json"))
    assert p.returncode == 0, p.stderr
    plan = json.loads((tmp_path / "a.json").read_text())
    # X was crawled in crawl 2 only, beside Mastodon: a crawl writes a file per account, so
    # X's file goes whole
    (f,) = plan["files"]
    assert f["action"] == "destroy" and f["pages_kept"] == 0 and f["pages_removed"]
    assert {pg["account"] for pg in f["pages_removed"]} == {"x:MinBZK"}
    assert plan["reason"] == "account opgeheven, besluit 2026/77"

    post = f"{life.mastodon}/@minbzk/1790000000000000004"
    p = life.bewaar("destroy", "plan", "gov", "--post", post, "--reason", "r", "-o", str(tmp_path / "p.json"))
    assert p.returncode == 0, p.stderr
    plan = json.loads((tmp_path / "p.json").read_text())
    assert {"id": "1790000000000000004", "url": post} in plan["objects"]
    removed = {pg["url"] for f in plan["files"] for pg in f["pages_removed"]}
    edited = {u for f in plan["files"] for u in f["pages_edited"]}
    assert removed == {post} and f"{life.mastodon}/@minbzk" in edited  # the profile listed it


def test_redact_one_record_by_id(life: Life) -> None:
    from bewaar.app.records.content import scan_collection
    from bewaar.model import Root

    files = scan_collection(Root(life.root).collection("gov"))
    shot = next(r for r in files[0].records if r.uri.startswith("urn:screenshot:"))
    p = life.bewaar("redact", "gov", "--record", shot.id, "--reason", "beeldrecht")
    assert p.returncode == 0, p.stderr
    after = scan_collection(Root(life.root).collection("gov"))
    assert shot.id not in {r.id for fm in after for r in fm.records}
    assert len(after[0].records) == len(files[0].records) - 1
    code, report = life.verify(str(life.coll))
    assert code == 0 and report["outcome"] == "passed", report["first_failure"]
    p = life.bewaar("redact", "gov", "--record", "<urn:uuid:nope>", "--reason", "x")
    assert p.returncode == 2 and "no record <urn:uuid:nope>" in p.stderr

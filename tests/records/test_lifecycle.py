"""The whole life of an archive under a selection list, on the fixture sites: two accounts with
different terms, the clock moved (BEWAAR_NOW, no sleeping), destruction planned, approved and
carried out, a citizen's reply redacted at their request, and what happens when someone removes
a file or edits the ledger by hand."""

from __future__ import annotations

import json
import sqlite3
import zlib
from datetime import timedelta
from pathlib import Path
from typing import Any

from bewaar.timeutil import add_term, iso
from catalog import query
from tests.conftest import Replay
from tests.pagecheck import open_page
from tests.records.conftest import CITIZEN, CITIZEN_WORDS, THREAD_ID, Life

YEAR = timedelta(days=366)


def ledger_check(report: dict) -> dict:
    subs = [s for s in report["subjects"] if any(c["check"] == 6 for c in s["checks"])]
    (check,) = [c for c in subs[0]["checks"] if c["check"] == 6]
    return {**check, "facts": subs[0]["facts"].get("ledger", {})}


def archive(life: Life) -> list[str]:
    return sorted(p.name for p in (life.coll / "archive").glob("*.warc.gz"))


def files_of(life: Life) -> dict[str, list[str]]:
    """The archive's files per platform, oldest first (a crawl writes a file per account)."""
    out: dict[str, set[str]] = {}
    for line in (life.coll / "pages/pages.jsonl").read_text().splitlines()[1:]:
        if line.strip():
            p = json.loads(line)
            out.setdefault(p["platform"], set()).add(p["warc"])
    return {k: sorted(v) for k, v in out.items()}


def plan_of(life: Life, path: Path, *args: str, now: str | None = None) -> dict[str, Any]:
    p = life.bewaar("destroy", "plan", "gov", *args, "-o", str(path), now=now)
    assert p.returncode == 0, p.stderr
    return json.loads(path.read_text(encoding="utf-8"))


def everything_in(root: Path) -> bytes:
    """Every byte under the root, gzip members inflated: what a removal must leave no trace in."""
    out = []
    for p in sorted(root.rglob("*")):
        if not p.is_file():
            continue
        data = p.read_bytes()
        if p.name.endswith(".gz"):
            inflated = b""
            while data:
                z = zlib.decompressobj(31)
                inflated += z.decompress(data)
                data = z.unused_data
            data = inflated
        out.append(data)
    return b"\n".join(out)


def test_two_terms_destruction_planned_approved_and_verified(life: Life, tmp_path: Path) -> None:
    before = archive(life)
    files = files_of(life)
    (m1, m2), (xf,) = files["mastodon"], files["x"]  # crawl 1: Mastodon; crawl 2: both
    assert before == sorted([m1, m2, xf])
    # today nothing is due; a year on, the Mastodon account's term (1y) has ended, X's (10y) not
    p = life.bewaar("retention", "status", "gov", "--json")
    (status,) = json.loads(p.stdout)
    assert status["due_pages"] == 0 and status["unclassified_pages"] == 0
    later = life.after(life.crawl2, YEAR + timedelta(days=3))
    p = life.bewaar("retention", "status", "gov", "--json", now=later)
    (status,) = json.loads(p.stdout)
    rules = {r["key"].split(":")[0]: r for r in status["rules"]}
    assert rules["mastodon"]["due"] == rules["mastodon"]["pages"] > 0
    assert rules["x"]["due"] == 0 and rules["x"]["rule"]["term"] == "10y"
    # each crawl wrote a file per account: Mastodon's two files go whole, X's stays
    assert status["files_due_whole"] == [m1, m2] and status["files_due_in_part"] == []

    plan = plan_of(life, tmp_path / "plan.json", "--due", now=later)
    assert archive(life) == before  # a plan changes nothing
    actions = {f["file"]: f for f in plan["files"]}
    assert actions[m1]["action"] == actions[m2]["action"] == "destroy"
    # X's file is rewritten only if some of its records were revisits of a Mastodon file
    assert xf not in actions or (actions[xf]["action"] == "rewrite" and not actions[xf]["pages_removed"]
                                 and actions[xf]["records_materialised"] > 0)  # fmt: skip
    removed = [pg for f in plan["files"] for pg in f["pages_removed"]]
    assert {pg["account"].split(":")[0] for pg in removed} == {"mastodon"}
    assert all(pg["retention"]["rule"]["category"] == "1.1.4" for pg in removed)

    # execution needs an approver, and is refused once the clock says it is not due after all
    p = life.bewaar("destroy", "execute", str(tmp_path / "plan.json"))
    assert p.returncode == 2 and "--approved-by" in p.stderr
    p = life.bewaar("destroy", "execute", str(tmp_path / "plan.json"), "--approved-by", "J. Jansen")
    assert p.returncode == 1 and "is not due now" in p.stderr and archive(life) == before
    kept_copy = tmp_path / "backup"
    kept_copy.mkdir()
    for name in (m1, m1 + ".sig.json"):
        (kept_copy / name).write_bytes((life.coll / "archive" / name).read_bytes())
    p = life.bewaar("destroy", "execute", str(tmp_path / "plan.json"), "--approved-by",
                    "J. Jansen, archivaris", "--by", "beheerder", now=later)
    assert p.returncode == 0, p.stderr
    after = archive(life)
    assert after == [xf.replace(".warc.gz", "-r1.warc.gz") if xf in actions else xf]

    # verify passes and names the lawful removals with their record
    code, report = life.verify(str(life.coll))
    check = ledger_check(report)
    assert code == 0 and report["outcome"] == "passed", report["first_failure"]
    assert check["status"] == "pass" and f"{len(actions)} lawful removal(s)" in check["detail"]
    removals = {r["file"]: r for r in check["facts"]["removals"]}
    assert removals[m1]["how"] == removals[m2]["how"] == "destroyed"
    assert xf not in actions or removals[xf]["replaced_by"] == after[0]
    assert all(r["approved_by"] == "J. Jansen, archivaris" and r["kind"] == "destruction"
               for r in removals.values())
    (record,) = (life.coll / "ledger/records").glob("destruction-*.json")
    doc = json.loads(record.read_text(encoding="utf-8"))
    assert doc["timestamp"]["status"] == "granted"
    st = json.loads(doc["statement"])
    assert st["approved_by"] == "J. Jansen, archivaris" and st["executed_by"].startswith("beheerder@")
    assert st["plan"]["sha256"] and st["clock"].startswith("BEWAAR_NOW=")
    assert {f["file"]: f["action"] for f in st["files"]} == {
        m1: "destroyed", m2: "destroyed", **({xf: "rewritten"} if xf in actions else {})}
    assert all(f["new_sha256"] for f in st["files"] if f["action"] == "rewritten")

    # the catalog forgot the Mastodon posts and remembers that they were destroyed, and why
    con = sqlite3.connect(life.root / "catalog.sqlite")
    con.row_factory = sqlite3.Row
    accounts = {r["name"].split(":")[0] for r in con.execute("SELECT name FROM accounts")}
    assert accounts == {"x"}
    gone = query.removals(con, "gov")
    assert gone and {r["kind"] for r in gone} == {"destroyed"} and gone[0]["record"] == record.stem
    con.close()

    # a destroyed file that comes back (from a backup, or a run stopped before it deleted it)
    # fails verify, naming its record; the next run deletes it, and carries out a plan once only
    for f in kept_copy.iterdir():
        (life.coll / "archive" / f.name).write_bytes(f.read_bytes())
    code, report = life.verify(str(life.coll))
    assert code == 1 and f"{m1} is present although record {record.stem} removed it" in \
        report["first_failure"]["detail"]
    p = life.bewaar("destroy", "execute", str(tmp_path / "plan.json"), "--approved-by", "x", now=later)
    assert p.returncode == 0 and "carried out already" in p.stdout
    assert f"finished an earlier removal: deleted {m1}" in p.stdout
    assert archive(life) == after and life.verify(str(life.coll))[0] == 0

    # a package made now verifies and carries the record
    p = life.bewaar("package", "gov", "-o", str(tmp_path / "gov.wacz"))
    assert p.returncode == 0, p.stderr
    code, report = life.verify(str(tmp_path / "gov.wacz"))
    assert code == 0 and report["outcome"] == "passed", report["first_failure"]
    assert f"{len(actions)} lawful removal(s)" in ledger_check(report)["detail"]

    # a WARC deleted with its signature by hand: verify fails, naming it
    gone_by_hand = life.coll / "archive" / after[0]
    gone_by_hand.unlink()
    gone_by_hand.with_name(after[0] + ".sig.json").unlink()
    code, report = life.verify(str(life.coll))
    assert code == 1 and report["first_failure"]["check"] == 6
    assert f"{after[0]} is missing" in report["first_failure"]["detail"]
    assert "no destruction or redaction record removed it" in report["first_failure"]["detail"]


def test_an_edited_ledger_fails_naming_the_line(life: Life) -> None:
    path = life.coll / "ledger/ledger.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()
    n = next(i for i, ln in enumerate(lines) if '"event":"added"' in ln)
    lines[n] = lines[n].replace('"size":', '"size":1')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, report = life.verify(str(life.coll))
    assert code == 1
    assert report["first_failure"]["detail"].startswith(
        f"ledger.jsonl line {n + 1} was changed after it was written")


def test_destroying_an_older_crawl_keeps_the_newer_one_replaying(
    life: Life, tmp_path: Path, browser: Any
) -> None:
    # between the two crawls' ends of term (crawl 1's last capture, crawl 2's first, a year on):
    # only crawl 1 is due
    gap = parse(life.crawl2[0]) - parse(life.crawl1[1])
    assert gap.total_seconds() >= 2
    mid = iso(add_term(parse(life.crawl1[1]), "1y") + gap / 2)
    plan = plan_of(life, tmp_path / "plan.json", "--due", now=mid)
    actions = {f["file"]: f for f in plan["files"]}
    files = files_of(life)
    (first, second), (xf,) = files["mastodon"], files["x"]
    assert actions[first]["action"] == "destroy"
    assert actions[second]["action"] == "rewrite" and not actions[second]["pages_removed"]
    assert actions[second]["records_materialised"] >= 3  # app.js, API answers, images, video
    p = life.bewaar("destroy", "execute", str(tmp_path / "plan.json"), "--approved-by", "J. Jansen", now=mid)
    assert p.returncode == 0, p.stderr
    renamed = [n.replace(".warc.gz", "-r1.warc.gz") if n in actions else n for n in (second, xf)]
    assert archive(life) == sorted(renamed)
    code, report = life.verify(str(life.coll))
    assert code == 0 and report["outcome"] == "passed", report["first_failure"]

    # the newer crawl's Mastodon pages replay in Chromium: script, API answers, images, video
    stamp = life.crawl2[0].replace("-", "").replace(":", "").replace("T", "").rstrip("Z")
    with Replay(life.root) as replay:
        for path in ("/@minbzk", f"/@minbzk/{THREAD_ID}"):
            page, frame, failed = open_page(browser, f"{replay.url}/gov/{stamp}/{life.mastodon}{path}",
                                            framed=True)
            try:
                frame.wait_for_selector("article[data-id]", timeout=30000)
                page.wait_for_timeout(1000)
                n = frame.evaluate("document.querySelectorAll('article[data-id]').length")
                imgs = frame.evaluate("[...document.images].map(i => [i.src, i.naturalWidth])")
                assert n >= (4 if path == "/@minbzk" else 6), path
                assert imgs and all(w > 0 for _src, w in imgs), imgs
                assert not [f for f in failed if f.startswith(("4", "5"))], failed
            finally:
                page.close()


def parse(text: str) -> Any:
    from bewaar.timeutil import parse_iso

    return parse_iso(text)


def test_a_citizens_reply_is_redacted_at_their_request(life: Life, browser: Any) -> None:
    before = archive(life)
    p = life.bewaar("redact", "gov", "--replies-by", CITIZEN, "--reason",
                    "AVG art. 17: verzoek 2026-041", "--approved-by", "FG", "--dry-run")
    assert p.returncode == 0 and "nothing was done" in p.stdout and archive(life) == before
    p = life.bewaar("redact", "gov", "--replies-by", CITIZEN, "--reason",
                    "AVG art. 17: verzoek 2026-041", "--approved-by", "FG")
    assert p.returncode == 0, p.stderr
    assert archive(life) == [n.replace(".warc.gz", "-r1.warc.gz") for n in before]

    # verify passes and reports the redaction with its record
    code, report = life.verify(str(life.coll))
    check = ledger_check(report)
    assert code == 0 and report["outcome"] == "passed", report["first_failure"]
    assert all(r["kind"] == "redaction" and r["reason"] == "AVG art. 17: verzoek 2026-041"
               for r in check["facts"]["removals"])
    (record,) = (life.coll / "ledger/records").glob("redaction-*.json")
    st = json.loads(json.loads(record.read_text(encoding="utf-8"))["statement"])
    edited = [r for f in st["files"] for r in f["edited_records"]]
    assert any(r["type"] == "resource" for r in edited)  # the DOM snapshot
    assert sum(f["screenshots_dropped"] for f in st["files"]) >= 1
    assert all("uri_sha256" in r and "uri" not in r for f in st["files"] for r in f["removed_records"])

    # nothing under the root holds the reply's words or the person's handle any more: not the
    # WARCs, the index, pages, objects, the catalog (and its search index), nor the record
    blob = everything_in(life.root)
    assert CITIZEN_WORDS.encode() not in blob
    assert CITIZEN.encode() not in blob and CITIZEN.title().encode() not in blob
    assert b"Wanneer komt dit naar Groningen" in blob  # another citizen's reply stays

    # search no longer finds its words; the other replies are still found
    con = sqlite3.connect(life.root / "catalog.sqlite")
    con.row_factory = sqlite3.Row
    assert query.search_posts(con, query.PostFilter(q="initiatief", replies=True))[0] == []
    assert query.search_posts(con, query.PostFilter(q="Groningen", replies=True))[0]
    con.close()

    # a package made afterwards verifies and shows the redaction as lawful
    p = life.bewaar("package", "gov", "-o", str(life.root.parent / "gov.wacz"))
    assert p.returncode == 0, p.stderr
    code, report = life.verify(str(life.root.parent / "gov.wacz"))
    assert code == 0 and report["outcome"] == "passed", report["first_failure"]
    assert "lawful removal(s)" in ledger_check(report)["detail"]

    # replay shows the thread without the reply, with the other replies
    stamp = life.crawl1[0].replace("-", "").replace(":", "").replace("T", "").rstrip("Z")
    with Replay(life.root) as replay:
        url = f"{replay.url}/gov/{stamp}/{life.mastodon}/@minbzk/{THREAD_ID}"
        page, frame, _failed = open_page(browser, url, framed=True)
        try:
            frame.wait_for_selector(".thread article[data-id]", timeout=30000)
            text = frame.evaluate("document.body.innerText")
            assert "Vraag van de week" in text and "Groningen" in text
            assert CITIZEN_WORDS not in text and CITIZEN not in text.lower()
            assert frame.evaluate("document.querySelectorAll('.thread article').length") == 4
        finally:
            page.close()

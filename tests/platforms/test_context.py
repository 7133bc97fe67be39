"""An account's whole context, end to end on the fixture platforms (issue 16), through the real
`bewaar crawl`, `bewaar import`, `bewaar changes` and the overview.

One crawl of five accounts shares the expensive part:
- X (with a login state): its replies in others' threads (/with_replies) with the posts they
  answer, posts mentioning it (search, for logged-in visitors only), and a back-fill to 2023
  that the profile timeline cannot reach;
- Mastodon (a hybrid account with out-of-scope rules): replies elsewhere, its public follower
  and following lists (follow_lists: 50);
- Instagram and Facebook (login states): stories, each item its own page with its expiry;
  Facebook's reactions per type and the Page's own comments; max_posts 3 leaves posts seen but
  not captured;
- Snapchat: a public profile with its public story.
A second crawl resumes the back-fill and sees the follow lists again; an X archive is imported
between the two.
"""

from __future__ import annotations

import gzip
import json
import re
import sqlite3
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from warcio.archiveiterator import ArchiveIterator

from bewaar.app.web.overview import OverviewApp
from bewaar.objects import SCHEMA_FILE, parse_count
from bewaar.sites.exports import OLD_POST_TIME, build_export
from bewaar.sites.platforms import SITES
from tests.conftest import make_root, run_bewaar, write_seeds

pytestmark = pytest.mark.slow
SINCE = "2023-03-01"  # the fixture's oldest post (only in its search) is from February
MASTODON_RULES = [{"hashtag": "jubileum"}, {"keyword": "werkbezoek"}]


def _state(tmp: Path, site: Any) -> str:
    path = tmp / f"{site.platform}-state.json"
    path.write_text(json.dumps(site.session_state()))
    path.chmod(0o600)
    return str(path)


def _seeds(tmp: Path, sites: dict[str, Any], names: list[str]) -> Path:
    seeds = []
    for name in names:
        s = sites[name]
        seed: dict[str, Any] = {"platform": name, "handle": s.handle_in_seed, "base_url": s.base_url}
        if name == "x":
            seed.update(login_state=_state(tmp, s), received=True, since=SINCE, max_posts=10)
        if name == "mastodon":
            seed.update(account_type="hybrid", out_of_scope=MASTODON_RULES, follow_lists=50)
        if name in ("instagram", "facebook"):
            seed.update(login_state=_state(tmp, s))
        if name == "facebook":
            seed.update(max_posts=3, with_replies=False)
        seeds.append(seed)
    return write_seeds(tmp / f"seeds-{'-'.join(names)}.yaml", {
        "collection": "ctx", "behaviors": {"play_media": False}, "seeds": seeds})  # fmt: skip


@pytest.fixture(scope="module")
def ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("context")
    sites = {n: SITES[n]() for n in ("x", "mastodon", "instagram", "facebook", "snapchat")}
    for s in sites.values():
        s.start()
    try:
        root = make_root(tmp / "root")
        first = run_bewaar("crawl", str(_seeds(tmp, sites, list(sites))), "--root", str(root))
        db = root / "catalog.sqlite"
        before_import = _gaps(db, "x:MinBZK")
        export = build_export(sites["x"], tmp / "twitter-archive.zip")
        imported = run_bewaar("import", "x", str(export), "--account", "MinBZK", "--collection", "ctx",
                              "--base-url", sites["x"].base_url, "--root", str(root))  # fmt: skip
        second = run_bewaar("crawl", str(_seeds(tmp, sites, ["x", "mastodon"])), "--root", str(root))
        yield {"sites": sites, "root": root, "first": first, "second": second, "imported": imported,
               "db": db, "tmp": tmp, "export": export, "before_import": before_import}  # fmt: skip
    finally:
        for s in sites.values():
            s.stop()


def _gaps(db: Path, account: str) -> dict[str, Any]:
    con = sqlite3.connect(db)
    try:
        row = con.execute(
            "SELECT ac.gaps FROM account_crawls ac JOIN accounts a ON a.id = ac.account"
            " WHERE a.name = ? AND ac.pages_ok > 0 ORDER BY ac.started DESC LIMIT 1", (account,),
        ).fetchone()  # fmt: skip
    finally:
        con.close()
    return json.loads(row[0])


def _q(db: Path, sql: str, *args: Any) -> list[tuple]:
    con = sqlite3.connect(db)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def _objects(root: Path) -> list[dict[str, Any]]:
    out = []
    for path in sorted((root / "collections/ctx/objects").glob("*.jsonl")):
        out += [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x]
    return out


def _pages(root: Path) -> list[dict[str, Any]]:
    lines = (root / "collections/ctx/pages/pages.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(x) for x in lines[1:]]


def test_crawls_and_import_succeed(ctx: dict[str, Any]) -> None:
    for key in ("first", "imported", "second"):
        proc = ctx[key]
        assert proc.returncode == 0, (key, proc.stderr[-3000:])
        assert "Traceback" not in proc.stderr
    summary = ctx["first"].stderr
    assert re.search(r"x:MinBZK: .*\n    also: 2 repl\(y/ies\) by the account, 3 received", summary), summary
    assert "out of scope (its seed's rules)" in summary


def test_replies_elsewhere_with_the_posts_they_answer(ctx: dict[str, Any]) -> None:
    """Each platform's with-replies view yields the account's replies in others' threads;
    each reply is captured with the post it answers on that post's own page."""
    pages = _pages(ctx["root"])
    for name, site in (("x", ctx["sites"]["x"]), ("mastodon", ctx["sites"]["mastodon"])):
        mine = [p for p in pages if p["platform"] == name]
        assert any(p["kind"] == "timeline" and "with_replies" in p["url"] for p in mine)
        context = {p["url"] for p in mine if p["kind"] == "context" and p["outcome"] == "ok"}
        for reply in site.own_replies():
            parent = site.post(reply.reply_to)
            assert site.post_page_url(parent) in context, (name, context)
            assert site.post_page_url(reply) in {p["url"] for p in mine if p["kind"] == "post"}
    replies = [o for o in _objects(ctx["root"]) if o["type"] == "post" and o["platform"] == "x"
               and o["id"] == "1790000000000000103" and o["page_url"].endswith("/1790000000000000103")]  # fmt: skip
    assert replies and replies[0]["reply_to"]["id"] == "1790000000000000102"
    assert replies[0]["recipient"]["handle"] == "burger_anna"
    rows = dict(_q(ctx["db"], "SELECT p.relation, count(*) FROM posts p JOIN accounts a ON a.id = p.account"
                               " WHERE a.name = 'mastodon:minbzk@social.example' GROUP BY p.relation"))  # fmt: skip
    assert rows["own_reply"] == 2 and rows["context"] == 2 and rows["own"] == 6, rows


def test_received_mentions_behind_the_login(ctx: dict[str, Any]) -> None:
    site = ctx["sites"]["x"]
    received = [p for p in _pages(ctx["root"]) if p["kind"] == "received" and p["platform"] == "x"]
    assert {p["url"] for p in received if "/status/" in p["url"]} == {site.post_page_url(m) for m in site.mentions}
    assert all(p["outcome"] == "ok" for p in received)
    rows = _q(ctx["db"], "SELECT p.post_id, p.author FROM posts p JOIN accounts a ON a.id = p.account"
                         " WHERE a.name = 'x:MinBZK' AND p.relation = 'received'")  # fmt: skip
    assert {r[0] for r in rows} == {m.id for m in site.mentions}


def test_stories_each_item_its_own_page_with_its_expiry(ctx: dict[str, Any]) -> None:
    objs = _objects(ctx["root"])
    pages = _pages(ctx["root"])
    for name in ("instagram", "facebook"):
        site = ctx["sites"][name]
        items = {p["url"] for p in pages if p["platform"] == name and p["kind"] == "story" and p["outcome"] == "ok"}
        assert {site.story_url(st) for st in site.stories} <= items, items
        own = {o["id"]: o for o in objs if o["platform"] == name and o.get("story") and o["url"] == o["page_url"]}
        for st in site.stories:
            assert own[st.id]["expires_at"] == st.expires and own[st.id]["published_at"] == st.published
    snaps = {o["id"]: o for o in objs if o["platform"] == "snapchat" and o.get("story")}
    for st in ctx["sites"]["snapchat"].stories:
        assert snaps[st.id]["expires_at"] == st.expires
    rows = _q(ctx["db"], "SELECT p.post_id, p.expires_at FROM posts p JOIN accounts a ON a.id = p.account"
                         " WHERE a.name = 'instagram:minbzk' AND p.relation = 'story'")  # fmt: skip
    assert dict(rows) == {st.id: st.expires for st in ctx["sites"]["instagram"].stories}


def test_watch_warns_when_every_is_longer_than_a_story_lives(ctx: dict[str, Any]) -> None:
    from bewaar.app.watch import Watch
    from bewaar.config import load_seed_list
    from bewaar.model import Root

    site = ctx["sites"]["instagram"]
    path = write_seeds(ctx["tmp"] / "watch.yaml", {"collection": "w", "every": "2d", "seeds": [
        {"platform": "instagram", "handle": site.handle_in_seed, "base_url": site.base_url},
        {"platform": "mastodon", "handle": "@a@social.example", "every": "1h"},
        {"platform": "snapchat", "handle": "b", "every": "25h"}]})  # fmt: skip
    out = StringIO()
    root = make_root(ctx["tmp"] / "watchroot")
    Watch(Root(root), path, out=out).load()
    warnings = [x for x in out.getvalue().splitlines() if "warning:" in x]
    assert len(warnings) == 2, warnings  # instagram (2d) and snapchat (25h); not mastodon
    assert "instagram:minbzk: every 2d is longer than a instagram story lives (24 h)" in warnings[0]
    assert load_seed_list(path)  # the list itself is valid


def test_follow_relations_first_seen_kept_across_crawls(ctx: dict[str, Any]) -> None:
    objs = [o for o in _objects(ctx["root"]) if o["type"] == "profile" and o.get("relations")
            and o["platform"] == "mastodon"]  # fmt: skip
    assert len(objs) >= 4  # followers and following, in both crawls
    first, later = objs[0], objs[-1]
    for o in objs:
        kinds = {r["type"] for r in o["relations"]}
        n = len(o["relations"])
        assert (kinds, n) in (({"follower"}, 50), ({"following"}, 12)), (kinds, n)  # follow_lists: 50
    seen = {(r["type"], r["account"]["handle"]): r["first_seen"] for o in objs[:2] for r in o["relations"]}
    for r in later["relations"]:
        assert r["first_seen"] == seen[(r["type"], r["account"]["handle"])]  # not the second crawl's time
        assert r["account"]["avatar"] and r["account"]["avatar_digest"].startswith("sha256:")
    assert first["captured_at"] < later["captured_at"]
    rows = _q(ctx["db"], "SELECT type, count(*), min(first_seen) < max(last_seen) FROM relations r"
                         " JOIN accounts a ON a.id = r.account WHERE a.platform = 'mastodon' GROUP BY type")  # fmt: skip
    assert sorted(rows) == [("follower", 50, 1), ("following", 12, 1)]
    # the X archive's follower list (ids only) joined the account's relations too
    assert _q(ctx["db"], "SELECT count(*) FROM relations r JOIN accounts a ON a.id = r.account"
                         " WHERE a.name = 'x:MinBZK'") == [(6,)]  # fmt: skip


def test_objects_complete_per_the_guide(ctx: dict[str, Any]) -> None:
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))
    objs = _objects(ctx["root"])
    for o in objs:
        validator.validate(o)
        assert o["schema"] == 2 and o["account_type"] in ("corporate", "hybrid")
        assert o["source"] in ("browser", "export")
    browser = [o for o in objs if o["source"] == "browser" and o["type"] == "post"]
    for name in ("x", "mastodon", "instagram", "snapchat"):
        posts = [o for o in browser if o["platform"] == name and o["author"].get("handle")]
        with_photo = [o for o in posts if o["author"].get("avatar_digest")]
        assert len(with_photo) >= len(posts) * 0.8, name  # author photo: URL and its record
    for name in ("x", "mastodon"):
        assert any(o["actions"][:1] == ["reply"] for o in browser if o["platform"] == name)
    fb = ctx["sites"]["facebook"]
    got = {o["id"]: o["reactions"] for o in browser if o["platform"] == "facebook" and o["reactions"]}
    for p in fb.posts:
        if p.id in got:
            from bewaar.sites.platforms.facebook import fb_short

            assert got[p.id] == {k: parse_count(fb_short(v))[0] for k, v in p.reactions.items()}
    assert len(got) == len(fb.posts)  # the profile shows every post's reactions
    own_comment = [o for o in browser if o["platform"] == "facebook" and o["id"] == "1000000000900009"]
    assert own_comment and own_comment[0]["recipient"]["handle"] == "MinBZK"
    assert _q(ctx["db"], "SELECT relation FROM posts WHERE post_id = '1000000000900009'") == [("own_reply",)]


def test_hybrid_account_out_of_scope_visible_counted_apart_and_left_out_of_exports(ctx: dict[str, Any]) -> None:
    from catalog import query as cq

    db = ctx["db"]
    assert _q(db, "SELECT account_type FROM accounts WHERE name = 'mastodon:minbzk@social.example'") == [("hybrid",)]
    assert _q(db, "SELECT DISTINCT account_type FROM accounts WHERE name != 'mastodon:minbzk@social.example'") == [("corporate",)]
    marked = dict(_q(db, "SELECT p.id, p.out_of_scope FROM posts p WHERE p.out_of_scope IS NOT NULL"))
    ids = dict(_q(db, "SELECT p.post_id, p.id FROM posts p JOIN accounts a ON a.id = p.account"
                      " WHERE a.platform = 'mastodon'"))  # fmt: skip
    site = ctx["sites"]["mastodon"]
    want = {ids[p.id] for p in site.posts if "Jubileum" in p.hashtags or "werkbezoek" in p.text}
    assert set(marked) == want and len(want) == 2
    assert {json.loads(v)["rule"] for v in marked.values()} == {"hashtag:jubileum", "keyword:werkbezoek"}
    con = cq.connect_readonly(db)
    try:
        everything, _ = cq.search_posts(con, cq.PostFilter(), page_size=0)
        exported, _ = cq.search_posts(con, cq.PostFilter(scope=cq.EXPORT_SCOPE), page_size=0)
        totals = cq.totals(con)
    finally:
        con.close()
    assert want <= {p["id"] for p in everything}  # archivists see them
    assert not want & {p["id"] for p in exported}  # exports leave them out
    assert len(everything) - len(exported) == 2
    assert totals["out_of_scope"] == 2
    html = OverviewApp(db).index({})
    assert "2 of the posts are out of scope" in html and "badge-out-of-scope" in html


def test_gap_report_in_summary_changes_and_overview(ctx: dict[str, Any]) -> None:
    g = _gaps(ctx["db"], "facebook:MinBZK")
    site = ctx["sites"]["facebook"]
    assert g["profile_posts"] is None  # a Facebook Page shows no post count
    assert g["captured"] == len(site.posts)  # the profile page lists every post
    assert g["seen_not_captured"] == len(site.posts) - 3 and g["reasons"] == {"max_posts": len(site.posts) - 3}
    assert all(m["why"] == "max_posts 3 reached" for m in g["missing"])
    assert any(t["stopped"] == "stable" for t in g["timeline"])
    assert (f"catalog: facebook:MinBZK: gaps: {len(site.posts)} post(s) captured to date; "
            f"{len(site.posts) - 3} seen on the timeline but not captured (max_posts {len(site.posts) - 3})") in ctx["first"].stderr
    x = ctx["sites"]["x"].account
    assert f"catalog: x:MinBZK: gaps: the profile shows {x.posts:,} post(s)" in ctx["first"].stderr
    p = run_bewaar("changes", "--root", str(ctx["root"]), "--gaps", "--json", "--account", "facebook:MinBZK")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)[0]["seen_not_captured"] == len(site.posts) - 3
    p = run_bewaar("changes", "--root", str(ctx["root"]), "--gaps")
    assert "not captured: " in p.stdout and "max_posts 3 reached" in p.stdout
    acc = _q(ctx["db"], "SELECT id FROM accounts WHERE name = 'facebook:MinBZK'")[0][0]
    html = OverviewApp(ctx["db"]).account(acc)
    assert "Gap report" in html and "max_posts 3 reached" in html


def test_backfill_resumes_where_it_stopped(ctx: dict[str, Any]) -> None:
    """The profile timeline ends before 2023 (the fixture's archive posts are only in its
    search): the first crawl's gap report says the back-fill is not done; the second resumes
    with the platform's search from the oldest day reached and gets there."""
    first = ctx["before_import"]["backfill"]
    assert first["since"] == SINCE and first["reached"] is False
    assert first["oldest_captured"].startswith("2024-05-02")
    site = ctx["sites"]["x"]
    resumed = [p for p in _pages(ctx["root"]) if p["kind"] == "timeline" and "until%3A2024-05-02" in p["url"]]
    assert resumed and resumed[0]["outcome"] == "ok"
    rows = dict(_q(ctx["db"], "SELECT post_id, in_browser FROM posts WHERE post_id IN (?, ?)",
                   *[p.id for p in site.archive]))  # fmt: skip
    assert rows == {p.id: 1 for p in site.archive}
    last = _gaps(ctx["db"], "x:MinBZK")["backfill"]
    assert last["reached"] is True and last["oldest_captured"] == site.archive[-1].published
    assert last["resumed_from"] == "2024-05-02"


def test_import_joins_the_browser_captures(ctx: dict[str, Any]) -> None:
    proc = ctx["imported"]
    site = ctx["sites"]["x"]
    own = len(site.visible_posts()) + len(site.own_replies())
    assert f"{own} post(s) were already captured by the browser" in proc.stderr, proc.stderr
    db = ctx["db"]
    both = _q(db, "SELECT count(*) FROM posts p JOIN accounts a ON a.id = p.account WHERE a.name = 'x:MinBZK'"
                  " AND in_export = 1 AND in_browser = 1")[0][0]  # fmt: skip
    assert both == own
    only = _q(db, "SELECT post_id, published_at, relation FROM posts WHERE in_export = 1 AND in_browser = 0")
    assert only == [("1100000000000000001", OLD_POST_TIME, "own")]
    assert _gaps(db, "x:MinBZK")["export_only"] == 1
    # no change records from an export, and no edits from comparing it with the browser's text
    crawl_id = re.search(r"\(crawl (\S+),", proc.stderr).group(1)
    assert _q(db, "SELECT count(*) FROM changes c JOIN crawls cr ON cr.id = c.crawl WHERE cr.crawl_id = ?",
              crawl_id)[0][0] == 0  # fmt: skip
    assert _q(db, "SELECT count(*) FROM changes WHERE type = 'edited'")[0][0] == 0
    # the WARC: the export file whole, its media, objects marked source: export; signed
    warcs = sorted((ctx["root"] / "collections/ctx/archive").glob("*.warc.gz"))
    kinds: dict[str, list[str]] = {}
    for w in warcs:
        with gzip.open(w, "rb") as fh:
            for rec in ArchiveIterator(fh):
                uri = rec.rec_headers.get_header("WARC-Target-URI") or ""
                if uri.startswith(("urn:export:", "urn:export-file:")):
                    kinds.setdefault(rec.rec_type, []).append(uri)
                    if uri.startswith("urn:export:"):
                        assert rec.content_stream().read() == ctx["export"].read_bytes()
                        assert w.with_name(w.name + ".sig.json").exists()
    assert len(kinds["resource"]) == 1 + sum(p.photos for p in site.visible_posts()) + 1
    exported = [o for o in _objects(ctx["root"]) if o["source"] == "export"]
    assert len([o for o in exported if o["type"] == "post"]) == own + 1
    assert all(o["page_url"].startswith("urn:export:x:") for o in exported)
    post = _q(db, "SELECT id FROM posts WHERE post_id = '1100000000000000001'")[0][0]
    html = OverviewApp(db).post(post)
    assert "only a platform export" in html


def test_a_rule_on_a_corporate_account_is_refused(tmp_path: Path) -> None:
    root = make_root(tmp_path / "root")
    seeds = write_seeds(tmp_path / "s.yaml", {"collection": "c", "seeds": [
        {"platform": "x", "handle": "MinBZK", "out_of_scope": [{"hashtag": "x"}]}]})  # fmt: skip
    p = run_bewaar("crawl", str(seeds), "--root", str(root))
    assert p.returncode == 2 and p.stderr.strip().splitlines()[-1].startswith("bewaar: error: ")
    assert "out_of_scope rules are for hybrid and personal accounts" in p.stderr
    seeds = write_seeds(tmp_path / "s2.yaml", {"collection": "c", "seeds": [
        {"platform": "x", "handle": "MinBZK", "account_type": "hybrid",
         "out_of_scope": [{"hashtag": "x", "keyword": "y"}]}]})  # fmt: skip
    p = run_bewaar("crawl", str(seeds), "--root", str(root))
    assert p.returncode == 2 and "exactly one of hashtag, keyword, or from/to" in p.stderr

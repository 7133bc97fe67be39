"""What an export selects, and what it leaves out: on crawls written with the crawler's own WARC
writer (bewaar/sites/synth.py), so edits, deletions and access decisions are set up exactly.

The selection is the overview's search: the same filter gives the same posts on the page, in
`bewaar export` and in the overview's own export. Bad selections exit 2 with one line and
leave nothing behind.
"""

from __future__ import annotations

import email
import email.policy
import io
import json
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from bewaar.app.export.run import run_export
from bewaar.app.export.selection import LEAVE_OUT, REDACT, Decision, Item, Request
from bewaar.app.export.xml import MDTO_NS, validate
from bewaar.app.web.overview import OverviewApp
from bewaar.config import load_root_config
from bewaar.sites.synth import BASE, Synth, post, post_page, profile, profile_page, recheck
from catalog import query as cq
from catalog.api import update_after_crawl
from signing import api
from tests.conftest import run_bewaar

M = f"{{{MDTO_NS}}}"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415408d763f8ff"
    "ff3f0005fe02fea7d6a4e10000000049454e44ae426082"
)
ACCOUNT = "mastodon:minbzk"
SECRET = "Burgerservicenummer 123456782 van mevrouw Jansen"


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four posts and a reply; then post 1 is edited and post 2 deleted."""
    s = Synth(tmp_path_factory.mktemp("export-synth") / "root")
    root = s.root.path
    api.init_keys(root, load_root_config(root).signing)  # the export signs its WACZ
    photo = f"{BASE}/media/1.png"
    p1 = post("1", "Lees het nieuwe rapport over open data", media=[photo], published="2024-03-10T09:00:00Z")
    p2 = post("2", "Vandaag is het rapport verschenen", published="2024-04-15T09:00:00Z")
    p3 = post("3", f"Melding: {SECRET}", published="2024-05-20T09:00:00Z")
    p4 = post("4", "Zomerrooster rapport", published="2024-07-01T09:00:00Z")
    r3 = post("31", "Dank voor de melding", reply_to="3", handle="jan", published="2024-05-21T09:00:00Z")
    c1 = s.crawl("2024-06-01T10:00:00Z", [profile_page(profile(), p1, p2, p3, p4, media={photo: PNG}),
                                           post_page(p1, media={photo: PNG}), post_page(p3, r3), post_page(p4)])  # fmt: skip
    update_after_crawl(root, "gov", c1)
    p1b = dict(p1, text="Lees het jaarverslag over open data")
    c2 = s.crawl("2024-06-02T10:00:00Z", [profile_page(profile(), p1b, p3, p4, media={photo: PNG}),
                                           post_page(p1b, media={photo: PNG}),
                                           recheck("2", "gone", 404, "HTTP 404")])  # fmt: skip
    update_after_crawl(root, "gov", c2)
    return root


def items(out: Path) -> list[str]:
    return sorted(i["key"] for i in json.loads((out / "manifest.json").read_text())["items"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--account", "mastodon:nobody"], "unknown account 'mastodon:nobody'"),
        (["--post", f"{BASE}/@minbzk/999"], "unknown post"),
        (["--account", ACCOUNT, "--from", "2024-13-01"], "is not a date"),
        (["--account", ACCOUNT, "--from", "2024-06-01", "--to", "2024-01-01"], "is after"),
        (["--query", "geenwoordhier"], "matches no posts"),
        ([], "say what to export"),
        (["--account", ACCOUNT, "--format", "docx"], "unknown format 'docx'"),
    ],
)
def test_a_bad_selection_exits_2_with_one_line_and_writes_nothing(synth: Path, tmp_path: Path, args: list[str],
                                                                   message: str) -> None:  # fmt: skip
    out = tmp_path / "out"
    p = run_bewaar("export", "--root", str(synth), *args, "-o", str(out))
    assert p.returncode == 2, p.stderr
    assert p.stderr.startswith("bewaar: error: ") and p.stderr.count("\n") == 1, p.stderr
    assert message in p.stderr
    assert not out.exists()


def test_an_export_never_writes_into_a_non_empty_directory(synth: Path, tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    p = run_bewaar("export", "--root", str(synth), "--account", ACCOUNT, "--format", "xml", "-o", str(tmp_path))
    assert p.returncode == 2 and "is not empty" in p.stderr
    assert [x.name for x in tmp_path.iterdir()] == ["keep.txt"]


def test_the_selection_is_the_overviews_search(synth: Path, tmp_path: Path) -> None:
    """A Woo request: everything the account posted about 'rapport' from March to May."""
    out = tmp_path / "woo"
    p = run_bewaar("export", "--root", str(synth), "--account", ACCOUNT, "--query", "rapport",
                   "--from", "2024-03-01", "--to", "2024-05-31", "--format", "xml,eml", "-o", str(out))  # fmt: skip
    assert p.returncode == 0, p.stderr
    # post 1 matches through its first version ("rapport" was edited away), post 4 is too late
    assert items(out) == ["mastodon-1", "mastodon-2"]
    con = cq.connect_readonly(synth / "catalog.sqlite")
    try:
        acc = con.execute("SELECT id FROM accounts WHERE name = ?", (ACCOUNT,)).fetchone()[0]
        rows, _ = cq.search_posts(con, cq.PostFilter(q="rapport", accounts=[acc], date_from="2024-03-01",
                                                     date_to="2024-05-31"), page_size=0)  # fmt: skip
    finally:
        con.close()
    assert sorted(f"mastodon-{r['post_id']}" for r in rows) == items(out)
    # the overview's export of the same search (its own filter object) holds the same posts
    app = OverviewApp(synth / "catalog.sqlite")
    status: list[str] = []
    query = f"q=rapport&account={acc}&from=2024-03-01&to=2024-05-31&format=xml"
    body = b"".join(app({"PATH_INFO": "/_overview/export", "QUERY_STRING": query},
                        lambda s, h: status.append(s)))  # fmt: skip
    assert status == ["200 OK"]
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        got = sorted(i["key"] for i in json.loads(z.read("manifest.json"))["items"])
    assert got == items(out)


def test_versions_edits_and_deletions_are_in_the_event_history(synth: Path, tmp_path: Path) -> None:
    out = tmp_path / "all"
    p = run_bewaar("export", "--root", str(synth), "--account", ACCOUNT, "--versions", "all", "--with-replies",
                   "--format", "xml,eml,html,pdf", "-o", str(out))  # fmt: skip
    assert p.returncode == 0, p.stderr
    assert [e for f in (out / "xml").rglob("*.xml") for e in validate(f)] == []
    b = "{https://bewaar.invalid/ns/export/1}"
    edited = etree.parse(str(out / "xml/objects/mastodon-1.bewaar.xml"))
    assert [v.findtext(f"{b}text") for v in edited.findall(f"{b}version")] == [
        "Lees het jaarverslag over open data", "Lees het nieuwe rapport over open data"]
    assert "edited" in [e.findtext(f"{b}type") for e in edited.findall(f"{b}event")]
    mdto = etree.parse(str(out / "xml/objects/mastodon-2.mdto.xml"))
    labels = [x.text for x in mdto.findall(f".//{M}eventType/{M}begripLabel")]
    assert labels[0] == "Publicatie" and "Verwijdering (door de platformgebruiker)" in labels
    msg = email.message_from_bytes((out / "eml/mastodon_minbzk/mastodon-2.eml").read_bytes(),
                                   policy=email.policy.default)  # fmt: skip
    assert msg["X-Bewaar-Status"] == "deleted"
    reply = email.message_from_bytes((out / "eml/mastodon_minbzk/mastodon-31.eml").read_bytes(),
                                     policy=email.policy.default)  # fmt: skip
    assert reply["In-Reply-To"] == "<3.mastodon@export.bewaar.invalid>"
    assert "jaarverslag" in (out / "html/posts/mastodon-1.html").read_text()


class Restricted:
    """What access control (issue 12) will do: redact one post, leave another out."""

    def decide(self, item: Item) -> Decision:
        if item.post["post_id"] == "1":
            return Decision(REDACT, "persoonsgegevens in de afbeelding (Woo 5.1.2e)")
        if item.post["post_id"] == "3":
            return Decision(LEAVE_OUT, "lopend onderzoek (Woo 5.1.2d)")
        return Decision()


def test_restrictions_leave_out_and_redact_and_the_manifest_says_why(synth: Path, tmp_path: Path) -> None:
    out = tmp_path / "restricted"
    req = Request(accounts=[ACCOUNT], with_replies=True, requested_by="woo-officer")
    outcome = run_export(synth, req, ["wacz", "pdf", "html", "xml", "eml"], out, access=Restricted(),
                         progress=lambda _l: None)  # fmt: skip
    m = json.loads((out / "manifest.json").read_text())
    assert {e["key"]: e["reason"] for e in m["left_out"]} == {
        "mastodon-3": "lopend onderzoek (Woo 5.1.2d)",
        "mastodon-31": "reply under a left-out post (lopend onderzoek (Woo 5.1.2d))",
    }
    assert [(e["key"], e["reason"]) for e in m["redacted"]] == [
        ("mastodon-1", "persoonsgegevens in de afbeelding (Woo 5.1.2e)")]
    assert outcome.left_out == 2 and outcome.redacted == 1
    everything = "".join(p.read_text(errors="replace") for p in out.rglob("*")
                         if p.is_file() and p.suffix in (".xml", ".html", ".eml", ".js"))  # fmt: skip
    assert SECRET not in everything
    for key in ("mastodon-3", "mastodon-31"):  # only named in the lists of what was left out
        assert not list(out.rglob(f"{key}.*")) and not (out / "xml/files" / key).exists()
    assert "jaarverslag" not in everything  # the redacted post's text
    mdto = etree.parse(str(out / "xml/objects/mastodon-1.mdto.xml"))
    assert mdto.findtext(f".//{M}beperkingGebruikType/{M}begripLabel") == "Gedeeltelijk openbaar (gelakt)"
    assert mdto.find(f".//{M}omschrijving") is None
    assert not list((out / "xml/files").glob("mastodon-1/*"))  # no media of a redacted post
    from pypdf import PdfReader

    text = "".join(pg.extract_text() for pg in PdfReader(str(out / "export.pdf")).pages)
    assert "jaarverslag" not in text and "Burgerservicenummer" not in text and "Woo 5.1.2e" in text
    # no page that shows a withheld post goes into the WACZ (a record cannot be redacted)
    with zipfile.ZipFile(out / "export.wacz") as z:
        urls = [json.loads(x)["url"] for x in z.read("pages/pages.jsonl").decode().splitlines()[1:]]
    assert urls == [f"{BASE}/@minbzk/4"]  # the profile page shows posts 1 and 3: left out
    assert any("left out: it also shows a post withheld" in n for n in m["notes"])
    assert m["selection"]["requested_by"] == "woo-officer"


def test_access_hook_default_is_everything(synth: Path, tmp_path: Path) -> None:
    out = tmp_path / "everything"
    outcome = run_export(synth, Request(accounts=[ACCOUNT], with_replies=True), ["xml"], out,
                         progress=lambda _l: None)  # fmt: skip
    assert outcome.left_out == 0 and outcome.redacted == 0
    assert items(out) == ["mastodon-1", "mastodon-2", "mastodon-3", "mastodon-31", "mastodon-4"]

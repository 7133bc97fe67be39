"""`bewaar export` of a real crawl (one account on each of the seven platform fixture sites), in
every format, each checked with the tool that proves it:

  WACZ   `bewaar verify --strict` on the package alone, `wacz validate` (py-wacz), every
         copied record traced to its capture-time signature, only the selected pages, the
         originals of revisits included, and ReplayWeb.page showing the selected post
  PDF    Apache PDFBox Preflight (tests/export/pdfa.py), pikepdf/qpdf syntax check, fonts
         embedded, one bookmark per post, the text extractable (pypdf)
  HTML   opened from file:// in Chromium with the network off: filters work, media load, no
         request leaves the folder
  XML    every file against its schema with lxml (MDTO 1.0.1, bewaar-export-1.xsd); relations
  EML    parsed back with Python's `email` package
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import hashlib
import json
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from warcio.archiveiterator import ArchiveIterator

from bewaar.app.export.wacz import PROVENANCE_URN, provenance_problems
from bewaar.app.export.xml import MDTO_NS, validate
from signing import trust, verify
from tests.conftest import run_bewaar
from tests.export.conftest import Exported
from tests.export.pdfa import preflight

pytestmark = pytest.mark.slow
M = f"{{{MDTO_NS}}}"


def manifest(out: Path) -> dict[str, Any]:
    return json.loads((out / "manifest.json").read_text(encoding="utf-8"))


def catalog_items(root: Path) -> dict[str, dict[str, Any]]:
    con = sqlite3.connect(f"file:{root / 'catalog.sqlite'}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        return {f"{r['platform']}-{r['post_id']}": dict(r) for r in con.execute(
            "SELECT p.*, a.platform, a.name AS account FROM posts p JOIN accounts a ON a.id = p.account")}
    finally:
        con.close()


def test_export_writes_every_format_and_lists_every_file(exported: Exported) -> None:
    p = exported.proc
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    m = manifest(exported.out)
    assert set(m["formats"]) == {"wacz", "pdf", "html", "xml", "eml"}
    # every post and reply of the crawl: the overview's search over the collection
    assert {i["key"] for i in m["items"]} == set(catalog_items(exported.root))
    assert any(i["reply_to"] for i in m["items"])
    for f in m["files"]:
        path = exported.out / f["path"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == f["sha256"], f["path"]
    assert m["left_out"] == [] and m["redacted"] == []
    assert not (exported.out / ".work").exists()


# --------------------------------------------------------------------------- WACZ


def test_wacz_verifies_standalone_and_validates(exported: Exported, tmp_path: Path) -> None:
    wacz = exported.out / "export.wacz"
    # standalone: another directory, no root, only the trust anchors a recipient is given
    p = run_bewaar("verify", str(wacz), "--strict", *exported.trust_args, cwd=tmp_path)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "verify: PASSED\n" in p.stdout and "[warn]" not in p.stdout  # timestamps granted too
    p = subprocess.run([str(Path(sys.executable).parent / "wacz"), "validate", "-f", str(wacz)],
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    assert p.returncode == 0 and "is valid" in p.stdout, p.stdout + p.stderr


def test_wacz_records_are_the_signed_captures(exported: Exported) -> None:
    policy = verify.Policy(signer_trust=trust.load_trust(exported.root / "trust/roots.pem"),
                           tsa_trust=trust.load_trust(exported.root / "trust/tsa-roots.pem"))  # fmt: skip
    checked, problems = provenance_problems(exported.out / "export.wacz", policy)
    assert problems == []
    assert checked > 100


def _warc_records(wacz: Path) -> list[tuple[str, str, str, str]]:
    out = []
    with zipfile.ZipFile(wacz) as z:
        for name in z.namelist():
            if name.startswith("archive/"):
                with z.open(name) as fh:
                    for rec in ArchiveIterator(fh):
                        h = rec.rec_headers
                        out.append((rec.rec_type, h.get_header("WARC-Target-URI") or "",
                                    h.get_header("WARC-Payload-Digest") or "",
                                    h.get_header("WARC-Refers-To-Target-URI") or ""))  # fmt: skip
    return out


def test_wacz_of_one_post_holds_its_page_with_screenshot_objects_and_revisit_originals(
    exported: Exported, accounts_crawl: dict[str, Any], tmp_path: Path
) -> None:
    site = accounts_crawl["sites"]["mastodon"]
    post = next(p for p in site.visible_posts() if p.photos)
    url = f"{site.base_url}/@{site.account.handle}/{post.id}"
    out = tmp_path / "one"
    p = run_bewaar("export", "--root", str(exported.root), "--post", url, "--format", "wacz", "-o", str(out))
    assert p.returncode == 0, p.stderr
    wacz = out / "export.wacz"
    with zipfile.ZipFile(wacz) as z:
        pages = [json.loads(x) for x in z.read("pages/pages.jsonl").decode().splitlines()[1:]]
    assert [pg["url"] for pg in pages] == [url]  # only the selected page
    recs = _warc_records(wacz)
    uris = {r[1] for r in recs}
    for prefix in ("urn:screenshot:", "urn:dom:", "urn:objects:", "urn:pageinfo:"):
        assert prefix + url in uris, prefix
    assert PROVENANCE_URN in uris
    other_posts = {f"{site.base_url}/@{site.account.handle}/{x.id}" for x in site.visible_posts() if x.id != post.id}
    assert not (other_posts & uris), "records of other pages were copied"
    revisits = [r for r in recs if r[0] == "revisit"]
    assert revisits, "the fixture's shared scripts and styles make revisits"
    originals = {(r[1], r[2]) for r in recs if r[0] == "response"}
    for _t, _uri, digest, refers in revisits:
        assert (refers, digest) in originals, f"no original for the revisit of {refers}"
    p = run_bewaar("verify", str(wacz), *exported.trust_args, cwd=tmp_path)
    assert p.returncode == 0, p.stdout


def test_wacz_replays_the_selected_post_in_replaywebpage(exported: Exported, accounts_crawl: dict[str, Any],
                                                           replaywebpage: Any) -> None:  # fmt: skip
    """Webrecorder's own viewer (tests/replaywebpage.py) opens the export and shows the post."""
    site = accounts_crawl["sites"]["mastodon"]
    post = site.visible_posts()[0]
    url = f"{site.base_url}/@{site.account.handle}/{post.id}"
    name = replaywebpage.add(exported.out / "export.wacz")
    page, frame, failed = replaywebpage.open(name, url)
    try:
        assert "Archived Page Not Found" not in frame.inner_text("body")
        frame.wait_for_function("t => document.body && document.body.innerText.includes(t)",
                                arg=post.text.split()[0], timeout=30000)  # fmt: skip
        assert post.text.split("#")[0].strip()[:20] in frame.inner_text("body")
        assert "mp_/" in frame.url
    finally:
        page.close()


# --------------------------------------------------------------------------- PDF


def test_pdf_is_pdfa_with_bookmarks_fonts_and_searchable_text(exported: Exported) -> None:
    import pikepdf
    from pypdf import PdfReader

    pdf = exported.out / "export.pdf"
    result = preflight(pdf)
    assert result.unexpected == [], result.report
    assert any(f.startswith("7.11.2") for f in result.findings)  # it read the part-2 identification
    with pikepdf.open(pdf) as doc:
        assert doc.check_pdf_syntax() == []
        meta = doc.open_metadata()
        assert meta["pdfaid:part"] == "2" and meta["pdfaid:conformance"] == "B"
        intents = doc.Root.OutputIntents
        assert intents[0].S == "/GTS_PDFA1" and intents[0].DestOutputProfile is not None
        fonts = 0
        for page in doc.pages:
            for _n, font in page.obj.Resources.get("/Font", {}).items():
                fonts += 1
                for d in font.get("/DescendantFonts", []):
                    assert "/FontFile2" in d.FontDescriptor, font.BaseFont
        assert fonts
        with doc.open_outline() as outline:
            top = [o for o in outline.root if o.title != "Export"]
    m = manifest(exported.out)
    assert len(top) == sum(1 for i in m["items"] if not i["reply_to"])
    reader = PdfReader(str(pdf))
    text = "\n".join(pg.extract_text() for pg in reader.pages)
    for item in catalog_items(exported.root).values():
        if item["platform"] == "mastodon" and not item["reply_to"]:
            assert item["url"] in text.replace("\n", "")
    assert "Ministerie van BZK" in text and "sha256:" in text
    assert "[U+1F4C4]" in text  # 📄 has no glyph in the embedded font: written out, never .notdef


# --------------------------------------------------------------------------- HTML


def test_html_opens_offline_from_disk_with_filters_and_media(exported: Exported, chromium_browser: Any) -> None:
    folder = (exported.out / "html").resolve()
    context = chromium_browser.new_context(offline=True)
    outside: list[str] = []
    failed: list[str] = []
    try:
        page = context.new_page()
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(folder.as_uri() + "/") else None)
        page.on("requestfailed", lambda r: failed.append(r.url))
        page.goto((folder / "index.html").as_uri())
        total = len(manifest(exported.out)["items"])
        assert page.locator("#items tbody tr").count() == total
        page.fill("#f-q", "jaarverslag rapport")  # no post has both words
        assert page.locator("#items tbody tr:not([hidden])").count() == 0
        page.fill("#f-q", "rapport")
        shown = page.locator("#items tbody tr:not([hidden])").count()
        assert 0 < shown < total
        page.fill("#f-q", "")
        page.select_option("#f-platform", "youtube")
        assert 0 < page.locator("#items tbody tr:not([hidden])").count() < total
        # a post with photos: its images load from the folder
        post = next(p for p in (folder / "posts").glob("mastodon-*.html") if "<img src=\"../media/" in p.read_text())
        page.goto(post.as_uri())
        page.wait_for_load_state("load")
        widths = page.eval_on_selector_all("img", "els => els.map(e => e.naturalWidth)")
        assert widths and all(w > 0 for w in widths)
        assert "sha256" in page.inner_text(".evidence")
        page.close()
    finally:
        context.close()
    assert outside == [], outside
    assert failed == [], failed


# --------------------------------------------------------------------------- XML


def test_every_xml_file_validates_against_its_schema(exported: Exported) -> None:
    files = list((exported.out / "xml").rglob("*.xml"))
    assert len(files) > 100
    errors = [e for f in files for e in validate(f)]
    assert errors == []


def test_mdto_relations_post_reply_account_media(exported: Exported) -> None:
    xml = exported.out / "xml"
    replies = [i for i in manifest(exported.out)["items"] if i["reply_to"]]
    r = replies[0]
    doc = etree.parse(str(xml / "objects" / f"{r['key']}.mdto.xml"))
    related = doc.findall(f".//{M}gerelateerdInformatieobject")
    assert any(g.findtext(f".//{M}identificatieKenmerk") == r["reply_to"] and
               g.findtext(f"{M}gerelateerdInformatieobjectTypeRelatie/{M}begripLabel") == "is reactie op"
               for g in related)  # fmt: skip
    parent = etree.parse(str(xml / "objects" / f"{r['reply_to']}.mdto.xml"))
    assert r["key"] in [e.text for e in parent.findall(f".//{M}gerelateerdInformatieobjectVerwijzing//{M}identificatieKenmerk")]
    assert parent.findtext(f"{M}informatieobject/{M}isOnderdeelVan/{M}verwijzingNaam") == r["account"]
    # a file the object is represented by: the bestand record's checksum is the file's sha256
    reps = parent.findall(f".//{M}heeftRepresentatie/{M}verwijzingNaam")
    assert any(x.text == "screenshot.png" for x in reps)
    shot = xml / "files" / r["reply_to"] / "screenshot.png"
    bestand = etree.parse(str(shot) + ".mdto.xml")
    assert bestand.findtext(f".//{M}checksumWaarde") == hashlib.sha256(shot.read_bytes()).hexdigest()
    assert int(bestand.findtext(f".//{M}omvang")) == shot.stat().st_size
    account = xml / "accounts" / f"{r['account'].replace(':', '_').replace('/', '_')}.mdto.xml"
    assert r["reply_to"] in account.read_text(encoding="utf-8")
    events = [e.text for e in parent.findall(f".//{M}eventType/{M}begripLabel")]
    assert "Vastlegging (webarchivering)" in events


# --------------------------------------------------------------------------- EML


def test_eml_messages_parse_back(exported: Exported) -> None:
    eml = exported.out / "eml"
    m = manifest(exported.out)
    folders = {p.name for p in eml.iterdir()}
    assert len(folders) == 7  # one mailbox folder per account
    posts = catalog_items(exported.root)
    attachments = 0
    for path in eml.rglob("*.eml"):
        raw = path.read_bytes()
        assert b"\r\n" in raw and b"\n\n" not in raw.replace(b"\r\n", b"")  # CRLF line ends
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        key = path.stem
        row = posts[key]
        assert msg["X-Bewaar-URL"] == row["url"]
        assert msg["X-Bewaar-Platform"] == row["platform"]
        assert msg["X-Bewaar-Capture-Record"] and ".warc.gz" in msg["X-Bewaar-Capture-Record"]
        assert msg["From"].addresses[0].addr_spec
        if row["published_at"]:
            assert email.utils.parsedate_to_datetime(msg["Date"]).strftime("%Y-%m-%dT%H:%M:%SZ") == row["published_at"]
        body = msg.get_body(preferencelist=("plain",)).get_content()
        assert row["url"] in body
        names = [a.get_filename() for a in msg.iter_attachments()]
        assert "screenshot.png" in names
        attachments += len(names)
        item = next(i for i in m["items"] if i["key"] == key)
        if item["reply_to"]:
            assert msg["In-Reply-To"] and msg["References"]
    assert attachments > len(posts)  # media too, not only screenshots

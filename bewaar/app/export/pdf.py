"""PDF/A-2b: one document for the whole export, for a court or a Woo decision.

Per post (and, indented, each reply): the author, time and text; the media stills (photos,
and video posters where captured); the capture's screenshot (from the WARC's urn:screenshot:
record); and the evidence: URL, capture time, WARC file and record ids, sha256 digests, the
signature and timestamp status of the WARC's capture-time manifest, the ledger position. Each
post has a bookmark; the text is real text in embedded fonts (searchable, copyable).

Written with fpdf2 in its PDF/A-2B mode (embedded TrueType subsets, an sRGB output intent,
XMP identification) in parts of PART_ITEMS items, which pikepdf (qpdf) joins into one file:
fpdf2 keeps a document's images in memory until it is written, so parts keep memory flat.
Images are flattened to opaque JPEG (no transparency groups); characters the embedded font has
no glyph for (most emoji) are written as [U+XXXX], because PDF/A forbids showing .notdef —
the XML, HTML and EML keep the exact text.

Fonts: DejaVu Sans and DejaVu Sans Mono, found where Debian's fonts-dejavu-core (a Chromium
dependency) puts them or through fontconfig.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bewaar import SOFTWARE
from bewaar.app.export.base import ExportJob, Written, item_facts
from bewaar.app.export.selection import Item
from bewaar.errors import EnvironmentProblem

PART_ITEMS = 40
MAX_IMAGE_PX = 1400  # longest side of an image as embedded
SCREENSHOT_MAX_H = 150  # mm
MEDIA_MAX_H = 70  # mm
FONT_FILES = {
    ("sans", ""): "DejaVuSans.ttf",
    ("sans", "B"): "DejaVuSans-Bold.ttf",
    ("mono", ""): "DejaVuSansMono.ttf",
}
FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/local/share/fonts")
SUBJECT = "Export van gearchiveerde sociale-mediaberichten / export of archived social media posts"
INVISIBLE = {0x200D, 0xFE0E, 0xFE0F, 0x200B, 0x2060}  # joiners and variation selectors


def _xmp(title: str, created: str, subject: str) -> str:
    """XMP with the PDF/A-2b identification, one rdf:Description per schema and properties
    as elements: the plainest form, which every XMP reader (PDFBox's xmpbox too) parses."""
    from xml.sax.saxutils import escape

    t, s, c = escape(title), escape(subject), escape(created)
    return f"""<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">
   <pdfaid:part>2</pdfaid:part>
   <pdfaid:conformance>B</pdfaid:conformance>
  </rdf:Description>
  <rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">
   <dc:format>application/pdf</dc:format>
   <dc:title><rdf:Alt><rdf:li xml:lang="x-default">{t}</rdf:li></rdf:Alt></dc:title>
   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">{s}</rdf:li></rdf:Alt></dc:description>
   <dc:creator><rdf:Seq><rdf:li>{SOFTWARE}</rdf:li></rdf:Seq></dc:creator>
  </rdf:Description>
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/">
   <xmp:CreatorTool>{SOFTWARE}</xmp:CreatorTool>
   <xmp:CreateDate>{c}</xmp:CreateDate>
   <xmp:ModifyDate>{c}</xmp:ModifyDate>
   <xmp:MetadataDate>{c}</xmp:MetadataDate>
  </rdf:Description>
  <rdf:Description rdf:about="" xmlns:pdf="http://ns.adobe.com/pdf/1.3/">
   <pdf:Producer>{SOFTWARE}</pdf:Producer>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>"""


def _para(pdf: Any, h: float, text: str, **kw: Any) -> None:
    """A paragraph across the text width; the next one starts at the left margin."""
    pdf.multi_cell(0, h, text, new_x="LMARGIN", new_y="NEXT", align="L", **kw)


def find_fonts() -> dict[tuple[str, str], Path]:
    found: dict[tuple[str, str], Path] = {}
    for key, name in FONT_FILES.items():
        for d in FONT_DIRS:
            if (Path(d) / name).is_file():
                found[key] = Path(d) / name
                break
        else:
            fc = shutil.which("fc-match")
            if fc:
                r = subprocess.run([fc, "-f", "%{file}", name.removesuffix(".ttf").replace("-", ":style=")],
                                   capture_output=True, text=True, check=False)  # fmt: skip
                if r.stdout.endswith(name):
                    found[key] = Path(r.stdout)
    missing = [n for k, n in FONT_FILES.items() if k not in found]
    if missing:
        raise EnvironmentProblem(
            f"the PDF export needs the DejaVu fonts ({', '.join(missing)} not found): "
            "install them (apt-get install fonts-dejavu-core)"
        )
    return found


class Glyphs:
    """Which characters the embedded font can show; others become [U+XXXX]."""

    def __init__(self, *fonts: Path) -> None:
        from fontTools.ttLib import TTFont

        cmaps = [set(TTFont(str(f), lazy=True).getBestCmap()) for f in fonts]
        self.cmap = set.intersection(*cmaps)  # what every font used for the same text can show

    def clean(self, text: str) -> str:
        out = []
        for ch in text or "":
            cp = ord(ch)
            if cp in INVISIBLE:
                continue
            if ch in "\n\t" or cp in self.cmap:
                out.append(ch if ch != "\t" else "    ")
            elif cp < 0x20 or 0x7F <= cp < 0xA0:
                continue
            else:
                out.append(f"[U+{cp:04X}]")
        return "".join(out)


@dataclass
class _Mark:
    title: str
    level: int
    page: int  # 0-based page index in the final document


@dataclass
class _Part:
    path: Path
    pages: int
    marks: list[_Mark] = field(default_factory=list)


def _jpeg(data: bytes, max_px: int = MAX_IMAGE_PX) -> tuple[bytes, int, int] | None:
    """Any raster image -> opaque RGB JPEG (alpha flattened on white), at most max_px."""
    from PIL import Image, UnidentifiedImageError

    try:
        img = Image.open(io.BytesIO(data))
        img.seek(0)
        img.load()
    except (UnidentifiedImageError, OSError, ValueError, EOFError):
        return None
    if img.mode in ("RGBA", "LA", "P"):
        img = img.convert("RGBA")
        bg = Image.new("RGB", img.size, (255, 255, 255))
        bg.paste(img, mask=img.split()[-1])
        img = bg
    else:
        img = img.convert("RGB")
    img.thumbnail((max_px, max_px), Image.Resampling.BILINEAR, reducing_gap=2.0)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=82, optimize=True)
    return buf.getvalue(), img.width, img.height


class PdfExporter:
    name = "pdf"
    description = "one PDF/A-2b document: per post text, media stills, screenshot, evidence; bookmarks"

    def write(self, job: ExportJob) -> Written:
        res = Written(self.name)
        fonts = find_fonts()
        glyphs = Glyphs(fonts[("sans", "")], fonts[("sans", "B")])
        self.mono = Glyphs(fonts[("mono", "")])
        items = job.selection.all_items()
        parts: list[_Part] = []
        page_base = 0
        for start in range(0, len(items), PART_ITEMS):
            chunk = items[start : start + PART_ITEMS]
            part = self._part(job, chunk, fonts, glyphs, job.work / f"part-{len(parts):05d}.pdf", page_base,
                              res, first=not parts)  # fmt: skip
            parts.append(part)
            page_base += part.pages
            job.progress(f"pdf: {min(start + PART_ITEMS, len(items))}/{len(items)} items")
        out = job.out / "export.pdf"
        self._join(parts, out, job)
        for p in parts:
            p.path.unlink(missing_ok=True)
        res.paths.append(out)
        return res

    # -- one part ---------------------------------------------------------------------------
    def _part(self, job: ExportJob, items: list[Item], fonts: dict[tuple[str, str], Path], glyphs: Glyphs,
              path: Path, page_base: int, res: Written, first: bool) -> _Part:  # fmt: skip
        from fpdf import FPDF
        from fpdf.enums import WrapMode

        pdf = FPDF(format="A4", unit="mm", enforce_compliance="PDFA_2B")
        pdf.allow_images_transparency = False  # no transparency groups: flat, PDF/A-1-safe pages
        pdf.set_auto_page_break(True, margin=15)
        pdf.set_margins(15, 15, 15)
        pdf.add_font("sans", "", str(fonts[("sans", "")]))
        pdf.add_font("sans", "B", str(fonts[("sans", "B")]))
        pdf.add_font("mono", "", str(fonts[("mono", "")]))
        title = glyphs.clean(job.title or "bewaar export")
        pdf.set_title(title)
        pdf.set_author(SOFTWARE)
        pdf.set_creator(SOFTWARE)
        pdf.set_producer(SOFTWARE)
        pdf.set_subject(SUBJECT)
        pdf.set_lang("nl")
        from bewaar.timeutil import parse_iso

        pdf.set_creation_date(parse_iso(job.created))
        pdf.set_xmp_metadata(_xmp(title, job.created, SUBJECT))
        marks: list[_Mark] = []
        if first:
            self._cover(pdf, job, glyphs)
            marks.append(_Mark("Export", 0, page_base))
        shown_pages: set[int] = set()
        for item in items:
            pdf.add_page()
            depth = 0
            up = item.parent
            while up is not None:
                depth += 1
                up = up.parent
            who = item.post.get("author_name") or item.post.get("author") or item.account
            label = " ".join((item.title or item.text).split())[:60] if not item.redacted else "[gelakt]"
            marks.append(_Mark(glyphs.clean(f"{who} — {(item.published or '')[:10]} — {label}"), min(depth, 1),
                               page_base + pdf.page - 1))  # fmt: skip
            self._item(pdf, job, item, glyphs, depth, shown_pages, res, WrapMode.CHAR)
        pdf.output(str(path))
        return _Part(path, pdf.page, marks)

    def _cover(self, pdf: Any, job: ExportJob, glyphs: Glyphs) -> None:
        from bewaar.app.export.xml import _describe

        sel = job.selection
        pdf.add_page()
        pdf.set_font("sans", "B", 18)
        _para(pdf, 9, glyphs.clean(job.title or "bewaar export"))
        pdf.ln(2)
        pdf.set_font("sans", "", 10)
        lines = [
            f"Gemaakt / created: {job.created} door / by {SOFTWARE}",
            glyphs.clean(_describe(sel.request.describe())),
            f"Berichten / posts: {len(sel.all_items())}; weggelaten / left out: {len(sel.left_out)}; "
            f"gelakt / redacted: {len(sel.redacted)}",
            "",
            "Per bericht: tekst, media, schermafbeelding van de vastlegging en het bewijs (URL, tijd van "
            "vastlegging, WARC-records met sha256, handtekening en tijdstempel van het WARC-bestand). "
            "Tekens waarvoor het ingebedde lettertype geen glyph heeft (zoals emoji) staan als [U+XXXX]; "
            "de exacte tekst staat in de XML-, HTML- en EML-export en in de WARC-records.",
            "Per post: text, media, capture screenshot and evidence (URL, capture time, WARC records with "
            "sha256, signature and timestamp of the WARC file). Characters the embedded font cannot show "
            "(such as emoji) are written as [U+XXXX]; the exact text is in the XML, HTML and EML exports and "
            "in the WARC records.",
        ]
        for line in lines:
            _para(pdf, 5.5, line)
        for title, entries in (("Weggelaten / left out", sel.left_out), ("Gelakt / redacted", sel.redacted)):
            if entries:
                pdf.ln(3)
                pdf.set_font("sans", "B", 11)
                _para(pdf, 6, title)
                pdf.set_font("sans", "", 9)
                for e in entries:
                    _para(pdf, 5, glyphs.clean(f"{e['url']} — {e['reason']}"))

    def _item(self, pdf: Any, job: ExportJob, item: Item, glyphs: Glyphs, depth: int, shown_pages: set[int],
              res: Written, char_wrap: Any) -> None:  # fmt: skip
        p = item.post
        v = item.latest
        obj = v.get("object") or {}
        who = (obj.get("author") or {}).get("name") or p.get("author_name") or ""
        handle = p.get("author") or ""
        pdf.set_font("sans", "B", 13 if depth == 0 else 11)
        kind = "Reactie / reply" if depth else "Bericht / post"
        _para(pdf, 7, glyphs.clean(f"{kind}: {who} ({handle})" if who else f"{kind}: {handle or item.account}"))
        pdf.set_font("sans", "", 9)
        meta = (f"{item.account} · {p['platform']} · gepubliceerd / published: "
                f"{item.published or p.get('published_text') or 'onbekend / unknown'} · status: {p['status']}")  # fmt: skip
        if p.get("status_reason") and p["status"] != "online":
            meta += f" ({p['status_reason']})"
        _para(pdf, 5, glyphs.clean(meta))
        if item.parent is not None:
            _para(pdf, 5, glyphs.clean(f"Reactie op / reply to: {item.parent.url}"), wrapmode=char_wrap)
        pdf.ln(2)
        if item.redacted:
            pdf.set_font("sans", "B", 11)
            _para(pdf, 6, glyphs.clean(f"[Gelakt / redacted: {item.decision.reason}]"))
        else:
            if item.title and item.title != item.text:
                pdf.set_font("sans", "B", 12)
                _para(pdf, 6.5, glyphs.clean(item.title))
            pdf.set_font("sans", "", 12)
            _para(pdf, 6.5, glyphs.clean(item.text or "(geen tekst / no text)"))
            if len(item.versions) > 1:
                for older in item.versions[1:]:
                    pdf.ln(1)
                    pdf.set_font("sans", "B", 9)
                    _para(pdf, 5, f"Eerdere versie / earlier version {older['seq']} ({older['captured_at']}):")
                    pdf.set_font("sans", "", 10)
                    _para(pdf, 5.5, glyphs.clean(older.get("text") or ""))
            self._media(pdf, job, item, glyphs, res)
            pr = job.version_page(v)
            if pr is not None and pr.screenshot is not None:
                if pr.page["id"] in shown_pages:
                    pdf.set_font("sans", "", 9)
                    _para(pdf, 5, "Schermafbeelding / screenshot: zie de pagina hierboven / see the page above.")
                else:
                    shown_pages.add(pr.page["id"])
                    self._image(pdf, job.store.payload(pr.screenshot), SCREENSHOT_MAX_H,
                                glyphs.clean(f"Schermafbeelding van de vastlegging / capture screenshot: {pr.page['url']}"),
                                res, item)  # fmt: skip
        self._evidence(pdf, job, item, glyphs, char_wrap)

    def _media(self, pdf: Any, job: ExportJob, item: Item, glyphs: Glyphs, res: Written) -> None:
        for i, (m, ref) in enumerate(job.media(item.latest), 1):
            kind = m.get("kind", "media")
            still = ref if kind == "photo" else job.poster(item.latest, m)
            caption = f"{kind} {i}: {m.get('url') or ''}" + (f" — {m['alt']}" if m.get("alt") else "")
            if still is not None:
                self._image(pdf, job.store.payload(still), MEDIA_MAX_H, glyphs.clean(caption), res, item)
            else:
                pdf.set_font("sans", "", 9)
                why = "niet vastgelegd / not captured" if ref is None else "geen stilstaand beeld / no still image"
                _para(pdf, 5, glyphs.clean(f"[{caption} — {why}]"))

    @staticmethod
    def _image(pdf: Any, data: bytes | None, max_h: float, caption: str, res: Written, item: Item) -> None:
        img = _jpeg(data) if data else None
        pdf.set_font("sans", "", 8)
        if img is None:
            _para(pdf, 4.5, f"[{caption} — beeld niet leesbaar / image not readable]")
            return
        jpeg, w, h = img
        width = pdf.epw
        height = width * h / w
        if height > max_h:
            height = max_h
            width = height * w / h
        if pdf.get_y() + height + 8 > pdf.h - pdf.b_margin:
            pdf.add_page()
        pdf.ln(2)
        x, y = pdf.get_x(), pdf.get_y()
        pdf.image(io.BytesIO(jpeg), w=width, h=height)
        pdf.set_draw_color(160, 160, 160)
        pdf.rect(x, y, width, height)  # a white page's screenshot still shows where it ends
        _para(pdf, 4.5, caption, wrapmode="CHAR")

    def _evidence(self, pdf: Any, job: ExportJob, item: Item, glyphs: Glyphs, char_wrap: Any) -> None:
        facts = item_facts(job, item)
        pdf.ln(3)
        pdf.set_font("sans", "B", 9)
        _para(pdf, 5, "Bewijs / evidence")
        pdf.set_font("mono", "", 7)
        lines = [f"URL: {item.url}"]
        for cap in facts["captures"]:
            lines.append(f"Vastgelegd / captured (versie {cap['version']}): {cap['captured_at']}  pagina: {cap['url']}")
            lines.append(f"WARC: {cap['warc']}  crawl: {cap['crawl']}  collectie: {cap['collection']}")
            for r in cap["records"]:
                signed = "in ondertekend manifest" if r["in_signed_manifest"] else "NIET in ondertekend manifest"
                lines.append(f"  {r['type']} {r['uri']}")
                lines.append(f"    {r['id']}  sha256:{r['sha256'] or '-'}  ({signed})")
            lines.append(f"Handtekening / signature: {cap['signature']}")
        lines.append(f"Ledger: {facts['ledger'] or 'geen ledger in dit archief / no ledger in this archive'}")
        # monospace: wrapped here by character count, which is exact for a fixed-width font and
        # spares fpdf2's per-character line breaking (most of the PDF's time on long hashes)
        per_line = max(20, int(pdf.epw / pdf.get_string_width("0")) - 1)
        for line in lines:
            text = self.mono.clean(line)
            for start in range(0, max(len(text), 1), per_line):
                pdf.cell(pdf.epw, 3.6, text[start : start + per_line], new_x="LMARGIN", new_y="NEXT")

    # -- joining the parts ------------------------------------------------------------------
    @staticmethod
    def _join(parts: list[_Part], out: Path, job: ExportJob) -> None:
        import pikepdf

        doc = pikepdf.open(parts[0].path)
        opened = []
        for n, part in enumerate(parts):
            src = doc if n == 0 else pikepdf.open(part.path)
            if n:
                opened.append(src)
            _rename_fonts(src, n)
            if n:
                doc.pages.extend(src.pages)
        with doc.open_outline() as outline:
            outline.root.clear()
            stack: list[Any] = []
            for part in parts:
                for mark in part.marks:
                    entry = pikepdf.OutlineItem(mark.title, mark.page)
                    if mark.level == 0 or not stack:
                        outline.root.append(entry)
                        stack = [entry]
                    else:
                        stack[0].children.append(entry)
        doc.save(out, object_stream_mode=pikepdf.ObjectStreamMode.disable, linearize=False,
                 fix_metadata_version=False)  # fmt: skip
        for src in opened:
            src.close()
        doc.close()


def _rename_fonts(pdf: Any, part: int) -> None:
    """Each part's font subsets get their own six-letter tag, so that two different subsets
    never share a name in the joined document."""
    import pikepdf

    tag = "".join(chr(ord("A") + (part // 26**i) % 26) for i in range(4))
    for page in pdf.pages:
        fonts = page.obj.get("/Resources", {}).get("/Font", {})
        for _name, font in fonts.items():
            base = str(font.get("/BaseFont", ""))
            if "+" not in base or base.startswith(("/BW", "BW")):
                continue
            new = pikepdf.Name("/BW" + tag + base[base.index("+"):])
            font.BaseFont = new
            for desc in [d.get("/FontDescriptor") for d in font.get("/DescendantFonts", [])] + [font.get("/FontDescriptor")]:
                if desc is not None:
                    desc.FontName = new
            for d in font.get("/DescendantFonts", []):
                d.BaseFont = new

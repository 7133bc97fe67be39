"""XML: archival metadata as MDTO asks for it, plus bewaar's own fields in its own schema.

    xml/export.mdto.xml             the export as an MDTO informatieobject (a Dossier) that
                                    contains every exported post (bevatOnderdeel)
    xml/export.bewaar.xml           bewaar-export-1.xsd: selection, items, left out, redacted
    xml/accounts/ACCOUNT.mdto.xml   each account as a Serie containing its posts
    xml/objects/KEY.mdto.xml        each post or reply (an Archiefstuk): identification, name,
                                    classification/retention (when the selection list sets
                                    them), dates, author, relations (account, replies, parent,
                                    media files), events (published, captured, edited,
                                    deleted, redacted), use restriction
    xml/objects/KEY.bewaar.xml      bewaar-export-1.xsd: every captured field, each version,
                                    the capture evidence (WARC records, digests, signatures)
    xml/files/KEY/NAME              the screenshot and media files, each with NAME.mdto.xml
                                    (an MDTO bestand: size, format, sha256, original URL)
    xml/schemas/                    MDTO-XML1.0.1.xsd (Nationaal Archief) and bewaar-export-1.xsd

Every file validates against its schema (tests/export/test_xml.py, with lxml).

MDTO begrippenlijsten (value lists) are named in begripBegrippenlijst; where MDTO prescribes
none for a value bewaar writes (event types, the access decision), bewaar's own list is named.
"""

from __future__ import annotations

import mimetypes
import shutil
from pathlib import Path
from typing import Any

from lxml import etree

from bewaar import SOFTWARE
from bewaar.app.export.base import ExportJob, Written, item_facts
from bewaar.app.export.selection import Item, safe_name

MDTO_NS = "https://www.nationaalarchief.nl/mdto"
BEWAAR_NS = "https://bewaar.invalid/ns/export/1"
SCHEMAS = Path(__file__).with_name("schemas")
MDTO_XSD = SCHEMAS / "MDTO-XML1.0.1.xsd"
BEWAAR_XSD = SCHEMAS / "bewaar-export-1.xsd"
LIST_BEWAAR = "bewaar begrippenlijst"
LIST_AGGREGATION = "MDTO Begrippenlijst Aggregatieniveaus"
LIST_EVENTS = "MDTO Begrippenlijst Eventtypen"
LIST_RELATIONS = "MDTO Begrippenlijst Relatietypen"
LIST_CHECKSUM = "MDTO Begrippenlijst Checksumalgoritmen"
LIST_FORMATS = "IANA media types"
EVENT_LABELS = {  # bewaar event -> MDTO event label (Dutch, as the lists write them)
    "published": "Publicatie", "captured": "Vastlegging (webarchivering)", "edited": "Wijziging",
    "deleted": "Verwijdering (door de platformgebruiker)", "restored": "Herstel",
    "unverified": "Niet verifieerbaar", "redacted": "Lakking", "exported": "Export",
}  # fmt: skip


def _m(tag: str) -> str:
    return f"{{{MDTO_NS}}}{tag}"


def _b(tag: str) -> str:
    return f"{{{BEWAAR_NS}}}{tag}"


def _sub(parent: etree._Element, tag: str, text: Any = None) -> etree._Element:
    el = etree.SubElement(parent, tag)
    if text is not None:
        el.text = _clean(str(text))
    return el


def _clean(text: str) -> str:
    """XML 1.0 cannot carry most control characters; a post's text can."""
    return "".join(c for c in text if c in "\t\n\r" or ord(c) >= 0x20 and c not in "\ufffe\uffff")


def _write(root: etree._Element, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    etree.ElementTree(root).write(str(path), xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return path


# -- MDTO building blocks ----------------------------------------------------------------


def _ident(parent: etree._Element, tag: str, kenmerk: str, bron: str) -> None:
    el = _sub(parent, _m(tag))
    _sub(el, _m("identificatieKenmerk"), kenmerk)
    _sub(el, _m("identificatieBron"), bron)


def _ref(parent: etree._Element, tag: str, name: str, kenmerk: str | None = None,
         bron: str = SOFTWARE) -> etree._Element:  # fmt: skip
    el = _sub(parent, _m(tag))
    _sub(el, _m("verwijzingNaam"), name or "-")
    if kenmerk:
        _ident(el, "verwijzingIdentificatie", kenmerk, bron)
    return el


def _begrip(parent: etree._Element, tag: str, label: str, lst: str, code: str | None = None) -> None:
    el = _sub(parent, _m(tag))
    _sub(el, _m("begripLabel"), label)
    if code:
        _sub(el, _m("begripCode"), code)
    _ref(el, "begripBegrippenlijst", lst)


def _event(parent: etree._Element, kind: str, when: str | None, result: str = "",
           actor: str = "") -> None:  # fmt: skip
    ev = _sub(parent, _m("event"))
    _begrip(ev, "eventType", EVENT_LABELS[kind], LIST_EVENTS)
    if when:
        _sub(ev, _m("eventTijd"), when)
    if actor:
        _ref(ev, "eventVerantwoordelijkeActor", actor)
    if result:
        _sub(ev, _m("eventResultaat"), result)


def _name(item: Item) -> str:
    """A meaningful name: the title, else the first words of the text, else who and when."""
    text = " ".join((item.title or item.text).split())
    if item.redacted or not text:
        who = item.post.get("author") or item.post.get("handle") or item.account
        return f"Bericht van {who} ({item.published or item.latest['captured_at']})"
    return text if len(text) <= 120 else text[:117].rstrip() + "…"


def events(item: Item, created: str) -> list[tuple[str, str | None, str]]:
    """The item's history: (event, time, detail), oldest first."""
    out: list[tuple[str, str | None, str]] = []
    if item.published:
        out.append(("published", item.published, ""))
    for v in sorted(item.versions, key=lambda v: v["seq"]):
        for c in v.get("captures") or [{"captured_at": v["captured_at"], "url": v["page_url"]}]:
            out.append(("captured", c["captured_at"], f"version {v['seq']} on {c['url']}"))
    for c in item.changes:
        kind = c["type"]
        if kind in ("edited", "deleted", "restored", "unverified"):
            out.append((kind, c["detected_at"], c.get("url") or ""))
    if item.redacted:
        out.append(("redacted", created, item.decision.reason))
    out.sort(key=lambda e: e[1] or "")
    return out


class XmlExporter:
    name = "xml"
    description = "MDTO metadata per information object and file, plus bewaar's own XML"

    def write(self, job: ExportJob) -> Written:
        out = job.out / "xml"
        res = Written(self.name)
        (out / "schemas").mkdir(parents=True, exist_ok=True)
        for xsd in (MDTO_XSD, BEWAAR_XSD):
            res.paths.append(Path(shutil.copy2(xsd, out / "schemas" / xsd.name)))
        items = job.selection.all_items()
        accounts: dict[str, list[Item]] = {}
        for n, item in enumerate(items, 1):
            accounts.setdefault(item.account, []).append(item)
            files = self._files(job, item, out, res)
            res.paths.append(self._mdto_object(job, item, files, out))
            res.paths.append(self._bewaar_object(job, item, files, out))
            if n % 100 == 0 or n == len(items):
                job.progress(f"xml: {n}/{len(items)} objects")
        for account, members in accounts.items():
            res.paths.append(self._account(job, account, members, out))
        res.paths += self._export(job, items, out)
        return res

    # -- files (MDTO bestand) ------------------------------------------------------------
    def _files(self, job: ExportJob, item: Item, out: Path, res: Written) -> list[dict[str, Any]]:
        """Screenshot and media of the latest version, copied out with a bestand record."""
        files: list[dict[str, Any]] = []
        if item.redacted:
            return files
        v = item.latest
        pr = job.version_page(v)
        wanted = []
        if pr is not None and pr.screenshot is not None:
            wanted.append(("screenshot.png", pr.screenshot, f"Schermafbeelding van {pr.page['url']}",
                           pr.page["url"]))  # fmt: skip
        for i, (m, ref) in enumerate(job.media(v), 1):
            if ref is None:
                res.failed.append(f"{item.key}: media {m.get('url')} was not captured")
                continue
            ext = Path(str(m.get("url", "")).split("?")[0]).suffix[:8] or (
                mimetypes.guess_extension(ref.content_type or "") or ".bin")
            wanted.append((f"media-{i}{ext}", ref, f"{m.get('kind', 'media')} {i} van {item.key}", m.get("url")))
        for name, ref, label, url in wanted:
            data = job.store.payload(ref)
            if data is None:
                res.failed.append(f"{item.key}: {name} could not be read from {ref.warc.name}")
                continue
            path = out / "files" / item.key / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            import hashlib

            sha = hashlib.sha256(data).hexdigest()
            mime = ref.content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
            files.append({"name": name, "path": path, "sha256": sha, "bytes": len(data), "mime": mime,
                          "label": label, "url": url, "record": ref.id})  # fmt: skip
            res.paths.append(path)
            res.paths.append(self._bestand(job, item, files[-1], path))
        return files

    def _bestand(self, job: ExportJob, item: Item, f: dict[str, Any], path: Path) -> Path:
        root = etree.Element(_m("MDTO"), nsmap={None: MDTO_NS})
        b = _sub(root, _m("bestand"))
        _ident(b, "identificatie", f"{item.key}/{f['name']}", "bewaar export")
        if f.get("record"):
            _ident(b, "identificatie", f["record"], "WARC-Record-ID")
        _sub(b, _m("naam"), f["name"])
        _sub(b, _m("omvang"), f["bytes"])
        _begrip(b, "bestandsformaat", f["mime"], LIST_FORMATS, code=f["mime"])
        ck = _sub(b, _m("checksum"))
        _begrip(ck, "checksumAlgoritme", "SHA-256", LIST_CHECKSUM)
        _sub(ck, _m("checksumWaarde"), f["sha256"])
        _sub(ck, _m("checksumDatum"), job.created)
        if f.get("url") and "://" in str(f["url"]):
            _sub(b, _m("URLBestand"), f["url"])
        _ref(b, "isRepresentatieVan", _name(item), item.key, "bewaar export")
        return _write(root, path.with_name(path.name + ".mdto.xml"))

    # -- informatieobject ---------------------------------------------------------------
    def _mdto_object(self, job: ExportJob, item: Item, files: list[dict[str, Any]], out: Path) -> Path:
        p = item.post
        root = etree.Element(_m("MDTO"), nsmap={None: MDTO_NS})
        io = _sub(root, _m("informatieobject"))
        _ident(io, "identificatie", item.key, "bewaar export")
        _ident(io, "identificatie", str(p["post_id"]), f"{p['platform']} (id van het platform)")
        if item.url:
            _ident(io, "identificatie", item.url, "URL")
        _sub(io, _m("naam"), _name(item))
        _begrip(io, "aggregatieniveau", "Archiefstuk", LIST_AGGREGATION)
        retention = job.retention(item)
        if retention:
            _begrip(io, "classificatie", retention.category, retention.list_name or "selectielijst")
        obj = item.latest.get("object") or {}
        for tag in obj.get("hashtags") or []:
            _sub(io, _m("trefwoord"), tag)
        if not item.redacted and item.text:
            _sub(io, _m("omschrijving"), item.text)
        if item.url:
            rl = _sub(io, _m("raadpleeglocatie"))
            _sub(rl, _m("raadpleeglocatieOnline"), item.url)
        day = (item.published or item.latest["captured_at"])[:10]
        dk = _sub(io, _m("dekkingInTijd"))
        _begrip(dk, "dekkingInTijdType", "Publicatiedatum" if item.published else "Datum van vastlegging",
                LIST_BEWAAR)  # fmt: skip
        _sub(dk, _m("dekkingInTijdBegindatum"), day)
        lang = obj.get("language")
        if isinstance(lang, str) and lang.replace("-", "").isalpha() and len(lang) <= 35:
            _sub(io, _m("taal"), lang)
        for kind, when, detail in events(item, job.created):
            _event(io, kind, when, detail, actor=SOFTWARE if kind in ("captured", "redacted") else "")
        if retention:
            _begrip(io, "waardering", retention.valuation, retention.list_name or "selectielijst",
                    code={"bewaren": "B", "vernietigen": "V"}.get(retention.valuation))  # fmt: skip
            if retention.term:
                t = _sub(io, _m("bewaartermijn"))
                _sub(t, _m("termijnLooptijd"), retention.term)
        else:
            _begrip(io, "waardering", "nog niet gewaardeerd (geen selectielijst toegepast)", LIST_BEWAAR)
        _ref(io, "isOnderdeelVan", item.account, f"account:{item.account}", "bewaar export")
        for f in files:
            _ref(io, "heeftRepresentatie", f["name"], f"{item.key}/{f['name']}", "bewaar export")
        _ref(io, "aanvullendeMetagegevens", f"{item.key}.bewaar.xml", f"{item.key}.bewaar.xml", "bewaar export")
        if item.parent is not None:
            g = _sub(io, _m("gerelateerdInformatieobject"))
            _ref(g, "gerelateerdInformatieobjectVerwijzing", _name(item.parent), item.parent.key, "bewaar export")
            _begrip(g, "gerelateerdInformatieobjectTypeRelatie", "is reactie op", LIST_RELATIONS)
        for r in item.replies:
            g = _sub(io, _m("gerelateerdInformatieobject"))
            _ref(g, "gerelateerdInformatieobjectVerwijzing", _name(r), r.key, "bewaar export")
            _begrip(g, "gerelateerdInformatieobjectTypeRelatie", "heeft reactie", LIST_RELATIONS)
        _ref(io, "archiefvormer", p.get("display_name") or item.account, f"account:{item.account}", "bewaar export")
        who = obj.get("author") or {}
        author = who.get("name") or who.get("handle") or p.get("author_name") or p.get("author")
        if author:
            bt = _sub(io, _m("betrokkene"))
            _begrip(bt, "betrokkeneTypeRelatie", "Auteur", LIST_BEWAAR)
            _ref(bt, "betrokkeneActor", str(author), who.get("handle") or p.get("author"), p["platform"])
        bg = _sub(io, _m("beperkingGebruik"))
        if item.redacted:
            _begrip(bg, "beperkingGebruikType", "Gedeeltelijk openbaar (gelakt)", LIST_BEWAAR)
            _sub(bg, _m("beperkingGebruikNadereBeschrijving"), item.decision.reason)
        else:
            _begrip(bg, "beperkingGebruikType", "Geen beperking bij deze export", LIST_BEWAAR)
        return _write(root, out / "objects" / f"{item.key}.mdto.xml")

    # -- bewaar's own fields ------------------------------------------------------------
    def _bewaar_object(self, job: ExportJob, item: Item, files: list[dict[str, Any]], out: Path) -> Path:
        p = item.post
        obj = item.latest.get("object") or {}
        root = etree.Element(_b("object"), nsmap={None: BEWAAR_NS})
        _sub(root, _b("key"), item.key)
        _sub(root, _b("type"), "reply" if p.get("reply_to") else "post")
        _sub(root, _b("platform"), p["platform"])
        _sub(root, _b("id"), p["post_id"])
        _sub(root, _b("url"), item.url)
        _sub(root, _b("account"), item.account)
        _sub(root, _b("collection"), p["collection"])
        a = _sub(root, _b("author"))
        who = obj.get("author") or {}
        for k in ("handle", "name", "url", "id"):
            val = who.get(k) or (p.get("author") if k == "handle" else p.get("author_name") if k == "name" else None)
            if val:
                _sub(a, _b(k), val)
        if obj.get("language"):
            _sub(root, _b("language"), obj["language"])
        if p.get("published_at"):
            _sub(root, _b("publishedAt"), p["published_at"])
        if p.get("published_text"):
            _sub(root, _b("publishedText"), p["published_text"])
        _sub(root, _b("status"), p["status"])
        if p.get("status_at") and p["status"] != "online":
            _sub(root, _b("statusAt"), p["status_at"])
        if p.get("status_reason"):
            _sub(root, _b("statusReason"), p["status_reason"])
        if item.redacted:
            _sub(root, _b("redacted"), item.decision.reason or "redacted")
        if not item.redacted:
            for tag in obj.get("hashtags") or []:
                _sub(root, _b("hashtag"), tag)
            for m in obj.get("mentions") or []:
                el = _sub(root, _b("mention"))
                for k in ("handle", "name", "url", "id"):
                    if m.get(k):
                        _sub(el, _b(k), m[k])
            for link in obj.get("links") or []:
                el = _sub(root, _b("link"))
                _sub(el, _b("url"), link.get("url"))
                if link.get("text"):
                    _sub(el, _b("text"), link["text"])
            for ref in obj.get("linked_posts") or []:
                self._postref(root, "linkedPost", ref)
        if obj.get("reply_to"):
            self._postref(root, "replyTo", obj["reply_to"], item.parent.key if item.parent else None)
        if obj.get("repost_of"):
            self._postref(root, "repostOf", obj["repost_of"])
        for r in item.replies:
            el = self._postref(root, "reply", {"id": r.post["post_id"], "url": r.url, "author": r.post.get("author")})
            el.set("key", r.key)
        _sub(root, _b("versionsCaptured"), max(item.all_versions, 1))
        by_name = {f.get("url"): f for f in files}
        for v in item.versions:
            ve = _sub(root, _b("version"))
            ve.set("seq", str(v["seq"]))
            _sub(ve, _b("capturedAt"), v["captured_at"])
            _sub(ve, _b("pageUrl"), v["page_url"])
            if not item.redacted:
                if v.get("title"):
                    _sub(ve, _b("title"), v["title"])
                if v.get("text"):
                    _sub(ve, _b("text"), v["text"])
            if v.get("edited_at"):
                _sub(ve, _b("editedAt"), v["edited_at"])
            _sub(ve, _b("isEdit"), "true" if v.get("is_edit") else "false")
            if not item.redacted:
                for m, ref in job.media(v):
                    me = _sub(ve, _b("media"))
                    _sub(me, _b("kind"), m.get("kind") if m.get("kind") in ("photo", "video", "gif", "audio") else "photo")
                    for k in ("url", "mime", "poster", "alt", "width", "height", "duration"):
                        if m.get(k) is not None and m.get(k) != "":
                            _sub(me, _b(k), m[k])
                    _sub(me, _b("captured"), "true" if ref is not None else "false")
                    if ref is not None:
                        _sub(me, _b("recordId"), ref.id)
                        if ref.sha256_hex:
                            _sub(me, _b("sha256"), ref.sha256_hex)
                    f = by_name.get(m.get("url")) if v is item.latest else None
                    if f:
                        _sub(me, _b("bytes"), f["bytes"])
                        _sub(me, _b("file"), f"files/{item.key}/{f['name']}")
            counts = _sub(ve, _b("counts"))
            shown = (v.get("object") or {}).get("counts_text") or {}
            for k, n in sorted((v.get("counts") or {}).items()):
                if isinstance(n, int) and n >= 0:
                    c = _sub(counts, _b("count"), n)
                    c.set("name", k)
                    if k in shown:
                        c.set("shown", str(shown[k]))
        facts = item_facts(job, item)
        for cap in facts["captures"]:
            ce = _sub(root, _b("capture"))
            ce.set("version", str(cap["version"]))
            for tag, key in (("url", "url"), ("capturedAt", "captured_at"), ("crawl", "crawl"),
                             ("collection", "collection"), ("warc", "warc"), ("outcome", "outcome")):  # fmt: skip
                _sub(ce, _b(tag), cap[key])
            for r in cap["records"]:
                re_ = _sub(ce, _b("record"))
                _sub(re_, _b("type"), r["type"])
                _sub(re_, _b("uri"), r["uri"])
                _sub(re_, _b("recordId"), r["id"])
                _sub(re_, _b("date"), r["date"])
                if r["sha256"]:
                    _sub(re_, _b("sha256"), r["sha256"])
                _sub(re_, _b("inSignedManifest"), "true" if r["in_signed_manifest"] else "false")
            _sub(ce, _b("signature"), cap["signature"])
            _sub(ce, _b("timestamp"), cap["timestamp"])
        for kind, when, detail in events(item, job.created):
            ev = _sub(root, _b("event"))
            _sub(ev, _b("type"), kind)
            if when:
                _sub(ev, _b("time"), when)
            if detail:
                _sub(ev, _b("detail"), detail)
        if facts["ledger"]:
            _sub(root, _b("ledgerPosition"), facts["ledger"])
        return _write(root, out / "objects" / f"{item.key}.bewaar.xml")

    @staticmethod
    def _postref(parent: etree._Element, tag: str, ref: dict[str, Any], key: str | None = None) -> etree._Element:
        el = _sub(parent, _b(tag))
        if key:
            el.set("key", key)
        for k in ("id", "url", "author"):
            if ref.get(k):
                _sub(el, _b(k), ref[k])
        return el

    # -- accounts and the export ----------------------------------------------------------
    def _account(self, job: ExportJob, account: str, members: list[Item], out: Path) -> Path:
        first = members[0].post
        root = etree.Element(_m("MDTO"), nsmap={None: MDTO_NS})
        io = _sub(root, _m("informatieobject"))
        _ident(io, "identificatie", f"account:{account}", "bewaar export")
        if first.get("profile_url"):
            _ident(io, "identificatie", first["profile_url"], "URL")
        _sub(io, _m("naam"), f"{first.get('display_name') or account} ({account})")
        _begrip(io, "aggregatieniveau", "Serie", LIST_AGGREGATION)
        _sub(io, _m("omschrijving"), f"Berichten van {account} op {first['platform']} in deze export")
        if first.get("profile_url"):
            rl = _sub(io, _m("raadpleeglocatie"))
            _sub(rl, _m("raadpleeglocatieOnline"), first["profile_url"])
        _begrip(io, "waardering", "nog niet gewaardeerd (geen selectielijst toegepast)", LIST_BEWAAR)
        _ref(io, "isOnderdeelVan", "export", "export", "bewaar export")
        for m in members:
            _ref(io, "bevatOnderdeel", _name(m), m.key, "bewaar export")
        _ref(io, "archiefvormer", first.get("display_name") or account, f"account:{account}", "bewaar export")
        bg = _sub(io, _m("beperkingGebruik"))
        _begrip(bg, "beperkingGebruikType", "Geen beperking bij deze export", LIST_BEWAAR)
        return _write(root, out / "accounts" / f"{safe_name(account)}.mdto.xml")

    def _export(self, job: ExportJob, items: list[Item], out: Path) -> list[Path]:
        sel = job.selection
        root = etree.Element(_m("MDTO"), nsmap={None: MDTO_NS})
        io = _sub(root, _m("informatieobject"))
        _ident(io, "identificatie", "export", "bewaar export")
        _sub(io, _m("naam"), job.title or "bewaar export")
        _begrip(io, "aggregatieniveau", "Dossier", LIST_AGGREGATION)
        _sub(io, _m("omschrijving"), _describe(sel.request.describe()))
        _event(io, "exported", job.created, f"{len(items)} informatieobjecten", SOFTWARE)
        _begrip(io, "waardering", "nog niet gewaardeerd (geen selectielijst toegepast)", LIST_BEWAAR)
        for account in dict.fromkeys(i.account for i in items):
            _ref(io, "bevatOnderdeel", account, f"account:{account}", "bewaar export")
        _ref(io, "aanvullendeMetagegevens", "export.bewaar.xml", "export.bewaar.xml", "bewaar export")
        for account in dict.fromkeys(i.account for i in items):
            _ref(io, "archiefvormer", account, f"account:{account}", "bewaar export")
        bg = _sub(io, _m("beperkingGebruik"))
        if sel.left_out or sel.redacted:
            _begrip(bg, "beperkingGebruikType", "Gedeeltelijk openbaar", LIST_BEWAAR)
            _sub(bg, _m("beperkingGebruikNadereBeschrijving"),
                 f"{len(sel.left_out)} weggelaten, {len(sel.redacted)} gelakt: zie export.bewaar.xml")  # fmt: skip
        else:
            _begrip(bg, "beperkingGebruikType", "Geen beperking bij deze export", LIST_BEWAAR)
        paths = [_write(root, out / "export.mdto.xml")]

        ex = etree.Element(_b("export"), nsmap={None: BEWAAR_NS})
        _sub(ex, _b("created"), job.created)
        _sub(ex, _b("software"), SOFTWARE)
        _sub(ex, _b("title"), job.title or "bewaar export")
        s = _sub(ex, _b("selection"))
        req = sel.request
        for a in req.accounts:
            _sub(s, _b("account"), a)
        for u in req.posts:
            _sub(s, _b("post"), u)
        if req.query:
            _sub(s, _b("query"), req.query)
        if req.collection:
            _sub(s, _b("collection"), req.collection)
        if req.date_from:
            _sub(s, _b("from"), req.date_from)
        if req.date_to:
            _sub(s, _b("to"), req.date_to)
        _sub(s, _b("versions"), req.versions)
        _sub(s, _b("withReplies"), "true" if req.with_replies else "false")
        if req.requested_by:
            _sub(s, _b("requestedBy"), req.requested_by)
        for i in items:
            el = self._postref(ex, "item", {"id": i.post["post_id"], "url": i.url, "author": i.post.get("author")})
            el.set("key", i.key)
        for tag, entries in (("leftOut", sel.left_out), ("redacted", sel.redacted)):
            for e in entries:
                el = _sub(ex, _b(tag))
                for k in ("key", "url", "account", "reason"):
                    _sub(el, _b(k), e.get(k, ""))
        for note in sel.notes:
            _sub(ex, _b("note"), note)
        paths.append(_write(ex, out / "export.bewaar.xml"))
        return paths


def _describe(sel: dict[str, Any]) -> str:
    parts = []
    if sel["accounts"]:
        parts.append("accounts " + ", ".join(sel["accounts"]))
    if sel["posts"]:
        parts.append(f"{len(sel['posts'])} berichten op URL")
    if sel["query"]:
        parts.append(f"zoekvraag '{sel['query']}'")
    if sel["collection"]:
        parts.append(f"collectie {sel['collection']}")
    if sel["from"] or sel["to"]:
        parts.append(f"gepubliceerd {sel['from'] or '…'} t/m {sel['to'] or '…'}")
    parts.append("alle versies" if sel["versions"] == "all" else "laatste versie")
    if sel["with_replies"]:
        parts.append("met reacties")
    return "Export van " + "; ".join(parts)


def validate(path: Path) -> list[str]:
    """Schema errors of one exported XML file (empty when valid): MDTO files against the
    MDTO schema, bewaar files against bewaar's."""
    doc = etree.parse(str(path))
    xsd = MDTO_XSD if doc.getroot().tag == _m("MDTO") else BEWAAR_XSD
    schema = _schema(xsd)
    if schema.validate(doc):
        return []
    return [f"{path.name}:{e.line}: {e.message}" for e in schema.error_log]


_SCHEMAS: dict[Path, etree.XMLSchema] = {}


def _schema(path: Path) -> etree.XMLSchema:
    if path not in _SCHEMAS:
        _SCHEMAS[path] = etree.XMLSchema(etree.parse(str(path)))
    return _SCHEMAS[path]

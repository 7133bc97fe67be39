"""EML: each post and reply as an RFC 5322 message, one folder per account, so that records
systems that take e-mail can ingest them.

    eml/ACCOUNT/KEY.eml

From is the author (handles that are no e-mail address get the reserved `.invalid` domain of
their platform, so nothing can ever be sent to them), Date the publication time (the capture
time when the platform showed none, said in X-Bewaar-Date-Source), Subject the title or the
first words of the text, the body the text with the capture's evidence, the media and the
screenshot attached. Replies carry In-Reply-To/References, so mail programs show threads.
X-Bewaar-* headers name the URL, platform, account and capture record. Lines end in CRLF.
"""

from __future__ import annotations

import email.policy
import email.utils
import mimetypes
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path

from bewaar.app.export.base import ExportJob, Written, item_facts
from bewaar.app.export.selection import Item, safe_name
from bewaar.timeutil import parse_iso

MAX_ATTACHMENT = 50 * 1024 * 1024  # larger media are named (with sha256), not attached
SUBJECT_WORDS = 78
# CRLF line ends; header lines up to RFC 5322's hard limit, so that URLs and record ids in the
# X-Bewaar-* headers stay on one line (folding them makes some readers keep a leading space)
POLICY = email.policy.SMTP.clone(max_line_length=998)


def message_id(item: Item) -> str:
    return f"<{safe_name(str(item.post['post_id']))}.{safe_name(item.post['platform'])}@export.bewaar.invalid>"


def sender(item: Item) -> Address:
    obj = item.latest.get("object") or {}
    who = obj.get("author") or {}
    handle = str(who.get("handle") or item.post.get("author") or item.post.get("handle") or "unknown")
    name = str(who.get("name") or item.post.get("author_name") or "")
    user, _, host = handle.lstrip("@").partition("@")
    user = safe_name(user, 60) or "unknown"
    host = host if host and "." in host and all(p.isalnum() or "-" in p for p in host.split(".")) else (
        f"{safe_name(item.post['platform'])}.invalid")
    return Address(display_name=name, username=user, domain=host)


def subject(item: Item) -> str:
    if item.redacted:
        return f"[gelakt / redacted] bericht {item.post['post_id']}"
    text = " ".join((item.title or item.text).split())
    if not text:
        return f"(geen tekst) {item.post['platform']} {item.post['post_id']}"
    return text if len(text) <= SUBJECT_WORDS else text[: SUBJECT_WORDS - 1].rsplit(" ", 1)[0] + "…"


class EmlExporter:
    name = "eml"
    description = "one RFC 5322 message per post and reply, a folder per account"

    def write(self, job: ExportJob) -> Written:
        res = Written(self.name)
        items = job.selection.all_items()
        for n, item in enumerate(items, 1):
            path = job.out / "eml" / safe_name(item.account) / f"{item.key}.eml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(self.message(job, item, res).as_bytes(policy=POLICY))
            res.paths.append(path)
            if n % 100 == 0 or n == len(items):
                job.progress(f"eml: {n}/{len(items)} messages")
        return res

    def message(self, job: ExportJob, item: Item, res: Written) -> EmailMessage:
        msg = EmailMessage(policy=POLICY)
        msg["From"] = sender(item)
        when = item.published
        msg["Date"] = email.utils.format_datetime(parse_iso(when or item.latest["captured_at"]))
        msg["Subject"] = subject(item)
        msg["Message-ID"] = message_id(item)
        if item.parent is not None:
            msg["In-Reply-To"] = message_id(item.parent)
            chain, up = [], item.parent
            while up is not None:
                chain.insert(0, message_id(up))
                up = up.parent
            msg["References"] = " ".join(chain)
        facts = item_facts(job, item)
        cap = facts["captures"][0] if facts["captures"] else None
        msg["X-Bewaar-URL"] = item.url
        msg["X-Bewaar-Platform"] = item.post["platform"]
        msg["X-Bewaar-Account"] = item.account
        msg["X-Bewaar-Post-ID"] = str(item.post["post_id"])
        msg["X-Bewaar-Status"] = item.post["status"]
        if not when:
            msg["X-Bewaar-Date-Source"] = "captured (the platform showed no publication time)"
        if cap:
            main = next((r for r in cap["records"] if r["type"] in ("response", "revisit")), None)
            msg["X-Bewaar-Captured"] = cap["captured_at"]
            msg["X-Bewaar-Capture-Record"] = (
                f"{cap['warc']} {main['id'] if main else ''} (crawl {cap['crawl']}, page {cap['url']})")
            msg["X-Bewaar-Signature"] = cap["signature"]
        if item.redacted:
            msg["X-Bewaar-Redacted"] = item.decision.reason or "redacted"
        msg.set_content(self.body(item, facts), subtype="plain", charset="utf-8", cte="quoted-printable")
        if item.redacted:
            return msg
        v = item.latest
        for i, (m, ref) in enumerate(job.media(v), 1):
            if ref is None:
                res.failed.append(f"{item.key}: media {m.get('url')} was not captured")
                continue
            data = job.store.payload(ref, MAX_ATTACHMENT)
            if data is None:
                res.notes.append(f"{item.key}: media {m.get('url')} not attached (over {MAX_ATTACHMENT} bytes or "
                                 f"unreadable); it is in the WACZ as record {ref.id}")  # fmt: skip
                continue
            self._attach(msg, data, ref.content_type, f"media-{i}", m.get("url"))
        pr = job.version_page(v)
        if pr is not None and pr.screenshot is not None:
            data = job.store.payload(pr.screenshot)
            if data:
                self._attach(msg, data, "image/png", "screenshot", None, ".png")
        return msg

    @staticmethod
    def _attach(msg: EmailMessage, data: bytes, ctype: str, stem: str, url: str | None, ext: str = "") -> None:
        ctype = ctype if "/" in (ctype or "") else mimetypes.guess_type(url or "")[0] or "application/octet-stream"
        ext = ext or Path(str(url or "").split("?")[0]).suffix[:8] or mimetypes.guess_extension(ctype) or ".bin"
        maintype, subtype = ctype.split("/", 1)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=f"{stem}{ext}")

    @staticmethod
    def body(item: Item, facts: dict) -> str:
        lines = []
        if item.redacted:
            lines.append(f"[Gelakt / redacted: {item.decision.reason}]")
        else:
            if item.title:
                lines += [item.title, ""]
            lines.append(item.text or "(geen tekst / no text)")
        lines += ["", "-- ", f"URL: {item.url}", f"Platform: {item.post['platform']}  Account: {item.account}"]
        lines.append(f"Gepubliceerd / published: {item.published or item.post.get('published_text') or 'onbekend'}")
        lines.append(f"Status: {item.post['status']}" + (f" ({item.post['status_reason']})" if item.post.get("status_reason") else ""))
        for cap in facts["captures"]:
            lines.append(f"Vastgelegd / captured (versie {cap['version']}): {cap['captured_at']} op {cap['url']}")
            lines.append(f"  WARC {cap['warc']}, crawl {cap['crawl']}")
            for r in cap["records"]:
                lines.append(f"  {r['type']} {r['uri'][:90]} {r['id']} sha256:{r['sha256'] or '-'}")
            lines.append(f"  {cap['signature']}")
        if facts["ledger"]:
            lines.append(f"Ledger: {facts['ledger']}")
        return "\n".join(lines) + "\n"

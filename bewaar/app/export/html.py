"""HTML: a self-contained folder that opens from disk without a server or a network.

    html/index.html           the selection: every post and reply, with filters that run in
                              the page (words, account, platform, status, date range)
    html/posts/KEY.html       one page per post: text, media, replies, versions, screenshot,
                              and the evidence block (URL, capture times, WARC records and
                              their sha256, signature and timestamp status, ledger position)
    html/media/KEY/...        the media files and screenshots the pages show
    html/assets/              style, the filter script and the items' data (a script, not
                              JSON: browsers do not let file:// pages fetch files)

Nothing refers outside the folder except plain links to the original URLs; a Content
Security Policy in every page forbids loading anything from elsewhere.
"""

from __future__ import annotations

import json
import mimetypes
import shutil
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from bewaar import SOFTWARE
from bewaar.app.export.base import ExportJob, Written, item_facts
from bewaar.app.export.selection import Item
from bewaar.app.export.xml import _describe, events

TEMPLATES = Path(__file__).with_name("templates")
LABEL_CHARS = 140


def label(item: Item) -> str:
    if item.redacted:
        return f"[gelakt / redacted] {item.post['post_id']}"
    text = " ".join((item.title or item.text).split()) or f"({item.post['platform']} {item.post['post_id']})"
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


class HtmlExporter:
    name = "html"
    description = "a static folder that opens offline: index with filters, a page per post"

    def __init__(self) -> None:
        self.env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=select_autoescape(("html",)),
                               trim_blocks=True, lstrip_blocks=True)  # fmt: skip

    def write(self, job: ExportJob) -> Written:
        out = job.out / "html"
        res = Written(self.name)
        (out / "assets").mkdir(parents=True, exist_ok=True)
        for f in (TEMPLATES / "assets").iterdir():
            res.paths.append(Path(shutil.copy2(f, out / "assets" / f.name)))
        items = job.selection.all_items()
        common = {"export_title": job.title or "bewaar export", "created": job.created, "software": SOFTWARE}
        rows = []
        for n, item in enumerate(items, 1):
            rows.append(self._post(job, item, out, res, common))
            if n % 100 == 0 or n == len(items):
                job.progress(f"html: {n}/{len(items)} pages")
        data = {"items": [{k: r[k] for k in ("key", "account", "platform", "author", "url", "text", "title",
                                             "published", "status")} for r in rows]}  # fmt: skip
        js = out / "assets" / "items.js"
        js.write_text("window.BEWAAR_EXPORT = " + json.dumps(data, ensure_ascii=False).replace("</", "<\\/") + ";\n",
                      encoding="utf-8")  # fmt: skip
        res.paths.append(js)
        sel = job.selection
        index = self.env.get_template("index.html").render(
            title=common["export_title"], up="", items=rows, left_out=sel.left_out, redacted=sel.redacted,
            accounts=sorted({r["account"] for r in rows}), platforms=sorted({r["platform"] for r in rows}),
            selection=_describe(sel.request.describe()), **common,
        )  # fmt: skip
        (out / "index.html").write_text(index, encoding="utf-8")
        res.paths.append(out / "index.html")
        return res

    def _file(self, job: ExportJob, ref: Any, out: Path, item: Item, stem: str, url: str | None,
              res: Written) -> str | None:  # fmt: skip
        data = job.store.payload(ref)
        if data is None:
            res.failed.append(f"{item.key}: {url or stem} could not be read from {ref.warc.name}")
            return None
        ext = Path(str(url or "").split("?")[0]).suffix[:8] or mimetypes.guess_extension(ref.content_type or "") or ".bin"
        rel = f"media/{item.key}/{stem}{ext}"
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        res.paths.append(path)
        return rel

    def _post(self, job: ExportJob, item: Item, out: Path, res: Written, common: dict[str, Any]) -> dict[str, Any]:
        p = item.post
        v = item.latest
        obj = v.get("object") or {}
        author = (obj.get("author") or {}).get("name") or p.get("author_name") or p.get("author") or ""
        media: list[dict[str, Any]] = []
        screenshot = None
        if not item.redacted:
            for i, (m, ref) in enumerate(job.media(v), 1):
                entry = dict(m, file=None, sha256=ref.sha256_hex if ref else None, poster_file=None)
                if ref is None:
                    res.failed.append(f"{item.key}: media {m.get('url')} was not captured")
                else:
                    entry["file"] = self._file(job, ref, out, item, f"media-{i}", m.get("url"), res)
                poster = job.poster(v, m)
                if poster is not None:
                    entry["poster_file"] = self._file(job, poster, out, item, f"poster-{i}", m.get("poster"), res)
                media.append(entry)
            pr = job.version_page(v)
            if pr is not None and pr.screenshot is not None:
                screenshot = self._file(job, pr.screenshot, out, item, "screenshot", None, res)
        facts = item_facts(job, item)
        row = {
            "key": item.key, "account": item.account, "platform": p["platform"], "author": author,
            "url": item.url, "text": item.text, "title": item.title, "published": item.published,
            "status": p["status"], "reply": item.parent is not None, "redacted": item.redacted,
            "label": label(item),
        }  # fmt: skip
        html = self.env.get_template("post.html").render(
            title=label(item), up="../", item=item, heading=f"{author or item.account}: {label(item)}",
            author=author, account=item.account, platform=p["platform"], published=item.published,
            status=p["status"], status_reason=p.get("status_reason"), reason=item.decision.reason,
            text=item.text, media=media, screenshot=screenshot, page_url=v["page_url"],
            parent={"key": item.parent.key, "label": label(item.parent)} if item.parent else None,
            replies=[{"key": r.key, "label": label(r), "author": r.post.get("author") or ""} for r in item.replies],
            versions=[{"seq": x["seq"], "captured_at": x["captured_at"], "text": x.get("text") or ""}
                      for x in item.versions],
            url=item.url, captures=facts["captures"], ledger=facts["ledger"],
            events=events(item, job.created), **common,
        )  # fmt: skip
        path = out / "posts" / f"{item.key}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8")
        res.paths.append(path)
        return row

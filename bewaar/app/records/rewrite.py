"""Decide, record by record, what a removal does to a collection's WARCs, and write the files
that remain.

A removal names whole pages (a retention term ended, an account or a post to destroy), records
by WARC-Record-ID, and information objects (a post, a citizen's reply) to take out wherever they
show. Per record the outcome is one of:

  drop         the record goes (with its request, and the page's own records for a page)
  edit         its payload is rewritten without the objects (JSON, HTML, DOM snapshot,
               information objects); the record keeps its id and date and says what was removed
               (WARC-Bewaar-Redacted)
  materialise  a revisit whose original goes or changes becomes a response carrying the payload
               it replays (WARC-Bewaar-Materialised), so a later capture that deduplicated
               against a destroyed one keeps replaying what is still kept
  (keep)       copied byte for byte: its signed header hash does not change

A page whose records were edited or dropped for an object loses its screenshot: a screenshot
cannot be edited reliably (the pixels of a reply are not marked out), and a new rendering
would show the page as it is replayed at removal time, not as it was captured — evidence it is
not. The record says each screenshot it dropped.

Per file: every page and record gone -> the file is destroyed; anything changed -> it is written
anew (NAME-rN.warc.gz) and the old file destroyed; else it stays as it is.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from bewaar.model import OBJECTS_URN, PAGEINFO_URN, SCREENSHOT_URN, WARC_SUFFIX

from .content import FileMap, Page, Rec, read_record
from .edit import Posts, Target, edit_html, edit_json, host_of, residue, url_names

REDACTED_HEADER = "WARC-Bewaar-Redacted"  # as the crawler marks what it redacts at write time
MATERIALISED_HEADER = "WARC-Bewaar-Materialised"
MAX_EDIT = 64 * 1024 * 1024  # payloads larger than this are never parsed: dropped if they name a target
CACHE_BYTES = 256 * 1024 * 1024  # text payloads kept while judging (revisits share originals)


@dataclass
class Selection:
    pages: set[tuple[str, str]] = field(default_factory=set)  # (file, pageinfo record id)
    records: set[str] = field(default_factory=set)  # WARC-Record-IDs
    targets: list[Target] = field(default_factory=list)
    handles: set[str] = field(default_factory=set)  # replies by these: their URLs go too

    def empty(self) -> bool:
        return not (self.pages or self.records or self.targets)


@dataclass
class Action:
    action: str  # drop | edit | materialise
    why: str
    payload: bytes | None = None  # edit / materialise: the new payload
    source: str = ""  # materialise: the original record's id; repoint: the new original's
    redacted: bool = False  # the payload had something taken out
    refers: tuple[str, str] = ("", "")  # repoint: the new original's URI and date
    payload_at: tuple[Path, int] | None = None  # materialise: read the payload there when writing


@dataclass
class FilePlan:
    fm: FileMap
    actions: dict[int, Action] = field(default_factory=dict)
    pages_removed: list[Page] = field(default_factory=list)
    pages_edited: list[Page] = field(default_factory=list)

    @property
    def action(self) -> str:
        if not self.actions:
            return "keep"
        body = [r for r in self.fm.records if r.type != "warcinfo"]
        if body and all(self.actions.get(r.index, Action("", "")).action == "drop" for r in body):
            return "destroy"
        return "rewrite"

    def ids(self, what: str) -> list[str]:
        return [self.fm.records[i].id for i, a in sorted(self.actions.items()) if a.action == what]

    def new_name(self) -> str:
        stem = self.fm.name[: -len(WARC_SUFFIX)] if self.fm.name.endswith(WARC_SUFFIX) else self.fm.name
        m = re.fullmatch(r"(.*)-r(\d+)", stem)
        base, n = (m.group(1), int(m.group(2)) + 1) if m else (stem, 1)
        return f"{base}-r{n}{WARC_SUFFIX}"


@dataclass
class Original:
    fm: FileMap
    rec: Rec


class Planner:
    """Works out every record's outcome for one removal across a whole collection."""

    def __init__(self, files: list[FileMap], sel: Selection, posts: Posts, record_id: str) -> None:
        self.files = files
        self.sel = sel
        self.posts = posts
        self.record_id = record_id
        self.plans = {fm.name: FilePlan(fm) for fm in files}
        self._payloads: dict[tuple[str, int], bytes] = {}
        self._cached = 0
        self.originals: dict[tuple[str, str], list[Original]] = {}
        self.by_id: dict[str, Original] = {}
        for fm in files:
            for r in fm.records:
                if r.type == "response" and r.digest and r.status == 200:
                    self.originals.setdefault((r.uri, r.digest), []).append(Original(fm, r))
                if r.type in ("response", "resource", "metadata"):
                    self.by_id[r.id] = Original(fm, r)

    # ------------------------------------------------------------------ payloads

    def payload(self, fm: FileMap, r: Rec) -> bytes:
        """A text payload to judge (kept: several pages may show the same one)."""
        key = (fm.name, r.index)
        if key not in self._payloads:
            _rec, data = read_record(fm.path, r.offset)
            if self._cached + len(data) > CACHE_BYTES:
                self._payloads.clear()
                self._cached = 0
            self._payloads[key] = data
            self._cached += len(data)
        return self._payloads[key]

    def original_of(self, r: Rec) -> Original | None:
        if r.refers_id and r.refers_id in self.by_id:
            return self.by_id[r.refers_id]
        found = self.originals.get((r.refers_uri or r.uri, r.digest or ""))
        return found[0] if found else None

    # ------------------------------------------------------------------ the passes

    def run(self) -> list[FilePlan]:
        target_urls = {t.url for t in self.sel.targets}
        for fm in self.files:
            for p in fm.pages:
                if p.url in target_urls:
                    self.sel.pages.add(p.key)
        for fm in self.files:
            self._pages_and_records(self.plans[fm.name])
        if self.sel.targets:
            for fm in self.files:
                self._targets(self.plans[fm.name])
        for fm in self.files:
            self._follow(self.plans[fm.name])
        self._revisits()
        return [self.plans[fm.name] for fm in self.files]

    def _drop(self, plan: FilePlan, r: Rec, why: str) -> None:
        if r.type != "warcinfo":
            plan.actions[r.index] = Action("drop", why)

    def _pages_and_records(self, plan: FilePlan) -> None:
        fm = plan.fm
        gone = {p.index for p in fm.pages if p.key in self.sel.pages}
        plan.pages_removed = [p for p in fm.pages if p.index in gone]
        whole = bool(fm.pages) and len(gone) == len(fm.pages)
        for r in fm.records:
            if r.page in gone or (whole and r.type != "warcinfo"):
                self._drop(plan, r, "its page is removed")
            elif r.id in self.sel.records:
                self._drop(plan, r, "named for removal")

    def _targets(self, plan: FilePlan) -> None:
        fm, targets = plan.fm, self.sel.targets
        touched: set[int] = set()
        for r in fm.records:
            if r.index in plan.actions or r.type in ("warcinfo", "request"):
                continue
            if not r.uri.startswith("urn:") and r.type in ("response", "revisit", "resource") \
                    and url_names(r.uri, targets, self.sel.handles):
                self._drop(plan, r, "its URL belongs to what is removed")
                touched.add(r.page if r.page is not None else -1)
                continue
            if not (r.text_like or r.uri.startswith((OBJECTS_URN, PAGEINFO_URN))):
                continue
            act = self._edit(fm, r)
            if act is not None:
                plan.actions[r.index] = act
                touched.add(r.page if r.page is not None else -1)
        for r in fm.records:  # the screenshots of pages that showed what was removed
            if r.page in touched and r.uri.startswith(SCREENSHOT_URN) and r.index not in plan.actions:
                self._drop(plan, r, "a screenshot of a page that showed what is removed cannot "
                                    "be edited reliably")
        plan.pages_edited = [p for p in fm.pages if p.index in touched and p not in plan.pages_removed]

    def _effective(self, fm: FileMap, r: Rec) -> bytes | None:
        """The payload a record replays (a revisit's is its original's)."""
        if r.type != "revisit":
            return self.payload(fm, r)
        o = self.original_of(r)
        return self.payload(o.fm, o.rec) if o else None

    def _edit(self, fm: FileMap, r: Rec) -> Action | None:
        data = self._effective(fm, r)
        targets = self.sel.targets
        if data is None:
            return None
        text = data.decode("utf-8", "replace")
        if not any(t.id in text or (t.path and t.path in text) or (t.needle and t.needle in text)
                   for t in targets):
            return None
        mime = r.mime.lower()
        host = host_of(r.uri.split(":", 2)[2] if r.uri.startswith("urn:") else r.uri)
        ed = None
        if len(data) > MAX_EDIT:
            pass  # too large to parse: kept only if it does not name what is removed (below)
        elif "json" in mime or r.uri.startswith((OBJECTS_URN, PAGEINFO_URN)):
            ed = edit_json(data, targets, self.posts, host,
                           indent=1 if r.uri.startswith("urn:") else None)
        elif "html" in mime:
            ed = edit_html(data, targets, self.posts, host)
        if ed is None:
            left = residue(data, targets, host)
            return Action("drop", f"it {left} and cannot be edited") if left else None
        if ed.data is None:
            return Action("drop", f"it {ed.why}")
        left = residue(ed.data, targets, host)
        if left:
            return Action("drop", f"after editing it {left}")
        if r.type == "revisit":
            o = self.original_of(r)
            return Action("materialise", ed.why, ed.data, o.rec.id if o else "", redacted=True)
        return Action("edit", ed.why, ed.data, redacted=True)

    def _follow(self, plan: FilePlan) -> None:
        """Requests of dropped responses, and records concurrent to a dropped record, go too."""
        dropped = {plan.fm.records[i].id for i, a in plan.actions.items() if a.action == "drop"}
        for r in plan.fm.records:
            if r.index not in plan.actions and r.concurrent in dropped:
                self._drop(plan, r, "it belongs to a removed record")

    def _unchanged(self, o: Original) -> bool:
        return o.rec.index not in self.plans[o.fm.name].actions

    def _revisits(self) -> None:
        """Kept revisits whose original goes or changes: the first of each payload becomes a
        response carrying it; the others point at that one (a video is stored once again)."""
        first: dict[tuple[str, str], Rec] = {}
        for fm in self.files:
            plan = self.plans[fm.name]
            for r in fm.records:
                if r.type != "revisit" or r.index in plan.actions:
                    continue
                key = (r.refers_uri or r.uri, r.digest or "")
                candidates = self.originals.get(key, [])
                if any(self._unchanged(o) for o in candidates):
                    continue
                o = self.original_of(r) or (candidates[0] if candidates else None)
                if o is None:
                    continue  # never had its original here: nothing this removal changes
                how = self.plans[o.fm.name].actions.get(o.rec.index)
                edited = how is not None and how.action == "edit"
                done = None if edited else first.get((o.rec.id, r.digest or ""))
                if done is not None:
                    plan.actions[r.index] = Action(
                        "repoint", f"its original {o.rec.id} is {'edited' if edited else 'removed'}; "
                        f"{done.id} carries the payload now", None, done.id,
                        refers=(done.uri, done.date))
                    continue
                plan.actions[r.index] = Action(
                    "materialise", f"its original {o.rec.id} in {o.fm.name} is "
                    f"{'edited' if edited else 'removed'}", how.payload if edited and how else None,
                    o.rec.id, redacted=edited,
                    payload_at=None if edited else (o.fm.path, o.rec.offset))
                if not edited:
                    first[(o.rec.id, r.digest or "")] = r


def plan_removal(files: list[FileMap], sel: Selection, posts: Posts, record_id: str) -> list[FilePlan]:
    return Planner(files, sel, posts, record_id).run()


# --------------------------------------------------------------------------- writing


def sha256_digest(data: bytes) -> str:
    return "sha256:" + base64.b32encode(hashlib.sha256(data).digest()).decode("ascii")


_DROP_HEADERS = ("content-length", "warc-block-digest", "warc-payload-digest")


def _rebuilt(rec: Any, act: Action, record_id: str) -> bytes:
    """One new gzip member: the record with its new payload, its id, date and URI kept."""
    if act.payload_at is not None:  # a payload made whole: read when written, one at a time
        _orig, body = read_record(*act.payload_at)
    else:
        body = act.payload or b""
    headers = [(k, v) for k, v in rec.rec_headers.headers if k.lower() not in _DROP_HEADERS]
    rtype = rec.rec_type
    if act.action == "repoint":
        payload_digest = rec.rec_headers.get_header("WARC-Payload-Digest")
        headers = [(k, v) for k, v in headers if k.lower() not in (
            "warc-refers-to", "warc-refers-to-target-uri", "warc-refers-to-date")]
        headers += [("WARC-Refers-To-Target-URI", act.refers[0]), ("WARC-Refers-To-Date", act.refers[1]),
                    ("WARC-Refers-To", act.source),
                    (MATERIALISED_HEADER, f"points at {act.source} ({act.why}), by record {record_id}")]
        http = rec.http_headers
        http.compute_headers_buffer()
        headers += [("WARC-Payload-Digest", payload_digest),
                    ("WARC-Block-Digest", sha256_digest(http.headers_buff))]
        return _write_one(rec, "revisit", headers, b"", http)
    if act.action == "materialise":
        rtype = "response"
        headers = [(k, v) for k, v in headers if k.lower() not in (
            "warc-type", "warc-profile", "warc-refers-to", "warc-refers-to-target-uri",
            "warc-refers-to-date", "warc-truncated")]
        headers.insert(0, ("WARC-Type", "response"))
        headers.append((MATERIALISED_HEADER, f"payload of {act.source} ({act.why}), written here "
                        f"by record {record_id}"))
    if act.redacted:
        headers = [(k, v) for k, v in headers if k.lower() != REDACTED_HEADER.lower()]
        headers.append((REDACTED_HEADER, f"{act.why} (record {record_id})"))
    http = None
    if rec.http_headers is not None and rtype == "response":
        http = StatusAndHeaders(rec.http_headers.statusline, list(rec.http_headers.headers),
                                protocol=rec.http_headers.protocol)
        if http.get_header("Content-Length") is not None:
            http.replace_header("Content-Length", str(len(body)))
        http.compute_headers_buffer()
        headers += [("WARC-Payload-Digest", sha256_digest(body)),
                    ("WARC-Block-Digest", sha256_digest(http.headers_buff + body))]
    else:
        headers.append(("WARC-Block-Digest", sha256_digest(body)))
        if rtype == "resource":
            headers.append(("WARC-Payload-Digest", sha256_digest(body)))
    return _write_one(rec, rtype, headers, body, http)


def _write_one(rec: Any, rtype: str, headers: list[tuple[str, str]], body: bytes,
               http: StatusAndHeaders | None) -> bytes:
    buf = BytesIO()
    writer = WARCWriter(buf, gzip=True, warc_version="1.1")
    warc_headers = StatusAndHeaders("", headers, protocol="WARC/1.1")
    out = writer.create_warc_record(
        rec.rec_headers.get_header("WARC-Target-URI"), rtype, payload=BytesIO(body),
        length=len(body), warc_headers=warc_headers, http_headers=http,
        warc_content_type=rec.rec_headers.get_header("Content-Type") or "",
    )
    writer.write_record(out)
    return buf.getvalue()


def write_file(plan: FilePlan, target: Path, record_id: str) -> Path:
    """The file without what goes: kept records copied byte for byte, the others rebuilt."""
    fm = plan.fm
    with fm.path.open("rb") as src, target.open("xb") as dst:
        for r in fm.records:
            act = plan.actions.get(r.index)
            if act is not None and act.action == "drop":
                continue
            if act is None:
                src.seek(r.offset)
                dst.write(src.read(r.length))
                continue
            rec, _payload = read_record(fm.path, r.offset)
            dst.write(_rebuilt(rec, act, record_id))
        dst.flush()
        os.fsync(dst.fileno())
    return target


def summary(plans: Iterable[FilePlan]) -> dict[str, int]:
    out = {"destroy": 0, "rewrite": 0, "keep": 0}
    for p in plans:
        out[p.action] += 1
    return out

"""`bewaar import PLATFORM FILE --account … --collection …`: a platform's own account export
into a collection, composed from the crawler's WARC writer, signing, the index and the catalog.

What it writes, in one WARC of its own (signed, indexed, read by the catalog like a crawl):
- the export file itself as a `resource` record `urn:export:PLATFORM:SHA256:NAME`;
- each media file the export holds and its posts name, as a `resource` record
  `urn:export-file:SHA256/PATH`;
- the information objects (`source: export`) as the `urn:objects:` metadata record of that
  export, and an `urn:pageinfo:` record whose target kind is `export`.
The catalog joins an export's post with the browser's captures of the same post by its id (for
Meta's exports, which have none, by time and text: formats.py), so the overview and exports show
both, and the gap report counts posts known only from an export. The collection's writer lock
is held throughout, as by a crawl.
"""

from __future__ import annotations

import hashlib
import json
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pydantic import ValidationError

from bewaar.config import ACCOUNT_TYPES, RootConfig, Seed, SeedList, load_root_config
from bewaar.errors import FAILED, OK, InputError
from bewaar.lock import collection_lock
from bewaar.model import (
    OBJECTS_URN,
    PAGEINFO_URN,
    Outcome,
    PageEntry,
    PageInfo,
    PageKind,
    PageTarget,
    Root,
    append_pages,
)
from bewaar.timeutil import iso

PLATFORMS = ("x", "facebook", "instagram", "mastodon", "linkedin", "youtube")
MATCH_SECONDS = 120  # a Meta export's post and a captured post this close in time may be one


@dataclass
class ImportResult:
    crawl_id: str
    account: str
    posts: int
    linked: int  # posts the catalog already knew from a browser capture
    media: int
    relations: int
    warc: str
    lines: list[str]


def import_export(
    root: Root, platform: str, file: Path, handle: str, collection: str,
    base_url: str | None = None, account_type: str = "corporate", config: RootConfig | None = None,
) -> ImportResult:  # fmt: skip
    from bewaar.app.importer.archive import open_export
    from bewaar.app.importer.formats import READERS, Context
    from crawler.job import new_crawl_id
    from crawler.platforms import get_adapter
    from crawler.targets import account_name

    if platform not in PLATFORMS:
        raise InputError(f"cannot import from {platform!r}: use one of {', '.join(PLATFORMS)}")
    if account_type not in ACCOUNT_TYPES:
        raise InputError(f"--account-type {account_type!r}: use one of {', '.join(ACCOUNT_TYPES)}")
    config = config or load_root_config(root.path)
    try:
        seed = Seed(platform=platform, handle=handle, base_url=base_url)  # type: ignore[arg-type]
        seeds = SeedList(collection=collection, seeds=[seed])
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(x) for x in err["loc"] if not isinstance(x, int)) or "--account"
        raise InputError(f"{where}: {err['msg'].removeprefix('Value error, ')}") from None
    coll = root.collection(collection)
    archive = open_export(file, config.crawl.max_resource_size)
    adapter = get_adapter(platform, base_url)
    account = account_name(seeds, seed)
    digest = hashlib.sha256(archive.data or b"".join(archive.files.get(k, b"") for k in sorted(archive.files))).hexdigest()
    crawl_id = new_crawl_id()
    now = iso()
    export_urn = f"urn:export:{platform}:{digest}:{quote(archive.name, safe='')}"
    ctx = Context(
        platform=platform, handle=adapter.normalize_handle(handle), base_url=adapter.base_for(handle),
        captured_at=now, page_url=export_urn, media_prefix=f"urn:export-file:{digest}/",
        post_url=lambda author, pid: adapter.post_url(author, pid), account_type=account_type,
    )  # fmt: skip
    read = READERS[platform](archive, ctx)
    if platform == "mastodon" and read.profile is not None:
        read.profile["handle"] = adapter.account_key(handle)
    with collection_lock(coll.path):
        linked = _link(root, collection, account, read.posts, adapter)
        objects = ([read.profile] if read.profile else []) + read.posts
        result = _write(root, coll, config, crawl_id, account, seed, archive, export_urn, ctx, read, objects)
    return ImportResult(
        crawl_id, account, len(read.posts), linked, len(read.media),
        len((read.profile or {}).get("relations") or []), result[0], result[1] + read.notes,
    )  # fmt: skip


def _link(root: Root, collection: str, account: str, posts: list[dict[str, Any]], adapter: Any) -> int:
    """Posts the catalog knows from a browser capture; Meta's id-less posts take the id of the
    captured post published within MATCH_SECONDS with the same text."""
    from catalog.query import connect_readonly, posts_for_linking

    if not root.catalog_file.exists():
        for p in posts:
            p["url"] = p["url"] or f"{p['page_url']}#{p['id']}"
        return 0
    con = connect_readonly(root.catalog_file)
    try:
        known = posts_for_linking(con, collection, account)
    finally:
        con.close()
    ids = {k["post_id"] for k in known}
    linked = 0
    for p in posts:
        if p["id"].startswith("export-") and p.get("published_at"):
            match = _match(p, known)
            if match is not None:
                p["id"], p["url"] = match["post_id"], match["url"] or p["url"]
        if not p["url"]:
            p["url"] = f"{p['page_url']}#{p['id']}"
        linked += p["id"] in ids
    return linked


def _norm(text: str | None) -> str:
    return " ".join((text or "").split()).lower()


def _match(p: dict[str, Any], known: list[dict[str, Any]]) -> dict[str, Any] | None:
    from bewaar.timeutil import parse_iso

    when = parse_iso(p["published_at"])
    text = _norm(p.get("text"))
    for k in known:
        if not k["published_at"]:  # a page that shows only "7 May": the whole text must agree
            if text and _norm(k["text"]) == text:
                return k
            continue
        close = abs((parse_iso(k["published_at"]) - when).total_seconds()) <= MATCH_SECONDS
        same = not text or not k["text"] or _norm(k["text"])[:80] == text[:80]
        if close and same:
            return k
    return None


def _write(
    root: Root, coll: Any, config: RootConfig, crawl_id: str, account: str, seed: Seed,
    archive: Any, export_urn: str, ctx: Any, read: Any, objects: list[dict[str, Any]],
) -> tuple[str, list[str]]:  # fmt: skip
    """One WARC: the export, its media, the objects and the page info; then sign, index,
    report and catalog, as after a crawl."""
    from bewaar import SOFTWARE
    from catalog.api import update_after_crawl
    from crawler.indexer import add_to_index
    from crawler.warc_writer import Resource, WarcFiles, WarcWriteError, recover, warcinfo_fields
    from signing.api import ensure_key, sign_warc

    coll.ensure()
    lines: list[str] = []
    msg = ensure_key(root.path, config.signing)
    if msg:
        lines.append(msg)
    recover(coll)
    finished: list[Path] = []
    signing_failed: list[str] = []

    def signed(path: Path) -> None:
        finished.append(path)
        try:
            sign_warc(path, root.path, config.signing)
        except Exception as e:  # noqa: BLE001 - the WARC is complete; `bewaar sign` later
            signing_failed.append(f"could not sign {path.name}: {e} (run `bewaar sign` later)")

    info = warcinfo_fields(SOFTWARE, {
        "isPartOf": coll.name, "description": f"Import of a {ctx.platform} account export by bewaar",
        "bewaar-import": f"{ctx.platform} {account} {archive.name}",
    })  # fmt: skip
    files = WarcFiles(coll, crawl_id, info, max_size=config.crawl.warc_max_size, on_finished=signed)
    resources = [Resource(export_urn, "resource", archive.mime if archive.data else "application/json",
                          archive.data or json.dumps(sorted(archive.files)).encode())]  # fmt: skip
    for path, mime in read.media.items():
        resources.append(Resource(ctx.media_urn(path), "resource", mime, archive.files[path]))
    resources.append(Resource(OBJECTS_URN + export_urn, "metadata", "application/json",
                              json.dumps(objects, ensure_ascii=False, indent=1).encode()))  # fmt: skip
    target = PageTarget(seed=0, depth=0, kind=PageKind.EXPORT, account=account, platform=ctx.platform,
                        handle=seed.handle or "", account_type=ctx.account_type)  # fmt: skip
    page = PageInfo(url=export_urn, final_url=export_urn, title=archive.name, captured_at=ctx.captured_at,
                    outcome=Outcome.OK, target=target)  # fmt: skip
    resources.append(Resource(PAGEINFO_URN + export_urn, "metadata", "application/json",
                              json.dumps(page.to_json(), ensure_ascii=False, indent=1).encode()))  # fmt: skip
    try:
        written = files.write_page([], resources)
    except WarcWriteError as e:
        raise InputError(f"could not write the WARC: {e}") from None
    finally:
        files.close()
    entries = add_to_index(coll, finished)
    entry = PageEntry(url=export_urn, ts=ctx.captured_at, id=uuid.uuid4().hex, title=archive.name,
                      crawl_id=crawl_id, seed=True, warc=written.warc, platform=ctx.platform,
                      account=account, kind=str(PageKind.EXPORT))  # fmt: skip
    append_pages(coll.pages_file, [entry])
    with (coll.objects / f"{crawl_id}.jsonl").open("a", encoding="utf-8") as fh:  # as a crawl's
        for o in objects:
            fh.write(json.dumps(o, ensure_ascii=False) + "\n")
    report = coll.path / "crawls" / f"{crawl_id}.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps({
        "crawl_id": crawl_id, "collection": coll.name, "kind": "import", "platform": ctx.platform,
        "account": account, "file": archive.name, "sha256": export_urn.split(":")[3],
        "posts": len(read.posts), "media": len(read.media), "warcs": [p.name for p in finished],
        "index_entries": entries, "failures": [], "messages": signing_failed,
    }, indent=1, ensure_ascii=False), encoding="utf-8")  # fmt: skip
    lines += signing_failed
    lines += update_after_crawl(root.path, coll.name, crawl_id)
    from bewaar.app.access.acl import refresh_acls

    refresh_acls(root)  # restrictions of posts cover what the export adds, as after a crawl
    return written.warc, lines


def cmd_import(args: Any) -> int:
    root = Root(Path(args.root).resolve())
    result = import_export(
        root, args.platform, Path(args.file), args.account, args.collection,
        base_url=args.base_url, account_type=args.account_type,
    )  # fmt: skip
    print(
        f"Imported {result.posts} post(s), {result.media} media file(s) and "
        f"{result.relations} follow relation(s) of {result.account} from {args.file} into "
        f"'{args.collection}' (crawl {result.crawl_id}, {result.warc}); {result.linked} post(s) "
        "were already captured by the browser",
        file=sys.stderr,
    )
    failed = False
    for line in result.lines:
        print(f"  {line}", file=sys.stderr)
        failed = failed or line.startswith(("could not sign", "catalog not updated"))
    return FAILED if failed else OK


def register(sub: Any) -> None:
    p = sub.add_parser(
        "import", help="read a platform's own account export into a collection",
        description="Read an account export (X archive zip, Meta's JSON for Facebook and "
        "Instagram, Mastodon's archive, LinkedIn's CSV export, YouTube Takeout) into a "
        "collection: the file and its media as WARC records, its posts as information objects "
        "(source: export), joined with the browser's captures of the same posts.",
    )  # fmt: skip
    p.add_argument("platform", choices=PLATFORMS, help="whose export it is")
    p.add_argument("file", help="the export: a zip, a tar.gz, a folder, or one JSON/CSV file")
    p.add_argument("--account", required=True, help="the account, as a seed list names it (e.g. MinBZK)")
    p.add_argument("--collection", required=True, help="the collection to add it to")
    p.add_argument("--base-url", help="the platform's site, as for the account's seed (Mastodon: its server)")
    p.add_argument("--account-type", default="corporate", help="corporate, project, personal or hybrid")
    p.add_argument("--root", default=".", help="root directory holding collections/ (default: .)")
    p.set_defaults(func=cmd_import)

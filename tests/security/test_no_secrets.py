"""Secrets never enter a WARC: a crawl with an imported login state whose cookies, local
storage and issued cookies carry unique secrets, on a site that sends them back in every way a
platform does (Cookie, Set-Cookie, Authorization, X-CSRF-Token, a form field, a JSON body, a
URL, echoed in HTML and JSON). Then every byte of the collection — WARCs inflated, index,
pages, objects, crawl report, catalog, the WACZ from `bewaar package` with its members
inflated — holds none of them, the records still verify (digests of the redacted bytes) and
the page still replays, logged in as it was captured."""

from __future__ import annotations

import gzip
import io
import json
import re
import secrets
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from warcio.archiveiterator import ArchiveIterator

from bewaar.sites.httpserver import FixtureServer, Request, Response
from crawler.redact import MARKER
from tests.conftest import Replay, make_root, run_bewaar, write_seeds

SESSION = "s3ss10n-" + secrets.token_hex(12)
CSRF = "csrf7" + secrets.token_urlsafe(12).replace("-", "x").replace("_", "y")
TOKEN = "eyJ0b2tlbi" + secrets.token_hex(10) + "/+="  # a bearer token in local storage
ISSUED = "1ssued-" + secrets.token_hex(12)  # a cookie the site sets during the crawl
ALL = {"session": SESSION, "csrf": CSRF, "token": TOKEN, "issued": ISSUED}


def _cookie(req: Request, name: str) -> str | None:
    m = re.search(rf"(?:^|;\s*){name}=([^;]+)", req.headers.get("cookie", ""))
    return m.group(1) if m else None


@pytest.fixture(scope="module")
def site() -> Iterator[FixtureServer]:
    srv = FixtureServer()

    @srv.route("GET", r"/feed")
    def feed(req: Request, m: re.Match[str]) -> Response:
        if _cookie(req, "session") != SESSION:
            return Response.html("<h1>Log in to see this</h1>")
        page = f"""<!doctype html><html><head><meta name="csrf-token" content="{CSRF}">
<title>Feed of archivaris</title></head><body>
<h1>Logged in as archivaris</h1>
<p id="me">?</p><p id="liked">?</p>
<a href="/feed/account?sid={SESSION}">account</a> <a href="/feed/post/1">a post</a>
<script>
const csrf = (document.cookie.match(/csrftoken=([^;]+)/) || [])[1];
const token = localStorage.getItem("access_token");
fetch("/api/me", {{headers: {{"Authorization": "Bearer " + token}}}})
  .then(r => r.json()).then(j => document.getElementById("me").textContent = "me: " + j.name);
fetch("/api/like", {{method: "POST", headers: {{"X-CSRF-Token": csrf,
  "Content-Type": "application/x-www-form-urlencoded"}}, body: "csrf_token=" + encodeURIComponent(csrf) + "&post=1"}})
  .then(r => r.json()).then(j => document.getElementById("liked").textContent = "liked: " + j.ok);
fetch("/api/search", {{method: "POST", headers: {{"Content-Type": "application/json"}},
  body: JSON.stringify({{q: "woo", auth: token}})}});
</script></body></html>"""
        return Response(200, page.encode(), [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Set-Cookie", f"refresh={ISSUED}; Path=/; HttpOnly; SameSite=Lax"),
            ("X-CSRF-Token", CSRF),
        ])  # fmt: skip

    @srv.route("GET", r"/api/me")
    def me(req: Request, m: re.Match[str]) -> Response:
        return Response.json({"name": "archivaris", "session": _cookie(req, "session"),
                              "echo": req.headers.get("authorization")})  # fmt: skip

    @srv.route("POST", r"/api/(like|search)")
    def api(req: Request, m: re.Match[str]) -> Response:
        return Response.json({"ok": True, "seen": req.body.decode("utf-8", "replace")})

    @srv.route("GET", r"/feed/(account|post/1)")
    def other(req: Request, m: re.Match[str]) -> Response:
        return Response.html(f"<h1>Other page</h1><p>refresh cookie: {_cookie(req, 'refresh')}</p>"
                             f"<p>asked: {req.path}</p>")  # fmt: skip

    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def _forms(value: str) -> list[bytes]:
    return [value.encode(), quote(value, safe="").encode()]


def _all_bytes(path: Path) -> Iterator[tuple[str, bytes]]:
    """A file's bytes, gzip members inflated, ZIP (WACZ) members listed and inflated too."""
    data = path.read_bytes()
    yield str(path), data
    yield from _inner(str(path), data)


def _inner(name: str, data: bytes) -> Iterator[tuple[str, bytes]]:
    if data[:2] == b"\x1f\x8b":
        yield name + " (inflated)", gzip.decompress(data)
    elif data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            for member in z.namelist():
                inner = z.read(member)
                yield f"{name}!{member}", inner
                yield from _inner(f"{name}!{member}", inner)


@pytest.fixture(scope="module")
def crawled(site: FixtureServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("no-secrets")
    root = make_root(tmp / "root")
    state = tmp / "seeds" / "state.json"
    state.parent.mkdir()
    state.write_text(json.dumps({
        "cookies": [
            {"name": "session", "value": SESSION, "domain": "127.0.0.1", "path": "/", "httpOnly": True},
            {"name": "csrftoken", "value": CSRF, "domain": "127.0.0.1", "path": "/"},
        ],
        "origins": [{"origin": site.base_url, "localStorage": [{"name": "access_token", "value": TOKEN}]}],
    }))  # fmt: skip
    state.chmod(0o600)
    seeds = write_seeds(tmp / "seeds" / "seeds.yaml", {
        "collection": "c",
        "seeds": [{"url": site.base_url + "/feed", "depth": 1, "login_state": "state.json"}],
    })  # fmt: skip
    crawl = run_bewaar("crawl", str(seeds), "--root", str(root))
    assert crawl.returncode == 0, crawl.stderr
    wacz = tmp / "out" / "c.wacz"
    wacz.parent.mkdir()
    package = run_bewaar("package", "c", "-o", str(wacz), "--root", str(root))
    assert package.returncode == 0, package.stderr
    return {"root": root, "wacz": wacz, "stderr": crawl.stderr + package.stderr + package.stdout}


def test_no_secret_in_any_byte(crawled: dict[str, Any]) -> None:
    root: Path = crawled["root"]
    files = [p for p in (root / "collections").rglob("*") if p.is_file()]
    files += [p for p in root.glob("catalog.sqlite*") if p.is_file()]
    files.append(crawled["wacz"])
    assert any(p.name.endswith(".warc.gz") for p in files) and (root / "catalog.sqlite").exists()
    seen = 0
    for path in files:
        for name, data in _all_bytes(path):
            seen += len(data)
            for what, value in ALL.items():
                for form in _forms(value):
                    assert form not in data, f"the {what} secret is in {name}"
    assert seen > 100_000
    for what, value in ALL.items():
        assert value not in crawled["stderr"], what


def _records(root: Path) -> list[Any]:
    out = []
    for warc in sorted((root / "collections/c/archive").glob("*.warc.gz")):
        with warc.open("rb") as fh:
            for rec in ArchiveIterator(fh):
                http = rec.http_headers.headers if rec.http_headers else []
                out.append((rec.rec_type, rec.rec_headers, http, rec.content_stream().read()))
    return out


def test_redaction_keeps_names_and_says_so(crawled: dict[str, Any]) -> None:
    records = _records(crawled["root"])
    info = next(r for r in records if r[0] == "warcinfo")
    assert b"bewaar-redaction: login-state sessions" in info[3]
    feed_req = next(r for r in records if r[0] == "request" and r[1]["WARC-Target-URI"].endswith("/feed"))
    cookie = dict(feed_req[2])["Cookie"]
    assert cookie == f"session={MARKER}; csrftoken={MARKER}", cookie
    assert "request Cookie (session, csrftoken)" in feed_req[1]["WARC-Bewaar-Redacted"]
    feed_resp = next(r for r in records if r[0] == "response" and r[1]["WARC-Target-URI"].endswith("/feed"))
    headers = dict(feed_resp[2])
    assert headers["Set-Cookie"] == f"refresh={MARKER}; Path=/; HttpOnly; SameSite=Lax"
    assert headers["X-CSRF-Token"] == MARKER
    assert b"Logged in as archivaris" in feed_resp[3]  # the session was really used
    like = next(r for r in records if r[0] == "request" and r[1]["WARC-Target-URI"].endswith("/api/like"))
    assert dict(like[2])["X-CSRF-Token"] == MARKER and like[3] == f"csrf_token={MARKER}&post=1".encode()
    me = next(r for r in records if r[0] == "request" and r[1]["WARC-Target-URI"].endswith("/api/me"))
    assert dict(me[2])["Authorization"] == f"Bearer {MARKER}"
    account = [r for r in records if r[0] == "response" and "/feed/account?sid=" in r[1]["WARC-Target-URI"]]
    assert account and all(r[1]["WARC-Target-URI"].endswith(f"sid={MARKER}") for r in account)


def test_redacted_records_verify(crawled: dict[str, Any]) -> None:
    """The block and payload digests are those of the stored (redacted) bytes."""
    root = crawled["root"]
    for target in (root / "collections/c", crawled["wacz"]):
        proc = run_bewaar("verify", "--root", str(root), str(target), timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_redacted_page_still_replays(crawled: dict[str, Any], site: FixtureServer, browser: Any) -> None:
    with Replay(crawled["root"]) as rp:
        page = browser.new_page()
        try:
            page.goto(f"{rp.url}/c/{site.base_url}/feed", wait_until="load")
            frame = page.frame_locator("#replay_iframe")
            frame.locator("h1").wait_for(timeout=30000)
            assert frame.locator("h1").inner_text() == "Logged in as archivaris"
            frame.locator("#me").filter(has_text="me: archivaris").wait_for(timeout=30000)
        finally:
            page.close()

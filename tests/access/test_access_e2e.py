"""Who may see what, through the real `bewaar replay` (pywb with bewaar's ACLs and gate, the
overview with sign-in) in real Chromium.

The archive: a Mastodon account with posts, citizens' replies and one restricted post (its
page, its API records, its DOM snapshot and objects, and its video, stored as revisits of an
identical file). A reader signs in through the page and sees the posts but not the restricted
one — under no replay URL form, not in the CDX API, not by a fuzzy match or a revisit, not in
the overview's search, counts or post pages — and sees the citizens' replies under a
pseudonym; an archivist sees all of it; nobody who is not signed in gets anything but the
sign-in page; every view is in the audit trail.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bewaar.app.access.store import AccessStore, User
from bewaar.model import Root
from tests.access.conftest import (
    PASSWORD,
    RESTRICTED_ID,
    THREAD_ID,
    Archive,
    fetch,
    login,
    session_cookie,
)
from tests.conftest import Replay, run_bewaar

pytestmark = pytest.mark.slow
POST_TEXT = "Jubileum"  # in the restricted post's text
REPLY_TEXT = "Heel goed initiatief"  # a citizen's reply
CITIZEN = "burger_anna"
MIJN = "MijnOverheid"  # in the government's post that citizens replied to


@pytest.fixture(scope="module")
def served(archive: Archive) -> Iterator[Replay]:
    with Replay(archive.root) as rp:
        yield rp


@pytest.fixture(scope="module")
def cookies(served: Replay) -> dict[str, str]:
    return {name: session_cookie(login(served.overview, name)) for name in ("anna", "arch", "elsewhere")}


def forms(archive: Archive) -> list[tuple[str, str]]:
    """Every way to ask replay for the restricted post's captures: (label, path)."""
    page = archive.url(f"/@minbzk/{RESTRICTED_ID}")
    api = archive.url(f"/api/v1/statuses/{RESTRICTED_ID}")
    video = archive.url(f"/system/media_attachments/files/original/{RESTRICTED_ID}-gifv.mp4")
    ts = archive.stamp(page)
    return [
        ("frame /TS/", f"/gov/{ts}/{page}"),
        ("mp_", f"/gov/{ts}mp_/{page}"),
        ("id_", f"/gov/{ts}id_/{page}"),
        ("if_", f"/gov/{ts}if_/{page}"),
        ("latest, no timestamp", f"/gov/mp_/{page}"),
        ("another timestamp (closest capture)", f"/gov/2030id_/{page}"),
        ("embedded API record", f"/gov/{ts}id_/{api}"),
        ("embedded API record as js_", f"/gov/{ts}js_/{api}"),
        ("fuzzy match (cache-buster)", f"/gov/{ts}id_/{api}?_=1717171717171"),
        ("embedded media (a revisit)", f"/gov/{ts}id_/{video}"),
        ("media as im_", f"/gov/{ts}im_/{video}"),
        ("DOM snapshot", f"/gov/{ts}id_/urn:dom:{page}"),
        ("objects record", f"/gov/{ts}id_/urn:objects:{page}"),
        ("screenshot", f"/gov/{ts}id_/urn:screenshot:{page}"),
        ("timemap", f"/gov/timemap/link/{page}"),
        ("calendar query", f"/gov/*/{page}"),
    ]


def test_the_restricted_media_is_served_through_a_revisit(archive: Archive) -> None:
    """The revisit path is real: the video is stored once and then as revisit records."""
    video = archive.url(f"/system/media_attachments/files/original/{RESTRICTED_ID}-gifv.mp4")
    assert any(e["mime"] == "warc/revisit" for e in archive.entries(video))


def test_reader_gets_none_of_the_restricted_post_under_any_url_form(
    archive: Archive, served: Replay, cookies: dict[str, str]
) -> None:
    for label, path in forms(archive):
        r = fetch(served.url + path, cookie=cookies["anna"])
        assert POST_TEXT not in r.text, label
        if label in ("frame /TS/", "calendar query"):
            continue  # pywb's own frame and calendar pages: the content is asked for below them
        assert r.status in (404, 451), f"{label}: {r.status}"
        assert b"ftyp" not in r.body[:64], label  # no MP4 bytes either
    # the same URLs give the archivist the content (so the reader's 404s are the ACL's doing)
    for label, path in forms(archive):
        r = fetch(served.url + path, cookie=cookies["arch"])
        if label in ("frame /TS/", "calendar query", "timemap"):
            continue  # pywb asks its index for these without the user: the reader's view
        assert r.status == 200, f"archivist, {label}: {r.status}"
        if "API" in label or "objects" in label or label in ("id_", "fuzzy match (cache-buster)"):
            assert POST_TEXT in r.text or "application.js" in r.text, label


def test_cdx_api_lists_nothing_restricted_to_a_reader(
    archive: Archive, served: Replay, cookies: dict[str, str]
) -> None:
    page = archive.url(f"/@minbzk/{RESTRICTED_ID}")
    exact = fetch(f"{served.url}/gov/cdx?url={page}&output=json", cookie=cookies["anna"])
    assert exact.status == 200 and exact.text.strip() == ""
    everything = f"{served.url}/gov/cdx?url={archive.base}/*&output=json"
    reader = fetch(everything, cookie=cookies["anna"]).text.splitlines()
    archivist = fetch(everything, cookie=cookies["arch"]).text.splitlines()
    assert reader and len(reader) < len(archivist)
    assert not [line for line in reader if RESTRICTED_ID in line or CITIZEN in line]
    assert [line for line in archivist if RESTRICTED_ID in line]
    urls = {json.loads(line)["url"] for line in reader}
    assert archive.url(f"/api/v1/statuses/{THREAD_ID}/context") not in urls  # replies' record
    assert archive.url(f"/@minbzk/{THREAD_ID}") in urls  # the government's post itself stays


def test_replies_by_citizens_are_blocked_in_replay(
    archive: Archive, served: Replay, cookies: dict[str, str]
) -> None:
    ts = archive.stamp(archive.url(f"/@minbzk/{THREAD_ID}"))
    context = f"{served.url}/gov/{ts}id_/{archive.url(f'/api/v1/statuses/{THREAD_ID}/context')}"
    avatar = f"{served.url}/gov/{ts}id_/{archive.url(f'/system/accounts/avatars/{CITIZEN}.png')}"
    post = f"{served.url}/gov/{ts}id_/{archive.url(f'/api/v1/statuses/{THREAD_ID}')}"
    assert fetch(context, cookie=cookies["anna"]).status == 404
    assert fetch(avatar, cookie=cookies["anna"]).status == 404
    assert "MijnOverheid" in fetch(post, cookie=cookies["anna"]).text  # the government's post
    r = fetch(context, cookie=cookies["arch"])
    assert r.status == 200 and REPLY_TEXT in r.text and CITIZEN in r.text


def test_nobody_signed_in_gets_only_the_sign_in_page(archive: Archive, served: Replay) -> None:
    page = archive.url(f"/@minbzk/{THREAD_ID}")
    for path in (f"/gov/mp_/{page}", f"/gov/cdx?url={page}", "/gov/", "/"):
        r = fetch(served.url + path, headers={"Sec-Fetch-Dest": "document"})
        assert r.status == 302 and "/_login?next=" in r.headers["location"], path
        r = fetch(served.url + path, headers={"Sec-Fetch-Dest": "empty"})
        assert r.status == 401 and MIJN not in r.text, path
    r = fetch(served.overview + "/")
    assert r.status == 302 and r.headers["location"].startswith("/_login")
    # a forged session and a forged ACL user header are nothing
    r = fetch(f"{served.url}/gov/mp_/{page}", cookie="bewaar_session=forged",
              headers={"X-Pywb-ACL-User": "archivist", "Sec-Fetch-Dest": "empty"})  # fmt: skip
    assert r.status == 401



def test_a_client_cannot_set_pywbs_acl_user(
    archive: Archive, served: Replay, cookies: dict[str, str]
) -> None:
    """Even a reader who learnt the ACL secret cannot claim a role: the gate drops the header."""
    secret = (archive.root / ".bewaar/replay/acl-secret").read_text().strip()
    page = archive.url(f"/@minbzk/{RESTRICTED_ID}")
    r = fetch(f"{served.url}/gov/mp_/{page}", cookie=cookies["anna"],
              headers={"X-Pywb-ACL-User": f"archivist.{secret}"})  # fmt: skip
    assert r.status == 404 and POST_TEXT not in r.text


def test_users_are_kept_to_their_collections(archive: Archive, served: Replay, cookies: dict[str, str]) -> None:
    page = archive.url(f"/@minbzk/{THREAD_ID}")
    assert fetch(f"{served.url}/gov/mp_/{page}", cookie=cookies["elsewhere"]).status == 403
    assert fetch(f"{served.url}/gov/cdx?url={page}", cookie=cookies["elsewhere"]).status == 403
    r = fetch(served.overview + "/", cookie=cookies["elsewhere"])
    assert r.status == 200 and "minbzk" not in r.text and MIJN not in r.text


def test_cookie_is_httponly_strict_and_secure_behind_a_tls_proxy(served: Replay) -> None:
    plain = login(served.overview, "anna").cookies[0]
    assert "HttpOnly" in plain and "SameSite=Strict" in plain and "Secure" not in plain
    # X-Forwarded-Proto counts only from the trusted proxy (127.0.0.2 in this root)
    forged = login(served.overview, "anna", headers={"X-Forwarded-Proto": "https"}).cookies[0]
    assert "Secure" not in forged
    proxied = login(served.overview, "anna", source="127.0.0.2", headers={"X-Forwarded-Proto": "https"})
    assert "; Secure" in proxied.cookies[0]


def test_sign_in_from_a_replayed_page_is_refused(served: Replay) -> None:
    """The replay origin is the same *site* as the overview: its pages must not post here."""
    r = login(served.overview, "anna", headers={"Origin": served.url, "Sec-Fetch-Site": "same-site"})
    assert r.status == 403 and not r.cookies


def test_sessions_expire_and_logout_ends_them(archive: Archive, served: Replay) -> None:
    page = archive.url(f"/@minbzk/{THREAD_ID}")
    with AccessStore.open(Root(archive.root)) as store:
        short = store.new_session(User("anna", "reader"), hours=1.5 / 3600, address="test")
    url = f"{served.url}/gov/cdx?url={page}"
    assert fetch(url, cookie=f"bewaar_session={short}").status == 200
    time.sleep(2)
    gone = fetch(url, cookie=f"bewaar_session={short}")
    assert gone.status == 302 and "/_login?next=" in gone.headers["location"]
    cookie = session_cookie(login(served.overview, "anna"))
    assert fetch(url, cookie=cookie).status == 200
    out = fetch(served.overview.replace("/_overview", "") + "/_logout", "POST", cookie=cookie)
    assert out.status == 303 and "Max-Age=0" in out.cookies[0]
    assert fetch(url, cookie=cookie).status == 302


def test_failed_logins_are_rate_limited(served: Replay) -> None:
    away = "127.0.0.3"  # failures from here lock out this address, not the tests' own
    for _ in range(5):
        assert login(served.overview, "arch2", password="wrong password!", source=away).status == 401
    locked = login(served.overview, "arch2", password="wrong password!", source=away)
    assert locked.status == 429 and "Too many" in locked.text
    # the right password of another account from that address: refused, unchecked
    assert login(served.overview, "arch", source=away).status == 429
    assert login(served.overview, "arch").status == 303  # from elsewhere it still works


def _overview_texts(page: Any) -> list[str]:
    return [li.inner_text() for li in page.locator("li.post").all()]


def test_reader_signs_in_through_the_page_and_sees_what_readers_may(
    archive: Archive, served: Replay, chromium_browser: Any
) -> None:
    ctx = chromium_browser.new_context()
    try:
        page = ctx.new_page()
        page.goto(served.overview + "/", wait_until="load")
        assert "/_login" in page.url  # not signed in: the sign-in page
        page.fill("#name", "anna")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(re.compile(r"/_overview/"))
        texts = _overview_texts(page)
        assert len(texts) == 5 and not [t for t in texts if POST_TEXT in t]
        assert re.search(r"\b5 posts?\b", page.inner_text("main"))  # the counts agree
        page.goto(served.overview + f"/?q={POST_TEXT}", wait_until="load")
        assert _overview_texts(page) == []
        page.goto(served.overview + "/?q=Groningen&replies=1", wait_until="load")
        (hit,) = _overview_texts(page)  # a citizen's reply is found, under a pseudonym
        assert "reply by person 2" in hit and "jan_devries" not in hit.lower()
        page.goto(served.overview + "/", wait_until="load")
        thread = page.locator("li.post", has_text="MijnOverheid").first
        thread.locator("a", has_text="Details").click()
        page.wait_for_load_state("load")
        body = page.inner_text("main")
        assert REPLY_TEXT in body and CITIZEN not in body
        assert re.findall(r"reply by person (\d)", body) == ["1", "2", "3", "4", "5"]
        # replay of the restricted post, framed, as a reader's browser shows it
        path = forms(archive)[0][1]
        page.goto(served.url + path, wait_until="load")
        page.wait_for_timeout(1500)
        assert all(POST_TEXT not in f.content() for f in page.frames)
        # and the thread, whose replies are blocked
        thread_page = archive.url(f"/@minbzk/{THREAD_ID}")
        page.goto(f"{served.url}/gov/{archive.stamp(thread_page)}/{thread_page}", wait_until="load")
        page.wait_for_timeout(1500)
        assert all(REPLY_TEXT not in f.content() for f in page.frames)
    finally:
        ctx.close()


def test_archivist_sees_everything(archive: Archive, served: Replay, chromium_browser: Any) -> None:
    ctx = chromium_browser.new_context()
    try:
        page = ctx.new_page()
        thread_page = archive.url(f"/@minbzk/{THREAD_ID}")
        target = f"{served.url}/gov/{archive.stamp(thread_page)}/{thread_page}"
        page.goto(target, wait_until="load")
        assert "/_login" in page.url  # replay sends to the sign-in page, and back after it
        page.fill("#name", "arch")
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state("load")
        page.wait_for_url(target)
        for _ in range(100):
            if any(REPLY_TEXT in f.content() for f in page.frames):
                break
            page.wait_for_timeout(100)
        assert any(REPLY_TEXT in f.content() for f in page.frames)
        page.goto(served.overview + f"/?q={POST_TEXT}", wait_until="load")
        (hit,) = _overview_texts(page)
        assert "restricted" in hit
        assert re.search(r"\b6 posts?\b", page.inner_text("main"))
    finally:
        ctx.close()


def test_every_view_is_in_the_audit_trail_and_an_edit_is_named(
    archive: Archive, served: Replay, tmp_path: Path,
    cookies: dict[str, str],
) -> None:  # fmt: skip
    # the views of the tests above (this module runs in file order), as bewaar shows them
    time.sleep(0.5)  # the last events travel through pywb's output
    proc = run_bewaar("audit", "show", "--user", "anna", "--json", "--root", str(archive.root))
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(x) for x in proc.stdout.splitlines()]
    actions = {(e["action"], e["outcome"]) for e in lines}
    assert ("login", "ok") in actions and ("search", "ok") in actions
    views = [e for e in lines if e["action"] == "view" and e.get("where") == "replay"]
    assert any(RESTRICTED_ID in e["target"] and e["outcome"] == "404" for e in views)
    assert any(e["action"] == "search" and "/cdx" in e["target"] for e in lines)
    assert any(e["action"] == "view" and e.get("where") == "overview" for e in lines)
    assert all(e["role"] == "reader" for e in lines)
    fails = run_bewaar("audit", "show", "--action", "login", "--json", "--root", str(archive.root))
    assert any(json.loads(x)["outcome"] in ("failed", "locked") for x in fails.stdout.splitlines())
    assert run_bewaar("audit", "verify", "--root", str(archive.root)).returncode == 0
    # edit one line of a copy: verify fails and names it
    copy = tmp_path / "root"
    shutil.copytree(archive.root / "access", copy / "access")
    (audit_file,) = sorted((copy / "access/audit").glob("audit-*.jsonl"))
    text = audit_file.read_text(encoding="utf-8").splitlines(keepends=True)
    n = next(i for i, line in enumerate(text) if '"user": "anna"' in line and '"view"' in line)
    edited = re.sub(r'"outcome": "[^"]*"', '"outcome": "never seen"', text[n])
    assert edited != text[n]
    text[n] = edited
    audit_file.write_text("".join(text), encoding="utf-8")
    proc = run_bewaar("audit", "verify", "--root", str(copy))
    assert proc.returncode == 1
    assert f"{audit_file.name}:{n + 1}:" in proc.stderr and "changed" in proc.stderr

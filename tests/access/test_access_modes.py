"""The other ways in and out: a trusted reverse proxy's header (and a forged one), the
restriction kinds (exclude, embargo), `bewaar users` / `restrict` / `audit` on the command
line, and refusing to serve the archive openly beyond loopback."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bewaar.app.access import is_loopback
from bewaar.app.access.policy import replay_rules
from bewaar.model import Root
from bewaar.timeutil import iso, now
from tests.access.conftest import RESTRICTED_ID, THREAD_ID, Archive, copy_root, fetch
from tests.conftest import BIN, Replay, make_root, run_bewaar

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def proxied(archive: Archive, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replay]:
    """The archive behind a reverse proxy at 127.0.0.2 that names the user in X-Remote-User;
    unknown users are readers."""
    root = copy_root(archive, tmp_path_factory.mktemp("proxied") / "root", {
        "mode": "header", "header": "X-Remote-User", "trusted_proxies": ["127.0.0.2/32"],
        "default_role": "reader",
    })  # fmt: skip
    with Replay(root) as rp:
        yield rp


def test_header_mode_takes_the_user_from_the_trusted_proxy_only(archive: Archive, proxied: Replay) -> None:
    page = archive.url(f"/@minbzk/{RESTRICTED_ID}")
    url = f"{proxied.url}/gov/{archive.stamp(page)}id_/{archive.url(f'/api/v1/statuses/{RESTRICTED_ID}')}"
    # through the proxy: the archivist sees the restricted post, a reader does not
    r = fetch(url, headers={"X-Remote-User": "arch"}, source="127.0.0.2")
    assert r.status == 200 and "Jubileum" in r.text
    assert fetch(url, headers={"X-Remote-User": "anna"}, source="127.0.0.2").status == 404
    assert fetch(url, headers={"X-Remote-User": "someone-new"}, source="127.0.0.2").status == 404
    # the same header from anywhere else is ignored: no user at all
    forged = fetch(url, headers={"X-Remote-User": "arch"})
    assert forged.status == 401 and "Jubileum" not in forged.text
    assert fetch(url, source="127.0.0.2").status == 401  # the proxy named nobody
    # the overview likewise, and it has no password form in this mode
    assert fetch(proxied.overview + "/", headers={"X-Remote-User": "arch"}).status == 401
    ok = fetch(proxied.overview + "/?q=Jubileum", headers={"X-Remote-User": "arch"}, source="127.0.0.2")
    assert ok.status == 200 and 'class="post' in ok.text
    assert fetch(proxied.overview.replace("/_overview", "/_login")).status == 404


def test_header_mode_views_are_audited_with_the_proxy_user(archive: Archive, proxied: Replay) -> None:
    thread = archive.url(f"/@minbzk/{THREAD_ID}")
    fetch(f"{proxied.url}/gov/mp_/{thread}", headers={"X-Remote-User": "arch",
          "Sec-Fetch-Dest": "document"}, source="127.0.0.2")  # fmt: skip
    root = Path(proxied.root)
    time.sleep(0.5)  # the event travels through pywb's output
    proc = run_bewaar("audit", "show", "--user", "arch", "--action", "view", "--json", "--root", str(root))
    seen = [json.loads(x) for x in proc.stdout.splitlines()]
    assert any(e["target"].endswith(thread) and e["role"] == "archivist" and e["outcome"] == "200" for e in seen)


def test_exclude_and_embargo(archive: Archive, tmp_path: Path) -> None:
    """exclude: nobody replays it, archivists still find it in the catalog; an embargo holds
    until its date and is gone after it (the rules are computed for a time)."""
    root = copy_root(archive, tmp_path / "root", {})
    thread = archive.url(f"/@minbzk/{THREAD_ID}")
    assert run_bewaar("restrict", "add", "--url", thread, "--kind", "exclude", "--reason", "court order",
                      "--root", str(root)).returncode == 0  # fmt: skip
    until = (now() + timedelta(days=30)).date().isoformat()
    account = "mastodon:minbzk@social.example"
    proc = run_bewaar("restrict", "add", "--account", account, "--from", "2024-05-03", "--to", "2024-05-03",
                      "--until", until, "--reason", "embargo", "--root", str(root))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rules = replay_rules(Root(root))["gov"]
    key = next(k for k in rules if k.endswith(f"/@minbzk/{THREAD_ID}###"))
    assert rules[key].roles == frozenset()  # exclude: not even an admin
    video_post = next(k for k in rules if k.endswith("/@minbzk/1790000000000000002###"))
    assert rules[video_post].roles == {"archivist", "admin"}  # the embargo (published 2024-05-03)
    later = iso(now() + timedelta(days=31))
    assert not [k for k in replay_rules(Root(root), at=later)["gov"] if "1790000000000000002" in k]
    listed = run_bewaar("restrict", "list", "--json", "--root", str(root))
    kinds = {r["kind"] for r in json.loads(listed.stdout)}
    assert {"exclude", "embargo", "block"} <= kinds


def test_restrictions_keep_their_history(archive: Archive, tmp_path: Path) -> None:
    root = copy_root(archive, tmp_path / "root", {})
    proc = run_bewaar("restrict", "add", "--collection", "gov", "--reason", "whole collection",
                      "--by", "jan", "--root", str(root))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rid = json.loads(run_bewaar("restrict", "list", "--json", "--root", str(root)).stdout)[-1]["id"]
    assert run_bewaar("restrict", "remove", str(rid), "--root", str(root)).returncode == 2  # no reason
    proc = run_bewaar("restrict", "remove", str(rid), "--reason", "released", "--by", "piet", "--root", str(root))
    assert proc.returncode == 0, proc.stderr
    assert rid not in [r["id"] for r in json.loads(run_bewaar("restrict", "list", "--json", "--root", str(root)).stdout)]
    every = json.loads(run_bewaar("restrict", "list", "--all", "--json", "--root", str(root)).stdout)
    lifted = next(r for r in every if r["id"] == rid)
    assert lifted["set_by"] == "cli:jan" and lifted["lifted_by"] == "cli:piet"
    assert lifted["lift_reason"] == "released" and lifted["reason"] == "whole collection"
    trail = run_bewaar("audit", "show", "--action", "restrict", "--json", "--root", str(root)).stdout
    actions = [json.loads(x)["action"] for x in trail.splitlines()]
    assert actions[-2:] == ["restrict.add", "restrict.lift"]


def test_restrict_rejects_bad_input(archive: Archive, tmp_path: Path) -> None:
    root = str(archive.root)
    cases = [
        ("restrict", "add", "--url", "http://x/", "--root", root),  # no reason
        ("restrict", "add", "--reason", "r", "--root", root),  # no target
        ("restrict", "add", "--post", "http://x/1", "--from", "2024-01-01", "--reason", "r", "--root", root),
        ("restrict", "add", "--url", "http://x/", "--until", "2001-01-01", "--reason", "r", "--root", root),
        ("restrict", "add", "--url", "http://x/", "--kind", "embargo", "--reason", "r", "--root", root),
        ("restrict", "add", "--collection", "nope", "--reason", "r", "--root", root),
        ("restrict", "remove", "999", "--reason", "r", "--root", root),
        ("users", "add", "x", "--root", root),  # no role
    ]
    for args in cases:
        proc = run_bewaar(*args)
        assert proc.returncode == 2, args
        assert proc.stderr.startswith("bewaar: error: ") and "Traceback" not in proc.stderr, args


def test_users_cli_and_no_password_in_clear(tmp_path: Path) -> None:
    root = make_root(tmp_path / "root")
    secret = "a very secret passphrase"

    def users(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(BIN), "users", *args, "--root", str(root)], input=stdin,
                              capture_output=True, text=True, timeout=120)  # fmt: skip

    assert users("add", "Beheer", "--role", "admin", stdin=secret + "\n").returncode == 0
    assert users("add", "beheer", "--role", "reader", stdin=secret + "\n").returncode == 2  # exists
    assert users("add", "kort", "--role", "reader", stdin="short\n").returncode == 2
    assert users("add", "sso", "--role", "archivist", "--collections", "gov", "--no-password").returncode == 0
    listed = json.loads(users("list", "--json").stdout)
    assert [(u["name"], u["role"], u["collections"], u["has_password"]) for u in listed] == [
        ("beheer", "admin", "", 1), ("sso", "archivist", "gov", 0)]  # fmt: skip
    raw = b"".join(p.read_bytes() for p in (root / "access").glob("access.sqlite*"))
    assert secret.encode() not in raw
    with sqlite3.connect(root / "access/access.sqlite") as con:
        (hashed,) = con.execute("SELECT password FROM users WHERE name = 'beheer'").fetchone()
    assert hashed.startswith("$argon2id$")
    assert users("passwd", "beheer", stdin="another long passphrase\n").returncode == 0
    assert users("remove", "sso").returncode == 0 and users("remove", "sso").returncode == 2
    assert (root / "access").stat().st_mode & 0o077 == 0  # private to the owner
    trail = run_bewaar("audit", "show", "--json", "--root", str(root)).stdout
    assert [json.loads(x)["action"] for x in trail.splitlines()] == [
        "user.add", "user.add", "user.passwd", "user.remove"]  # fmt: skip


def test_replay_beyond_loopback_needs_sign_in_or_public(archive: Archive, tmp_path: Path) -> None:
    """Refused before anything listens (no traffic leaves 127.0.0.1 in this test)."""
    root = tmp_path / "open"
    root.mkdir()
    shutil.copytree(archive.root / "collections", root / "collections")
    proc = run_bewaar("replay", "--root", str(root), "--host", "0.0.0.0", "--port", "1", timeout=60)
    assert proc.returncode == 2
    assert "--public" in proc.stderr and "bewaar users add" in proc.stderr
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.10")


def test_no_users_on_loopback_works_as_before(archive: Archive, tmp_path: Path) -> None:
    """No accounts, no restrictions, 127.0.0.1: replay and the overview as they always were."""
    root = tmp_path / "open"
    root.mkdir()
    shutil.copytree(archive.root / "collections", root / "collections")
    shutil.copy(archive.root / "catalog.sqlite", root / "catalog.sqlite")
    with Replay(root) as rp:
        thread = archive.url(f"/@minbzk/{THREAD_ID}")
        r = fetch(f"{rp.url}/gov/{archive.stamp(thread)}id_/{archive.url(f'/api/v1/statuses/{THREAD_ID}')}")
        assert r.status == 200 and "MijnOverheid" in r.text
        assert fetch(rp.overview + "/").status == 200

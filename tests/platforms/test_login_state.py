"""Login state: import (storage state, cookies.txt, cookie-extension JSON), the 0600 store,
resolving a seed's reference, refusals with one clear line, and creating a state in a real
browser against a fixture login page."""

from __future__ import annotations

import json
import re
import stat
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bewaar.errors import EnvironmentProblem, InputError
from bewaar.sites.httpserver import FixtureServer, Request, Response
from bewaar.sites.media import CHROMIUM
from crawler import login_state as ls
from crawler.platforms import get_adapter
from tests.platforms.browser import Renderer

STATE = {
    "cookies": [
        {"name": "auth_token", "value": "abc123", "domain": ".x.com", "path": "/", "expires": 1893456000,
         "httpOnly": True, "secure": True, "sameSite": "None"},
    ],
    "origins": [{"origin": "https://x.com", "localStorage": [{"name": "k", "value": "v"}]}],
}  # fmt: skip


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_import_playwright_state_is_stored_0600(tmp_path: Path) -> None:
    src = tmp_path / "state.json"
    src.write_text(json.dumps(STATE))
    root = tmp_path / "root"
    out = ls.import_state(root, "x", src)
    assert out == root / ".bewaar" / "login" / "x.json"
    assert mode(out) == 0o600 and mode(out.parent) == 0o700
    stored = json.loads(out.read_text())
    assert stored["cookies"][0]["name"] == "auth_token" and stored["cookies"][0]["httpOnly"] is True
    assert stored["origins"] == STATE["origins"]
    assert not list(out.parent.glob("*.tmp"))


def test_import_netscape_cookies_txt(tmp_path: Path) -> None:
    src = tmp_path / "cookies.txt"
    src.write_text(
        "# Netscape HTTP Cookie File\n"
        ".instagram.com\tTRUE\t/\tTRUE\t1893456000\tsessionid\tS3SS\n"
        "#HttpOnly_www.instagram.com\tFALSE\t/\tTRUE\t0\tcsrftoken\tT0K\n"
    )
    state = json.loads(ls.import_state(tmp_path, "instagram", src).read_text())
    by_name = {c["name"]: c for c in state["cookies"]}
    assert by_name["sessionid"]["domain"] == ".instagram.com" and by_name["sessionid"]["secure"]
    assert by_name["sessionid"]["expires"] == 1893456000
    assert by_name["csrftoken"]["httpOnly"] and by_name["csrftoken"]["expires"] == -1


def test_import_cookie_extension_json(tmp_path: Path) -> None:
    src = tmp_path / "cookies.json"
    src.write_text(json.dumps([
        {"domain": "linkedin.com", "hostOnly": False, "name": "li_at", "value": "L1", "path": "/",
         "expirationDate": 1893456000.5, "sameSite": "no_restriction", "secure": True, "httpOnly": True},
        {"domain": "www.linkedin.com", "hostOnly": True, "name": "lang", "value": "v=2", "session": True},
    ]))  # fmt: skip
    state = json.loads(ls.import_state(tmp_path, "linkedin", src).read_text())
    li_at, lang = state["cookies"]
    assert li_at["domain"] == ".linkedin.com" and li_at["sameSite"] == "None"
    assert lang["expires"] == -1 and lang["domain"] == "www.linkedin.com"


@pytest.mark.parametrize(
    ("content", "platform", "message"),
    [
        ("{not json", "x", r"not valid JSON"),
        ("hello world\n", "x", r":1: not a cookies.txt line"),
        ('{"origins": 3}', "x", r"expected a Playwright storage state"),
        ('[{"name": "a", "value": "b"}]', "x", r"cookie 1 has no valid 'domain'"),
        ('{"cookies": []}', "x", r"holds no cookies"),
        (json.dumps(STATE), "facebook", r"has no cookies for facebook\.com"),
    ],
)
def test_bad_files_give_one_clear_line(
    tmp_path: Path, content: str, platform: str, message: str
) -> None:
    src = tmp_path / "in.txt"
    src.write_text(content)
    with pytest.raises(InputError) as err:
        ls.import_state(tmp_path / "root", platform, src)
    text = str(err.value)
    assert "\n" not in text and str(src) in text and re.search(message, text), text
    assert not ls.state_path(tmp_path / "root", platform).exists()


def test_import_for_a_site_at_a_base_url(tmp_path: Path) -> None:
    src = tmp_path / "state.json"
    src.write_text(json.dumps({"cookies": [{"name": "s", "value": "1", "domain": "127.0.0.1"}]}))
    with pytest.raises(InputError, match="no cookies for x.com"):
        ls.import_state(tmp_path, "x", src)
    assert ls.import_state(tmp_path, "x", src, base_url="http://127.0.0.1:8123").is_file()


def test_resolve_state(tmp_path: Path) -> None:
    root = tmp_path / "root"
    src = tmp_path / "state.json"
    src.write_text(json.dumps(STATE))
    stored = ls.import_state(root, "x", src)
    assert ls.resolve_state(root, "x", None) is None
    assert ls.resolve_state(root, "x", "stored") == stored.resolve()
    assert ls.resolve_state(root, "youtube", "x") == stored.resolve()  # another platform's state
    own = tmp_path / "seeds" / "mine.json"
    own.parent.mkdir()
    own.write_text(json.dumps(STATE))
    own.chmod(0o600)
    assert ls.resolve_state(root, "x", "mine.json", relative_to=own.parent) == own.resolve()
    with pytest.raises(InputError, match="no login state for instagram.*bewaar login instagram"):
        ls.resolve_state(root, "instagram", "stored")
    own.chmod(0o644)
    with pytest.raises(InputError, match="readable by others"):
        ls.resolve_state(root, "x", str(own))
    inside = root / "collections" / "c" / "state.json"
    inside.parent.mkdir(parents=True)
    inside.write_text(json.dumps(STATE))
    inside.chmod(0o600)
    with pytest.raises(InputError, match="must not live inside a collection"):
        ls.resolve_state(root, "x", str(inside))


def test_create_without_display_says_how_to_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(EnvironmentProblem, match=r"bewaar login x --import FILE"):
        ls.create_state(tmp_path, "x")


def test_login_url_follows_base_url() -> None:
    assert ls.login_url("x") == "https://x.com/i/flow/login"
    assert ls.login_url("x", "http://127.0.0.1:9/") == "http://127.0.0.1:9/i/flow/login"
    assert (
        ls.login_url("mastodon", "https://social.example") == "https://social.example/auth/sign_in"
    )
    with pytest.raises(InputError):
        ls.login_url("mastodon")


@pytest.fixture
def login_site() -> Iterator[FixtureServer]:
    """A site whose /i/flow/login form sets a session cookie; /MinBZK shows who is logged in."""
    server = FixtureServer()

    @server.route("GET", r"/i/flow/login")
    def form(req: Request, m: re.Match[str]) -> Response:
        return Response.html(
            '<form method="post" action="/sessions"><input name="user"><button>Log in</button></form>'
        )

    @server.route("POST", r"/sessions")
    def session(req: Request, m: re.Match[str]) -> Response:
        user = req.body.decode().split("=", 1)[1]
        return Response(
            303,
            b"",
            [("Location", "/home"), ("Set-Cookie", f"auth_token={user}; Path=/; HttpOnly")],
        )

    @server.route("GET", r"/(?P<page>\w+)")
    def page(req: Request, m: re.Match[str]) -> Response:
        who = re.search(r"auth_token=(\w+)", req.headers.get("cookie", ""))
        return Response.html(f"<h1>{'Logged in as ' + who.group(1) if who else 'Log in to X'}</h1>")

    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.slow
def test_create_state_in_a_browser_and_use_it(
    tmp_path: Path, login_site: FixtureServer, renderer: Renderer
) -> None:
    def person_logs_in(page) -> None:  # what the person does in the window
        page.fill("input[name=user]", "archivaris")
        page.click("button")
        page.wait_for_url("**/home")

    # Playwright's sync API runs one loop per thread: the session's renderer has this one
    with ThreadPoolExecutor(1) as pool:
        out = pool.submit(ls.create_state, tmp_path, "x", base_url=login_site.base_url,
                          executable=CHROMIUM, wait=person_logs_in, headless=True).result()  # fmt: skip
    assert mode(out) == 0o600
    state = ls.read_state_file(out, "x", domains=["127.0.0.1"])
    assert [c["value"] for c in state["cookies"] if c["name"] == "auth_token"] == ["archivaris"]
    path = ls.resolve_state(tmp_path, "x", "stored")
    adapter = get_adapter("x", login_site.base_url)
    r = renderer.render(adapter, login_site.base_url + "/MinBZK", "page", storage_state=str(path),
                        close_overlays=False, scroll=False, expand=False)  # fmt: skip
    assert "Logged in as archivaris" in r.snap.html
    anonymous = renderer.render(adapter, login_site.base_url + "/MinBZK", "page",
                                close_overlays=False, scroll=False, expand=False)  # fmt: skip
    assert "Log in to X" in anonymous.snap.html

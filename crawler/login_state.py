"""Login state per platform: a Playwright storage state (cookies + local storage) kept in the
root's state store, ROOT/.bewaar/login/PLATFORM.json, readable by its owner only (0600).

Made by `bewaar login PLATFORM` (a headed browser where a display exists, see create_state) or
imported from a file (import_state): a Playwright storage state, a Netscape cookies.txt, or a
JSON cookie export (a list of cookies, as browser cookie extensions write). A seed refers to a
state with `login_state: stored` (this platform's stored state), `login_state: PLATFORM`, or a
path; resolve_state() turns that into a file for the browser. A state is a credential: it is
never copied into a collection (the store lives outside collections/, and a path inside a
collection is refused).
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bewaar.errors import EnvironmentProblem, InputError

# The sites whose cookies a platform's state must contain (checked on import).
PLATFORM_DOMAINS: dict[str, tuple[str, ...]] = {
    "x": ("x.com", "twitter.com"),
    "instagram": ("instagram.com",),
    "facebook": ("facebook.com",),
    "linkedin": ("linkedin.com",),
    "youtube": ("youtube.com", "google.com"),
    "tiktok": ("tiktok.com",),
    "snapchat": ("snapchat.com",),
}
LOGIN_URLS = {
    "x": "https://x.com/i/flow/login",
    "instagram": "https://www.instagram.com/accounts/login/",
    "facebook": "https://www.facebook.com/login/",
    "linkedin": "https://www.linkedin.com/login",
    "youtube": "https://accounts.google.com/ServiceLogin?service=youtube&continue=https://www.youtube.com/",
    "tiktok": "https://www.tiktok.com/login",
    "snapchat": "https://accounts.snapchat.com/accounts/v2/login",
    "mastodon": "{base}/auth/sign_in",
}
STORED = ("stored", "default", "yes", "true")
MAX_STATE_BYTES = 50_000_000  # a browser's whole cookie jar is a few MB
_BAD_COOKIE_TEXT = re.compile(r"[\x00-\x1f\x7f;]")  # RFC 6265: no controls, no ';'
_SAME_SITE = {"strict": "Strict", "lax": "Lax", "none": "None", "no_restriction": "None"}


def store_dir(root: str | Path) -> Path:
    return Path(root) / ".bewaar" / "login"


def state_path(root: str | Path, platform: str) -> Path:
    if not re.fullmatch(r"[a-z][a-z0-9_-]{0,31}", platform):
        raise InputError(f"'{platform}' is not a platform name")
    return store_dir(root) / f"{platform}.json"


# --------------------------------------------------------------------------- reading files


def read_state_file(
    path: str | Path, platform: str | None = None, domains: Iterable[str] = ()
) -> dict[str, Any]:
    """A Playwright storage state from a storage-state JSON, a JSON cookie list or a Netscape
    cookies.txt; InputError naming the file and the problem otherwise."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_STATE_BYTES:
            raise InputError(f"{path}: larger than {MAX_STATE_BYTES // 1_000_000} MB: not a login state")
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read: {e}") from None
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            data = json.loads(text)
        except ValueError as e:
            raise InputError(f"{path}: not valid JSON: {e}") from None
        except RecursionError:
            raise InputError(f"{path}: not a login state: JSON nested too deep") from None
        if isinstance(data, dict) and "cookies" in data:
            cookies_in = data.get("cookies") or []
            if not isinstance(cookies_in, list):
                raise InputError(f"{path}: 'cookies' is not a list")
            origins = data.get("origins") or []
            if not isinstance(origins, list) or not all(_origin_ok(o) for o in origins):
                raise InputError(
                    f"{path}: 'origins' is not a list of {{origin, localStorage}} entries"
                )
            cookies = [_cookie(c, path, n) for n, c in enumerate(cookies_in, 1)]
            state = {"cookies": cookies, "origins": origins}
        elif isinstance(data, list):
            state = {"cookies": [_cookie(c, path, n) for n, c in enumerate(data, 1)], "origins": []}
        else:
            raise InputError(
                f'{path}: expected a Playwright storage state ({{"cookies": [...]}}) or a list of cookies'
            )
    else:
        state = {"cookies": _netscape(text, path), "origins": []}
    if not state["cookies"] and not state["origins"]:
        raise InputError(f"{path}: holds no cookies and no local storage: nothing to log in with")
    wanted = tuple(domains) or PLATFORM_DOMAINS.get(platform or "", ())
    if wanted and not any(_domain_matches(c["domain"], wanted) for c in state["cookies"]):
        raise InputError(
            f"{path}: has no cookies for {' or '.join(wanted)}: export the cookies of the {platform} site"
        )
    return state


def _domain_matches(domain: str, wanted: Iterable[str]) -> bool:
    d = domain.lstrip(".").lower()
    return any(d == w or d.endswith("." + w) for w in wanted)


def _origin_ok(o: Any) -> bool:
    return (
        isinstance(o, dict)
        and isinstance(o.get("origin"), str)
        and isinstance(o.get("localStorage", []), list)
        and all(
            isinstance(i, dict) and isinstance(i.get("name"), str) and isinstance(i.get("value"), str)
            for i in o.get("localStorage", [])
        )
    )


def _cookie(c: Any, path: Path, n: int) -> dict[str, Any]:
    """One cookie in Playwright's shape, from Playwright's or a browser extension's JSON."""
    if not isinstance(c, dict):
        raise InputError(f"{path}: cookie {n} is not an object")
    for key in ("name", "value", "domain"):
        if not isinstance(c.get(key), str) or (key != "value" and not c[key]):
            raise InputError(f"{path}: cookie {n} has no valid '{key}'")
        _check_text(c[key], key, f"{path}: cookie {n}")
    expires = c.get("expires", c.get("expirationDate", -1))
    if c.get("session") is True or expires is None:
        expires = -1
    if isinstance(expires, bool) or not isinstance(expires, int | float) or not math.isfinite(expires):
        raise InputError(f"{path}: cookie {n} ({c['name'][:40]!r}): 'expires' is not a number")
    if not isinstance(c.get("path", "/"), str | None):
        raise InputError(f"{path}: cookie {n} ({c['name'][:40]!r}): 'path' is not text")
    same_site = _SAME_SITE.get(str(c.get("sameSite", "Lax")).lower(), "Lax")
    domain = c["domain"]
    if c.get("hostOnly") is False and not domain.startswith("."):
        domain = "." + domain
    return {
        "name": c["name"],
        "value": c["value"],
        "domain": domain,
        "path": c.get("path") or "/",
        "expires": float(expires),
        "httpOnly": bool(c.get("httpOnly", False)),
        "secure": bool(c.get("secure", False)),
        "sameSite": same_site,
    }


def _check_text(value: str, key: str, where: str) -> None:
    if _BAD_COOKIE_TEXT.search(value) or key != "value" and any(ch.isspace() for ch in value):
        raise InputError(f"{where}: '{key}' holds characters a cookie cannot hold")


def _netscape(text: str, path: Path) -> list[dict[str, Any]]:
    """cookies.txt: domain, include-subdomains, path, secure, expiry, name, value (tab
    separated); "#HttpOnly_" before the domain marks an HttpOnly cookie."""
    cookies = []
    for n, line in enumerate(text.splitlines(), 1):
        http_only = line.startswith("#HttpOnly_")
        if http_only:
            line = line[len("#HttpOnly_") :]
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.rstrip("\r\n").split("\t")
        if len(parts) != 7:
            raise InputError(
                f"{path}:{n}: not a cookies.txt line (7 tab-separated fields) nor JSON: export "
                "cookies in Netscape format or as a Playwright storage state"
            )
        domain, sub, cpath, secure, expiry, name, value = parts
        try:
            expires = float(expiry)
        except ValueError:
            expires = math.nan
        if not math.isfinite(expires):
            raise InputError(f"{path}:{n}: expiry {expiry[:40]!r} is not a number") from None
        for key, field in (("domain", domain), ("name", name), ("value", value)):
            _check_text(field, key, f"{path}:{n}")
        if not domain or not name:
            raise InputError(f"{path}:{n}: a cookie needs a domain and a name")
        if sub.upper() == "TRUE" and not domain.startswith("."):
            domain = "." + domain
        cookies.append(
            {
                "name": name,
                "value": value,
                "domain": domain,
                "path": cpath or "/",
                "expires": expires if expires > 0 else -1.0,
                "httpOnly": http_only,
                "secure": secure.upper() == "TRUE",
                "sameSite": "Lax",
            }
        )
    return cookies


# --------------------------------------------------------------------------- the store


def write_state(root: str | Path, platform: str, state: dict[str, Any]) -> Path:
    """Write atomically, created 0600 (never briefly readable by others), dir 0700."""
    target = state_path(root, platform)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(target.parent, 0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{platform}.", suffix=".tmp", dir=target.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(state, fh, ensure_ascii=False, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def import_state(
    root: str | Path,
    platform: str,
    source: str | Path,
    domains: Iterable[str] = (),
    base_url: str | None = None,
) -> Path:
    """Validate a state/cookies file and store it as the platform's login state. With a
    base_url (a private instance, a test site) its cookies must be for that host instead."""
    if base_url and not domains:
        domains = [urlsplit(base_url).hostname or ""]
    return write_state(root, platform, read_state_file(source, platform, domains))


def create_state(
    root: str | Path,
    platform: str,
    *,
    base_url: str | None = None,
    executable: str | None = None,
    wait: Callable[[Any], None] | None = None,
    headless: bool = False,
) -> Path:
    """Open a browser at the platform's login page; once the person has logged in (wait()
    returns: by default when they press Enter) store the browser's state. Needs a display."""
    if not headless and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise EnvironmentProblem(
            f"no display for a browser window: log in elsewhere and import the state with "
            f"`bewaar login {platform} --import FILE` (a storage state or cookies.txt)"
        )
    from playwright.sync_api import sync_playwright

    from bewaar.environment import find_chromium

    url = login_url(platform, base_url)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=executable or find_chromium(),
            headless=headless,
            args=["--no-first-run", "--disable-sync", "--no-default-browser-check"],
        )
        try:
            context = browser.new_context()
            page = context.new_page()
            page.goto(url)
            if wait is None:
                input(f"Log in to {platform} in the browser window, then press Enter here: ")
            else:
                wait(page)
            state = context.storage_state()
        finally:
            browser.close()
    if not state.get("cookies"):
        raise InputError(
            f"the browser holds no cookies for {platform}: not logged in, nothing stored"
        )
    return write_state(root, platform, state)


def login_url(platform: str, base_url: str | None = None) -> str:
    """The platform's login page; with base_url, the same page on that site."""
    template = LOGIN_URLS.get(platform, "{base}/")
    if "{base}" in template:
        if not base_url:
            raise InputError(f"{platform}: give the server's base_url to log in to")
        return template.format(base=base_url.rstrip("/"))
    if not base_url:
        return template
    parts = urlsplit(template)
    return base_url.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")


def resolve_state(
    root: str | Path,
    platform: str,
    reference: str | None,
    relative_to: str | Path | None = None,
) -> Path | None:
    """The state file a seed (or the seed list's platforms: section) refers to, or None for an
    anonymous capture. `reference`: "stored" (this platform's stored state), a platform name,
    or a path (relative to `relative_to`, the seed list's folder, else the root)."""
    if reference is None or reference == "":
        return None
    root = Path(root)
    if reference.lower() in STORED:
        path = state_path(root, platform)
        hint = f"create it with `bewaar login {platform}`"
    elif re.fullmatch(r"[a-z][a-z0-9_-]{0,31}", reference) and not Path(reference).suffix:
        path = state_path(root, reference)
        hint = f"create it with `bewaar login {reference}`"
    else:
        path = Path(reference).expanduser()
        if not path.is_absolute():
            path = Path(relative_to or root) / path
        hint = "check the seed's login_state"
    path = path.resolve()
    collections = (root / "collections").resolve()
    if path == collections or collections in path.parents:
        raise InputError(
            f"{path}: a login state must not live inside a collection (it would be packaged): move it"
        )
    if not path.is_file():
        raise InputError(f"{path}: no login state for {platform}: {hint}")
    if os.name == "posix" and path.stat().st_mode & 0o077:
        raise InputError(f"{path}: login state is readable by others: run `chmod 600 {path}`")
    read_state_file(path)  # refuse a broken state before any browser starts
    return path

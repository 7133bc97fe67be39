"""Find, and with `bewaar setup` install, the programs bewaar drives: Chromium, pywb,
redis-server (the crawl queue: a private server per root, or a shared one for several
workers) and ReplayWeb.page.

pywb 2.10 pins old libraries (redis 2.10, an old pyOpenSSL) that would downgrade the crawler's
own dependencies, so it gets its own virtual environment inside bewaar's (`<venv>/pywb`) and runs
as a separate process.

ReplayWeb.page (Webrecorder's WACZ viewer, what a court or researcher most likely opens a package
with) is two static files from its npm package, `ui.js` and `sw.js`, kept in
`<venv>/share/replaywebpage/`; bewaar serves them on 127.0.0.1 to open packages locally and the
tests replay every package bewaar writes in them.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from bewaar.errors import EnvironmentProblem

PYWB_REQUIREMENT = "pywb==2.10.0"
# Pinned, with the registry's sha512 integrity of its tarball: a package a court relies on is
# checked against a known viewer, and a changed tarball is refused rather than served.
REPLAYWEBPAGE_VERSION = "2.5.3"
REPLAYWEBPAGE_INTEGRITY = (
    "sha512-nCj2PSON3BxeSJKE8AsYPyULv0XPZKJWfy4l9PyQre9SqwLZ+WKZVs/sfLqPOQ4GrH+0YkjbwOhr8cSTH08gsQ=="
)
REPLAYWEBPAGE_FILES = ("ui.js", "sw.js", "LICENSE", "package.json")
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def pywb_env_dir() -> Path:
    return Path(os.environ.get("BEWAAR_PYWB_ENV", Path(sys.prefix) / "pywb"))


def pywb_python() -> Path:
    """The Python of pywb's environment; EnvironmentProblem if it is not installed."""
    exe = pywb_env_dir() / "bin" / "python"
    if not exe.exists():
        raise EnvironmentProblem(
            f"pywb is not installed (looked for {exe}): run `bewaar setup` (or `make install`)"
        )
    return exe


def _playwright_chromium() -> str | None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    try:
        with sync_playwright() as p:
            path = p.chromium.executable_path
    except Exception:  # noqa: BLE001 - no driver or no browser: not found
        return None
    return path if path and Path(path).exists() else None


def find_chromium(configured: str | None = None) -> str:
    """A system Chromium first (Debian's works where Playwright's download does not),
    else Playwright's own."""
    for candidate in (configured, os.environ.get("BEWAAR_CHROMIUM")):
        if candidate:
            if Path(candidate).exists():
                return candidate
            raise EnvironmentProblem(f"Chromium not found at {candidate}: fix browser.executable")
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    found = _playwright_chromium()
    if found:
        return found
    raise EnvironmentProblem("no Chromium found: run `bewaar setup` (or `make install`)")


REDIS_NAMES = ("redis-server",)


def find_redis_server() -> str:
    """redis-server from the system's packages (BEWAAR_REDIS_SERVER names another one)."""
    configured = os.environ.get("BEWAAR_REDIS_SERVER")
    if configured:
        if Path(configured).exists():
            return configured
        raise EnvironmentProblem(f"redis-server not found at {configured} (BEWAAR_REDIS_SERVER)")
    for name in REDIS_NAMES:
        found = shutil.which(name) or next(
            (str(p) for d in ("/usr/bin", "/usr/sbin", "/usr/local/bin") if (p := Path(d) / name).exists()),
            None,
        )
        if found:
            return found
    raise EnvironmentProblem(
        "redis-server is not installed (the crawl queue needs it): run `bewaar setup`, or "
        "install your system's redis-server package"
    )


def _apt_install(package: str) -> bool:
    apt = shutil.which("apt-get")
    if not apt:
        return False
    cmd = [apt] if os.geteuid() == 0 else (["sudo", apt] if shutil.which("sudo") else None)
    if cmd is None:
        return False
    try:
        _run([*cmd, "install", "-y", "-qq", package])
    except subprocess.CalledProcessError:
        try:
            _run([*cmd, "update", "-qq"])
            _run([*cmd, "install", "-y", "-qq", package])
        except subprocess.CalledProcessError:
            return False
    return True


def install_redis_server() -> str | None:
    """Like Chromium: the system's package where apt-get can install it; None (with a line
    saying what to do) where it cannot."""
    try:
        return find_redis_server()
    except EnvironmentProblem:
        pass
    if _apt_install("redis-server"):
        try:
            return find_redis_server()
        except EnvironmentProblem:
            pass
    print("redis-server could not be installed here: install it from your system's packages "
          "(crawls need it for their queue)", flush=True)  # fmt: skip
    return None


def _run(cmd: list[str], cwd: Path | None = None) -> None:
    print("+ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=cwd)


def install_chromium() -> str:
    try:
        return find_chromium()
    except EnvironmentProblem:
        pass
    apt = shutil.which("apt-get")
    if apt and os.geteuid() == 0:
        try:
            _run([apt, "update", "-qq"])
            _run([apt, "install", "-y", "-qq", "chromium"])
        except subprocess.CalledProcessError:
            print("apt-get could not install chromium; trying Playwright's Chromium", flush=True)
    elif apt and shutil.which("sudo"):
        try:
            _run(["sudo", apt, "install", "-y", "-qq", "chromium"])
        except subprocess.CalledProcessError:
            print("sudo apt-get failed; trying Playwright's Chromium", flush=True)
    try:
        return find_chromium()
    except EnvironmentProblem:
        pass
    try:
        _run([sys.executable, "-m", "playwright", "install", "--with-deps", "chromium"])
    except subprocess.CalledProcessError:
        _run([sys.executable, "-m", "playwright", "install", "chromium"])
    return find_chromium()


def install_pywb() -> Path:
    env = pywb_env_dir()
    exe = env / "bin" / "python"
    if exe.exists():
        ok = subprocess.run([str(exe), "-c", "import pywb.apps.frontendapp"], capture_output=True)
        if ok.returncode == 0:
            return exe
    _run([sys.executable, "-m", "venv", str(env)])
    _run([str(exe), "-m", "pip", "install", "-q", "--upgrade", "pip"])
    _run([str(exe), "-m", "pip", "install", "-q", PYWB_REQUIREMENT])
    subprocess.run([str(exe), "-c", "import pywb.apps.frontendapp"], check=True)
    return exe


def replaywebpage_dir() -> Path:
    return Path(
        os.environ.get("BEWAAR_REPLAYWEBPAGE_DIR", Path(sys.prefix) / "share" / "replaywebpage")
    )


def _installed_replaywebpage(directory: Path) -> str | None:
    """The version installed in `directory` if all its files are there, else None."""
    if not all((directory / name).is_file() for name in REPLAYWEBPAGE_FILES):
        return None
    try:
        return str(json.loads((directory / "package.json").read_text("utf-8"))["version"])
    except (OSError, ValueError, KeyError):
        return None


def find_replaywebpage() -> Path:
    """The directory holding ReplayWeb.page's ui.js and sw.js at the pinned version;
    EnvironmentProblem if it is missing or another version."""
    directory = replaywebpage_dir()
    version = _installed_replaywebpage(directory)
    if version is None:
        raise EnvironmentProblem(
            f"ReplayWeb.page is not installed (looked for ui.js and sw.js in {directory}): "
            "run `bewaar setup` (or `make install`)"
        )
    if version != REPLAYWEBPAGE_VERSION:
        raise EnvironmentProblem(
            f"ReplayWeb.page {version} in {directory}, bewaar expects {REPLAYWEBPAGE_VERSION}: "
            "run `bewaar setup`"
        )
    return directory


def _find_npm() -> str:
    npm = shutil.which("npm")
    if npm:
        return npm
    apt = shutil.which("apt-get")
    cmd = None
    if apt and os.geteuid() == 0:
        cmd = [apt, "install", "-y", "-qq", "npm"]
    elif apt and shutil.which("sudo"):
        cmd = ["sudo", apt, "install", "-y", "-qq", "npm"]
    if cmd:
        with contextlib.suppress(subprocess.CalledProcessError):  # the message below says it
            _run(cmd)
    npm = shutil.which("npm")
    if not npm:
        raise EnvironmentProblem(
            "npm not found: ReplayWeb.page is installed with npm; install Node.js and npm "
            "(Debian/Ubuntu: `apt-get install npm`) and run `bewaar setup` again"
        )
    return npm


def install_replaywebpage() -> Path:
    """npm's own client fetches the pinned tarball (registry, proxy and cache as npm is
    configured); its integrity is checked, and only the viewer's files are unpacked."""
    directory = replaywebpage_dir()
    if _installed_replaywebpage(directory) == REPLAYWEBPAGE_VERSION:
        return directory
    npm = _find_npm()
    directory.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="replaywebpage.", dir=directory.parent) as tmp:
        work = Path(tmp)
        try:
            _run([npm, "pack", "--silent", f"replaywebpage@{REPLAYWEBPAGE_VERSION}"], cwd=work)
        except subprocess.CalledProcessError as e:
            raise EnvironmentProblem(
                f"npm could not fetch replaywebpage@{REPLAYWEBPAGE_VERSION} (exit {e.returncode}): "
                "check npm's registry and proxy (`npm config get registry`) and run `bewaar setup` again"
            ) from None
        tarballs = list(work.glob("replaywebpage-*.tgz"))
        if len(tarballs) != 1:
            raise EnvironmentProblem(f"`npm pack replaywebpage@{REPLAYWEBPAGE_VERSION}` wrote no tarball")
        data = tarballs[0].read_bytes()
        integrity = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")
        if integrity != REPLAYWEBPAGE_INTEGRITY:
            raise EnvironmentProblem(
                f"replaywebpage {REPLAYWEBPAGE_VERSION} from npm has integrity {integrity}, "
                f"expected {REPLAYWEBPAGE_INTEGRITY}: refusing to install it"
            )
        staged = work / "replaywebpage"
        staged.mkdir()
        with tarfile.open(tarballs[0]) as tar:
            for name in REPLAYWEBPAGE_FILES:
                member = tar.getmember(f"package/{name}")
                src = tar.extractfile(member)
                if src is None:
                    raise EnvironmentProblem(f"replaywebpage tarball: package/{name} is not a file")
                (staged / name).write_bytes(src.read())
        if directory.exists():
            shutil.rmtree(directory)
        staged.rename(directory)
    return find_replaywebpage()


def cmd_setup(args: argparse.Namespace) -> int:
    chromium = install_chromium()
    print(f"Chromium: {chromium}")
    pywb = install_pywb()
    print(f"pywb: {pywb}")
    rwp = install_replaywebpage()
    print(f"ReplayWeb.page {REPLAYWEBPAGE_VERSION}: {rwp}")
    redis = install_redis_server()
    print(f"redis-server: {redis or 'not installed'}")
    return 0 if redis else 3


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "setup",
        help="install Chromium, pywb's environment, ReplayWeb.page and redis-server (idempotent)",
    )
    p.set_defaults(func=cmd_setup)

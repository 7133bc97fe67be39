"""Find, and with `bewaar setup` install, the programs bewaar drives: Chromium, pywb and
redis-server (the crawl queue: a private server per root, or a shared one for several workers).

pywb 2.10 pins old libraries (redis 2.10, an old pyOpenSSL) that would downgrade the crawler's
own dependencies, so it gets its own virtual environment inside bewaar's (`<venv>/pywb`) and runs
as a separate process.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from bewaar.errors import EnvironmentProblem

PYWB_REQUIREMENT = "pywb==2.10.0"
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


def _run(cmd: list[str]) -> None:
    print("+ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


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


def cmd_setup(args: argparse.Namespace) -> int:
    chromium = install_chromium()
    print(f"Chromium: {chromium}")
    pywb = install_pywb()
    print(f"pywb: {pywb}")
    redis = install_redis_server()
    print(f"redis-server: {redis or 'not installed'}")
    return 0 if redis else 3


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("setup", help="install Chromium, pywb's environment and redis-server (idempotent)")
    p.set_defaults(func=cmd_setup)

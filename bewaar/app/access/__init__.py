"""Access control: users and roles, restrictions, and the audit trail (docs/access.md).

The hooks other parts of bewaar call:

    from bewaar.app.access import Access, User, ANONYMOUS
    access = Access(root)                         # the root's settings and stores
    user = access.user("anna") or ANONYMOUS       # who the export is for
    view = access.view(user, con)                 # catalog.query.View: what `user` may see
    rows, more = catalog.query.search_posts(con, f, view=view)
    access.log("export", user, target="…", outcome="ok", detail=…)   # one audit line

`view_for` (policy.py) is the same without the cache; `replay_rules` gives the restricted
index keys per collection (what a WARC/WACZ export must leave out for a role).
"""

from __future__ import annotations

import ipaddress
import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

from bewaar.config import AuthConfig, load_root_config
from bewaar.model import Root

from .audit import AuditLog
from .store import ANONYMOUS, AccessStore, User

__all__ = ["ANONYMOUS", "Access", "AccessStore", "AuditLog", "User", "audit_log"]

COOKIE = "bewaar_session"
LOOPBACK_NAMES = ("localhost", "ip6-localhost")


def audit_log(root: Root) -> AuditLog:
    return AuditLog(AccessStore.dir_of(root) / "audit")


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Access:
    """The access settings of a root, as `bewaar replay` and the overview use them."""

    def __init__(self, root: Root, cfg: AuthConfig | None = None) -> None:
        self.root = root
        self.cfg = cfg if cfg is not None else load_root_config(root.path).replay.auth
        self.audit = audit_log(root)
        self._views: dict[Any, Any] = {}
        self._lock = threading.Lock()
        self.trusted = [ipaddress.ip_network(n, strict=False) for n in self.cfg.trusted_proxies]

    @property
    def mode(self) -> str:
        """open (anonymous readers), users (built-in accounts) or header (a proxy)."""
        if self.cfg.mode:
            return self.cfg.mode
        if AccessStore.exists(self.root):
            with AccessStore.open(self.root) as store:
                if store.has_users():
                    return "users"
        return "open"

    # -- who asks ------------------------------------------------------------------------
    def from_trusted_proxy(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in net for net in self.trusted)

    def identify(self, environ: dict[str, Any], mode: str) -> tuple[User | None, str]:
        """(the user, "") or (None, why not)."""
        if mode == "open":
            return ANONYMOUS, ""
        if mode == "header":
            if not self.from_trusted_proxy(environ.get("REMOTE_ADDR", "")):
                return None, "not through the trusted proxy"
            key = "HTTP_" + self.cfg.header.upper().replace("-", "_")
            name = (environ.get(key) or "").strip().lower()
            if not name:
                return None, "the proxy named no user"
            with AccessStore.open(self.root) as store:
                user = store.user(name)
            if user is None and self.cfg.default_role:
                user = User(name, self.cfg.default_role)
            return (user, "") if user else (None, f"{name} is not a user of this archive")
        for token in cookie_values(environ.get("HTTP_COOKIE", ""), COOKIE):
            with AccessStore.open(self.root) as store:
                user = store.session_user(token)
            if user:
                return user, ""
        return None, "not signed in"

    def user(self, name: str) -> User | None:
        """A listed user by name (e.g. an export run for someone): None when unknown."""
        if not AccessStore.exists(self.root):
            return None
        with AccessStore.open(self.root) as store:
            return store.user(name)

    # -- what they may see ---------------------------------------------------------------
    def view(self, user: User, con: sqlite3.Connection) -> Any:
        """catalog.query.View for `user`, cached until the restrictions or the catalog
        change (resolving restrictions reads the catalog)."""
        from .policy import view_for

        stamp = tuple(_mtime(p) for p in (
            AccessStore.file_of(self.root), Path(str(AccessStore.file_of(self.root)) + "-wal"),
            self.root.catalog_file, Path(str(self.root.catalog_file) + "-wal"),
        ))  # fmt: skip
        key = (user.role, user.collections, stamp)
        with self._lock:
            if key in self._views:
                return self._views[key]
        view = view_for(self.root, user, con)
        with self._lock:
            if len(self._views) > 64:
                self._views.clear()
            self._views[key] = view
        return view

    # -- the audit trail -----------------------------------------------------------------
    def log(
        self, action: str, user: User | None, target: str = "", outcome: str = "ok", **detail: Any
    ) -> None:
        u = user or ANONYMOUS
        self.audit.append(action, u.name, u.role if user else "", target, outcome, **detail)


def _mtime(path: Path) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


def cookie_values(header: str, name: str) -> list[str]:
    """Every value of cookie `name` in a Cookie header (a page may have set another one with
    the same name on a narrower path: each is tried)."""
    out = []
    for part in header.split(";"):
        k, _, v = part.strip().partition("=")
        if k == name and v:
            out.append(v.strip().strip('"'))
    return out

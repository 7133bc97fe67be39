"""ROOT/access/access.sqlite: accounts, sessions, failed logins and restrictions.

Not derived state (it cannot be rebuilt from the WARCs), so it lives in ROOT/access/, not in
ROOT/.bewaar/. The directory is private to the owner (0700). SQLite in WAL mode: `bewaar
users` and `bewaar restrict` write while `bewaar replay` runs, and the gate in front of pywb
(replay/pywb_app.py, in pywb's own environment) reads sessions with the standard library's
sqlite3 — the two queries it runs are written there again; SESSION_QUERY here is the same.

Passwords are hashed with argon2id (argon2-cffi, OWASP's parameters); a session cookie holds
a random token and the store only its SHA-256, so a copy of the file opens no session.
Restrictions are never deleted: lifting one records who, when and why (their history).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bewaar.config import ROLES
from bewaar.errors import EnvironmentProblem, InputError
from bewaar.model import COLLECTION_NAME, Root
from bewaar.timeutil import iso

RANK = {r: i for i, r in enumerate(ROLES)}
KINDS = ("block", "exclude", "embargo")
TARGETS = ("url", "account", "post", "collection", "all")
USER_NAME_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789._@-"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name        TEXT PRIMARY KEY,
    role        TEXT NOT NULL CHECK (role IN ('reader', 'archivist', 'admin')),
    collections TEXT NOT NULL DEFAULT '',   -- comma-separated; '' = every collection
    password    TEXT,                       -- argon2id hash; NULL: signs in through the proxy
    created_at  TEXT NOT NULL,
    changed_at  TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash  TEXT PRIMARY KEY,           -- sha256 hex of the cookie's token
    user        TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    created_at  REAL NOT NULL,              -- Unix seconds
    expires_at  REAL NOT NULL,
    address     TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS failures (       -- failed logins, for rate limiting
    at          REAL NOT NULL,
    user        TEXT NOT NULL,
    address     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS failures_at ON failures(at);
CREATE TABLE IF NOT EXISTS restrictions (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('block', 'exclude', 'embargo')),
    target      TEXT NOT NULL CHECK (target IN ('url', 'account', 'post', 'collection', 'all')),
    value       TEXT NOT NULL DEFAULT '',   -- the URL (a trailing * = prefix), platform:handle,
                                            -- post URL or collection name
    replies     INTEGER NOT NULL DEFAULT 0, -- 1: only replies by others (citizens) in the target
    date_from   TEXT,                       -- posts published from (YYYY-MM-DD) ...
    date_to     TEXT,                       -- ... to (inclusive)
    until       TEXT,                       -- embargo: lifted at this time (ISO 8601 UTC)
    visible_to  TEXT NOT NULL DEFAULT 'archivist',  -- lowest role that sees it (not exclude)
    reason      TEXT NOT NULL,
    set_by      TEXT NOT NULL,
    set_at      TEXT NOT NULL,
    lifted_by   TEXT,
    lifted_at   TEXT,
    lift_reason TEXT
);
"""

SESSION_QUERY = (
    "SELECT u.name, u.role, u.collections FROM sessions s JOIN users u ON u.name = s.user"
    " WHERE s.token_hash = ? AND s.expires_at > ?"
)


def _hasher() -> Any:
    from argon2 import PasswordHasher

    # OWASP's argon2id setting (19 MiB, 2 passes): strong, and a login stays well under 0.1 s
    return PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class User:
    """Who asks: a signed-in account, a user named by the proxy, or the anonymous reader."""

    name: str
    role: str = "reader"
    collections: tuple[str, ...] = ()  # empty: every collection

    @property
    def anonymous(self) -> bool:
        return self.name == ""

    def at_least(self, role: str) -> bool:
        return RANK[self.role] >= RANK[role]

    def may_see_collection(self, name: str) -> bool:
        return not self.collections or name in self.collections

    @classmethod
    def from_row(cls, name: str, role: str, collections: str) -> User:
        return cls(name, role, tuple(c for c in collections.split(",") if c))


ANONYMOUS = User("", "reader")


@dataclass
class Restriction:
    id: int
    kind: str
    target: str
    value: str
    replies: bool
    date_from: str | None
    date_to: str | None
    until: str | None
    visible_to: str
    reason: str
    set_by: str
    set_at: str
    lifted_by: str | None = None
    lifted_at: str | None = None
    lift_reason: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def active(self, at: str | None = None) -> bool:
        """Not lifted, and (an embargo) not yet expired."""
        if self.lifted_at:
            return False
        return not (self.kind == "embargo" and self.until and self.until <= (at or iso()))

    def describe(self) -> str:
        what = {
            "all": "everything",
            "url": f"URL {self.value}",
            "account": f"account {self.value}",
            "post": f"post {self.value}",
            "collection": f"collection {self.value}",
        }[self.target]
        if self.replies:
            what = f"replies by others in {what}"
        if self.date_from or self.date_to:
            what += f", posts published {self.date_from or '…'} to {self.date_to or '…'}"
        return what

    def as_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "extra"}
        d["replies"] = bool(self.replies)
        d["what"] = self.describe()
        return d


class AccessStore:
    """The access database of a root; `with AccessStore.open(root) as store:`."""

    def __init__(self, con: sqlite3.Connection, path: Path) -> None:
        self.con = con
        self.path = path

    # -- opening -------------------------------------------------------------------------
    @staticmethod
    def dir_of(root: Root) -> Path:
        return root.path / "access"

    @classmethod
    def file_of(cls, root: Root) -> Path:
        return cls.dir_of(root) / "access.sqlite"

    @classmethod
    @contextmanager
    def open(cls, root: Root) -> Iterator[AccessStore]:
        d = cls.dir_of(root)
        try:
            d.mkdir(mode=0o700, parents=True, exist_ok=True)
            path = cls.file_of(root)
            new = not path.exists()
            con = sqlite3.connect(path, timeout=10, isolation_level=None)
            if new:
                os.chmod(path, 0o600)
            con.row_factory = sqlite3.Row
            con.execute("PRAGMA journal_mode = WAL")
            con.execute("PRAGMA foreign_keys = ON")
            con.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as e:
            raise EnvironmentProblem(f"cannot open {d / 'access.sqlite'}: {e}") from None
        try:
            yield cls(con, path)
        finally:
            con.close()

    @classmethod
    def exists(cls, root: Root) -> bool:
        return cls.file_of(root).exists()

    # -- users ---------------------------------------------------------------------------
    def users(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.con.execute(
            "SELECT name, role, collections, password IS NOT NULL AS has_password, created_at,"
            " changed_at FROM users ORDER BY name"
        )]  # fmt: skip

    def has_users(self) -> bool:
        return self.con.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None

    def user(self, name: str) -> User | None:
        r = self.con.execute(
            "SELECT name, role, collections FROM users WHERE name = ?", (name,)
        ).fetchone()
        return User.from_row(r["name"], r["role"], r["collections"]) if r else None

    @staticmethod
    def check_name(name: str) -> str:
        name = name.strip().lower()
        if not name or len(name) > 64 or any(c not in USER_NAME_CHARS for c in name):
            raise InputError(
                f"{name!r} is not a usable user name: letters, digits and . _ @ - (at most 64)"
            )
        return name

    @staticmethod
    def check_collections(names: list[str]) -> str:
        for c in names:
            if not COLLECTION_NAME.match(c):
                raise InputError(f"{c!r} is not a collection name")
        return ",".join(sorted(set(names)))

    def add_user(self, name: str, role: str, collections: list[str], password: str | None) -> None:
        name = self.check_name(name)
        if role not in ROLES:
            raise InputError(f"role {role!r} is not one of {', '.join(ROLES)}")
        if self.user(name):
            raise InputError(f"user {name!r} exists: use `bewaar users passwd` or remove it first")
        hashed = _hasher().hash(password) if password is not None else None
        now = iso()
        self.con.execute(
            "INSERT INTO users (name, role, collections, password, created_at, changed_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (name, role, self.check_collections(collections), hashed, now, now),
        )

    def remove_user(self, name: str) -> None:
        if self.con.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount == 0:
            raise InputError(f"no user {name!r}")
        self.con.execute("DELETE FROM sessions WHERE user = ?", (name,))

    def set_password(self, name: str, password: str) -> None:
        cur = self.con.execute(
            "UPDATE users SET password = ?, changed_at = ? WHERE name = ?",
            (_hasher().hash(password), iso(), name),
        )
        if cur.rowcount == 0:
            raise InputError(f"no user {name!r}")
        self.con.execute("DELETE FROM sessions WHERE user = ?", (name,))  # sign out everywhere

    def check_password(self, name: str, password: str) -> User | None:
        """The user when the password is theirs; the same work is done for unknown names, so
        the time taken does not tell which names exist."""
        from argon2.exceptions import InvalidHashError, VerificationError

        r = self.con.execute("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
        hashed = r["password"] if r is not None and r["password"] else None
        ph = _hasher()
        try:
            ph.verify(hashed or _DUMMY_HASH.get(ph), password)
        except (VerificationError, InvalidHashError):
            return None
        if hashed is None or r is None:
            return None
        if ph.check_needs_rehash(hashed):
            self.con.execute(
                "UPDATE users SET password = ? WHERE name = ?", (ph.hash(password), name)
            )
        return User.from_row(r["name"], r["role"], r["collections"])

    # -- sessions and failed logins --------------------------------------------------------
    def new_session(self, user: User, hours: float, address: str) -> str:
        token = secrets.token_urlsafe(32)
        now = time.time()
        self.con.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
        self.con.execute(
            "INSERT INTO sessions (token_hash, user, created_at, expires_at, address)"
            " VALUES (?, ?, ?, ?, ?)",
            (token_hash(token), user.name, now, now + hours * 3600, address),
        )
        return token

    def session_user(self, token: str) -> User | None:
        r = self.con.execute(SESSION_QUERY, (token_hash(token), time.time())).fetchone()
        return User.from_row(r["name"], r["role"], r["collections"]) if r else None

    def end_session(self, token: str) -> None:
        self.con.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash(token),))

    def record_failure(self, name: str, address: str) -> None:
        self.con.execute("INSERT INTO failures VALUES (?, ?, ?)", (time.time(), name, address))

    def locked_out(self, name: str, address: str, max_failures: int, minutes: int) -> bool:
        """Too many failed logins for this account, or from this address, recently."""
        since = time.time() - minutes * 60
        self.con.execute("DELETE FROM failures WHERE at < ?", (since - 86400,))
        by_user, by_addr = self.con.execute(
            "SELECT sum(user = ?), sum(address = ?) FROM failures WHERE at >= ?",
            (name, address, since),
        ).fetchone()
        return (by_user or 0) >= max_failures or (by_addr or 0) >= max_failures

    def clear_failures(self, name: str) -> None:
        self.con.execute("DELETE FROM failures WHERE user = ?", (name,))

    # -- restrictions ----------------------------------------------------------------------
    def restrictions(self, include_lifted: bool = False) -> list[Restriction]:
        sql = "SELECT * FROM restrictions" + ("" if include_lifted else " WHERE lifted_at IS NULL")
        return [Restriction(**dict(r)) for r in self.con.execute(sql + " ORDER BY id")]

    def add_restriction(self, r: Restriction) -> Restriction:
        cur = self.con.execute(
            "INSERT INTO restrictions (kind, target, value, replies, date_from, date_to, until,"
            " visible_to, reason, set_by, set_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (r.kind, r.target, r.value, int(r.replies), r.date_from, r.date_to, r.until,
             r.visible_to, r.reason, r.set_by, r.set_at),
        )  # fmt: skip
        r.id = int(cur.lastrowid or 0)
        return r

    def lift_restriction(self, rid: int, by: str, reason: str) -> Restriction:
        row = self.con.execute("SELECT * FROM restrictions WHERE id = ?", (rid,)).fetchone()
        if row is None:
            raise InputError(f"no restriction {rid} (see `bewaar restrict list`)")
        if row["lifted_at"]:
            raise InputError(f"restriction {rid} was already lifted on {row['lifted_at']}")
        self.con.execute(
            "UPDATE restrictions SET lifted_by = ?, lifted_at = ?, lift_reason = ? WHERE id = ?",
            (by, iso(), reason, rid),
        )
        return Restriction(
            **dict(self.con.execute("SELECT * FROM restrictions WHERE id = ?", (rid,)).fetchone())
        )


class _Dummy:
    """A hash to verify against when the user does not exist (made once, lazily)."""

    def __init__(self) -> None:
        self._hash: str | None = None

    def get(self, ph: Any) -> str:
        if self._hash is None:
            self._hash = ph.hash(secrets.token_hex(16))
        return self._hash


_DUMMY_HASH = _Dummy()


def restriction_json(r: Restriction) -> str:
    return json.dumps(r.as_dict(), ensure_ascii=False, sort_keys=True)

"""The catalog's SQLite file: schema, migrations, and opening it safely.

ROOT/catalog.sqlite is derived state: every table except `schedule` can be rebuilt from the
WARCs (`bewaar catalog rebuild`). It runs in WAL mode so the replay server's overview and
`bewaar changes` read while a crawl writes. `PRAGMA user_version` is the schema version;
MIGRATIONS bring an older file up to date in one transaction, and a file from a newer bewaar
is refused rather than guessed at.

Schema (version 3), one line per table; columns are described where they are created below.
  warc_files       WARC files already read into the catalog (collection, name, size, crawl)
  crawls           one row per crawl: first/last capture time, pages by outcome
  accounts         an account (platform:handle) or a site (host) within a collection
  account_crawls   one row per account per crawl ("seen at"), with the profile counts then
  pages            every captured page: URL, time, kind, outcome, WARC file + offset
  profile_versions an account's profile, one row each time its content changed
  posts            a post by (account, platform id): status online/deleted/unverified
  post_versions    a post's text/media, one row each time they changed (+ the object JSON)
  post_sightings   one row per post per crawl: which version, counts, which page
  changes          what change detection found: new, found, edited, deleted, restored,
                   unverified, profile, counts
  post_text        FTS5 index over every version's title and text (external content)
  schedule         (v2) `bewaar watch`: interval, next due time, last run per account
  removals         (v3) posts destroyed or redacted, with the record that did it (not derived:
                   the WARCs no longer hold them; kept through rebuilds like the schedule)
  relations        (v4) an account's followers / following, first and last seen
  (v4 also added: accounts.account_type; posts.relation (own, own_reply, comment, context,
   received, story), posts.out_of_scope, posts.expires_at, posts.in_browser / in_export;
   account_crawls.gaps, the gap report)
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bewaar.errors import EnvironmentProblem, InputError
from catalog.query import SCHEMA_VERSION, readonly_uri  # one schema constant, one URI form

_V1 = """
CREATE TABLE warc_files (
    collection TEXT NOT NULL,
    name       TEXT NOT NULL,            -- file name in collections/NAME/archive/
    size       INTEGER NOT NULL,         -- bytes when read (a grown file is read again)
    crawl_id   TEXT NOT NULL,            -- from the file's warcinfo record
    PRIMARY KEY (collection, name)
);
CREATE TABLE crawls (
    id            INTEGER PRIMARY KEY,
    collection    TEXT NOT NULL,
    crawl_id      TEXT NOT NULL,         -- bewaar's crawl id, e.g. 20240501T093000Z-1a2b
    started       TEXT NOT NULL,         -- first page capture, ISO 8601 UTC
    ended         TEXT NOT NULL,         -- last page capture
    pages_ok      INTEGER NOT NULL DEFAULT 0,
    pages_blocked INTEGER NOT NULL DEFAULT 0,
    pages_failed  INTEGER NOT NULL DEFAULT 0,
    pages_gone    INTEGER NOT NULL DEFAULT 0,
    UNIQUE (collection, crawl_id)
);
CREATE TABLE accounts (
    id           INTEGER PRIMARY KEY,
    collection   TEXT NOT NULL,
    name         TEXT NOT NULL,          -- "mastodon:minbzk"; a site's host for URL seeds
    platform     TEXT NOT NULL,
    handle       TEXT NOT NULL DEFAULT '',
    display_name TEXT,                   -- from the latest profile version
    profile_url  TEXT,                   -- the profile page last captured
    UNIQUE (collection, name)
);
CREATE TABLE account_crawls (
    account         INTEGER NOT NULL REFERENCES accounts(id),
    crawl           INTEGER NOT NULL REFERENCES crawls(id),
    started         TEXT NOT NULL,
    ended           TEXT NOT NULL,
    pages_ok        INTEGER NOT NULL DEFAULT 0,
    pages_blocked   INTEGER NOT NULL DEFAULT 0,
    pages_failed    INTEGER NOT NULL DEFAULT 0,
    pages_gone      INTEGER NOT NULL DEFAULT 0,
    posts_seen      INTEGER NOT NULL DEFAULT 0,
    profile_version INTEGER REFERENCES profile_versions(id),
    profile_page    INTEGER REFERENCES pages(id),
    counts          TEXT,                -- profile counts JSON seen in this crawl
    PRIMARY KEY (account, crawl)
);
CREATE TABLE pages (
    id           INTEGER PRIMARY KEY,
    crawl        INTEGER NOT NULL REFERENCES crawls(id),
    account      INTEGER REFERENCES accounts(id),
    url          TEXT NOT NULL,          -- final URL (what replay finds)
    requested    TEXT NOT NULL,          -- URL asked for
    captured_at  TEXT NOT NULL,          -- main document's time, ISO 8601 UTC
    kind         TEXT NOT NULL,          -- profile | post | page | recheck
    outcome      TEXT NOT NULL,          -- ok | blocked | failed | gone
    reason       TEXT NOT NULL DEFAULT '',
    status       INTEGER,                -- HTTP status of the main document
    title        TEXT NOT NULL DEFAULT '',
    post_id      TEXT,                   -- recheck pages: the post re-checked
    response_id  TEXT,                   -- WARC-Record-ID of the main response
    warc         TEXT NOT NULL,          -- the urn:pageinfo record: file, offset, length
    offset       INTEGER NOT NULL,
    length       INTEGER NOT NULL
);
CREATE INDEX pages_crawl ON pages(crawl);
CREATE INDEX pages_account ON pages(account, captured_at);
CREATE TABLE profile_versions (
    id           INTEGER PRIMARY KEY,
    account      INTEGER NOT NULL REFERENCES accounts(id),
    seq          INTEGER NOT NULL,       -- 1, 2, ... per account
    crawl        INTEGER NOT NULL REFERENCES crawls(id),
    page         INTEGER NOT NULL REFERENCES pages(id),
    captured_at  TEXT NOT NULL,
    name         TEXT,
    bio          TEXT,
    avatar       TEXT,                   -- URL as the page gave it
    avatar_key   TEXT,                   -- payload digest when captured, else the URL's path
    header       TEXT,
    header_key   TEXT,
    location     TEXT,
    links        TEXT NOT NULL DEFAULT '[]',
    verified     INTEGER,
    content_hash TEXT NOT NULL,          -- sha256 of the compared fields
    counts       TEXT NOT NULL DEFAULT '{}',
    object       TEXT NOT NULL,          -- the information object as captured (JSON)
    warc         TEXT NOT NULL,          -- the urn:objects record holding it
    offset       INTEGER NOT NULL,
    length       INTEGER NOT NULL,
    UNIQUE (account, seq)
);
CREATE TABLE posts (
    id             INTEGER PRIMARY KEY,
    account        INTEGER NOT NULL REFERENCES accounts(id),
    post_id        TEXT NOT NULL,        -- the platform's id (objects' `id`)
    url            TEXT,                 -- canonical URL (objects' `url`)
    reply_to       TEXT,                 -- parent post id for replies and comments
    author         TEXT,                 -- handle
    author_name    TEXT,
    published_at   TEXT,                 -- ISO 8601 UTC, or NULL when the page gave words only
    published_text TEXT,
    first_seen     TEXT NOT NULL,
    first_crawl    INTEGER NOT NULL REFERENCES crawls(id),
    last_seen      TEXT NOT NULL,
    last_crawl     INTEGER NOT NULL REFERENCES crawls(id),
    status         TEXT NOT NULL DEFAULT 'online'
                   CHECK (status IN ('online', 'deleted', 'unverified')),
    status_at      TEXT,                 -- when the status last changed
    status_reason  TEXT,                 -- the platform's answer: "HTTP 404", a login wall, ...
    latest_version INTEGER REFERENCES post_versions(id),
    versions       INTEGER NOT NULL DEFAULT 0,
    UNIQUE (account, post_id)
);
CREATE INDEX posts_published ON posts(account, published_at);
CREATE INDEX posts_when ON posts(coalesce(published_at, first_seen));  -- the overview's order
CREATE TABLE post_versions (
    id           INTEGER PRIMARY KEY,
    post         INTEGER NOT NULL REFERENCES posts(id),
    seq          INTEGER NOT NULL,       -- 1, 2, ... per post
    crawl        INTEGER NOT NULL REFERENCES crawls(id),
    page         INTEGER NOT NULL REFERENCES pages(id),
    captured_at  TEXT NOT NULL,          -- first capture of this version: replay it here
    page_url     TEXT NOT NULL,          -- the page it was read from
    source       TEXT NOT NULL,          -- post (its own page) | listing (profile, thread)
    title        TEXT,
    text         TEXT,
    text_hash    TEXT NOT NULL,          -- sha256 of the normalised title + text
    media        TEXT NOT NULL DEFAULT '[]',  -- [{kind, url, key}] key: digest or URL path
    media_hash   TEXT NOT NULL,
    counts       TEXT NOT NULL DEFAULT '{}',
    edited_at    TEXT,
    is_edit      INTEGER NOT NULL DEFAULT 0,  -- 1: differs from the one before by an edit
    object       TEXT NOT NULL,
    warc         TEXT NOT NULL,          -- the urn:objects record holding the object
    offset       INTEGER NOT NULL,
    length       INTEGER NOT NULL,
    UNIQUE (post, seq)
);
CREATE TABLE post_sightings (
    post        INTEGER NOT NULL REFERENCES posts(id),
    crawl       INTEGER NOT NULL REFERENCES crawls(id),
    version     INTEGER NOT NULL REFERENCES post_versions(id),
    page        INTEGER NOT NULL REFERENCES pages(id),
    captured_at TEXT NOT NULL,
    source      TEXT NOT NULL,
    counts      TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (post, crawl)
) WITHOUT ROWID;
CREATE INDEX sightings_version ON post_sightings(version);
CREATE INDEX sightings_crawl ON post_sightings(crawl);
CREATE TABLE changes (
    id          INTEGER PRIMARY KEY,
    account     INTEGER NOT NULL REFERENCES accounts(id),
    crawl       INTEGER NOT NULL REFERENCES crawls(id),
    detected_at TEXT NOT NULL,           -- capture time of the page that showed it
    type        TEXT NOT NULL CHECK (type IN ('new', 'found', 'edited', 'deleted', 'restored',
                                              'unverified', 'profile', 'counts')),
    post        INTEGER REFERENCES posts(id),
    version     INTEGER,                 -- post_versions.id, or profile_versions.id
    previous    INTEGER,                 -- the version before (edited, profile)
    page        INTEGER REFERENCES pages(id),  -- the page that showed it
    detail      TEXT NOT NULL DEFAULT '{}'     -- JSON: fields, old/new, word diff, reason
);
CREATE INDEX changes_account ON changes(account, detected_at);
CREATE INDEX changes_post ON changes(post);
CREATE VIRTUAL TABLE post_text USING fts5(
    title, text, content='post_versions', content_rowid='id',
    tokenize='unicode61 remove_diacritics 2'
);
"""

_V2 = """
CREATE TABLE schedule (
    collection   TEXT NOT NULL,
    account      TEXT NOT NULL,          -- accounts.name: "mastodon:minbzk", a host
    every        INTEGER NOT NULL,       -- seconds between runs
    next_due     TEXT NOT NULL,          -- ISO 8601 UTC
    last_start   TEXT,
    last_end     TEXT,
    last_exit    INTEGER,                -- exit status of the last `bewaar crawl`
    last_crawl   TEXT,                   -- its crawl id
    last_message TEXT,
    running      TEXT,                   -- "host:pid" while a run is under way
    PRIMARY KEY (collection, account)
);
"""

_V3 = """
CREATE TABLE removals (
    id          INTEGER PRIMARY KEY,
    collection  TEXT NOT NULL,
    record      TEXT NOT NULL,           -- ledger/records/RECORD.json of the collection
    kind        TEXT NOT NULL CHECK (kind IN ('destroyed', 'redacted')),
    at          TEXT NOT NULL,           -- when it was carried out, ISO 8601 UTC
    account     TEXT,                    -- accounts.name the post belonged to
    post_id     TEXT,                    -- the platform's id (destroyed posts)
    url         TEXT,                    -- destroyed posts: their URL; redacted: NULL
    url_sha256  TEXT,                    -- the URL's sha256 (redacted posts: their URL is not kept)
    reason      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX removals_collection ON removals(collection, at);
"""

_V4 = """
ALTER TABLE accounts ADD COLUMN account_type TEXT;  -- corporate | project | personal | hybrid
-- what a post is to the account: own (its own post), own_reply (its reply in a thread),
-- comment (someone's reply under its post), context (a post one of its replies answers),
-- received (someone's post mentioning or tagging it), story (its temporary content)
ALTER TABLE posts ADD COLUMN relation TEXT NOT NULL DEFAULT 'own';
UPDATE posts SET relation = 'comment' WHERE reply_to IS NOT NULL;
ALTER TABLE posts ADD COLUMN out_of_scope TEXT;   -- JSON {rule, matched}: not government info
ALTER TABLE posts ADD COLUMN expires_at TEXT;     -- stories: when the platform removes it
ALTER TABLE posts ADD COLUMN in_browser INTEGER NOT NULL DEFAULT 1;  -- seen in a browser capture
ALTER TABLE posts ADD COLUMN in_export INTEGER NOT NULL DEFAULT 0;   -- read from a platform export
CREATE INDEX posts_relation ON posts(account, relation);
ALTER TABLE account_crawls ADD COLUMN gaps TEXT;  -- JSON: the gap report of this crawl
CREATE TABLE relations (
    account     INTEGER NOT NULL REFERENCES accounts(id),
    type        TEXT NOT NULL CHECK (type IN ('follower', 'following')),
    handle      TEXT NOT NULL,           -- lower case; the key
    name        TEXT,
    url         TEXT,
    avatar      TEXT,
    since       TEXT,                    -- the platform's date of the relation, where shown
    first_seen  TEXT NOT NULL,           -- when bewaar first saw it
    first_crawl INTEGER NOT NULL REFERENCES crawls(id),
    last_seen   TEXT NOT NULL,
    last_crawl  INTEGER NOT NULL REFERENCES crawls(id),
    PRIMARY KEY (account, type, handle)
) WITHOUT ROWID;
"""

MIGRATIONS: dict[int, str] = {1: _V1, 2: _V2, 3: _V3, 4: _V4}

# Tables `bewaar catalog rebuild` empties and fills again from the WARCs, children first.
DERIVED_TABLES = (
    "relations", "changes", "post_sightings", "post_versions", "posts", "profile_versions",
    "account_crawls", "pages", "accounts", "crawls", "warc_files",
)  # fmt: skip


def migrate(con: sqlite3.Connection) -> int:
    """Bring the file to SCHEMA_VERSION; returns the version it had."""
    found = con.execute("PRAGMA user_version").fetchone()[0]
    check_version(found, con)
    if found == SCHEMA_VERSION:
        return found
    con.execute("BEGIN IMMEDIATE")
    try:
        found = con.execute("PRAGMA user_version").fetchone()[0]  # another process may have won
        for version in range(found + 1, SCHEMA_VERSION + 1):
            for statement in _statements(MIGRATIONS[version]):
                con.execute(statement)
            con.execute(f"PRAGMA user_version = {version}")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return found


def _statements(script: str) -> list[str]:
    """Split a migration into statements (executescript would commit on its own)."""
    out, buf = [], ""
    for line in script.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            out.append(buf.strip())
            buf = ""
    return [s for s in out if s]


def check_version(found: int, con: sqlite3.Connection | None = None) -> None:
    if found > SCHEMA_VERSION:
        path = _db_path(con)
        raise EnvironmentProblem(
            f"{path}: catalog schema {found} is newer than this bewaar knows ({SCHEMA_VERSION}): "
            "upgrade bewaar (or move the file away and run `bewaar catalog rebuild`)"
        )


def _db_path(con: sqlite3.Connection | None) -> str:
    if con is None:
        return "catalog"
    row = con.execute("PRAGMA database_list").fetchone()
    return row[2] if row and row[2] else "catalog"


def _configure(con: sqlite3.Connection, wait: float) -> None:
    con.row_factory = sqlite3.Row
    con.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
    con.execute("PRAGMA foreign_keys = ON")


def open_catalog(path: Path, wait: float = 30.0, create: bool = True) -> sqlite3.Connection:
    """A read-write connection in autocommit mode (transactions are explicit), migrated."""
    if not create and not path.exists():
        raise InputError(
            f"no catalog at {path}: run a crawl, or `bewaar catalog rebuild` to make one"
        )
    try:
        con = sqlite3.connect(path, isolation_level=None, timeout=wait)
        _configure(con, wait)
        if con.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            con.execute("PRAGMA journal_mode = WAL")
        con.execute("PRAGMA synchronous = NORMAL")
        migrate(con)
    except sqlite3.OperationalError as e:
        raise locked_or(e, path) from None
    except sqlite3.DatabaseError as e:
        raise EnvironmentProblem(
            f"{path}: not a usable catalog ({e}): move it away and run `bewaar catalog rebuild`"
        ) from None
    return con


def open_readonly(path: Path, wait: float = 10.0) -> sqlite3.Connection:
    """For queries: never creates or migrates; refuses a file from a newer bewaar."""
    if not path.exists():
        raise InputError(
            f"no catalog at {path}: run a crawl, or `bewaar catalog rebuild` to make one"
        )
    try:
        con = sqlite3.connect(readonly_uri(path), uri=True, isolation_level=None, timeout=wait)
        _configure(con, wait)
        version = con.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.OperationalError as e:
        raise locked_or(e, path) from None
    except sqlite3.DatabaseError as e:
        raise EnvironmentProblem(
            f"{path}: not a usable catalog ({e}): move it away and run `bewaar catalog rebuild`"
        ) from None
    check_version(version, con)
    if version < SCHEMA_VERSION:
        con.close()
        open_catalog(path, wait).close()  # an older file is migrated once, then read
        return open_readonly(path, wait)
    return con


class CatalogLocked(EnvironmentProblem):
    """Another process holds the write lock longer than we were willing to wait."""


def locked_or(e: sqlite3.OperationalError, path: Path) -> Exception:
    if "locked" in str(e) or "busy" in str(e):
        return CatalogLocked(
            f"{path} is locked by another process (a crawl, `bewaar watch` or a rebuild): "
            "try again when it has finished, or give --wait more seconds"
        )
    return EnvironmentProblem(f"{path}: {e}")


@contextmanager
def write_transaction(con: sqlite3.Connection, path: Path) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE (take the write lock up front, waiting busy_timeout), COMMIT or
    ROLLBACK: a crash leaves the catalog as it was."""
    try:
        con.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as e:
        raise locked_or(e, path) from None
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    else:
        con.execute("COMMIT")

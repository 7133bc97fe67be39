"""One crawl of the Mastodon fixture (a profile, posts, citizens' replies, media with a
revisit) shared by the access tests, with accounts and restrictions set through the real CLI,
and plain HTTP helpers that can pose as another address (a proxy) or carry a session."""

from __future__ import annotations

import http.client as httpclient
import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
import yaml

from bewaar.sites.platforms import SITES
from tests.conftest import BIN, make_root, run_bewaar, write_seeds

PASSWORD = "correct horse battery staple"
RESTRICTED_ID = "1790000000000000001"  # the GIF post: its video is stored once, then as revisits
THREAD_ID = "1790000000000000005"  # the post citizens replied to


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    cookies: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def fetch(
    url: str, method: str = "GET", headers: dict[str, str] | None = None, body: bytes | None = None,
    cookie: str | None = None, source: str | None = None,
) -> Answer:  # fmt: skip
    """One request, no redirects followed; `source` binds the client to another loopback
    address (127.0.0.2 plays the reverse proxy)."""
    parts = urlsplit(url)
    conn = httpclient.HTTPConnection(
        parts.hostname, parts.port, timeout=60, source_address=(source, 0) if source else None
    )
    hdrs = dict(headers or {})
    if cookie:
        hdrs["Cookie"] = cookie
    path = parts.path + ("?" + parts.query if parts.query else "")
    try:
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        data = r.read()
        return Answer(r.status, {k.lower(): v for k, v in r.getheaders()}, data,
                      [v for k, v in r.getheaders() if k.lower() == "set-cookie"])  # fmt: skip
    finally:
        conn.close()



def login(
    overview: str, name: str, password: str = PASSWORD, headers: dict[str, str] | None = None,
    **kw: Any,
) -> Answer:  # fmt: skip
    data = urlencode({"name": name, "password": password, "next": ""}).encode()
    hdrs = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    return fetch(overview.replace("/_overview", "") + "/_login", "POST", body=data, headers=hdrs, **kw)


def session_cookie(answer: Answer) -> str:
    for c in answer.cookies:
        if c.startswith("bewaar_session="):
            return c.split(";", 1)[0]
    raise AssertionError(f"no session cookie: {answer.status} {answer.cookies}")


def add_user(root: Path, name: str, role: str, *extra: str) -> None:
    proc = subprocess.run(
        [str(BIN), "users", "add", name, "--role", role, "--root", str(root), *extra],
        input=PASSWORD + "\n", capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr


@dataclass
class Archive:
    root: Path
    base: str  # the fixture site's URL as captured
    index: list[tuple[str, str, dict[str, Any]]]  # (key, timestamp, fields) of the CDXJ

    def url(self, path: str) -> str:
        return self.base + path

    def stamp(self, url: str) -> str:
        return next(ts for _k, ts, d in self.index if d["url"] == url)

    def entries(self, url: str) -> list[dict[str, Any]]:
        return [d for _k, _ts, d in self.index if d["url"] == url]


@pytest.fixture(scope="session")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    tmp = tmp_path_factory.mktemp("access")
    site = SITES["mastodon"]()
    site.start()
    try:
        root = make_root(tmp / "root", replay={"auth": {"trusted_proxies": ["127.0.0.2/32"]}})
        seeds = write_seeds(tmp / "seeds.yaml", {"collection": "gov", "seeds": [{
            "platform": "mastodon", "handle": site.handle_in_seed, "base_url": site.base_url,
            "max_posts": 6,
        }]})  # fmt: skip
        proc = run_bewaar("crawl", str(seeds), "--root", str(root))
        assert proc.returncode == 0, proc.stderr
        base = site.base_url
    finally:
        site.stop()
    add_user(root, "anna", "reader")
    add_user(root, "arch", "archivist")
    add_user(root, "elsewhere", "reader", "--collections", "other")
    for args in (
        ("--post", f"{base}/@minbzk/{RESTRICTED_ID}", "--reason", "openbaarheidsbeperking art. 15"),
        ("--replies-by-others", "--reason", "AVG: replies by citizens"),
    ):
        proc = run_bewaar("restrict", "add", *args, "--root", str(root), "--by", "tester")
        assert proc.returncode == 0, proc.stderr
    index = []
    for line in (root / "collections/gov/indexes/index.cdxj").read_text(encoding="utf-8").splitlines():
        key, ts, data = line.split(" ", 2)
        index.append((key, ts, json.loads(data)))
    yield Archive(root, base, index)


def copy_root(archive: Archive, dest: Path, auth: dict[str, Any]) -> Path:
    """The same archive with other access settings (the copy keeps users and restrictions)."""
    shutil.copytree(archive.root, dest, ignore=shutil.ignore_patterns("*.lock"))
    cfg = yaml.safe_load((dest / "bewaar.yaml").read_text(encoding="utf-8"))
    cfg.setdefault("replay", {})["auth"] = auth
    (dest / "bewaar.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return dest

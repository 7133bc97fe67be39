"""The overview answers bad input with a 4xx and a page that says why, never a 500: a NUL in
the search, page numbers past any catalog, the calendar's first and last days, ids beyond
SQLite's integers, a catalog of the right version without tables. Then generated input
(hypothesis) for every query parameter and path, in process against a real catalog."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bewaar.app.web.overview import OverviewApp
from bewaar.sites.synth import Synth, post, post_page, profile, profile_page
from catalog.api import update_after_crawl


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> OverviewApp:
    s = Synth(tmp_path_factory.mktemp("overview-input") / "root")
    a = post("1", "Een bericht over de Woo")
    update_after_crawl(s.root.path, "gov", s.crawl("2024-05-01T10:00:00Z", [profile_page(profile(), a), post_page(a)]))
    return OverviewApp(s.root.catalog_file)


def call(app: OverviewApp, path: str, query: str = "", method: str = "GET") -> tuple[int, bytes]:
    out: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        out["status"] = int(status.split()[0])

    env = {"PATH_INFO": "/_overview" + path, "QUERY_STRING": query, "REQUEST_METHOD": method}
    body = b"".join(app(env, start_response))
    return out["status"], body


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("q=%00", 400),
        ("q=woo%00drop", 400),
        ("account=%00", 400),
        ("page=99999999999999999999999", 400),
        ("page=100001", 400),
        ("page=0", 400),
        ("page=-1", 400),
        ("page=%D9%A3", 400),  # an Arabic-Indic digit: isdigit() but not a page number
        ("to=9999-12-31", 200),
        ("from=9999-12-31&to=9999-12-31&date_of=changed", 200),
        ("from=0001-01-01&to=0001-01-01&date_of=captured", 200),
        ("to=10000-01-01", 200),  # not a date: shown as a note, the rest still answers
        ("from=20240501", 200),
        ("q=woo", 200),
        ("page=100000", 200),
    ],
)
def test_bad_queries_are_4xx(app: OverviewApp, query: str, status: int) -> None:
    got, body = call(app, "/", query)
    assert got == status, (query, got, body[:300])


@pytest.mark.parametrize(
    "path",
    ["/post/99999999999999999999", "/post/9223372036854775808", "/account/0",
     "/static/..%2F..%2Fetc%2Fpasswd", "/static/\x00", "/static/../overview.py", "/nope"],
)
def test_bad_paths_are_404(app: OverviewApp, path: str) -> None:
    assert call(app, path)[0] == 404


def test_a_catalog_without_tables_is_503_not_500(tmp_path: Path) -> None:
    empty = tmp_path / "catalog.sqlite"
    con = sqlite3.connect(empty)
    con.execute("PRAGMA user_version = 2")  # the right version, nothing in it
    con.close()
    broken = OverviewApp(empty)
    for path in ("/", "/post/1", "/account/1"):
        status, body = call(broken, path)
        assert status == 503 and b"cannot be read" in body, (path, status)


# --------------------------------------------------------------------------- generated
KEYS = st.sampled_from(["q", "page", "from", "to", "account", "platform", "change", "date_of", "replies"])
VALUES = st.one_of(
    st.text(max_size=60),
    st.integers(min_value=-(2**80), max_value=2**80).map(str),
    st.dates().map(str),
    st.from_regex(r"\d{4}-\d{2}-\d{2}", fullmatch=True),
    st.sampled_from(["9999-12-31", "0001-01-01", "published", "captured", "changed", "edited", "1"]),
)


@settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=st.dictionaries(KEYS, VALUES, max_size=6), raw=st.text(max_size=40))
def test_generated_queries_never_500(app: OverviewApp, params: dict[str, str], raw: str) -> None:
    status, _ = call(app, "/", urlencode(params) + "&" + raw)
    assert status in (200, 400), (params, raw, status)


@settings(max_examples=200, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.one_of(
    st.text(max_size=40).map(lambda t: "/" + t),
    st.integers(min_value=-(2**70), max_value=2**70).map(lambda n: f"/post/{n}"),
    st.integers(min_value=-(2**70), max_value=2**70).map(lambda n: f"/account/{n}"),
    st.text(max_size=30).map(lambda t: "/static/" + t),
))
def test_generated_paths_never_500(app: OverviewApp, path: str) -> None:
    status, _ = call(app, path)
    assert status in (200, 400, 404), (path, status)

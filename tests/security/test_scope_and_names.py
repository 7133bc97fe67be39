"""The prefix scope compares scheme, host and port exactly and the path on a segment boundary;
seed URLs and collection names are checked whole (the attacks: look-alike hosts, user-info,
trailing newlines, '..')."""

from __future__ import annotations

from pathlib import Path

import pytest

from bewaar.config import SeedList, check_http_url
from bewaar.errors import InputError
from bewaar.model import Root, valid_collection_name
from crawler.scope import in_scope
from tests.conftest import make_root, run_bewaar

SEED = "https://example.org"


@pytest.mark.parametrize(
    "url",
    [
        "https://example.org.evil.net/",
        "https://example.org@evil.net/",
        "https://example.orgevil.com/",
        "https://example.org:444/",
        "http://example.org/",
        "https://evil.net/https://example.org/",
        "https://example.org\\@evil.net/",
        "javascript:alert(1)//https://example.org/",
    ],
)
def test_prefix_scope_refuses_look_alikes(url: str) -> None:
    assert not in_scope(url, SEED, "prefix")
    assert not in_scope(url, SEED, "host")


@pytest.mark.parametrize(
    "url", ["https://example.org/", "https://EXAMPLE.org/a", "https://example.org:443/b?c=d"]
)
def test_prefix_scope_keeps_the_site(url: str) -> None:
    assert in_scope(url, SEED, "prefix") and in_scope(url, SEED, "host")


def test_prefix_is_on_a_segment_boundary() -> None:
    seed = "https://example.org/user/minbzk"
    assert in_scope("https://example.org/user/minbzk", seed, "prefix")
    assert in_scope("https://example.org/user/minbzk?tab=posts", seed, "prefix")
    assert in_scope("https://example.org/user/minbzk/status/1", seed, "prefix")
    assert not in_scope("https://example.org/user/minbzkfake", seed, "prefix")
    assert not in_scope("https://example.org/user/minbzk.evil", seed, "prefix")
    assert in_scope("https://example.org/user/x", "https://example.org/user/", "prefix")
    # where the seed redirected to counts as a start too
    assert in_scope("https://www.example.org/a/b", seed, "prefix", ["https://www.example.org/a"])
    assert not in_scope("https://www.example.org/ab", seed, "prefix", ["https://www.example.org/a"])


def test_page_scope_is_the_page_only() -> None:
    assert in_scope("https://example.org/p?x=1#frag", "https://example.org/p?x=1", "page")
    assert not in_scope("https://example.org/p?x=2", "https://example.org/p?x=1", "page")


@pytest.mark.parametrize(
    "url",
    [
        "https://example.org/\n",
        "https://example.org/ x",
        "https://example.org@evil.net/",
        "https://user:pw@example.org/",
        "https://example.org\\@evil.net/",
        "https://exa\x00mple.org/",
        "https://example.org:0x50/",
        "https:///path",
        "file:///etc/passwd",
    ],
)
def test_bad_seed_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        check_http_url(url)


@pytest.mark.parametrize("name", ["c\n", "..", "a..b", "../x", "x/y", ".hidden", "A", "", "c\x00", "a" * 65])
def test_bad_collection_names(name: str) -> None:
    assert not valid_collection_name(name)
    with pytest.raises(InputError):
        Root(Path("/tmp/r")).collection(name)
    with pytest.raises(ValueError):
        SeedList.model_validate({"collection": name, "seeds": [{"url": SEED}]})


def test_good_collection_names() -> None:
    for name in ("gemeente", "a.b_c-1", "2024"):
        assert valid_collection_name(name)


def test_cli_refuses_a_collection_path(tmp_path: Path) -> None:
    """`bewaar index ../../x` must not write outside collections/."""
    root = make_root(tmp_path / "root")
    proc = run_bewaar("index", "../../escape", "--root", str(root), timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "is not a collection name" in proc.stderr
    assert not (tmp_path / "escape").exists()

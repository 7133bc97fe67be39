"""Generated bad input (hypothesis) for the seed loader, bewaar.yaml and the login-state
importer: every case ends in the loaded value or one line of InputError (exit 2) naming the
file, never another exception, a hang or unbounded memory. Each property runs a bounded number
of examples with a per-example deadline, so the whole module stays at a few seconds; the
constructions that once hung or crashed (deep nesting, alias bombs, 5,000-digit integers,
NaN expiries) are always among the cases. A few of them go through the real `bewaar` command
too, for the exit status and the single line."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bewaar.config import load_root_config, load_seed_list
from bewaar.errors import InputError
from crawler.login_state import read_state_file
from tests.conftest import run_bewaar

FUZZ = settings(
    max_examples=100, deadline=3000, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)  # fmt: skip
MEMORY_LIMIT = 50_000_000  # bytes Python may allocate for one bad file

ALIAS_BOMB = "".join(
    f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}" if i else "x"] * 10) + "]\n" for i in range(9)
)
HOSTILE = [
    "collection: c\nseeds: " + "[" * 20000 + "]" * 20000 + "\n",
    "a: " + "{" * 100000,
    "collection: c\nseeds:\n" + "".join("  " * i + f"- k{i}:\n" for i in range(200)),
    ALIAS_BOMB + "collection: c\nseeds: *l8\n",
    ALIAS_BOMB + "crawl: {allow_private: *l8}\nreplay: {pywb: {x: *l8}}\n",
    "collection: c\nseeds:\n - url: https://a.nl/\n   depth: " + "9" * 5000 + "\n",
    "collection: !!python/object/apply:os.system [id]\nseeds: []\n",
    "\x00\x01\x02",
    "collection: c\nseeds:\n - url: \"https://a.nl/\\n\"\n",
    "collection: \"c\\n\"\nseeds:\n - url: https://a.nl/\n",
    "collection: ../../etc\nseeds:\n - url: https://a.nl/\n",
    "crawl:\n  allow_private: ['10.0.0.0/33', 'not a host!']\n",
]

# YAML-ish values: what a person (or a broken editor) could put in a configuration file
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
    st.text(max_size=30), st.sampled_from(["https://a.nl/", "ftp://x", "..", "c\n", "1h", "page"]),
)  # fmt: skip
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
SEED_KEYS = st.sampled_from(
    ["url", "platform", "handle", "base_url", "scope", "depth", "max_posts", "replies",
     "login_state", "every", "bogus"]
)  # fmt: skip
SEED_LISTS = st.fixed_dictionaries(
    {},
    optional={
        "collection": st.one_of(st.text(max_size=20), VALUES),
        "seeds": st.lists(st.dictionaries(SEED_KEYS, VALUES, max_size=5), max_size=3) | VALUES,
        "behaviors": st.dictionaries(st.sampled_from(["scroll_timeout", "more_patterns", "max_clicks"]), VALUES),
        "platforms": st.dictionaries(st.sampled_from(["x", "mastodon", "myspace"]), VALUES),
        "every": VALUES,
    },
)
ROOT_CONFIGS = st.fixed_dictionaries(
    {},
    optional={
        "crawl": st.dictionaries(st.sampled_from(["concurrency", "allow_private", "warc_max_size", "x"]), VALUES),
        "browser": st.dictionaries(st.sampled_from(["loopback_only", "args", "viewport_width"]), VALUES),
        "replay": st.dictionaries(st.sampled_from(["port", "overview_port", "pywb"]), VALUES),
        "signing": st.dictionaries(st.sampled_from(["key", "tsa_timeout"]), VALUES),
    },
)


def _dump(data: Any) -> str:
    try:
        return yaml.safe_dump(data, allow_unicode=True)
    except yaml.YAMLError:
        return str(data)


def _one_line_or_value(load: Callable[[Path], Any], path: Path) -> None:
    tracemalloc.start()
    try:
        load(path)
    except InputError as e:
        text = str(e)
        assert "\n" not in text and "\r" not in text, text
        assert text.startswith(str(path)), text
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < MEMORY_LIMIT, f"{peak} bytes for {path.stat().st_size} bytes of input"


@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_seed_lists_and_configs(tmp_path: Path, text: str) -> None:
    path = tmp_path / "seeds.yaml"
    path.write_text(text, encoding="utf-8")
    _one_line_or_value(load_seed_list, path)
    (tmp_path / "bewaar.yaml").write_text(text, encoding="utf-8")
    _one_line_or_value(lambda p: load_root_config(p.parent), tmp_path / "bewaar.yaml")


@FUZZ
@given(data=SEED_LISTS, raw=st.text(max_size=200))
@example(data={}, raw="collection: c\nseeds:\n  - url: 'https://a.nl/'\n    depth: .nan\n")
def test_generated_seed_lists(tmp_path: Path, data: dict[str, Any], raw: str) -> None:
    path = tmp_path / "seeds.yaml"
    for text in (_dump(data), raw):
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        _one_line_or_value(load_seed_list, path)


@FUZZ
@given(data=ROOT_CONFIGS, raw=st.text(max_size=200))
def test_generated_root_configs(tmp_path: Path, data: dict[str, Any], raw: str) -> None:
    path = tmp_path / "bewaar.yaml"
    for text in (_dump(data), raw):
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        _one_line_or_value(lambda p: load_root_config(p.parent), path)


COOKIE = st.dictionaries(
    st.sampled_from(["name", "value", "domain", "path", "expires", "expirationDate", "httpOnly",
                     "secure", "sameSite", "hostOnly", "session"]),
    VALUES, max_size=8,
)  # fmt: skip
STATES = st.one_of(
    st.fixed_dictionaries({"cookies": st.lists(COOKIE, max_size=3) | VALUES},
                          optional={"origins": VALUES | st.lists(st.dictionaries(
                              st.sampled_from(["origin", "localStorage"]), VALUES), max_size=2)}),
    st.lists(COOKIE, max_size=3),
    VALUES,
)  # fmt: skip
NETSCAPE_LINE = st.lists(st.text(alphabet=st.characters(blacklist_characters="\t\n"), max_size=12), min_size=5, max_size=8).map("\t".join)


@FUZZ
@given(state=STATES, lines=st.lists(NETSCAPE_LINE, max_size=4), raw=st.binary(max_size=200))
@example(state={"cookies": [{"name": "a", "value": "b", "domain": "x.com", "expires": float("nan")}]}, lines=[], raw=b"")
@example(state={"cookies": [{"name": "a\n", "value": "b", "domain": "x.com"}]}, lines=[], raw=b"[" * 100000)
def test_generated_login_states(tmp_path: Path, state: Any, lines: list[str], raw: bytes) -> None:
    path = tmp_path / "state.json"
    try:
        text = json.dumps(state, allow_nan=True)
    except (ValueError, TypeError):
        text = "{}"
    for content in (text.encode(), "\n".join(lines).encode("utf-8", "surrogatepass"), raw):
        path.write_bytes(content)
        _one_line_or_value(read_state_file, path)
        _one_line_or_value(lambda p: read_state_file(p, "x"), path)


@pytest.mark.parametrize("which", [0, 3, 5, 9])
def test_the_command_says_one_line_and_exits_2(tmp_path: Path, which: int) -> None:
    seeds = tmp_path / "seeds.yaml"
    seeds.write_text(HOSTILE[which], encoding="utf-8")
    proc = run_bewaar("crawl", str(seeds), "--root", str(tmp_path / "root"), timeout=60)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"bewaar: error: {seeds}"), proc.stderr


def test_a_hostile_login_state_import_is_one_line(tmp_path: Path) -> None:
    src = tmp_path / "cookies.json"
    src.write_text("[" * 200000, encoding="utf-8")
    proc = run_bewaar("login", "x", "--import", str(src), "--root", str(tmp_path / "root"), timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr

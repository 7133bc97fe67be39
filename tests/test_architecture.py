"""The package rules, as drawn in docs/architecture.md, checked on every import statement.

crawler/, replay/, signing/ and catalog/ import only the shared base (bewaar/, without its
application layer bewaar/app and the example sites bewaar/sites) and themselves; only the
application layer composes them; installed code never imports tests; the process that runs in
pywb's own environment imports nothing of bewaar's.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("crawler", "replay", "signing", "catalog")
OURS = ("bewaar", *PACKAGES, "tests", "benchmarks")
PYWB_PROCESS = {"replay/pywb_app.py"}  # runs in pywb's venv: stdlib, pywb and its deps only


def layer(path: Path) -> str:
    rel = path.relative_to(REPO).parts
    if rel[0] == "bewaar":
        if len(rel) > 1 and rel[1] in ("app", "sites"):
            return f"bewaar.{rel[1]}"
        return "base"
    return rel[0]


def module_layer(name: str) -> str | None:
    parts = name.split(".")
    if parts[0] not in OURS:
        return None
    if parts[0] == "bewaar":
        if len(parts) > 1 and parts[1] in ("app", "sites"):
            return f"bewaar.{parts[1]}"
        return "base"
    return parts[0]


ALLOWED = {
    "base": {"base"},
    **{p: {"base", p} for p in PACKAGES},
    "bewaar.app": {"base", "bewaar.app", "bewaar.sites", *PACKAGES},
    "bewaar.sites": {"base", "bewaar.sites", *PACKAGES},
    "tests": {"base", "bewaar.app", "bewaar.sites", "tests", *PACKAGES},
    # benchmark scripts are development tools like the tests: they may reuse test helpers
    "benchmarks": {"base", "bewaar.app", "bewaar.sites", "benchmarks", "tests", *PACKAGES},
}


def imports(path: Path, text: str | None = None) -> list[tuple[int, str]]:
    if text is None:
        text = path.read_text(encoding="utf-8")
    tree = ast.parse(text, filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def sources() -> list[Path]:
    out = []
    for top in ("bewaar", *PACKAGES, "tests", "benchmarks"):
        out += sorted((REPO / top).rglob("*.py"))
    return out


def test_the_source_tree_is_what_the_rules_cover() -> None:
    tops = {p.name for p in REPO.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert tops <= {"bewaar", *PACKAGES, "tests"}, f"new top-level package(s): {tops}"


def violations(paths: list[Path], text: str | None = None) -> list[str]:
    wrong = []
    for path in paths:
        rel = str(path.relative_to(REPO))
        own = layer(path)
        for line, name in imports(path, text):
            target = module_layer(name)
            if target is None:
                continue
            if rel in PYWB_PROCESS or target not in ALLOWED[own]:
                wrong.append(f"{rel}:{line}: {own} imports {name}")
    return wrong


def test_imports_follow_the_package_rules() -> None:
    wrong = violations(sources())
    assert not wrong, "imports against the package rules:\n" + "\n".join(wrong)


def test_the_check_sees_a_crossing() -> None:
    """The rule check itself: a crawler module importing the catalog is reported, and so is
    installed code importing tests."""
    probe = REPO / "crawler" / "probe.py"
    assert violations([probe], "from catalog.api import known_posts\n") == [
        "crawler/probe.py:1: crawler imports catalog.api"
    ]
    assert violations([REPO / "bewaar" / "app" / "probe.py"], "import tests.conftest\n")
    assert not violations([probe], "from crawler.job import CrawlJob\nimport scrapy\n")

"""Runs inside pywb's own environment: the rules file and configuration pywb replays with.

Shared by replay/pywb_app.py (the replay server) and replay/pywb_rulecheck.py (the browserless
rule check), so the check tests exactly the rules replay uses. Imports only pywb, yaml and the
standard library.

bewaar's rules (learned per collection, then replay/rules.yaml) go in front of pywb's defaults:
pywb's `rules_file` setting replaces the defaults, so the merged file is written here, where
pywb's own defaults can be read.

pywb's defaults are kept, with one change. A default rule whose fuzzy lookup is `()` (ignore
the query; Instagram, Vimeo, YouTube embeds, Fastly, SoundCloud media, Twitter videos) yields
no filter, and pywb then looks up the URL *without* its query and without a trailing slash as a
prefix: `/p/abc?x=1` also finds `/p/abc/liked_by?...` and `/p/abcd?...`, and serves whichever
sorts first. Such rules are rewritten to filter on the request's own path followed by `?`,
which also makes pywb keep the `?` in its prefix lookup: same path, any query.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pywb import DEFAULT_RULES_FILE
from pywb.utils.loaders import load_yaml_config

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
# fuzzy_lookup values that pywb turns into "no filter": a bare-path prefix lookup
_IGNORE_QUERY = "()"
# the request's urlkey up to its query; the filter requires a record of the same path with a query
PINNED_LOOKUP = {"match": r"^([^?]*)", "filter": ["urlkey:{0}?"]}


def _ignores_query(lookup: Any) -> bool:
    if lookup == _IGNORE_QUERY:
        return True
    if isinstance(lookup, dict) and lookup.get("match") == _IGNORE_QUERY:
        # only the plain form: a custom filter, replace or type already keeps pywb's '?'
        return set(lookup) == {"match"}
    return False


def pin_default_rules(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """pywb's default rules, each `()` rule (except the catch-all, whose general check keeps
    the path) rewritten to stay on the request's own path."""
    out = []
    for rule in rules:
        lookup = rule.get("fuzzy_lookup")
        if rule.get("url_prefix") != "" and lookup is not None and _ignores_query(lookup):
            rule = {**rule, "fuzzy_lookup": dict(PINNED_LOOKUP, filter=list(PINNED_LOOKUP["filter"]))}
        out.append(rule)
    return out


def merged_rules(bewaar_rules_path: Path, out: Path) -> Path:
    default = load_yaml_config(DEFAULT_RULES_FILE)
    text = bewaar_rules_path.read_text(encoding="utf-8")
    ours = (json.loads(text) if bewaar_rules_path.suffix == ".json" else yaml.load(text, Loader=_LOADER)) or {}
    filters = dict(default.get("default_filters") or {})
    filters["url_normalize"] = list(filters.get("url_normalize") or []) + list(
        ours.get("url_normalize") or []
    )
    merged = {
        "default_filters": filters,
        "rules": list(ours.get("rules") or []) + pin_default_rules(default["rules"]),
    }
    # libyaml's emitter where pywb's environment has it: the pure-Python one took 1.9 s for
    # 5,000 rules (pywb then reads the file with its own loader, which bewaar cannot change)
    out.write_text(yaml.dump(merged, Dumper=_DUMPER, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return out


def final_config(config_path: Path, rules_path: Path) -> Path:
    """bewaar's pywb config (written by replay/server.py) with the merged rules file."""
    config = yaml.safe_load(config_path.read_text(encoding="utf-8")) or {}
    config["rules_file"] = str(merged_rules(rules_path, config_path.with_name("rules.merged.yaml")))
    final = config_path.with_name("config.final.yaml")
    final.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return final

"""The latest `bewaar qa` results of a root, for the overview: a score per account and the
pages below the threshold. Standard library only: the overview runs in pywb's environment.

Reads collections/NAME/crawls/CRAWL_ID.qa.json (replay/qa.py writes them); per collection the
newest QA run counts (crawl ids begin with their start time). Files are read again only when
they change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_BELOW = 50
_cache: dict[Path, tuple[int, dict[str, Any]]] = {}


@dataclass
class QAOverview:
    # (collection, account) -> {"min", "mean", "pages", "below", "crawl_id", "checked_at"}
    by_account: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    below: list[dict[str, Any]] = field(default_factory=list)  # worst first
    threshold: float | None = None


def _read(path: Path) -> dict[str, Any] | None:
    try:
        stamp = path.stat().st_mtime_ns
        hit = _cache.get(path)
        if hit and hit[0] == stamp:
            return hit[1]
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    _cache[path] = (stamp, data)
    return data


def load(root: Path) -> QAOverview:
    out = QAOverview()
    colls = root / "collections"
    if not colls.is_dir():
        return out
    for coll in sorted(p for p in colls.iterdir() if p.is_dir()):
        runs = sorted((coll / "crawls").glob("*.qa.json"))
        data = _read(runs[-1]) if runs else None
        if not data:
            continue
        threshold = float((data.get("summary") or {}).get("threshold") or 0.8)
        out.threshold = threshold if out.threshold is None else min(out.threshold, threshold)
        scores: dict[str, list[float]] = {}
        for p in data.get("pages") or []:
            scores.setdefault(p.get("account") or "", []).append(float(p.get("score") or 0))
            if float(p.get("score") or 0) < threshold:
                out.below.append({
                    "collection": coll.name, "crawl_id": data.get("crawl_id"), "url": p.get("url"),
                    "ts": p.get("ts"), "account": p.get("account"), "score": p.get("score"),
                    "visual": p.get("visual"), "text": p.get("text"), "resources": p.get("resources"),
                    "wrong": len(p.get("wrong") or []), "missing": len(p.get("missing") or []),
                    "error": p.get("error") or "", "threshold": threshold,
                })  # fmt: skip
        for account, values in scores.items():
            out.by_account[(coll.name, account)] = {
                "min": min(values),
                "mean": sum(values) / len(values),
                "pages": len(values),
                "below": sum(1 for v in values if v < threshold),
                "crawl_id": data.get("crawl_id"),
                "checked_at": data.get("checked_at"),
            }
    out.below.sort(key=lambda b: (b["score"] or 0, b["url"] or ""))
    out.below = out.below[:MAX_BELOW]
    return out

"""pywb's access-control lists, written from bewaar's restrictions, and the gate's settings.

ROOT/.bewaar/replay/acl/COLLECTION/bewaar.aclj (pywb's `acl_paths`, one directory per
collection) is derived: written again whenever restrictions change (`bewaar restrict`), after
every crawl (new captures of a restricted post) and when `bewaar replay` starts or an embargo
ends. Every restricted index key gets a rule without a user, `exclude` (so neither replay, nor
the CDX API, nor a fuzzy match, nor a timemap shows it), and one `allow` rule per role that
may still see it, for pywb's ACL user "ROLE.SECRET". The gate in front of pywb (in
replay/pywb_app.py) sets that user from the signed-in account and removes any such header a
client sends; the secret (ROOT/.bewaar/replay/acl-secret, private) keeps another local
process that talks to pywb's internal index server from claiming a role.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from bewaar.model import Root

from .policy import KeyRule, replay_rules

ACL_FILE = "bewaar.aclj"


def state_dir(root: Root) -> Path:
    return root.state_dir / "replay"


def acl_dir(root: Root) -> Path:
    from replay.server import acl_dir as pywb_acl_dir  # where pywb's config points

    return pywb_acl_dir(root)


def acl_secret(root: Root) -> str:
    path = state_dir(root) / "acl-secret"
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(16)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(value)
    return value


def acl_user(role: str, secret: str) -> str:
    return f"{role}.{secret}"


def acl_lines(rules: dict[str, KeyRule], secret: str) -> list[str]:
    """pywb's .aclj lines, sorted in reverse as its binary search expects."""
    lines = []
    for key, rule in rules.items():
        lines.append(f"{key} - " + json.dumps({"access": "exclude"}))
        for role in sorted(rule.roles):
            lines.append(
                f"{key} - " + json.dumps({"access": "allow", "user": acl_user(role, secret)})
            )
    lines.sort(reverse=True)
    return lines


def write_acls(root: Root) -> dict[str, int]:
    """Write every collection's ACL file; returns restricted keys per collection."""
    secret = acl_secret(root)
    counts: dict[str, int] = {}
    base = acl_dir(root)
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    for name, rules in replay_rules(root).items():
        d = base / name
        d.mkdir(mode=0o700, exist_ok=True)
        tmp = d / (ACL_FILE + ".tmp")
        tmp.write_text("".join(line + "\n" for line in acl_lines(rules, secret)), encoding="utf-8")
        os.chmod(tmp, 0o600)
        tmp.replace(d / ACL_FILE)
        counts[name] = len(rules)
    return counts


def refresh_acls(root: Root) -> None:
    """After a crawl: write the ACLs again when there are restrictions (new captures of a
    restricted account or post must be restricted as well)."""
    from .policy import active_restrictions

    if active_restrictions(root) or acl_dir(root).exists():
        write_acls(root)

"""`bewaar package`: a whole collection as a signed WACZ — unless access restrictions hold
material in it that the package would hand over.

A package is a copy that leaves the archive's access control behind, so a collection with
restricted captures is refused (exit 2, naming how many and the alternatives): `bewaar export`
leaves restricted posts out and lists them; `--include-restricted` packages everything, for a
transfer to an archive that applies the restrictions itself. Either way the audit trail says
who packaged what.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bewaar.errors import InputError
from bewaar.model import Root, VolatileParameters


def volatile_parameters(root: Root, collections: list[str]) -> VolatileParameters:
    """The request parameters replay learned to be volatile in these collections (nonces,
    client clocks), for the package writer to leave out of a WACZ's index keys, so that
    ReplayWeb.page matches replayed requests by what identifies them (signing/wacz.py).
    Learned once per collection index and cached with replay's rules."""
    from replay.fuzzy import volatile_parameters_cached

    out = VolatileParameters()
    for name in collections:
        coll = root.collection(name)
        if coll.index_file.exists():
            out = out.merged(volatile_parameters_cached(coll, root.state_dir / "replay"))
    return out


def cmd_package(args: argparse.Namespace) -> int:
    from bewaar.app.access import Access
    from bewaar.app.access.policy import replay_rules
    from bewaar.app.export.restrictions import requesting_user
    from signing import cli as signing_cli

    root = Root(Path(args.root).resolve())
    restricted = replay_rules(root).get(args.collection) or {}
    user = requesting_user(root.path, None)
    access = Access(root)
    if restricted and not args.include_restricted:
        access.log("package", user, args.collection, "refused", restricted=len(restricted))
        raise InputError(
            f"collection '{args.collection}' holds {len(restricted)} restricted capture(s) "
            "(`bewaar restrict list`): a package would hand them over. Use `bewaar export "
            f"--collection {args.collection} --format wacz -o DIR`, which leaves them out and "
            "lists them, or --include-restricted to package everything (for an archive that "
            "applies the restrictions itself)"
        )
    code = signing_cli.cmd_package(args, volatile_parameters(root, [args.collection]))
    access.log("package", user, args.collection, "ok", output=str(args.output),
               include_restricted=bool(restricted))  # fmt: skip
    return code


def register(sub: argparse._SubParsersAction) -> None:
    from signing import cli as signing_cli

    p = sub.add_parser("package", help="write a signed WACZ 1.1.1 package of a collection")
    signing_cli.add_package_arguments(p)
    p.add_argument(
        "--include-restricted", action="store_true",
        help="package restricted captures too (they are refused otherwise; see docs/access.md)",
    )  # fmt: skip
    p.set_defaults(func=cmd_package)

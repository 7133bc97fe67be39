"""`bewaar users`, `bewaar restrict` and `bewaar audit`."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from datetime import date
from pathlib import Path

from bewaar.config import ROLES
from bewaar.errors import FAILED, OK, InputError
from bewaar.model import Root
from bewaar.timeutil import iso, parse_iso

from . import Access, audit_log
from .acl import write_acls
from .store import AccessStore, Restriction, User


def _root(args: argparse.Namespace) -> Root:
    return Root(Path(args.root).resolve())


def _operator(args: argparse.Namespace) -> User:
    """Who runs the command: --by, else the login name (the audit trail records it)."""
    name = getattr(args, "by", None) or os.environ.get("USER") or getpass.getuser()
    return User(f"cli:{name}", "admin")


def _read_password(prompt_twice: bool = True) -> str:
    if sys.stdin.isatty():
        pw = getpass.getpass("Password: ")
        if prompt_twice and getpass.getpass("Again: ") != pw:
            raise InputError("the passwords differ")
    else:
        pw = sys.stdin.readline().rstrip("\r\n")
    if len(pw) < 10:
        raise InputError("a password needs at least 10 characters")
    return pw


# --------------------------------------------------------------------------- users


def cmd_users(args: argparse.Namespace) -> int:
    root = _root(args)
    access = Access(root)
    op = _operator(args)
    with AccessStore.open(root) as store:
        if args.action == "list":
            rows = store.users()
            if args.json:
                print(json.dumps(rows, indent=1))
            elif not rows:
                print("no users: replay is open to anonymous readers on 127.0.0.1 only")
            for u in rows if not args.json else []:
                colls = u["collections"] or "all collections"
                how = "password" if u["has_password"] else "proxy sign-in only"
                print(
                    f"{u['name']:24} {u['role']:10} {colls}  ({how}; since {u['created_at'][:10]})"
                )
            return OK
        if args.action == "add":
            if not args.role:
                raise InputError("--role is required: one of " + ", ".join(ROLES))
            colls = [c.strip() for c in (args.collections or "").split(",") if c.strip()]
            password = None if args.no_password else _read_password()
            store.add_user(args.name, args.role, colls, password)
            access.log("user.add", op, AccessStore.check_name(args.name),
                       role_given=args.role, collections=",".join(colls))  # fmt: skip
            print(f"user {AccessStore.check_name(args.name)} added ({args.role})")
        elif args.action == "remove":
            store.remove_user(args.name)
            access.log("user.remove", op, args.name)
            print(f"user {args.name} removed; their sessions ended")
        elif args.action == "passwd":
            if store.user(args.name) is None:
                raise InputError(f"no user {args.name!r}")
            store.set_password(args.name, _read_password())
            access.log("user.passwd", op, args.name)
            print(f"password of {args.name} changed; their sessions ended")
    return OK


# --------------------------------------------------------------------------- restrictions


def _day(value: str | None, flag: str) -> str | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise InputError(f"{flag} {value!r} is not a date (YYYY-MM-DD)") from None


def _moment(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return iso(parse_iso(value if "T" in value else value + "T00:00:00Z"))
    except ValueError:
        raise InputError(f"--until {value!r} is not a date (YYYY-MM-DD) or time") from None


def _check_target(root: Root, target: str, value: str) -> list[str]:
    """Warnings for a target the catalog does not know (it may still be captured later)."""
    from catalog import query as cq

    if target == "collection" and not (root.collections_dir / value).is_dir():
        raise InputError(f"no collection {value!r} under {root.collections_dir}")
    if target not in ("account", "post"):
        return []
    try:
        con = cq.connect_readonly(root.catalog_file)
    except cq.CatalogUnavailable:
        return [f"no catalog yet: the {target} cannot be checked"]
    try:
        if target == "account":
            if con.execute("SELECT 1 FROM accounts WHERE name = ?", (value,)).fetchone():
                return []
            like = [r[0] for r in con.execute(
                "SELECT name FROM accounts WHERE name LIKE ? LIMIT 5", (value.split("@")[0] + "%",)
            )]  # fmt: skip
            hint = f" (did you mean {', '.join(like)}?)" if like else ""
            return [
                f"the catalog has no account {value}{hint}: the restriction holds when it is captured"
            ]
        if con.execute("SELECT 1 FROM posts WHERE url = ?", (value,)).fetchone():
            return []
        return [
            f"the catalog has no post with URL {value}: the restriction holds when it is captured"
        ]
    finally:
        con.close()


def cmd_restrict(args: argparse.Namespace) -> int:
    root = _root(args)
    access = Access(root)
    op = _operator(args)
    if args.action == "list":
        with AccessStore.open(root) as store:
            rows = store.restrictions(include_lifted=args.all)
        if args.json:
            print(json.dumps([r.as_dict() for r in rows], indent=1, ensure_ascii=False))
            return OK
        if not rows:
            print("no restrictions" + ("" if args.all else " in force"))
        now = iso()
        for r in rows:
            state = ("lifted " + (r.lifted_at or "")[:10] + f" by {r.lifted_by}: {r.lift_reason}"
                     if r.lifted_at else "ended" if not r.active(now) else "in force")  # fmt: skip
            who = "nobody in replay" if r.kind == "exclude" else f"{r.visible_to} and up"
            until = f" until {r.until}" if r.until else ""
            print(f"#{r.id} {r.kind}{until}: {r.describe()} — visible to {who}; {state}")
            print(f"    reason: {r.reason} (set {r.set_at} by {r.set_by})")
        return OK
    if args.action == "remove":
        if not args.reason:
            raise InputError("--reason is required: why the restriction is lifted")
        with AccessStore.open(root) as store:
            r = store.lift_restriction(args.id, op.name, args.reason)
        access.log("restrict.lift", op, f"#{r.id} {r.describe()}", reason=args.reason)
        counts = write_acls(root)
        print(f"restriction #{r.id} lifted; replay rules: {_counts(counts)}")
        return OK
    # add
    given = [(t, v) for t, v in (("url", args.url), ("account", args.account), ("post", args.post),
                                 ("collection", args.collection)) if v]  # fmt: skip
    if len(given) > 1:
        raise InputError("give one of --url, --account, --post, --collection")
    if not given and not args.replies_by_others:
        raise InputError(
            "say what to restrict: --url, --account, --post, --collection or --replies-by-others"
        )
    if not args.reason or not args.reason.strip():
        raise InputError("--reason is required: it is kept with the restriction")
    target, value = given[0] if given else ("all", "")
    date_from, date_to = _day(args.date_from, "--from"), _day(args.date_to, "--to")
    if (date_from or date_to) and target in ("url", "post"):
        raise InputError("--from/--to select posts by publication date: use them with "
                         "--account, --collection or --replies-by-others")  # fmt: skip
    until = _moment(args.until)
    kind = args.kind or ("embargo" if until else "block")
    if kind == "embargo" and not until:
        raise InputError("an embargo needs --until DATE")
    if kind != "embargo" and until:
        raise InputError(f"--until is for embargoes, not {kind}")
    if until and until <= iso():
        raise InputError(f"--until {args.until} is not in the future")
    warnings = _check_target(root, target, value)
    r = Restriction(
        id=0, kind=kind, target=target, value=value, replies=bool(args.replies_by_others),
        date_from=date_from, date_to=date_to, until=until, visible_to=args.visible_to,
        reason=args.reason.strip(), set_by=op.name, set_at=iso(),
    )  # fmt: skip
    with AccessStore.open(root) as store:
        store.add_restriction(r)
    access.log("restrict.add", op, f"#{r.id} {r.describe()}", kind=kind, reason=r.reason,
               until=until, visible_to=r.visible_to)  # fmt: skip
    for w in warnings:
        print(f"bewaar: warning: {w}", file=sys.stderr)
    counts = write_acls(root)
    print(f"restriction #{r.id} ({kind}): {r.describe()}; replay rules: {_counts(counts)}")
    return OK


def _counts(counts: dict[str, int]) -> str:
    return (
        ", ".join(f"{n} restricted key(s) in {c}" for c, n in counts.items())
        or "no collections yet"
    )


# --------------------------------------------------------------------------- audit


def cmd_audit(args: argparse.Namespace) -> int:
    log = audit_log(_root(args))
    if args.action == "verify":
        count, problems = log.verify()
        for p in problems:
            print(f"bewaar: audit: {log.dir / p.file}:{p.line}: {p.what}", file=sys.stderr)
        if problems:
            print(f"audit trail: {count} line(s) read, {len(problems)} problem(s)", file=sys.stderr)
            return FAILED
        print(f"audit trail intact: {count} line(s) in {len(log.files())} file(s)")
        return OK
    since = None
    if args.since:
        try:
            since = iso(parse_iso(args.since if "T" in args.since else args.since + "T00:00:00Z"))
        except ValueError:
            raise InputError(f"--since {args.since!r} is not a date (YYYY-MM-DD) or time") from None
    for e in log.show(user=args.user, since=since, action=args.action_filter):
        if args.json:
            print(json.dumps(e, ensure_ascii=False))
        else:
            who = f"{e.get('user') or 'anonymous'}" + (f" ({e['role']})" if e.get("role") else "")
            print(
                f"{e.get('time')}  {who:28} {e.get('action', ''):14} {e.get('outcome', ''):8} {e.get('target', '')}"
            )
    return OK


# --------------------------------------------------------------------------- parsers


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("users", help="built-in accounts for replay and the overview")
    p.add_argument("action", choices=("add", "list", "remove", "passwd"))
    p.add_argument("name", nargs="?", help="user name (add, remove, passwd)")
    p.add_argument("--role", choices=ROLES, help="reader, archivist (also restricted material, "
                   "restrictions) or admin (also users)")  # fmt: skip
    p.add_argument(
        "--collections", help="comma-separated collections this user may see (default: all)"
    )
    p.add_argument(
        "--no-password",
        action="store_true",
        help="no password: the user signs in through the trusted proxy (header mode)",
    )
    p.add_argument("--json", action="store_true", help="list as JSON")
    p.add_argument(
        "--by", help="who makes the change, for the audit trail (default: your login name)"
    )
    p.add_argument("--root", default=".", help="root directory (default: .)")
    p.set_defaults(func=_need_name(cmd_users))

    p = sub.add_parser("restrict", help="restrict what readers see: block, exclude, embargo")
    p.add_argument("action", choices=("add", "list", "remove"))
    p.add_argument("id", nargs="?", type=int, help="restriction number (remove)")
    p.add_argument("--url", help="a URL (a trailing * restricts every URL starting with it)")
    p.add_argument(
        "--account", metavar="PLATFORM:HANDLE", help="an account as the catalog names it"
    )
    p.add_argument("--post", metavar="URL", help="a post by its URL (its replies with it)")
    p.add_argument("--collection", metavar="NAME", help="a whole collection")
    p.add_argument("--replies-by-others", action="store_true",
                   help="only the replies by others (citizens) in the target, or everywhere: "
                   "pseudonymised in the overview, blocked in replay")  # fmt: skip
    p.add_argument("--from", dest="date_from", metavar="DATE", help="posts published from DATE")
    p.add_argument(
        "--to", dest="date_to", metavar="DATE", help="posts published up to DATE (inclusive)"
    )
    p.add_argument("--kind", choices=("block", "exclude", "embargo"),
                   help="block: archivists only (default); exclude: nobody through replay; "
                   "embargo: until --until")  # fmt: skip
    p.add_argument("--until", metavar="DATE", help="end of an embargo")
    p.add_argument(
        "--visible-to",
        choices=("archivist", "admin"),
        default="archivist",
        help="lowest role that still sees it (default archivist)",
    )
    p.add_argument("--reason", help="why (kept with the restriction and in the audit trail)")
    p.add_argument("--all", action="store_true", help="list: also lifted and ended restrictions")
    p.add_argument("--json", action="store_true", help="list as JSON")
    p.add_argument(
        "--by", help="who makes the change, for the audit trail (default: your login name)"
    )
    p.add_argument("--root", default=".", help="root directory (default: .)")
    p.set_defaults(func=_need_id(cmd_restrict))

    p = sub.add_parser("audit", help="the audit trail: show it, verify its hash chain")
    p.add_argument("action", choices=("show", "verify"))
    p.add_argument("--user", help="show: only this user ('' for anonymous)")
    p.add_argument("--since", metavar="DATE", help="show: from this date or time on")
    p.add_argument(
        "--action",
        dest="action_filter",
        metavar="ACTION",
        help="show: only this action (login, view, search, export, restrict, user ...)",
    )
    p.add_argument("--json", action="store_true", help="show the lines as JSON")
    p.add_argument("--root", default=".", help="root directory (default: .)")
    p.set_defaults(func=cmd_audit)


def _need_name(fn):  # type: ignore[no-untyped-def]
    def run(args: argparse.Namespace) -> int:
        if args.action != "list" and not args.name:
            raise InputError(f"`bewaar users {args.action}` needs a user name")
        return fn(args)

    return run


def _need_id(fn):  # type: ignore[no-untyped-def]
    def run(args: argparse.Namespace) -> int:
        if args.action == "remove" and args.id is None:
            raise InputError(
                "`bewaar restrict remove` needs the restriction's number (see `restrict list`)"
            )
        if args.action != "remove" and args.id is not None:
            raise InputError(f"`bewaar restrict {args.action}` takes no number")
        return fn(args)

    return run

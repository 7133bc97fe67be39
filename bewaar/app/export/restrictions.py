"""The requesting user's restrictions, applied to an export (the `Access` hook of
selection.py), from the same view the overview uses (bewaar/app/access: `Access.view`).

A post the user may not see is left out; a reply by another person that the user sees only
under a pseudonym is redacted (its text and media withheld, its metadata kept: personal data
of citizens does not leave the archive with a Woo export); every decision carries the reason
that goes into the export's manifest.
"""

from __future__ import annotations

import getpass
from pathlib import Path

from bewaar.app.access import Access as RootAccess
from bewaar.app.access.store import User
from bewaar.app.export.selection import INCLUDE, LEAVE_OUT, REDACT, Decision, Item
from bewaar.errors import InputError
from bewaar.model import Root
from catalog import query as cq


class ViewAccess:
    """selection.Access from a catalog.query.View."""

    def __init__(self, view: cq.View, reasons: dict[int, str] | None = None) -> None:
        self.view = view
        self.reasons = reasons or {}  # post id -> the restriction that holds it (for the manifest)

    def decide(self, item: Item) -> Decision:
        p = item.post
        post_id, account_id = int(p["id"]), int(p["account"])
        collection = str(p.get("collection") or "")
        if not self.view.may_see_post(post_id, account_id, collection):
            why = self.reasons.get(post_id) or self.view.marks.get(post_id) or (
                "restricted for the requesting user"
            )
            return Decision(LEAVE_OUT, f"restricted: {why}")
        if post_id in self.view.pseudonyms:
            return Decision(
                REDACT,
                f"a reply by another person ({self.view.pseudonyms[post_id]}): personal data "
                "withheld under a restriction on replies by others",
            )
        return Decision(INCLUDE)


def requesting_user(root: Path, name: str | None) -> User:
    """`--as NAME`: a user of the root's access control (unknown: exit 2). Without it, the
    person at the server's command line exports as an archivist."""
    if name:
        user = RootAccess(Root(Path(root))).user(name)
        if user is None:
            raise InputError(f"--as {name}: no such user (see `bewaar users list`)")
        return user
    return User(getpass.getuser() or "command line", "archivist")


def access_for(root: Path, user: User, catalog: Path) -> ViewAccess:
    acc = RootAccess(Root(Path(root)))
    try:
        con = cq.connect_readonly(catalog)
    except cq.CatalogUnavailable as e:
        raise InputError(str(e)) from None
    try:
        from bewaar.app.access.policy import view_for

        # an admin's view names the restriction behind every restricted post: the manifest
        # says on what ground each item was withheld, as a Woo decision must
        reasons = dict(view_for(Root(Path(root)), User("", "admin"), con).marks)
        return ViewAccess(acc.view(user, con), reasons)
    finally:
        con.close()


def log_export(root: Path, user: User, target: str, outcome: str, **detail: object) -> None:
    RootAccess(Root(Path(root))).log("export", user, target=target, outcome=outcome, **detail)



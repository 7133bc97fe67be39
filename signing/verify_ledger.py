"""Check 6 (ledger) for a collection or a WACZ: the ledger is whole and signed, and the files
present are exactly what it says the collection holds.

  * every line parses, its `seq` follows the one before and its `prev` is the sha256 of the
    line before: a changed, removed or inserted line is named by its line number;
  * every seal's signature verifies with a trusted signer at its proven time and covers the
    line before it; every line is covered by a seal; a seal whose timestamp stayed pending is
    proven by a later timestamped seal, else a warning;
  * every record the ledger files is present, has the hash the ledger names and its own
    signature verifies;
  * collection: every WARC in archive/ is in the ledger with the hash it names, and every WARC
    the ledger holds is present unless a destruction or redaction record removed it (a WARC
    deleted together with its signature fails here, by name). Package: every WARC in it is in
    the ledger with that hash (a package may hold a part of the collection);
  * lawful removals are reported as such, each with its record.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from signing.ledger import (
    GENESIS,
    LEDGER_FILE,
    RECORD_FORMAT,
    SEAL_FORMAT,
    Line,
    State,
    line_hash,
    read_lines,
    replay_events,
)
from signing.policy import Policy
from signing.report import FAIL, PASS, WARN, Subject
from signing.times import parse_time
from signing.verify_proof import Proof, check_signer, check_timestamps, first_token, worst

MAX_LISTED = 20


@dataclass
class Signed:
    status: str  # pass | warn | fail
    text: str
    pending: bool = False
    time: str = ""  # TSA time when granted
    statement: dict[str, Any] | None = None
    signer: str = ""


def check_signed(doc: Any, policy: Policy, what: str) -> Signed:
    """A signed document (seal or record): signature (check 3's rules) and timestamp (check
    4's), judged into one status."""
    try:
        text = doc["statement"]
        statement = json.loads(text)
        sig_b64 = doc["signature"]["value"]
        signature = base64.b64decode(sig_b64, validate=True)
        chain = doc["signer"]["certificates"]
        ts = doc.get("timestamp") or {}
        token = (base64.b64decode(ts["token"], validate=True)
                 if ts.get("status") == "granted" else None)
        if not isinstance(statement, dict) or not isinstance(chain, str):
            raise TypeError
    except (KeyError, TypeError, ValueError, binascii.Error, AttributeError):
        return Signed(FAIL, f"{what}: not a signed statement (statement, signature, signer)")
    scratch = Subject(what, "ledger")
    created = parse_time(statement.get("created"))
    first = first_token(token, str(sig_b64).encode("ascii"), policy)
    check_signer(scratch, chain_pem=chain, message=text.encode("utf-8"), signature=signature,
                 proof=Proof.of(first, created), policy=policy, what=what, revocation_data=None)
    check_timestamps(scratch, first=first, first_raw=token, created=created,
                     pending_reason=str(ts.get("reason", "no timestamp")), added_later=False,
                     policy=policy)
    status = worst(*(c.status for c in scratch.checks if c.status in (PASS, WARN, FAIL)))
    bad = [c.detail for c in scratch.checks if c.status == FAIL]
    return Signed(
        status, "; ".join(bad) if bad else "signature valid",
        pending=token is None, time=str(scratch.facts.get("tsa_time", "")),
        statement=statement, signer=str(scratch.facts.get("signer", "")),
    )


@dataclass
class Present:
    """A WARC as verify found it: its sha256 (None when it could not be read)."""

    name: str
    sha256: str | None


def _chain(lines: list[Line], fails: list[str]) -> None:
    prev, seq = GENESIS, 0
    for ln in lines:
        d = ln.data
        where = f"{LEDGER_FILE} line {ln.number}"
        if d is None:
            fails.append(f"{where}: {ln.error}: the line was changed or damaged")
            prev, seq = ln.hash, seq + 1
            continue
        if d.get("prev") != prev:
            if ln.number == 1:
                fails.append(f"{where}: does not start the chain (lines before it were removed)")
            else:
                fails.append(
                    f"{LEDGER_FILE} line {ln.number - 1} was changed after it was written (or "
                    f"lines were removed or inserted there): line {ln.number} chains to "
                    f"{str(d.get('prev'))[:16]}…, but line {ln.number - 1} hashes to {prev[:16]}…")
        if d.get("seq") != seq + 1:
            fails.append(f"{where}: seq {d.get('seq')} does not follow {seq} (lines removed, "
                         "inserted or renumbered)")
        prev = ln.hash
        seq = d.get("seq") if isinstance(d.get("seq"), int) else seq + 1


def _seals(lines: list[Line], policy: Policy, fails: list[str], warns: list[str],
           facts: dict[str, Any]) -> None:
    checked: list[tuple[Line, Signed]] = []
    since = 0  # the first line not yet covered by a seal
    for i, ln in enumerate(lines):
        if ln.event != "seal":
            continue
        where = f"{LEDGER_FILE} line {ln.number} (seal)"
        s = check_signed(ln.data, policy, where)
        st = s.statement or {}
        before = lines[i - 1].hash if i else GENESIS
        if s.status == FAIL:
            fails.append(s.text)
        elif st.get("format") != SEAL_FORMAT or st.get("head") != before or \
                st.get("seq") != (ln.data or {}).get("seq"):
            fails.append(f"{where}: its signed statement does not name the line before it "
                         "(the seal was moved, or the lines it covers were changed)")
        checked.append((ln, s))
        since = i + 1
    if since < len(lines):
        first, last = lines[since].number, lines[-1].number
        fails.append(f"{LEDGER_FILE} lines {first}–{last} are covered by no signed seal (added "
                     "by hand, or an append was cut off)")
    granted = [ln.number for ln, s in checked if not s.pending and s.status != FAIL]
    if checked and checked[-1][1].pending and not (granted and granted[-1] > checked[-1][0].number):
        warns.append(f"{LEDGER_FILE} line {checked[-1][0].number}: the newest seal is signed but "
                     "its timestamp is pending (`bewaar ledger seal` adds a timestamped one)")
    for ln, s in checked:
        if s.status == WARN and not s.pending:
            warns.append(f"{LEDGER_FILE} line {ln.number} (seal): {s.text}")
    facts["seals"] = len(checked)
    if checked:
        newest = next((s for _ln, s in reversed(checked) if s.time), None)
        facts["signer"] = checked[-1][1].signer
        facts["newest_timestamp"] = newest.time if newest else None


def _records(state: State, records: dict[str, bytes], policy: Policy, fails: list[str],
             warns: list[str]) -> dict[str, dict[str, Any]]:
    """Each filed record: present, the hash the ledger names, its signature. -> id: statement."""
    out: dict[str, dict[str, Any]] = {}
    for rid, ev in state.records.items():
        where = f"record {rid} (filed at {LEDGER_FILE} line {ev['line']})"
        data = records.get(rid)
        if data is None:
            fails.append(f"{where}: ledger/records/{rid}.json is missing")
            continue
        if hashlib.sha256(data).hexdigest() != ev.get("sha256"):
            fails.append(f"{where}: ledger/records/{rid}.json differs from the hash the ledger "
                         "names (changed after it was filed)")
            continue
        try:
            doc = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError):
            fails.append(f"{where}: not JSON")
            continue
        s = check_signed(doc, policy, where)
        if doc.get("record") != RECORD_FORMAT or (s.statement or {}).get("id") != rid:
            fails.append(f"{where}: not a removal record for this id")
            continue
        if s.status == FAIL:
            fails.append(s.text)
            continue
        if s.status == WARN:
            warns.append(f"{where}: {s.text if not s.pending else 'timestamp pending'}")
        out[rid] = s.statement or {}
    return out


def _files(state: State, present: list[Present], package: bool, fails: list[str],
           facts: dict[str, Any]) -> None:
    listed = state.present()
    names = {p.name for p in present}
    for p in present:
        f = state.files.get(p.name)
        if f is None:
            fails.append(f"{p.name} is not in the ledger: it was added without being recorded")
        elif f.status != "present":
            fails.append(f"{p.name} is present although record {f.record} removed it "
                         f"({LEDGER_FILE} line {f.line}): the removal was not completed, or the "
                         "file was put back")
        elif p.sha256 is not None and p.sha256 != f.sha256:
            fails.append(f"{p.name} differs from the sha256 the ledger recorded for it "
                         f"({LEDGER_FILE} line {f.line})")
    missing = sorted(n for n in listed if n not in names)
    if missing and not package:
        for n in missing:
            fails.append(f"{n} is missing: the ledger holds it ({LEDGER_FILE} line "
                         f"{listed[n].line}) and no destruction or redaction record removed it")
    facts["files_in_ledger"] = len(listed)
    if package:
        facts["collection_files_not_in_package"] = len(missing)


def _removals(state: State, statements: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for f in sorted(state.removed().values(), key=lambda f: f.line):
        st = statements.get(f.record, {})
        out.append({
            "file": f.name, "sha256": f.sha256, "how": f.status, "replaced_by": f.replaced_by,
            "record": f.record, "line": f.line, "kind": st.get("kind", ""),
            "approved_by": st.get("approved_by", ""), "executed_at": st.get("executed_at", ""),
            "reason": st.get("reason", ""),
        })
    return out


def check_ledger(subject: Subject, data: bytes | None, records: dict[str, bytes],
                 present: list[Present], policy: Policy, *, package: bool = False) -> State | None:
    """Add check 6 to `subject` (a collection or a package)."""
    if data is None:
        if package:
            subject.add(6, WARN, "the package carries no ledger (made by an older bewaar, or "
                        "from a collection without one): removals cannot be told from losses")
        else:
            subject.add(6, WARN, "no ledger (a collection from before bewaar kept ledgers): a WARC "
                        "deleted together with its signature would not be noticed; start one "
                        "with `bewaar ledger update`")
        return None
    lines = list(read_lines(data.rstrip(b"\n")))
    fails: list[str] = []
    warns: list[str] = []
    facts: dict[str, Any] = {"lines": len(lines)}
    if not data.endswith(b"\n") and data:
        fails.append(f"{LEDGER_FILE} does not end with a whole line (cut off, or edited)")
    _chain(lines, fails)
    _seals(lines, policy, fails, warns, facts)
    state = replay_events(lines)
    fails += [f"{LEDGER_FILE} {p}" for p in state.problems]
    statements = _records(state, records, policy, fails, warns)
    _files(state, present, package, fails, facts)
    removals = _removals(state, statements)
    facts["removals"] = removals
    facts["started_from_existing"] = bool((state.started or {}).get("from_existing"))
    if lines:
        facts["head"] = {"line": lines[-1].number, "sha256": line_hash(lines[-1].raw)}
    subject.facts["ledger"] = facts
    if fails:
        more = f" (and {len(fails) - MAX_LISTED} more)" if len(fails) > MAX_LISTED else ""
        subject.add(6, FAIL, "; ".join(fails[:MAX_LISTED]) + more)
        return state
    parts = [f"{len(lines)} line(s), hash chain unbroken, {facts['seals']} seal(s) by "
             f"'{facts.get('signer', '')}'"]
    if facts.get("newest_timestamp"):
        parts.append(f"newest timestamp {facts['newest_timestamp']}")
    what = "file(s) in this package" if package else "WARC file(s) present"
    parts.append(f"{len(present)} {what}, each in the ledger with its hash")
    if package and facts.get("collection_files_not_in_package"):
        parts.append(f"{facts['collection_files_not_in_package']} other file(s) of the "
                     "collection are not in this package")
    if facts["started_from_existing"]:
        parts.append("the ledger was started from the files then present (nothing proves what "
                     "the collection held before)")
    if removals:
        parts.append(f"{len(removals)} lawful removal(s): " + "; ".join(_describe(r) for r in removals))
    text = "; ".join(parts)
    if warns:
        subject.add(6, WARN, text + "; " + "; ".join(warns))
    else:
        subject.add(6, PASS, text)
    return state


def _describe(r: dict[str, Any]) -> str:
    how = "destroyed" if r["how"] == "destroyed" else f"rewritten as {r['replaced_by']}"
    who = f", approved by {r['approved_by']}" if r["approved_by"] else ""
    why = f": {r['reason']}" if r["reason"] else ""
    return f"{r['file']} {how} under {r['kind'] or 'record'} {r['record']}{who}{why}"

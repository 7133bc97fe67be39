"""Verify one WARC against its signature manifest: checks 1-4 for a single file.

Check 1 (record digests) needs only the WARC; checks 2-4 need the manifest beside it. A WARC
given directly that has no manifest (one another crawler wrote) is reported as *not signed*:
its record digests are checked and nothing else is claimed. Beside other signed WARCs (in a
collection's archive/), a WARC without a manifest is a failure: every file there was signed when
it was written, so its manifest was removed or the file was added.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bewaar.errors import InputError
from bewaar.model import SIGNATURE_SUFFIX
from signing import files, parallelscan, warcscan
from signing.manifest import Manifest, ManifestError, manifest_path, records_digest
from signing.policy import Policy
from signing.renewal import renewal_input
from signing.report import FAIL, PASS, SKIP, UNSIGNED, PageSeen, Subject
from signing.times import parse_time
from signing.verify_proof import Proof, Renewals, check_signer, check_timestamps, first_token

MAX_LISTED_PAGES = 500


def verify_warc(path: Path, policy: Policy, *, direct: bool = False) -> Subject:
    subject = Subject(str(path), "warc")
    mpath = manifest_path(path)
    m: Manifest | None = None
    m_error: str | None = None
    if mpath.exists():
        try:
            m = Manifest.load(mpath)
        except ManifestError as e:
            m_error = str(e)
    elif mpath.is_symlink():
        m_error = f"{mpath.name} is a broken symbolic link, not a signature manifest"
    layout = parallelscan.layout_from(m.records) if m else None
    with files.open_regular(path) as fh:
        scan = parallelscan.scan_file(fh, layout, path=path, keep_screenshots=policy.evidence,
                                      workers=policy.workers)
    if direct and not scan.records:
        raise InputError(f"{path}: {scan.error}: nothing to verify")
    check_records(subject, scan, path.name)
    if m is None and m_error is None:
        _no_manifest(subject, path, mpath, direct)
    elif m is None:
        subject.add(2, FAIL, str(m_error))
        subject.add(3, SKIP, "manifest unreadable")
        subject.add(4, SKIP, "manifest unreadable")
    else:
        check_against_manifest(subject, scan, m, path.name)
        check_manifest_signature(subject, m, policy)
    evidence(subject, scan, policy)
    return subject


def _among_signed(path: Path) -> bool:
    """Does the WARC sit beside signed WARCs (a collection's archive/)? Then a missing manifest
    was removed, or the WARC was added: a failure, not a file that was simply never signed."""
    try:
        return any(p.name.endswith(SIGNATURE_SUFFIX) for p in path.parent.iterdir())
    except OSError:
        return False


def _no_manifest(subject: Subject, path: Path, mpath: Path, direct: bool) -> None:
    if direct and not _among_signed(path):
        subject.facts["signed"] = False
        subject.add(2, UNSIGNED, f"not signed: no signature manifest ({mpath.name}) beside "
                    f"{path.name}; the record digests (check 1) are all that can be checked")
        subject.add(3, SKIP, "not signed: no signature to check")
        subject.add(4, SKIP, "not signed: no timestamp to check")
        return
    subject.add(2, FAIL, f"no signature manifest: {mpath.name} is missing beside {path.name}")
    subject.add(3, SKIP, "no manifest, so no signature to check")
    subject.add(4, SKIP, "no manifest, so no timestamp to check")


# --------------------------------------------------------------------------- check 1


def check_records(subject: Subject, scan: warcscan.ScanResult, name: str) -> None:
    """Check 1: every record's digests, and that every record could be read at all."""
    bad = scan.failed_records
    n = len(scan.records)
    subject.facts.update(sha256=scan.sha256, size=scan.size, records=n)
    if bad:
        first = bad[0]
        more = f" ({len(bad) - 1} more record(s) fail too)" if len(bad) > 1 else ""
        subject.add(
            1, FAIL,
            f"record {first.index} of {n} at offset {first.offset} in {name} "
            f"({first.describe()}): {'; '.join(first.problems)}{more}",
        )
    elif scan.error:
        subject.add(
            1, FAIL,
            f"{name} cannot be read past offset {scan.error_offset} (after {n} record(s)): {scan.error}",
        )
    else:
        counts = {k: sum(1 for r in scan.records if r.digest == k) for k in ("ok", "none", "revisit")}
        detail = f"{n} records, all block and payload digests match ({counts['ok']} checked"
        if counts["revisit"]:
            detail += f", {counts['revisit']} revisit(s) without payload"
        detail += ")"
        if counts["none"]:
            detail += f"; {counts['none']} record(s) carry no digest and are covered by the file hash only"
        subject.add(1, PASS, detail)


# --------------------------------------------------------------------------- check 2

_Entry = tuple[int, int, str, str, str, str]


def _label(e: _Entry) -> str:
    return f"{e[2]} {e[4]} ({e[3]})".replace("  ", " ")


def _missing_or_appended(i: int, scanned: list[warcscan.RecordInfo], sig: list[_Entry]) -> str | None:
    total = len(sig)
    if i >= len(scanned):
        missing = len(sig) - len(scanned)
        return (
            f"record {i + 1} of {total} ({_label(sig[i])}) is missing"
            + (f", and {missing - 1} more after it" if missing > 1 else "")
            + " (file shortened or records removed)"
        )
    if i >= len(sig):
        r = scanned[i]
        return (
            f"record {i + 1} at offset {r.offset} ({r.describe()}) was not in the signed file: "
            f"{len(scanned) - len(sig)} record(s) appended after record {total}"
        )
    return None


def _record_difference(i: int, r: warcscan.RecordInfo, e: _Entry, total: int,
                       pos_signed: dict[str, int], pos_now: dict[str, int]) -> str | None:
    """How record i differs from what was signed at that position (None: it does not)."""
    if any("truncated" in p or "cut off" in p for p in r.problems):
        rest = total - i - 1
        return (
            f"record {i + 1} of {total} ({_label(e)}) is cut off (file truncated)"
            + (f"; the {rest} record(s) after it are missing" if rest > 0 else "")
        )
    if r.id == e[3] and r.header_sha256 == e[5] and r.length == e[1] and r.offset == e[0]:
        return None
    if r.id != e[3]:
        if e[3] not in pos_now:
            return f"record {i + 1} of {total} ({_label(e)}) is missing"
        if r.id not in pos_signed:
            return (f"record {i + 1} at offset {r.offset} ({r.describe()}) was not in the signed "
                    "file (inserted)")
        return (f"records reordered: signed record {pos_signed[r.id] + 1} of {total} "
                f"({r.describe()}) now stands at position {i + 1}")
    if r.header_sha256 != e[5]:
        return f"record {i + 1} of {total} ({_label(e)}): its WARC header was changed"
    if r.length != e[1]:
        return (f"record {i + 1} of {total} ({_label(e)}): its stored length changed from {e[1]} "
                f"to {r.length} bytes (content changed)")
    return f"record {i + 1} of {total} ({_label(e)}) moved from offset {e[0]} to {r.offset}"


def diagnose(scanned: list[warcscan.RecordInfo], signed: list[list[Any]]) -> str:
    """Name the first record that differs between the file and what was signed."""
    try:
        sig = [(int(e[0]), int(e[1]), str(e[2]), str(e[3]), str(e[4]), str(e[5])) for e in signed]
    except (TypeError, ValueError, IndexError):
        return "the manifest's record list is malformed, so the change cannot be located"
    pos_signed = {e[3]: i for i, e in enumerate(sig)}
    pos_now = {r.id: i for i, r in enumerate(scanned)}
    for i in range(max(len(sig), len(scanned))):
        found = _missing_or_appended(i, scanned, sig) or _record_difference(
            i, scanned[i], sig[i], len(sig), pos_signed, pos_now)
        if found:
            return found
    return (
        "every record is where it was signed with the same WARC header and length: the change is "
        "inside a record's content or its gzip framing (see check 1)"
    )


def _size_note(scan: warcscan.ScanResult, signed_size: Any) -> str:
    if signed_size == scan.size:
        return "same size, different bytes"
    try:
        shorter = scan.size < int(signed_size or 0)
    except (TypeError, ValueError):
        shorter = False
    note = f"file is {scan.size} bytes, signed {signed_size} ({'shorter' if shorter else 'longer'}"
    truncated = scan.error or any(
        "truncated" in p or "cut off" in p for r in scan.records for p in r.problems
    )
    return note + (", truncated)" if shorter and truncated else ")")


def check_against_manifest(
    subject: Subject, scan: warcscan.ScanResult, m: Manifest, actual_name: str
) -> None:
    """Check 2: the file is byte for byte the one the manifest signed (and the right one)."""
    try:
        st = m.statement
    except ManifestError as e:
        subject.add(2, FAIL, f"{m.path.name if m.path else 'manifest'}: {e}")
        return
    problems: list[str] = []
    if st.get("file") != actual_name:
        problems.append(
            f"the manifest is for {st.get('file')!r}, not {actual_name!r} (manifest swapped or "
            "file renamed)"
        )
    if st.get("sha256") != scan.sha256 or st.get("size") != scan.size:
        where = diagnose(scan.records, m.records) if (scan.error is None or scan.records) else ""
        problems.append(
            f"sha256 {scan.sha256[:16]}... differs from the signed {str(st.get('sha256'))[:16]}... "
            f"({_size_note(scan, st.get('size'))})" + (f": {where}" if where else "")
        )
    elif m.records and records_digest(m.records) != (st.get("records") or {}).get("sha256"):
        problems.append("the manifest's record list does not match the signed statement")
    if problems:
        subject.add(2, FAIL, "; ".join(problems))
    else:
        subject.add(
            2, PASS,
            f"sha256 {scan.sha256} and size {scan.size} match the signed manifest "
            f"({len(scan.records)} records, none missing or added)",
        )


# --------------------------------------------------------------------------- checks 3 and 4


def _renewals(m: Manifest, st: dict[str, Any]) -> Renewals:
    try:
        tokens = [m.renewal_token(i) for i in range(len(m.renewals))]
    except ManifestError as e:
        return Renewals(problem=str(e))
    file_sha = str(st.get("sha256", ""))

    def data_for(i: int, previous: bytes) -> bytes:
        return renewal_input(file_sha, m.statement_text, previous,
                             str(m.renewals[i].get("algorithm", "sha256")))

    return Renewals(tokens=tokens, data_for=data_for)


def check_manifest_signature(subject: Subject, m: Manifest, policy: Policy) -> None:
    try:
        st = m.statement
        text = m.statement_text.encode("utf-8")
        signature: bytes | None = m.signature
    except ManifestError as e:
        subject.add(3, FAIL, str(e))
        subject.add(4, SKIP, "manifest unreadable")
        return
    created = parse_time(st.get("created"))
    subject.facts.update(signed_at=st.get("created"), software=st.get("software"))
    ts = m.timestamp
    broken = None
    try:
        token = m.timestamp_token
    except ManifestError as e:
        token, broken = None, str(e)
    first = first_token(token, m.signature_b64.encode("ascii"), policy)
    check_signer(subject, chain_pem=m.certificates_pem, message=text, signature=signature,
                 proof=Proof.of(first, created), policy=policy, what="manifest",
                 revocation_data=m.revocation)
    if broken:
        subject.add(4, FAIL, broken)
        return
    check_timestamps(
        subject, first=first, first_raw=token, created=created,
        pending_reason=str(ts.get("reason", "no timestamp")), added_later=bool(ts.get("added_later")),
        policy=policy, renewals=_renewals(m, st), revocation_data=m.revocation,
    )


# --------------------------------------------------------------------------- evidence report


def evidence(subject: Subject, scan: warcscan.ScanResult, policy: Policy) -> None:
    if not policy.evidence:
        return
    responses: dict[str, warcscan.RecordInfo] = {}
    for r in scan.records:
        if r.type in ("response", "revisit") and r.uri not in responses:
            responses[r.uri] = r
    urls = scan.pages or list(responses)[:MAX_LISTED_PAGES]
    for url in urls[:MAX_LISTED_PAGES]:
        r = responses.get(url)
        subject.pages.append(
            PageSeen(url=url, time=r.date if r else "", status=r.http_status if r else None,
                     warc=Path(subject.path).name)
        )
    for shot in scan.screenshots:
        subject.screenshots.append({"url": shot.page_url, "time": shot.date, "png": shot.png})
    subject.facts["first_record_date"] = scan.first_date
    subject.facts["last_record_date"] = scan.last_date

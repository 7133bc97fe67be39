"""A collection's ledger: what was added to it and what was lawfully removed, provably.

COLLECTION/ledger/ledger.jsonl is append-only and hash-chained: one JSON object per line, each
naming the sha256 of the exact bytes of the line before it (`prev`). Events:

    started    the ledger begins; `from_existing: true` when the collection already held files
               (then its first `added` lines say `existing: true`: nothing proves what, if
               anything, the collection held before that moment)
    added      a signed WARC entered the collection: file, sha256, size, the sha256 of its
               signed manifest statement, its signing time
    renewed / retimestamped   a WARC's evidence was renewed or its pending timestamp added
    retention  a retention classification was set (collection, account or post)
    record     a destruction or redaction record was filed: ledger/records/ID.json, its sha256
    destroyed  a file was destroyed under that record
    replaced   a file was rewritten under that record (redaction, or revisits made whole before
               their originals were destroyed): old name and hash -> new name and hash, with the
               WARC-Record-IDs removed, edited and materialised
    seal       a signature over the line before it, by the collection's signing key, with an
               RFC 3161 timestamp over that signature

Each append ends with one seal, written in the same write as its events: the seal's signed
statement names the sha256 of the line before it, and since every line names the one before,
one signature vouches for every line up to it (appends are batched that way: one signature and
one TSA round trip per crawl, per destruction, per renewal run). A later seal with a timestamp
also proves every line before it existed by then, so a seal whose timestamp stayed pending is
covered by the next one (`bewaar ledger seal` adds one on purpose).

Destruction and redaction records (ledger/records/ID.json) are signed documents of the same
shape as a WARC's manifest: `statement` (a JSON text, exactly these bytes are signed),
`signature`, `signer`, `timestamp`. They are kept permanently; the ledger names their hash.

What the ledger cannot prove by itself: that it was not cut short. Whoever can delete files
can delete its last lines together with what they added; packages and exports carry a ledger
position (line and hash) for that reason, and anyone holding an older position can check the
ledger still contains it (see docs/records.md).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bewaar import SOFTWARE
from bewaar.errors import BewaarError
from bewaar.lock import file_lock
from bewaar.model import SIGNATURE_SUFFIX, WARC_SUFFIX
from signing import keys, manifest
from signing.keys import Identity
from signing.manifest import SIGNATURE_ALGORITHM, canonical
from signing.times import iso, utcnow

LEDGER_DIR = "ledger"
LEDGER_FILE = "ledger.jsonl"
RECORDS_DIR = "records"
SEAL_FORMAT = "bewaar-ledger-seal/1"
RECORD_FORMAT = "bewaar-removal-record/1"
GENESIS = "0" * 64
MAX_LINE = 16 * 1024 * 1024  # a replaced event lists removed record ids; never read beyond
MAX_LEDGER = 1 << 30  # a million files added is some 500 MB of lines
FILE_EVENTS = ("added", "destroyed", "replaced", "renewed", "retimestamped")


def line_hash(raw: bytes) -> str:
    """The sha256 of a line's exact bytes (without its newline): what the next line names."""
    return hashlib.sha256(raw.rstrip(b"\n")).hexdigest()


def ledger_file(collection_dir: Path) -> Path:
    return Path(collection_dir) / LEDGER_DIR / LEDGER_FILE


def records_dir(collection_dir: Path) -> Path:
    return Path(collection_dir) / LEDGER_DIR / RECORDS_DIR


def statement_hash(m: manifest.Manifest) -> str:
    return hashlib.sha256(m.statement_text.encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- signing


@dataclass
class Signer:
    """The collection's signing key and its TSA (the root's, as WARCs are signed)."""

    identity: Identity
    tsa_url: str | None
    timeout: float = 30.0


def sign_statement(signer: Signer, statement: dict[str, Any]) -> dict[str, Any]:
    """{statement, signature, signer, timestamp}: the statement's exact text is signed, the
    signature is timestamped (pending with the reason when no TSA answers)."""
    from signing.sign import sign_bytes, stamp

    text = canonical(statement)
    signature = sign_bytes(signer.identity, text.encode("utf-8"))
    return {
        "statement": text,
        "signature": {"algorithm": SIGNATURE_ALGORITHM, "value": signature},
        "signer": {
            "subject": keys.subject_name(signer.identity.certificate),
            "fingerprint": keys.fingerprint(signer.identity.certificate),
            "certificates": signer.identity.chain_pem(),
        },
        "timestamp": stamp(signature, signer.tsa_url, signer.timeout),
    }


def write_record(collection_dir: Path, signer: Signer, record_id: str,
                 statement: dict[str, Any]) -> tuple[Path, str]:
    """Sign and write ledger/records/RECORD_ID.json (never over an existing one); returns the
    path and its sha256, for the ledger's `record` event."""
    if not record_id.replace("-", "").replace("_", "").isalnum():
        raise ValueError(f"record id {record_id!r} is not a plain name")
    statement = {"format": RECORD_FORMAT, "id": record_id, "software": SOFTWARE,
                 "created": iso(utcnow()), **statement}
    doc = {"record": RECORD_FORMAT, **sign_statement(signer, statement)}
    data = (json.dumps(doc, indent=1, ensure_ascii=False) + "\n").encode("utf-8")
    target = records_dir(collection_dir) / f"{record_id}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    with tmp.open("xb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    if target.exists():
        tmp.unlink()
        raise BewaarError(f"{target} already exists: records are never overwritten", 1)
    tmp.replace(target)
    return target, hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- reading


@dataclass
class Line:
    number: int  # 1-based line number in ledger.jsonl
    raw: bytes
    data: dict[str, Any] | None  # None: not a JSON object
    error: str = ""

    @property
    def event(self) -> str:
        return str((self.data or {}).get("event", ""))

    @property
    def hash(self) -> str:
        return line_hash(self.raw)


def read_lines(data: bytes) -> Iterator[Line]:
    for n, raw in enumerate(data.split(b"\n"), 1):
        if not raw and n > 1:
            continue
        try:
            obj = json.loads(raw)
            yield Line(n, raw, obj if isinstance(obj, dict) else None,
                       "" if isinstance(obj, dict) else "not a JSON object")
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
            yield Line(n, raw, None, f"not JSON ({e})")


def load(collection_dir: Path) -> list[Line]:
    path = ledger_file(collection_dir)
    if not path.exists():
        return []
    from signing.files import read_bounded

    return list(read_lines(read_bounded(path, MAX_LEDGER, "ledger").rstrip(b"\n")))


@dataclass
class FileState:
    name: str
    sha256: str
    line: int  # the line that made it what it is now
    status: str = "present"  # present | destroyed | replaced
    record: str = ""  # the record that removed it
    replaced_by: str = ""
    existing: bool = False  # listed when the ledger started from what was present


@dataclass
class State:
    files: dict[str, FileState] = field(default_factory=dict)
    records: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> record event
    started: dict[str, Any] | None = None
    problems: list[str] = field(default_factory=list)  # "line N: ..."

    def present(self) -> dict[str, FileState]:
        return {n: f for n, f in self.files.items() if f.status == "present"}

    def removed(self) -> dict[str, FileState]:
        return {n: f for n, f in self.files.items() if f.status != "present"}


def replay_events(lines: list[Line]) -> State:
    """What the events say the collection holds (problems name their line)."""
    st = State()
    for ln in lines:
        d = ln.data
        if d is None:
            continue
        ev, name = ln.event, str(d.get("file", ""))
        where = f"line {ln.number}"
        if ev == "started":
            st.started = d
        elif ev == "record":
            st.records[str(d.get("record", ""))] = {**d, "line": ln.number}
        elif ev == "added":
            known = st.files.get(name)
            if known is None:
                st.files[name] = FileState(name, str(d.get("sha256", "")), ln.number,
                                           existing=bool(d.get("existing")))
            elif known.status != "present":
                st.problems.append(f"{where} adds {name} again, after it was {known.status} "
                                   f"under record {known.record} (line {known.line})")
            elif known.sha256 != d.get("sha256"):
                st.problems.append(f"{where} adds {name} again with another hash")
        elif ev in ("destroyed", "replaced"):
            known = st.files.get(name)
            rec = str(d.get("record", ""))
            if known is None or known.status != "present":
                st.problems.append(f"{where} {ev} {name}, which the ledger does not hold")
                continue
            if rec not in st.records:
                st.problems.append(f"{where} {ev} {name} under record {rec!r}, which no earlier "
                                   "`record` line files")
            if known.sha256 != d.get("sha256"):
                st.problems.append(f"{where} {ev} {name} with another hash than it was added with")
            known.status, known.record, known.line = ev, rec, ln.number
            if ev == "replaced":
                new = str(d.get("new_file", ""))
                known.replaced_by = new
                if new in st.files:
                    st.problems.append(f"{where} replaces {name} by {new}, a name already used")
                st.files[new] = FileState(new, str(d.get("new_sha256", "")), ln.number)
    return st


# --------------------------------------------------------------------------- writing


def _tail(path: Path) -> tuple[int, str]:
    """(seq, hash) of the last line; (0, GENESIS) for an empty or missing ledger."""
    if not path.exists() or path.stat().st_size == 0:
        return 0, GENESIS
    size = path.stat().st_size
    with path.open("rb") as fh:
        back = 4096
        while True:
            start = max(0, size - back)
            fh.seek(start)
            chunk = fh.read()
            if not chunk.endswith(b"\n"):
                raise BewaarError(
                    f"{path} does not end with a whole line (a write was cut off, or it was "
                    "edited): nothing is appended; run `bewaar verify` on the collection", 1)
            body = chunk[:-1]
            cut = body.rfind(b"\n")
            if cut >= 0 or start == 0:
                last = body[cut + 1:]
                break
            back *= 4
            if back > MAX_LINE * 2:
                raise BewaarError(f"{path}: its last line is too long to be a ledger line", 1)
    try:
        seq = int(json.loads(last)["seq"])
    except (ValueError, KeyError, TypeError):
        raise BewaarError(f"{path}: its last line is not a ledger line: nothing is appended; "
                          "run `bewaar verify` on the collection", 1) from None
    return seq, line_hash(last)


def _encode(obj: dict[str, Any]) -> bytes:
    return canonical(obj).encode("ascii")


def append(collection_dir: Path, events: list[dict[str, Any]], signer: Signer) -> dict[str, Any]:
    """Append events and one seal over them, in one write (fsynced). Returns the seal's
    position: {line, seq, sha256, timestamp}. The caller holds the collection's lock."""
    path = ledger_file(collection_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    name = Path(collection_dir).name
    with file_lock(path.with_name(".ledger.lock")):
        seq, prev = _tail(path)
        lines_before = _count_lines(path)
        out: list[bytes] = []
        now = iso(utcnow())
        first = seq + 1
        for ev in events:
            seq += 1
            raw = _encode({**ev, "seq": seq, "prev": prev, "time": now})
            out.append(raw)
            prev = line_hash(raw)
        seq += 1
        statement = {"format": SEAL_FORMAT, "collection": name, "seq": seq,
                     "covers": [first, seq - 1], "head": prev, "created": now}
        seal = {"event": "seal", "seq": seq, "prev": prev, "time": now,
                **sign_statement(signer, statement)}
        raw = _encode(seal)
        out.append(raw)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, b"".join(r + b"\n" for r in out))
            os.fsync(fd)
        finally:
            os.close(fd)
    return {"line": lines_before + len(out), "seq": seq, "sha256": line_hash(raw),
            "timestamp": seal["timestamp"].get("status")}


def _count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    n = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            n += chunk.count(b"\n")
    return n


def signed_warcs(collection_dir: Path) -> list[Path]:
    archive = Path(collection_dir) / "archive"
    if not archive.is_dir():
        return []
    return sorted(p for p in archive.iterdir() if p.name.endswith(WARC_SUFFIX)
                  and p.with_name(p.name + SIGNATURE_SUFFIX).is_file())


def added_event(warc: Path, existing: bool = False) -> dict[str, Any]:
    m = manifest.load_for(warc)
    st = m.statement
    ev = {"event": "added", "file": warc.name, "sha256": st["sha256"], "size": st["size"],
          "manifest": statement_hash(m), "signed": st.get("created", "")}
    if existing:
        ev["existing"] = True
    return ev


def update(collection_dir: Path, signer: Signer, new: list[Path] | None = None,
           extra: list[dict[str, Any]] | None = None,
           skip: set[str] | None = None) -> dict[str, Any] | None:
    """Start the ledger if the collection has none (from what is present, marked as such),
    add every signed WARC it does not list yet, and any `extra` events; one seal. `new` are the
    files the caller just wrote (a crawl's): those are never "existing"; `skip` are files the
    `extra` events bring in themselves (a rewrite's new files). Returns the seal's position, or
    None when there was nothing to add."""
    collection_dir = Path(collection_dir)
    lines = load(collection_dir)
    fresh = {p.name for p in (new or [])}
    present = [p for p in signed_warcs(collection_dir) if p.name not in (skip or set())]
    events: list[dict[str, Any]] = []
    starting = not lines
    from_existing = starting and any(p.name not in fresh for p in present)
    if starting:
        unsigned = sorted(p.name for p in (collection_dir / "archive").glob(f"*{WARC_SUFFIX}")
                          if p not in present) if (collection_dir / "archive").is_dir() else []
        ev: dict[str, Any] = {"event": "started", "collection": collection_dir.name,
                              "from_existing": from_existing, "software": SOFTWARE}
        if from_existing:
            ev["note"] = ("started from the files present at this moment; nothing proves what the "
                          "collection held before")
        if unsigned:
            ev["unsigned_not_listed"] = unsigned
        events.append(ev)
    state = replay_events(lines)
    for p in present:
        if p.name in state.files:
            continue  # listed (a changed or reappearing file is for `bewaar verify` to report)
        events.append(added_event(p, existing=from_existing and p.name not in fresh))
    events += extra or []
    if not events:
        return None
    return append(collection_dir, events, signer)


def position(collection_dir: Path, warc_name: str) -> dict[str, Any] | None:
    """Where the ledger vouches for a WARC as it is now, for exports (PDF/HTML/EML evidence):
    the line that added it (or made it by a rewrite), the seal that signed that line, and the
    ledger's head. None when the ledger does not list it as present."""
    lines = load(collection_dir)
    state = replay_events(lines)
    f = state.present().get(warc_name)
    if f is None:
        return None
    seal = next((ln for ln in lines if ln.number > f.line and ln.event == "seal"), None)
    line = next(ln for ln in lines if ln.number == f.line)
    ts = (seal.data or {}).get("timestamp", {}) if seal else {}
    return {
        "ledger": f"{LEDGER_DIR}/{LEDGER_FILE}",
        "file": warc_name,
        "sha256": f.sha256,
        "line": f.line,
        "line_sha256": line.hash,
        "sealed_by": {"line": seal.number, "sha256": seal.hash,
                      "timestamp": ts.get("time") if ts.get("status") == "granted" else None}
        if seal else None,
        "head": {"line": lines[-1].number, "sha256": lines[-1].hash},
    }

"""The audit trail: who saw or changed what, one JSON line per event, hash-chained.

ROOT/access/audit/audit-YYYY-MM.jsonl, a file per month (rotation needs no rewriting: the
first line of a month carries the last hash of the month before). Each line holds `seq` (1,
2, ...), `prev` (the previous line's hash) and `hash` = SHA-256 of the line's canonical JSON
without `hash`. `verify` recomputes the chain and names the first line that was changed,
removed or moved; head.json (the last seq and hash, rewritten with every line) also shows
lines cut from the end. Writers (`bewaar replay`, and every command that changes access) take
an exclusive lock, so lines from several processes never interleave.

Hash chains were written by hand: no library does this small thing for JSON lines. The chain
shows tampering by anyone who does not also rewrite every later line and head.json; keep a
copy of head.json elsewhere (or sign the month's file) to rule that out too.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bewaar.errors import EnvironmentProblem
from bewaar.timeutil import iso, parse_iso

GENESIS = "0" * 64
FIELDS = ("seq", "time", "user", "role", "action", "target", "outcome")


def line_hash(entry: dict[str, Any]) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    canon = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()


@dataclass
class Problem:
    file: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.what}"


class AuditLog:
    def __init__(self, directory: Path) -> None:
        self.dir = Path(directory)

    @property
    def head_file(self) -> Path:
        return self.dir / "head.json"

    def file_for(self, when: datetime) -> Path:
        return self.dir / f"audit-{when:%Y-%m}.jsonl"

    def files(self) -> list[Path]:
        return sorted(self.dir.glob("audit-*.jsonl")) if self.dir.is_dir() else []

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.dir / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _head(self) -> tuple[int, str]:
        try:
            head = json.loads(self.head_file.read_text(encoding="utf-8"))
            return int(head["seq"]), str(head["hash"])
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError, TypeError):
            raise EnvironmentProblem(
                f"{self.head_file} is unreadable: run `bewaar audit verify`"
            ) from None
        return 0, GENESIS

    def append(
        self, action: str, user: str = "", role: str = "", target: str = "", outcome: str = "ok",
        when: datetime | None = None, **detail: Any,
    ) -> dict[str, Any]:  # fmt: skip
        """Append one event; returns the line as written."""
        when_dt = when or parse_iso(iso())
        entry: dict[str, Any] = {
            "time": iso(when_dt), "user": user, "role": role, "action": action,
            "target": target, "outcome": outcome,
        }  # fmt: skip
        entry.update({k: v for k, v in detail.items() if v not in (None, "")})
        try:
            with self._locked():
                seq, prev = self._head()
                entry = {"seq": seq + 1, **entry, "prev": prev}
                entry["hash"] = line_hash(entry)
                line = json.dumps(entry, ensure_ascii=False, separators=(", ", ": ")) + "\n"
                path = self.file_for(when_dt)
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, line.encode("utf-8"))
                    os.fsync(fd)
                finally:
                    os.close(fd)
                tmp = self.head_file.with_suffix(".tmp")
                tmp.write_text(
                    json.dumps({"seq": entry["seq"], "hash": entry["hash"], "file": path.name}),
                    encoding="utf-8",
                )
                tmp.replace(self.head_file)
        except OSError as e:
            raise EnvironmentProblem(f"cannot write the audit trail in {self.dir}: {e}") from None
        return entry

    # -- reading -------------------------------------------------------------------------
    def entries(self) -> Iterator[tuple[str, int, dict[str, Any] | None, str]]:
        """(file name, line number, parsed line or None, raw text) in chain order."""
        for path in self.files():
            with path.open(encoding="utf-8", errors="replace") as fh:
                for n, raw in enumerate(fh, 1):
                    try:
                        entry = json.loads(raw)
                        if not isinstance(entry, dict):
                            entry = None
                    except ValueError:
                        entry = None
                    yield path.name, n, entry, raw

    def verify(self) -> tuple[int, list[Problem]]:
        """(lines checked, problems). Each break in the chain is reported once, at the line
        where it shows, with what it looks like (changed, removed, moved)."""
        seqs = {e.get("seq") for _f, _n, e, _r in self.entries() if e is not None}
        problems: list[Problem] = []
        expect_seq, prev_hash, count = 1, GENESIS, 0
        last_file, last_line, where_prev = "", 0, ""
        just_broken = False
        for name, n, entry, _raw in self.entries():
            count += 1
            last_file, last_line = name, n
            if entry is None:
                problems.append(Problem(name, n, "not a JSON object: the line was changed"))
                expect_seq, prev_hash, just_broken = expect_seq + 1, "", True
                continue
            seq = entry.get("seq")
            problem = None
            if line_hash(entry) != entry.get("hash"):
                problem = f"seq {seq}: its content does not match its hash: the line was changed"
            elif not isinstance(seq, int):
                problem = "no sequence number: the line was changed"
            elif seq > expect_seq:
                if expect_seq in seqs:
                    problem = f"seq {seq} where seq {expect_seq} was expected: lines were moved"
                else:
                    problem = (f"seq {seq} follows seq {expect_seq - 1}: {seq - expect_seq} "
                               "line(s) before it were removed")  # fmt: skip
            elif seq < expect_seq:
                problem = f"seq {seq} comes after seq {expect_seq - 1}: lines were moved"
            elif not just_broken and entry.get("prev") != prev_hash:
                problem = (f"seq {seq}: does not follow the line before it ({where_prev}): "
                           "that line was changed and re-hashed, or lines were replaced")  # fmt: skip
            elif name != f"audit-{str(entry.get('time', ''))[:7]}.jsonl":
                problem = f"seq {seq}: dated {entry.get('time')}, not in its month's file"
            if problem:
                problems.append(Problem(name, n, problem))
            just_broken = problem is not None
            if isinstance(seq, int):
                expect_seq = max(expect_seq, seq + 1)
            prev_hash, where_prev = str(entry.get("hash", "")), f"{name}:{n}"
        try:
            head_seq, head_hash = self._head()
        except EnvironmentProblem as e:
            problems.append(Problem(self.head_file.name, 1, str(e)))
            return count, problems
        if head_seq and (head_seq != expect_seq - 1 or head_hash != prev_hash):
            problems.append(Problem(
                last_file or self.head_file.name, last_line,
                f"the trail ends at seq {expect_seq - 1} but head.json records seq {head_seq}: "
                "lines were removed from the end (or head.json was changed)",
            ))  # fmt: skip
        return count, problems

    def show(
        self, user: str | None = None, since: str | None = None, action: str | None = None
    ) -> Iterator[dict[str, Any]]:
        for _name, _n, entry, _raw in self.entries():
            if entry is None:
                continue
            if user is not None and entry.get("user") != user:
                continue
            if since and str(entry.get("time", "")) < since:
                continue
            if (
                action
                and entry.get("action") != action
                and not str(entry.get("action", "")).startswith(action + ".")
            ):
                continue
            yield entry

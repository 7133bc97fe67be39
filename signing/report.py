"""What `bewaar verify` found: numbered checks per file, rendered for people or for machines.

A file may also be *not signed* (a WARC another crawler wrote, a WACZ without signedData): its
record digests are still checked, and the verdict says NOT SIGNED, which is neither a pass nor
evidence of tampering. Like a warning it exits 0 unless --strict.

The five checks, in the order they run:
  1 record digests   every record's WARC-Block-Digest and WARC-Payload-Digest
  2 file integrity   each file's sha256/size against its signed manifest or the WACZ
                     datapackage; no file missing or extra
  3 signature        the signature against the signer certificate; the chain to a trusted root
  4 timestamp        the RFC 3161 token covers the signature, its TSA chains to a trusted TSA
                     root, and the signing time lies within the allowed window before TSA time
  5 package          WACZ only: datapackage digest, indexes consistent with the WARCs
  6 ledger           collection or WACZ: the ledger's hash chain and seals, every file present
                     in it, every file it holds present unless a signed record removed it
                     (lawful removals are reported with their record)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from bewaar.errors import FAILED, OK

PASS, FAIL, WARN, SKIP, UNSIGNED = "pass", "fail", "warn", "skip", "unsigned"
CHECK_NAMES = {
    1: "record digests",
    2: "file integrity",
    3: "signature",
    4: "timestamp",
    5: "package",
    6: "ledger",
}


@dataclass
class Check:
    number: int
    status: str
    detail: str

    @property
    def name(self) -> str:
        return CHECK_NAMES[self.number]


@dataclass
class PageSeen:
    url: str
    time: str
    status: int | None = None
    title: str = ""
    warc: str = ""


@dataclass
class Subject:
    """One thing verified: a WARC, a WACZ, or a WARC inside a WACZ."""

    path: str
    kind: str  # "warc" | "wacz" | "collection"
    checks: list[Check] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    pages: list[PageSeen] = field(default_factory=list)
    screenshots: list[dict[str, Any]] = field(default_factory=list)  # url, time, png (bytes)

    def add(self, number: int, status: str, detail: str) -> Check:
        check = Check(number, status, detail)
        self.checks.append(check)
        return check

    @property
    def status(self) -> str:
        states = {c.status for c in self.checks}
        for s in (FAIL, UNSIGNED, WARN):
            if s in states:
                return s
        return PASS


@dataclass
class Report:
    subjects: list[Subject] = field(default_factory=list)
    strict: bool = False

    def failures(self) -> list[tuple[Subject, Check]]:
        return [(s, c) for s in self.subjects for c in s.checks if c.status == FAIL]

    def warnings(self) -> list[tuple[Subject, Check]]:
        return [(s, c) for s in self.subjects for c in s.checks if c.status == WARN]

    def unsigned(self) -> list[tuple[Subject, Check]]:
        return [(s, c) for s in self.subjects for c in s.checks if c.status == UNSIGNED]

    @property
    def exit_code(self) -> int:
        if self.failures() or (self.strict and (self.warnings() or self.unsigned())):
            return FAILED
        return OK

    @property
    def outcome(self) -> str:
        """failed | not_signed | passed_with_warnings | passed (the JSON `outcome`)."""
        if self.failures():
            return "failed"
        if self.unsigned():
            return "not_signed"
        return "passed_with_warnings" if self.warnings() else "passed"

    @property
    def verdict(self) -> str:
        outcome = self.outcome
        if outcome == "failed":
            return "FAILED"
        if outcome == "not_signed":
            return "NOT SIGNED (strict: fails)" if self.strict else "NOT SIGNED"
        if outcome == "passed_with_warnings":
            return "FAILED (strict: warnings count)" if self.strict else "PASSED WITH WARNINGS"
        return "PASSED"

    def first_problem(self) -> tuple[Subject, Check] | None:
        problems = self.failures() or (
            (self.unsigned() + self.warnings()) if self.strict else []
        )
        return problems[0] if problems else None

    # ------------------------------------------------------------------ renderings

    def human(self) -> str:
        marks = {PASS: "ok  ", FAIL: "FAIL", WARN: "warn", SKIP: "skip", UNSIGNED: "none"}
        lines: list[str] = []
        for s in self.subjects:
            lines.append(f"{s.path}")
            for c in s.checks:
                lines.append(f"  [{marks[c.status]}] {c.number} {c.name}: {c.detail}")
        lines.append("")
        first = self.first_problem()
        summary = f"verify: {self.verdict}"
        if first:
            subj, check = first
            summary += f": first failure in {subj.path}: check {check.number} {check.name}: {check.detail}"
        elif self.unsigned():
            files = len({s.path for s, _c in self.unsigned()})
            summary += (
                f": {files} file(s) carry no signature; their record digests were checked (see "
                "check 1), but nothing proves who made them or when. This is not a sign of "
                "tampering"
            )
        elif self.warnings():
            summary += f" ({len(self.warnings())} warning(s); --strict makes them failures)"
        lines.append(summary)
        return "\n".join(lines)

    def as_json(self) -> str:
        def subject(s: Subject) -> dict[str, Any]:
            return {
                "path": s.path,
                "kind": s.kind,
                "status": s.status,
                "checks": [
                    {"check": c.number, "name": c.name, "status": c.status, "detail": c.detail}
                    for c in s.checks
                ],
                "facts": s.facts,
                "pages": [asdict(p) for p in s.pages],
                "screenshots": len(s.screenshots),
            }

        first = self.first_problem()
        data = {
            "verdict": self.verdict,
            "outcome": self.outcome,
            "exit_code": self.exit_code,
            "strict": self.strict,
            "first_failure": (
                {"path": first[0].path, "check": first[1].number, "name": first[1].name,
                 "detail": first[1].detail}
                if first
                else None
            ),
            "subjects": [subject(s) for s in self.subjects],
        }
        return json.dumps(data, indent=2, ensure_ascii=False)

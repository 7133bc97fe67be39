"""The signature sidecar beside each WARC: NAME.warc.gz.sig.json, format bewaar-warc-signature/1|2.

    {
      "manifest":  "bewaar-warc-signature/1",
      "statement": "<JSON text>",          # exactly these UTF-8 bytes are signed
      "signature": {"algorithm": "ecdsa-with-SHA256", "value": "<base64 DER>"},
      "signer":    {"subject": ..., "fingerprint": "<sha256 hex of leaf>", "certificates": "<PEM chain, leaf first>"},
      "timestamp": {"status": "granted", "token": "<base64 DER TimeStampResp>", "time": ..., "tsa": ..., "url": ...}
                 | {"status": "pending", "reason": ..., "url": ...},
      "records":   [[offset, length, type, record-id, target-uri, header-sha256], ...],
      # version 2 adds, outside what is signed (each part carries its own signatures):
      "revocation": {"crls": [...], "ocsp": [...], "unavailable": [...]},   # see revocation.py
      "renewals":  [{"token": ..., "time": ..., "tsa": ..., "url": ..., "algorithm": "sha256"}, ...]
    }

The statement is kept as a string so that the signed bytes never depend on how a program
re-serialises JSON: anyone can check it with openssl alone. Its fields:
    format, file (base name), size, sha256 (hex of the whole file), records {count, sha256 of the
    compact JSON of the `records` list}, first_record_date, last_record_date, created (signing
    time, UTC, whole seconds), software.
The timestamp token stamps the ASCII bytes of signature.value (as WACZ/authsign do), so it
proves the signature, and therefore the statement and the file hash, existed at TSA time.
A reader must reject a `manifest` value it does not know; new versions get a new number.
Version 2 only adds the unsigned `revocation` and `renewals` sections; the signed statement is
unchanged (its `format` stays version 1). A manifest without either section is written as
version 1, so older verifiers keep reading it; this module reads both.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bewaar.errors import InputError
from signing import files

FORMAT_V1 = "bewaar-warc-signature/1"
FORMAT = "bewaar-warc-signature/2"  # the newest this bewaar writes
FORMATS = (FORMAT_V1, FORMAT)
STATEMENT_FORMAT = FORMAT_V1  # what is signed has not changed since version 1
SIGNATURE_ALGORITHM = "ecdsa-with-SHA256"
MAX_MANIFEST = 512 * 1024 * 1024  # a record list for a very large WARC; never read beyond


def canonical(obj: Any) -> str:
    """Compact, key-sorted, ASCII JSON. For the string and integer values used here this is
    the same text RFC 8785 (JCS) gives."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def records_digest(records: list[list[Any]]) -> str:
    return hashlib.sha256(canonical(records).encode("ascii")).hexdigest()


class ManifestError(Exception):
    """The manifest is unreadable or malformed (a failed check, not a crash)."""


@dataclass
class Manifest:
    data: dict[str, Any]
    path: Path | None = None

    # ------------------------------------------------------------------ reading

    @classmethod
    def load(cls, path: Path) -> Manifest:
        if not path.exists():
            raise FileNotFoundError(path)
        try:
            raw = files.read_bounded(path, MAX_MANIFEST, "signature manifest")
        except InputError as e:
            raise ManifestError(str(e)) from None
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
            raise ManifestError(f"{path.name} is not a readable signature manifest ({e})") from None
        return cls.from_data(data, path)

    @classmethod
    def from_data(cls, data: Any, path: Path | None = None) -> Manifest:
        name = path.name if path else "manifest"
        if not isinstance(data, dict):
            raise ManifestError(f"{name} is not a signature manifest (not a JSON object)")
        fmt = data.get("manifest")
        if fmt not in FORMATS:
            raise ManifestError(
                f"{name}: unknown manifest format {fmt!r} (this bewaar reads {' and '.join(FORMATS)})"
            )
        m = cls(data, path)
        try:
            st = m.statement
            for key, kind in (("file", str), ("sha256", str), ("size", int), ("created", str)):
                if not isinstance(st.get(key), kind):
                    raise ManifestError(f"{name}: statement.{key} is missing or not a {kind.__name__}")
            if not isinstance(data.get("signature"), dict) or not isinstance(
                data["signature"].get("value"), str
            ):
                raise ManifestError(f"{name}: signature.value is missing")
            if not isinstance(data.get("signer"), dict) or not isinstance(
                data["signer"].get("certificates"), str
            ):
                raise ManifestError(f"{name}: signer.certificates is missing")
            if not isinstance(data.get("records", []), list):
                raise ManifestError(f"{name}: records is not a list")
            if fmt == FORMAT_V1 and ("renewals" in data or "revocation" in data):
                raise ManifestError(f"{name}: a version 1 manifest cannot hold renewals or revocation data")
            renewals = data.get("renewals", [])
            if not isinstance(renewals, list) or not all(
                isinstance(r, dict) and isinstance(r.get("token"), str) for r in renewals
            ):
                raise ManifestError(f"{name}: renewals is not a list of timestamps")
            if not isinstance(data.get("revocation", {}), dict):
                raise ManifestError(f"{name}: revocation is not an object")
        except (TypeError, AttributeError):
            raise ManifestError(f"{name}: malformed signature manifest") from None
        return m

    @property
    def statement_text(self) -> str:
        text = self.data.get("statement")
        if not isinstance(text, str):
            raise ManifestError("statement is missing")
        return text

    @property
    def statement(self) -> dict[str, Any]:
        try:
            st = json.loads(self.statement_text)
        except json.JSONDecodeError:
            raise ManifestError("statement is not JSON") from None
        if not isinstance(st, dict):
            raise ManifestError("statement is not a JSON object")
        return st

    @property
    def signature_b64(self) -> str:
        return str(self.data["signature"]["value"])

    @property
    def signature(self) -> bytes:
        try:
            return base64.b64decode(self.signature_b64, validate=True)
        except (binascii.Error, ValueError):
            raise ManifestError("signature.value is not base64") from None

    @property
    def certificates_pem(self) -> str:
        return str(self.data["signer"]["certificates"])

    @property
    def timestamp(self) -> dict[str, Any]:
        ts = self.data.get("timestamp")
        return ts if isinstance(ts, dict) else {"status": "pending", "reason": "no timestamp"}

    @property
    def timestamp_token(self) -> bytes | None:
        token = self.timestamp.get("token")
        if self.timestamp.get("status") != "granted" or not isinstance(token, str):
            return None
        try:
            return base64.b64decode(token, validate=True)
        except (binascii.Error, ValueError):
            raise ManifestError("timestamp.token is not base64") from None

    @property
    def records(self) -> list[list[Any]]:
        recs = self.data.get("records", [])
        return recs if isinstance(recs, list) else []

    @property
    def renewals(self) -> list[dict[str, Any]]:
        """The evidence renewals, oldest first (each stamps the file and the token before it)."""
        return list(self.data.get("renewals") or [])

    def renewal_token(self, i: int) -> bytes:
        try:
            return base64.b64decode(self.renewals[i]["token"], validate=True)
        except (binascii.Error, ValueError):
            raise ManifestError(f"renewals[{i}].token is not base64") from None

    @property
    def revocation(self) -> dict[str, Any] | None:
        rev = self.data.get("revocation")
        return rev if isinstance(rev, dict) else None

    def set_version(self) -> None:
        """Version 2 when the manifest holds what version 1 cannot, else version 1."""
        extra = bool(self.data.get("renewals")) or any(
            (self.data.get("revocation") or {}).get(k) for k in ("crls", "ocsp", "unavailable")
        )
        if not extra:
            self.data.pop("renewals", None)
            self.data.pop("revocation", None)
        self.data["manifest"] = FORMAT if extra else FORMAT_V1

    # ------------------------------------------------------------------ writing

    def write(self, path: Path) -> Path:
        """Atomically: a crash never leaves half a manifest beside a WARC."""
        self.set_version()
        tmp = path.with_name(path.name + ".tmp")
        head = {k: v for k, v in self.data.items() if k != "records"}
        text = json.dumps(head, indent=1, ensure_ascii=False)
        if "records" in self.data:
            # one record per line: readable, diffable, and small for WARCs of many records
            lines = ",\n".join("  " + json.dumps(r, ensure_ascii=False) for r in self.records)
            text = text[: text.rfind("}")].rstrip() + f',\n "records": [\n{lines}\n ]\n}}'
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(text + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(path)
        self.path = path
        return path


def manifest_path(warc: Path) -> Path:
    return warc.with_name(warc.name + ".sig.json")


def load_for(warc: Path) -> Manifest:
    path = manifest_path(warc)
    if not path.exists():
        raise InputError(f"{warc.name} has no signature manifest ({path.name}): run `bewaar sign {warc}`")
    try:
        return Manifest.load(path)
    except ManifestError as e:
        raise InputError(str(e)) from None

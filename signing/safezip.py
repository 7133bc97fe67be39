"""Reading a WACZ without trusting it: zipfile does the format, this module the suspicion.

Nothing is extracted to disk. Before any member is read, the central directory is checked
against the file's real size: a member that declares more bytes than the file holds, a deflated
member with an absurd expansion ratio (a zip bomb), encryption, unknown compression, duplicate
or unsafe names are refused with one line, before a single byte is inflated.
"""

from __future__ import annotations

import os
import struct
import zipfile
from pathlib import Path
from typing import IO

from bewaar.errors import InputError
from signing import files

MAX_MEMBERS = 200_000
MAX_RATIO = 200  # deflate rarely beats ~20:1 on web data; bombs declare thousands to one
RATIO_FLOOR = 16 * 1024 * 1024  # small members may compress extremely well (JSON of zeros)


def _human(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if size < 1000 or unit == "PB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} bytes"


class SafeZip:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fh = files.open_regular(path)
        self.size = os.fstat(self._fh.fileno()).st_size
        if self.size == 0:
            self._fh.close()
            raise InputError(f"{path}: empty file, not a WACZ package")
        try:
            self.zip = zipfile.ZipFile(self._fh)
        except zipfile.BadZipFile:
            self._fh.close()
            raise InputError(f"{path}: not a WACZ package (not a readable zip file)") from None
        except (OSError, ValueError, NotImplementedError, EOFError) as e:
            self._fh.close()
            raise InputError(f"{path}: not a readable zip file ({e})") from None
        self.infos: dict[str, zipfile.ZipInfo] = {}
        try:
            self._check_directory()
        except BaseException:
            self.close()
            raise

    def _check_directory(self) -> None:
        infos = self.zip.infolist()
        name = self.path.name
        if len(infos) > MAX_MEMBERS:
            raise InputError(f"{name}: {len(infos)} zip members: refusing (more than {MAX_MEMBERS})")
        total = 0
        for info in infos:
            member = info.filename
            if member in self.infos:
                raise InputError(f"{name}: member {member} appears twice: refusing an ambiguous zip")
            if member.startswith(("/", "\\")) or ".." in member.split("/") or "\\" in member:
                raise InputError(f"{name}: unsafe member name {member!r}: refusing")
            if info.flag_bits & 0x1:
                raise InputError(f"{name}: member {member} is encrypted: not a WACZ")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise InputError(
                    f"{name}: member {member} uses compression method {info.compress_type}: "
                    "WACZ uses only stored or deflated members"
                )
            if info.compress_size > self.size or info.header_offset > self.size:
                raise InputError(
                    f"{name}: member {member} declares {_human(info.compress_size)} but the whole "
                    f"file is {_human(self.size)}: corrupt or hostile zip, refusing to read it"
                )
            if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
                raise InputError(
                    f"{name}: stored member {member} declares {_human(info.file_size)} from "
                    f"{_human(info.compress_size)} of data: corrupt or hostile zip, refusing to read it"
                )
            if info.compress_type == zipfile.ZIP_DEFLATED and info.file_size > max(
                RATIO_FLOOR, info.compress_size * MAX_RATIO
            ):
                raise InputError(
                    f"{name}: member {member} would inflate {_human(info.compress_size)} to "
                    f"{_human(info.file_size)} (zip bomb?): refusing to inflate it"
                )
            total += info.compress_size
            self.infos[member] = info
        if total > self.size:
            raise InputError(
                f"{name}: members declare {_human(total)} of data in a {_human(self.size)} file: "
                "corrupt or hostile zip, refusing to read it"
            )

    def names(self) -> list[str]:
        return list(self.infos)

    def stored_span(self, member: str) -> tuple[int, int] | None:
        """(offset, size) of a stored member's bytes within the zip file, so they can be read
        in place (in parallel, by offset); None for a deflated member or a bad local header."""
        info = self.infos[member]
        if info.compress_type != zipfile.ZIP_STORED:
            return None
        head = os.pread(self._fh.fileno(), 30, info.header_offset)
        if len(head) < 30 or head[:4] != b"PK\x03\x04":
            return None
        name_len, extra_len = struct.unpack("<HH", head[26:30])
        start = info.header_offset + 30 + name_len + extra_len
        if start + info.file_size > self.size:
            return None
        return start, info.file_size

    def open(self, member: str) -> IO[bytes]:
        return self.zip.open(self.infos[member])

    def read_small(self, member: str, limit: int) -> bytes:
        info = self.infos[member]
        if info.file_size > limit:
            raise InputError(
                f"{self.path.name}: {member} is {_human(info.file_size)}, more than the "
                f"{_human(limit)} such a file can be: refusing"
            )
        with self.open(member) as fh:
            data = fh.read(limit + 1)
        if len(data) > limit:
            raise InputError(f"{self.path.name}: {member} is larger than it declares: refusing")
        return data

    def fileno(self) -> int:
        return self._fh.fileno()

    def close(self) -> None:
        self.zip.close()
        self._fh.close()

"""A platform export as a set of named files: a zip, a tar(.gz), a directory, or one file.

Paths are the archive's own (forward slashes, no leading "./"), so readers look files up the
way the platforms' documentation names them. Sizes are bounded: an export is read into the
WARC whole, so one larger than the collection's record limit is refused with one line.
"""

from __future__ import annotations

import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from bewaar.errors import InputError

MAX_FILES = 200_000


@dataclass
class ExportArchive:
    name: str  # the file's name as given
    data: bytes  # the original file (a directory: empty; its files are the export)
    mime: str
    files: dict[str, bytes] = field(default_factory=dict)

    def find(self, *patterns: str) -> list[str]:
        """Paths matching any glob pattern (`**` for any folders), in name order."""
        out = []
        for path in sorted(self.files):
            p = PurePosixPath(path)
            if any(p.match(pat) or p.match(pat.removeprefix("**/")) for pat in patterns):
                out.append(path)
        return out

    def first(self, *patterns: str) -> str | None:
        found = self.find(*patterns)
        return found[0] if found else None

    def text(self, path: str) -> str:
        return self.files[path].decode("utf-8-sig", "replace")


def open_export(path: Path, max_bytes: int) -> ExportArchive:
    """Read an export whole (bounded); InputError with one line when it cannot be."""
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if path.is_dir():
        files = {}
        total = 0
        for f in sorted(path.rglob("*")):
            if f.is_file():
                total += f.stat().st_size
                if total > max_bytes or len(files) >= MAX_FILES:
                    raise InputError(f"{path}: larger than {max_bytes // 1_000_000} MB (crawl.max_resource_size)")
                files[f.relative_to(path).as_posix()] = f.read_bytes()
        return ExportArchive(path.name, b"", "inode/directory", files)
    size = path.stat().st_size
    if size > max_bytes:
        raise InputError(
            f"{path}: {size / 1e6:.0f} MB is larger than crawl.max_resource_size "
            f"({max_bytes / 1e6:.0f} MB): raise it in bewaar.yaml to import this export"
        )
    data = path.read_bytes()
    try:
        if zipfile.is_zipfile(path):
            return ExportArchive(path.name, data, "application/zip", _unzip(path, max_bytes))
        if tarfile.is_tarfile(path):
            return ExportArchive(path.name, data, "application/x-tar", _untar(path, max_bytes))
    except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError) as e:
        raise InputError(f"{path}: not a readable archive ({e})") from None
    mime = "application/json" if path.suffix in (".json", ".js") else (
        "text/csv" if path.suffix == ".csv" else "application/octet-stream"
    )
    return ExportArchive(path.name, data, mime, {path.name: data})


def _clean(name: str) -> str | None:
    """An archive member's path, or None for one that climbs out ("../") or is absolute."""
    parts = [p for p in PurePosixPath(name.replace("\\", "/")).parts if p not in ("", ".", "/")]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)


def _unzip(path: Path, max_bytes: int) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    total = 0
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            name = _clean(info.filename)
            if info.is_dir() or name is None:
                continue
            total += info.file_size  # the declared size: a zip bomb is refused before reading
            if total > max_bytes * 4 or len(out) >= MAX_FILES:
                raise InputError(f"{path}: unpacks to more than {max_bytes * 4 // 1_000_000} MB")
            out[name] = z.read(info)
    return out


def _untar(path: Path, max_bytes: int) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    total = 0
    with tarfile.open(path) as t:
        for m in t:
            name = _clean(m.name)
            if not m.isfile() or name is None:
                continue
            total += m.size
            if total > max_bytes * 4 or len(out) >= MAX_FILES:
                raise InputError(f"{path}: unpacks to more than {max_bytes * 4 // 1_000_000} MB")
            f = t.extractfile(m)
            if f is not None:
                out[name] = f.read()
    return out

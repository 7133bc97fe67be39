"""Test harness: open WACZ packages in ReplayWeb.page, in the session's headless Chromium.

ReplayWeb.page is what a court or a researcher most likely opens a bewaar package with, so every
export that writes a WACZ is replayed in it, not only validated. The viewer is the real one:
`ui.js` and `sw.js` of the pinned npm package that `bewaar setup` installs, served with the
package from 127.0.0.1 by `bewaar.app.view.ReplayWebPage` (byte ranges: wabac.js reads a
WACZ by ranges). The replayed page is the nested frame whose URL contains `mp_/`; check it with
tests/pagecheck.py as the pywb tests do.

    def test_x(replaywebpage, tmp_path):
        name = replaywebpage.add(package_path)
        page, frame, failed = replaywebpage.open(name, "https://captured.example/page")

A missing ReplayWeb.page fails the tests that use it (with the fix: `bewaar setup`); it is a
dependency of the suite, never a reason to skip.
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bewaar.app.view import ReplayWebPage
from bewaar.errors import EnvironmentProblem

FRAME_TIMEOUT_S = 60


class Viewer:
    """A ReplayWeb.page server and one browser context (the service worker and wabac.js's
    storage live there), warmed up once so measured loads start with the worker installed."""

    def __init__(self, server: ReplayWebPage, context: Any) -> None:
        self.server = server
        self.context = context
        self.warm = False

    def add(self, wacz: Path) -> str:
        return self.server.add(wacz)

    def open(self, name: str, url: str, ts: str | None = None) -> tuple[Any, Any, list[str]]:
        """Open `url` from package `name`: (page, the replayed frame, failed requests)."""
        if not self.warm:
            page, _, _ = self._open(name, url, ts)  # installs the service worker
            page.close()
            self.warm = True
        return self._open(name, url, ts)

    def _open(self, name: str, url: str, ts: str | None) -> tuple[Any, Any, list[str]]:
        page = self.context.new_page()
        failed: list[str] = []
        # ERR_ABORTED is the page cancelling its own request (media elements do it all the time)
        page.on(
            "requestfailed",
            lambda r: failed.append(f"{r.url} {r.failure}")
            if "ERR_ABORTED" not in (r.failure or "") else None,
        )
        # answers for archived URLs (…/replay/w/COLL/TS mp_/URL); ReplayWeb.page's own API
        # (…/replay/w/api/…) may answer 404 while a collection is still being opened
        page.on(
            "response",
            lambda r: failed.append(f"{r.status} {r.url}")
            if r.status >= 400 and "/replay/w/api/" not in r.url else None,
        )
        page.goto(self.server.view_url(name, url, ts), wait_until="load", timeout=60000)
        for _ in range(FRAME_TIMEOUT_S * 10):
            inner = [f for f in page.frames if "mp_/" in f.url]
            if inner:
                frame = inner[0]
                frame.wait_for_load_state("load")
                return page, frame, failed
            page.wait_for_timeout(100)
        shown = [f.url for f in page.frames]
        page.close()
        raise AssertionError(f"ReplayWeb.page showed no replay frame for {url} in {name}: {shown}")


def frame_text(frame: Any, limit: int = 300) -> str:
    """What the replayed frame says (for failure messages: 'Archived Page Not Found' …)."""
    return str(frame.evaluate("document.body ? document.body.innerText : ''"))[:limit]


@pytest.fixture(scope="session")
def replaywebpage(chromium_browser: Any) -> Iterator[Viewer]:
    try:
        server = ReplayWebPage().start()
    except EnvironmentProblem as e:
        pytest.fail(f"ReplayWeb.page is needed by this test: {e}", pytrace=False)
    context = chromium_browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        yield Viewer(server, context)
    finally:
        context.close()
        server.stop()


# ------------------------------------------------------------------------- ZIP layout
ZIP64_EXTRA = 0x0001


@dataclass
class Member:
    """One member's headers as written (raw 32-bit fields, extra-field ids and lengths)."""

    name: str
    local_sizes: tuple[int, int]  # (compressed, uncompressed) as the local header says
    local_extra: dict[int, int]  # extra-field id -> data length
    central_sizes: tuple[int, int]
    central_offset: int
    central_extra: dict[int, int]
    central_extra_len: int
    header_offset: int  # where the local header starts
    data_offset: int  # where the member's data really starts

    @property
    def zip64(self) -> bool:
        return ZIP64_EXTRA in self.local_extra or ZIP64_EXTRA in self.central_extra

    @property
    def wabac_data_offset(self) -> int | None:
        """Where wabac.js 2.x looks for the data without reading the local header: it assumes
        no local extra field when the central directory entry has none."""
        if self.central_extra_len:
            return None  # it reads the local header then
        return self.header_offset + 30 + len(self.name.encode())


def _extras(data: bytes) -> dict[int, int]:
    out = {}
    pos = 0
    while pos + 4 <= len(data):
        kind, size = struct.unpack_from("<HH", data, pos)
        out[kind] = size
        pos += 4 + size
    return out


def zip_layout(path: Path) -> list[Member]:
    """Every member's local and central headers, read without reading the members' data."""
    with zipfile.ZipFile(path) as z:
        infos = z.infolist()
        start_dir = z.start_dir  # type: ignore[attr-defined]
    members = []
    with path.open("rb") as fh:
        fh.seek(start_dir)
        central = fh.read()  # the central directory and end records: small
        pos = 0
        for info in infos:
            (sig,) = struct.unpack_from("<I", central, pos)
            assert sig == 0x02014B50, f"central directory entry for {info.filename}"
            csize, usize, nlen, elen, clen = struct.unpack_from("<IIHHH", central, pos + 20)
            (offset,) = struct.unpack_from("<I", central, pos + 42)
            extra = central[pos + 46 + nlen : pos + 46 + nlen + elen]
            pos += 46 + nlen + elen + clen
            fh.seek(info.header_offset)
            head = fh.read(30)
            lc, lu, lnlen, lelen = struct.unpack_from("<IIHH", head, 18)
            lextra = fh.read(lnlen + lelen)[lnlen:]
            members.append(Member(
                name=info.filename,
                local_sizes=(lc, lu),
                local_extra=_extras(lextra),
                central_sizes=(csize, usize),
                central_offset=offset,
                central_extra=_extras(extra),
                central_extra_len=elen,
                header_offset=info.header_offset,
                data_offset=info.header_offset + 30 + lnlen + lelen,
            ))
    return members


def misread_by_wabac(members: list[Member]) -> list[str]:
    """Members whose data wabac.js would look for in the wrong place (empty: all readable)."""
    return [
        f"{m.name}: data at {m.data_offset}, wabac.js reads at {m.wabac_data_offset}"
        for m in members
        if m.wabac_data_offset is not None and m.wabac_data_offset != m.data_offset
    ]

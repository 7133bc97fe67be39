"""ReplayWeb.page as bewaar installs and serves it: `bewaar setup`'s installer and `bewaar view`.

The installer runs npm with `npm_config_offline=true`, so it reads the tarball `bewaar setup`
already put in npm's cache and the test never leaves this machine.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bewaar import environment
from bewaar.errors import EnvironmentProblem
from tests.conftest import BIN, free_port, run_bewaar


# ----------------------------------------------------------------------------- installer
def test_installs_the_pinned_viewer_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "share" / "replaywebpage"
    monkeypatch.setenv("BEWAAR_REPLAYWEBPAGE_DIR", str(target))
    monkeypatch.setenv("npm_config_offline", "true")
    with pytest.raises(EnvironmentProblem, match="run `bewaar setup`"):
        environment.find_replaywebpage()
    assert environment.install_replaywebpage() == target
    assert json.loads((target / "package.json").read_text())["version"] == environment.REPLAYWEBPAGE_VERSION
    assert (target / "sw.js").read_bytes().startswith(b"/*! sw.js (wabac.js")
    assert b"replay-web-page" in (target / "ui.js").read_bytes()
    assert sorted(p.name for p in target.iterdir()) == sorted(environment.REPLAYWEBPAGE_FILES)
    # idempotent: installed, it needs no npm at all
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert environment.install_replaywebpage() == target


def test_another_version_is_not_taken_for_the_pinned_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "rwp"
    target.mkdir()
    for name in environment.REPLAYWEBPAGE_FILES:
        (target / name).write_text("x")
    (target / "package.json").write_text(json.dumps({"version": "1.0.0"}))
    monkeypatch.setenv("BEWAAR_REPLAYWEBPAGE_DIR", str(target))
    with pytest.raises(EnvironmentProblem, match=r"ReplayWeb.page 1.0.0 .* expects 2\.5\.3"):
        environment.find_replaywebpage()


def test_without_npm_setup_says_how_to_get_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEWAAR_REPLAYWEBPAGE_DIR", str(tmp_path / "rwp"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no npm, no apt-get
    with pytest.raises(EnvironmentProblem, match="npm not found: .* run `bewaar setup` again"):
        environment.install_replaywebpage()


# ----------------------------------------------------------------------------- bewaar view
@pytest.fixture
def wacz_file(tmp_path: Path) -> Path:
    """A zip with a datapackage.json: all the server looks at (ReplayWeb.page reads the rest)."""
    path = tmp_path / "besluiten 2025.wacz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("datapackage.json", json.dumps({"title": "Besluiten <2025>"}))
        z.writestr("archive/x.warc.gz", b"\x00" * 5000)
    return path


class View:
    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [str(BIN), "view", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert self.proc.stdout is not None
        head = self.proc.stdout.readline()
        self.links = [self.proc.stdout.readline() for _ in range(2)]
        m = re.search(r"at (http://127\.0\.0\.1:\d+)/ ", head)
        assert m, head + (self.proc.stderr.read() if self.proc.stderr else "")
        self.url = m.group(1)

    def get(self, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
        req = urllib.request.Request(self.url + path, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()


@pytest.fixture
def view(wacz_file: Path) -> Iterator[View]:
    v = View(str(wacz_file), "--port", "0", "--url", "https://example.gov/a b")
    try:
        yield v
    finally:
        if v.proc.poll() is None:
            v.proc.kill()
            v.proc.wait()


def test_view_serves_the_viewer_a_page_and_the_package_by_ranges(view: View, wacz_file: Path) -> None:
    size = wacz_file.stat().st_size
    page_link = view.links[0].split()[0]
    assert "Besluiten <2025>" in view.links[0] and page_link.startswith(view.url + "/view/")
    name = page_link.split("/view/", 1)[1].split("?", 1)[0]
    status, _, html = view.get(page_link[len(view.url):])
    assert status == 200
    assert f'source="{view.url}/wacz/{name}"'.encode() in html
    assert b'url="https://example.gov/a b"' in html and b'replaybase="/replay/"' in html
    assert b"Besluiten &lt;2025&gt;" in html
    status, headers, body = view.get("/ui.js")
    assert status == 200 and headers["Content-Type"] == "application/javascript" and body
    assert view.get("/replay/sw.js")[0] == 200
    # the package, by ranges: the first bytes, the last bytes, beyond the end
    data = wacz_file.read_bytes()
    status, headers, body = view.get(f"/wacz/{name}", Range="bytes=0-3")
    assert (status, body, headers["Content-Range"]) == (206, b"PK\x03\x04", f"bytes 0-3/{size}")
    status, headers, body = view.get(f"/wacz/{name}", Range="bytes=-22")
    assert status == 206 and body == data[-22:] and headers["Accept-Ranges"] == "bytes"
    status, headers, body = view.get(f"/wacz/{name}", Range=f"bytes={size - 10}-")
    assert status == 206 and body == data[-10:]
    status, headers, _ = view.get(f"/wacz/{name}", Range=f"bytes={size}-")
    assert status == 416 and headers["Content-Range"] == f"bytes */{size}"
    status, headers, body = view.get(f"/wacz/{name}")
    assert status == 200 and body == data
    assert view.get("/wacz/other.wacz")[0] == 404
    status, _, body = view.get("/")
    assert status == 200 and name.encode() in body


def test_view_stops_on_sigterm(view: View) -> None:
    view.proc.send_signal(signal.SIGTERM)
    assert view.proc.wait(10) == 0


def test_view_bad_input_and_busy_port(wacz_file: Path, tmp_path: Path) -> None:
    proc = run_bewaar("view", str(tmp_path / "missing.wacz"), "--port", "0", timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"bewaar: error: {tmp_path / 'missing.wacz'}: no such file"]
    (tmp_path / "notes.wacz").write_text("not a zip")
    proc = run_bewaar("view", str(tmp_path / "notes.wacz"), "--port", "0", timeout=60)
    assert proc.returncode == 2 and "not a WACZ package" in proc.stderr
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        proc = run_bewaar("view", str(wacz_file), "--port", str(port), timeout=60)
    assert proc.returncode == 3 and f"port {port} on 127.0.0.1 is in use" in proc.stderr
    env = dict(os.environ, BEWAAR_REPLAYWEBPAGE_DIR=str(tmp_path / "nothing"))
    proc = subprocess.run([str(BIN), "view", str(wacz_file)], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 3 and "run `bewaar setup`" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_npm_that_cannot_fetch_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEWAAR_REPLAYWEBPAGE_DIR", str(tmp_path / "rwp"))
    monkeypatch.setenv("npm_config_offline", "true")
    monkeypatch.setenv("npm_config_cache", str(tmp_path / "empty-npm-cache"))  # nothing cached
    with pytest.raises(EnvironmentProblem, match=r"npm could not fetch replaywebpage@2\.5\.3"):
        environment.install_replaywebpage()
    assert not (tmp_path / "rwp").exists()

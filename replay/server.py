"""`bewaar replay`: pywb over a root's collections, run as a process in pywb's environment."""

from __future__ import annotations

import collections
import ctypes
import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from bewaar.config import ReplayConfig
from bewaar.environment import pywb_python
from bewaar.errors import EnvironmentProblem, InputError
from bewaar.model import Root
from replay.fuzzy import all_rules

HERE = Path(__file__).resolve().parent
AUDIT_MARK = "\x1ebewaar-audit "  # audit events on pywb_app.py's stdout
BASE_CONFIG: dict[str, Any] = {
    "collections_root": "collections",
    "archive_paths": "archive",
    "index_paths": "indexes",
    "enable_memento": True,
    "framed_replay": True,
}


def check_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            raise EnvironmentProblem(
                f"cannot listen on {host}:{port} ({e.strerror or e}): "
                "stop what uses it or choose another with --port"
            ) from None


def acl_dir(root: Root) -> Path:
    """pywb's access-control lists, one directory per collection (written by bewaar/app/access
    from bewaar's restrictions)."""
    return root.state_dir / "replay" / "acl"


def prepare(
    root: Root, cfg: ReplayConfig, out: Path | None = None, acl: bool = True
) -> tuple[Path, Path]:
    """Write pywb's config (bewaar's defaults, then the user's replay.pywb settings) and the
    rules learned from the collections, into `out` (default ROOT/.bewaar/replay, where the
    learned rules are cached)."""
    colls = root.collections()
    if not colls:
        raise InputError(f"no collections under {root.collections_dir}: run `bewaar crawl` first")
    state = root.state_dir / "replay"
    state.mkdir(parents=True, exist_ok=True)
    out = out or state
    out.mkdir(parents=True, exist_ok=True)
    # pywb looks for templates in ./templates before its own: pywb runs in `out`, where
    # bewaar's safe frame and banner templates are put (pywb itself stays unpatched)
    templates = out / "templates"
    templates.mkdir(exist_ok=True)
    for src in (HERE / "templates").glob("*.html"):
        (templates / src.name).write_bytes(src.read_bytes())
    config = dict(BASE_CONFIG)
    config["collections_root"] = str(root.collections_dir.resolve())
    if acl:  # `bewaar qa` compares with the capture as an archivist would see it: no ACLs
        config["acl_paths"] = str(acl_dir(root).resolve() / "{coll}")
    config.update(cfg.pywb)
    config_path = out / "config.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    general = yaml.safe_load((HERE / "rules.yaml").read_text(encoding="utf-8")) or {}
    rules = {
        "url_normalize": general.get("url_normalize") or [],
        "rules": all_rules(colls, state) + list(general.get("rules") or []),
    }
    # JSON (which YAML reads too): pure-Python YAML took 1.8 s to write 5,000 learned rules,
    # a collection with about 1,500 posts; this is read back by replay/pywb_rules.py
    rules_path = out / "rules.bewaar.json"
    rules_path.write_text(json.dumps(rules, ensure_ascii=False), encoding="utf-8")
    (out / "rules.bewaar.yaml").unlink(missing_ok=True)  # written by an older bewaar
    return config_path, rules_path


def _death_signal() -> Callable[[], None] | None:
    """Linux: a pre-exec hook that makes the pywb process receive SIGTERM when bewaar's
    process ends, however it ends, so no orphaned server keeps the port. libc is loaded here,
    in the parent: between fork and exec the child must not import anything (another thread
    may hold the import lock)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def hook() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM)

    return hook


# pywb looks records up through its own internal HTTP server, whose gevent access log writes a
# line per lookup ('127.0.0.1 - - [date] "POST /coll/resource/postreq?…" 200 …'): hundreds per
# page in `bewaar qa` and the demo. They are read (a full pipe would freeze pywb) and kept with
# the last lines of output, but not echoed: they drowned the errors that are.
_ACCESS_LINE = re.compile(r'^\S+ - - \[[^\]]*\] "[A-Z]+ ')


class ReplayServer:
    """Start pywb for a root; `with ReplayServer(...) as url:` in tests and the demo."""

    def __init__(
        self, root: Root, cfg: ReplayConfig, host: str, port: int, state: Path | None = None,
        echo_errors: bool = True, gate: Path | None = None,
        on_event: Callable[[dict[str, Any]], None] | None = None, acl: bool = True,
    ) -> None:  # fmt: skip
        """`state`: where pywb's generated configuration goes (default ROOT/.bewaar/replay);
        a second server with other settings (`bewaar qa`'s) keeps its own. `echo_errors`: pass
        pywb's error output through to our stderr. `gate`: the gate's settings (JSON): who may
        see what (docs/access.md). `on_event`: audit events the gate reports."""
        self.root, self.cfg, self.host, self.port = root, cfg, host, port
        self.state = state
        self.acl = acl
        self.gate = gate
        self.on_event = on_event
        self.proc: subprocess.Popen[str] | None = None
        self.echo_errors = echo_errors
        self.output: collections.deque[str] = collections.deque(maxlen=200)  # pywb's last lines

    def _drain(self, stream: Any, echo: bool, events: bool = False) -> None:
        """Read pywb's output for as long as it runs: a server nobody reads fills its pipe
        (pywb logs to stderr) and then stops answering. Audit events go to `on_event`."""

        def run() -> None:
            try:
                for line in stream:
                    if events and line.startswith(AUDIT_MARK):
                        self._event(line[len(AUDIT_MARK) :])
                        continue
                    self.output.append(line.rstrip("\n"))
                    if echo and not _ACCESS_LINE.match(line):
                        sys.stderr.write(line)
            except (OSError, ValueError):
                pass  # the process ended and the pipe was closed

        threading.Thread(target=run, name="pywb-output", daemon=True).start()

    def _event(self, text: str) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(json.loads(text))
        except Exception as e:  # noqa: BLE001 - a failed audit write must be seen, not kill the reader
            sys.stderr.write(f"bewaar: error: audit trail: {e}\n")

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 60.0) -> str:
        python = pywb_python()
        if self.port:
            check_port(self.host, self.port)
        config_path, rules_path = prepare(self.root, self.cfg, self.state, self.acl)
        cmd = [
            str(python), str(HERE / "pywb_app.py"),
            "--root", str(self.root.path), "--config", str(config_path), "--rules", str(rules_path),
            "--host", self.host, "--port", str(self.port),
        ]
        if self.gate is not None:
            cmd += ["--gate", str(self.gate)]
        self.proc = subprocess.Popen(
            cmd,
            cwd=self.root.path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=_death_signal() if sys.platform.startswith("linux") else None,
        )
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            err = (self.proc.stderr.read() if self.proc.stderr else "").strip().splitlines()
            self.stop()
            raise EnvironmentProblem(f"pywb did not start: {err[-1] if err else 'no output'}")
        info = json.loads(line)
        self.port = int(info["port"])
        # pywb writes a line per error (and more with debug settings): read both pipes for as
        # long as it runs, or a full pipe would freeze it mid-request
        self._drain(self.proc.stdout, echo=False, events=True)
        self._drain(self.proc.stderr, echo=self.echo_errors)
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port), timeout=1):
                    return self.url
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise EnvironmentProblem(f"pywb did not answer on {self.url} within {timeout:.0f}s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None

    def wait(self) -> int:
        """Until pywb exits (or Ctrl-C / SIGTERM here); then stop it."""
        assert self.proc is not None
        try:
            while True:
                # in short polls: Python runs a signal's handler in the main thread only once
                # it is back to bytecode, and a blocking waitpid need not be interrupted by a
                # signal delivered while the overview's thread runs
                try:
                    return self.proc.wait(0.5)
                except subprocess.TimeoutExpired:
                    continue
        except KeyboardInterrupt:
            return 0
        finally:
            self.stop()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

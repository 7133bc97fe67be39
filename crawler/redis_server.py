"""A redis-server bewaar runs itself: the private queue of a root, or a test's own server.

`bewaar crawl` and `bewaar watch` without --redis keep their queue, leases and run state in a
private server for the root (ROOT/.bewaar/redis/: append-only file fsynced on every write, so
a crawl killed with SIGKILL, or a power cut, resumes where it stopped). It is started on
demand and dies with the process that started it (PR_SET_PDEATHSIG). A second bewaar process
on the same root uses the running server (found through server.json, guarded by an flock the
owner holds), and takes it over when its owner ends.

The server is the system's redis-server (installed by `bewaar setup`), run unchanged; only
starting and finding it is written here.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from bewaar.environment import find_redis_server
from bewaar.errors import EnvironmentProblem

SOCKET_MAX = 100  # sun_path holds 108 bytes; deeper roots use a loopback port with a password
START_TIMEOUT = 30.0


def _death_signal() -> Callable[[], None] | None:
    """Linux: the server gets SIGTERM (a clean shutdown that syncs its append-only file) when
    the thread that started it ends, however it ends. libc is loaded in the parent: between
    fork and exec the child must not import."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def hook() -> None:
        prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG

    return hook


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """redis-server with its data in `directory`.

    `port=None`: the root's private server (a unix socket where the path is short enough,
    else a loopback port with a random password). `port=N`: a plain server on 127.0.0.1:N
    (tests). `fsync`: "always" (default: nothing acknowledged is lost on a power cut) or
    "everysec"."""

    def __init__(self, directory: Path, port: int | None = None, fsync: str = "always") -> None:
        self.dir = Path(directory)
        self.port = port
        self.fsync = fsync
        self.proc: subprocess.Popen[bytes] | None = None
        self._lock_fd: int | None = None
        self.url = ""

    @property
    def info_file(self) -> Path:
        return self.dir / "server.json"

    # -- the root's private server: one owner, found by the others ------------------------
    def ensure(self) -> str:
        """The URL of the root's server, starting it when nobody runs it."""
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self.proc is not None and self.proc.poll() is None:
            return self.url
        fd = os.open(self.dir / "server.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return self._theirs()
        self._lock_fd = fd
        return self._start()

    def _theirs(self) -> str:
        """Another live process owns the server: its URL, once it answers."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                info = json.loads(self.info_file.read_text(encoding="utf-8"))
                url = str(info["url"])
                if _answers(url):
                    self.url = url
                    return url
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.1)
        raise EnvironmentProblem(f"the queue server of this root ({self.dir}) does not answer")

    def _start(self) -> str:
        exe = find_redis_server()
        args = [
            exe, "--dir", str(self.dir), "--bind", "127.0.0.1", "--daemonize", "no",
            "--appendonly", "yes", "--appendfsync", self.fsync, "--save", "",
            "--logfile", str(self.dir / "redis.log"), "--databases", "1",
        ]  # fmt: skip
        if self.port is not None:
            args += ["--port", str(self.port), "--protected-mode", "no"]
            url = f"redis://127.0.0.1:{self.port}/0"
        else:
            sock = self.dir / "redis.sock"
            if len(str(sock)) <= SOCKET_MAX:
                with contextlib.suppress(FileNotFoundError):
                    sock.unlink()
                args += ["--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700"]
                url = f"unix://{sock}?db=0"
            else:
                port, password = free_port(), secrets.token_hex(16)
                args += ["--port", str(port), "--requirepass", password]
                url = f"redis://:{password}@127.0.0.1:{port}/0"
        self.proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            preexec_fn=_death_signal(), start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = (self.proc.stderr.read() if self.proc.stderr else b"").decode(errors="replace")
                tail = _log_tail(self.dir / "redis.log") or err.strip()
                raise EnvironmentProblem(f"redis-server would not start in {self.dir}: {tail}")
            if _answers(url):
                break
            time.sleep(0.05)
        else:
            self.stop()
            raise EnvironmentProblem(f"redis-server in {self.dir} did not answer within {START_TIMEOUT:.0f}s")
        self.url = url
        if self.port is None:
            tmp = self.info_file.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"url": url, "pid": self.proc.pid}, fh)
            os.replace(tmp, self.info_file)
        return url

    def start(self) -> str:
        """A server of our own (tests: on `port`)."""
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self._start()

    def stop(self) -> None:
        """SIGTERM: redis syncs its append-only file and exits."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if proc is not None and proc.stderr is not None:
            proc.stderr.close()
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                self.info_file.unlink()
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> RedisServer:
        if self.port is not None:
            self.start()
        else:
            self.ensure()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _answers(url: str) -> bool:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError):
        return False


def _log_tail(path: Path) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return lines[-1][-300:] if lines else ""

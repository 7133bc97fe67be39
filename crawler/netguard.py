"""The crawler does not reach private networks: every connection Chromium and yt-dlp make goes
through a small SOCKS5 proxy on 127.0.0.1 that resolves the host once, checks the addresses,
and connects to the address it checked.

Why a proxy: Chromium opens its own connections, and what Playwright's routing or CDP show is
a URL (a name), not the address the browser then connects to; a name checked there can resolve
to another address a moment later (DNS rebinding). Behind the proxy, Chromium resolves nothing
itself (SOCKS5 hands the proxy the name), so the address checked is the address connected, for
seeds, followed links, redirects, in-page fetches, frames, media and WebSockets alike, and the
same proxy serves yt-dlp (socks5h: remote resolution).

Refused by default: loopback (127.0.0.0/8, ::1), link-local (169.254.0.0/16, fe80::/10: cloud
metadata services live at 169.254.169.254), private ranges (10/8, 172.16/12, 192.168/16,
fc00::/7), every other address that is not globally routable (0.0.0.0/8, 100.64/10, ...),
IPv4 addresses wrapped in IPv6 forms, and cloud-metadata names. `crawl.allow_private` in
bewaar.yaml opens exceptions by network (CIDR, or one address) or by host name. With
`browser.loopback_only` every name but localhost and IP literals is "not found", as Chromium's
host-resolver rule made it before (Chromium resolves nothing itself behind the proxy).

Written here rather than taken from a library: the SOCKS5 CONNECT exchange is a few lines of
RFC 1928, and the Python SOCKS libraries are clients (socksio, python-socks) or whole proxy
frameworks (pproxy, mitmproxy) that resolve and connect themselves, which is exactly the step
the check must own.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Names that are never on the web, whatever they resolve to.
METADATA_NAMES = frozenset({
    "metadata", "metadata.google.internal", "metadata.goog", "instance-data",
    "instance-data.ec2.internal", "metadata.azure.internal", "kubernetes.default.svc",
})  # fmt: skip
# Cloud providers' internal zones: names there answer with internal services even where the
# address looks harmless. (localhost, .local and the like resolve to private addresses and are
# refused by address, so that allowing 127.0.0.1 also allows localhost.)
INTERNAL_SUFFIXES = (".internal",)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SHARED = ipaddress.ip_network("100.64.0.0/10")
DNS_TTL = 60.0  # seconds a resolution is reused (Chromium's own host cache keeps names 60 s)
CONNECT_TIMEOUT = 30.0
_BUFFER = 256 * 1024

# SOCKS5 reply codes (RFC 1928 6)
_OK, _FAILURE, _NOT_ALLOWED, _HOST_UNREACHABLE, _REFUSED, _BAD_COMMAND, _BAD_ADDRESS = 0, 1, 2, 4, 5, 7, 8


@dataclass(frozen=True)
class Refusal:
    """Why a connection was not made, in Chromium's words where there are some."""

    code: str  # e.g. ERR_NAME_NOT_RESOLVED, ERR_CONNECTION_REFUSED, BEWAAR_PRIVATE_ADDRESS
    words: str

    @property
    def private(self) -> bool:
        return self.code == "BEWAAR_PRIVATE_ADDRESS"


def _embedded_v4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, NAT64, 6to4, Teredo client)."""
    if ip.version != 6:
        return None
    assert isinstance(ip, ipaddress.IPv6Address)
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour:
        return ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    return None


def classify(ip: IPAddress) -> str | None:
    """Why an address is not on the public internet, or None when it is."""
    inner = _embedded_v4(ip)
    if inner is not None:
        why = classify(inner)
        return f"{why} (inside {ip})" if why else None
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address (where cloud metadata services answer)"
    if ip.is_unspecified:
        return "the unspecified address (this machine)"
    if ip.is_multicast:
        return "a multicast address"
    if ip.version == 4 and ip in _SHARED:
        return "a shared (carrier-grade NAT) address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        return "not a public address"
    return None


def parse_allow(entries: Iterable[str]) -> tuple[list[Network], set[str]]:
    """`crawl.allow_private` entries: networks (CIDR or one address) and host names."""
    nets: list[Network] = []
    hosts: set[str] = set()
    for entry in entries:
        text = entry.strip().strip("[]")
        try:
            nets.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            hosts.add(text.lower().rstrip("."))
    return nets, hosts


@dataclass
class Policy:
    """What may be connected to. `allow`: crawl.allow_private entries."""

    allow: list[str] = field(default_factory=list)
    loopback_only: bool = False

    def __post_init__(self) -> None:
        self.networks, self.hosts = parse_allow(self.allow)

    def check_name(self, host: str) -> Refusal | None:
        """Before any DNS: names that are not on the web."""
        name = host.lower().rstrip(".")
        local = name in METADATA_NAMES or name.endswith(INTERNAL_SUFFIXES)
        if local and name not in self.hosts:
            return Refusal(
                "BEWAAR_PRIVATE_ADDRESS",
                f"refused: {host} is a cloud-metadata or internal name "
                "(allow it with crawl.allow_private in bewaar.yaml)",
            )
        if self.loopback_only and _literal(name) is None and name != "localhost":
            # browser.loopback_only: every name but loopback is "not found" (tests, the demo)
            return Refusal("ERR_NAME_NOT_RESOLVED", "host not found (DNS)")
        return None

    def check_address(self, host: str, ip: IPAddress) -> Refusal | None:
        """After DNS, on the address that will be connected."""
        if host.lower().rstrip(".") in self.hosts or any(ip in n for n in self.networks):
            return None
        why = classify(ip)
        if why is None:
            return None
        shown = host if _literal(host) is not None else f"{host} ({ip})"
        return Refusal(
            "BEWAAR_PRIVATE_ADDRESS",
            f"refused: {shown} is {why}, not the public web "
            "(allow it with crawl.allow_private in bewaar.yaml)",
        )


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


Resolver = Callable[[str, int], list[str]]


def system_resolve(host: str, port: int) -> list[str]:
    """Addresses of a host, in the order the system gives them (no duplicates)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class NetGuard:
    """The checking SOCKS5 proxy, on 127.0.0.1 in a thread of its own (its own event loop:
    piping bytes never waits for the crawler's loop, nor the crawler for it).

    `refusals[(host, port)]` says why connections were refused (the spider reports it for the
    URL); `connected[(host, port)]` is the address last connected (written as
    WARC-IP-Address, since Chromium only sees the proxy's)."""

    def __init__(self, policy: Policy, resolve: Resolver = system_resolve) -> None:
        self.policy = policy
        self.resolve = resolve
        self.refusals: dict[tuple[str, int], Refusal] = {}
        self.connected: dict[tuple[str, int], str] = {}
        self.host = "127.0.0.1"
        self.port = 0
        self._dns: dict[str, tuple[float, list[str]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._conns: set[asyncio.Task[None]] = set()

    # -- lifecycle --------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"socks5://{self.host}:{self.port}"

    def start(self) -> NetGuard:
        ready = threading.Event()
        failed: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._handle, self.host, 0, limit=_BUFFER, backlog=512)
                )
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as e:  # noqa: BLE001 - reported to start()
                failed.append(e)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                for task in list(self._conns):
                    task.cancel()
                with contextlib.suppress(Exception):
                    loop.run_until_complete(asyncio.sleep(0))
                loop.close()

        self._thread = threading.Thread(target=run, name="bewaar-netguard", daemon=True)
        self._thread.start()
        ready.wait(30)
        if failed:
            raise failed[0]
        return self

    def stop(self) -> None:
        loop, server = self._loop, self._server
        if loop is None or loop.is_closed():
            return

        def shutdown() -> None:
            if server is not None:
                server.close()
            loop.stop()

        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(shutdown)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = self._server = self._thread = None

    def __enter__(self) -> NetGuard:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what the crawler asks ----------------------------------------------------------
    def refusal_for(self, url: str) -> Refusal | None:
        key = _key(url)
        return self.refusals.get(key) if key else None

    def address_for(self, url: str) -> str | None:
        key = _key(url)
        return self.connected.get(key) if key else None

    def summary(self, limit: int = 5) -> str | None:
        """One line about connections refused as private (None when there were none)."""
        private = [(k, r) for k, r in self.refusals.items() if r.private]
        if not private:
            return None
        shown = ", ".join(f"{h}:{p}" for (h, p), _r in private[:limit])
        more = f" and {len(private) - limit} more" if len(private) > limit else ""
        return (
            f"refused connections to {len(private)} private or local host(s): {shown}{more} "
            "(crawl.allow_private in bewaar.yaml opens exceptions)"
        )

    # -- the proxy ------------------------------------------------------------------------
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._conns.add(task)
        upstream: asyncio.StreamWriter | None = None
        try:
            target = await asyncio.wait_for(self._greet(reader, writer), 30)
            if target is None:
                return
            host, port = target
            upstream_pair, code = await self._open(host, port)
            if upstream_pair is None:
                writer.write(struct.pack("!BBBB4sH", 5, code, 0, 1, b"\0\0\0\0", 0))
                await writer.drain()
                return
            up_reader, upstream = upstream_pair
            writer.write(struct.pack("!BBBB4sH", 5, _OK, 0, 1, b"\0\0\0\0", 0))
            await writer.drain()
            await asyncio.gather(_pipe(reader, upstream), _pipe(up_reader, writer))
        except (asyncio.IncompleteReadError, OSError, asyncio.CancelledError):
            pass  # the client or the server went away (OSError includes timeouts)
        finally:
            for w in (upstream, writer):
                if w is not None:
                    with contextlib.suppress(Exception):
                        w.close()
            if task is not None:
                self._conns.discard(task)

    async def _greet(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[str, int] | None:
        """RFC 1928: method negotiation (no authentication), then a CONNECT request."""
        ver, n = await reader.readexactly(2)
        methods = await reader.readexactly(n)
        if ver != 5 or 0 not in methods:
            writer.write(b"\x05\xff")
            await writer.drain()
            return None
        writer.write(b"\x05\x00")
        await writer.drain()
        ver, cmd, _rsv, atyp = await reader.readexactly(4)
        if atyp == 1:
            host = socket.inet_ntop(socket.AF_INET, await reader.readexactly(4))
        elif atyp == 4:
            host = socket.inet_ntop(socket.AF_INET6, await reader.readexactly(16))
        elif atyp == 3:
            length = (await reader.readexactly(1))[0]
            raw = await reader.readexactly(length)
            host = raw.decode("ascii", "replace")
        else:
            writer.write(struct.pack("!BBBB4sH", 5, _BAD_ADDRESS, 0, 1, b"\0\0\0\0", 0))
            await writer.drain()
            return None
        (port,) = struct.unpack("!H", await reader.readexactly(2))
        if ver != 5 or cmd != 1:  # CONNECT only: no BIND, no UDP ASSOCIATE
            writer.write(struct.pack("!BBBB4sH", 5, _BAD_COMMAND, 0, 1, b"\0\0\0\0", 0))
            await writer.drain()
            return None
        return host, port

    async def _addresses(self, host: str, port: int) -> list[str]:
        literal = _literal(host)
        if literal is not None:
            return [str(literal)]
        now = time.monotonic()
        cached = self._dns.get(host.lower())
        if cached and now - cached[0] < DNS_TTL:
            return cached[1]
        loop = asyncio.get_running_loop()
        addrs = await loop.run_in_executor(None, self.resolve, host, port)
        self._dns[host.lower()] = (now, addrs)
        return addrs

    async def _open(
        self, host: str, port: int
    ) -> tuple[tuple[asyncio.StreamReader, asyncio.StreamWriter] | None, int]:
        """Resolve once, check every address, connect to one that passed."""
        key = (host.lower().rstrip("."), port)
        refusal = self.policy.check_name(host)
        if refusal is not None:
            return self._refuse(key, refusal, _HOST_UNREACHABLE if not refusal.private else _NOT_ALLOWED)
        try:
            addrs = await self._addresses(host, port)
        except (OSError, UnicodeError):
            return self._refuse(key, Refusal("ERR_NAME_NOT_RESOLVED", "host not found (DNS)"), _HOST_UNREACHABLE)
        checked = [(a, self.policy.check_address(host, ipaddress.ip_address(a.split("%")[0]))) for a in addrs]
        allowed = [a for a, r in checked if r is None]
        if not allowed:
            first = next((r for _a, r in checked if r is not None), None)
            return self._refuse(
                key, first or Refusal("ERR_NAME_NOT_RESOLVED", "host not found (DNS)"), _NOT_ALLOWED
            )
        error: OSError | None = None
        for addr in allowed:
            try:
                pair = await asyncio.wait_for(
                    asyncio.open_connection(addr, port, limit=_BUFFER), CONNECT_TIMEOUT
                )
            except OSError as e:  # TimeoutError included
                error = e
                continue
            self.connected[key] = addr
            self.refusals.pop(key, None)
            return pair, _OK
        if isinstance(error, ConnectionRefusedError):
            return self._refuse(key, Refusal("ERR_CONNECTION_REFUSED", "connection refused"), _REFUSED)
        if isinstance(error, TimeoutError):
            return self._refuse(key, Refusal("ERR_CONNECTION_TIMED_OUT", "connection timed out"), _FAILURE)
        return self._refuse(key, Refusal("ERR_ADDRESS_UNREACHABLE", "address unreachable"), _HOST_UNREACHABLE)

    def _refuse(self, key: tuple[str, int], refusal: Refusal, code: int) -> tuple[None, int]:
        self.refusals[key] = refusal
        if refusal.private:
            log.info("%s:%s %s", key[0], key[1], refusal.words)
        return None, code


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await reader.read(_BUFFER)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()


def _key(url: str) -> tuple[str, int] | None:
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(parts.scheme)
    except ValueError:
        return None
    if not parts.hostname or port is None:
        return None
    return parts.hostname.lower().rstrip("."), port


def chromium_proxy_args(guard: NetGuard) -> list[str]:
    """Every connection of Chromium through the guard: loopback too (Chromium bypasses
    proxies for loopback by default), and WebRTC may not send UDP around it."""
    return [
        f"--proxy-server=socks5://{guard.host}:{guard.port}",
        "--proxy-bypass-list=<-loopback>",
        "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    ]

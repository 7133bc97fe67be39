"""The crawler does not reach private networks, tried as an attacker would steer it: a public
page (127.0.0.1, allowed as the tests' "internet") that sends the browser to an intranet host
(127.0.0.2 stands in for one: loopback, so private, and not allowed) by every road a browser
takes: a seed, a redirect, a frame, an image srcset fetched whole, a fetch() from the page, a
video, an IPv4-mapped IPv6 literal, a decimal IP, a cloud-metadata name and address. The
intranet server must see no request at all and nothing of it may be in the collection; every
refusal is reported. The same crawl with 127.0.0.2 allowed does reach it (the test can fail).

Below that: names are checked on the address they resolve to (a name in /etc/hosts that
resolves to loopback), the address checked is the address connected (a resolver that changes
its answer), and yt-dlp goes through the same check."""

from __future__ import annotations

import gzip
import json
import re
import secrets
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from bewaar.sites.httpserver import FixtureServer, Request, Response
from crawler.media import fetch_media
from crawler.netguard import NetGuard, Policy, classify
from tests.conftest import make_root, run_bewaar, write_seeds

SECRET = "INTRANET-SECRET-" + secrets.token_hex(8)


@pytest.fixture(scope="module")
def intranet() -> Iterator[FixtureServer]:
    srv = FixtureServer("127.0.0.2")

    @srv.route("GET", r"/(?P<any>.*)")
    def anything(req: Request, m: re.Match[str]) -> Response:
        if req.path.endswith(".m3u8"):
            return Response(200, f"#EXTM3U\n#EXT-X-ENDLIST\n# {SECRET}\n".encode(),
                            [("Content-Type", "application/vnd.apple.mpegurl")])  # fmt: skip
        return Response.html(f"<h1>{SECRET}</h1>")

    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def public(intranet: FixtureServer) -> Iterator[FixtureServer]:
    srv = FixtureServer()
    inner = intranet.base_url
    port = intranet.port

    @srv.route("GET", r"/")
    def index(req: Request, m: re.Match[str]) -> Response:
        return Response.html(f"""<h1>Public page</h1>
<a href="/moved">more</a>
<img srcset="{inner}/photo.png 2x" src="/pixel.png">
<iframe src="{inner}/frame"></iframe>
<video src="{inner}/clip.mp4" preload="auto"></video>
<img src="http://[::ffff:127.0.0.2]:{port}/mapped.png">
<img src="http://2130706434:{port}/decimal.png">
<img src="http://169.254.169.254/latest/meta-data/">
<img src="http://metadata.google.internal/computeMetadata/v1/">
<script>fetch("{inner}/api").then(r => r.text()).then(t => document.body.append(t)).catch(() => {{}});</script>
""")

    @srv.route("GET", r"/moved")
    def moved(req: Request, m: re.Match[str]) -> Response:
        return Response.redirect(f"{inner}/after-redirect", 302)

    @srv.route("GET", r"/pixel.png")
    def pixel(req: Request, m: re.Match[str]) -> Response:
        return Response(200, b"GIF89a", [("Content-Type", "image/gif")])

    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def _collection_bytes(coll: Path) -> bytes:
    """Every byte of a collection, WARCs inflated."""
    out = []
    for path in sorted(p for p in coll.rglob("*") if p.is_file()):
        data = path.read_bytes()
        out.append(gzip.decompress(data) if path.name.endswith(".gz") else data)
    return b"\n".join(out)


def _crawl(tmp: Path, public: FixtureServer, intranet: FixtureServer, allow: list[str]) -> tuple[Path, str]:
    root = make_root(tmp / "root", crawl={"allow_private": allow})
    seeds = write_seeds(tmp / "seeds.yaml", {
        "collection": "attack",
        "seeds": [
            {"url": public.base_url + "/", "depth": 1},
            {"url": intranet.base_url + "/as-a-seed", "scope": "page"},
        ],
    })  # fmt: skip
    proc = run_bewaar("crawl", str(seeds), "--root", str(root))
    assert "Traceback" not in proc.stderr
    return root / "collections" / "attack", proc.stderr


def test_no_road_reaches_the_intranet(tmp_path: Path, public: FixtureServer, intranet: FixtureServer) -> None:
    intranet.log.clear()
    coll, err = _crawl(tmp_path, public, intranet, ["127.0.0.1"])
    assert intranet.log == [], intranet.log  # not one request reached it
    assert SECRET.encode() not in _collection_bytes(coll)
    inner = intranet.base_url
    # refusals are reported per URL, like any other failure
    report = json.loads(next((coll / "crawls").glob("*.json")).read_text())
    failures = {f["url"]: f["reason"] for f in report["failures"]}
    assert failures[f"{inner}/as-a-seed"].startswith("refused: 127.0.0.2 is a loopback address"), failures
    assert "refused: 127.0.0.2 is a loopback address" in failures[f"{public.base_url}/moved"]
    assert f"{inner}/as-a-seed — refused: 127.0.0.2" in err
    assert "refused connections to" in err and "crawl.allow_private" in err
    # the public page's own refused loads are in its page info
    info = _page_info(coll, public.base_url + "/")
    not_recorded = {d["url"]: d["reason"] for d in info["not_recorded"]}
    for url in (f"{inner}/frame", f"{inner}/api", f"{inner}/photo.png",
                "http://169.254.169.254/latest/meta-data/",
                "http://metadata.google.internal/computeMetadata/v1/"):  # fmt: skip
        assert "refused:" in not_recorded.get(url, ""), (url, not_recorded)
    assert "link-local" in not_recorded["http://169.254.169.254/latest/meta-data/"]
    assert "cloud-metadata or internal name" in not_recorded["http://metadata.google.internal/computeMetadata/v1/"]


def _page_info(coll: Path, url: str) -> dict:
    from warcio.archiveiterator import ArchiveIterator

    for warc in sorted((coll / "archive").glob("*.warc.gz")):
        with warc.open("rb") as fh:
            for rec in ArchiveIterator(fh):
                if rec.rec_headers.get_header("WARC-Target-URI") == "urn:pageinfo:" + url:
                    return json.loads(rec.content_stream().read())
    raise AssertionError(f"no page info for {url}")


def test_allowed_the_same_crawl_reaches_it(tmp_path: Path, public: FixtureServer, intranet: FixtureServer) -> None:
    """The control: with 127.0.0.2 allowed, the same roads do reach the intranet."""
    intranet.log.clear()
    coll, _err = _crawl(tmp_path, public, intranet, ["127.0.0.1", "127.0.0.0/30"])
    paths = {p for _m, p in intranet.log}
    assert {"/as-a-seed", "/after-redirect", "/frame", "/api"} <= paths, paths
    assert SECRET.encode() in _collection_bytes(coll)


# --------------------------------------------------------------------------- the guard itself


def _socks(guard: NetGuard, host: str, port: int) -> tuple[int, bytes]:
    """A SOCKS5 CONNECT through the guard (remote resolution, as Chromium does), then GET /."""
    with socket.create_connection((guard.host, guard.port), timeout=10) as s:
        s.sendall(b"\x05\x01\x00")
        assert s.recv(2) == b"\x05\x00"
        name = host.encode()
        s.sendall(b"\x05\x01\x00\x03" + bytes([len(name)]) + name + struct.pack("!H", port))
        reply = s.recv(10)
        if reply[1] != 0:
            return reply[1], b""
        s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
        return 0, data


def test_names_are_judged_by_the_address_they_resolve_to(intranet: FixtureServer) -> None:
    """`vm` is in this machine's /etc/hosts as 127.0.0.1: a name on no list of ours."""
    try:
        resolved = socket.gethostbyname("vm")
    except OSError:
        pytest.skip("this machine has no /etc/hosts name for a loopback address")
    assert classify(__import__("ipaddress").ip_address(resolved)) is not None
    with NetGuard(Policy()) as guard:
        code, _ = _socks(guard, "vm", intranet.port)
        assert code == 2  # not allowed by ruleset
        assert guard.refusal_for(f"http://vm:{intranet.port}/").words.startswith(f"refused: vm ({resolved})")
        code, _ = _socks(guard, "localhost", intranet.port)
        assert code == 2
    local = FixtureServer()

    @local.route("GET", r"/")
    def hello(req: Request, m: re.Match[str]) -> Response:
        return Response.html("on 127.0.0.1")

    with local, NetGuard(Policy(allow=["127.0.0.0/8"])) as guard:  # allowed by address: the name too
        code, body = _socks(guard, "vm", local.port)
        assert code == 0 and b"on 127.0.0.1" in body


def test_the_address_checked_is_the_address_connected() -> None:
    """DNS rebinding: a resolver that answers an allowed address first and a forbidden one
    after. The guard resolves once per connection and connects to what it checked."""
    port_owner = FixtureServer("127.0.0.2")

    @port_owner.route("GET", r"/")
    def allowed(req: Request, m: re.Match[str]) -> Response:
        return Response.html("allowed host")

    port_owner.start()
    forbidden = FixtureServer("127.0.0.1")

    @forbidden.route("GET", r"/")
    def secret(req: Request, m: re.Match[str]) -> Response:
        return Response.html(SECRET)

    forbidden.start(port_owner.port)  # the same port on the forbidden address
    answers = [["127.0.0.2"], ["127.0.0.1"], ["127.0.0.1"]]
    calls: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return answers[len(calls) - 1]

    try:
        with NetGuard(Policy(allow=["127.0.0.2"]), resolve=rebinding) as guard:
            code, body = _socks(guard, "rebind.example", port_owner.port)
            assert code == 0 and b"allowed host" in body
            assert len(calls) == 1 and forbidden.log == []
        answers.reverse()  # now the forbidden answer comes first
        calls.clear()
        with NetGuard(Policy(allow=["127.0.0.2"]), resolve=rebinding) as guard:
            code, body = _socks(guard, "rebind.example", port_owner.port)
            assert code == 2 and body == b"" and forbidden.log == []
            assert len(calls) == 1
    finally:
        port_owner.stop()
        forbidden.stop()


def test_yt_dlp_goes_through_the_guard(intranet: FixtureServer) -> None:
    url = intranet.base_url + "/stream.m3u8"
    intranet.log.clear()
    with NetGuard(Policy(allow=["127.0.0.1"])) as guard:
        res = fetch_media(url, proxy=guard.url)
    assert res.error and not res.exchanges and intranet.log == []
    assert guard.refusal_for(url) is not None and guard.refusal_for(url).private
    with NetGuard(Policy(allow=["127.0.0.2"])) as guard:  # the control: allowed, it is fetched
        res = fetch_media(url, proxy=guard.url)
    assert [e.url for e in res.exchanges][:1] == [url] and intranet.log


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("127.0.0.1", True), ("10.1.2.3", True), ("172.16.0.1", True), ("192.168.1.1", True),
        ("169.254.169.254", True), ("100.64.0.1", True), ("0.0.0.0", True), ("224.0.0.1", True),
        ("::1", True), ("fe80::1", True), ("fd00:ec2::254", True), ("::ffff:10.0.0.1", True),
        ("64:ff9b::a00:1", True), ("2002:a00:1::", True), ("::", True),
        ("93.184.216.34", False), ("2606:2800:220:1:248:1893:25c8:1946", False),
    ],
)  # fmt: skip
def test_address_classes(address: str, refused: bool) -> None:
    import ipaddress

    assert (classify(ipaddress.ip_address(address)) is not None) is refused

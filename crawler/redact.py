"""Secrets never enter a WARC: what a login state's session sends and receives is redacted at
write time, before digests are computed.

A signed WACZ handed to a court or published for a Woo request must not hand over the
archivist's account. For pages crawled with a login state (and only those: an anonymous crawl
carries no credential of ours) the pipeline passes each capture through the context's
`Redactor` before writing:

- request headers: every `Cookie` value (names kept: `Cookie: sessionid=bewaar-redacted`),
  `Authorization` / `Proxy-Authorization` credentials (the scheme kept: `Bearer
  bewaar-redacted`), and every header whose name says it carries a credential (csrf, xsrf,
  token, auth, session, secret, api-key, password, claim, signature: `X-CSRF-Token`,
  `X-IG-WWW-Claim`, ...);
- response headers: every `Set-Cookie` value (name and attributes kept) and credential-named
  headers;
- form fields of request bodies with such names;
- then everywhere (URLs, request and response bodies, rendered DOM, objects, page info, the
  page list, the crawl report) every value known to be a secret of the session: the login
  state's cookie values and token-like local-storage values, every cookie the browser holds
  for the session when a page is finished (what the platform issued), and every value
  redacted above. Values are replaced as written, percent-encoded and JSON-escaped.

The value is replaced by the fixed marker `bewaar-redacted`; the header name stays. Each
changed record carries `WARC-Bewaar-Redacted` naming what was redacted, the warcinfo record
states the rule. The record's digests are those of the stored, redacted bytes (they verify);
no digest of the original bytes is kept (it would let a short secret be guessed).

Not recognised: a secret a platform puts only into page content (never into a cookie or a
credential header or field), and cookie values without both a letter and a digit in bodies
(they are redacted in headers, but not searched for elsewhere: "en-US" is no secret).
Media bodies (image, audio, video, fonts) are not searched.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlencode

MARKER = "bewaar-redacted"
_CREDENTIAL_NAME = re.compile(
    r"csrf|xsrf|token|auth|session|secret|api[-_]?key|passw|claim|signature|bearer", re.I
)
_COOKIE_HEADERS = ("cookie",)
_SET_COOKIE = "set-cookie"
_AUTH_HEADERS = ("authorization", "proxy-authorization")
_MEDIA = ("image/", "video/", "audio/", "font/")
_FORM = "application/x-www-form-urlencoded"
RULE = (
    "login-state sessions: values of Cookie, Set-Cookie, Authorization and credential-named "
    "headers and form fields, and every occurrence of the session's cookie, token and "
    f"credential values, are replaced by '{MARKER}' before digests are computed; records "
    "that were changed name it in WARC-Bewaar-Redacted"
)


def secretish(value: str) -> bool:
    """A value worth searching for everywhere: long enough, one token, letters and digits."""
    v = value.strip()
    return (
        8 <= len(v) <= 8192
        and not any(c.isspace() for c in v)
        and any(c.isdigit() for c in v)
        and any(c.isalpha() for c in v)
        and "://" not in v
    )


def _variants(secret: str) -> set[bytes]:
    forms = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1],
             secret.replace("/", "\\/")}  # fmt: skip
    return {f.encode("utf-8", "surrogatepass") for f in forms if f}


class Redactor:
    """The secrets of one login session and how they are taken out of a capture."""

    def __init__(self) -> None:
        self.secrets: set[str] = set()
        self._patterns: list[bytes] = []  # the secrets' written forms, longest first

    # -- learning secrets -------------------------------------------------------------
    def add(self, values: Iterable[str]) -> None:
        new = {v.strip() for v in values if isinstance(v, str) and secretish(v)} - self.secrets
        if new:
            self.secrets |= new
            forms: set[bytes] = set()
            for s in self.secrets:
                forms |= _variants(s)
            self._patterns = sorted(forms, key=len, reverse=True)

    def learn_state(self, state: dict[str, Any]) -> None:
        """A Playwright storage state: cookie values and token-like local-storage values."""
        self.add(str(c.get("value", "")) for c in state.get("cookies") or [] if isinstance(c, dict))
        for origin in state.get("origins") or []:
            for item in (origin or {}).get("localStorage") or []:
                value = item.get("value") if isinstance(item, dict) else None
                if isinstance(value, str):
                    self.add([value, *_json_strings(value)])

    def learn_cookies(self, cookies: Iterable[dict[str, Any]]) -> None:
        """The browser's cookies for the session (what the platform issued to it)."""
        self.add(str(c.get("value", "")) for c in cookies)

    # -- applying ---------------------------------------------------------------------
    def text(self, value: str) -> str:
        if not self._patterns or not value:
            return value
        return self.data(value.encode("utf-8", "surrogatepass")).decode("utf-8", "surrogatepass")

    def data(self, value: bytes) -> bytes:
        for pattern in self._patterns:
            if pattern in value:
                value = value.replace(pattern, MARKER.encode())
        return value

    def json(self, value: Any) -> Any:
        """Strings inside JSON-like data (objects, page info, media summaries)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.json(v) for v in value]
        if isinstance(value, dict):
            return {self.text(k) if isinstance(k, str) else k: self.json(v) for k, v in value.items()}
        return value

    def capture(self, cap: Any) -> None:
        """Redact a crawler.capture.PageCapture in place, before it is written."""
        for ex in cap.exchanges:  # first learn every credential the page's traffic carried
            self.add(_credentials(ex))
        for ex in cap.exchanges:
            self.exchange(ex)
        for res in cap.resources:
            res.uri = self.text(res.uri)
            if not res.content_type.startswith(_MEDIA) and res.record_type != "conversion":
                redacted = self.data(res.data)
                if redacted != res.data:
                    res.data, res.redacted = redacted, ["secret values"]
        cap.url, cap.final_url = self.text(cap.url), self.text(cap.final_url)
        cap.title, cap.reason = self.text(cap.title), self.text(cap.reason)
        cap.dom = self.text(cap.dom)
        cap.links = [self.text(u) for u in cap.links]
        cap.objects = self.json(cap.objects)
        cap.media = self.json(cap.media)
        cap.dropped = self.json(cap.dropped)
        if cap.post_links is not None:
            cap.post_links = [self.text(u) for u in cap.post_links]
        if cap.behavior is not None:
            cap.behavior.notes = [self.text(n) for n in cap.behavior.notes]
            cap.behavior.clicked = [self.text(n) for n in cap.behavior.clicked]

    def exchange(self, ex: Any) -> None:
        """One recorded exchange (crawler.recorder.Exchange), headers, URL and bodies."""
        done: list[str] = []
        url = self.text(ex.url)
        if url != ex.url:
            done.append("URL")
        ex.url = url
        ex.request_headers = [self._header("request", k, v, done) for k, v in ex.request_headers]
        ex.response_headers = [self._header("response", k, v, done) for k, v in ex.response_headers]
        if ex.headers_text:
            ex.headers_text = self._headers_text(ex.headers_text, done)
        if ex.request_body:
            body = self._form(ex, done)
            redacted = self.data(body)
            if redacted != ex.request_body:
                if "request body" not in done:
                    done.append("request body")
                ex.request_body = redacted
        if ex.body and not (ex.mime or "").startswith(_MEDIA):
            redacted = self.data(ex.body)
            if redacted != ex.body:
                done.append("response body")
                ex.body = redacted
        if done:
            ex.redacted = list(dict.fromkeys(done))

    def _header(self, side: str, name: str, value: str, done: list[str]) -> tuple[str, str]:
        low = name.lower()
        if low in _COOKIE_HEADERS:
            names = [p.split("=", 1)[0].strip() for p in value.split(";") if p.strip()]
            done.append(f"{side} {name} ({', '.join(names)})")
            return name, "; ".join(f"{n}={MARKER}" for n in names)
        if low == _SET_COOKIE:
            first, _, attrs = value.partition(";")
            cookie = first.split("=", 1)[0].strip()
            done.append(f"{side} {name} ({cookie})")
            return name, f"{cookie}={MARKER}" + (f";{self.text(attrs)}" if attrs else "")
        if low in _AUTH_HEADERS:
            scheme = value.strip().split(" ", 1)[0] if " " in value.strip() else ""
            done.append(f"{side} {name}")
            return name, f"{scheme} {MARKER}" if scheme else MARKER
        if _CREDENTIAL_NAME.search(name) and value.strip():
            done.append(f"{side} {name}")
            return name, MARKER
        redacted = self.text(value)
        if redacted != value:
            done.append(f"{side} {name}")
        return name, redacted

    def _headers_text(self, text: str, done: list[str]) -> str:
        """The raw response head Chromium gives for HTTP/1.x (kept for its exact order)."""
        lines = text.split("\r\n")
        out = [self.text(lines[0])]
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                out.append(self.text(line))
                continue
            _, new = self._header("response", name, value.strip(), [])
            out.append(f"{name}: {new}")
        return "\r\n".join(out)

    def _form(self, ex: Any, done: list[str]) -> bytes:
        """Credential-named fields of a form body (`csrf=…&fb_dtsg=…`) become the marker."""
        body: bytes = ex.request_body
        ctype = next((v for k, v in ex.request_headers if k.lower() == "content-type"), "")
        if _FORM not in ctype.lower():
            return body
        try:
            fields = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except (UnicodeDecodeError, ValueError):
            return body
        hidden = [k for k, v in fields if _CREDENTIAL_NAME.search(k) and v]
        if not hidden:
            return body
        done.append(f"request body ({', '.join(dict.fromkeys(hidden))})")
        return urlencode([(k, MARKER if k in hidden else v) for k, v in fields]).encode()


def _credentials(ex: Any) -> list[str]:
    """Values the exchange carries as credentials, to be searched for everywhere: learnt for
    the whole page before any of it is redacted."""
    out: list[str] = []
    for name, value in [*ex.request_headers, *ex.response_headers]:
        low = name.lower()
        if low in _COOKIE_HEADERS:
            out += [p.split("=", 1)[1].strip() for p in value.split(";") if "=" in p]
        elif low == _SET_COOKIE:
            first = value.split(";", 1)[0]
            if "=" in first:
                out.append(first.split("=", 1)[1].strip().strip('"'))
        elif low in _AUTH_HEADERS:
            out.append(value.strip().split(" ", 1)[-1])
        elif _CREDENTIAL_NAME.search(name):
            out.append(value.strip())
    ctype = next((v for k, v in ex.request_headers if k.lower() == "content-type"), "")
    if ex.request_body and _FORM in ctype.lower():
        try:
            fields = parse_qsl(ex.request_body.decode("utf-8"), keep_blank_values=True)
        except (UnicodeDecodeError, ValueError):
            fields = []
        out += [v for k, v in fields if _CREDENTIAL_NAME.search(k)]
    return out


def _json_strings(text: str, limit: int = 200) -> list[str]:
    """String values inside a JSON document (tokens kept in local storage as JSON)."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return []
    out: list[str] = []
    stack = [data]
    while stack and len(out) < limit:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    return out

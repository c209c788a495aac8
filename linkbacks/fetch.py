"""A fetcher that cannot be turned against the server's own network (SSRF).

Every request -- the first one and each redirect -- goes through the same
steps:

1. the URL must be http or https, with a host and no credentials; a
   non-ASCII host is sent in IDNA form and a non-ASCII path or query
   percent-encoded as UTF-8 (``ascii_url``);
2. the host is resolved once with ``getaddrinfo`` -- in a worker thread, so
   a slow resolver counts against the deadline -- and EVERY address must be
   public (``vet_address``: ``is_global``, not multicast/reserved, with
   IPv4-mapped, 6to4 and NAT64 addresses judged by the IPv4 address inside
   them, and Teredo refused);
3. the socket connects to one of those vetted addresses (``open_socket``) --
   never to the host name, so a second DNS answer (rebinding) is never used.
   The Host header and TLS server name/certificate check use the real name.

Redirects are followed at most ``max_redirects`` times (each re-checked),
everything is bounded by ``timeout`` seconds (per socket operation and in
total) and bodies by ``max_bytes``. ``allow_loopback=True`` (tests only) also
admits 127.0.0.0/8 and ::1 -- but never private, link-local or other
non-global ranges.
"""

from __future__ import annotations

import codecs
import http.client
import ipaddress
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from email.message import Message
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

from .targets import is_http_url, strip_fragment

DEFAULT_TIMEOUT = 5.0
DEFAULT_MAX_BYTES = 1024 * 1024
DEFAULT_MAX_REDIRECTS = 3
HTML_TYPES = ("text/html", "application/xhtml+xml")
USER_AGENT = "ReelNotes-Linkbacks/1.0 (+linkback verification)"
REDIRECT_CODES = (301, 302, 303, 307, 308)

# Ranges refused even if a Python version's ``is_global`` were to miss them.
_BLOCKED_NETWORKS = [
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
        "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
        "::/128", "::1/128", "::ffff:0:0/96", "64:ff9b:1::/48", "100::/64", "2001::/23",
        "2001:db8::/32", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
    )
]
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Printable ASCII is left as it is (existing %XX escapes included): only what
# cannot go on an HTTP request line is encoded.
_PRINTABLE_ASCII = "".join(chr(c) for c in range(0x21, 0x7F))
# Lookups that may run at once; a resolver that hangs ties up at most these
# threads, and further lookups fail at their deadline instead of piling up.
_DNS_SLOTS = threading.BoundedSemaphore(16)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)


class FetchError(Exception):
    """The URL could not be fetched. Messages are for logs, not for clients."""


class BlockedAddress(FetchError):
    """The URL's host is (or resolves to) an address we must not connect to;
    raised before any connection is attempted."""


class BadURL(FetchError):
    pass


class ResolveError(FetchError):
    pass


class ConnectError(FetchError):
    pass


class TooLarge(FetchError):
    pass


class TooManyRedirects(FetchError):
    pass


class NotHTML(FetchError):
    pass


def vet_address(address: str, allow_loopback: bool = False) -> bool:
    """May we connect to this IP address? Public (global unicast) addresses
    only; loopback too when ``allow_loopback``. Addresses that embed an IPv4
    address (IPv4-mapped, 6to4, NAT64) are judged by that address; Teredo
    addresses are refused."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return vet_address(str(ip.ipv4_mapped), allow_loopback)
        if ip.teredo is not None:
            return False  # tunnelled to wherever the relay decides: never
        embedded = ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            # 6to4 and NAT64 reach the IPv4 host inside the address: judge
            # that host (loopback never counts through a translator).
            return vet_address(str(embedded), False)
    if allow_loopback and ip.is_loopback:
        return True
    return _is_public(ip)


def _is_public(ip) -> bool:
    if not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified:
        return False
    if ip.is_loopback or ip.is_link_local or ip.is_private:
        return False
    return not any(ip.version == net.version and ip in net for net in _BLOCKED_NETWORKS)


def ascii_url(url: str) -> str:
    """``url`` as it goes on the wire: a non-ASCII host in IDNA form
    (``xn--...``), a non-ASCII path and query percent-encoded as UTF-8.
    ASCII URLs are returned unchanged. Raises BadURL."""
    if url.isascii():
        return url
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        host = parts.hostname or ""
        if not host.isascii():
            netloc = host.encode("idna").decode("ascii")
            if parts.port is not None:
                netloc += f":{parts.port}"
        path = quote(parts.path, safe=_PRINTABLE_ASCII)
        query = quote(parts.query, safe=_PRINTABLE_ASCII)
        return urlunsplit((parts.scheme, netloc, path, query, parts.fragment))
    except (UnicodeError, ValueError) as exc:
        raise BadURL(f"cannot encode the URL {url!r} ({exc})") from exc


def _getaddrinfo(host: str, port: int, timeout: float) -> list:
    """``socket.getaddrinfo`` that gives up after ``timeout`` seconds: the
    system resolver has no timeout of its own, so it runs in a daemon thread
    that is abandoned (and finishes on its own) when it takes too long."""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    else:  # an IP literal: no lookup, nothing to wait for
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    if not _DNS_SLOTS.acquire(timeout=max(timeout, 0)):
        raise ResolveError(f"cannot resolve {host!r}: too many lookups in progress")
    outcome: dict = {}
    done = threading.Event()

    def lookup():
        try:
            outcome["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
        except BaseException as exc:  # handed to the waiting thread
            outcome["error"] = exc
        finally:
            _DNS_SLOTS.release()
            done.set()

    threading.Thread(target=lookup, name="linkbacks-dns", daemon=True).start()
    if not done.wait(max(timeout, 0)):
        raise ResolveError(f"resolving {host!r} timed out")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["infos"]


def resolve(host: str, port: int, allow_loopback: bool = False, timeout: float = DEFAULT_TIMEOUT) -> list[tuple]:
    """Resolve once (within ``timeout`` seconds) and vet every address;
    returns getaddrinfo entries ``(family, address)`` to connect to. Raises
    BlockedAddress if ANY address is not allowed (a name that also points
    inside is refused outright)."""
    try:
        infos = _getaddrinfo(host, port, timeout)
    except (socket.gaierror, UnicodeError, OSError) as exc:
        raise ResolveError(f"cannot resolve {host!r}") from exc
    if not infos:
        raise ResolveError(f"no address for {host!r}")
    targets = []
    for family, _type, _proto, _canon, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            raise BlockedAddress(f"{host!r} resolves to a non-IP address")
        if not vet_address(sockaddr[0], allow_loopback):
            raise BlockedAddress(f"{host!r} resolves to a non-public address")
        if (family, sockaddr) not in targets:
            targets.append((family, sockaddr))
    return targets


def open_socket(family: int, sockaddr: tuple, timeout: float) -> socket.socket:
    """Connect to one already-vetted address (the only place sockets are
    opened; tests watch it to prove refused URLs never connect)."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(sockaddr)
    except BaseException:
        sock.close()
        raise
    return sock


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTPConnection that connects to a fixed, vetted address."""

    def __init__(self, host, port, targets, timeout):
        super().__init__(host, port, timeout=timeout)
        self._targets = targets

    def _pinned_socket(self):
        last = None
        for family, sockaddr in self._targets:
            try:
                return open_socket(family, sockaddr, self.timeout)
            except OSError as exc:
                last = exc
        raise ConnectError(f"cannot connect to {self.host!r}") from last

    def connect(self):
        self.sock = self._pinned_socket()
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    default_port = 443

    def __init__(self, host, port, targets, timeout, context):
        super().__init__(host, port, targets, timeout)
        self._context = context

    def connect(self):
        sock = self._pinned_socket()
        try:
            self.sock = self._context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


@dataclass
class Response:
    url: str  # final URL, after redirects
    status: int
    headers: Message
    body: bytes = b""
    redirects: list[str] = field(default_factory=list)

    @property
    def content_type(self) -> str:
        return (self.headers.get_content_type() or "").lower()

    @property
    def charset(self) -> str | None:
        return self.headers.get_content_charset()

    @property
    def is_html(self) -> bool:
        return self.content_type in HTML_TYPES

    def header_values(self, name: str) -> list[str]:
        return self.headers.get_all(name) or []

    def text(self) -> str:
        """The body decoded: declared charset, else a <meta charset>, else UTF-8
        (undecodable bytes replaced)."""
        charset = self.charset
        if not charset:
            m = _META_CHARSET.search(self.body[:4096])
            charset = m.group(1).decode("ascii") if m else "utf-8"
        try:
            if codecs.lookup(charset).name == "utf-7":
                charset = "utf-8"
            return self.body.decode(charset, errors="replace")
        except LookupError:
            return self.body.decode("utf-8", errors="replace")


def _header_text(value: str) -> str:
    """A header value as sent: http.client decodes header bytes as Latin-1,
    but servers put UTF-8 in Location; undo that when it is valid UTF-8."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value


class Fetcher:
    def __init__(
        self,
        allow_loopback: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
        user_agent: str = USER_AGENT,
        ssl_context: ssl.SSLContext | None = None,
    ):
        self.allow_loopback = allow_loopback
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.user_agent = user_agent
        self.ssl_context = ssl_context or ssl.create_default_context()

    # --- public API ------------------------------------------------------------

    def check_url(self, url: str, timeout: float | None = None) -> list[tuple]:
        """Validate a URL and vet its host's addresses without connecting
        (the lookup bounded by ``timeout``, default the fetcher's). Returns
        the vetted targets; raises BadURL / BlockedAddress / ResolveError."""
        if not is_http_url(url):
            raise BadURL("only absolute http(s) URLs without credentials are fetched")
        parts = urlsplit(ascii_url(url))
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
        return resolve(parts.hostname, port, self.allow_loopback, self.timeout if timeout is None else timeout)

    def get(self, url: str, html_only: bool = False, skip_non_html_body: bool = False) -> Response:
        """GET ``url`` following up to max_redirects (each re-vetted). With
        ``html_only`` a final 2xx response that is not HTML raises NotHTML
        before its body is read; with ``skip_non_html_body`` the body of a
        non-HTML response is simply not read (headers only)."""
        deadline = time.monotonic() + self.timeout
        redirects: list[str] = []
        current = ascii_url(strip_fragment(url)) if is_http_url(url) else url
        while True:
            response = self._request("GET", current, None, {}, deadline, html_only, skip_non_html_body)
            location = response.headers.get("Location")
            if response.status in REDIRECT_CODES and location:
                if len(redirects) >= self.max_redirects:
                    raise TooManyRedirects(f"more than {self.max_redirects} redirects")
                redirects.append(current)
                try:
                    current = ascii_url(strip_fragment(urljoin(current, _header_text(location).strip())))
                except ValueError as exc:
                    raise BadURL("bad redirect location") from exc
                continue
            response.redirects = redirects
            return response

    def post(self, url: str, body: bytes, content_type: str, accept: str = "*/*") -> Response:
        """POST once (no redirects followed) and read a bounded response."""
        deadline = time.monotonic() + self.timeout
        headers = {"Content-Type": content_type, "Accept": accept}
        if is_http_url(url):
            url = ascii_url(url)
        return self._request("POST", url, body, headers, deadline, False, False)

    # --- internals -------------------------------------------------------------------

    def _request(self, method, url, body, headers, deadline, html_only, skip_non_html) -> Response:
        targets = self.check_url(url, self._remaining(deadline))  # raises before any connection
        parts = urlsplit(url)
        https = parts.scheme.lower() == "https"
        port = parts.port or (443 if https else 80)
        remaining = self._remaining(deadline)
        if https:
            conn = _PinnedHTTPSConnection(parts.hostname, port, targets, remaining, self.ssl_context)
        else:
            conn = _PinnedHTTPConnection(parts.hostname, port, targets, remaining)
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        all_headers = {
            "User-Agent": self.user_agent,
            "Accept": "text/html, application/xhtml+xml;q=0.9, */*;q=0.1",
            "Accept-Encoding": "identity",
            "Connection": "close",
        }
        all_headers.update(headers)
        try:
            try:
                conn.request(method, path, body=body, headers=all_headers)
                sock = conn.sock
                resp = conn.getresponse()
            except FetchError:
                raise
            except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
                raise ConnectError(f"{method} {url} failed: {type(exc).__name__}") from exc
            except (UnicodeError, ValueError) as exc:  # after OSError: certificate errors are ValueErrors too
                raise BadURL(f"cannot request {url!r} ({type(exc).__name__})") from exc
            result = Response(url=url, status=resp.status, headers=resp.msg)
            if resp.status in REDIRECT_CODES and method == "GET":
                return result
            if html_only and 200 <= resp.status < 300 and not result.is_html:
                raise NotHTML(f"{url} is {result.content_type or 'untyped'}, not HTML")
            if result.is_html or not (html_only or skip_non_html):
                result.body = self._read_bounded(resp, sock, deadline)
            return result
        finally:
            conn.close()

    def _remaining(self, deadline: float) -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ConnectError("timed out")
        return remaining

    def _read_bounded(self, resp, sock, deadline) -> bytes:
        length = resp.getheader("Content-Length")
        if length and length.strip().isdigit() and int(length) > self.max_bytes:
            raise TooLarge(f"body of {length} bytes is over the {self.max_bytes} limit")
        chunks, total = [], 0
        try:
            while True:
                sock.settimeout(self._remaining(deadline))  # total deadline, not per read
                chunk = resp.read1(65536)
                if not chunk:
                    break
                total += len(chunk)
                if total > self.max_bytes:
                    raise TooLarge(f"body over the {self.max_bytes} byte limit")
                chunks.append(chunk)
                self._remaining(deadline)
        except FetchError:
            raise
        except (OSError, http.client.HTTPException) as exc:
            raise ConnectError(f"reading the body failed: {type(exc).__name__}") from exc
        return b"".join(chunks)

"""URLs the linkbacks deal in: which ones are acceptable, how two are compared,
and which of them are reviews of this site (``reviews.json``)."""

from __future__ import annotations

import logging
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit

from reelnotes.contract import ReviewsIndexError, is_http_url, read_reviews_index

logger = logging.getLogger(__name__)

DEFAULT_PORTS = {"http": 80, "https": 443}


def comparison_key(url: str, base: str | None = None) -> str | None:
    """A normalised form of ``url`` for "does this link point at that page":
    http and https are the same page, host case and default ports are ignored,
    and so are the query, the fragment, a trailing slash and ``index.html``.
    None when the URL is not http(s)."""
    if base:
        try:
            url = urljoin(base, url.strip())
        except ValueError:
            return None
    if not is_http_url(url):
        return None
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname.lower().rstrip(".")
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal
    port = parts.port
    if port is not None and port != DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    path = parts.path or "/"
    if path.endswith("/index.html"):
        path = path[: -len("index.html")]
    path = path.rstrip("/") or "/"
    return f"{host}{path}"


def same_page(a: str, b: str) -> bool:
    ka, kb = comparison_key(a), comparison_key(b)
    return ka is not None and ka == kb


def host_of(url: str) -> str | None:
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return None
    return host.lower().rstrip(".") if host else None


def site_key(url: str) -> str | None:
    """The site a URL belongs to: host and non-default port (scheme ignored)."""
    key = comparison_key(url)
    return key.split("/", 1)[0] if key else None


# Query parameters that only say where a reader came from (analytics and ad
# click identifiers): a page is the same page with or without them.
TRACKING_PARAMETERS = frozenset((
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "ttclid", "igshid",
    "mc_cid", "mc_eid", "_hsenc", "_hsmi", "mkt_tok", "_ga", "_gl", "oly_anon_id", "oly_enc_id", "vero_id",
))
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")


def _normalise_escapes(text: str) -> str:
    """RFC 3986 6.2.2: %-escapes of unreserved characters decoded, the others
    in upper case; anything outside printable ASCII escaped as UTF-8."""
    text = quote(text, safe="".join(chr(c) for c in range(0x21, 0x7F)))

    def one(match):
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else "%" + match.group(1).upper()

    return _PERCENT.sub(one, text)


def remove_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4: "/a/./b/../c" -> "/a/c"."""
    output: list[str] = []
    for segment in path.split("/")[1:] if path.startswith("/") else path.split("/"):
        if segment == "..":
            if output:
                output.pop()
        elif segment != ".":
            output.append(segment)
    if path.endswith(("/.", "/..")):
        output.append("")
    return "/" + "/".join(output)


def identity_url(url: str) -> str:
    """The one spelling of an http(s) URL that every spelling of the same page
    shares, for telling duplicates apart and counting rate limits (what is
    shown stays the URL as sent). Syntax-based normalisation (RFC 3986 6.2.2):
    scheme and host in lower case, a trailing dot, the default port and the
    fragment dropped, a non-ASCII host in IDNA form, %-escapes normalised, dot
    segments removed and repeated slashes collapsed; tracking parameters
    (``utm_*``, ``fbclid``, ``gclid``, ...) are left out of the query. The
    scheme, the path's case, a trailing slash and other parameters count:
    they may be another page. A string that is not an http(s) URL is
    returned as it is."""
    if not is_http_url(url):
        return url
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = parts.hostname.rstrip(".")
    try:
        host = host.encode("idna").decode("ascii") if not host.isascii() else host.lower()
    except UnicodeError:
        host = host.lower()
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal
    if parts.port is not None and parts.port != DEFAULT_PORTS[scheme]:
        host = f"{host}:{parts.port}"
    path = remove_dot_segments(re.sub(r"/{2,}", "/", _normalise_escapes(parts.path or "/")))
    kept = [pair for pair in parts.query.split("&") if pair and not _is_tracking(pair)]
    query = "&".join(_normalise_escapes(pair) for pair in kept)
    return f"{scheme}://{host}{path}" + (f"?{query}" if query else "")


def _is_tracking(pair: str) -> bool:
    name = unquote(pair.split("=", 1)[0]).lower()
    return name.startswith("utm_") or name in TRACKING_PARAMETERS


def strip_fragment(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))


@dataclass(frozen=True)
class Review:
    slug: str
    url: str  # absolute
    title: str


class ReviewsIndex:
    """The published reviews, read from the ``reviews.json`` the build writes
    (its format: ``reelnotes.contract``). Relative
    review URLs are resolved against ``site_url`` (the configured one wins
    over the file's, which is empty in local builds)."""

    def __init__(self, site_url: str, reviews: list[Review]):
        self.site_url = site_url
        self.reviews = list(reviews)
        self.by_slug = {r.slug: r for r in self.reviews}
        self._by_key = {}
        for review in self.reviews:
            key = comparison_key(review.url)
            if key is not None:
                self._by_key[key] = review

    @classmethod
    def load(cls, path: Path, site_url: str = "") -> ReviewsIndex:
        """The index in ``path``; ReviewsIndexError (a ValueError) when it
        cannot be read or a relative URL cannot be resolved."""
        file_site_url, entries = read_reviews_index(path)
        base = (site_url or file_site_url).strip()
        reviews = []
        for i, entry in enumerate(entries):
            url = entry.url
            if not is_http_url(url):
                if not is_http_url(base):
                    raise ReviewsIndexError(
                        f"{path}: reviews[{i}].url {url!r} is relative and no "
                        "absolute site_url is configured to resolve it against"
                    )
                url = urljoin(base.rstrip("/") + "/", url.lstrip("/"))
            reviews.append(Review(entry.slug, url, entry.title))
        return cls(base, reviews)

    @property
    def site_key(self) -> str | None:
        """host[:port] of the site (see ``site_key``)."""
        if is_http_url(self.site_url):
            return site_key(self.site_url)
        keys = {site_key(r.url) for r in self.reviews}
        return keys.pop() if len(keys) == 1 else None

    def review_for_url(self, url: str) -> Review | None:
        key = comparison_key(url)
        return self._by_key.get(key) if key else None

    def is_own_url(self, url: str) -> bool:
        own = self.site_key
        return own is not None and site_key(url) == own


class ReloadingReviewsIndex:
    """A ReviewsIndex that re-reads ``reviews.json`` when the file changes
    (the site is rebuilt while the receiver runs)."""

    def __init__(self, path: Path, site_url: str = ""):
        self.path = Path(path)
        self.site_url = site_url
        self._lock = threading.Lock()
        self._stamp = None
        self._loaded_once = False
        self._index = ReviewsIndex(site_url, [])

    def get(self) -> ReviewsIndex:
        try:
            st = os.stat(self.path)
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None
        with self._lock:
            if stamp != self._stamp:
                if stamp is None:
                    self._index = ReviewsIndex(self.site_url, [])
                else:
                    try:
                        self._index = ReviewsIndex.load(self.path, self.site_url)
                    except ValueError:
                        if not self._loaded_once:
                            raise
                        # Half-written during a rebuild, or broken: keep serving
                        # the last good index and try again on the next request.
                        logger.warning("%s: unreadable, keeping the previous reviews index", self.path)
                        return self._index
                    self._loaded_once = True
                self._stamp = stamp
            return self._index

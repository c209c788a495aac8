"""Sending linkbacks for the external links of published reviews.

For each review page: take the review body (the element with class
``review-body`` or ``entry-content``, else ``<article>``, else ``<body>``),
collect its links to other sites, and for each target discover an endpoint
in this order:

1. Webmention -- HTTP ``Link: <…>; rel="webmention"``, then the first
   ``<link>``/``<a>`` with ``rel="webmention"`` (relative URLs resolved
   against the target's final URL, an empty href meaning the page itself);
2. Pingback -- ``X-Pingback`` header, then ``<link rel="pingback">``;
3. TrackBack -- the ``trackback:ping`` of the RDF block (usually inside an
   HTML comment) whose ``dc:identifier`` is the target.

Outcomes go to a JSON cache keyed by review URL and target, with a hash of
the review body: a pair is sent once, again only when the review changed
(and then also to webmention targets that were removed from the review, as
the Webmention spec asks). A target that fails -- unreachable, refused, or a
URL that cannot be requested -- is recorded as ``failed`` and the run goes
on; failures are retried on later runs (at most MAX_ATTEMPTS times per
version of the review). All
fetching goes through ``fetch.Fetcher``: public addresses only.
"""

from __future__ import annotations

import hashlib
import html as htmllib
import json
import re
import xml.etree.ElementTree as ET
import xmlrpc.client
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlencode, urljoin, urlsplit

import defusedxml
import defusedxml.ElementTree as DET
from bs4 import BeautifulSoup

from reelnotes.contract import EXCERPT_MAX, REVIEWS_INDEX, TITLE_MAX, clean_display_text
from reelnotes.files import atomic_write

from . import fetch
from .targets import ReviewsIndex, is_http_url, same_page, site_key, strip_fragment

CACHE_VERSION = 1
MAX_ATTEMPTS = 3  # a failing pair is retried on later runs, at most this often per version
BODY_CLASSES = ("review-body", "entry-content")


@dataclass(frozen=True)
class Endpoint:
    kind: str  # webmention | pingback | trackback
    url: str


@dataclass(frozen=True)
class SendResult:
    review: str
    target: str
    outcome: str  # sent | failed | no-endpoint | skipped (cached)
    kind: str = ""
    endpoint: str = ""
    detail: str = ""


# --- discovery ------------------------------------------------------------------------

_LINK_VALUE = re.compile(
    r"""\s*<([^>]*)>((?:\s*;\s*[^;,="]+(?:=\s*(?:"(?:[^"\\]|\\.)*"|[^;,]*))?)*)\s*(?:,|$)"""
)
_LINK_PARAM = re.compile(r"""\s*;\s*([^;,="\s]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^;,]*))?""")


def parse_link_header(values: Iterable[str]) -> list[tuple[str, set[str]]]:
    """RFC 8288 ``Link`` header values -> [(URL reference, {rel tokens})]."""
    links = []
    for value in values:
        pos = 0
        while pos < len(value):
            match = _LINK_VALUE.match(value, pos)
            if not match or match.end() == pos:
                break
            pos = match.end()
            rels: set[str] = set()
            for name, param in _LINK_PARAM.findall(match.group(2)):
                if name.lower() == "rel":
                    param = param.strip()
                    if param.startswith('"') and param.endswith('"'):
                        param = param[1:-1]
                    rels.update(token.lower() for token in param.split())
            links.append((match.group(1).strip(), rels))
    return links


def _rel_tokens(element) -> set[str]:
    rel = element.get("rel") or []
    if isinstance(rel, str):
        rel = rel.split()
    return {token.lower() for token in rel}


_RDF_BLOCK = re.compile(r"<rdf:RDF\b.*?</rdf:RDF>", re.S | re.I)
_RDF_ATTR = r"""\b{name}\s*=\s*(?:"([^"]*)"|'([^']*)')"""


def _rdf_attr(block: str, name: str) -> str | None:
    match = re.search(_RDF_ATTR.format(name=re.escape(name)), block)
    if not match:
        return None
    return htmllib.unescape(match.group(1) if match.group(1) is not None else match.group(2))


def trackback_ping_url(page: str, target: str) -> str | None:
    """The TrackBack ping URL advertised for ``target`` in a page's RDF."""
    blocks = _RDF_BLOCK.findall(page)
    for block in blocks:
        ping = _rdf_attr(block, "trackback:ping")
        ident = _rdf_attr(block, "dc:identifier") or _rdf_attr(block, "rdf:about")
        if ping and ident and same_page(ident, target):
            return ping
    if len(blocks) == 1:
        ident = _rdf_attr(blocks[0], "dc:identifier") or _rdf_attr(blocks[0], "rdf:about")
        if not ident:
            return _rdf_attr(blocks[0], "trackback:ping")
    return None


def discover(fetcher: fetch.Fetcher, target: str) -> Endpoint | None:
    """The best endpoint ``target`` advertises, or None. Raises fetch.FetchError."""
    response = fetcher.get(target, skip_non_html_body=True)
    if not 200 <= response.status < 300:
        return None
    base = response.url
    for url, rels in parse_link_header(response.header_values("Link")):
        if "webmention" in rels:
            return _endpoint("webmention", base, url)
    soup = BeautifulSoup(response.text(), "html.parser") if response.is_html else None
    if soup is not None:
        for element in soup.find_all(["link", "a"]):
            if "webmention" in _rel_tokens(element) and element.has_attr("href"):
                return _endpoint("webmention", base, element["href"])
    pingback = response.headers.get("X-Pingback")
    if pingback:
        return _endpoint("pingback", base, pingback)
    if soup is not None:
        for element in soup.find_all("link"):
            if "pingback" in _rel_tokens(element) and element.get("href"):
                return _endpoint("pingback", base, element["href"])
        ping = trackback_ping_url(response.text(), target)
        if ping:
            return _endpoint("trackback", base, ping)
    return None


def _endpoint(kind: str, base: str, href: str) -> Endpoint | None:
    try:
        url = urljoin(base, href.strip())
    except ValueError:
        return None
    return Endpoint(kind, strip_fragment(url)) if is_http_url(url) else None


# --- review pages ------------------------------------------------------------------------


def review_body(soup: BeautifulSoup):
    for cls in BODY_CLASSES:
        element = soup.find(class_=cls)
        if element is not None:
            return element
    return soup.find("article") or soup.body or soup


@dataclass(frozen=True)
class ReviewPage:
    url: str
    title: str
    excerpt: str
    digest: str
    targets: tuple[str, ...]


def read_review(url: str, page: str, own_site: str | None = None) -> ReviewPage:
    """The external links of a review page (links to ``own_site``, a
    ``targets.site_key``, default the page's own, are internal) and a hash
    of its body."""
    soup = BeautifulSoup(page, "html.parser")
    body = review_body(soup)
    own_site = own_site or site_key(url)
    targets: list[str] = []
    for element in body.find_all(["a", "area"], href=True):
        try:
            link = strip_fragment(urljoin(url, element["href"].strip()))
        except ValueError:
            continue
        if not is_http_url(link) or site_key(link) == own_site:
            continue
        if link not in targets:
            targets.append(link)
    heading = soup.find("h1")
    title = (soup.title.get_text(" ") if soup.title else "") or (heading.get_text(" ") if heading else "")
    return ReviewPage(
        url=url,
        title=clean_display_text(title, TITLE_MAX),
        excerpt=clean_display_text(body.get_text(" "), EXCERPT_MAX),
        digest=hashlib.sha256(str(body).encode("utf-8")).hexdigest(),
        targets=tuple(targets),
    )


# --- sending ------------------------------------------------------------------------------


class SendError(Exception):
    pass


def send_webmention(fetcher, endpoint: str, source: str, target: str) -> str:
    body = urlencode({"source": source, "target": target}).encode("ascii")
    response = fetcher.post(endpoint, body, "application/x-www-form-urlencoded")
    if not 200 <= response.status < 300:
        raise SendError(f"webmention endpoint answered {response.status}")
    return f"HTTP {response.status}"


def send_pingback(fetcher, endpoint: str, source: str, target: str) -> str:
    body = xmlrpc.client.dumps((source, target), "pingback.ping").encode("utf-8")
    response = fetcher.post(endpoint, body, "text/xml; charset=utf-8", accept="text/xml")
    if response.status != 200:
        raise SendError(f"pingback endpoint answered {response.status}")
    try:
        root = DET.fromstring(response.body, forbid_dtd=True)
    except (defusedxml.DefusedXmlException, ET.ParseError, ValueError) as exc:
        raise SendError("unreadable pingback response") from exc
    fault = root.find("fault")
    if fault is not None:
        code = next((m.findtext("value/int") or m.findtext("value/i4") for m in fault.iter("member")
                     if m.findtext("name") == "faultCode"), None)
        if code == "48":
            return "already registered"
        raise SendError(f"pingback fault {code}")
    return "registered"


def send_trackback(fetcher, endpoint: str, page: ReviewPage, blog_name: str) -> str:
    body = urlencode(
        {"url": page.url, "title": page.title, "excerpt": page.excerpt, "blog_name": blog_name}
    ).encode("ascii")
    response = fetcher.post(endpoint, body, "application/x-www-form-urlencoded; charset=utf-8", accept="text/xml")
    try:
        root = DET.fromstring(response.body, forbid_dtd=True)
    except (defusedxml.DefusedXmlException, ET.ParseError, ValueError) as exc:
        raise SendError(f"unreadable trackback response (HTTP {response.status})") from exc
    if (root.findtext("error") or "").strip() != "0":
        raise SendError(f"trackback refused (HTTP {response.status})")
    return "accepted"


class Sender:
    def __init__(self, fetcher: fetch.Fetcher, cache_path: Path, blog_name: str = "", own_site: str | None = None):
        self.fetcher = fetcher
        self.cache_path = Path(cache_path)
        self.blog_name = blog_name
        self.own_site = own_site
        self.cache = self._load_cache()

    def _load_cache(self) -> dict:
        try:
            data = json.loads(self.cache_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"version": CACHE_VERSION, "sent": {}}
        if not isinstance(data, dict) or data.get("version") != CACHE_VERSION or not isinstance(data.get("sent"), dict):
            return {"version": CACHE_VERSION, "sent": {}}
        return data

    def save(self) -> None:
        atomic_write(self.cache_path, json.dumps(self.cache, indent=1, sort_keys=True) + "\n")

    def send_page(self, url: str, page: str) -> list[SendResult]:
        """Send for one review page (its public URL and HTML); updates the cache."""
        review = read_review(url, page, self.own_site)
        entries = self.cache["sent"].setdefault(url, {})
        results = []
        for target in review.targets:
            entry = entries.get(target)
            same = bool(entry) and entry.get("hash") == review.digest
            if same and (
                entry.get("outcome") in ("sent", "no-endpoint")
                or entry.get("attempts", 0) >= MAX_ATTEMPTS
            ):
                results.append(
                    SendResult(url, target, "skipped", entry.get("kind", ""), entry.get("endpoint", ""), "unchanged")
                )
                continue
            result = self._send_one(review, target)
            entries[target] = {
                "hash": review.digest,
                "outcome": result.outcome,
                "attempts": (entry.get("attempts", 0) + 1) if same else 1,
                "kind": result.kind,
                "endpoint": result.endpoint,
                "date": datetime.now(UTC).replace(microsecond=0).isoformat(),
            }
            results.append(result)
        for target in [t for t in entries if t not in review.targets]:
            entry = entries[target]
            if entry.get("hash") == review.digest:
                continue
            if entry.get("kind") == "webmention" and entry.get("outcome") == "sent":
                # The link was removed: tell the target so it can drop the mention.
                results.append(self._send_one(review, target, removed=True))
            del entries[target]
        return results

    def _send_one(self, review: ReviewPage, target: str, removed: bool = False) -> SendResult:
        endpoint = None
        try:
            endpoint = discover(self.fetcher, target)
            if endpoint is None:
                return SendResult(review.url, target, "no-endpoint")
            if endpoint.kind == "webmention":
                detail = send_webmention(self.fetcher, endpoint.url, review.url, target)
            elif removed:
                return SendResult(review.url, target, "skipped", endpoint.kind, endpoint.url, "link removed")
            elif endpoint.kind == "pingback":
                detail = send_pingback(self.fetcher, endpoint.url, review.url, target)
            else:
                detail = send_trackback(self.fetcher, endpoint.url, review, self.blog_name)
        except (fetch.FetchError, SendError, ValueError) as exc:
            # ValueError (UnicodeError included): a link no library can make a
            # request of. One bad link fails alone; the run goes on.
            return SendResult(
                review.url,
                target,
                "failed",
                endpoint.kind if endpoint else "",
                endpoint.url if endpoint else "",
                f"{type(exc).__name__}: {exc}",
            )
        return SendResult(review.url, target, "sent", endpoint.kind, endpoint.url, detail)

    def send_pages(self, pages: Iterable[tuple[str, str]]) -> list[SendResult]:
        results = []
        try:
            for url, page in pages:
                results.extend(self.send_page(url, page))
        finally:
            self.save()
        return results


def review_file(output_dir: Path, site_url: str, review_url: str) -> Path:
    """Where the build wrote a review: its URL path under the output folder."""
    site_path = urlsplit(site_url).path.rstrip("/") if site_url else ""
    path = urlsplit(review_url).path
    if site_path and path.startswith(site_path + "/"):
        path = path[len(site_path):]
    relative = unquote(path).lstrip("/")
    root = Path(output_dir).resolve()
    file = (root / relative).resolve()
    if path.endswith("/") or not relative:
        file = file / "index.html"
    if root != file and root not in file.parents:
        raise ValueError(f"review URL {review_url!r} points outside {output_dir}")
    return file


def send_from_output(
    output_dir: Path,
    cache_path: Path,
    fetcher: fetch.Fetcher,
    reviews_json: Path | None = None,
    site_url: str = "",
    blog_name: str = "",
) -> list[SendResult]:
    """Send for every review listed in ``reviews.json`` (default: the one in
    the output folder) from the HTML files the build wrote."""
    output_dir = Path(output_dir)
    index = ReviewsIndex.load(reviews_json or output_dir / REVIEWS_INDEX, site_url)
    pages = []
    for review in index.reviews:
        path = review_file(output_dir, index.site_url, review.url)
        if path.is_file():
            pages.append((review.url, path.read_text(encoding="utf-8")))
    sender = Sender(fetcher, cache_path, blog_name=blog_name, own_site=index.site_key)
    return sender.send_pages(pages)

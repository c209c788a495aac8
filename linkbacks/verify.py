"""Does a source page really link to the review, and what does it say?

``verify_source`` fetches the source (``fetch.Fetcher``: public addresses
only, bounded), checks that one of its links points at the target (compared
with ``targets.comparison_key``), and extracts a title, author, excerpt and
webmention type: from an mf2 ``h-entry`` (mf2py) when the page has one, else
from ``<title>``, the paragraph around the link / meta description and
``<meta name="author">``. Everything extracted is plain text, capped.

Failures raise a ``VerificationError`` whose ``fault`` is the matching
Pingback fault code (16, 17, 49, 50); the messages are for logs only.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin

import mf2py
from bs4 import BeautifulSoup

from reelnotes.contract import AUTHOR_MAX, EXCERPT_MAX, TITLE_MAX, clean_display_text

from . import fetch
from .targets import comparison_key, host_of


class VerificationError(Exception):
    fault = 0


class SourceMissing(VerificationError):
    """404, 410 and other client errors, or a host that does not resolve."""

    fault = 16


class NoLinkToTarget(VerificationError):
    """The source is not HTML or has no link to the target."""

    fault = 17


class SourceDenied(VerificationError):
    """The source URL is not allowed (scheme, non-public address)."""

    fault = 49


class UpstreamError(VerificationError):
    """The source's server failed: refused, timed out, 5xx, too big, redirect loop."""

    fault = 50


class SourceGone(SourceMissing):
    """HTTP 410: the source was deleted."""


@dataclass(frozen=True)
class SourceInfo:
    url: str
    title: str
    author: str
    excerpt: str
    type: str = "mention"


LINK_ELEMENTS = (("a", "href"), ("area", "href"))
CONTEXT_ELEMENTS = ("p", "li", "blockquote", "dd", "td", "figcaption", "div", "section", "article")


def parse_html(html: str) -> BeautifulSoup:
    return BeautifulSoup(html, "html.parser")


def document_base(soup: BeautifulSoup, url: str) -> str:
    base = soup.find("base", href=True)
    if base is not None:
        try:
            return urljoin(url, base["href"].strip())
        except ValueError:
            return url
    return url


def links_in(soup: BeautifulSoup, base: str):
    """(element, absolute URL) for every link in the document."""
    for name, attr in LINK_ELEMENTS:
        for element in soup.find_all(name, attrs={attr: True}):
            value = element.get(attr)
            if not isinstance(value, str) or not value.strip():
                continue
            try:
                yield element, urljoin(base, value.strip())
            except ValueError:
                continue


def find_link(soup: BeautifulSoup, base: str, target: str):
    """The first element linking to ``target``, or None."""
    wanted = comparison_key(target)
    if wanted is None:
        return None
    for element, url in links_in(soup, base):
        if comparison_key(url) == wanted:
            return element
    return None


def links_to(html: str, base_url: str, target: str) -> bool:
    soup = parse_html(html)
    return find_link(soup, document_base(soup, base_url), target) is not None


# --- extraction --------------------------------------------------------------------


def _mf2_text(value) -> str:
    if isinstance(value, dict):
        if "properties" in value:
            props = value["properties"]
            for key in ("name", "url"):
                if props.get(key):
                    return _mf2_text(props[key][0])
        return str(value.get("value") or value.get("html") or "")
    return str(value or "")


def _mf2_urls(values) -> list[str]:
    urls = []
    for value in values or []:
        if isinstance(value, dict):
            urls.extend(u for u in value.get("properties", {}).get("url", []) if isinstance(u, str))
            if isinstance(value.get("value"), str):
                urls.append(value["value"])
        elif isinstance(value, str):
            urls.append(value)
    return urls


def _h_entries(items):
    for item in items:
        if "h-entry" in item.get("type", []):
            yield item
        yield from _h_entries(item.get("children", []))
        for values in item.get("properties", {}).values():
            yield from _h_entries(v for v in values if isinstance(v, dict) and "type" in v)


def _mf2_entry(html: str, url: str, target: str) -> dict | None:
    try:
        parsed = mf2py.parse(doc=html, url=url, html_parser="html.parser")
    except Exception:  # a broken page must not break verification
        return None
    entries = list(_h_entries(parsed.get("items", [])))
    if not entries:
        return None
    wanted = comparison_key(target)
    for entry in entries:  # prefer the entry that is about the target
        props = entry.get("properties", {})
        for key in ("in-reply-to", "like-of", "repost-of"):
            if any(comparison_key(u) == wanted for u in _mf2_urls(props.get(key))):
                return entry
        for content in props.get("content", []):
            if isinstance(content, dict) and content.get("html") and links_to(content["html"], url, target):
                return entry
    return entries[0]


def webmention_type(entry: dict | None, target: str) -> str:
    if not entry:
        return "mention"
    wanted = comparison_key(target)
    props = entry.get("properties", {})
    for key, kind in (("in-reply-to", "reply"), ("like-of", "like"), ("repost-of", "repost")):
        if any(comparison_key(u) == wanted for u in _mf2_urls(props.get(key))):
            return kind
    return "mention"


def _meta(soup: BeautifulSoup, *names: str) -> str:
    for name in names:
        tag = soup.find("meta", attrs={"name": name}) or soup.find("meta", attrs={"property": name})
        if tag is not None and isinstance(tag.get("content"), str) and tag["content"].strip():
            return tag["content"]
    return ""


def _context(link) -> str:
    if link is None:
        return ""
    for parent in link.parents:
        if parent.name in CONTEXT_ELEMENTS:
            text = parent.get_text(" ")
            if text.strip():
                return text
    return ""


def extract(html: str, url: str, target: str, soup: BeautifulSoup | None = None) -> SourceInfo:
    """Title, author, excerpt and type of a source page (plain text, capped).
    Does not check the link; see ``verify_html``."""
    soup = soup if soup is not None else parse_html(html)
    base = document_base(soup, url)
    entry = _mf2_entry(html, url, target) if "h-entry" in html else None
    title = author = excerpt = ""
    if entry:
        props = entry.get("properties", {})
        title = _mf2_text((props.get("name") or [""])[0])
        author = _mf2_text((props.get("author") or [""])[0])
        summary = props.get("summary") or props.get("content") or [""]
        excerpt = _mf2_text(summary[0])
        if title and excerpt and clean_display_text(title) == clean_display_text(excerpt):
            title = ""  # an implied name repeating a note's text is no title
    if not title:
        title = soup.title.get_text(" ") if soup.title else ""
        title = title or _meta(soup, "og:title")
    if not author:
        author = _meta(soup, "author", "og:site_name") or (host_of(url) or "")
    if not excerpt:
        excerpt = _context(find_link(soup, base, target)) or _meta(soup, "description", "og:description")
    if not excerpt:
        p = soup.find("p")
        excerpt = p.get_text(" ") if p else ""
    return SourceInfo(
        url=url,
        title=clean_display_text(title, TITLE_MAX),
        author=clean_display_text(author, AUTHOR_MAX),
        excerpt=clean_display_text(excerpt, EXCERPT_MAX),
        type=webmention_type(entry, target),
    )


def verify_html(html: str, url: str, target: str) -> SourceInfo:
    """Require a link to ``target`` in ``html`` (fetched from ``url``) and
    extract what the page says; raises NoLinkToTarget."""
    soup = parse_html(html)
    if find_link(soup, document_base(soup, url), target) is None:
        raise NoLinkToTarget("the source does not link to the target")
    return extract(html, url, target, soup)


def fetch_source(fetcher: fetch.Fetcher, source: str) -> fetch.Response:
    """GET the source as HTML, mapping fetch failures to VerificationErrors."""
    try:
        response = fetcher.get(source, html_only=True)
    except (fetch.BlockedAddress, fetch.BadURL) as exc:
        raise SourceDenied(str(exc)) from exc
    except fetch.ResolveError as exc:
        raise SourceMissing(str(exc)) from exc
    except fetch.NotHTML as exc:
        raise NoLinkToTarget(str(exc)) from exc
    except fetch.FetchError as exc:
        raise UpstreamError(str(exc)) from exc
    if response.status == 410:
        raise SourceGone("the source is gone (410)")
    if 400 <= response.status < 500:
        raise SourceMissing(f"the source answered {response.status}")
    if not 200 <= response.status < 300:
        raise UpstreamError(f"the source answered {response.status}")
    return response


def verify_source(fetcher: fetch.Fetcher, source: str, target: str) -> SourceInfo:
    """Fetch ``source`` and require a link to ``target``; returns what the
    page says about itself. Raises a VerificationError subclass."""
    response = fetch_source(fetcher, source)
    return verify_html(response.text(), response.url, target)

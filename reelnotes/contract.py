"""The data the site build and the linkbacks service exchange, and nothing else.

Two files cross the line between them, and this module is the one place that
says what they hold. Both sides import it; it imports only the standard
library, so the service never loads the site builder to read them.

``reviews.json`` -- written by the build into the output folder, read by the
receiver (which reviews accept linkbacks) and by the moderation tools::

    {"site_url": "https://reelnotes.example.org",   # "" in local builds
     "reviews": [{"slug": "her-2013", "url": "https://…/reviews/her-2013/", "title": "Her"}]}

A review's ``url`` is absolute, or relative to ``site_url`` (local builds).

``content/<FILMREVIEWS_LINKBACKS_PATH>/<review-slug>.json`` -- the approved
linkbacks of one review, written by ``invoke linkbacks.export`` (or by hand),
read by the build. Pretty-printed so a person can edit them::

    {
      "review": "her-2013",
      "linkbacks": [
        {
          "id": 12,
          "kind": "webmention",          # trackback | pingback | webmention
          "type": "reply",               # mention | reply | like | repost
          "source": "https://example.net/posts/her",
          "title": "On Her",
          "author": "Example Blog",
          "excerpt": "Plain text, at most 280 characters.",
          "date": "2026-11-20T10:00:00+00:00"
        }
      ]
    }

A file that breaks these rules raises ``LinkbackDataError`` naming the file,
the field, the value and what was expected.

The receiver's routes are part of the contract too: review pages advertise
them (``endpoint_urls``) and the service answers on them.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

from reelnotes.files import atomic_write

# --- Record fields ------------------------------------------------------------

KINDS = ("trackback", "pingback", "webmention")
TYPES = ("mention", "reply", "like", "repost")
FIELDS = ("id", "kind", "type", "source", "title", "author", "excerpt", "date")
TITLE_MAX = 200
AUTHOR_MAX = 100
EXCERPT_MAX = 280
MAX_URL_LENGTH = 2048

KIND_LABELS = {"trackback": "Trackback", "pingback": "Pingback"}
TYPE_LABELS = {"reply": "Reply", "like": "Like", "repost": "Repost", "mention": "Mention"}

# --- The receiver's routes, relative to where it is mounted --------------------

TRACKBACK_ROUTE = "/trackback/"  # + review slug
PINGBACK_ROUTE = "/pingback"
WEBMENTION_ROUTE = "/webmention"
WEBMENTION_STATUS_ROUTE = "/webmention/status/"  # + token

REVIEWS_INDEX = "reviews.json"  # in the build's output folder


class LinkbackDataError(ValueError):
    """A linkbacks data file that cannot be used, with a message naming the
    file, the field, the bad value and what was expected."""


class ReviewsIndexError(ValueError):
    """A reviews.json that cannot be used; the message names the file and the entry."""


def is_http_url(value: object) -> bool:
    """True for an absolute http(s) URL with a host and no credentials or
    whitespace/control characters, at most MAX_URL_LENGTH long."""
    if not isinstance(value, str) or not value or len(value) > MAX_URL_LENGTH:
        return False
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 -- raises ValueError on a bad port
    except ValueError:
        return False
    return (
        parts.scheme.lower() in ("http", "https")
        and bool(parts.hostname)
        and parts.username is None
        and parts.password is None
    )


# --- Display text: what the title, author and excerpt fields may hold ---------------

_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")
_TAG_OPENER = re.compile(r"<(?=[A-Za-z/!?])")


class _TextExtractor(HTMLParser):
    """Collects the text of an HTML fragment, dropping every tag, comment and
    the contents of script/style/template elements."""

    SKIP = {"script", "style", "template", "noscript", "iframe", "object", "svg", "math"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in ("br", "p", "div", "li", "td", "th", "tr", "h1", "h2", "h3", "h4"):
            self.parts.append(" ")

    def handle_endtag(self, tag):
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


def _strip_tags_once(text: str) -> str:
    parser = _TextExtractor()
    parser.feed(text)
    parser.close()
    return "".join(parser.parts)


def _drop_controls(text: str) -> str:
    return "".join(
        " " if ch.isspace() else ch
        for ch in text
        if ch.isspace()
        or (unicodedata.category(ch) not in ("Cc", "Cs", "Co") and ch not in _BIDI_CONTROLS)
    )


def clean_display_text(value: object, limit: int | None = None) -> str:
    """``value`` as text that is safe to show anywhere, from untrusted input.

    Tags (also entity-encoded ones such as ``&lt;script&gt;``) stripped,
    entities decoded, control and bidi-override characters removed, a space
    after any "<" that could open a tag, whitespace collapsed, and at most
    ``limit`` characters (cut at a word boundary with an ellipsis). The result
    is never markup, and cleaning it again changes nothing."""
    if value is None:
        return ""
    text = _drop_controls(str(value))
    for _ in range(12):  # until stable: "&lt;b&gt;" decodes to "<b>", a tag again
        stripped = _drop_controls(_strip_tags_once(text))
        if stripped == text:
            break
        text = stripped
    else:  # pathological nesting: give up on the markup characters
        text = text.replace("<", "").replace(">", "")
    # What is left of an unterminated tag ("<img src=x" at the end) must not
    # become one next to other markup: "<" never directly precedes a tag name.
    text = _TAG_OPENER.sub("< ", text)
    text = re.sub(r"\s+", " ", text).strip()
    if limit is not None and len(text) > limit:
        cut = text[: limit - 1]
        space = cut.rfind(" ")
        if space > limit * 0.6:
            cut = cut[:space]
        text = cut.rstrip(" ,.;:-") + "…"
    return text


# --- The record ---------------------------------------------------------------------


@dataclass(frozen=True)
class Linkback:
    """One approved response to a review, as the data files hold it."""

    id: int
    kind: str
    type: str
    source: str
    title: str
    author: str
    excerpt: str
    date: datetime

    @property
    def link(self) -> str | None:
        """The source URL when it is safe to link to (http or https), else None."""
        return self.source if is_http_url(self.source) else None

    @property
    def label(self) -> str:
        """"Trackback", "Pingback", or for webmentions "Reply", "Like",
        "Repost" or "Mention"."""
        return KIND_LABELS.get(self.kind) or TYPE_LABELS.get(self.type, "Mention")

    @property
    def display_title(self) -> str:
        return self.title or self.author or self.source

    @property
    def iso_date(self) -> str:
        return self.date.isoformat()

    @property
    def date_label(self) -> str:
        return f"{self.date.day} {self.date:%B %Y}"

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "kind": self.kind,
            "type": self.type,
            "source": self.source,
            "title": self.title,
            "author": self.author,
            "excerpt": self.excerpt,
            "date": self.date.isoformat(),
        }

    @classmethod
    def from_dict(cls, item: object, where: str = "linkback") -> Linkback:
        """Validate one data-file entry; ``where`` names it in error messages,
        e.g. ``content/linkbacks/her-2013.json: linkbacks[2]``."""
        if not isinstance(item, dict):
            raise LinkbackDataError(
                f"{where}: got {_show(item)}, expected an object with the fields "
                + ", ".join(FIELDS)
            )
        for field in FIELDS:
            if field not in item:
                raise LinkbackDataError(f"{where}: field '{field}' is missing")
        extra = sorted(set(item) - set(FIELDS))
        if extra:
            raise LinkbackDataError(
                f"{where}: field '{extra[0]}' is not known, expected only " + ", ".join(FIELDS)
            )
        ident = item["id"]
        if not isinstance(ident, int) or isinstance(ident, bool) or ident < 1:
            raise LinkbackDataError(
                f"{where}: field 'id' is {_show(ident)}, expected a positive integer"
            )
        for field, allowed in (("kind", KINDS), ("type", TYPES)):
            if item[field] not in allowed:
                raise LinkbackDataError(
                    f"{where}: field '{field}' is {_show(item[field])}, expected one of "
                    + ", ".join(allowed)
                )
        if not is_http_url(item["source"]):
            raise LinkbackDataError(
                f"{where}: field 'source' is {_show(item['source'])}, "
                "expected an absolute http:// or https:// URL"
            )
        for field, limit in (("title", TITLE_MAX), ("author", AUTHOR_MAX), ("excerpt", EXCERPT_MAX)):
            value = item[field]
            if not isinstance(value, str):
                raise LinkbackDataError(
                    f"{where}: field '{field}' is {_show(value)}, expected a string"
                )
            if len(value) > limit:
                raise LinkbackDataError(
                    f"{where}: field '{field}' is {len(value)} characters long, "
                    f"expected at most {limit}"
                )
            if clean_display_text(value) != value:
                raise LinkbackDataError(
                    f"{where}: field '{field}' is {_show(value)}, expected plain text "
                    f"such as {_show(clean_display_text(value))} (no HTML tags or entities, no '<' "
                    "right before a letter, '/', '!' or '?', no control characters, single spaces)"
                )
        try:
            date = datetime.fromisoformat(item["date"]) if isinstance(item["date"], str) else None
        except ValueError:
            date = None
        if date is None or date.tzinfo is None:
            raise LinkbackDataError(
                f"{where}: field 'date' is {_show(item['date'])}, expected an ISO 8601 "
                "date and time with a UTC offset, e.g. 2026-11-20T10:00:00+00:00"
            )
        return cls(
            id=ident,
            kind=item["kind"],
            type=item["type"],
            source=item["source"],
            title=item["title"],
            author=item["author"],
            excerpt=item["excerpt"],
            date=date,
        )


def _show(value: object) -> str:
    text = json.dumps(value, ensure_ascii=True) if not isinstance(value, (dict, list)) else type(value).__name__
    return text if len(text) <= 80 else text[:77] + "..."


def sort_key(linkback: Linkback):
    """The order of a review's linkbacks: oldest first."""
    return (linkback.date, linkback.id)


# --- Approved-records files ------------------------------------------------------------


def load_file(path: Path, known_slugs: set[str] | None = None) -> tuple[str, list[Linkback]]:
    """Read and validate one data file; returns (review slug, linkbacks sorted by date)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise LinkbackDataError(f"{path}: is not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise LinkbackDataError(
            f"{path}: is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except OSError as exc:
        raise LinkbackDataError(f"{path}: cannot be read ({exc.strerror})") from exc
    if not isinstance(data, dict):
        raise LinkbackDataError(
            f"{path}: the top level is {_show(data)}, expected an object with "
            "'review' and 'linkbacks'"
        )
    for field in ("review", "linkbacks"):
        if field not in data:
            raise LinkbackDataError(f"{path}: field '{field}' is missing")
    extra = sorted(set(data) - {"review", "linkbacks"})
    if extra:
        raise LinkbackDataError(
            f"{path}: field '{extra[0]}' is not known, expected only 'review' and 'linkbacks'"
        )
    slug = data["review"]
    if not isinstance(slug, str) or not slug:
        raise LinkbackDataError(f"{path}: field 'review' is {_show(slug)}, expected a review slug")
    if known_slugs is not None and slug not in known_slugs:
        raise LinkbackDataError(
            f"{path}: field 'review' is {_show(slug)}, expected the slug of a published review"
        )
    if path.stem != slug:
        raise LinkbackDataError(
            f"{path}: field 'review' is {_show(slug)}, expected {_show(path.stem)} "
            "(the file name without .json)"
        )
    if not isinstance(data["linkbacks"], list):
        raise LinkbackDataError(
            f"{path}: field 'linkbacks' is {_show(data['linkbacks'])}, expected a list"
        )
    linkbacks, seen = [], set()
    for i, item in enumerate(data["linkbacks"]):
        linkback = Linkback.from_dict(item, f"{path}: linkbacks[{i}]")
        if linkback.id in seen:
            raise LinkbackDataError(
                f"{path}: linkbacks[{i}]: field 'id' is {linkback.id}, expected an id "
                "not used earlier in the file"
            )
        seen.add(linkback.id)
        linkbacks.append(linkback)
    linkbacks.sort(key=sort_key)
    return slug, linkbacks


def load_folder(folder: Path, known_slugs: set[str]) -> tuple[dict[str, list[Linkback]], list[LinkbackDataError]]:
    """Every ``<folder>/*.json`` file: review slug -> linkbacks sorted by date,
    and one error per file that cannot be used (that file is left out). A
    missing folder means no linkbacks."""
    folder = Path(folder)
    by_slug: dict[str, list[Linkback]] = {}
    errors: list[LinkbackDataError] = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        try:
            slug, linkbacks = load_file(path, set(known_slugs))
        except LinkbackDataError as exc:
            errors.append(exc)
            continue
        by_slug[slug] = linkbacks
    return by_slug, errors


def dump(slug: str, linkbacks: list[Linkback]) -> str:
    """The text of a data file: pretty-printed, linkbacks in date order."""
    data = {"review": slug, "linkbacks": [lb.to_dict() for lb in sorted(linkbacks, key=sort_key)]}
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


# --- reviews.json ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewEntry:
    """One published review in reviews.json."""

    slug: str
    url: str  # absolute, or relative to the index's site_url
    title: str


def dump_reviews_index(site_url: str, reviews: Iterable[ReviewEntry]) -> str:
    data = {
        "site_url": site_url,
        "reviews": [{"slug": r.slug, "url": r.url, "title": r.title} for r in reviews],
    }
    return json.dumps(data, ensure_ascii=False, indent=1) + "\n"


def write_reviews_index(path: Path, site_url: str, reviews: Iterable[ReviewEntry]) -> None:
    """Replace reviews.json in one step: a running receiver never reads half of it."""
    atomic_write(path, dump_reviews_index(site_url, reviews))


def parse_reviews_index(data: object, source: str = REVIEWS_INDEX) -> tuple[str, list[ReviewEntry]]:
    """(site_url, reviews) from the decoded JSON of a reviews.json."""
    if not isinstance(data, dict) or not isinstance(data.get("reviews"), list):
        raise ReviewsIndexError(f"{source}: expected an object with a 'reviews' list")
    site_url = data.get("site_url") or ""
    if not isinstance(site_url, str):
        raise ReviewsIndexError(f"{source}: site_url is {_show(site_url)}, expected a string")
    reviews = []
    for i, item in enumerate(data["reviews"]):
        if not isinstance(item, dict) or not isinstance(item.get("slug"), str):
            raise ReviewsIndexError(f"{source}: reviews[{i}] has no 'slug' string")
        url = item.get("url") or ""
        if not isinstance(url, str):
            raise ReviewsIndexError(f"{source}: reviews[{i}].url is not a string")
        reviews.append(ReviewEntry(item["slug"], url, str(item.get("title") or "")))
    return site_url.strip(), reviews


def read_reviews_index(path: Path) -> tuple[str, list[ReviewEntry]]:
    """(site_url, reviews) from a reviews.json file; ReviewsIndexError if it cannot be used."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReviewsIndexError(f"{path}: cannot read the reviews index ({exc})") from exc
    return parse_reviews_index(data, str(path))


# --- Where the receiver listens ------------------------------------------------------------


def endpoint_urls(receiver_url: str, slug: str) -> dict[str, str]:
    """The three endpoint URLs of a receiver mounted at ``receiver_url`` (e.g.
    ``https://example.org/linkbacks``) for one review; empty strings when no
    receiver is configured."""
    if not receiver_url:
        return {"trackback_url": "", "pingback_url": "", "webmention_url": ""}
    base = receiver_url.rstrip("/")
    return {
        "trackback_url": f"{base}{TRACKBACK_ROUTE}{slug}",
        "pingback_url": f"{base}{PINGBACK_ROUTE}",
        "webmention_url": f"{base}{WEBMENTION_ROUTE}",
    }

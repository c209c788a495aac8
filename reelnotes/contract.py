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
          "id": "receiver-12",           # see "Record ids" below
          "kind": "webmention",          # trackback | pingback | webmention | reply
          "type": "reply",               # mention | reply | like | repost
          "source": "https://example.net/posts/her",
          "title": "On Her",
          "author": "Example Blog",
          "excerpt": "Plain text, at most 280 characters.",
          "date": "2026-11-20T10:00:00+00:00"
        },
        {
          "id": "receiver-14",
          "kind": "reply",               # a reader's reply, left with the form
          "type": "reply",
          "source": "",                  # the reader's website, or ""
          "title": "",
          "author": "Ana",               # the name the reader gave
          "excerpt": "Plain text, at most 280 characters.",
          "text": "The reply: *Markdown* subset (paragraphs, links, emphasis).",
          "parent": "receiver-12",       # the response it answers (one level), or null
          "by_author": false,            # true: the writer's own reply
          "date": "2026-11-21T08:00:00+00:00"
        }
      ]
    }

Record ids are strings namespaced by where the record came from, so records
of different origins never collide: "receiver-<row id>" is what
``invoke linkbacks.export`` writes, "wordpress-<comment id>" what the
WordPress importer writes; anything else (e.g. "hand-1") was written by hand.
Export only ever adds, replaces or removes "receiver-" records. Integer ids
in older files are read as hand-written ids ("1").

No e-mail or IP address is ever part of a record.

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

KINDS = ("trackback", "pingback", "webmention", "reply")
TYPES = ("mention", "reply", "like", "repost")
FIELDS = ("id", "kind", "type", "source", "title", "author", "excerpt", "date")
REPLY_FIELDS = FIELDS + ("text", "parent", "by_author")  # kind "reply" has these too
TITLE_MAX = 200
AUTHOR_MAX = 100
EXCERPT_MAX = 280
TEXT_MAX = 5000  # a reply's Markdown source
MAX_URL_LENGTH = 2048

RECEIVER_ID_PREFIX = "receiver-"  # what export writes, and the only ids it touches
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")

KIND_LABELS = {"trackback": "Trackback", "pingback": "Pingback", "reply": "Reply"}
# Webmentions say what they are; a webmention reply is told apart from a
# reader's reply left with the form.
TYPE_LABELS = {"reply": "Webmention reply", "like": "Like", "repost": "Repost", "mention": "Webmention"}

# --- The receiver's routes, relative to where it is mounted --------------------

TRACKBACK_ROUTE = "/trackback/"  # + review slug
PINGBACK_ROUTE = "/pingback"
WEBMENTION_ROUTE = "/webmention"
WEBMENTION_STATUS_ROUTE = "/webmention/status/"  # + token

REPLY_ROUTE = "/reply/"  # + review slug: the Leave a Reply form posts here

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


_JOINERS = "\u200c\u200d"  # zero-width non-joiner / joiner


def _visible_non_ascii(ch: str) -> bool:
    return not ch.isascii() and not ch.isspace() and unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co")


def _drop_controls(text: str) -> str:
    """Control, private-use and invisible format characters (category Cf:
    zero-width spaces and joiners, bidi controls, word joiners, the BOM, soft
    hyphens, tag characters) removed, whitespace made spaces. A joiner stays
    where it does visible work: between two non-ASCII characters, as inside
    an emoji sequence or a Persian word -- never between ASCII letters, where
    it only hides a look-alike."""
    kept = []
    for i, ch in enumerate(text):
        if ch.isspace():
            kept.append(" ")
            continue
        category = unicodedata.category(ch)
        if category in ("Cc", "Cs", "Co") or ch in _BIDI_CONTROLS:
            continue
        if category == "Cf":
            joins = (ch in _JOINERS and 0 < i < len(text) - 1
                     and _visible_non_ascii(text[i - 1]) and _visible_non_ascii(text[i + 1]))
            if not joins:
                continue
        kept.append(ch)
    return "".join(kept)


def clean_display_text(value: object, limit: int | None = None) -> str:
    """``value`` as text that is safe to show anywhere, from untrusted input.

    Tags (also entity-encoded ones such as ``&lt;script&gt;``) stripped,
    entities decoded, control, bidi-override and other invisible format
    characters (zero-width spaces, word joiners, the BOM) removed, a space
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


# --- Record ids ---------------------------------------------------------------------


def receiver_id(row_id: int) -> str:
    """The record id of the receiver's database row ``row_id``."""
    return f"{RECEIVER_ID_PREFIX}{int(row_id)}"


def receiver_row(record_id: str) -> int | None:
    """The database row a "receiver-<n>" id names, else None."""
    if isinstance(record_id, str) and record_id.startswith(RECEIVER_ID_PREFIX):
        number = record_id[len(RECEIVER_ID_PREFIX):]
        if number.isdigit() and number.isascii() and len(number) <= 18:  # a database row id (64 bits)
            return int(number)
    return None


def _record_id(value: object, where: str, field: str) -> str:
    """A record id from a data file: a string as ID_RE says, or a legacy
    positive integer (read as the hand-written id "<n>")."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return str(value)
    if isinstance(value, str) and ID_RE.match(value):
        return value
    raise LinkbackDataError(
        f"{where}: field '{field}' is {_show(value)}, expected a record id: letters, digits, '.', "
        "'_', ':' or '-', at most 64, such as \"hand-1\" (\"receiver-<n>\" is what export writes)"
    )


# --- The record ---------------------------------------------------------------------


@dataclass(frozen=True)
class Linkback:
    """One approved response to a review, as the data files hold it. A
    reader's reply (kind "reply") also has its Markdown ``text``, the id of
    the response it answers (``parent``) and whether the writer wrote it."""

    id: str
    kind: str
    type: str
    source: str
    title: str
    author: str
    excerpt: str
    date: datetime
    text: str = ""
    parent: str | None = None
    by_author: bool = False

    @property
    def is_reply(self) -> bool:
        return self.kind == "reply"

    @property
    def from_receiver(self) -> bool:
        """Written by export (the only records a later export may change)."""
        return receiver_row(self.id) is not None

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
        return self.title or self.author or self.source or "Anonymous"

    @property
    def iso_date(self) -> str:
        return self.date.isoformat()

    @property
    def date_label(self) -> str:
        return f"{self.date.day} {self.date:%B %Y}"

    def to_dict(self) -> dict:
        data = {
            "id": self.id,
            "kind": self.kind,
            "type": self.type,
            "source": self.source,
            "title": self.title,
            "author": self.author,
            "excerpt": self.excerpt,
        }
        if self.is_reply:
            data.update(text=self.text, parent=self.parent, by_author=self.by_author)
        data["date"] = self.date.isoformat()
        return data

    @classmethod
    def from_dict(cls, item: object, where: str = "linkback") -> Linkback:
        """Validate one data-file entry; ``where`` names it in error messages,
        e.g. ``content/linkbacks/her-2013.json: linkbacks[2]``."""
        if not isinstance(item, dict):
            raise LinkbackDataError(
                f"{where}: got {_show(item)}, expected an object with the fields "
                + ", ".join(FIELDS)
            )
        if item.get("kind") not in KINDS:
            raise LinkbackDataError(
                f"{where}: field 'kind' is {_show(item.get('kind'))}, expected one of " + ", ".join(KINDS)
            )
        is_reply = item["kind"] == "reply"
        fields = REPLY_FIELDS if is_reply else FIELDS
        for field in fields:
            if field not in item:
                raise LinkbackDataError(f"{where}: field '{field}' is missing")
        extra = sorted(set(item) - set(fields))
        if extra:
            raise LinkbackDataError(
                f"{where}: field '{extra[0]}' is not known, expected only " + ", ".join(fields)
                + ("" if is_reply else " (text, parent and by_author belong to kind \"reply\")")
            )
        ident = _record_id(item["id"], where, "id")
        if item["type"] not in TYPES or (is_reply and item["type"] != "reply"):
            raise LinkbackDataError(
                f"{where}: field 'type' is {_show(item['type'])}, expected "
                + ("\"reply\" for kind \"reply\"" if is_reply else "one of " + ", ".join(TYPES))
            )
        if not is_http_url(item["source"]) and not (is_reply and item["source"] == ""):
            raise LinkbackDataError(
                f"{where}: field 'source' is {_show(item['source'])}, "
                "expected an absolute http:// or https:// URL"
                + (" or \"\" (no website)" if is_reply else "")
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
        reply = _reply_fields(item, where) if is_reply else {}
        return cls(
            id=ident,
            kind=item["kind"],
            type=item["type"],
            source=item["source"],
            title=item["title"],
            author=item["author"],
            excerpt=item["excerpt"],
            date=date,
            **reply,
        )


def _reply_fields(item: dict, where: str) -> dict:
    """text, parent and by_author of a reply record, checked."""
    if item["title"] != "":
        raise LinkbackDataError(f"{where}: field 'title' is {_show(item['title'])}, expected \"\" for a reply")
    text = item["text"]
    if not isinstance(text, str) or not text.strip():
        raise LinkbackDataError(f"{where}: field 'text' is {_show(text)}, expected the reply's text")
    if len(text) > TEXT_MAX:
        raise LinkbackDataError(
            f"{where}: field 'text' is {len(text)} characters long, expected at most {TEXT_MAX}"
        )
    parent = item["parent"]
    if parent is not None:
        parent = _record_id(parent, where, "parent")
        if parent == _record_id(item["id"], where, "id"):
            raise LinkbackDataError(f"{where}: field 'parent' is {_show(parent)}, expected another record's id")
    if not isinstance(item["by_author"], bool):
        raise LinkbackDataError(
            f"{where}: field 'by_author' is {_show(item['by_author'])}, expected true or false"
        )
    return {"text": text, "parent": parent, "by_author": item["by_author"]}


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
                f"{path}: linkbacks[{i}]: field 'id' is {_show(linkback.id)}, expected an id "
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
    """The endpoint URLs of a receiver mounted at ``receiver_url`` (e.g.
    ``https://example.org/linkbacks``) for one review -- TrackBack, Pingback,
    Webmention and the Leave a Reply form's -- as empty strings when no
    receiver is configured."""
    if not receiver_url:
        return {"trackback_url": "", "pingback_url": "", "webmention_url": "", "reply_url": ""}
    base = receiver_url.rstrip("/")
    return {
        "trackback_url": f"{base}{TRACKBACK_ROUTE}{slug}",
        "pingback_url": f"{base}{PINGBACK_ROUTE}",
        "webmention_url": f"{base}{WEBMENTION_ROUTE}",
        "reply_url": f"{base}{REPLY_ROUTE}{slug}",
    }

"""The ``Linkback`` record and its data files.

Approved linkbacks live in ``content/linkbacks/<review-slug>.json``, one file
per review, pretty-printed so they can be edited by hand::

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

Each record's ``id`` says where it came from, so records from different
origins never collide: ``"receiver-12"`` (exported by the receiver),
``"wordpress-57"`` (imported by ``invoke import.wordpress``), any other
``"<origin>-<id>"`` string, or a positive integer (older and hand-written
files). Replies (``"kind": "reply"``, comments imported from another blog)
carry three more fields: ``text`` (the comment as Markdown without raw HTML),
``parent`` (the id of the reply it answers, or null) and ``by_author``
(true when the review's author wrote it).

``load_linkbacks`` is what the Pelican plugin calls; any problem raises
``LinkbackDataError`` naming the file, the field, the value and what was
expected. ``trackback_rdf`` computes the TrackBack auto-discovery comment so
templates only display it.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

from markupsafe import Markup, escape

from .targets import is_http_url

KINDS = ("trackback", "pingback", "webmention")
REPLY = "reply"  # a comment imported from another blog
RECORD_KINDS = KINDS + (REPLY,)
TYPES = ("mention", "reply", "like", "repost")
TITLE_MAX = 200
AUTHOR_MAX = 100
EXCERPT_MAX = 280
TEXT_MAX = 20_000
FIELDS = ("id", "kind", "type", "source", "title", "author", "excerpt", "date")
REPLY_FIELDS = FIELDS + ("text", "parent", "by_author")
# "<origin>-<id>", e.g. receiver-12, wordpress-57, letterboxd-3f9a.
STRING_ID = re.compile(r"[a-z][a-z0-9]{0,30}-[A-Za-z0-9._-]{1,80}")
DEFAULT_SUBDIR = "linkbacks"

KIND_LABELS = {"trackback": "Trackback", "pingback": "Pingback", REPLY: "Reply"}
TYPE_LABELS = {"reply": "Reply", "like": "Like", "repost": "Repost", "mention": "Mention"}


class LinkbackDataError(ValueError):
    """A linkbacks data file that cannot be used, with a message naming the
    file, the field, the bad value and what was expected."""


# --- Plain text -------------------------------------------------------------

_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


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


_TAG_OPENER = re.compile(r"<(?=[A-Za-z/!?])")


def _drop_controls(text: str) -> str:
    if text.isprintable():  # no control, format, private-use or surrogate characters, only " " as space
        return text
    return "".join(
        " " if ch.isspace() else ch
        for ch in text
        if ch.isspace()
        or (unicodedata.category(ch) not in ("Cc", "Cs", "Co") and ch not in _BIDI_CONTROLS)
    )


def plain_text(value: object, limit: int | None = None) -> str:
    """``value`` as plain text: tags (also entity-encoded ones such as
    ``&lt;script&gt;``) stripped, entities decoded, control and bidi-override
    characters removed, a space after any "<" that could open a tag,
    whitespace collapsed, and at most ``limit`` characters (cut at a word
    boundary with an ellipsis). Idempotent: plain_text(plain_text(x)) ==
    plain_text(x)."""
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


# --- The record ---------------------------------------------------------------


def valid_id(ident: object) -> bool:
    """A positive integer, or an "<origin>-<id>" string such as "wordpress-57"."""
    if isinstance(ident, bool):
        return False
    if isinstance(ident, int):
        return ident >= 1
    return isinstance(ident, str) and STRING_ID.fullmatch(ident) is not None


_RAW_HTML = re.compile(r"<[A-Za-z/!?]")


@dataclass(frozen=True)
class Linkback:
    id: int | str
    kind: str
    type: str
    source: str
    title: str
    author: str
    excerpt: str
    date: datetime
    # Replies only.
    text: str = ""
    parent: int | str | None = None
    by_author: bool = False

    @property
    def link(self) -> str | None:
        """The source URL when it is safe to link to (http or https), else None."""
        return self.source if is_http_url(self.source) else None

    @property
    def label(self) -> str:
        """"Trackback", "Pingback", or for webmentions "Reply", "Like",
        "Repost" or "Mention"."""
        return KIND_LABELS.get(self.kind) or TYPE_LABELS.get(self.type, "Mention")

    kind_label = label

    @property
    def display_title(self) -> str:
        return self.title or self.author or self.source

    @property
    def iso_date(self) -> str:
        return self.date.isoformat()

    @property
    def date_label(self) -> str:
        return f"{self.date.day} {self.date:%B %Y}"

    @property
    def is_reply(self) -> bool:
        return self.kind == REPLY

    @property
    def paragraphs(self) -> Markup:
        """A reply's text as escaped paragraphs (the Markdown shown as written)."""
        blocks = [" ".join(block.split()) for block in re.split(r"\n\s*\n", self.text) if block.strip()]
        return Markup("".join(f"<p>{escape(block)}</p>" for block in blocks))

    def to_dict(self) -> dict:
        data = {
            "id": self.id,
            "kind": self.kind,
            "type": self.type,
            "source": self.source,
            "title": self.title,
            "author": self.author,
            "excerpt": self.excerpt,
            "date": self.date.isoformat(),
        }
        if self.is_reply:
            data.update(text=self.text, parent=self.parent, by_author=self.by_author)
        return data

    @classmethod
    def from_dict(cls, item: object, where: str = "linkback") -> "Linkback":
        """Validate one data-file entry; ``where`` names it in error messages,
        e.g. ``content/linkbacks/her-2013.json: linkbacks[2]``."""
        if not isinstance(item, dict):
            raise LinkbackDataError(
                f"{where}: got {_show(item)}, expected an object with the fields "
                + ", ".join(FIELDS)
            )
        reply = item.get("kind") == REPLY
        fields = REPLY_FIELDS if reply else FIELDS
        for field in fields:
            if field not in item:
                raise LinkbackDataError(f"{where}: field '{field}' is missing")
        extra = sorted(set(item) - set(fields))
        if extra:
            raise LinkbackDataError(
                f"{where}: field '{extra[0]}' is not known, expected only " + ", ".join(fields)
            )
        ident = item["id"]
        if not valid_id(ident):
            raise LinkbackDataError(
                f"{where}: field 'id' is {_show(ident)}, expected a positive integer or an "
                "'<origin>-<id>' string such as \"receiver-12\" or \"wordpress-57\""
            )
        for field, allowed in (("kind", RECORD_KINDS), ("type", TYPES)):
            if item[field] not in allowed:
                raise LinkbackDataError(
                    f"{where}: field '{field}' is {_show(item[field])}, expected one of "
                    + ", ".join(allowed)
                )
        if not is_http_url(item["source"]) and not (reply and item["source"] == ""):
            raise LinkbackDataError(
                f"{where}: field 'source' is {_show(item['source'])}, "
                "expected an absolute http:// or https:// URL"
                + (" (or an empty string for a reply without a website)" if reply else "")
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
            if plain_text(value) != value:
                raise LinkbackDataError(
                    f"{where}: field '{field}' is {_show(value)}, expected plain text "
                    f"such as {_show(plain_text(value))} (no HTML tags or entities, no '<' "
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
        extra_fields = _reply_fields(item, where) if reply else {}
        return cls(
            id=ident,
            kind=item["kind"],
            type=item["type"],
            source=item["source"],
            title=item["title"],
            author=item["author"],
            excerpt=item["excerpt"],
            date=date,
            **extra_fields,
        )


def _reply_fields(item: dict, where: str) -> dict:
    """text, parent and by_author of a reply record, validated."""
    text = item["text"]
    if not isinstance(text, str) or not text.strip():
        raise LinkbackDataError(f"{where}: field 'text' is {_show(text)}, expected the reply as "
                                "non-empty Markdown text")
    if len(text) > TEXT_MAX:
        raise LinkbackDataError(f"{where}: field 'text' is {len(text)} characters long, "
                                f"expected at most {TEXT_MAX}")
    raw = _RAW_HTML.search(text)
    if raw or _drop_controls(text.replace("\n", " ")) != text.replace("\n", " "):
        shown = text[max(raw.start() - 20, 0):raw.start() + 20] if raw else text[:40]
        raise LinkbackDataError(f"{where}: field 'text' is {_show(shown)}, expected Markdown without "
                                "raw HTML (no '<' right before a letter, '/', '!' or '?') and without "
                                "control characters")
    parent = item["parent"]
    if parent is not None and not valid_id(parent):
        raise LinkbackDataError(f"{where}: field 'parent' is {_show(parent)}, expected null or the "
                                "id of the reply it answers")
    if not isinstance(item["by_author"], bool):
        raise LinkbackDataError(f"{where}: field 'by_author' is {_show(item['by_author'])}, "
                                "expected true or false")
    return {"text": text, "parent": parent, "by_author": item["by_author"]}


def _show(value: object) -> str:
    text = json.dumps(value, ensure_ascii=True) if not isinstance(value, (dict, list)) else type(value).__name__
    return text if len(text) <= 80 else text[:77] + "..."


# --- Data files -----------------------------------------------------------------


def linkbacks_dir(content_dir: Path, subdir: str = DEFAULT_SUBDIR) -> Path:
    return Path(content_dir) / subdir


def sort_key(linkback: Linkback):
    # str(): integer and string ids share a file, and a tie on the date must still sort.
    return (linkback.date, str(linkback.id))


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
            f"{path}: field 'review' is {_show(slug)}, expected the slug of a published review "
            "or a draft"
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


def load_linkbacks(
    content_dir: Path, known_slugs: set[str], subdir: str = DEFAULT_SUBDIR
) -> dict[str, list[Linkback]]:
    """Every ``<content_dir>/<subdir>/*.json`` file, validated: review slug ->
    linkbacks sorted by date. A missing folder means no linkbacks."""
    folder = linkbacks_dir(content_dir, subdir)
    result: dict[str, list[Linkback]] = {}
    if not folder.is_dir():
        return result
    for path in sorted(folder.glob("*.json")):
        slug, linkbacks = load_file(path, set(known_slugs))
        result[slug] = linkbacks
    return result


def dump(slug: str, linkbacks: list[Linkback]) -> str:
    data = {"review": slug, "linkbacks": [lb.to_dict() for lb in sorted(linkbacks, key=sort_key)]}
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def write_file(path: Path, slug: str, linkbacks: list[Linkback]) -> bool:
    """Atomically write a data file (temp file + os.replace). Returns False
    when the file already had exactly this content (left untouched)."""
    path = Path(path)
    text = dump(slug, linkbacks)
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (OSError, UnicodeDecodeError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return True


# --- Templates' helpers -------------------------------------------------------------


def _comment_safe(value: str) -> str:
    """Escape for an XML attribute inside an HTML comment: &, <, >, quotes,
    and every '-' that follows another '-' as a character reference, so the
    comment cannot be closed or nested ("--", "-->", "--!>") and RDF parsers
    still read the original value."""
    text = str(escape(value))  # &amp; &lt; &gt; &#34; &#39;
    return re.sub(r"-(?=-)", "&#45;", text)  # "---" -> "&#45;&#45;-": never two in a row


def trackback_rdf(permalink: str, title: str, ping_url: str) -> Markup:
    """The TrackBack auto-discovery block for one review, as a complete HTML
    comment ready to display (Markup, so ``|e`` leaves it intact). Empty when
    there is no ping URL."""
    if not ping_url:
        return Markup("")
    about = _comment_safe(permalink or "")
    block = (
        "<!--\n"
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"\n'
        '         xmlns:dc="http://purl.org/dc/elements/1.1/"\n'
        '         xmlns:trackback="http://madskills.com/public/xml/rss/module/trackback/">\n'
        "<rdf:Description\n"
        f'    rdf:about="{about}"\n'
        f'    dc:identifier="{about}"\n'
        f'    dc:title="{_comment_safe(plain_text(title))}"\n'
        f'    trackback:ping="{_comment_safe(ping_url)}" />\n'
        "</rdf:RDF>\n"
        "-->"
    )
    return Markup(block)


def endpoint_urls(receiver_url: str, slug: str) -> dict[str, str]:
    """The three endpoint URLs of a receiver mounted at ``receiver_url`` (e.g.
    ``https://example.org/linkbacks``) for one review; empty strings when no
    receiver is configured. Matches the routes of ``receiver.LinkbackApp``."""
    if not receiver_url:
        return {"trackback_url": "", "pingback_url": "", "webmention_url": ""}
    base = receiver_url.rstrip("/")
    return {
        "trackback_url": f"{base}/trackback/{slug}",
        "pingback_url": f"{base}/pingback",
        "webmention_url": f"{base}/webmention",
    }

"""Reading a WordPress export (WXR 1.0-1.2) as a stream of items.

WordPress's Tools → Export writes one RSS document: a <channel> with the
site's authors, categories and tags, then one <item> per post, page,
attachment or menu entry, each with its post meta and its comments. This
module reads that file:

* streaming (`iterparse`), handing out one `Item` at a time and dropping it
  from the tree afterwards, so a 50 MB export takes the memory of one post;
* safely: `defusedxml` refuses entity declarations (billion laughs) and
  external entities before they expand or load anything;
* forgivingly where old exports are known to be broken: characters XML does
  not allow (control characters pasted from word processors) are removed and
  bytes that are not UTF-8 are replaced, and both are counted for the report;
* strictly everywhere else: a file that is not XML, is cut short or is not a
  WordPress export is an `ImportFailed` naming the file, the place and what
  was expected.

Nothing here knows about reviews; `wordpress.py` turns items into files.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import iterparse

from .errors import ImportFailed

WP_NAMESPACE = "http://wordpress.org/export/"
SUPPORTED_VERSIONS = ("1.0", "1.1", "1.2")
_PREFIXES = {
    "http://purl.org/rss/1.0/modules/content/": "content:",
    "http://purl.org/dc/elements/1.1/": "dc:",
    "http://wellformedweb.org/CommentAPI/": "wfw:",
}
# Characters XML 1.0 forbids: C0 controls except tab, newline and carriage return, and U+FFFE/U+FFFF.
_FORBIDDEN = dict.fromkeys([*range(0, 9), 11, 12, *range(14, 32), 0xFFFE, 0xFFFF])
_FORBIDDEN_BYTES = bytes([*range(0, 9), 11, 12, *range(14, 32)])
_DECLARED_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
CHUNK = 1 << 16


def short(tag: str) -> str:
    """'{http://wordpress.org/export/1.2/}post_id' -> 'wp:post_id'."""
    if not tag.startswith("{"):
        return tag
    uri, _, local = tag[1:].partition("}")
    if uri.startswith(WP_NAMESPACE):
        return ("excerpt:" if uri.rstrip("/").endswith("excerpt") else "wp:") + local
    return _PREFIXES.get(uri, "?:") + local


# --- the records ----------------------------------------------------------------


@dataclass
class Comment:
    id: str
    author: str
    author_email: str  # only ever compared, never written anywhere
    author_url: str
    date: str
    date_gmt: str
    content: str
    approved: str  # "1", "0", "spam", "trash", "post-trashed"
    type: str  # "", "comment", "pingback", "trackback", ...
    parent: str
    user_id: str


@dataclass
class Term:
    domain: str  # "category", "post_tag", ...
    slug: str
    name: str
    parent: str = ""  # the parent category's slug


@dataclass
class Item:
    post_id: str = ""
    title: str = ""
    link: str = ""
    guid: str = ""
    creator: str = ""
    content: str = ""
    excerpt: str = ""
    post_date: str = ""
    post_date_gmt: str = ""
    post_name: str = ""
    status: str = ""
    post_parent: str = "0"
    menu_order: str = "0"
    post_type: str = ""
    password: str = ""  # only ever tested for being set
    attachment_url: str = ""
    terms: list[Term] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)
    comments: list[Comment] = field(default_factory=list)
    line: int = 0  # where the item ends, for messages

    @property
    def label(self) -> str:
        """How the report names the item: 'post 12 "Her (2013) review"'."""
        kind = self.post_type or "item"
        return f'{kind} {self.post_id or "?"} "{self.title}"' if self.title else f"{kind} {self.post_id or '?'}"


@dataclass
class Author:
    id: str
    login: str
    email: str  # only ever compared, never written anywhere
    display_name: str


@dataclass
class Channel:
    title: str = ""
    link: str = ""
    version: str = ""
    base_site_url: str = ""
    base_blog_url: str = ""
    authors: dict[str, Author] = field(default_factory=dict)  # by login
    categories: dict[str, Term] = field(default_factory=dict)  # by slug
    tags: dict[str, Term] = field(default_factory=dict)


@dataclass
class Repairs:
    """What was mended in the file while reading it, for the report."""

    control_characters: int = 0
    first_control_at: int | None = None  # byte offset
    undecodable_bytes: int = 0
    first_undecodable_at: int | None = None

    def lines(self) -> list[str]:
        out = []
        if self.control_characters:
            out.append(f"removed {self.control_characters} control character(s) that XML does not allow "
                       f"(the first at byte {self.first_control_at})")
        if self.undecodable_bytes:
            out.append(f"replaced {self.undecodable_bytes} byte(s) that are not UTF-8 with '\ufffd' "
                       f"(the first at byte {self.first_undecodable_at})")
        return out


# --- the filtered byte stream -----------------------------------------------------


class _CleanStream:
    """A read()-able view of the export without the characters XML forbids.

    For UTF-8 files (WordPress always writes UTF-8) the bytes are decoded
    incrementally, bad bytes replaced, forbidden characters dropped and the
    text encoded again; any other declared encoding only loses the forbidden
    control bytes, which never occur inside a character there either.
    """

    def __init__(self, handle, repairs: Repairs):
        self.handle = handle
        self.repairs = repairs
        self.offset = 0  # bytes consumed from the file
        self.decoder = None
        self.started = False

    def _error_handler(self, error: UnicodeDecodeError):
        at = self.offset + error.start
        self.repairs.undecodable_bytes += error.end - error.start
        if self.repairs.first_undecodable_at is None:
            self.repairs.first_undecodable_at = at
        return "\ufffd", error.end

    def _count_controls(self, removed: int, first: int) -> None:
        if removed:
            self.repairs.control_characters += removed
            if self.repairs.first_control_at is None:
                self.repairs.first_control_at = first

    def read(self, size: int = CHUNK) -> bytes:
        chunk = self.handle.read(max(size, CHUNK))
        if not self.started:
            self.started = True
            declared = _DECLARED_ENCODING.match(chunk.lstrip(codecs.BOM_UTF8))
            name = declared.group(1).decode("ascii").lower() if declared else "utf-8"
            if name.replace("_", "-") in ("utf-8", "utf8"):
                handler = f"reelnotes-wxr-{id(self)}"
                codecs.register_error(handler, self._error_handler)
                self.decoder = codecs.getincrementaldecoder("utf-8")(errors=handler)
        start = self.offset
        self.offset += len(chunk)
        if self.decoder is None:
            cleaned = chunk.translate(None, _FORBIDDEN_BYTES)
            if len(cleaned) != len(chunk):
                first = next(i for i, b in enumerate(chunk) if b in _FORBIDDEN_BYTES)
                self._count_controls(len(chunk) - len(cleaned), start + first)
            return cleaned
        self.offset = start  # the error handler reports offsets from the chunk's start
        text = self.decoder.decode(chunk, final=not chunk)
        self.offset = start + len(chunk)
        cleaned = text.translate(_FORBIDDEN)
        if len(cleaned) != len(text):
            index = next(i for i, ch in enumerate(text) if ord(ch) in _FORBIDDEN)
            self._count_controls(len(text) - len(cleaned), start + len(text[:index].encode("utf-8", "replace")))
        return cleaned.encode("utf-8")


# --- the reader ----------------------------------------------------------------------


def _text(element) -> str:
    return element.text or "" if element is not None else ""


class WxrReader:
    """One pass over an export: `items()` yields each <item>; `channel` fills
    in as the file is read (WordPress writes it before the first item)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.channel = Channel()
        self.repairs = Repairs()
        if not self.path.is_file():
            raise ImportFailed(f"{self.path}: no such file (expected a WordPress export, "
                               "the .xml file from Tools → Export)")
        if self.path.stat().st_size == 0:
            raise ImportFailed(f"{self.path}: is empty (expected a WordPress export, the .xml file "
                               "from Tools → Export)")

    # -- errors --

    def _not_wxr(self, found: str) -> ImportFailed:
        return ImportFailed(f"{self.path}: is not a WordPress export ({found}; expected an <rss> "
                            "document with <wp:wxr_version> 1.1 or 1.2, as Tools → Export writes it)")

    def _last_line(self) -> int:
        lines = 1
        with self.path.open("rb") as handle:
            while chunk := handle.read(CHUNK * 16):
                lines += chunk.count(b"\n")
        return lines

    def _parse_error(self, exc: ParseError) -> ImportFailed:
        line, column = getattr(exc, "position", (0, 0))
        reason = str(exc).split(":")[0]
        cut_short = reason in ("no element found", "unclosed token", "unclosed CDATA section")
        if cut_short and line > 1 and line >= self._last_line() - 1:
            return ImportFailed(f"{self.path}: ends before the export is complete ({reason} at line "
                                f"{line}, column {column}): expected the whole file; was the download cut short?")
        if line <= 1 and column <= 1 and reason in ("syntax error", "not well-formed (invalid token)"):
            return ImportFailed(f"{self.path}: is not an XML file ({reason} at the very start): "
                                "expected a WordPress export, the .xml file from Tools → Export")
        return ImportFailed(f"{self.path}: is not well-formed XML ({reason} at line {line}, column "
                            f"{column}): expected a WordPress export as Tools → Export writes it")

    def _unsafe(self, exc: DefusedXmlException) -> ImportFailed:
        if isinstance(exc, EntitiesForbidden):
            what = f"declares the XML entity {exc.name!r}"
        elif isinstance(exc, ExternalReferenceForbidden):
            what = f"refers to an external resource ({exc.sysid or exc.pubid})"
        elif isinstance(exc, DTDForbidden):
            what = "has a document type declaration"
        else:
            what = f"uses an XML feature that is refused ({exc})"
        return ImportFailed(f"{self.path}: {what}, which a WordPress export never does; refused "
                            "without expanding it (expected the file exactly as Tools → Export wrote it)")

    # -- reading --

    def items(self, with_content: bool = True) -> Iterator[Item]:
        """Every <item>, in file order. With `with_content=False` the post
        body, excerpt and comments are skipped (a cheaper first pass)."""
        self.repairs = Repairs()
        try:
            with self.path.open("rb") as handle:
                yield from self._items(_CleanStream(handle, self.repairs), with_content)
        except ParseError as exc:
            raise self._parse_error(exc) from None
        except DefusedXmlException as exc:
            raise self._unsafe(exc) from None
        except OSError as exc:
            raise ImportFailed(f"{self.path}: cannot be read ({exc.strerror or exc})") from None

    def _items(self, stream, with_content: bool) -> Iterator[Item]:
        events = iterparse(stream, events=("start", "end"), forbid_dtd=False,
                           forbid_entities=True, forbid_external=True)
        depth = 0
        channel_element = None
        seen_root = False
        in_item = False
        for event, element in events:
            if event == "start":
                depth += 1
                name = short(element.tag)
                if not seen_root:
                    seen_root = True
                    if name != "rss":
                        raise self._not_wxr(f"the root element is <{name}>")
                elif depth == 2 and name == "channel":
                    channel_element = element
                elif depth == 3 and name == "item":
                    in_item = True
                    if not self.channel.version:
                        raise self._not_wxr("an <item> comes before any <wp:wxr_version>")
                continue
            depth -= 1
            name = short(element.tag)
            if depth == 2 and channel_element is not None and not in_item:
                self._channel_field(name, element)
                channel_element.remove(element)
            elif depth == 2 and name == "item":
                in_item = False
                yield self._item(element, with_content)
                element.clear()
                channel_element.remove(element)
            elif depth == 1 and name == "channel" and not self.channel.version:
                raise self._not_wxr("the channel has no <wp:wxr_version>")
        if channel_element is None:
            raise self._not_wxr("there is no <channel>")

    def _channel_field(self, name: str, element) -> None:
        channel = self.channel
        if name == "wp:wxr_version":
            version = _text(element).strip()
            if version not in SUPPORTED_VERSIONS:
                raise ImportFailed(f"{self.path}: wp:wxr_version is {version!r}: expected 1.1 or 1.2 "
                                   "(a WordPress export from WordPress 3.0 or later)")
            channel.version = version
        elif name == "title":
            channel.title = _text(element).strip()
        elif name == "link":
            channel.link = _text(element).strip()
        elif name == "wp:base_site_url":
            channel.base_site_url = _text(element).strip()
        elif name == "wp:base_blog_url":
            channel.base_blog_url = _text(element).strip()
        elif name == "wp:author":
            fields = {short(child.tag): _text(child).strip() for child in element}
            author = Author(fields.get("wp:author_id", ""), fields.get("wp:author_login", ""),
                            fields.get("wp:author_email", ""), fields.get("wp:author_display_name", ""))
            if author.login:
                channel.authors[author.login] = author
        elif name == "wp:category":
            fields = {short(child.tag): _text(child).strip() for child in element}
            slug = fields.get("wp:category_nicename", "")
            if slug:
                channel.categories[slug] = Term("category", slug, fields.get("wp:cat_name", slug),
                                                fields.get("wp:category_parent", ""))
        elif name == "wp:tag":
            fields = {short(child.tag): _text(child).strip() for child in element}
            slug = fields.get("wp:tag_slug", "")
            if slug:
                channel.tags[slug] = Term("post_tag", slug, fields.get("wp:tag_name", slug))

    def _item(self, element, with_content: bool) -> Item:
        item = Item()
        simple = {
            "title": "title", "link": "link", "guid": "guid", "dc:creator": "creator",
            "wp:post_id": "post_id", "wp:post_date": "post_date", "wp:post_date_gmt": "post_date_gmt",
            "wp:post_name": "post_name", "wp:status": "status", "wp:post_parent": "post_parent",
            "wp:menu_order": "menu_order", "wp:post_type": "post_type",
            "wp:attachment_url": "attachment_url", "wp:post_password": "password",
        }
        for child in element:
            name = short(child.tag)
            if name in simple:
                value = _text(child)
                setattr(item, simple[name], value if name == "title" else value.strip())
            elif name == "content:encoded":
                if with_content:
                    item.content = _text(child)
            elif name == "excerpt:encoded":
                item.excerpt = _text(child)
            elif name == "category":
                item.terms.append(Term(child.get("domain", "category"), child.get("nicename", ""),
                                       _text(child).strip()))
            elif name == "wp:postmeta":
                fields = {short(c.tag): _text(c) for c in child}
                key = fields.get("wp:meta_key", "")
                if key and key not in item.meta:
                    item.meta[key] = fields.get("wp:meta_value", "")
            elif name == "wp:comment" and with_content:
                fields = {short(c.tag): _text(c) for c in child}
                item.comments.append(Comment(
                    id=fields.get("wp:comment_id", "").strip(),
                    author=fields.get("wp:comment_author", ""),
                    author_email=fields.get("wp:comment_author_email", "").strip(),
                    author_url=fields.get("wp:comment_author_url", "").strip(),
                    date=fields.get("wp:comment_date", "").strip(),
                    date_gmt=fields.get("wp:comment_date_gmt", "").strip(),
                    content=fields.get("wp:comment_content", ""),
                    approved=fields.get("wp:comment_approved", "").strip(),
                    type=fields.get("wp:comment_type", "").strip(),
                    parent=fields.get("wp:comment_parent", "0").strip() or "0",
                    user_id=fields.get("wp:comment_user_id", "0").strip() or "0",
                ))
        return item

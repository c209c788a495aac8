"""A reader's reply as HTML: the one function the site build and the
receiver's preview share, so the preview shows exactly what the review page
will.

Replies are a Markdown subset: paragraphs, line breaks, links, emphasis,
inline code and quotes. Everything else a reader types shows as typed --
raw HTML, headings, lists, images and e-mail autolinks are switched off in
Markdown -- and nh3 then keeps only p, br, a (http/https ``href`` only, with
``rel="nofollow ugc"``), em, strong, code and blockquote, whatever Markdown
produced.
"""

from __future__ import annotations

import re
import threading

import markdown
import nh3

ALLOWED_TAGS = {"p", "br", "a", "em", "strong", "code", "blockquote"}
LINK_REL = "nofollow ugc"
# Parsers that would turn text into something replies do not have: raw HTML,
# headings, rules, lists, indented code blocks, images, mailto: links.
_BLOCK_OFF = ("code", "hashheader", "setextheader", "hr", "olist", "ulist")
_INLINE_OFF = ("html", "image_link", "image_reference", "short_image_ref", "automail")
_LINK_RE = re.compile(r"(?i)(?:\bhttps?://|\bwww\.)")
# A link whose address nh3 refused (javascript:, relative, data:) is left as its text.
_DEAD_LINK_RE = re.compile(r'<a rel="nofollow ugc">(.*?)</a>', re.DOTALL)
# Controls that would reorder or hide the text around the reply.
_INVISIBLE_CONTROLS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))
_INVISIBLE_CONTROLS.update(dict.fromkeys(c for c in range(0x20) if chr(c) not in "\n\t"))
_INVISIBLE_CONTROLS.update(dict.fromkeys(range(0x7F, 0xA0)))

_cleaner = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    clean_content_tags={"script", "style"},
    attributes={"a": {"href"}, "*": set()},  # "*": no title or lang anywhere
    url_schemes={"http", "https"},
    url_relative="deny",
    link_rel=LINK_REL,
    strip_comments=True,
)
_local = threading.local()  # a Markdown instance is not thread-safe


def _markdown() -> markdown.Markdown:
    md = getattr(_local, "md", None)
    if md is None:
        md = markdown.Markdown(extensions=["nl2br"], output_format="html")
        md.preprocessors.deregister("html_block")
        for name in _BLOCK_OFF:
            md.parser.blockprocessors.deregister(name)
        for name in _INLINE_OFF:
            md.inlinePatterns.deregister(name)
        _local.md = md
    return md


def render_reply(text: str) -> str:
    """The HTML of a reply's ``text``: sanitised, safe to print as markup."""
    if not text or not text.strip():
        return ""
    md = _markdown()
    md.reset()
    html = _cleaner.clean(md.convert(text.translate(_INVISIBLE_CONTROLS)))
    return _DEAD_LINK_RE.sub(r"\1", html).strip()


def link_count(text: str) -> int:
    """How many web addresses a reply holds, linked or not (the spam limit
    counts bare ones too)."""
    return len(_LINK_RE.findall(text or ""))

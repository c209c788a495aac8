"""How the moderation queue is shown to the writer in a terminal.

Everything in a response came from someone else, and a terminal obeys
control characters: a source URL with U+202E (right-to-left override) or the
C1 control U+009B (CSI) could rewrite what the moderator sees. ``terminal_text``
shows every control, format and separator character as an escape (``\\u202e``)
instead. ``mixed_script_words`` finds words that mix look-alike alphabets
(``Reеl`` with a Cyrillic ``е``), which the list flags as "mixed scripts".

The list works on the JSON form of a response (``queue.response_fields``),
which is what ``python -m linkbacks.cli list --json`` prints, so a queue
read over SSH is shown exactly like a local one.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from reelnotes.contract import clean_display_text

# Scripts whose letters pass for one another; a word mixing two of them is a
# look-alike more often than a real word. (Other mixes -- Japanese kana with
# kanji, Latin with CJK -- are ordinary writing.)
LOOK_ALIKE_SCRIPTS = frozenset(("LATIN", "CYRILLIC", "GREEK", "ARMENIAN", "CHEROKEE", "COPTIC", "MATHEMATICAL",
                                "FULLWIDTH", "LISU", "DESERET", "OLD ITALIC"))
_WORD = re.compile(r"\w+")


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def terminal_text(value: object, limit: int | None = None) -> str:
    """``value`` on one line, safe to print: tabs and line breaks become
    spaces, every other control, format (bidi, zero-width), separator,
    surrogate or private-use character is shown escaped; markup is stripped
    as on the site. Cut to ``limit`` characters."""
    text = "".join(
        " " if ch in "\t\n\r" else _escape(ch) if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp")
        else ch
        for ch in str(value if value is not None else "")
    )
    return clean_display_text(text, limit)


def _script(ch: str) -> str | None:
    name = unicodedata.name(ch, "")
    for prefix in ("FULLWIDTH", "MATHEMATICAL", "OLD ITALIC"):
        if name.startswith(prefix):
            return prefix
    return name.split(" ", 1)[0] if name else None


def mixed_script_words(text: str) -> list[str]:
    """The words of ``text`` whose letters come from two or more look-alike
    scripts, e.g. ``["Reеl", "Nоtes"]`` for "Reеl Nоtes" spelt with Cyrillic
    е and о."""
    found = []
    for word in _WORD.findall(text or ""):
        scripts = {_script(ch) for ch in word if unicodedata.category(ch).startswith("L")}
        if len(scripts & LOOK_ALIKE_SCRIPTS) > 1:
            found.append(word)
    return found


def warnings(response: Mapping[str, Any]) -> list[str]:
    """What deserves a second look in a response, e.g. 'mixed scripts in the
    title: "Reеl"'."""
    found = []
    for field in ("title", "author", "source", "website"):
        words = mixed_script_words(str(response.get(field) or ""))
        if words:
            shown = ", ".join(f'"{terminal_text(word)}"' for word in words[:3])
            found.append(f"mixed scripts in the {field}: {shown}")
    return found


def kind_label(response: Mapping[str, Any]) -> str:
    kind = str(response.get("kind", ""))
    return f"webmention/{response.get('type')}" if kind == "webmention" else kind


def _reply_lines(response: Mapping[str, Any], author: str) -> list[str]:
    """Who left a reply: the name and website they gave, what it answers,
    whether it is the writer's own and whether a notice is promised (the
    address itself is never in the queue's data)."""
    website = terminal_text(response.get("website") or response.get("source"), 300)
    lines = [f"       name:    {author or '(no name)'}", f"       website: {website or '(none)'}"]
    if response.get("parent_id"):
        lines.append(f"       answers: #{terminal_text(response.get('parent_id'))}")
    if response.get("by_author"):
        lines.append("       by:      the author")
    if response.get("has_email") and response.get("status") == "pending":
        lines.append("       notice:  the reader gets one e-mail when it is approved")
    return lines


def format_response(response: Mapping[str, Any]) -> str:
    """One response as a block of lines: a heading with its number, status,
    kind, review and date, then where it came from (a reply: the reader's
    name and website), what it says, why it is held and anything that looks
    wrong."""
    title = terminal_text(response.get("title"), 80)
    author = terminal_text(response.get("author"), 40)
    heading = (f"#{response.get('id', '?'):<5} {terminal_text(response.get('status')):<8} "
               f"{terminal_text(kind_label(response)):<19} {terminal_text(response.get('review')):<28} "
               f"{terminal_text(response.get('received'))}")
    lines = [heading]
    if response.get("kind") == "reply":
        lines += _reply_lines(response, author)
    else:
        source = response.get("source") or response.get("website") or ""
        lines.append(f"       from:    {terminal_text(source) or '(no website)'}"
                     + (f"  by {author}" if author else ""))
    if title:
        lines.append(f"       title:   \"{title}\"")
    excerpt = terminal_text(response.get("excerpt") or response.get("text"), 280)
    if excerpt:
        lines.append(f"       excerpt: {excerpt}")
    held = terminal_text(response.get("held_reason"))
    if response.get("status") == "pending" and held:
        lines.append(f"       held:    {held}")
    for warning in warnings(response):
        lines.append(f"       warning: {warning}")
    return "\n".join(lines)

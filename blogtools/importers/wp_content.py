"""WordPress post bodies (and comments) to Markdown a writer would have typed.

WordPress stores what the editor produced, not what readers saw: classic
posts have no <p> (`wpautop` adds them on display), shortcodes such as
[caption] and [gallery] are expanded on display, the block editor wraps every
block in <!-- wp:... --> comments, and <!--more--> marks the summary break.
`convert_post` undoes all of that before handing the HTML to markdownify:

1. Gutenberg: embed blocks become links, dynamic blocks (latest posts and the
   like, which have no content of their own) are dropped and noted, the block
   comments go;
2. <!--more--> becomes a marker that survives to the Markdown, where it is
   written as `<!-- more -->`;
3. shortcodes: [caption] → <figure> with <figcaption>, [gallery] → the
   gallery's images, [embed]/[youtube]/[vimeo]/[audio]/[video] and bare media
   URLs on a line of their own → a link; other enclosing shortcodes are
   unwrapped and noted;
4. wpautop (classic posts only): paragraphs and line breaks restored;
5. images and links: each <img> asks `PostContext.image_src` where its copy
   lives ({static}/images/...), each link to another imported post asks
   `PostContext.link_href` ({filename}/reviews/...); scripts, iframes and
   forms go (an iframe's address stays as a link);
6. markdownify, with text escaped only where Markdown would misread it.

Typography (curly quotes, „…”, dashes, ellipses, non-breaking spaces) passes
through untouched. `user_markdown` is the strict variant for other people's
text (comments, Letterboxd reviews): paragraphs, links and emphasis only,
and nothing a Markdown renderer could turn into raw HTML.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

from bs4 import BeautifulSoup, Comment, NavigableString, Tag
from markdownify import ATX, MarkdownConverter

MORE = "\ue000more\ue000"  # private-use characters: never in a real post
MORE_MARKDOWN = "<!-- more -->"
BLOCK_TAGS = (
    "table|thead|tfoot|caption|col|colgroup|tbody|tr|td|th|div|dl|dd|dt|ul|ol|li|pre|form|map|area|"
    "blockquote|address|math|style|p|h[1-6]|hr|fieldset|legend|section|article|aside|hgroup|header|"
    "footer|nav|figure|figcaption|details|menu|summary|iframe|video|audio|object|embed|noscript"
)
_BLOCK_OPEN = re.compile(rf"(<(?:{BLOCK_TAGS})(?=[\s/>])[^>]*>)", re.I)
_BLOCK_CLOSE = re.compile(rf"(</(?:{BLOCK_TAGS})>)", re.I)
_STARTS_WITH_BLOCK = re.compile(rf"^</?(?:{BLOCK_TAGS})(?=[\s/>])", re.I)
_PRE = re.compile(r"<pre\b.*?</pre>", re.I | re.S)
_PROTECTED = re.compile("\ue001(\\d+)\ue001")
_DROPPED_ELEMENTS = ("script", "style", "noscript", "form", "input", "button", "select", "textarea",
                     "object", "embed", "template", "svg", "math", "link", "meta")
MEDIA_HOSTS = ("youtube.com", "youtu.be", "vimeo.com", "dailymotion.com", "soundcloud.com",
               "spotify.com", "twitter.com", "x.com", "instagram.com", "flickr.com", "ted.com",
               "tiktok.com", "archive.org", "bandcamp.com", "mixcloud.com")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".bmp", ".svg")


class PostContext(Protocol):
    """What the conversion needs to know about the rest of the import."""

    def image_src(self, url: str) -> str | None:
        """The new address of an image (e.g. {static}/images/2013/12/x.jpg), or None to keep `url`."""

    def link_href(self, url: str) -> str | None:
        """The new address of a link to another imported post or page, or None to keep `url`."""

    def gallery(self, ids: list[str] | None) -> list[tuple[str, str, str]]:
        """(url, alt, caption) for the attachment ids of a [gallery] (None: the post's own images)."""


@dataclass
class Converted:
    markdown: str
    notes: list[str] = field(default_factory=list)  # for the report: what was changed or dropped
    image_urls: list[str] = field(default_factory=list)  # every <img> source, in order, as in the post
    has_more: bool = False
    teaser: str = ""  # plain text before <!--more-->


# --- wpautop -----------------------------------------------------------------------


def wpautop(text: str, line_breaks: bool = True) -> str:
    """Paragraphs for text written with blank lines between them, as WordPress
    shows classic posts and comments: each run of text between blank lines
    that is not already a block element becomes a <p>; single newlines inside
    become <br> (unless `line_breaks` is false). <pre> is left as it is."""
    if not text.strip():
        return ""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    kept: list[str] = []

    def protect(match):
        kept.append(match.group(0))
        return f"\n\n\ue001{len(kept) - 1}\ue001\n\n"

    text = _PRE.sub(protect, text)
    text = re.sub(r"<br\s*/?>\s*<br\s*/?>", "\n\n", text, flags=re.I)
    text = _BLOCK_OPEN.sub(r"\n\n\1", text)
    text = _BLOCK_CLOSE.sub(r"\1\n\n", text)
    chunks = []
    for chunk in re.split(r"\n\s*\n", text):
        chunk = chunk.strip()
        if not chunk:
            continue
        if _STARTS_WITH_BLOCK.match(chunk) or _PROTECTED.fullmatch(chunk):
            chunks.append(chunk)
            continue
        if line_breaks:
            chunk = re.sub(r"(?<!<br>)(?<!<br/>)(?<!<br />)\s*\n\s*", "<br />\n", chunk)
        chunks.append(f"<p>{chunk}</p>")
    joined = "\n".join(chunks)
    return _PROTECTED.sub(lambda m: kept[int(m.group(1))], joined)


# --- shortcodes -------------------------------------------------------------------------

_ATTRIBUTE = re.compile(r"""([\w-]+)\s*=\s*"([^"]*)"|([\w-]+)\s*=\s*'([^']*)'|([\w-]+)\s*=\s*([^\s'"]+)|"([^"]*)"|'([^']*)'|(\S+)""")


def shortcode_attributes(text: str) -> tuple[dict[str, str], list[str]]:
    """Named and positional attributes of a shortcode, as WordPress reads them."""
    named, positional = {}, []
    for match in _ATTRIBUTE.finditer(html.unescape(text.strip())):
        if match[1]:
            named[match[1].lower()] = match[2]
        elif match[3]:
            named[match[3].lower()] = match[4]
        elif match[5]:
            named[match[5].lower()] = match[6]
        else:
            positional.append(next(g for g in match.groups()[6:] if g is not None))
    return named, positional


def _escape(value: str) -> str:
    """For an attribute in double quotes; apostrophes stay readable."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def embed_paragraph(url: str) -> str:
    """An embed, as a writer would keep it in Markdown: the address as a link."""
    url = html.unescape(url.strip())
    return f'\n\n<p><a href="{_escape(url)}">{_escape(url)}</a></p>\n\n'


def _figure(image_html: str, caption_html: str) -> str:
    caption = f"<figcaption>{caption_html.strip()}</figcaption>" if caption_html.strip() else ""
    return f"\n\n<figure>{image_html.strip()}{caption}</figure>\n\n"


class _Shortcodes:
    ENCLOSING = ("caption", "wp_caption", "embed", "video", "audio")

    def __init__(self, context: PostContext, notes: list[str]):
        self.context = context
        self.notes = notes

    def caption(self, attributes: str, inner: str) -> str:
        named, _ = shortcode_attributes(attributes)
        image = re.search(r"(?:<a\b[^>]*>\s*)?<img\b[^>]*>(?:\s*</a>)?", inner, re.I | re.S)
        if not image:
            return inner
        caption = (inner[:image.start()] + inner[image.end():]).strip() or named.get("caption", "")
        return _figure(image.group(0), caption)

    def gallery(self, attributes: str) -> str:
        named, _ = shortcode_attributes(attributes)
        ids = [part.strip() for part in (named.get("ids") or named.get("include") or "").split(",") if part.strip()]
        images = self.context.gallery(ids or None)
        if not images:
            self.notes.append(f"[gallery {attributes.strip()}] has no images in the export: dropped")
            return ""
        figures = []
        for url, alt, caption in images:
            image = f'<img src="{_escape(url)}" alt="{_escape(alt)}">'
            figures.append(_figure(image, _escape(caption)) if caption else f"\n\n<p>{image}</p>\n\n")
        return "".join(figures)

    def media(self, name: str, attributes: str, inner: str = "") -> str:
        named, positional = shortcode_attributes(attributes)
        url = inner.strip() or named.get("src") or named.get("url") or named.get("mp4") or \
            named.get("mp3") or named.get("ogg") or named.get("m4a") or named.get("webm") or \
            (positional[0].lstrip("=") if positional else "")
        url = re.sub(r"<[^>]+>", "", url).strip()
        if not url.startswith(("http://", "https://")):
            self.notes.append(f"[{name}] without an address: dropped")
            return ""
        self.notes.append(f"[{name}] kept as a link to {url}")
        return embed_paragraph(url)

    def expand(self, text: str) -> str:
        def enclosing(match):
            name, attributes, inner = match[2].lower(), match[3], match[4]
            if match[1] == "[" and match[5] == "]":  # [[caption]...[/caption]]: written out literally
                return match.group(0)[1:-1]
            if name in ("caption", "wp_caption"):
                return self.caption(attributes, inner)
            return self.media(name, attributes, inner)

        names = "|".join(self.ENCLOSING)
        text = re.sub(rf"(\[?)\[({names})\b([^\]]*)\](.*?)\[/\2\](\]?)", enclosing, text, flags=re.I | re.S)

        def standalone(match):
            if match[1] == "[" and match[5] == "]":
                return match.group(0)[1:-1]
            name = match[2].lower()
            if name == "gallery":
                return self.gallery(match[4] or "")
            # [youtube=URL] (Jetpack's form) or [youtube URL] / [video src="..."]
            return self.media(name, match[3] if match[3] is not None else (match[4] or ""))

        text = re.sub(r"(\[?)\[(gallery|youtube|vimeo|video|audio|embed|playlist)(?:=([^\]]*)|(\s[^\]]*)?)\](\]?)",
                      standalone, text, flags=re.I)

        def unknown(match):
            self.notes.append(f"unknown shortcode [{match[1]}] removed, its text kept")
            return match[3]

        text = re.sub(r"(?<!\[)\[([a-z][\w-]*)\b([^\]]*)\](.*?)\[/\1\](?!\])", unknown, text, flags=re.I | re.S)
        # [[name]] is how WordPress writers show a shortcode as text.
        return re.sub(r"\[(\[[a-z][\w-]*\b[^\]]*\])\]", r"\1", text, flags=re.I)


# --- Gutenberg ----------------------------------------------------------------------------

_JSON = r"\{(?:(?!-->).)*?\}"  # a block's attributes: never past the end of its comment
_EMBED_BLOCK = re.compile(rf"<!--\s*wp:(?:core-)?embed(?:/[\w-]+)?\s*({_JSON})?\s*-->(.*?)<!--\s*/wp:(?:core-)?embed(?:/[\w-]+)?\s*-->",
                          re.S)
_DYNAMIC_BLOCK = re.compile(rf"<!--\s*wp:([\w/-]+)\s*({_JSON})?\s*/-->", re.S)
_BLOCK_COMMENT = re.compile(rf"<!--\s*/?wp:[\w/-]+(?:\s*{_JSON})?\s*/?-->", re.S)


def _gutenberg(text: str, notes: list[str]) -> str:
    def embed(match):
        try:
            url = json.loads(match[1] or "{}").get("url", "")
        except ValueError:
            url = ""
        if not url:
            found = re.search(r"https?://[^\s<\"]+", match[2])
            url = found.group(0) if found else ""
        if not url:
            notes.append("an embed block without an address: dropped")
            return ""
        notes.append(f"embed block kept as a link to {url}")
        caption = re.search(r"<figcaption[^>]*>(.*?)</figcaption>", match[2], re.S)
        paragraph = embed_paragraph(url)
        return paragraph + (f"<p>{caption[1]}</p>\n\n" if caption and caption[1].strip() else "")

    text = _EMBED_BLOCK.sub(embed, text)

    def dynamic(match):
        if match[1] not in ("more", "nextpage", "separator", "spacer"):
            notes.append(f"dynamic block wp:{match[1]} has no stored content: dropped")
        return ""

    text = _DYNAMIC_BLOCK.sub(dynamic, text)
    return _BLOCK_COMMENT.sub("", text)


# --- Markdown --------------------------------------------------------------------------------

_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")


class _Markdown(MarkdownConverter):
    """markdownify with two changes: text that Markdown would read as HTML
    ("<b", "&amp;") is escaped, and <figure> stays a figure."""

    def __init__(self, strict: bool = False, **options):
        options.setdefault("heading_style", ATX)
        options.setdefault("bullets", "-")
        options.setdefault("escape_underscores", False)
        super().__init__(**options)
        self.strict = strict

    def escape(self, text, parent_tags):
        text = super().escape(text, parent_tags)
        text = _ENTITY.sub("&amp;", text)
        text = _TAG_START.sub("&lt;", text)
        if self.strict:
            # Other people's text: "[x](javascript:...)" typed as text must stay text.
            text = text.replace("[", "\\[").replace("]", "\\]").replace("`", "\\`")
        return text

    def convert_figure(self, el, text, parent_tags):
        images = el.find_all("img")
        caption = el.find("figcaption")
        caption_html = _inline_html(caption) if caption else ""
        if len(images) != 1:
            parts = [self.convert_img(img, "", set()) for img in images]
            if caption_html:
                parts.append(f"*{self.process_tag(caption, set()).strip()}*")
            return "\n\n" + "\n\n".join(p for p in parts if p) + "\n\n"
        image = images[0]
        attributes = f'src="{_escape(image.get("src", ""))}" alt="{_escape(image.get("alt", ""))}"'
        inner = f"\n  <img {attributes}>" + (f"\n  <figcaption>{caption_html}</figcaption>" if caption_html else "")
        return f"\n\n<figure>{inner}\n</figure>\n\n"


def _inline_html(element: Tag) -> str:
    """The inline content of a caption as safe HTML: links, emphasis, text."""
    fragment = BeautifulSoup(element.decode_contents(), "html.parser")
    _sanitise(fragment, allowed={"a", "em", "strong", "i", "b", "br"})
    return " ".join(fragment.decode().split())


def _sanitise(soup: BeautifulSoup, allowed: set[str]) -> None:
    """Keep only `allowed` tags (their text stays), only http(s) hrefs, no other attributes."""
    for comment in soup.find_all(string=lambda s: isinstance(s, Comment)):
        comment.extract()
    for element in soup.find_all(True):
        if element.name in _DROPPED_ELEMENTS or element.name == "iframe":
            element.decompose()
    for element in soup.find_all(True):
        if element.name not in allowed:
            element.unwrap()
            continue
        if element.name == "a":
            href = (element.get("href") or "").strip()
            element.attrs = {}
            if href.lower().startswith(("http://", "https://")):
                element["href"] = href
            else:
                element.unwrap()
        else:
            element.attrs = {}


def _tidy(markdown: str) -> str:
    lines = [line.rstrip() if not line.endswith("  ") else line.rstrip() + "  " for line in markdown.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    return text


_BREAKS = ("p", "br", "li", "div", "blockquote", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "pre")


def _plain(html_text: str, skip=("figure", "script", "style")) -> str:
    """One line of text: a space where blocks meet, none around inline tags."""
    soup = BeautifulSoup(html_text, "html.parser")
    for element in soup.find_all(skip):
        element.decompose()
    for element in soup.find_all(_BREAKS):
        element.insert_before(" ")
        element.insert_after(" ")
    return " ".join(soup.get_text("").replace("\xa0", " ").split())


# --- posts -------------------------------------------------------------------------------------


def _media_line(match) -> str:
    url = match.group(1)
    host = (urlsplit(url).hostname or "").lower()
    if any(host == h or host.endswith("." + h) for h in MEDIA_HOSTS):
        return embed_paragraph(url)
    return match.group(0)


def _is_image_link(href: str) -> bool:
    path = urlsplit(href).path.lower()
    return path.endswith(IMAGE_SUFFIXES) or "attachment_id=" in href or "/attachment/" in path


def convert_post(raw: str, context: PostContext) -> Converted:
    """A post's stored body as Markdown, with notes on everything changed or dropped."""
    notes: list[str] = []
    text = (raw or "").replace("\r\n", "\n").replace("\r", "\n")
    has_blocks = "<!-- wp:" in text
    if has_blocks:
        text = _gutenberg(text, notes)
    has_more = bool(re.search(r"<!--\s*more\b.*?-->", text, re.S))
    text = re.sub(r"<!--\s*more\b.*?-->", f"\n\n{MORE}\n\n", text, count=1, flags=re.S)
    text = re.sub(r"<!--\s*more\b.*?-->", "", text, flags=re.S)
    if re.search(r"<!--\s*nextpage\s*-->", text):
        notes.append("<!--nextpage--> page breaks removed: the review is one page")
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = _Shortcodes(context, notes).expand(text)
    if not has_blocks:
        text = re.sub(r"^[ \t]*(https?://[^\s<>\"]+)[ \t]*$", _media_line, text, flags=re.M)
        text = wpautop(text)
    soup = BeautifulSoup(text, "html.parser")
    image_urls = _rewrite(soup, context, notes)
    body_html = soup.decode()
    teaser = _plain(body_html.split(MORE, 1)[0]) if has_more else ""
    markdown = _Markdown().convert_soup(soup)
    markdown = _tidy(markdown)
    markdown = re.sub(rf"\s*^\s*{MORE}\s*$\s*", f"\n\n{MORE_MARKDOWN}\n\n", markdown, count=1, flags=re.M)
    markdown = markdown.replace(MORE, "").strip()
    return Converted(markdown, notes, image_urls, has_more, teaser)


def _rewrite(soup: BeautifulSoup, context: PostContext, notes: list[str]) -> list[str]:
    """Images to their copies, links to their new pages, unsafe elements out."""
    for element in soup.find_all(_DROPPED_ELEMENTS):
        element.decompose()
    for frame in soup.find_all("iframe"):
        src = (frame.get("src") or "").strip()
        if src.startswith("//"):
            src = "https:" + src
        if src.startswith(("http://", "https://")):
            notes.append(f"embedded frame kept as a link to {src}")
            frame.replace_with(BeautifulSoup(embed_paragraph(src), "html.parser"))
        else:
            frame.decompose()
    image_urls = []
    for image in soup.find_all("img"):
        src = (image.get("src") or "").strip()
        if not src:
            image.decompose()
            continue
        image_urls.append(src)
        new = context.image_src(src)
        keep = {"src": new or src, "alt": image.get("alt", "")}
        if image.get("title"):
            keep["title"] = image["title"]
        image.attrs = keep
        parent = image.parent
        if (parent is not None and parent.name == "a" and _is_image_link(parent.get("href", ""))
                and len([c for c in parent.contents if not (isinstance(c, NavigableString) and not c.strip())]) == 1):
            parent.replace_with(image)
    for link in soup.find_all("a"):
        href = (link.get("href") or "").strip()
        title = link.get("title")
        new = context.link_href(href) if href else None
        link.attrs = {"href": new or href} if href else {}
        if title:
            link["title"] = title
        if not href:
            link.unwrap()
    for element in soup.find_all(["span", "font", "div", "section", "article", "center"]):
        element.unwrap()
    return image_urls


# --- other people's text -----------------------------------------------------------------------


def user_markdown(raw: str, *, blockquotes: bool = False, strict: bool = True) -> str:
    """Text from outside (a comment, a Letterboxd review) as Markdown with
    paragraphs, links and emphasis only (and quotes, if `blockquotes`):
    every other tag is dropped with its text kept, links are http(s) only,
    and nothing in it can be read as raw HTML. `strict` (for other people's
    text) also keeps typed Markdown link syntax from becoming a link."""
    text = wpautop((raw or "").strip())
    soup = BeautifulSoup(text, "html.parser")
    allowed = {"p", "br", "a", "em", "strong", "i", "b"} | ({"blockquote"} if blockquotes else set())
    _sanitise(soup, allowed)
    markdown = _tidy(_Markdown(strict=strict, autolinks=not strict).convert_soup(soup))
    return re.sub(r"(?<=\S) {2,}(?=\S)", " ", markdown)  # where a dropped tag stood


def plain_excerpt(raw: str) -> str:
    """Text someone else wrote as one line of plain text (tags dropped, entities decoded)."""
    return _plain(wpautop(raw or ""))

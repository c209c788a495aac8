"""Atom and RSS feeds of the reviews: the whole site's and one per genre; and
each review's responses feed (Atom), as WordPress had comment feeds.

Owns what a feed entry is: the title "Her (2013) ★★★★½", the poster at the top
of the content and as an enclosure (with the real byte size of the file), the
whole review with every URL made absolute, and a permalink guid that says it is
one. Pelican still decides *which* feeds exist from its FEED_* settings;
`ReviewFeedWriter` (handed to Pelican through `get_writer`) decides what they
contain, and `write_genre_feeds` adds the per-genre feeds with the same writer.
`write_responses_feeds` writes one feed per review of its approved responses
(FILMREVIEWS_RESPONSES_FEED), newest first: a reply's rendered text, a
linkback's excerpt and source.
"""

from __future__ import annotations

import html
import logging
import mimetypes
import re
from pathlib import Path
from urllib.parse import urljoin

from feedgenerator import Atom1Feed, Enclosure, Rss201rev2Feed
from pelican.plugins import signals
from pelican.settings import DEFAULT_CONFIG
from pelican.utils import sanitised_join, set_date_tzinfo, slugify

from reelnotes.settings import setting

from .output import KeepUnchangedWriter, is_list_writer
from .problems import report_settings
from .review import text_of_html
from .structured_data import absolute_url, site_root

logger = logging.getLogger(__name__)


# An opening tag, and the attributes in it that hold URLs.
TAG_RE = re.compile(r"<[a-zA-Z][^>]*>")
URL_ATTRIBUTE_RE = re.compile(
    r"""(?P<before>\s(?P<name>href|src|srcset|poster)\s*=\s*)(?P<quote>["'])(?P<value>.*?)(?P=quote)""",
    re.IGNORECASE | re.DOTALL,
)


# --- What goes into one entry ---------------------------------------------------------

def entry_title(item) -> str:
    """Plain text: "Her (2013) ★★★★½" for a review, the plain title otherwise."""
    review = getattr(item, "review", None)
    if review is None:
        return text_of_html(item.title)
    film = f"{review.movie} ({review.year})" if review.year else review.movie
    return f"{film} {review.stars}".strip()


def _absolute_srcset(value: str, base: str) -> str:
    candidates = []
    for candidate in value.split(","):
        parts = candidate.strip().split(None, 1)
        if parts:
            parts[0] = urljoin(base, parts[0])
            candidates.append(" ".join(parts))
    return ", ".join(candidates)


def absolutize_urls(markup: str, base: str) -> str:
    """Every href/src/srcset/poster in `markup` resolved against `base` (the entry's URL).

    Feed readers show entries away from the site, where a relative link has
    nothing to be relative to.
    """
    def fix_attribute(match: re.Match) -> str:
        value = html.unescape(match["value"]).strip()
        if match["name"].lower() == "srcset":
            value = _absolute_srcset(value, base)
        else:
            value = urljoin(base, value)
        quote = match["quote"]
        return f"{match['before']}{quote}{html.escape(value, quote=True)}{quote}"

    return TAG_RE.sub(lambda tag: URL_ATTRIBUTE_RE.sub(fix_attribute, tag.group(0)), markup)


def poster_markup(item, settings) -> str:
    """The poster as an <img> with an absolute URL, for the top of an entry.

    Nothing when the posters module refused the source file: a broken image
    at the top of an entry is worse than none.
    """
    poster = getattr(item, "poster", None)
    if poster is None or not poster.largest_jpeg_url:
        return ""
    src = absolute_url(settings, poster.largest_jpeg_url)
    alt = poster.alt or item.review.poster_alt
    return (f'<p><img src="{html.escape(src, quote=True)}" alt="{html.escape(alt, quote=True)}"'
            f' width="{poster.width}" height="{poster.height}"></p>')


def rating_markup(review) -> str:
    if review.rating is None:
        return ""
    return f"<p>Rating: {html.escape(review.rating_label)}</p>"


def poster_enclosure(item, settings) -> Enclosure | None:
    """The source poster as an enclosure, when the posters module accepted it.

    The source file is what Pelican copies, byte for byte, to the same path in
    the output, so its size here is the size readers download; derivatives may
    not exist yet when the feeds are written. A refused source (corrupt, not
    an image, too large) is still copied, but is nothing a reader can show.
    """
    review = item.review
    if getattr(item, "poster", None) is None or not review.poster:
        return None
    path = Path(settings["PATH"]) / review.poster
    try:
        length = path.stat().st_size
    except OSError:  # the review's poster problem is already reported
        return None
    mime_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return Enclosure(absolute_url(settings, review.poster), str(length), mime_type)


def _categories(item) -> list[str]:
    """Genres then tags, each once."""
    names = list(getattr(getattr(item, "review", None), "genres", ()))
    names += [text_of_html(tag) for tag in getattr(item, "tags", [])]
    seen, unique = set(), []
    for name in names:
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            unique.append(name)
    return unique


def entry_body(item, settings, link: str) -> str:
    """The whole review with absolute URLs; worked out once per build, however many
    feeds (the site's, each of its genres', Atom and RSS) carry the entry."""
    root = site_root(settings)
    bodies = item.__dict__.setdefault("_feed_bodies", {})
    if (root, link) not in bodies:
        bodies[(root, link)] = absolutize_urls(item.get_content(root), link)
    return bodies[(root, link)]


def add_entry(feed, item, settings) -> None:
    """One article as one feed entry."""
    link = absolute_url(settings, item.url)
    body = entry_body(item, settings, link)
    summary = html.escape(getattr(item, "plain_summary", "") or text_of_html(item.summary))
    review = getattr(item, "review", None)
    top = poster_markup(item, settings) + rating_markup(review) if review is not None else ""
    enclosure = poster_enclosure(item, settings) if review is not None else None

    if isinstance(feed, Rss201rev2Feed):
        # RSS has one element for both the whole entry and its summary.
        text = f"<p>{summary}</p>" if settings.get("RSS_FEED_SUMMARY_ONLY") else body
        description, content = top + text, None
    else:
        description, content = summary or None, top + body

    timezone = settings.get("TIMEZONE")
    modified = getattr(item, "modified", None)
    author = text_of_html(getattr(getattr(item, "author", None), "name", "")
                        or settings.get("AUTHOR") or "")
    feed.add_item(
        title=entry_title(item),
        link=link + "?ref=feed" if settings.get("FEED_APPEND_REF") else link,
        # The permalink is the entry's identity, and the RSS guid says so
        # (Pelican's default, a tag: URI, is not a permalink but claims to be).
        unique_id=link,
        unique_id_is_permalink=True,
        description=description,
        content=content,
        categories=_categories(item) or None,
        author_name=author or None,
        pubdate=set_date_tzinfo(item.date, timezone),
        updateddate=set_date_tzinfo(modified, timezone) if modified else None,
        enclosures=[enclosure] if enclosure else None,
    )


def build_feed(items, settings, *, feed_type: str, feed_url: str, title: str | None = None):
    """A feedgenerator feed of `items` (newest first), not yet written."""
    feed_class = Rss201rev2Feed if feed_type == "rss" else Atom1Feed
    sitename = text_of_html(settings.get("SITENAME", ""))
    feed = feed_class(
        title=f"{sitename}: {title}" if title else sitename,
        link=site_root(settings) + "/",
        feed_url=feed_url,
        # Each feed is its own Atom feed, so each needs its own id.
        feed_guid=feed_url,
        description=text_of_html(settings.get("SITESUBTITLE", "")) or sitename,
        subtitle=text_of_html(settings.get("SITESUBTITLE", "")) or None,
        language=settings.get("DEFAULT_LANG") or None,
        author_name=text_of_html(settings.get("AUTHOR", "")) or None,
    )
    for item in list(items)[: settings.get("FEED_MAX_ITEMS")]:
        add_entry(feed, item, settings)
    return feed


def feed_url_for(settings, url: str) -> str:
    """The public URL of a feed file, for its rel="self" link."""
    domain = (settings.get("FEED_DOMAIN") or site_root(settings)).rstrip("/")
    return f"{domain}/{url.lstrip('/')}"


# --- Writing -----------------------------------------------------------------------------

class ReviewFeedWriter(KeepUnchangedWriter):
    """Pelican's writer, except that feeds are built by this module (and unchanged
    files are left alone, see output.py)."""

    def write_feed(self, elements, context, path=None, url=None, feed_type="atom",
                   override_output=False, feed_title=None):
        if is_list_writer():
            return None  # the build writes the feeds (output.py)
        feed = build_feed(elements, self.settings, feed_type=feed_type,
                          feed_url=feed_url_for(self.settings, url or path or ""),
                          title=feed_title)
        signals.feed_generated.send(context, feed=feed)
        if path:
            self.write_built_feed(feed, context, path, override_output)
        return feed

    def write_built_feed(self, feed, context, path, override_output=False) -> None:
        """Write a feed this module built to `path` in the output."""
        complete_path = sanitised_join(self.output_path, path)
        Path(complete_path).parent.mkdir(parents=True, exist_ok=True)
        with self._open_w(complete_path, "utf-8", override_output) as fp:
            feed.write(fp, "utf-8")
        logger.info('Writing "%s"', complete_path)
        signals.feed_written.send(complete_path, context=context, feed=feed)


def provide_writer(pelican):
    """get_writer: Pelican writes every page and feed with ReviewFeedWriter."""
    return ReviewFeedWriter


def genres_with_reviews(articles, settings) -> dict[str, tuple[str, list]]:
    """{slug: (genre name, reviews newest first)}, slugged the way browse pages are."""
    regex_subs = settings.get("SLUG_REGEX_SUBSTITUTIONS", DEFAULT_CONFIG["SLUG_REGEX_SUBSTITUTIONS"])
    use_unicode = settings.get("SLUGIFY_USE_UNICODE", False)
    genres: dict[str, tuple[str, list]] = {}
    for article in articles:
        review = getattr(article, "review", None)
        for genre in review.genres if review else ():
            slug = slugify(genre, regex_subs=regex_subs, use_unicode=use_unicode)
            if slug:
                genres.setdefault(slug, (genre, []))[1].append(article)
    return genres


def write_genre_feeds(generator, writer) -> None:
    """article_writer_finalized: one Atom and one RSS feed per genre."""
    settings = generator.settings
    problems = []
    patterns = {
        "atom": setting(settings, "FILMREVIEWS_GENRE_FEED_ATOM", problems),
        "rss": setting(settings, "FILMREVIEWS_GENRE_FEED_RSS", problems),
    }
    # A bad pattern is reported and that kind of genre feed left out, rather
    # than guessing where the writer wanted it.
    bad = {problem.name for problem in problems}
    report_settings(problems, "Feed setting")
    patterns = {kind: pattern for kind, pattern in patterns.items()
                if pattern and f"FILMREVIEWS_GENRE_FEED_{kind.upper()}" not in bad}
    if not patterns:
        return
    for slug, (genre, articles) in sorted(genres_with_reviews(generator.articles, settings).items()):
        for feed_type, pattern in patterns.items():
            path = pattern.format(slug=slug)
            writer.write_feed(articles, generator.context, path, path,
                              feed_type=feed_type, feed_title=f"{genre} reviews")


# --- Responses feeds ---------------------------------------------------------------------

class ResponsesFeed(Atom1Feed):
    """An Atom feed whose <updated> is its newest response, or the review's
    date while it has none (never "now": an unchanged feed stays unchanged)."""

    def __init__(self, *args, fallback_date=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fallback_date = fallback_date

    def latest_post_date(self):
        dates = [item[key] for item in self.items for key in ("updateddate", "pubdate") if item.get(key)]
        return max(dates) if dates else self.fallback_date


def response_entry_title(record) -> str:
    if record.is_reply:
        return f"Reply by {record.display_title}" + (" (the author)" if record.by_author else "")
    return f"{record.label}: {record.display_title}"


def response_entry_content(response) -> str:
    """A reply's rendered text; a linkback's excerpt and a link to its source."""
    record = response.record
    if record.is_reply:
        return str(response.body)
    parts = [f"<p>{html.escape(record.excerpt)}</p>"] if record.excerpt else []
    if record.link:
        parts.append(f'<p><a href="{html.escape(record.link, quote=True)}">{html.escape(record.display_title)}</a></p>')
    return "".join(parts)


def build_responses_feed(article, settings):
    """One review's responses feed, newest first (replies included)."""
    link = absolute_url(settings, article.url)
    review = getattr(article, "review", None)
    film = f"{review.movie} ({review.year})" if review is not None and review.year else entry_title(article)
    sitename = text_of_html(settings.get("SITENAME", ""))
    feed = ResponsesFeed(
        title=f"{sitename}: Responses to {film}",
        link=link,
        feed_url=article.responses_feed_url,
        feed_guid=article.responses_feed_url,
        description=f"Replies, trackbacks, pingbacks and webmentions approved for the review of {film}",
        language=settings.get("DEFAULT_LANG") or None,
        fallback_date=set_date_tzinfo(article.date, settings.get("TIMEZONE")),
    )
    flat = [response for top in article.responses for response in (top, *top.replies)]
    for response in sorted(flat, key=lambda r: (r.record.date, r.record.id), reverse=True):
        record = response.record
        permalink = f"{link}#linkback-{record.id}"
        feed.add_item(
            title=response_entry_title(record),
            link=permalink,
            unique_id=permalink,
            description=None,
            content=response_entry_content(response) or None,
            author_name=record.author or None,
            author_link=record.link if record.is_reply else None,
            pubdate=record.date,
        )
    return feed


def write_responses_feeds(generator, writer) -> None:
    """article_writer_finalized: one Atom feed of approved responses per review."""
    for article in generator.articles:
        path = getattr(article, "responses_feed_path", "")
        if path:
            writer.write_built_feed(build_responses_feed(article, generator.settings), generator.context, path)

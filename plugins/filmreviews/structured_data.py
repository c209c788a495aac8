"""What search engines and social sites read about a page.

Owns the schema.org JSON-LD of each review (`article.json_ld`, a `Review` of a
`Movie`), the Open Graph and Twitter tags (`article.social_meta`), the
canonical URL of every page (`article.canonical_url`, and `page_meta()` for
pages that are not reviews), and the rule for absolute URLs that feeds share:
production uses SITEURL; the local preview, whose SITEURL is empty, uses
FEED_DOMAIN, because a relative og:image or canonical link means nothing to the
site that reads it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from jinja2 import pass_context
from markupsafe import Markup

from .review import text_of_html

SCHEMA_CONTEXT = "https://schema.org"
# Ratings on this site run from half a star to five stars.
BEST_RATING = 5
WORST_RATING = 0.5
# Characters that could end the <script> element or open an HTML comment
# inside it; JSON allows the \u escape for any of them inside a string.
# Template variables that name what a list page is about (tag pages, browse pages...).
LIST_SUBJECTS = ("facet", "tag", "author", "category")
SCRIPT_SAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
               "\u2028": "\\u2028", "\u2029": "\\u2029"}


def site_root(settings) -> str:
    """The absolute root of the site, without a trailing slash.

    SITEURL when it is absolute (production); otherwise FEED_DOMAIN, which the
    preview sets to the local server; otherwise whatever SITEURL is.
    """
    siteurl = (settings.get("SITEURL") or "").rstrip("/")
    if "://" in siteurl:
        return siteurl
    feed_domain = (settings.get("FEED_DOMAIN") or "").rstrip("/")
    return feed_domain or siteurl


def absolute_url(settings, url: str) -> str:
    """`url` (relative to the site root, as Pelican and the Poster give it) made absolute."""
    url = str(url)
    if "://" in url:
        return url
    return f"{site_root(settings)}/{url.lstrip('/')}"


def script_safe_json(data) -> Markup:
    """JSON that can sit inside <script type="application/ld+json"> whatever the values hold.

    Markup, so the templates' autoescape prints it as it is: HTML entities
    would mean nothing inside <script>, and every character that could end
    the element is already a JSON \\u escape.
    """
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for character, escape in SCRIPT_SAFE.items():
        text = text.replace(character, escape)
    return Markup(text)


def _number(value: float):
    """4.0 as 4, 4.5 as 4.5: how people write ratings."""
    return int(value) if float(value).is_integer() else value


def _poster_image(article) -> str | None:
    """The largest JPEG derivative of the poster, relative to the site root, or None.

    Only a poster the posters module accepted counts: when it refused the
    source (missing, corrupt, not an image, too large), that file is no
    picture a search engine can show, so the review carries no image at all.
    """
    poster = getattr(article, "poster", None)
    if poster is None:
        return None
    return poster.largest_jpeg_url or None


def _author_name(article, settings) -> str:
    author = getattr(article, "author", None)
    return text_of_html(getattr(author, "name", "") or settings.get("AUTHOR") or "")


def review_json_ld(article, settings) -> dict:
    """The schema.org Review of one article, as a dict ready for JSON."""
    review = article.review
    url = absolute_url(settings, article.url)
    movie = {"@type": "Movie", "name": review.movie}
    image = _poster_image(article)
    if image:
        movie["image"] = absolute_url(settings, image)
    if review.year:
        movie["dateCreated"] = str(review.year)
    if review.directors:
        movie["director"] = [{"@type": "Person", "name": name} for name in review.directors]
    if review.cast:
        movie["actor"] = [{"@type": "Person", "name": name} for name in review.cast]
    if review.genres:
        movie["genre"] = list(review.genres)
    if review.runtime:
        movie["duration"] = f"PT{review.runtime}M"
    same_as = [link for link in (review.imdb_url, review.tmdb_url) if link]
    if same_as:
        movie["sameAs"] = same_as

    data = {
        "@context": SCHEMA_CONTEXT,
        "@type": "Review",
        "name": article.plain_title,
        "headline": article.plain_title,
        "url": url,
        "mainEntityOfPage": url,
        "itemReviewed": movie,
        "author": {"@type": "Person", "name": _author_name(article, settings)},
        "publisher": {"@type": "Organization", "name": text_of_html(settings.get("SITENAME", "")),
                      "url": site_root(settings) + "/"},
        "datePublished": article.date.isoformat(),
        "inLanguage": getattr(article, "lang", None) or settings.get("DEFAULT_LANG", "en"),
    }
    modified = getattr(article, "modified", None)
    if modified:
        data["dateModified"] = modified.isoformat()
    if article.plain_summary:
        data["description"] = article.plain_summary
    if review.rating is not None:
        data["reviewRating"] = {
            "@type": "Rating",
            "ratingValue": _number(review.rating),
            "bestRating": BEST_RATING,
            "worstRating": _number(WORST_RATING),
        }
    return data


def review_social_meta(article, settings) -> list[tuple[str, str, str]]:
    """Open Graph and Twitter tags of one review, as (attribute, key, value) in page order."""
    review = article.review
    url = absolute_url(settings, article.url)
    title = article.plain_title
    description = article.plain_summary
    meta = [
        ("property", "og:type", "article"),
        ("property", "og:title", title),
        ("property", "og:description", description),
        ("property", "og:url", url),
        ("property", "og:site_name", text_of_html(settings.get("SITENAME", ""))),
    ]
    # Only an accepted poster has a social card; a refused one gets no image
    # rather than a link to a file that is not a usable picture.
    poster = getattr(article, "poster", None)
    if poster is not None and poster.social_card_url:
        image = absolute_url(settings, poster.social_card_url)
        # og:image is the card (poster beside title, year and rating), so its alt says that.
        image_alt = poster.social_card_alt or review.poster_alt
        meta += [
            ("property", "og:image", image),
            ("property", "og:image:width", str(poster.social_card_width)),
            ("property", "og:image:height", str(poster.social_card_height)),
            ("property", "og:image:alt", image_alt),
        ]
    else:
        image = image_alt = None
    meta.append(("property", "article:published_time", article.date.isoformat()))
    modified = getattr(article, "modified", None)
    if modified:
        meta.append(("property", "article:modified_time", modified.isoformat()))
    meta += [("property", "article:tag", text_of_html(tag)) for tag in getattr(article, "tags", [])]
    meta += [
        ("name", "twitter:card", "summary_large_image" if image else "summary"),
        ("name", "twitter:title", title),
        ("name", "twitter:description", description),
    ]
    if image:
        meta += [("name", "twitter:image", image), ("name", "twitter:image:alt", image_alt)]
    return [(attribute, key, value) for attribute, key, value in meta if value]


def attach_structured_data(generator, content) -> None:
    """article_generator_write_article: computed last, once the poster is attached."""
    if getattr(content, "review", None) is None:
        return
    settings = generator.settings
    content.canonical_url = absolute_url(settings, content.url)
    content.json_ld = script_safe_json(review_json_ld(content, settings))
    content.social_meta = review_social_meta(content, settings)


@dataclass
class PageMeta:
    """What the head of a page that is not a review carries."""

    canonical_url: str
    social_meta: list = field(default_factory=list)
    json_ld: Markup = Markup("")


def _page_url(output_file: str) -> str:
    """The public URL of a written file: folder-style pages lose their index.html."""
    if output_file == "index.html":
        return ""
    if output_file.endswith("/index.html"):
        return output_file[: -len("index.html")]
    return output_file


def page_meta(settings, output_file: str, page=None, subject=None,
              description: str = "") -> PageMeta | None:
    """Canonical URL and basic og:type website tags for list and plain pages.

    `page` is a plain page, `subject` what a list page is about (a tag, a
    genre...), `description` the page's own meta description if it has one.
    Hidden pages such as the 404 page get nothing: they are not meant to be
    shared or indexed.
    """
    if page is not None and getattr(page, "status", "") == "hidden":
        return None
    output_file = output_file or "index.html"
    url = absolute_url(settings, _page_url(output_file))
    sitename = text_of_html(settings.get("SITENAME", ""))
    subtitle = text_of_html(settings.get("SITESUBTITLE", ""))
    title = text_of_html(getattr(page, "title", "") or getattr(subject, "name", "") or "")
    if not description and page is not None:
        description = getattr(page, "summary", "")
    description = text_of_html(description or "")
    meta = [
        ("property", "og:type", "website"),
        ("property", "og:title", title or sitename),
        ("property", "og:description", description or subtitle),
        ("property", "og:url", url),
        ("property", "og:site_name", sitename),
        ("name", "twitter:card", "summary"),
    ]
    json_ld = Markup("")
    if output_file == "index.html":
        # The home page names the site, so search results can show it.
        json_ld = script_safe_json({
            "@context": SCHEMA_CONTEXT,
            "@type": "WebSite",
            "name": sitename,
            "url": url,
            "description": subtitle,
            "inLanguage": settings.get("DEFAULT_LANG", "en"),
        })
    return PageMeta(url, [(a, k, v) for a, k, v in meta if v], json_ld)


def add_template_helpers(generator) -> None:
    """generator_init: give every generator's templates `page_meta()`.

    A Jinja global, because only the template context knows which file is
    being written (paginated lists, browse pages and plain pages alike). It
    reads the generator's settings, not the context: with RELATIVE_URLS the
    context's SITEURL is a relative path such as "..".
    """
    env = getattr(generator, "env", None)
    if env is None:
        return
    settings = generator.settings

    @pass_context
    def page_meta_for_template(context) -> PageMeta | None:
        subject = next((context.get(name) for name in LIST_SUBJECTS if context.get(name)), None)
        return page_meta(settings, context.get("output_file"), context.get("page"), subject,
                         context.get("page_description") or "")

    env.globals["page_meta"] = page_meta_for_template

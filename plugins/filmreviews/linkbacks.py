"""The plugin side of responses: approved linkbacks and replies attached to
their reviews.

Reads the data files under content/<FILMREVIEWS_LINKBACKS_PATH>/ (written by
`invoke linkbacks.export`, the WordPress importer or by hand; their format is
`reelnotes.contract`) and gives each review what its page shows: the
approved responses threaded one level deep (`article.responses`, replies
rendered with `reelnotes.reply_text.render_reply`, the one renderer the
receiver's preview uses too), their count, the endpoints it advertises, the
Leave a Reply form's address, its responses feed and the TrackBack
auto-discovery block. Receiving, moderating and sending linkbacks is the
`linkbacks` service's job.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup, escape

from reelnotes.contract import Linkback, clean_display_text, endpoint_urls, load_folder
from reelnotes.reply_text import render_reply
from reelnotes.settings import setting

from .problems import Problem, report, report_settings
from .structured_data import absolute_url


@dataclass(frozen=True)
class Response:
    """One approved response as the Responses list shows it: the record, a
    reply's rendered text (empty Markup for linkbacks) and the replies that
    answer it (one level: replies to replies are listed under the first)."""

    record: Linkback
    body: Markup
    replies: tuple[Response, ...] = ()


def _body(record: Linkback) -> Markup:
    return Markup(render_reply(record.text)) if record.is_reply else Markup("")


def thread_responses(linkbacks: list[Linkback]) -> list[Response]:
    """Top-level responses in date order, each with its replies. A reply
    whose parent is missing (forgotten, not approved) stands on its own; a
    reply to a reply joins the thread of the first; a loop of parents is
    broken by listing its members on their own."""
    by_id = {lb.id: lb for lb in linkbacks}

    def thread_of(record: Linkback) -> str | None:
        current = record
        for _ in range(len(by_id) + 1):
            if current.parent is None or current.parent not in by_id:
                return current.id
            current = by_id[current.parent]
        return None  # a loop

    children: dict[str, list[Linkback]] = {}
    top = []
    for record in linkbacks:
        root = thread_of(record)
        if root is None or root == record.id:
            top.append(record)
        else:
            children.setdefault(root, []).append(record)
    return [Response(record, _body(record), tuple(Response(child, _body(child))
                                                  for child in children.get(record.id, ())))
            for record in top]



def site_root_url(settings) -> str:
    """Absolute base for permalinks: SITEURL in production, FEED_DOMAIN in the preview."""
    return (settings.get("SITEURL") or settings.get("FEED_DOMAIN") or "").rstrip("/")


def attach_linkbacks(generator) -> None:
    """article_generator_finalized: give every published review its responses."""
    settings = generator.settings
    problems = []
    folder = Path(os.path.relpath(settings["PATH"])) / setting(settings, "FILMREVIEWS_LINKBACKS_PATH", problems)
    endpoint = setting(settings, "FILMREVIEWS_LINKBACKS_ENDPOINT", problems)
    feed_pattern = setting(settings, "FILMREVIEWS_RESPONSES_FEED", problems)
    # A draft may already have responses (imported ones, or a review taken
    # offline): its file is valid and waits, unlisted, until it is published.
    known = {article.slug for article in
             (*generator.articles, *getattr(generator, "drafts", ()), *getattr(generator, "hidden_articles", ()))}
    by_slug, errors = load_folder(folder, known)
    report_settings(problems, "Linkback")
    for error in errors:
        report(Problem(str(error), kind="Linkback"))
    base = site_root_url(settings)
    for article in generator.articles:
        article.linkbacks = by_slug.get(article.slug, [])
        article.linkback_count = len(article.linkbacks)  # replies count as responses too
        article.responses = thread_responses(article.linkbacks)
        urls = endpoint_urls(endpoint, article.slug)
        article.trackback_url = urls["trackback_url"]
        article.pingback_url = urls["pingback_url"]
        article.webmention_url = urls["webmention_url"]
        article.reply_url = urls["reply_url"]  # production builds only: the form posts here
        article.responses_feed_path = feed_pattern.format(slug=article.slug) if feed_pattern else ""
        article.responses_feed_url = (absolute_url(settings, article.responses_feed_path)
                                      if feed_pattern else "")
        article.trackback_rdf = trackback_rdf(f"{base}/{article.url}", article.plain_title,
                                              article.trackback_url)


def _comment_safe(value: str) -> str:
    """Escape for an XML attribute inside an HTML comment: &, <, >, quotes,
    and every '-' that follows another '-' as a character reference, so the
    comment cannot be closed or nested ("--", "-->", "--!>") and RDF parsers
    still read the original value."""
    text = str(escape(value))  # &amp; &lt; &gt; &#34; &#39;
    return re.sub(r"-(?=-)", "&#45;", text)  # "---" -> "&#45;&#45;-": never two in a row


def trackback_rdf(permalink: str, title: str, ping_url: str) -> Markup:
    """The TrackBack auto-discovery block for one review, as a complete HTML
    comment ready to display (Markup, so escaping leaves it intact). Empty
    when there is no ping URL."""
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
        f'    dc:title="{_comment_safe(clean_display_text(title))}"\n'
        f'    trackback:ping="{_comment_safe(ping_url)}" />\n'
        "</rdf:RDF>\n"
        "-->"
    )
    return Markup(block)

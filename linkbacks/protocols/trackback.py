"""TrackBack 1.2: ``POST /trackback/<slug>``.

Form fields ``url`` (required), ``title``, ``excerpt``, ``blog_name``;
charset from the Content-Type, UTF-8 by default. A body sent without a
Content-Type, or as text/plain, is read as the form: TrackBack clients do so. The title and excerpt the
source page itself shows win over the form's, which are only a fallback.
Answers ``<response><error>0</error></response>``, or ``<error>1</error>``
with a generic ``<message>``.
"""

from __future__ import annotations

import logging
import re
import xmlrpc.client
from typing import TYPE_CHECKING

from reelnotes.contract import AUTHOR_MAX, EXCERPT_MAX, TITLE_MAX, clean_display_text

from .. import verify
from ..store import DuplicateLinkback
from ..targets import identity_url, is_http_url, same_page, strip_fragment
from ..web import BAD_REQUEST, TOO_MANY, HTTPError, parse_form, read_body, xml_response

if TYPE_CHECKING:
    from ..app import LinkbackApp

logger = logging.getLogger(__name__)

SLUG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,199}$")


def response_body(error: str | None = None) -> bytes:
    if error is None:
        body = "<response><error>0</error></response>"
    else:
        body = f"<response><error>1</error><message>{xmlrpc.client.escape(error)}</message></response>"
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + body + "\n").encode("utf-8")


def _reply(status: str, error: str | None = None):
    return xml_response(status, response_body(error))


def receive(app: LinkbackApp, environ, slug: str):
    ip = app.client_ip(environ)
    if not app.ip_limiter.allow(ip):
        return _reply(TOO_MANY, "Too many requests; try again later.")
    try:
        body = read_body(environ, app.config.max_body_bytes)
        review = app.reviews.get().by_slug.get(slug) if SLUG_RE.match(slug) else None
        if review is None:
            return _reply("404 Not Found", "No such review.")
        form = parse_form(environ, body, untyped_ok=True)
    except HTTPError as exc:
        return _reply(exc.status, exc.message)
    url = form.get("url", "").strip()
    if not url:
        return _reply(BAD_REQUEST, "Missing required field: url.")
    if not is_http_url(url):
        return _reply(BAD_REQUEST, "The url must be an http or https URL.")
    url = strip_fragment(url)
    if same_page(url, review.url):
        return _reply(BAD_REQUEST, "A review cannot track back to itself.")
    if not app.pair_limiter.allow((identity_url(url), review.slug)):
        return _reply(TOO_MANY, "Too many requests; try again later.")
    if app.store.exists(review.slug, url):
        return _reply("409 Conflict", "This trackback is already registered.")
    try:
        info = verify.verify_source(app.fetcher, url, review.url)
    except verify.VerificationError as exc:
        logger.info("trackback for %s refused: %s", review.slug, exc)
        return _reply(BAD_REQUEST, "Sorry, this trackback could not be accepted.")
    try:
        # The sender's title and excerpt are unchecked claims; what the
        # verified page says is what readers will find when they follow it.
        app.store.add(
            review=review.slug,
            source=url,
            target=review.url,
            kind="trackback",
            type="mention",
            title=info.title or clean_display_text(form.get("title"), TITLE_MAX),
            author=clean_display_text(form.get("blog_name"), AUTHOR_MAX) or info.author,
            excerpt=info.excerpt or clean_display_text(form.get("excerpt"), EXCERPT_MAX),
            client_ip=ip,
        )
    except DuplicateLinkback:
        return _reply("409 Conflict", "This trackback is already registered.")
    return _reply("200 OK")

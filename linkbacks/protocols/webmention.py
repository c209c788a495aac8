"""W3C Webmention: ``POST /webmention`` with form fields ``source`` and
``target``, and ``GET /webmention/status/<token>``.

Invalid input is answered 400; otherwise ``202 Accepted`` with
``Location: /webmention/status/<token>`` at once, and the source is verified
later by the receiver's worker threads (``process``). The status URL answers
``{"status": "pending" | "verified" | "approved" | "rejected"}``.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from reelnotes.contract import WEBMENTION_STATUS_ROUTE

from .. import verify
from ..store import DuplicateLinkback
from ..targets import identity_url, is_http_url, same_page, strip_fragment
from ..web import BAD_REQUEST, TOO_MANY, HTTPError, json_response, parse_form, read_body, text_response

if TYPE_CHECKING:
    from ..app import LinkbackApp

logger = logging.getLogger(__name__)

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
RETRY_SOON = [("Retry-After", "60")]


def receive(app: LinkbackApp, environ):
    ip = app.client_ip(environ)
    if not app.ip_limiter.allow(ip):
        return text_response(TOO_MANY, "Too many requests; try again later.", RETRY_SOON)
    try:
        body = read_body(environ, app.config.max_body_bytes)
        form = parse_form(environ, body)
    except HTTPError as exc:
        return text_response(exc.status, exc.message)
    source, target = form.get("source", "").strip(), form.get("target", "").strip()
    if not source or not target:
        return text_response(BAD_REQUEST, "Both source and target are required.")
    if not is_http_url(source) or not is_http_url(target):
        return text_response(BAD_REQUEST, "Source and target must be http or https URLs.")
    source = strip_fragment(source)
    if same_page(source, target):
        return text_response(BAD_REQUEST, "Source and target must differ.")
    review = app.reviews.get().review_for_url(target)
    if review is None:
        return text_response(BAD_REQUEST, "The target is not a review that accepts webmentions.")
    if not app.pair_limiter.allow((identity_url(source), review.slug)):
        return text_response(TOO_MANY, "Too many requests; try again later.", RETRY_SOON)
    if app.queue.full():
        return text_response("503 Service Unavailable", "Busy; try again later.", [("Retry-After", "120")])
    token = app.store.add_request(source=source, target=target, review=review.slug, client_ip=ip)
    app.queue.put(token)
    prefix = (app.config.base_path or environ.get("SCRIPT_NAME", "")).rstrip("/")
    location = f"{prefix}{WEBMENTION_STATUS_ROUTE}{token}"
    return json_response("202 Accepted", {"status": "pending", "location": location}, [("Location", location)])


def status(app: LinkbackApp, environ, token: str):
    if not app.status_limiter.allow(app.client_ip(environ)):
        return text_response(TOO_MANY, "Too many requests; try again later.", RETRY_SOON)
    state = app.store.request_status(token) if TOKEN_RE.match(token) else None
    if state is None:
        return json_response("404 Not Found", {"error": "not found"})
    return json_response("200 OK", {"status": state})


def process(app: LinkbackApp, token: str) -> str:
    """Verify one queued webmention (in a worker thread); returns its new public status."""
    request = app.store.get_request(token)
    if request is None or request.state != "queued":
        return app.store.request_status(token) or "rejected"
    existing = app.store.find(request.review, request.source)
    try:
        info = verify.verify_source(app.fetcher, request.source, request.target)
    except verify.VerificationError as exc:
        logger.info("webmention %s refused: %s", token, exc)
        if existing and isinstance(exc, (verify.SourceMissing, verify.NoLinkToTarget)):
            # Webmention update semantics: the source was deleted or no
            # longer links here, so its earlier linkback goes away.
            if existing.status in ("pending", "approved"):
                app.store.set_status(existing.id, "rejected")
        app.store.finish_request(token, "failed", existing.id if existing else None)
        return "rejected"
    if existing is not None:
        linkback_id = existing.id  # still valid: the stored one stands, no duplicate
    else:
        try:
            linkback_id = app.store.add(
                review=request.review,
                source=request.source,
                target=request.target,
                kind="webmention",
                type=info.type,
                title=info.title,
                author=info.author,
                excerpt=info.excerpt,
                client_ip=request.client_ip,
            )
        except DuplicateLinkback as dup:
            linkback_id = dup.existing_id
    app.store.finish_request(token, "verified", linkback_id)
    return app.store.request_status(token)

"""Leave a Reply: ``GET|POST /reply/<slug>``, a reader's reply in two steps.

``GET /reply/<slug>[?parent=receiver-<n>]`` is the form on a page of its own
(the "Reply" links under approved replies point here). ``POST`` with
``step=preview`` (the review page's form, or the form here) answers with a
preview: the reply rendered exactly as the review page will show it, and a
"Send" button carrying the same fields and a signed time token. ``POST``
with ``step=send`` stores the reply as pending and thanks the reader.

Abuse is met in this order, each with a page that says why: only the form's
own fields (``FIELDS``), an empty honeypot, a known review and parent, the
length and link limits, then on sending a token this receiver signed
(HMAC over the review, the parent, a hash of the fields and the time it was
issued) that is at least ``reply_min_seconds`` old and at most
``reply_max_age_seconds``, the per-client and per-review rate limits, and
no earlier reply to the review with the same normalised text. The client's
address is stored only as a keyed hash.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
import unicodedata
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from reelnotes.contract import AUTHOR_MAX, EXCERPT_MAX, REPLY_ROUTE, TEXT_MAX, clean_display_text, receiver_row
from reelnotes.reply_text import link_count, render_reply

from .. import pages
from ..pages import EMAIL_MAX, HONEYPOT, LINKS_MAX, WEBSITE_MAX, ReplyFields
from ..secret import client_hash
from ..store import DuplicateReply
from ..targets import is_http_url
from ..web import BAD_REQUEST, TOO_MANY, HTTPError, parse_form, read_body

if TYPE_CHECKING:
    from ..app import LinkbackApp

logger = logging.getLogger(__name__)

FIELDS = {"name", "website", "email", "text", "parent", "token", "step", HONEYPOT}
SLUG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,199}$")
EMAIL_RE = re.compile(r"^[^@\s<>\"(),;:\\\[\]]{1,64}@[^@\s<>\"(),;:\\\[\]]+\.[^@\s<>\"(),;:\\\[\]]+$")
FORBIDDEN = "403 Forbidden"


class Refused(Exception):
    """A reply that is not taken; ``status``, a heading and a reason for the reader."""

    def __init__(self, status: str, heading: str, reason: str, *, form: str = "", headers=()):
        super().__init__(reason)
        self.status, self.heading, self.reason = status, heading, reason
        self.form = form  # "edit": show the editable form, "send": the Send button again
        self.headers = list(headers)


# --- The time token -----------------------------------------------------------------


def fields_digest(fields: ReplyFields) -> str:
    data = json.dumps([fields.name, fields.website, fields.email, fields.text], ensure_ascii=False)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def sign_token(secret: bytes, slug: str, fields: ReplyFields, issued_ms: int) -> str:
    """``<issued ms>.<HMAC>``: this receiver previewed exactly these fields
    for this review and parent at that time."""
    message = f"reply-token\0{issued_ms}\0{slug}\0{fields.parent}\0{fields_digest(fields)}".encode()
    return f"{issued_ms}.{hmac.new(secret, message, hashlib.sha256).hexdigest()}"


def check_token(secret: bytes, token: str, slug: str, fields: ReplyFields, now_ms: int,
                min_seconds: float, max_seconds: float) -> None:
    """Raise Refused unless ``token`` is ours, for these fields, and neither
    too fresh nor too old."""
    issued_text, _, _ = token.partition(".")
    issued = int(issued_text) if issued_text.isdigit() and len(issued_text) <= 15 else None
    if issued is None or not hmac.compare_digest(sign_token(secret, slug, fields, issued), token):
        raise Refused(FORBIDDEN, "This reply could not be verified",
                      "The reply sent is not the one this site previewed (the form was changed, or it did not "
                      "come from the preview). Check it below and preview it again.", form="edit")
    age = (now_ms - issued) / 1000
    if age < min_seconds:
        raise Refused(TOO_MANY, "That was very quick",
                      f"Replies are sent at least {min_seconds:g} seconds after the preview, so that "
                      "machines cannot post them in bulk. Read it over once more, then press Send again.",
                      form="send", headers=[("Retry-After", str(max(1, round(min_seconds - age + 0.5))))])
    if age > max_seconds:
        raise Refused(BAD_REQUEST, "This preview has expired",
                      f"A preview can be sent for {max_seconds / 3600:g} hours. Your reply is below: "
                      "preview it again, then send it.", form="edit")


# --- Reading and checking the fields ---------------------------------------------------


def _strip_invisible(text: str) -> str:
    """Format characters (zero-width spaces, bidi overrides) and controls
    other than line breaks and tabs, gone."""
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cf", "Cc", "Co", "Cs"))


def clean_fields(form: dict[str, str]) -> tuple[ReplyFields, list[str]]:
    """The fields as they will be stored and shown, and what is wrong with them."""
    problems = []
    raw_name = form.get("name", "")
    name = clean_display_text(_strip_invisible(raw_name))
    if not name:
        problems.append("Please give a name (it is shown with your reply).")
    elif len(name) > AUTHOR_MAX:
        problems.append(f"The name is {len(name)} characters long; at most {AUTHOR_MAX}, please.")
    website = _strip_invisible(form.get("website", "")).strip()
    if website and "://" not in website and re.match(r"^[\w.-]+\.[a-z]{2,}(/|$)", website, re.I):
        website = "https://" + website  # "ana.example" means the site
    if len(website) > WEBSITE_MAX:
        problems.append(f"The website address is {len(website)} characters long; at most {WEBSITE_MAX}, please.")
    elif website and not is_http_url(website):
        problems.append("The website should be a web address starting with https:// or http://.")
    email = _strip_invisible(form.get("email", "")).strip()
    if len(email) > EMAIL_MAX:
        problems.append(f"The e-mail address is {len(email)} characters long; at most {EMAIL_MAX}, please.")
    elif email and not EMAIL_RE.match(email):
        problems.append("The e-mail address does not look like one (name@example.org); leave it empty if "
                        "you do not want a notice.")
    text = _strip_invisible(form.get("text", "").replace("\r\n", "\n").replace("\r", "\n")).strip()
    if not text:
        problems.append("The reply is empty.")
    elif len(text) > TEXT_MAX:
        problems.append(f"The reply is {len(text)} characters long; at most {TEXT_MAX:,}, please.")
    elif link_count(text) > LINKS_MAX:
        problems.append(f"The reply has {link_count(text)} web addresses; at most {LINKS_MAX}, please.")
    parent = form.get("parent", "").strip()
    return ReplyFields(name=name, website=website, email=email, text=text, parent=parent), problems


# --- Handlers ---------------------------------------------------------------------------


class _Reply:
    """One request to /reply/<slug>: what every step needs."""

    def __init__(self, app: LinkbackApp, environ, slug: str):
        self.app = app
        self.environ = environ
        self.site = app.site_look()
        self.client = client_hash(app.secret, app.client_ip(environ))
        review = app.reviews.get().by_slug.get(slug) if SLUG_RE.match(slug) else None
        if review is None:
            raise Refused("404 Not Found", "No such review",
                          "There is no review here to reply to; it may have moved or been taken down.")
        self.review = review
        prefix = (app.config.base_path or environ.get("SCRIPT_NAME", "")).rstrip("/")
        self.action = f"{prefix}{REPLY_ROUTE}{slug}"

    def parent_name(self, parent: str) -> str | None:
        """The name of the approved response ``parent`` (a record id) of this
        review; Refused when it is not one. None for no parent."""
        if not parent:
            return None
        row_id = receiver_row(parent)
        row = self.app.store.get(row_id) if row_id is not None else None
        if row is None or row.status != "approved" or row.review != self.review.slug:
            raise Refused("404 Not Found", "Nothing to reply to",
                          "The response you are answering is not on this review (any more). You can still "
                          "reply to the review itself.")
        return clean_display_text(row.author or row.title or "an earlier response", AUTHOR_MAX)

    def limit(self, limiter, key, what: str):
        if not limiter.allow(key):
            raise Refused(TOO_MANY, "Too many replies for now", what, headers=[("Retry-After", "600")])

    def refusal(self, exc: Refused, fields: ReplyFields | None = None, token: str = ""):
        form = None
        if fields is not None and exc.form == "edit":
            form = pages.reply_form(self.action, fields, heading="Your reply", button="Preview again")
        elif fields is not None and exc.form == "send" and token:
            form = pages.send_form(self.action, fields, token)
        return pages.refusal_page(self.site, exc.status, exc.heading, exc.reason, review_title=self.review.title,
                                  review_url=self.review.url, form=form, extra_headers=exc.headers)


def show_form(app: LinkbackApp, environ, slug: str):
    """GET: the form on its own page, answering ``?parent=`` if given."""
    try:
        request = _Reply(app, environ, slug)
    except Refused as exc:
        return pages.refusal_page(app.site_look(), exc.status, exc.heading, exc.reason)
    try:
        query = dict(parse_qsl(environ.get("QUERY_STRING", ""), max_num_fields=5))
    except ValueError:  # more fields than a Reply link has: ignore them all
        query = {}
    fields = ReplyFields(parent=query.get("parent", "")[:80])
    try:
        request.limit(app.reply_preview_limiter, request.client,
                      "This address has asked for many reply forms in a short time. Please wait a few minutes.")
        parent_name = request.parent_name(fields.parent)
    except Refused as exc:
        return request.refusal(exc)
    return pages.form_page(request.site, request.action, request.review.title, request.review.url, fields,
                           parent_name=parent_name)


def receive(app: LinkbackApp, environ, slug: str):
    """POST: preview or send, by the ``step`` field."""
    try:
        request = _Reply(app, environ, slug)
    except Refused as exc:
        return pages.refusal_page(app.site_look(), exc.status, exc.heading, exc.reason)
    fields = None
    token = ""
    try:
        try:
            form = parse_form(environ, read_body(environ, app.config.max_body_bytes))
        except HTTPError as exc:
            raise Refused(exc.status, "This reply could not be read",
                          "The form arrived in a shape this site does not accept "
                          f"({exc.message.rstrip('.').lower()}).") from None
        if set(form) - FIELDS:
            raise Refused(BAD_REQUEST, "This form is not ours",
                          "The reply came with fields the Leave a Reply form does not have, so it was not taken.")
        if form.get(HONEYPOT, ""):
            raise Refused(BAD_REQUEST, "This reply looks automated",
                          "A field that people never see was filled in, as machines sending spam do. If you are a "
                          "person, please go back to the review and use its form again.")
        step = form.get("step", "preview")
        if step not in ("preview", "send"):
            raise Refused(BAD_REQUEST, "This form is not ours", "The form asked for a step this site does not have.")
        fields, problems = clean_fields(form)
        token = form.get("token", "")[:200]
        parent_name = request.parent_name(fields.parent)
        if problems:
            return pages.form_page(request.site, request.action, request.review.title, request.review.url,
                                   fields, parent_name=parent_name, problems=problems, status=BAD_REQUEST)
        if step == "preview":
            return preview(request, fields, parent_name)
        return send(request, fields, token)
    except Refused as exc:
        return request.refusal(exc, fields, token)


def preview(request: _Reply, fields: ReplyFields, parent_name: str | None):
    app = request.app
    request.limit(app.reply_preview_limiter, request.client,
                  "This address has asked for many previews in a short time. Please wait a few minutes.")
    token = sign_token(app.secret, request.review.slug, fields, int(time.time() * 1000))
    return pages.preview_page(request.site, request.action, request.review.title, request.review.url, fields,
                              body_html=render_reply(fields.text), link=fields.website or None,
                              when=datetime.now(UTC).replace(microsecond=0), token=token, parent_name=parent_name)


def send(request: _Reply, fields: ReplyFields, token: str):
    app = request.app
    config = app.config
    check_token(app.secret, token, request.review.slug, fields, int(time.time() * 1000),
                config.reply_min_seconds, config.reply_max_age_seconds)
    request.limit(app.reply_client_limiter, request.client,
                  "This address has sent several replies in a short time. Please wait a while and send it again.")
    request.limit(app.reply_review_limiter, request.review.slug,
                  "This review has had many replies in a short time. Please try again in an hour or so.")
    links = link_count(fields.text)
    held = ["new reader" if not app.store.approved_replies_from(request.client) else "returning reader"]
    if links:
        held.append(f"{links} link{'s' if links != 1 else ''}")
    try:
        row_id = app.store.add_reply(
            review=request.review.slug,
            target=request.review.url,
            author=fields.name,
            website=fields.website,
            email=fields.email,
            text=fields.text,
            excerpt=clean_display_text(render_reply(fields.text), EXCERPT_MAX),
            client_hash=request.client,
            parent_id=receiver_row(fields.parent),
            held_reason=", ".join(held),
        )
    except DuplicateReply:
        raise Refused("409 Conflict", "This reply is here already",
                      "A reply with the same words was already sent to this review; it is waiting for approval "
                      "or already shown. Nothing more to do.") from None
    logger.info("reply #%s to %s stored, pending (%s)", row_id, request.review.slug, ", ".join(held))
    return pages.thanks_page(request.site, request.review.title, request.review.url)


__all__ = ["FIELDS", "Refused", "check_token", "clean_fields", "receive", "show_form", "sign_token"]

"""The linkback receiver: a plain WSGI application.

Routes (relative to where the app is mounted; ``reelnotes.contract`` names
them, since review pages advertise them):

``POST /trackback/<slug>``        TrackBack 1.2 (``protocols.trackback``)
``POST /pingback``                Pingback 1.0 (``protocols.pingback``)
``POST /webmention``              Webmention (``protocols.webmention``)
``GET /webmention/status/<token>`` where a webmention's verification stands
``GET|POST /reply/<slug>``         Leave a Reply: form, preview, send (``protocols.reply``)

Every source is fetched (public addresses only) and must link to the review
before anything is stored, as ``pending``. A source's fragment is dropped
first (``src#a`` and ``src#b`` are the page ``src``), and the duplicate
check and the per-pair rate limit go by the source's identity
(``targets.identity_url``: case, default ports, dot segments, repeated
slashes and tracking parameters do not make another page), so they see one
source however it is spelt; the spelling sent is what is stored and shown.
Bodies are capped (413), UTF-7 and undecodable input refused (400), client
IPs and (source, target) pairs are rate limited (429 / TrackBack error /
fault 49), a (review, source) pair is stored once (fault 48). Text is stored as plain text, capped. Error
messages are fixed strings: nothing from the request is echoed back.
Readers' replies are answered with HTML pages in the site's look
(``pages``); their abuse checks are described in ``protocols.reply``.

Making a ``LinkbackApp`` opens its store, reads ``reviews.json`` and starts
the webmention worker threads and, with notice settings, the notice sender
(``notices.NoticeWorker``); ``close()`` stops them. There is no moderation
route: the queue is read and moderated only with ``python -m linkbacks.cli``
on the server, which the writer's tasks reach over SSH. (``linkbacks.wsgi``
makes one only when the first request arrives.)

Several instances can share one PostgreSQL database: duplicates are the
store's unique index, the rate limits are rows in it
(``limits.SharedRateLimiter``), and so are the webmention queue
(``workers``) and the outbox of notices.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from reelnotes.contract import (
    PINGBACK_ROUTE,
    REPLY_ROUTE,
    TRACKBACK_ROUTE,
    WEBMENTION_ROUTE,
    WEBMENTION_STATUS_ROUTE,
)
from reelnotes.settings import NoticeSettings

from . import fetch, pages
from .limits import RateLimit, RateLimiter, SharedRateLimiter
from .notices import NoticeWorker
from .protocols import pingback, reply, trackback, webmention
from .store import Store
from .targets import ReloadingReviewsIndex
from .web import SECURITY_HEADERS, text_response
from .workers import WorkQueue

logger = logging.getLogger(__name__)


@dataclass
class Config:
    db_path: Path | str  # an SQLite file, or a postgresql:// URL (a str)
    reviews_json: Path
    site_url: str = ""
    allow_loopback: bool = False  # tests only: lets sources live on 127.0.0.1/::1
    max_body_bytes: int = 64 * 1024
    # Reading a request (line, headers, body): a client silent this long is
    # cut off, and the whole request must have arrived by the deadline.
    read_timeout: float = 3.0
    request_deadline: float = 15.0
    ip_limit: RateLimit = RateLimit(30, 60.0)  # linkback POSTs per client IP
    pair_limit: RateLimit = RateLimit(3, 3600.0)  # per (source, target)
    status_limit: RateLimit = RateLimit(120, 60.0)  # status look-ups per client IP
    fetch_timeout: float = fetch.DEFAULT_TIMEOUT
    fetch_max_bytes: int = fetch.DEFAULT_MAX_BYTES
    # 0: this instance only accepts webmentions; other instances verify them.
    webmention_workers: int = 8
    # At once, at most this many verifications in this instance of one source
    # site and of one client's webmentions: a flood of slow sources never
    # holds every worker (workers.WorkQueue).
    webmention_per_host: int = 2
    webmention_per_client: int = 4
    max_queued_webmentions: int = 1000  # beyond this, 503 until the workers catch up
    # A claimed webmention whose instance has not answered within this many
    # seconds (it died) is taken by another; longer than one verification.
    webmention_lease: float = 60.0
    webmention_poll: float = 1.0  # how often idle workers look for others' webmentions
    # Rate limits in the database, shared by every instance; None: when the
    # store is shared (PostgreSQL), else in this process's memory.
    shared_limits: bool | None = None
    trust_forwarded_for: bool = False  # only behind a proxy that sets X-Forwarded-For
    # Public path prefix of the receiver when a proxy mounts it without setting
    # SCRIPT_NAME, e.g. "/linkbacks": status URLs become /linkbacks/webmention/status/...
    # Requests are answered with or without the prefix, so a proxy may pass
    # the path on as it is or strip it.
    base_path: str = ""
    # E-mail notices of new responses (reelnotes.settings.notice_settings);
    # None: they wait in the outbox for `python -m linkbacks.cli notify`.
    notices: NoticeSettings | None = None
    notice_interval: float = 30.0  # how often the sender looks for retries and the digest
    # LINKBACKS_SECRET: keys the reply form's time tokens and the hashes client
    # addresses are stored as. Empty: a random one for this process only.
    secret: bytes = b""
    site_name: str = ""  # shown in the reply pages' header; default: the site's host name
    reply_client_limit: RateLimit = RateLimit(5, 600.0)  # replies sent per client
    reply_review_limit: RateLimit = RateLimit(20, 3600.0)  # replies sent to one review
    reply_preview_limit: RateLimit = RateLimit(30, 600.0)  # forms and previews per client
    reply_min_seconds: float = 3.0  # from preview to Send, at least
    reply_max_age_seconds: float = 7200.0  # a preview can be sent for this long


class LinkbackApp:
    """The WSGI application. ``close()`` stops the webmention workers."""

    def __init__(self, config: Config):
        self.config = config
        self.notices = None
        self.store = Store(config.db_path, on_notice=self._notice_queued)
        self.fetcher = fetch.Fetcher(
            allow_loopback=config.allow_loopback,
            timeout=config.fetch_timeout,
            max_bytes=config.fetch_max_bytes,
        )
        self.reviews = ReloadingReviewsIndex(config.reviews_json, config.site_url)
        index = self.reviews.get()  # a broken reviews.json fails here, at start-up
        if not index.reviews:
            logger.warning("%s: no reviews (yet); every ping will be refused", config.reviews_json)
        shared = self.store.shared if config.shared_limits is None else config.shared_limits
        limiter = (lambda name, limit: SharedRateLimiter(self.store, name, limit)) if shared else (
            lambda name, limit: RateLimiter(limit))
        self.ip_limiter = limiter("ip", config.ip_limit)
        self.pair_limiter = limiter("pair", config.pair_limit)
        self.status_limiter = limiter("status", config.status_limit)
        # Several instances must share the secret (LINKBACKS_SECRET): a token one
        # previews is sent to another. Without one, this process makes its own.
        self.secret = config.secret or secrets.token_bytes(32)
        self.reply_client_limiter = limiter("reply-client", config.reply_client_limit)
        self.reply_review_limiter = limiter("reply-review", config.reply_review_limit)
        self.reply_preview_limiter = limiter("reply-preview", config.reply_preview_limit)
        self.queue = WorkQueue(
            handle=lambda token: webmention.process(self, token),
            on_failure=lambda token: self.store.finish_request(token, "failed"),
            claim=self._claim,
            count_queued=self.store.count_queued,
            release=self.store.release_requests,
            workers=config.webmention_workers,
            max_queued=config.max_queued_webmentions,
            per_key={"host": config.webmention_per_host, "client": config.webmention_per_client},
            poll_interval=config.webmention_poll,
        )
        # Webmentions left queued (by a previous run, or another instance) are claimed from the database.
        self.queue.start()
        if config.notices is not None:
            # Sends what a previous run left in the outbox, then waits; with
            # PostgreSQL, every instance's sender shares the one outbox.
            self.notices = NoticeWorker(self.store, config.notices, config.notice_interval)
            self.notices.start()

    def _claim(self, worker: str, skip: dict[str, frozenset[str]]):
        """The oldest queued webmention whose source site and client are not
        in ``skip`` (this instance's workers already hold as many of them as
        the caps allow), as (token, its keys), or None."""
        claim = self.store.claim_next(worker, self.config.webmention_lease, skip_sites=skip.get("host", ()),
                                      skip_clients=skip.get("client", ()))
        return None if claim is None else (claim.token, (("host", claim.site), ("client", claim.client)))

    def _notice_queued(self) -> None:
        if self.notices is not None:
            self.notices.wake()

    def close(self) -> None:
        self.queue.close()
        if self.notices is not None:
            self.notices.close()
        self.store.close()  # idle connections; the store opens new ones if used again

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until every queued webmention has been processed."""
        return self.queue.wait_idle(timeout)

    def client_ip(self, environ) -> str:
        if self.config.trust_forwarded_for:
            forwarded = [p.strip() for p in environ.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
            if forwarded:
                return forwarded[-1]
        return environ.get("REMOTE_ADDR", "")

    def site_look(self) -> pages.Site:
        """The live site's address and name, for the reply pages."""
        site_url = (self.config.site_url or self.reviews.get().site_url or "").rstrip("/")
        name = self.config.site_name or urlsplit(site_url).hostname or "Reviews"
        return pages.Site(site_url, name)

    # --- WSGI ---------------------------------------------------------------------

    def __call__(self, environ, start_response):
        try:
            status, headers, body = self.dispatch(environ)
        except Exception:
            logger.exception("linkback receiver: unexpected error")
            status, headers, body = text_response("500 Internal Server Error", "Internal error.")
        given = {name.lower() for name, _ in headers}  # an HTML page sets its own CSP
        headers = headers + [h for h in SECURITY_HEADERS if h[0].lower() not in given]
        headers.append(("Content-Length", str(len(body))))
        start_response(status, headers)
        return [body] if environ.get("REQUEST_METHOD") != "HEAD" else [b""]

    def dispatch(self, environ):
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = environ.get("PATH_INFO", "") or "/"
        prefix = self.config.base_path.rstrip("/")
        if prefix and path.startswith(prefix + "/"):
            path = path[len(prefix):]
        if path.startswith(TRACKBACK_ROUTE):
            slug = path[len(TRACKBACK_ROUTE):]
            slug = slug[:-1] if slug.endswith("/") else slug
            return self._post_only(method, trackback.receive, environ, slug)
        if path == PINGBACK_ROUTE:
            return self._post_only(method, pingback.receive, environ)
        if path == WEBMENTION_ROUTE:
            return self._post_only(method, webmention.receive, environ)
        if path.startswith(WEBMENTION_STATUS_ROUTE):
            if method not in ("GET", "HEAD"):
                return text_response("405 Method Not Allowed", "Method not allowed.", [("Allow", "GET, HEAD")])
            return webmention.status(self, environ, path[len(WEBMENTION_STATUS_ROUTE):])
        if path.startswith(REPLY_ROUTE):
            slug = path[len(REPLY_ROUTE):]
            slug = slug[:-1] if slug.endswith("/") else slug
            if method in ("GET", "HEAD"):
                return reply.show_form(self, environ, slug)
            if method == "POST":
                return reply.receive(self, environ, slug)
            return text_response("405 Method Not Allowed", "Method not allowed.", [("Allow", "GET, HEAD, POST")])
        return text_response("404 Not Found", "Not found.")

    def _post_only(self, method, handler, environ, *args):
        if method != "POST":
            return text_response("405 Method Not Allowed", "Method not allowed; use POST.", [("Allow", "POST")])
        return handler(self, environ, *args)

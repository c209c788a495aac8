"""The linkback receiver: a plain WSGI application.

Routes (relative to where the app is mounted):

``POST /trackback/<slug>``
    TrackBack 1.2. Form fields ``url`` (required), ``title``, ``excerpt``,
    ``blog_name``; charset from the Content-Type, UTF-8 by default. The
    title and excerpt the source page itself shows win over the form's
    (which are only a fallback). Answers
    ``<response><error>0</error></response>`` or ``<error>1</error>`` with a
    generic ``<message>``.
``POST /pingback``
    XML-RPC ``pingback.ping(sourceURI, targetURI)`` only, parsed with
    defusedxml (no DTDs, no entities). Pingback fault codes 0, 16, 17, 32,
    33, 48, 49, 50; XML-RPC interop codes -32700 (unreadable), -32600 (not a
    methodCall), -32601 (any other method, ``system.multicall`` included --
    never executed), -32602 (bad parameters), -32701/-32702 (encoding).
``POST /webmention``
    W3C Webmention, form ``source`` and ``target``. 400 for invalid input,
    otherwise ``202 Accepted`` with ``Location: /webmention/status/<token>``;
    verification runs in worker threads.
``GET /webmention/status/<token>``
    ``{"status": "pending" | "verified" | "approved" | "rejected"}``.

Every source is fetched (public addresses only) and must link to the review
before anything is stored, as ``pending``. A source's fragment is dropped
first (``src#a`` and ``src#b`` are the page ``src``), so the duplicate check
and the per-pair rate limit see one source. Bodies are capped (413), UTF-7
and undecodable input refused (400), client IPs and (source, target) pairs
are rate limited (429 / TrackBack error / fault 49), a (review, source) pair
is stored once (fault 48). Text is stored as plain text, capped. Error
messages are fixed strings: nothing from the request is echoed back.
"""

from __future__ import annotations

import codecs
import json
import logging
import queue
import re
import threading
import time
import xml.etree.ElementTree as ET
import xmlrpc.client
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from urllib.parse import parse_qsl

import defusedxml
import defusedxml.ElementTree as DET

from . import fetch, verify
from .records import AUTHOR_MAX, EXCERPT_MAX, TITLE_MAX, plain_text
from .store import DuplicateLinkback, Store
from .targets import ReloadingReviewsIndex, is_http_url, same_page, strip_fragment

logger = logging.getLogger(__name__)

DRAIN_LIMIT = 1024 * 1024  # oversize bodies up to this are read and discarded
MAX_FORM_FIELDS = 20
SLUG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,199}$")
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")

_ALLOWED_CHARSET_NAMES = (
    "utf-8", "us-ascii", "iso-8859-1", "iso-8859-2", "iso-8859-5", "iso-8859-7",
    "iso-8859-9", "iso-8859-15", "windows-1250", "windows-1251", "windows-1252",
    "windows-1253", "windows-1254", "windows-1257", "koi8-r", "koi8-u", "shift_jis",
    "euc-jp", "euc-kr", "gb2312", "gbk", "gb18030", "big5",
)
ALLOWED_CHARSETS = {codecs.lookup(name).name for name in _ALLOWED_CHARSET_NAMES}
XML_CHARSETS = {codecs.lookup(n).name for n in ("utf-8", "us-ascii", "iso-8859-1", "windows-1252")}


@dataclass(frozen=True)
class RateLimit:
    """At most ``requests`` per ``per_seconds`` (token bucket, bursts allowed)."""

    requests: int
    per_seconds: float


@dataclass
class Config:
    db_path: Path
    reviews_json: Path
    site_url: str = ""
    allow_loopback: bool = False  # tests only: lets sources live on 127.0.0.1/::1
    max_body_bytes: int = 64 * 1024
    ip_limit: RateLimit = RateLimit(30, 60.0)  # linkback POSTs per client IP
    pair_limit: RateLimit = RateLimit(3, 3600.0)  # per (source, target)
    status_limit: RateLimit = RateLimit(120, 60.0)  # status look-ups per client IP
    fetch_timeout: float = fetch.DEFAULT_TIMEOUT
    fetch_max_bytes: int = fetch.DEFAULT_MAX_BYTES
    webmention_workers: int = 2
    max_queued_webmentions: int = 1000  # beyond this, 503 until the workers catch up
    trust_forwarded_for: bool = False  # only behind a proxy that sets X-Forwarded-For
    # Public path prefix of the receiver when a proxy mounts it without setting
    # SCRIPT_NAME, e.g. "/linkbacks": status URLs become /linkbacks/webmention/status/...
    # Requests are answered with or without the prefix, so a proxy may pass
    # the path on as it is or strip it.
    base_path: str = ""


class RateLimiter:
    """In-memory token buckets keyed by anything hashable; thread-safe."""

    def __init__(self, limit: RateLimit, clock=time.monotonic, max_keys: int = 100_000):
        self.capacity = float(limit.requests)
        self.rate = limit.requests / limit.per_seconds
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: dict = {}
        self._lock = threading.Lock()

    def allow(self, key) -> bool:
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[key] = (tokens, now)
            if len(self._buckets) > self.max_keys:
                self._prune(now)
            return allowed

    def _prune(self, now) -> None:
        full = [k for k, (t, last) in self._buckets.items() if t + (now - last) * self.rate >= self.capacity]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) > self.max_keys:  # a flood of distinct keys: keep the newest half
            keep = sorted(self._buckets.items(), key=lambda kv: kv[1][1])[len(self._buckets) // 2 :]
            self._buckets = dict(keep)


class HTTPError(Exception):
    def __init__(self, status: str, message: str, code: int = 0):
        super().__init__(message)
        self.status = status
        self.message = message  # fixed, generic text -- never request data
        self.code = code


class Fault(Exception):
    def __init__(self, code: int, message: str, status: str = "200 OK"):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


BAD_REQUEST = "400 Bad Request"
TOO_LARGE = "413 Content Too Large"

SECURITY_HEADERS = [
    ("X-Content-Type-Options", "nosniff"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
    ("Cache-Control", "no-store"),
    ("Referrer-Policy", "no-referrer"),
]


# --- input decoding ---------------------------------------------------------------


def _content_type(environ) -> tuple[str, dict]:
    msg = Message()
    msg["Content-Type"] = environ.get("CONTENT_TYPE", "") or "application/octet-stream"
    params = {k.lower(): v for k, v in msg.get_params(failobj=[])[1:]}
    return msg.get_content_type().lower(), params


def check_charset(name: str | None, allowed: set[str] = ALLOWED_CHARSETS) -> str:
    """The codec for a declared charset; UTF-7 and anything not on the list
    (including non-ASCII-compatible encodings) is refused."""
    if not name:
        return "utf-8"
    name = name.strip().strip("\"'")
    try:
        codec = codecs.lookup(name).name
    except LookupError:
        raise HTTPError(BAD_REQUEST, "Unsupported character encoding.", -32701) from None
    if codec == "utf-7" or "utf-7" in name.lower().replace("_", "-") or codec not in allowed:
        raise HTTPError(BAD_REQUEST, "Unsupported character encoding.", -32701)
    return codec


def read_body(environ, limit: int) -> bytes:
    """The request body, at most ``limit`` bytes (413 beyond). Checks the
    declared Content-Length and the bytes actually read."""
    stream = environ["wsgi.input"]
    length_text = (environ.get("CONTENT_LENGTH") or "").strip()
    if not length_text:
        if environ.get("wsgi.input_terminated"):
            data = stream.read(limit + 1)
            if len(data) > limit:
                raise HTTPError(TOO_LARGE, "Request body too large.")
            return data
        raise HTTPError("411 Length Required", "Content-Length required.")
    if not length_text.isdigit():
        raise HTTPError(BAD_REQUEST, "Invalid Content-Length.")
    length = int(length_text)
    if length > limit:
        if length <= DRAIN_LIMIT:  # read it away so the client sees our answer
            remaining = length
            while remaining > 0:
                chunk = stream.read(min(65536, remaining))
                if not chunk:
                    break
                remaining -= len(chunk)
        raise HTTPError(TOO_LARGE, "Request body too large.")
    data = stream.read(length) if length else b""
    if len(data) > limit:  # a stream that returned more than asked for
        raise HTTPError(TOO_LARGE, "Request body too large.")
    return data


def parse_form(environ, body: bytes) -> dict[str, str]:
    """application/x-www-form-urlencoded body -> {name: value}; a field sent
    twice, undecodable bytes, UTF-7 or another media type are refused."""
    ctype, params = _content_type(environ)
    if environ.get("CONTENT_TYPE") and ctype != "application/x-www-form-urlencoded":
        raise HTTPError("415 Unsupported Media Type", "Expected a form (application/x-www-form-urlencoded).")
    charset = check_charset(params.get("charset"))
    try:
        text = body.decode(charset, "strict")
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            encoding=charset,
            errors="strict",
            max_num_fields=MAX_FORM_FIELDS,
        )
    except UnicodeDecodeError:
        raise HTTPError(BAD_REQUEST, "The request could not be decoded.") from None
    except ValueError:
        raise HTTPError(BAD_REQUEST, "Too many form fields.") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise HTTPError(BAD_REQUEST, "A form field was sent more than once.")
        form[name] = value
    return form


_XML_DECL = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([^"']*)["'][^>]*\?>""")
_XML_DECL_ANY = re.compile(r"""^\s*<\?xml[^>]*\?>""")


def decode_xml(environ, body: bytes) -> bytes:
    """An XML-RPC body re-encoded as UTF-8 (declaration rewritten). The
    encoding comes from the Content-Type charset, else the XML declaration,
    else UTF-8; UTF-7, UTF-16/32 and exotic encodings are refused."""
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise HTTPError(BAD_REQUEST, "Unsupported character encoding.", -32701)
    if body.startswith(codecs.BOM_UTF8):
        body = body[len(codecs.BOM_UTF8):]
    _, params = _content_type(environ)
    declared = _XML_DECL.match(body)
    from_xml = declared.group(1).decode("ascii", "replace") if declared else None
    from_http = params.get("charset")
    codec = "utf-8"
    for name in (from_xml, from_http):  # both must be acceptable; HTTP's wins
        if name:
            codec = check_charset(name, XML_CHARSETS)
    try:
        text = body.decode(codec, "strict")
    except UnicodeDecodeError:
        raise HTTPError(BAD_REQUEST, "The request could not be decoded.", -32702) from None
    text = _XML_DECL_ANY.sub("", text, count=1)
    return ('<?xml version="1.0" encoding="utf-8"?>' + text).encode("utf-8")


# --- XML-RPC --------------------------------------------------------------------------


def parse_xmlrpc(data: bytes) -> tuple[str, list]:
    """(methodName, params) of an XML-RPC call, parsed with defusedxml: a DTD
    or entity declaration (billion laughs, XXE) is refused before expansion."""
    try:
        root = DET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except (defusedxml.DefusedXmlException, ET.ParseError, ValueError):
        raise Fault(-32700, "Parse error: not well formed.", BAD_REQUEST) from None
    if root.tag != "methodCall":
        raise Fault(-32600, "Invalid XML-RPC request.", BAD_REQUEST)
    name_el = root.find("methodName")
    if name_el is None or not (name_el.text or "").strip():
        raise Fault(-32600, "Invalid XML-RPC request.", BAD_REQUEST)
    params = []
    params_el = root.find("params")
    if params_el is not None:
        for param in params_el.findall("param"):
            value = param.find("value")
            if value is None:
                raise Fault(-32600, "Invalid XML-RPC request.", BAD_REQUEST)
            params.append(_xmlrpc_value(value))
    return name_el.text.strip(), params


def _xmlrpc_value(value):
    """Strings only (explicit <string> or untyped); anything else is kept as
    a marker object so the method can reject it."""
    children = list(value)
    if not children:
        return value.text or ""
    if len(children) == 1 and children[0].tag == "string":
        return children[0].text or ""
    return _NotAString()


class _NotAString:
    pass


def xmlrpc_response(result=None, fault: Fault | None = None) -> bytes:
    if fault is not None:
        payload = xmlrpc.client.dumps(
            xmlrpc.client.Fault(fault.code, fault.message), methodresponse=True, allow_none=False
        )
    else:
        payload = xmlrpc.client.dumps((result,), methodresponse=True)
    return payload.encode("utf-8")  # dumps() writes the <?xml ...?> declaration (UTF-8)


def trackback_response(error: str | None = None) -> bytes:
    if error is None:
        body = "<response><error>0</error></response>"
    else:
        body = f"<response><error>1</error><message>{xmlrpc.client.escape(error)}</message></response>"
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + body + "\n").encode("utf-8")


# --- the application ------------------------------------------------------------------


class LinkbackApp:
    """The WSGI application. ``close()`` stops the webmention workers."""

    def __init__(
        self,
        config: Config,
        store: Store | None = None,
        fetcher: fetch.Fetcher | None = None,
        start_workers: bool = True,
    ):
        self.config = config
        self.store = store or Store(config.db_path)
        self.fetcher = fetcher or fetch.Fetcher(
            allow_loopback=config.allow_loopback,
            timeout=config.fetch_timeout,
            max_bytes=config.fetch_max_bytes,
        )
        self.reviews = ReloadingReviewsIndex(config.reviews_json, config.site_url)
        index = self.reviews.get()  # a broken reviews.json fails here, at start-up
        if not index.reviews:
            logger.warning("%s: no reviews (yet); every ping will be refused", config.reviews_json)
        self.ip_limiter = RateLimiter(config.ip_limit)
        self.pair_limiter = RateLimiter(config.pair_limit)
        self.status_limiter = RateLimiter(config.status_limit)
        self._queue: queue.Queue = queue.Queue()
        self._workers: list[threading.Thread] = []
        if start_workers:
            self.start_workers()

    # --- workers ------------------------------------------------------------------

    def start_workers(self) -> None:
        if self._workers:
            return
        for i in range(max(1, self.config.webmention_workers)):
            worker = threading.Thread(target=self._work, name=f"webmention-{i}", daemon=True)
            worker.start()
            self._workers.append(worker)
        for request in self.store.queued_requests():  # left over from a previous run
            self._queue.put(request.token)

    def close(self) -> None:
        for _ in self._workers:
            self._queue.put(None)
        for worker in self._workers:
            worker.join(timeout=10)
        self._workers = []

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until every queued webmention has been processed."""
        deadline = time.monotonic() + timeout
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._queue.all_tasks_done.wait(remaining)
        return True

    def _work(self) -> None:
        while True:
            token = self._queue.get()
            try:
                if token is None:
                    return
                self.process_webmention(token)
            except Exception:
                logger.exception("webmention %s: processing failed", token)
                try:
                    self.store.finish_request(token, "failed")
                except Exception:
                    logger.exception("webmention %s: cannot record the failure", token)
            finally:
                self._queue.task_done()

    def process_webmention(self, token: str) -> str:
        """Verify one queued webmention; returns its new public status."""
        request = self.store.get_request(token)
        if request is None or request.state != "queued":
            return self.store.request_status(token) or "rejected"
        existing = self.store.find(request.review, request.source)
        try:
            info = verify.verify_source(self.fetcher, request.source, request.target)
        except verify.VerificationError as exc:
            logger.info("webmention %s refused: %s", token, exc)
            if existing and isinstance(exc, (verify.SourceMissing, verify.NoLinkToTarget)):
                # Webmention update semantics: the source was deleted or no
                # longer links here, so its earlier linkback goes away.
                if existing.status in ("pending", "approved"):
                    self.store.set_status(existing.id, "rejected")
            self.store.finish_request(token, "failed", existing.id if existing else None)
            return "rejected"
        if existing is not None:
            linkback_id = existing.id  # still valid: the stored one stands, no duplicate
        else:
            try:
                linkback_id = self.store.add(
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
        self.store.finish_request(token, "verified", linkback_id)
        return self.store.request_status(token)

    # --- WSGI ---------------------------------------------------------------------

    def __call__(self, environ, start_response):
        try:
            status, headers, body = self.dispatch(environ)
        except Exception:
            logger.exception("linkback receiver: unexpected error")
            status, headers, body = "500 Internal Server Error", [("Content-Type", "text/plain; charset=utf-8")], b"Internal error.\n"
        headers = headers + SECURITY_HEADERS + [("Content-Length", str(len(body)))]
        start_response(status, headers)
        return [body] if environ.get("REQUEST_METHOD") != "HEAD" else [b""]

    def dispatch(self, environ):
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = environ.get("PATH_INFO", "") or "/"
        prefix = self.config.base_path.rstrip("/")
        if prefix and path.startswith(prefix + "/"):
            path = path[len(prefix):]
        if path.startswith("/trackback/"):
            slug = path[len("/trackback/"):]
            slug = slug[:-1] if slug.endswith("/") else slug
            return self._post_only(method, self.trackback, environ, slug)
        if path == "/pingback":
            return self._post_only(method, self.pingback, environ)
        if path == "/webmention":
            return self._post_only(method, self.webmention, environ)
        if path.startswith("/webmention/status/"):
            if method not in ("GET", "HEAD"):
                return _text("405 Method Not Allowed", "Method not allowed.", [("Allow", "GET, HEAD")])
            return self.webmention_status(environ, path[len("/webmention/status/"):])
        return _text("404 Not Found", "Not found.")

    def _post_only(self, method, handler, environ, *args):
        if method != "POST":
            return _text("405 Method Not Allowed", "Method not allowed; use POST.", [("Allow", "POST")])
        return handler(environ, *args)

    def client_ip(self, environ) -> str:
        if self.config.trust_forwarded_for:
            forwarded = [p.strip() for p in environ.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
            if forwarded:
                return forwarded[-1]
        return environ.get("REMOTE_ADDR", "")

    # --- TrackBack 1.2 ---------------------------------------------------------------

    def trackback(self, environ, slug: str):
        def reply(status, error=None):
            return status, [("Content-Type", "text/xml; charset=utf-8")], trackback_response(error)

        ip = self.client_ip(environ)
        if not self.ip_limiter.allow(ip):
            return reply("429 Too Many Requests", "Too many requests; try again later.")
        try:
            body = read_body(environ, self.config.max_body_bytes)
            review = self.reviews.get().by_slug.get(slug) if SLUG_RE.match(slug) else None
            if review is None:
                return reply("404 Not Found", "No such review.")
            form = parse_form(environ, body)
        except HTTPError as exc:
            return reply(exc.status, exc.message)
        url = form.get("url", "").strip()
        if not url:
            return reply(BAD_REQUEST, "Missing required field: url.")
        if not is_http_url(url):
            return reply(BAD_REQUEST, "The url must be an http or https URL.")
        url = strip_fragment(url)
        if same_page(url, review.url):
            return reply(BAD_REQUEST, "A review cannot track back to itself.")
        if not self.pair_limiter.allow((url, review.url)):
            return reply("429 Too Many Requests", "Too many requests; try again later.")
        if self.store.exists(review.slug, url):
            return reply("409 Conflict", "This trackback is already registered.")
        try:
            info = verify.verify_source(self.fetcher, url, review.url)
        except verify.VerificationError as exc:
            logger.info("trackback for %s refused: %s", review.slug, exc)
            return reply(BAD_REQUEST, "Sorry, this trackback could not be accepted.")
        try:
            # The sender's title and excerpt are unchecked claims; what the
            # verified page says is what readers will find when they follow it.
            self.store.add(
                review=review.slug,
                source=url,
                target=review.url,
                kind="trackback",
                type="mention",
                title=info.title or plain_text(form.get("title"), TITLE_MAX),
                author=plain_text(form.get("blog_name"), AUTHOR_MAX) or info.author,
                excerpt=info.excerpt or plain_text(form.get("excerpt"), EXCERPT_MAX),
                client_ip=ip,
            )
        except DuplicateLinkback:
            return reply("409 Conflict", "This trackback is already registered.")
        return reply("200 OK")

    # --- Pingback 1.0 -------------------------------------------------------------------

    def pingback(self, environ):
        def reply(result=None, fault=None):
            status = fault.status if fault else "200 OK"
            return status, [("Content-Type", "text/xml; charset=utf-8")], xmlrpc_response(result, fault)

        ip = self.client_ip(environ)
        if not self.ip_limiter.allow(ip):
            return reply(fault=Fault(49, "Access denied: too many requests, try again later."))
        try:
            body = read_body(environ, self.config.max_body_bytes)
            data = decode_xml(environ, body)
        except HTTPError as exc:
            if exc.status == TOO_LARGE:
                return exc.status, [("Content-Type", "text/plain; charset=utf-8")], b"Request body too large.\n"
            return reply(fault=Fault(exc.code or -32700, exc.message, exc.status))
        try:
            method, params = parse_xmlrpc(data)
            if method != "pingback.ping":
                raise Fault(-32601, "Requested method not found.")
            return reply(self.ping(params, ip))
        except Fault as fault:
            return reply(fault=fault)

    def ping(self, params: list, ip: str) -> str:
        if len(params) != 2 or not all(isinstance(p, str) for p in params):
            raise Fault(-32602, "Invalid parameters: expected sourceURI and targetURI strings.")
        source, target = (p.strip() for p in params)
        index = self.reviews.get()
        if not is_http_url(target):
            raise Fault(33, "The specified target URI cannot be used as a target.")
        review = index.review_for_url(target)
        if review is None:
            if index.is_own_url(target):
                raise Fault(32, "The specified target URI does not exist.")
            raise Fault(33, "The specified target URI cannot be used as a target.")
        if not is_http_url(source):
            raise Fault(16, "The source URI does not exist.")
        source = strip_fragment(source)
        if same_page(source, target):
            raise Fault(0, "The source and target URIs are the same.")
        if not self.pair_limiter.allow((source, review.url)):
            raise Fault(49, "Access denied: too many requests, try again later.")
        if self.store.exists(review.slug, source):
            raise Fault(48, "The pingback has already been registered.")
        try:
            info = verify.verify_source(self.fetcher, source, target)
        except verify.VerificationError as exc:
            logger.info("pingback for %s refused: %s", review.slug, exc)
            raise Fault(exc.fault, _FAULT_MESSAGES[exc.fault]) from None
        try:
            self.store.add(
                review=review.slug,
                source=source,
                target=review.url,
                kind="pingback",
                type="mention",
                title=info.title,
                author=info.author,
                excerpt=info.excerpt,
                client_ip=ip,
            )
        except DuplicateLinkback:
            raise Fault(48, "The pingback has already been registered.") from None
        return "Pingback registered; it will appear after moderation."

    # --- Webmention -------------------------------------------------------------------------

    def webmention(self, environ):
        ip = self.client_ip(environ)
        if not self.ip_limiter.allow(ip):
            return _text("429 Too Many Requests", "Too many requests; try again later.", [("Retry-After", "60")])
        try:
            body = read_body(environ, self.config.max_body_bytes)
            form = parse_form(environ, body)
        except HTTPError as exc:
            return _text(exc.status, exc.message)
        source, target = form.get("source", "").strip(), form.get("target", "").strip()
        if not source or not target:
            return _text(BAD_REQUEST, "Both source and target are required.")
        if not is_http_url(source) or not is_http_url(target):
            return _text(BAD_REQUEST, "Source and target must be http or https URLs.")
        source = strip_fragment(source)
        if same_page(source, target):
            return _text(BAD_REQUEST, "Source and target must differ.")
        review = self.reviews.get().review_for_url(target)
        if review is None:
            return _text(BAD_REQUEST, "The target is not a review that accepts webmentions.")
        if not self.pair_limiter.allow((source, review.url)):
            return _text("429 Too Many Requests", "Too many requests; try again later.", [("Retry-After", "60")])
        if self._queue.qsize() >= self.config.max_queued_webmentions:
            return _text("503 Service Unavailable", "Busy; try again later.", [("Retry-After", "120")])
        token = self.store.add_request(source=source, target=target, review=review.slug, client_ip=ip)
        self._queue.put(token)
        prefix = (self.config.base_path or environ.get("SCRIPT_NAME", "")).rstrip("/")
        location = f"{prefix}/webmention/status/{token}"
        payload = {"status": "pending", "location": location}
        return (
            "202 Accepted",
            [("Content-Type", "application/json"), ("Location", location)],
            (json.dumps(payload) + "\n").encode("utf-8"),
        )

    def webmention_status(self, environ, token: str):
        if not self.status_limiter.allow(self.client_ip(environ)):
            return _text("429 Too Many Requests", "Too many requests; try again later.", [("Retry-After", "60")])
        status = self.store.request_status(token) if TOKEN_RE.match(token) else None
        if status is None:
            return _json("404 Not Found", {"error": "not found"})
        return _json("200 OK", {"status": status})


_FAULT_MESSAGES = {
    0: "The pingback could not be accepted.",
    16: "The source URI does not exist.",
    17: "The source URI does not contain a link to the target URI.",
    49: "Access denied.",
    50: "The source could not be retrieved (upstream error).",
}


def _text(status: str, message: str, extra=None):
    return status, [("Content-Type", "text/plain; charset=utf-8")] + (extra or []), (message + "\n").encode("utf-8")


def _json(status: str, payload: dict):
    return status, [("Content-Type", "application/json")], (json.dumps(payload) + "\n").encode("utf-8")


def make_app(config: Config, **kwargs) -> LinkbackApp:
    return LinkbackApp(config, **kwargs)

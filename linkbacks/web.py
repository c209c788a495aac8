"""HTTP in and out for the receiver: reading a bounded request body, decoding
a form or an XML body in an accepted character encoding, and the plain
responses every route shares.

Nothing here echoes request data: error messages are fixed strings.
"""

from __future__ import annotations

import codecs
import json
import logging
import re
from email.message import Message
from urllib.parse import parse_qsl

logger = logging.getLogger(__name__)

DRAIN_LIMIT = 1024 * 1024  # oversize bodies up to this are read and discarded
MAX_FORM_FIELDS = 20

BAD_REQUEST = "400 Bad Request"
TOO_LARGE = "413 Content Too Large"
TOO_MANY = "429 Too Many Requests"

SECURITY_HEADERS = [
    ("X-Content-Type-Options", "nosniff"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
    ("Cache-Control", "no-store"),
    ("Referrer-Policy", "no-referrer"),
]

_ALLOWED_CHARSET_NAMES = (
    "utf-8", "us-ascii", "iso-8859-1", "iso-8859-2", "iso-8859-5", "iso-8859-7",
    "iso-8859-9", "iso-8859-15", "windows-1250", "windows-1251", "windows-1252",
    "windows-1253", "windows-1254", "windows-1257", "koi8-r", "koi8-u", "shift_jis",
    "euc-jp", "euc-kr", "gb2312", "gbk", "gb18030", "big5",
)
ALLOWED_CHARSETS = {codecs.lookup(name).name for name in _ALLOWED_CHARSET_NAMES}
XML_CHARSETS = {codecs.lookup(n).name for n in ("utf-8", "us-ascii", "iso-8859-1", "windows-1252")}


class HTTPError(Exception):
    """A request the receiver refuses; ``code`` is the XML-RPC fault code
    when the refusal is about the encoding (pingback answers with it)."""

    def __init__(self, status: str, message: str, code: int = 0):
        super().__init__(message)
        self.status = status
        self.message = message  # fixed, generic text -- never request data
        self.code = code


# --- Responses: (status, headers, body) ----------------------------------------------


def text_response(status: str, message: str, extra=None):
    return status, [("Content-Type", "text/plain; charset=utf-8")] + (extra or []), (message + "\n").encode("utf-8")


def json_response(status: str, payload: dict, extra=None):
    return status, [("Content-Type", "application/json")] + (extra or []), (json.dumps(payload) + "\n").encode("utf-8")


def xml_response(status: str, body: bytes):
    return status, [("Content-Type", "text/xml; charset=utf-8")], body


# --- Input ------------------------------------------------------------------------------


def content_type(environ) -> tuple[str, dict]:
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
    declared Content-Length and the bytes actually read: a body that stops
    short -- the client closed, went silent past the server's read timeout
    or ran past the request deadline -- is a 400, logged in one line."""
    stream = environ["wsgi.input"]
    length_text = (environ.get("CONTENT_LENGTH") or "").strip()
    if not length_text:
        if environ.get("wsgi.input_terminated"):
            data = _read(stream, limit + 1, None)
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
                try:
                    chunk = stream.read(min(65536, remaining))
                except OSError:
                    break
                if not chunk:
                    break
                remaining -= len(chunk)
        raise HTTPError(TOO_LARGE, "Request body too large.")
    data = _read(stream, length, length) if length else b""
    if len(data) > limit:  # a stream that returned more than asked for
        raise HTTPError(TOO_LARGE, "Request body too large.")
    return data


def _read(stream, size: int, expected: int | None) -> bytes:
    """``size`` bytes from the request body; a body cut short is HTTPError 400."""
    try:
        data = stream.read(size)
    except OSError as exc:  # silent past the read timeout, or past the request deadline
        logger.info("request body incomplete: %s", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        raise HTTPError(BAD_REQUEST, "Request body incomplete.") from None
    if expected is not None and len(data) < expected:
        logger.info("request body incomplete: %d of %d bytes before the client closed", len(data), expected)
        raise HTTPError(BAD_REQUEST, "Request body incomplete.")
    return data


FORM_TYPE = "application/x-www-form-urlencoded"


def parse_form(environ, body: bytes, untyped_ok: bool = False) -> dict[str, str]:
    """application/x-www-form-urlencoded body -> {name: value}; a field sent
    twice, undecodable bytes, UTF-7 or another media type are refused.

    ``untyped_ok``: a body sent without a Content-Type -- which ``wsgiref``
    reports as text/plain -- or as text/plain is read as a form too. TrackBack
    1.2 clients send their form that way; Webmention's spec requires the type."""
    ctype, params = content_type(environ)
    declared = (environ.get("CONTENT_TYPE") or "").strip()
    untyped = not declared or ctype == "text/plain"
    if declared and ctype != FORM_TYPE and not (untyped_ok and untyped):
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
    """An XML body re-encoded as UTF-8 (declaration rewritten). The encoding
    comes from the Content-Type charset, else the XML declaration, else
    UTF-8; UTF-7, UTF-16/32 and exotic encodings are refused."""
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise HTTPError(BAD_REQUEST, "Unsupported character encoding.", -32701)
    if body.startswith(codecs.BOM_UTF8):
        body = body[len(codecs.BOM_UTF8):]
    _, params = content_type(environ)
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

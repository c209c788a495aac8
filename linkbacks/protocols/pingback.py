"""Pingback 1.0: ``POST /pingback`` with the XML-RPC call
``pingback.ping(sourceURI, targetURI)`` -- and nothing else.

Pingback fault codes 0, 16, 17, 32, 33, 48, 49, 50; XML-RPC interop codes
-32700 (unreadable), -32600 (not a methodCall), -32601 (any other method,
``system.multicall`` included -- never executed), -32602 (bad parameters),
-32701/-32702 (encoding).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .. import verify, xmlrpc_codec
from ..store import DuplicateLinkback
from ..targets import identity_url, is_http_url, same_page, strip_fragment
from ..web import TOO_LARGE, HTTPError, decode_xml, read_body, text_response, xml_response
from ..xmlrpc_codec import Fault

if TYPE_CHECKING:
    from ..app import LinkbackApp

logger = logging.getLogger(__name__)

FAULT_MESSAGES = {
    0: "The pingback could not be accepted.",
    16: "The source URI does not exist.",
    17: "The source URI does not contain a link to the target URI.",
    49: "Access denied.",
    50: "The source could not be retrieved (upstream error).",
}


def _reply(result=None, fault: Fault | None = None):
    return xml_response(fault.status if fault else "200 OK", xmlrpc_codec.response(result, fault))


def receive(app: LinkbackApp, environ):
    ip = app.client_ip(environ)
    if not app.ip_limiter.allow(ip):
        return _reply(fault=Fault(49, "Access denied: too many requests, try again later."))
    try:
        body = read_body(environ, app.config.max_body_bytes)
        data = decode_xml(environ, body)
    except HTTPError as exc:
        if exc.status == TOO_LARGE:
            return text_response(exc.status, "Request body too large.")
        return _reply(fault=Fault(exc.code or -32700, exc.message, exc.status))
    try:
        method, params = xmlrpc_codec.parse_call(data)
        if method != "pingback.ping":
            raise Fault(-32601, "Requested method not found.")
        return _reply(ping(app, params, ip))
    except Fault as fault:
        return _reply(fault=fault)


def ping(app: LinkbackApp, params: list, ip: str) -> str:
    """pingback.ping: store the pingback or raise the Fault that says why not."""
    if len(params) != 2 or not all(isinstance(p, str) for p in params):
        raise Fault(-32602, "Invalid parameters: expected sourceURI and targetURI strings.")
    source, target = (p.strip() for p in params)
    index = app.reviews.get()
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
    if not app.pair_limiter.allow((identity_url(source), review.slug)):
        raise Fault(49, "Access denied: too many requests, try again later.")
    if app.store.exists(review.slug, source):
        raise Fault(48, "The pingback has already been registered.")
    try:
        info = verify.verify_source(app.fetcher, source, target)
    except verify.VerificationError as exc:
        logger.info("pingback for %s refused: %s", review.slug, exc)
        raise Fault(exc.fault, FAULT_MESSAGES[exc.fault]) from None
    try:
        app.store.add(
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

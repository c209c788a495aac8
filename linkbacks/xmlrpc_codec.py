"""The little XML-RPC that Pingback needs: reading one method call safely and
writing a result or a fault.

Calls are parsed with defusedxml: a DTD or entity declaration (billion
laughs, XXE) is refused before anything is expanded. Parameters are strings
only; anything else reaches the method as a marker it rejects.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
import xmlrpc.client

import defusedxml
import defusedxml.ElementTree as DET

from .web import BAD_REQUEST


class Fault(Exception):
    """An XML-RPC fault to answer with, and the HTTP status to send it under."""

    def __init__(self, code: int, message: str, status: str = "200 OK"):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class NotAString:
    """A parameter that was not a string (an int, a struct, …)."""


def parse_call(data: bytes) -> tuple[str, list]:
    """(methodName, params) of an XML-RPC call; raises Fault -32700 (not well
    formed) or -32600 (not a methodCall)."""
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
            params.append(_string_value(value))
    return name_el.text.strip(), params


def _string_value(value):
    """Strings only (explicit <string> or untyped)."""
    children = list(value)
    if not children:
        return value.text or ""
    if len(children) == 1 and children[0].tag == "string":
        return children[0].text or ""
    return NotAString()


def response(result=None, fault: Fault | None = None) -> bytes:
    """A methodResponse holding ``result`` or ``fault``, UTF-8 encoded."""
    if fault is not None:
        payload = xmlrpc.client.dumps(
            xmlrpc.client.Fault(fault.code, fault.message), methodresponse=True, allow_none=False
        )
    else:
        payload = xmlrpc.client.dumps((result,), methodresponse=True)
    return payload.encode("utf-8")  # dumps() writes the <?xml ...?> declaration (UTF-8)

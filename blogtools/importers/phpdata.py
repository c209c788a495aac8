"""Reading the PHP-serialized values WordPress keeps in post meta.

`_wp_attachment_metadata` holds an image's size and its resized copies as PHP's
`serialize()` output, e.g. ``a:2:{s:5:"width";i:800;s:6:"height";i:1200;}``.
`unserialize` reads the scalar and array forms into Python values (arrays
become dicts). Objects are never read, string lengths are checked as the byte
counts PHP writes, and nesting is bounded, so a damaged or hostile value is a
`PhpDataError` saying where it went wrong -- never a crash.
"""

from __future__ import annotations

import re

MAX_DEPTH = 32

_NUMBER = re.compile(rb"-?\d+")
_FLOAT = re.compile(rb"-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|-?INF|NAN")


class PhpDataError(ValueError):
    """The value is not PHP-serialized data we can read; says what and where."""


class _Reader:
    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def fail(self, expected: str):
        shown = self.data[self.pos:self.pos + 12].decode("utf-8", "replace") or "the end"
        raise PhpDataError(f"expected {expected} at byte {self.pos}, found {shown!r}")

    def expect(self, token: bytes, what: str | None = None):
        if not self.data.startswith(token, self.pos):
            self.fail(what or repr(token.decode()))
        self.pos += len(token)

    def match(self, pattern: re.Pattern, what: str) -> bytes:
        found = pattern.match(self.data, self.pos)
        if not found:
            self.fail(what)
        self.pos = found.end()
        return found.group()

    def value(self, depth: int = 0):
        if depth > MAX_DEPTH:
            raise PhpDataError(f"nested more than {MAX_DEPTH} levels deep at byte {self.pos}")
        kind = self.data[self.pos:self.pos + 1]
        if kind == b"N":
            self.expect(b"N;")
            return None
        if kind == b"b":
            self.expect(b"b:")
            flag = self.match(re.compile(rb"[01]"), "0 or 1")
            self.expect(b";")
            return flag == b"1"
        if kind == b"i":
            self.expect(b"i:")
            number = int(self.match(_NUMBER, "a whole number"))
            self.expect(b";")
            return number
        if kind == b"d":
            self.expect(b"d:")
            number = float(self.match(_FLOAT, "a number").replace(b"INF", b"inf").replace(b"NAN", b"nan"))
            self.expect(b";")
            return number
        if kind == b"s":
            self.expect(b"s:")
            length = int(self.match(re.compile(rb"\d+"), "a string length"))
            self.expect(b':"')
            end = self.pos + length
            if end > len(self.data) or self.data[end:end + 2] != b'";':
                raise PhpDataError(f"a string at byte {self.pos} is not {length} bytes long "
                                   "(was the export re-encoded or edited by hand?)")
            text = self.data[self.pos:end].decode("utf-8", "replace")
            self.pos = end + 2
            return text
        if kind == b"a":
            self.expect(b"a:")
            count = int(self.match(re.compile(rb"\d+"), "an element count"))
            if count > len(self.data):
                raise PhpDataError(f"an array at byte {self.pos} claims {count} elements")
            self.expect(b":{")
            result = {}
            for _ in range(count):
                key = self.value(depth + 1)
                if not isinstance(key, (int, str)):
                    raise PhpDataError(f"an array key before byte {self.pos} is not a number or a string")
                result[key] = self.value(depth + 1)
            self.expect(b"}", "'}' closing the array")
            return result
        if kind in (b"O", b"C", b"r", b"R"):
            raise PhpDataError(f"holds a PHP object or reference at byte {self.pos}, which is never read")
        self.fail("a PHP value (N, b, i, d, s or a)")


def unserialize(text: str) -> object:
    """The Python value of one PHP-serialized string; raises PhpDataError."""
    data = text.strip().encode("utf-8")
    if not data:
        raise PhpDataError("is empty")
    reader = _Reader(data)
    value = reader.value()
    if reader.pos != len(data):
        raise PhpDataError(f"has {len(data) - reader.pos} unexpected bytes after the value, at byte {reader.pos}")
    return value

"""The moderation queue as data: what each moderation command returns, the
same whether it ran on this machine or on the server over SSH.

``python -m linkbacks.cli <command> --json`` prints these payloads; the
invoke tasks get them from ``LocalQueue`` (the database here) or
``remote.RemoteQueue`` (the receiver's database on the web server) and
format them with ``listing``. A reader's e-mail address and a client's
address never leave the store this way (``PRIVATE_FIELDS``).
"""

from __future__ import annotations

from dataclasses import MISSING, asdict, fields
from typing import Any

from .store import StoredLinkback

PRIVATE_FIELDS = frozenset(("client_ip", "email", "client_hash", "source_key", "text_key"))
# What ``export-records`` tells about a response that is not approved: enough
# for export to know the record is no longer approved, nothing it says.
UNPUBLISHED_FIELDS = ("id", "review", "kind", "type", "status")


def response_fields(row: StoredLinkback) -> dict[str, Any]:
    """A response as JSON-ready data for the moderator: every field but the
    private ones, and ``has_email`` (the reader asked for a notice)."""
    data = {name: value for name, value in asdict(row).items() if name not in PRIVATE_FIELDS}
    data["has_email"] = bool(getattr(row, "email", ""))
    return data


def export_fields(row: StoredLinkback) -> dict[str, Any]:
    """What export needs of a response: all its public fields once approved,
    otherwise only its number, review, kind and status."""
    if row.status == "approved":
        return response_fields(row)
    data = asdict(row)
    return {name: data[name] for name in UNPUBLISHED_FIELDS}


def _blank(field) -> Any:
    if field.default is not MISSING:
        return field.default
    kind = str(field.type)
    return None if "None" in kind else 0 if kind == "int" else ""


def stored_from_fields(data: dict[str, Any]) -> StoredLinkback:
    """A StoredLinkback from its JSON form; fields the other side did not
    send (private ones, or columns one version has and the other not) are
    left blank."""
    return StoredLinkback(**{f.name: data.get(f.name, _blank(f)) for f in fields(StoredLinkback)})


class Snapshot:
    """Responses read from the server, standing in for the store where
    ``moderation.export`` reads one: only ``list`` and ``get``."""

    def __init__(self, rows: list[StoredLinkback]):
        self.rows = list(rows)

    def list(self, status: str | None = None, review: str | None = None) -> list[StoredLinkback]:
        return [row for row in self.rows
                if (status is None or row.status == status) and (review is None or row.review == review)]

    def get(self, linkback_id: int) -> StoredLinkback | None:
        return next((row for row in self.rows if row.id == int(linkback_id)), None)

"""The service secret (``LINKBACKS_SECRET``) and what it keys: the reply
form's time tokens and the hash a client address is stored as.

Under a WSGI server the secret comes from the environment (required there).
``invoke linkbacks.serve`` keeps one in a file beside the database when the
variable is unset, so tokens and client hashes survive a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

MIN_LENGTH = 32
SECRET_FILE_SUFFIX = ".secret"


def secret_file(db_path: Path | str) -> Path:
    """Where ``invoke linkbacks.serve`` keeps the secret: beside the database."""
    db_path = Path(db_path)
    return db_path.with_name(db_path.name + SECRET_FILE_SUFFIX)


def load_or_create(path: Path | str) -> bytes:
    """The secret in ``path``, written there first (owner-only) if missing."""
    path = Path(path)
    try:
        value = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        value = ""
    if len(value) >= MIN_LENGTH:
        return value.encode("ascii")
    value = secrets.token_urlsafe(48)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(value + "\n")
    return value.encode("ascii")


def client_hash(secret: bytes, address: str) -> str:
    """A keyed hash of a client address: the same client gets the same hash
    (rate limits, "returning reader"), and the address cannot be recovered
    from the database without the secret."""
    return hmac.new(secret, b"client\0" + address.encode("utf-8", "replace"), hashlib.sha256).hexdigest()[:32]

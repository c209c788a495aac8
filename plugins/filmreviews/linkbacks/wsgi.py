"""The receiver as a WSGI ``application`` for a production server, configured
by environment variables (a WSGI server passes no arguments):

``LINKBACKS_DB`` (required)
    the SQLite database, e.g. ``/srv/reelnotes/linkbacks.sqlite3``;
``LINKBACKS_REVIEWS_JSON`` (required)
    the ``reviews.json`` of the deployed site, e.g. ``/var/www/reelnotes/reviews.json``;
``LINKBACKS_SITE_URL`` (required)
    the live site's address, e.g. ``https://reelnotes.example.org``;
``LINKBACKS_BASE_PATH`` (optional, default empty)
    the path the proxy serves the receiver under, e.g. ``/linkbacks``;
``LINKBACKS_TRUST_FORWARDED_FOR`` (optional, default ``no``)
    ``yes`` behind a proxy that sets X-Forwarded-For: rate limits then count
    the real client, not the proxy.

    PYTHONPATH=plugins gunicorn --workers 1 --threads 8 --bind 127.0.0.1:8001 \\
        filmreviews.linkbacks.wsgi:application

One worker process: the rate limits and the webmention queue live in the
process (threads are fine). A missing or bad variable raises ``ConfigError``
naming it when the module is imported, so the server refuses to start.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Mapping

from .receiver import Config, LinkbackApp
from .targets import is_http_url

REQUIRED = {
    "LINKBACKS_DB": "the path of the linkbacks SQLite database",
    "LINKBACKS_REVIEWS_JSON": "the path of the deployed site's reviews.json",
    "LINKBACKS_SITE_URL": "the live site's address, e.g. https://reelnotes.example.org",
}
TRUE, FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


class ConfigError(ValueError):
    """An environment variable is missing or has a value the receiver cannot use."""


def config_from_env(environ: Mapping[str, str]) -> Config:
    for name, expected in REQUIRED.items():
        if not environ.get(name, "").strip():
            raise ConfigError(f"{name} is not set: expected {expected}")
    site_url = environ["LINKBACKS_SITE_URL"].strip()
    if not is_http_url(site_url):
        raise ConfigError(f"LINKBACKS_SITE_URL {site_url!r}: expected an absolute http(s) address, "
                          "e.g. https://reelnotes.example.org")
    base_path = environ.get("LINKBACKS_BASE_PATH", "").strip()
    if base_path and not base_path.startswith("/"):
        raise ConfigError(f"LINKBACKS_BASE_PATH {base_path!r}: expected a path starting with /, e.g. /linkbacks")
    trust = environ.get("LINKBACKS_TRUST_FORWARDED_FOR", "").strip().lower()
    if trust not in TRUE + FALSE:
        raise ConfigError(f"LINKBACKS_TRUST_FORWARDED_FOR {trust!r}: expected yes or no")
    return Config(
        db_path=Path(environ["LINKBACKS_DB"].strip()),
        reviews_json=Path(environ["LINKBACKS_REVIEWS_JSON"].strip()),
        site_url=site_url,
        base_path=base_path.rstrip("/"),
        trust_forwarded_for=trust in TRUE,
    )


def make_application(environ: Mapping[str, str] | None = None) -> LinkbackApp:
    """The receiver configured from ``environ`` (default: the process's)."""
    config = config_from_env(os.environ if environ is None else environ)
    try:
        return LinkbackApp(config)
    except sqlite3.DatabaseError as exc:
        raise ConfigError(f"LINKBACKS_DB {str(config.db_path)!r}: not a usable linkbacks database ({exc})") from None
    except ValueError as exc:  # reviews.json present but unreadable
        raise ConfigError(f"LINKBACKS_REVIEWS_JSON: {exc}") from None


application = make_application()

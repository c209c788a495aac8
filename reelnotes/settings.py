"""Every setting the project adds, with its default and what a good value looks like.

The Pelican plugin, the invoke tasks, `blogtools/` and the responses service all
read their settings through this module, so a default is written once:

* `FILMREVIEWS_*` settings live in pelicanconf.py / publishconf.py and reach the
  code as Pelican's settings dict: `setting(settings, NAME)`.
* `LINKBACKS_*` variables configure the receiver when it runs under a WSGI
  server (no settings file there): `receiver_environ(environ)`.

A bad value is a `SettingProblem` naming the setting, the value and what was
expected. The build reports it as a problem and carries on with the default;
the tasks and the service stop with the message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from reelnotes.contract import is_http_url


class SettingProblem(ValueError):
    """A setting whose value cannot be used, with a message naming the setting,
    the value and what was expected. A database URL is named without its
    password."""

    def __init__(self, name: str, value: Any, expected: str):
        self.name, self.value, self.expected = name, value, expected
        shown = redact_database_url(value) if isinstance(value, str) else value
        super().__init__(f"{name}: {shown!r}: expected {expected}")


class MissingSetting(SettingProblem):
    """A required setting (an environment variable) that is not set at all."""

    def __init__(self, name: str, expected: str):
        super().__init__(name, None, expected)
        self.args = (f"{name} is not set: expected {expected}",)


# --- What values look like ------------------------------------------------------

def _whole(value: Any, minimum: int) -> bool:
    # bool is an int to Python, but True related reviews is a mistake, not 1.
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _widths(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and bool(value) and all(_whole(w, 1) for w in value)


def _text(value: Any) -> bool:
    return isinstance(value, str)


def _folder(value: Any) -> bool:
    return isinstance(value, str) and value.strip("/") != ""


def _flag(value: Any) -> bool:
    return isinstance(value, bool)


def _feed_pattern(value: Any) -> bool:
    if value in (None, ""):
        return True  # off
    try:
        return isinstance(value, str) and "{slug}" in value and value.format(slug="x") != ""
    except (KeyError, IndexError, ValueError):
        return False


def _endpoint(value: Any) -> bool:
    return value == "" or (isinstance(value, str) and is_absolute_url(value))


def _browse(value: Any) -> bool:
    return isinstance(value, dict)


def _url_or_off(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _year_pattern(value: Any) -> bool:
    if value in (None, ""):
        return True  # off (a URL), or derived from the URL (a save_as)
    try:
        return isinstance(value, str) and "{year}" in value and value.format(year=2024) != ""
    except (KeyError, IndexError, ValueError):
        return False


# --- The linkbacks database: an SQLite file or a PostgreSQL URL ---------------------

DATABASE_SCHEMES = ("postgresql", "postgres")
DATABASE_EXPECTED = ("the receiver's database: an SQLite file, e.g. 'linkbacks.sqlite3', or a PostgreSQL URL, "
                     "e.g. 'postgresql://reelnotes@db.example.org/reelnotes'")


def is_database_url(value: Any) -> bool:
    """True for a ``postgresql://`` (or ``postgres://``) URL, False for a file path."""
    scheme, sep, _ = str(value).partition("://")
    return bool(sep) and scheme.lower() in DATABASE_SCHEMES


def redact_database_url(value: str) -> str:
    """``value`` fit for a message or a log: a URL's password (in the user
    part or a ``password=`` parameter) becomes ``***``; anything else as is."""
    if "://" not in value:
        return value
    scheme, rest = value.split("://", 1)
    head, question, query = rest.partition("?")
    userinfo, at, host = head.rpartition("@")  # the last @: a password may hold one
    if at and ":" in userinfo:
        userinfo = userinfo.split(":", 1)[0] + ":***"
    query = re.sub(r"(?i)(^|&)(password=)[^&#]*", r"\1\2***", query)
    return f"{scheme}://{userinfo}{at}{host}{question}{query}"


def _database(value: Any) -> bool:
    if not isinstance(value, str) or not value.strip():
        return False
    if "://" not in value:
        return value.strip("/") != ""
    if not is_database_url(value):
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError:
        return False
    return bool(parts.hostname or "host=" in parts.query)


def database_location(value: Any, name: str, root: str | Path | None = None) -> Path | str:
    """A database setting or option, checked: a PostgreSQL URL (kept as a
    string), or an SQLite file (a Path, under ``root`` when relative). A bad
    one is a SettingProblem that never shows a password."""
    text = str(value).strip() if isinstance(value, (str, Path)) else value
    if not _database(text):
        raise SettingProblem(name, text, DATABASE_EXPECTED)
    if is_database_url(text):
        return text
    return Path(root) / text if root is not None else Path(text)


def is_absolute_url(value: str) -> bool:
    """An http(s) address with a host: what feeds, sitemaps and endpoints need."""
    parts = urlsplit(value or "")
    return parts.scheme in ("http", "https") and bool(parts.netloc)


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    expected: str  # completes "expected …" in a problem message
    valid: Callable[[Any], bool]


# Browse pages: where each kind of page goes. A URL ending in "/" is saved as
# "<url>index.html"; "<kind>_save_as" overrides that; an empty URL turns that
# kind of page off.
BROWSE_DEFAULTS = {
    "genre_url": "genres/{slug}/",
    "director_url": "directors/{slug}/",
    "year_url": "years/{slug}/",
    "decade_url": "decades/{slug}/",
    "genres_url": "genres/",
    "directors_url": "directors/",
    "years_url": "years/",  # release years and decades share one index
}
BROWSE_FACETS = ("genre", "director", "year", "decade")

SETTINGS: dict[str, Setting] = {s.name: s for s in (
    # Posters
    Setting("FILMREVIEWS_POSTER_WIDTHS", (185, 342, 500, 780),
            "a list of positive whole pixel widths, e.g. [185, 342, 500, 780]", _widths),
    Setting("FILMREVIEWS_POSTER_JPEG_WIDTHS", (500,),
            "a list of positive whole pixel widths for the JPEG fallback, e.g. [500]", _widths),
    Setting("FILMREVIEWS_POSTER_CACHE", "cache/posters",
            "a folder for encoded poster derivatives, e.g. 'cache/posters'", _folder),
    Setting("FILMREVIEWS_POSTER_OUTPUT", "images/posters/derived",
            "a folder in the output, e.g. 'images/posters/derived'", _folder),
    Setting("FILMREVIEWS_POSTER_MAX_PIXELS", 40_000_000,
            "a whole number of pixels, e.g. 40000000", lambda v: _whole(v, 1)),
    # The content cache (plugins/filmreviews/content_cache.py)
    Setting("FILMREVIEWS_CONTENT_CACHE", True, "True or False", _flag),
    # Browse pages and review pages
    Setting("FILMREVIEWS_BROWSE", BROWSE_DEFAULTS,
            "a dict such as {'genre_url': 'genres/{slug}/'}", _browse),
    Setting("FILMREVIEWS_RELATED_REVIEWS", 4, "a whole number from 0 up", lambda v: _whole(v, 0)),
    # Stats pages: every year, and one per year of watching. None for a
    # save_as means "from the URL" ("stats/" -> "stats/index.html").
    Setting("FILMREVIEWS_STATS_URL", "stats/",
            "a URL such as 'stats/', or '' for no stats pages", _url_or_off),
    Setting("FILMREVIEWS_STATS_SAVE_AS", None,
            "a file in the output such as 'stats/index.html', or None to follow the URL", _url_or_off),
    Setting("FILMREVIEWS_STATS_YEAR_URL", "stats/{year}/",
            "a pattern with {year}, e.g. 'stats/{year}/', or '' for no year pages", _year_pattern),
    Setting("FILMREVIEWS_STATS_YEAR_SAVE_AS", None,
            "a pattern with {year}, e.g. 'stats/{year}/index.html', or None to follow the URL",
            _year_pattern),
    # Feeds
    Setting("FILMREVIEWS_GENRE_FEED_ATOM", "feeds/genres/{slug}.atom.xml",
            "a path with {slug}, e.g. 'feeds/genres/{slug}.atom.xml', or None for no genre feeds",
            _feed_pattern),
    Setting("FILMREVIEWS_GENRE_FEED_RSS", "feeds/genres/{slug}.rss.xml",
            "a path with {slug}, e.g. 'feeds/genres/{slug}.rss.xml', or None for no genre feeds",
            _feed_pattern),
    # Old addresses (content/<table>, written by the importers or by hand)
    Setting("FILMREVIEWS_REDIRECTS", "redirects.csv",
            "a file under content/, e.g. 'redirects.csv', or '' for no redirects", _text),
    Setting("FILMREVIEWS_RESPONSES_FEED", "reviews/{slug}/responses.atom.xml",
            "a path with {slug}, e.g. 'reviews/{slug}/responses.atom.xml', or None for no responses feeds",
            _feed_pattern),
    # Search
    Setting("FILMREVIEWS_SEARCH", True, "True or False", _flag),
    # Linkbacks: the approved records the build reads, and the receiver
    Setting("FILMREVIEWS_LINKBACKS_PATH", "linkbacks",
            "a folder under content/, e.g. 'linkbacks'", _folder),
    Setting("FILMREVIEWS_LINKBACKS_ENDPOINT", "",
            "'' (no receiver) or the receiver's absolute address, e.g. "
            "'https://reelnotes.example.org/linkbacks'", _endpoint),
    Setting("FILMREVIEWS_LINKBACKS_DB", "linkbacks.sqlite3", DATABASE_EXPECTED, _database),
    Setting("FILMREVIEWS_LINKBACKS_SENT_CACHE", ".linkbacks-sent.json",
            "a file remembering sent linkbacks, e.g. '.linkbacks-sent.json'", _folder),
    Setting("FILMREVIEWS_LINKBACKS_PORT", 8001,
            "a port number from 1 to 65535", lambda v: _whole(v, 1) and v <= 65535),
)}


def default(name: str) -> Any:
    """The default of a setting this project adds."""
    return SETTINGS[name].default


def setting(settings: Mapping[str, Any], name: str,
            problems: list[SettingProblem] | None = None) -> Any:
    """`settings[name]`, checked; the default when it is absent.

    A bad value raises SettingProblem, unless a `problems` list is given: then
    the problem is appended to it and the default is returned, so a build can
    report it and carry on.
    """
    spec = SETTINGS[name]
    value = settings.get(name, spec.default)
    if spec.valid(value):
        return value
    problem = SettingProblem(name, value, spec.expected)
    if problems is None:
        raise problem
    problems.append(problem)
    return spec.default


def save_as_for(url: str) -> str:
    """Where a folder-style URL is written: "genres/drama/" -> "genres/drama/index.html"."""
    if not url:
        return ""
    return url + "index.html" if url.endswith("/") else url


def browse_patterns(settings: Mapping[str, Any],
                    problems: list[SettingProblem] | None = None) -> dict[str, str]:
    """FILMREVIEWS_BROWSE merged over BROWSE_DEFAULTS, with every `*_save_as`
    filled in. Bad entries are problems and are ignored (see `setting`)."""
    problems = [] if problems is None else problems
    given = setting(settings, "FILMREVIEWS_BROWSE", problems)
    known = set(BROWSE_DEFAULTS) | {key.replace("_url", "_save_as") for key in BROWSE_DEFAULTS}
    merged = dict(BROWSE_DEFAULTS)
    for key, value in given.items():
        name = f"FILMREVIEWS_BROWSE[{key!r}]"
        if key not in known:
            problems.append(SettingProblem("FILMREVIEWS_BROWSE", key,
                                           "one of " + ", ".join(sorted(known))))
        elif not isinstance(value, str):
            problems.append(SettingProblem(name, value, "a string"))
        elif key.split("_")[0] in BROWSE_FACETS and value and "{slug}" not in value:
            problems.append(SettingProblem(
                name, value, f"a pattern containing {{slug}}, e.g. {BROWSE_DEFAULTS.get(key, '')!r}"))
        else:
            merged[key] = value
    for key in BROWSE_DEFAULTS:
        save_key = key.replace("_url", "_save_as")
        merged.setdefault(save_key, save_as_for(merged[key]))
        if not merged[key]:
            merged[save_key] = ""
    return merged


def stats_patterns(settings: Mapping[str, Any],
                   problems: list[SettingProblem] | None = None) -> dict[str, str]:
    """Where the stats pages go: `url` and `save_as` of the page for every year,
    `year_url` and `year_save_as` (patterns with {year}) of the year pages. An
    empty `url` turns every stats page off; an empty `year_url` the year pages."""
    url = setting(settings, "FILMREVIEWS_STATS_URL", problems) or ""
    year_url = setting(settings, "FILMREVIEWS_STATS_YEAR_URL", problems) or ""
    save_as = setting(settings, "FILMREVIEWS_STATS_SAVE_AS", problems) or save_as_for(url)
    year_save_as = setting(settings, "FILMREVIEWS_STATS_YEAR_SAVE_AS", problems) or save_as_for(year_url)
    if not url:
        return {"url": "", "save_as": "", "year_url": "", "year_save_as": ""}
    if not year_url:
        year_save_as = ""
    return {"url": url, "save_as": save_as, "year_url": year_url, "year_save_as": year_save_as}


def port_number(value: Any, name: str = "--port") -> int:
    """A TCP port from a command line or a setting, or SettingProblem."""
    try:
        port = int(str(value).strip())
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise SettingProblem(name, value, "a port number from 1 to 65535")
    return port


def url_path(value: Any, name: str) -> str:
    """A public path prefix such as "/linkbacks" ("" for none), without a
    trailing slash, or SettingProblem."""
    text = str(value or "").strip()
    if text and not text.startswith("/"):
        raise SettingProblem(name, value, "a path starting with /, e.g. /linkbacks, or nothing")
    return text.rstrip("/")


# --- The receiver under a WSGI server ----------------------------------------------
# A WSGI server passes no arguments and reads no settings file: the receiver
# is configured by LINKBACKS_* environment variables instead.

RECEIVER_REQUIRED = {
    "LINKBACKS_DB": "the linkbacks database: an SQLite file's path or a postgresql:// URL",
    "LINKBACKS_REVIEWS_JSON": "the path of the deployed site's reviews.json",
    "LINKBACKS_SITE_URL": "the live site's address, e.g. https://reelnotes.example.org",
    "LINKBACKS_SECRET": "a random string of at least 32 characters that keys the reply form's tokens and "
                        "the client hashes, e.g. from: python -c 'import secrets; print(secrets.token_urlsafe(48))'",
}
RECEIVER_OPTIONAL = {  # name: default
    "LINKBACKS_BASE_PATH": "",
    "LINKBACKS_TRUST_FORWARDED_FOR": "no",
    "LINKBACKS_SITE_NAME": "",  # the reply pages' header; empty: the site's host name
}
SECRET_MIN_LENGTH = 32
_YES, _NO = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


@dataclass(frozen=True)
class ReceiverEnviron:
    """The receiver's configuration, read from LINKBACKS_* variables."""

    db: Path | str  # an SQLite file, or a postgresql:// URL
    reviews_json: Path
    site_url: str
    base_path: str
    trust_forwarded_for: bool
    secret: bytes = b""
    site_name: str = ""


def receiver_environ(environ: Mapping[str, str]) -> ReceiverEnviron:
    """The LINKBACKS_* variables, checked; a missing or bad one raises
    SettingProblem naming it."""
    for name, expected in RECEIVER_REQUIRED.items():
        if not environ.get(name, "").strip():
            raise MissingSetting(name, expected)
    site_url = environ["LINKBACKS_SITE_URL"].strip()
    if not is_http_url(site_url):
        raise SettingProblem("LINKBACKS_SITE_URL", site_url,
                             "an absolute http(s) address, e.g. https://reelnotes.example.org")
    secret = environ["LINKBACKS_SECRET"].strip()
    if len(secret) < SECRET_MIN_LENGTH:
        # The value itself is never printed: it is a secret, even a short one.
        raise SettingProblem("LINKBACKS_SECRET", f"<{len(secret)} characters>", RECEIVER_REQUIRED["LINKBACKS_SECRET"])
    values = {name: environ.get(name, fallback) for name, fallback in RECEIVER_OPTIONAL.items()}
    trust = values["LINKBACKS_TRUST_FORWARDED_FOR"].strip().lower()
    if trust not in _YES + _NO:
        raise SettingProblem("LINKBACKS_TRUST_FORWARDED_FOR", trust, "yes or no")
    return ReceiverEnviron(
        db=database_location(environ["LINKBACKS_DB"], "LINKBACKS_DB"),
        reviews_json=Path(environ["LINKBACKS_REVIEWS_JSON"].strip()),
        site_url=site_url,
        base_path=url_path(values["LINKBACKS_BASE_PATH"], "LINKBACKS_BASE_PATH"),
        trust_forwarded_for=trust in _YES,
        secret=secret.encode("utf-8"),
        site_name=values["LINKBACKS_SITE_NAME"].strip(),
    )


def _given(settings: Mapping[str, Any], environ: Mapping[str, str], name: str, fallback: Any = "") -> str:
    """A setting as text: the environment variable of the same name wins over
    publishconf.py, even when it is empty (that switches it off for one run)."""
    if name in environ:
        return str(environ[name]).strip()
    value = settings.get(name, fallback)
    return "" if value is None else str(value).strip()


# --- Moderation from the writer's machine -------------------------------------------
# The receiver's database lives on the web server. With these two set (in
# publishconf.py or the environment), the linkbacks.* tasks run
# `python -m linkbacks.cli` there over the SSH access `invoke publish` uses
# (PUBLISH_SSH_HOST, _PORT, _USER, _OPTIONS).

REMOTE_SETTINGS = {
    "LINKBACKS_REMOTE_PYTHON": "the Python of the receiver's virtualenv on the server, "
                               "e.g. /srv/reelnotes/.venv/bin/python",
    "LINKBACKS_REMOTE_DB": "the receiver's database on the server (its LINKBACKS_DB), "
                           "e.g. /srv/reelnotes/linkbacks.sqlite3 or postgresql://reelnotes@db.internal/reelnotes",
}


@dataclass(frozen=True)
class RemoteModeration:
    """Where and how to reach the receiver's database over SSH."""

    host: str
    port: int
    user: str
    ssh_options: tuple[str, ...]
    python: str
    db: str

    def __str__(self) -> str:
        return f"{self.user}@{self.host}:{self.db}"


def remote_moderation(settings: Mapping[str, Any], environ: Mapping[str, str]) -> RemoteModeration | None:
    """The SSH route to the receiver's database, or None when
    LINKBACKS_REMOTE_PYTHON and LINKBACKS_REMOTE_DB are both empty (the
    tasks then use the database on this machine). Half a configuration is a
    SettingProblem naming what is missing."""
    import shlex

    values = {name: _given(settings, environ, name) for name in REMOTE_SETTINGS}
    if not any(values.values()):
        return None
    for name, expected in REMOTE_SETTINGS.items():
        if not values[name]:
            raise MissingSetting(name, f"{expected}, since {'/'.join(n for n in values if values[n])} is set "
                                       "(set both in publishconf.py to moderate on the server, or neither)")
    remote_db = values["LINKBACKS_REMOTE_DB"]
    if is_database_url(remote_db):
        # It travels on the ssh command line: the server's ~/.pgpass or
        # PGPASSWORD gives the password, never the URL.
        if not _database(remote_db) or redact_database_url(remote_db) != remote_db:
            raise SettingProblem("LINKBACKS_REMOTE_DB", remote_db,
                                 "a postgresql:// URL without a password (keep it in the server's ~/.pgpass), "
                                 "e.g. postgresql://reelnotes@db.internal/reelnotes")
    elif not remote_db.startswith("/"):
        raise SettingProblem("LINKBACKS_REMOTE_DB", remote_db,
                             "an absolute path on the server, e.g. /srv/reelnotes/linkbacks.sqlite3, "
                             "or the receiver's postgresql:// URL")
    ssh = {name: _given(settings, environ, name) for name in ("PUBLISH_SSH_HOST", "PUBLISH_SSH_USER")}
    for name, value in ssh.items():
        if not value:
            raise MissingSetting(name, "the server to moderate on over SSH, as for `invoke publish` "
                                       "(or empty LINKBACKS_REMOTE_PYTHON and LINKBACKS_REMOTE_DB)")
    port = port_number(_given(settings, environ, "PUBLISH_SSH_PORT", 22), "PUBLISH_SSH_PORT")
    options = _given(settings, environ, "PUBLISH_SSH_OPTIONS")
    try:
        ssh_options = tuple(shlex.split(options))
    except ValueError as exc:
        raise SettingProblem("PUBLISH_SSH_OPTIONS", options, f"ssh arguments ({exc})") from None
    return RemoteModeration(host=ssh["PUBLISH_SSH_HOST"], port=port, user=ssh["PUBLISH_SSH_USER"],
                            ssh_options=ssh_options, python=values["LINKBACKS_REMOTE_PYTHON"],
                            db=remote_db)


# --- Notices: e-mail about new responses ----------------------------------------------
# Read from publishconf.py on the writer's machine (`invoke linkbacks.serve`)
# and from the environment of the receiver and of the `notify` cron job on the
# server -- the environment wins. The password only ever comes from the
# environment (LINKBACKS_SMTP_PASSWORD), never from a file in the repository.

NOTICE_DEFAULTS = {
    "LINKBACKS_SMTP_HOST": "",  # empty: no notices
    "LINKBACKS_SMTP_PORT": 587,
    "LINKBACKS_SMTP_USER": "",  # empty: no login
    "LINKBACKS_SMTP_SECURITY": "starttls",
    "LINKBACKS_NOTIFY_FROM": "",
    "LINKBACKS_NOTIFY_TO": "",
    "LINKBACKS_NOTIFY_MODE": "each",
}
SMTP_SECURITY = ("starttls", "ssl", "none")
NOTIFY_MODES = ("each", "daily")


@dataclass(frozen=True)
class NoticeSettings:
    """How notices are sent: the SMTP server and the writer's addresses."""

    host: str
    port: int
    user: str
    password: str
    security: str  # starttls | ssl | none
    sender: str
    recipients: tuple[str, ...]
    mode: str  # each (a mail per response) | daily (one digest a day)


def _address(value: str) -> bool:
    from email.utils import parseaddr

    name, address = parseaddr(value)
    return "@" in address and not any(ch in value for ch in "\r\n")


def notice_settings(settings: Mapping[str, Any], environ: Mapping[str, str]) -> NoticeSettings | None:
    """The notice settings, checked, or None when LINKBACKS_SMTP_HOST is empty
    (notices off: they wait in the outbox). A bad value is a SettingProblem."""
    values = {name: _given(settings, environ, name, fallback) for name, fallback in NOTICE_DEFAULTS.items()}
    if not values["LINKBACKS_SMTP_HOST"]:
        return None
    port = port_number(values["LINKBACKS_SMTP_PORT"], "LINKBACKS_SMTP_PORT")
    security = values["LINKBACKS_SMTP_SECURITY"].lower()
    if security not in SMTP_SECURITY:
        raise SettingProblem("LINKBACKS_SMTP_SECURITY", security, "one of " + ", ".join(SMTP_SECURITY))
    mode = values["LINKBACKS_NOTIFY_MODE"].lower()
    if mode not in NOTIFY_MODES:
        raise SettingProblem("LINKBACKS_NOTIFY_MODE", mode, "each (a mail per response) or daily (a digest)")
    sender = values["LINKBACKS_NOTIFY_FROM"]
    if not _address(sender):
        raise SettingProblem("LINKBACKS_NOTIFY_FROM", sender, "the address notices come from, "
                                                              "e.g. Reel Notes <notices@reelnotes.example.org>")
    recipients = tuple(part.strip() for part in values["LINKBACKS_NOTIFY_TO"].split(",") if part.strip())
    if not recipients or not all(_address(r) for r in recipients):
        raise SettingProblem("LINKBACKS_NOTIFY_TO", values["LINKBACKS_NOTIFY_TO"],
                             "the writer's address(es), comma-separated, e.g. marta@example.org")
    return NoticeSettings(host=values["LINKBACKS_SMTP_HOST"], port=port, user=values["LINKBACKS_SMTP_USER"],
                          password=environ.get("LINKBACKS_SMTP_PASSWORD", ""), security=security,
                          sender=sender, recipients=recipients, mode=mode)

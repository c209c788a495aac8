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

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


class SettingProblem(ValueError):
    """A setting whose value cannot be used, with a message naming the setting,
    the value and what was expected."""

    def __init__(self, name: str, value: Any, expected: str):
        self.name, self.value, self.expected = name, value, expected
        super().__init__(f"{name}: {value!r}: expected {expected}")


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
    # Feeds
    Setting("FILMREVIEWS_GENRE_FEED_ATOM", "feeds/genres/{slug}.atom.xml",
            "a path with {slug}, e.g. 'feeds/genres/{slug}.atom.xml', or None for no genre feeds",
            _feed_pattern),
    Setting("FILMREVIEWS_GENRE_FEED_RSS", "feeds/genres/{slug}.rss.xml",
            "a path with {slug}, e.g. 'feeds/genres/{slug}.rss.xml', or None for no genre feeds",
            _feed_pattern),
    # Search
    Setting("FILMREVIEWS_SEARCH", True, "True or False", _flag),
    # Linkbacks: the approved records the build reads, and the receiver
    Setting("FILMREVIEWS_LINKBACKS_PATH", "linkbacks",
            "a folder under content/, e.g. 'linkbacks'", _folder),
    Setting("FILMREVIEWS_LINKBACKS_ENDPOINT", "",
            "'' (no receiver) or the receiver's absolute address, e.g. "
            "'https://reelnotes.example.org/linkbacks'", _endpoint),
    Setting("FILMREVIEWS_LINKBACKS_DB", "linkbacks.sqlite3",
            "the receiver's database file, e.g. 'linkbacks.sqlite3'", _folder),
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


def port_number(value: Any, name: str = "--port") -> int:
    """A TCP port from a command line or a setting, or SettingProblem."""
    try:
        port = int(str(value).strip())
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise SettingProblem(name, value, "a port number from 1 to 65535")
    return port

"""The importers' view of the rest of the project, in one place.

Everything the importers use from the site's own code is imported here and
nowhere else -- the review rules, the response records and their store, the
safe fetcher, the redirect table, the poster generator, the settings reader --
so that when those modules move only this file changes. `Site` holds the settings an import needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from blogtools.sample_posters import JPEG_OPTIONS, draw_poster, read_front_matter
from blogtools.site_settings import SettingsError, read_site_settings
from filmreviews.posters.decode import SOURCE_FORMATS
from filmreviews.redirects import dump_table, parse_table
from filmreviews.review import FIRST_FILM_YEAR, parse_review
from linkbacks.fetch import Fetcher, FetchError
from linkbacks.store import Store
from reelnotes.contract import (
    AUTHOR_MAX,
    EXCERPT_MAX,
    TITLE_MAX,
    Linkback,
    LinkbackDataError,
)
from reelnotes.contract import clean_display_text as plain_text
from reelnotes.contract import dump as dump_linkbacks

from .errors import ImportFailed

__all__ = [
    "AUTHOR_MAX", "EXCERPT_MAX", "FIRST_FILM_YEAR", "JPEG_OPTIONS", "SOURCE_FORMATS", "TITLE_MAX",
    "FetchError", "Fetcher", "Linkback", "LinkbackDataError", "Site", "Store", "draw_poster",
    "dump_linkbacks", "dump_table", "load_site", "parse_review", "parse_table", "plain_text",
    "read_front_matter",
]


@dataclass
class Site:
    root: Path
    content: Path
    settings: dict
    timezone: ZoneInfo
    production_url: str  # SITEURL from publishconf.py ("" if it cannot be read)

    @property
    def reviews_dir(self) -> str:
        return (self.settings.get("ARTICLE_PATHS") or ["reviews"])[0].strip("/") or "reviews"

    @property
    def pages_dir(self) -> str:
        return (self.settings.get("PAGE_PATHS") or ["pages"])[0].strip("/") or "pages"

    @property
    def linkbacks_dir(self) -> str:
        return self.settings.get("FILMREVIEWS_LINKBACKS_PATH", "linkbacks") or "linkbacks"

    @property
    def redirect_table(self) -> str:
        return self.settings.get("FILMREVIEWS_REDIRECTS", "redirects.csv") or "redirects.csv"

    @property
    def linkbacks_db(self) -> Path:
        return self.root / self.settings.get("FILMREVIEWS_LINKBACKS_DB", "linkbacks.sqlite3")

    def existing_slugs(self, folder: str, ours: set[str]) -> set[str]:
        """Slugs and file names the writer's own files in content/`folder` use
        (files in `ours`, written by an earlier import, do not count)."""
        taken = set()
        for path in sorted((self.content / folder).glob("*.md")):
            if path.relative_to(self.content).as_posix() in ours:
                continue
            taken.add(path.stem)
            try:
                slug = read_front_matter(path).get("slug", "").strip()
            except (OSError, UnicodeDecodeError):
                slug = ""
            if slug:
                taken.add(slug)
        return taken

    def slugify(self, text: str) -> str:
        from pelican.utils import slugify

        return slugify(text, regex_subs=self.settings.get("SLUG_REGEX_SUBSTITUTIONS", ()))

    def url(self, pattern_key: str, slug: str, default: str) -> str:
        """A content URL as a site path, e.g. url("ARTICLE_URL", "her-2013", ...) -> "/reviews/her-2013/"."""
        pattern = self.settings.get(pattern_key) or default
        try:
            return "/" + pattern.format(slug=slug).lstrip("/")
        except (KeyError, IndexError, ValueError):
            return "/" + default.format(slug=slug).lstrip("/")


def load_site(root: Path, settings_file: str = "pelicanconf.py") -> Site:
    root = Path(root).resolve()
    try:
        settings = read_site_settings(settings_file, root)
    except (FileNotFoundError, SettingsError) as exc:
        raise ImportFailed(str(exc)) from None
    try:
        zone = ZoneInfo(settings.get("TIMEZONE") or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise ImportFailed(f"{settings_file}: TIMEZONE: {settings.get('TIMEZONE')!r}: expected a time zone "
                           "name such as Europe/Warsaw") from None
    try:
        production = read_site_settings("publishconf.py", root).get("SITEURL", "") or ""
    except (FileNotFoundError, SettingsError):
        production = ""
    content = Path(settings["PATH"])
    if not content.is_absolute():
        content = root / content
    return Site(root, content, settings, zone, production.rstrip("/"))

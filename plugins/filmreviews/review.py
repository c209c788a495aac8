"""The review model: front matter in, one validated `Review` record out.

Every field a writer can put in a review's front matter is parsed here, once.
Templates, feeds and structured data read the record; nothing downstream parses
metadata strings again. Problems are collected, never raised, so one build
reports every broken field in every file.
"""

from __future__ import annotations

import datetime as dt
import difflib
import html
import re
from dataclasses import dataclass, field
from pathlib import Path

from .problems import Problem

# Fields a review may carry, in the casing writers use in front matter.
REVIEW_FIELDS = (
    "Title", "Date", "Movie", "Year", "Director", "Cast", "Genre", "Runtime",
    "Country", "Language", "Rating", "Poster", "Poster_Alt", "Watched",
    "Rewatch", "IMDb", "TMDB", "Tags", "Summary", "Status",
)
# Pelican's own metadata, accepted without complaint.
PELICAN_FIELDS = (
    "Slug", "Modified", "Author", "Authors", "Category", "Lang", "Template",
    "Save_as", "URL", "Translation",
)
KNOWN_FIELDS = {name.lower(): name for name in REVIEW_FIELDS + PELICAN_FIELDS}
# Metadata Pelican or its readers add by themselves.
IMPLICIT_FIELDS = {"reader", "private"}
# Fields Pelican itself reads as lists (every other field is written once).
LIST_FIELDS = {"tags", "authors"}
STATUSES = ("published", "draft", "hidden")

FIRST_FILM_YEAR = 1888
RATING_STEP = 0.5
MAX_RATING = 5.0
YES = {"yes", "true", "y", "1"}
NO = {"no", "false", "n", "0"}
TAG_RE = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class Review:
    """What the site knows about the film a review is about."""

    movie: str
    year: int | None = None
    directors: tuple[str, ...] = ()
    cast: tuple[str, ...] = ()
    genres: tuple[str, ...] = ()
    runtime: int | None = None
    country: str = ""
    language: str = ""
    rating: float | None = None
    poster: str | None = None  # path relative to content/, e.g. images/posters/her-2013.jpg
    poster_alt: str = ""
    watched: dt.date | None = None
    rewatch: bool = False
    imdb: str | None = None
    tmdb: str | None = None
    problems: tuple[Problem, ...] = field(default=(), compare=False)

    @property
    def is_valid(self) -> bool:
        return not self.problems

    @property
    def film_key(self) -> tuple[str, int | None]:
        """Identifies the film, so two reviews of it can find each other."""
        return (self.movie.casefold(), self.year)

    @property
    def rating_label(self) -> str:
        """The rating as words, e.g. "3.5 out of 5"; empty when unrated."""
        if self.rating is None:
            return ""
        value = f"{self.rating:g}"
        return f"{value} out of {MAX_RATING:g}"

    @property
    def stars(self) -> str:
        """The rating as stars, e.g. "★★★½"; empty when unrated."""
        if self.rating is None:
            return ""
        whole = int(self.rating)
        return "★" * whole + ("½" if self.rating - whole else "")

    @property
    def imdb_url(self) -> str | None:
        return f"https://www.imdb.com/title/{self.imdb}/" if self.imdb else None

    @property
    def tmdb_url(self) -> str | None:
        return f"https://www.themoviedb.org/movie/{self.tmdb}" if self.tmdb else None

    @property
    def decade(self) -> int | None:
        return self.year - self.year % 10 if self.year else None

    @property
    def countries(self) -> tuple[str, ...]:
        """Country as names: a co-production is written "United Kingdom, United States"."""
        return tuple(split_list(self.country))

    @property
    def languages(self) -> tuple[str, ...]:
        """Language as names, comma-separated like Country."""
        return tuple(split_list(self.language))


def text_of_html(markup: str) -> str:
    """The text a reader sees in an HTML fragment, for <title>, alt, meta tags
    and feed titles: tags dropped, entities decoded, whitespace collapsed.

    Typogrify runs on titles and summaries; its <span class="caps"> and
    &nbsp; must not leak into places that cannot hold markup. The result is
    text, not markup ("&lt;" comes back as "<"): escape it where it goes.
    Untrusted input from other sites uses reelnotes.contract.clean_display_text,
    which also guarantees the result can never be markup.
    """
    text = html.unescape(TAG_RE.sub("", str(markup)))
    return " ".join(text.replace("\xa0", " ").split())


def split_list(value) -> list[str]:
    if isinstance(value, (list, tuple)):
        items = [str(v) for v in value]
    else:
        items = str(value).split(",")
    return [text_of_html(item) for item in items if text_of_html(item)]


def default_movie(title: str) -> str:
    """The film's name: the title without a trailing year or review wording."""
    name = re.sub(r",?\s*(online\s+)?(movie\s+)?review\s*$", "", title, flags=re.I)
    name = re.sub(r"\s*\(?\b(1[89]\d\d|2\d\d\d)\)?\s*$", "", name)
    return name.strip() or title


class _Parser:
    """Reads one review's metadata, recording a Problem for each bad field."""

    def __init__(self, metadata: dict, source_path: str, today: dt.date, content_root: Path | None):
        self.metadata = metadata
        self.source_path = source_path
        self.today = today
        self.content_root = content_root
        self.problems: list[Problem] = []

    def raw(self, name: str):
        value = self.metadata.get(name.lower())
        # The Markdown reader hands a field written twice over as a list.
        if isinstance(value, list) and name.lower() not in LIST_FIELDS:
            return value[0] if value else None
        return value

    def text(self, name: str) -> str:
        value = self.raw(name)
        return text_of_html(value) if value is not None else ""

    def problem(self, name: str, value, expected: str) -> None:
        self.problems.append(Problem(self.source_path, name, text_of_html(value or ""), expected))

    def integer(self, name: str, low: int, high: int, expected: str) -> int | None:
        value = self.text(name)
        if not value:
            return None
        if not value.isdigit() or not low <= int(value) <= high:
            self.problem(name, value, expected)
            return None
        return int(value)

    def date(self, name: str) -> dt.date | None:
        value = self.raw(name)
        if value in (None, ""):
            return None
        if isinstance(value, dt.datetime):
            return value.date()
        try:
            return dt.date.fromisoformat(text_of_html(value))
        except ValueError:
            self.problem(name, value, "a date like 2024-02-28")
            return None

    def rating(self) -> float | None:
        value = self.text("Rating")
        if not value:
            return None
        try:
            rating = float(value)
        except ValueError:
            rating = -1.0
        if not (RATING_STEP <= rating <= MAX_RATING) or (rating / RATING_STEP) % 1:
            self.problem("Rating", value, "a number from 0.5 to 5 in steps of 0.5, or no Rating line")
            return None
        return rating

    def boolean(self, name: str) -> bool:
        value = self.text(name).lower()
        if not value or value in NO:
            return False
        if value in YES:
            return True
        self.problem(name, value, "yes or no")
        return False

    def pattern(self, name: str, regex: str, expected: str) -> str | None:
        value = self.text(name)
        if not value:
            return None
        if not re.fullmatch(regex, value):
            self.problem(name, value, expected)
            return None
        return value

    def poster(self) -> str | None:
        value = self.text("Poster")
        if not value:
            self.problem("Poster", "", "a poster image path under content/images/, e.g. images/posters/her-2013.jpg")
            return None
        path = value.removeprefix("{static}").lstrip("/")
        if not path.startswith("images/") or ".." in Path(path).parts:
            self.problem("Poster", value, "a path under content/images/, e.g. images/posters/her-2013.jpg")
            return None
        if self.content_root is not None and not (self.content_root / path).is_file():
            self.problem("Poster", value, f"an existing file (content/{path} does not exist)")
            return None
        return path

    def required_and_repeated(self) -> None:
        if not self.text("Title"):
            self.problem("Title", "", "the review's title, e.g. Her 2013, online movie review")
        if self.raw("Date") is None:
            self.problem("Date", "", "the publication date, e.g. 2024-03-02 20:15")
        status = self.text("Status")
        if status and status not in STATUSES:
            self.problem("Status", status, "published, draft or hidden (or no Status line)")
        for key, value in self.metadata.items():
            if isinstance(value, list) and key not in LIST_FIELDS:
                name = KNOWN_FIELDS.get(key, key.capitalize())
                self.problems.append(Problem(
                    self.source_path, name, ", ".join(text_of_html(v) for v in value),
                    f"the field once (it is given {len(value)} times)"))

    def unknown_fields(self) -> None:
        for key in self.metadata:
            if key in KNOWN_FIELDS or key in IMPLICIT_FIELDS:
                continue
            close = difflib.get_close_matches(key, KNOWN_FIELDS, n=1, cutoff=0.6)
            hint = f"did you mean {KNOWN_FIELDS[close[0]]}?" if close else "one of " + ", ".join(REVIEW_FIELDS)
            self.problems.append(
                Problem(self.source_path, key.capitalize(), text_of_html(self.metadata[key]),
                        f"a known field ({hint})")
            )

    def review(self) -> Review:
        title = self.text("Title")
        movie = self.text("Movie") or default_movie(title)
        year = self.integer("Year", FIRST_FILM_YEAR, self.today.year + 1,
                            f"a year from {FIRST_FILM_YEAR} to {self.today.year + 1}")
        if self.raw("Year") is None:
            self.problem("Year", "", "the film's release year, e.g. 2013")
        directors = tuple(split_list(self.raw("Director") or ""))
        if not directors:
            self.problem("Director", "", "one or more director names, comma-separated")
        poster = self.poster()
        alt = self.text("Poster_Alt") or (f"Poster for {movie} ({year})" if year else f"Poster for {movie}")
        self.required_and_repeated()
        self.unknown_fields()
        return Review(
            movie=movie,
            year=year,
            directors=directors,
            cast=tuple(split_list(self.raw("Cast") or "")),
            genres=tuple(split_list(self.raw("Genre") or "")),
            runtime=self.integer("Runtime", 1, 1500, "the running time in whole minutes, e.g. 126"),
            country=self.text("Country"),
            language=self.text("Language"),
            rating=self.rating(),
            poster=poster,
            poster_alt=alt,
            watched=self.date("Watched"),
            rewatch=self.boolean("Rewatch"),
            imdb=self.pattern("IMDb", r"tt\d{5,10}", "an IMDb id: tt followed by digits, e.g. tt1798709"),
            tmdb=self.pattern("TMDB", r"\d{1,10}", "a TMDB movie id: digits only, e.g. 152601"),
            problems=tuple(self.problems),
        )


def parse_review(metadata: dict, source_path: str, *, content_root: Path | None = None,
                 today: dt.date | None = None) -> Review:
    """Build the Review for one article's metadata (keys lowercased, as Pelican gives them).

    `content_root` enables the check that the poster file exists.
    """
    parser = _Parser(metadata, source_path, today or dt.date.today(), content_root)
    return parser.review()

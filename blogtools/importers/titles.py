"""Guessing the film and its year from a blog post's title.

Writers title their reviews in a handful of ways: "Her 2013, online movie
review", "Her (2013) review", "Review: Her (2013)", "Her [2013] – a review",
"Movie review: Her". `guess_film` strips the review wording, finds a release
year where one is written, and says which rule it used, so the import report
can list every guess.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

FIRST_FILM_YEAR = 1888  # the review model's lower bound

# Wording around the film's name that is about the post, not the film.
_REVIEW_WORDS = r"(?:(?:an?\s+|my\s+|the\s+)?(?:online\s+|short\s+|quick\s+|full\s+)?(?:movie\s+|film\s+)?review)"
_PREFIX = re.compile(rf"^\s*{_REVIEW_WORDS}\s*(?:[:\-–—|]\s*|\bof\s+)", re.I)
_SUFFIX = re.compile(rf"(?:\s*[,:\-–—|]\s*|\s+){_REVIEW_WORDS}\s*[.!]?\s*$", re.I)
_YEAR = r"(1[89]\d\d|2\d\d\d)"
_BRACKETED_YEAR = re.compile(rf"\s*[(\[]\s*{_YEAR}\s*[)\]]\s*$")
_TRAILING_YEAR = re.compile(rf"(?:\s*,\s*|\s+){_YEAR}\s*$")


@dataclass(frozen=True)
class FilmGuess:
    movie: str
    year: int | None
    rule: str  # how it was read, for the report

    def describe(self, title: str) -> str:
        year = f", Year {self.year}" if self.year else ", no Year"
        return f"Movie {self.movie!r}{year} from the title {title!r} ({self.rule})"


def clean_title(raw: str) -> str:
    """A post title as plain text: entities decoded, tags dropped, single spaces."""
    text = html.unescape(re.sub(r"<[^>]+>", "", raw or ""))
    return " ".join(text.replace("\xa0", " ").split())


def _plausible(year: int, latest: int) -> bool:
    return FIRST_FILM_YEAR <= year <= latest


def guess_film(title: str, latest_year: int) -> FilmGuess:
    """The film's name and release year from `title`; the year only when it is
    written as one (bracketed, or after the name) and between 1888 and `latest_year`."""
    text = clean_title(title)
    rules = []
    stripped = _PREFIX.sub("", text)
    if stripped != text:
        rules.append("review wording before the name")
        text = stripped
    stripped = _SUFFIX.sub("", text)
    if stripped != text:
        rules.append("review wording after the name")
        text = stripped
    year = None
    match = _BRACKETED_YEAR.search(text)
    if match and _plausible(int(match[1]), latest_year):
        year, text = int(match[1]), text[: match.start()]
        rules.append("year in brackets")
    else:
        match = _TRAILING_YEAR.search(text)
        # "Blade Runner 2049": a number that cannot be a release year is part of the name.
        if match and _plausible(int(match[1]), latest_year) and match.start() > 0:
            year, text = int(match[1]), text[: match.start()]
            rules.append("year after the name")
    movie = text.strip(" ,:;-–—|\"'“”„") or clean_title(title)
    return FilmGuess(movie, year, ", ".join(rules) or "the whole title")


_NAME_WORD = r"[A-ZÀ-ÖØ-Þ][\w'’.-]*"
_PARTICLE = r"(?:de|del|della|der|di|da|van|von|le|la|du|bin|al)"
_DIRECTED_BY = re.compile(
    rf"\b(?:[Dd]irected\s+by|[Dd]irector\s*:)\s+({_NAME_WORD}(?:\s+(?:{_PARTICLE}\s+)?{_NAME_WORD}){{0,3}})")


def guess_director(text: str) -> str:
    """A director named in the review's own words ("directed by Spike Jonze"),
    or "" -- only capitalised names right after the phrase are taken."""
    plain = re.sub(r"[*_`\[\]]", "", text or "")
    match = _DIRECTED_BY.search(plain)
    if not match:
        return ""
    return match.group(1).rstrip(".'’-")

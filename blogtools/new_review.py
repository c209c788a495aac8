"""Starting a new review: `invoke new "Her" --year 2013`.

Owns the front-matter template a writer fills in. It names every field the
review model reads, with the film, year, slug, poster path and dates already
filled in, and starts as a draft so nothing is published by accident. The
hints below the front matter are Markdown link-reference "comments": they
render to nothing, so a forgotten hint never reaches the site.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

from blogtools.site_settings import ROOT, read_site_settings

FIRST_FILM_YEAR = 1888  # same bound as the review model


class NewReviewError(Exception):
    """A review that cannot be started; the message says why and what to do."""


TEMPLATE = """\
Title: {movie} {year}, online movie review
Date: {date}
Slug: {slug}
Status: draft
Movie: {movie}
Year: {year}
Director:
Cast:
Genre:
Runtime:
Country:
Language:
Rating:
Poster: {poster}
Poster_Alt:
Watched: {watched}
Rewatch: {rewatch}
IMDb:
TMDB:
Tags:
Summary:

[//]: # (How to fill in the lines above. These hint lines never appear on the site.)
[//]: # (Director, Cast, Genre, Tags: comma-separated, e.g. Genre: Drama, Romance)
[//]: # (Runtime: whole minutes, e.g. 126. Country, Language: as the film credits them.)
[//]: # (Rating: 0.5 to 5 in steps of 0.5; leave it empty for a film you do not score.)
[//]: # (Poster: save the 2:3 portrait image as content/{poster})
[//]: # (Poster_Alt: what the poster shows, for readers who cannot see it; empty gives a plain default.)
[//]: # (Watched: the day you saw it, e.g. 2024-02-28. Rewatch: yes if you reviewed it before.)
[//]: # (IMDb: the tt-number from the film's IMDb address; TMDB: the number from its themoviedb.org address.)
[//]: # (Summary: one or two sentences for the front page, feeds and search results.)
[//]: # (Date is when the review goes online; run invoke check, then change Status to published.)

Write your review here.
"""


def review_slug(movie: str, year: int, rewatch: bool, settings: dict) -> str:
    """The slug and file name, e.g. her-2013 or vertigo-1958-rewatch."""
    from pelican.utils import slugify

    name = slugify(movie, regex_subs=settings.get("SLUG_REGEX_SUBSTITUTIONS", ()))
    if not name:
        raise NewReviewError(
            f"Title: {movie!r}: expected a film title with at least one letter or digit "
            "to make the file name from"
        )
    return f"{name}-{year}" + ("-rewatch" if rewatch else "")


def parse_year(year, today: dt.date) -> int:
    text = str(year).strip() if year is not None else ""
    last = today.year + 1
    if not text.isdigit() or not FIRST_FILM_YEAR <= int(text) <= last:
        shown = repr(text) if text else "(missing)"
        raise NewReviewError(
            f"--year: {shown}: expected the film's release year, "
            f"a number from {FIRST_FILM_YEAR} to {last}, e.g. --year 2013"
        )
    return int(text)


def render_review(movie: str, year: int, slug: str, now: dt.datetime, rewatch: bool) -> str:
    return TEMPLATE.format(
        movie=movie,
        year=year,
        slug=slug,
        date=now.strftime("%Y-%m-%d %H:%M"),
        watched=now.strftime("%Y-%m-%d"),
        poster=f"images/posters/{slug}.jpg",
        rewatch="yes" if rewatch else "no",
    )


def new_review(movie: str, year, *, rewatch: bool = False, root: Path = ROOT,
               settings_file: str = "pelicanconf.py", now: dt.datetime | None = None) -> Path:
    """Write the draft for `movie` (`year`) and return its path; never overwrites.

    The date is the current time in the site's TIMEZONE, so a review started
    late in the evening is dated the day the writer sees on the calendar.
    """
    movie = " ".join(str(movie).split())
    if not movie:
        raise NewReviewError("Title: (missing): expected the film's title, e.g. invoke new \"Her\" --year 2013")
    try:
        settings = read_site_settings(settings_file, root)
    except FileNotFoundError as exc:
        raise NewReviewError(str(exc)) from None
    zone = ZoneInfo(settings.get("TIMEZONE") or "UTC")
    now = (now or dt.datetime.now(zone)).astimezone(zone)
    year = parse_year(year, now.date())
    slug = review_slug(movie, year, rewatch, settings)

    folder = Path(settings["PATH"]) / (settings.get("ARTICLE_PATHS") or [""])[0]
    path = folder / f"{slug}.md"
    shown = path.relative_to(Path(root).resolve()) if path.is_relative_to(Path(root).resolve()) else path
    if path.exists():
        hint = "" if rewatch else " To review the film again, add --rewatch."
        raise NewReviewError(f"{shown} already exists; not overwriting it.{hint}")
    folder.mkdir(parents=True, exist_ok=True)
    # "x" mode: a file created since the check above is still never overwritten.
    try:
        with path.open("x", encoding="utf-8") as handle:
            handle.write(render_review(movie, year, slug, now, rewatch))
    except FileExistsError:
        raise NewReviewError(f"{shown} already exists; not overwriting it.") from None
    return path

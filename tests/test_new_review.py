"""`invoke new`: the draft it writes, the file it refuses to overwrite, the build it passes."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from bs4 import BeautifulSoup

from blogtools.build import build_site
from blogtools.new_review import NewReviewError, new_review
from filmreviews.review import REVIEW_FIELDS
from tests.site_copy import copy_site, run_invoke, set_field, shared_poster_cache

# 23:30 UTC on New Year's Eve is already 1 January in Warsaw (the site's TIMEZONE).
NEW_YEARS_EVE_UTC = dt.datetime(2024, 12, 31, 23, 30, tzinfo=dt.UTC)


@pytest.fixture
def site(tmp_path, tmp_path_factory):
    return copy_site(tmp_path / "site", shared_poster_cache(tmp_path_factory))


def front_matter(path):
    header = path.read_text(encoding="utf-8").split("\n\n", 1)[0]
    return dict(line.split(":", 1) for line in header.splitlines())


def test_new_writes_a_draft_with_every_review_field(site):
    path = new_review("Amélie", 2001, root=site, now=NEW_YEARS_EVE_UTC)

    assert path == site / "content" / "reviews" / "amelie-2001.md"
    fields = {key: value.strip() for key, value in front_matter(path).items()}
    assert set(REVIEW_FIELDS) <= set(fields)
    assert fields["Title"] == "Amélie 2001, online movie review"
    assert fields["Slug"] == "amelie-2001"
    assert fields["Movie"] == "Amélie" and fields["Year"] == "2001"
    assert fields["Poster"] == "images/posters/amelie-2001.jpg"
    assert fields["Status"] == "draft"
    assert fields["Date"] == "2025-01-01 00:30"
    assert fields["Rewatch"] == "no"


def test_new_draft_is_hidden_and_builds_cleanly_once_filled_in(site, tmp_path):
    path = new_review("Amélie", 2001, root=site, now=dt.datetime(2024, 5, 1, 12, 0, tzinfo=ZoneInfo("Europe/Warsaw")))
    set_field(path, "Status", "published")
    set_field(path, "Director", "Jean-Pierre Jeunet")
    (site / "content" / "images" / "posters" / "amelie-2001.jpg").write_bytes(
        (site / "content" / "images" / "posters" / "her-2013.jpg").read_bytes())

    result = build_site(site / "pelicanconf.py", tmp_path / "output", root=site)

    assert result.ok, result.problems
    page = tmp_path / "output" / "reviews" / "amelie-2001" / "index.html"
    html = page.read_text(encoding="utf-8")
    assert "Write your review" in BeautifulSoup(html, "html.parser").get_text()
    assert "[//]" not in html and "Poster_Alt:" not in html  # the hints never reach the page


def test_invoke_new_prints_the_path_of_the_new_draft(site):
    run = run_invoke(site, "new", "Cléo de 5 à 7", "--year", "1962")

    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "content/reviews/cleo-de-5-a-7-1962.md"
    assert "Title: Cléo de 5 à 7 1962, online movie review" in (site / run.stdout.strip()).read_text()


def test_invoke_new_refuses_to_overwrite_an_existing_review(site):
    existing = site / "content" / "reviews" / "her-2013.md"
    before = existing.read_bytes()

    run = run_invoke(site, "new", "Her", "--year", "2013")

    assert run.returncode == 1
    assert "content/reviews/her-2013.md already exists" in run.stderr
    assert "--rewatch" in run.stderr
    assert "Traceback" not in run.stderr
    assert existing.read_bytes() == before


def test_rewatch_gets_its_own_file_and_says_so(site):
    path = new_review("Her", 2013, rewatch=True, root=site)

    assert path.name == "her-2013-rewatch.md"
    fields = front_matter(path)
    assert fields["Rewatch"].strip() == "yes"
    assert fields["Poster"].strip() == "images/posters/her-2013-rewatch.jpg"


@pytest.mark.parametrize("title, year, message", [
    ("Her", "twenty", "--year: 'twenty': expected the film's release year"),
    ("Her", None, "--year: (missing)"),
    ("Her", 1700, "--year: '1700'"),
    ("   ", 2013, "Title: (missing)"),
    ("!!!", 2013, "Title: '!!!': expected a film title with at least one letter or digit"),
])
def test_bad_title_or_year_is_refused_with_what_was_expected(site, title, year, message):
    reviews = site / "content" / "reviews"
    before = sorted(reviews.iterdir())

    with pytest.raises(NewReviewError) as refused:
        new_review(title, year, root=site)

    assert message in str(refused.value)
    assert sorted(reviews.iterdir()) == before

"""The review model: every front-matter rule, and how problems are reported."""

import datetime as dt
import re

import pytest

from blogtools.build import build_site
from tests.site_copy import copy_site
from filmreviews.review import default_movie, parse_review, text_of_html

TODAY = dt.date(2026, 11, 24)
GOOD = {
    "title": "Her 2013, online movie review",
    "date": "2024-03-02 20:15",
    "year": "2013",
    "director": "Spike Jonze",
    "cast": "Joaquin Phoenix, Scarlett Johansson",
    "genre": "Drama, Romance",
    "runtime": "126",
    "rating": "4.5",
    "poster": "images/posters/her-2013.jpg",
    "watched": "2024-02-28",
    "rewatch": "no",
    "imdb": "tt1798709",
    "tmdb": "152601",
}


def review_with(**changes):
    metadata = {**GOOD, **changes}
    metadata = {k: v for k, v in metadata.items() if v is not None}
    return parse_review(metadata, "content/reviews/her-2013.md", today=TODAY)


def only_problem(review):
    assert len(review.problems) == 1, [str(p) for p in review.problems]
    return review.problems[0]


def test_good_front_matter_becomes_a_typed_record():
    review = review_with()
    assert review.is_valid
    assert review.movie == "Her"
    assert review.year == 2013
    assert review.directors == ("Spike Jonze",)
    assert review.cast == ("Joaquin Phoenix", "Scarlett Johansson")
    assert review.genres == ("Drama", "Romance")
    assert review.runtime == 126
    assert review.rating == 4.5
    assert review.watched == dt.date(2024, 2, 28)
    assert review.rewatch is False
    assert review.poster_alt == "Poster for Her (2013)"
    assert review.imdb_url == "https://www.imdb.com/title/tt1798709/"
    assert review.tmdb_url == "https://www.themoviedb.org/movie/152601"


def test_rating_reads_as_stars_and_words():
    review = review_with(rating="3.5")
    assert review.stars == "★★★½"
    assert review.rating_label == "3.5 out of 5"
    assert review_with(rating="5").stars == "★★★★★"


def test_absent_rating_means_unrated():
    review = review_with(rating=None)
    assert review.is_valid
    assert review.rating is None and review.stars == "" and review.rating_label == ""


@pytest.mark.parametrize("value", ["0", "7", "3.7", "five", "-1", "5.5"])
def test_rating_outside_half_steps_names_field_value_and_expectation(value):
    problem = only_problem(review_with(rating=value))
    assert problem.field == "Rating" and problem.value == value
    assert "0.5 to 5 in steps of 0.5" in problem.expected
    assert str(problem).startswith("content/reviews/her-2013.md: Rating: ")


@pytest.mark.parametrize("value", ["1887", str(TODAY.year + 2), "20x3", "2013.5"])
def test_year_must_be_a_film_year(value):
    problem = only_problem(review_with(year=value))
    assert (problem.field, problem.value) == ("Year", value)
    assert f"1888 to {TODAY.year + 1}" in problem.expected


def test_next_year_is_allowed_for_festival_screenings():
    assert review_with(year=str(TODAY.year + 1)).is_valid


def test_missing_year_and_director_are_reported():
    review = review_with(year=None, director=None)
    assert {p.field for p in review.problems} == {"Year", "Director"}


def test_several_directors_are_a_list():
    assert review_with(director="Joel Coen, Ethan Coen").directors == ("Joel Coen", "Ethan Coen")


def test_co_productions_and_several_languages_read_as_names():
    review = review_with(country="United Kingdom, United States", language="English, , Hindi")
    assert review.country == "United Kingdom, United States"  # as written, for the review page
    assert review.countries == ("United Kingdom", "United States")
    assert review.languages == ("English", "Hindi")
    assert review_with().countries == review_with().languages == ()


@pytest.mark.parametrize("field,value,hint", [
    ("runtime", "two hours", "whole minutes"),
    ("runtime", "0", "whole minutes"),
    ("watched", "last tuesday", "a date like"),
    ("rewatch", "maybe", "yes or no"),
    ("imdb", "1798709", "tt followed by digits"),
    ("tmdb", "tt152601", "digits only"),
])
def test_each_typed_field_reports_its_expected_form(field, value, hint):
    problem = only_problem(review_with(**{field: value}))
    assert problem.value == value
    assert hint in problem.expected
    assert problem.field.lower() == field


def test_unknown_field_suggests_the_closest_known_one():
    problem = only_problem(review_with(diretor="Spike Jonze"))
    assert problem.field == "Diretor"
    assert "did you mean Director?" in problem.expected


def test_missing_poster_names_file_and_field(tmp_path):
    (tmp_path / "images" / "posters").mkdir(parents=True)
    review = parse_review(GOOD, "content/reviews/her-2013.md", content_root=tmp_path, today=TODAY)
    problem = only_problem(review)
    assert problem.field == "Poster"
    assert problem.value == "images/posters/her-2013.jpg"
    assert "does not exist" in problem.expected
    assert review.poster is None


def test_poster_outside_images_is_refused():
    problem = only_problem(review_with(poster="../secrets/poster.jpg"))
    assert problem.field == "Poster" and "under content/images/" in problem.expected


def test_movie_defaults_to_title_without_year_or_review_words():
    assert default_movie("Her 2013, online movie review") == "Her"
    assert default_movie("Paddington 2 (2017)") == "Paddington 2"
    assert default_movie("2001: A Space Odyssey") == "2001: A Space Odyssey"
    assert review_with(movie=None).movie == "Her"


def test_plain_text_drops_typogrify_markup():
    assert text_of_html('<span class="caps">NASA</span> and&nbsp;friends') == "NASA and friends"


def test_rewatch_is_a_boolean():
    assert review_with(rewatch="yes").rewatch is True


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory):
    root = copy_site(tmp_path_factory.mktemp("broken"))
    reviews = root / "content" / "reviews"
    her = reviews / "her-2013.md"
    her.write_text(her.read_text(encoding="utf-8").replace("Date: 2024-03-02 20:15", "Date: 2024-13-45"),
                   encoding="utf-8")
    alien = reviews / "alien-1979.md"
    text = alien.read_text(encoding="utf-8")
    alien.write_text(text.replace("Rating: 4.5", "Rating: 7").replace("Director:", "Diretor:"), encoding="utf-8")
    return build_site(root / "pelicanconf.py", root / "output", root=root)


def test_build_reports_every_problem_with_file_field_value_and_expectation(broken_site):
    problems = "\n".join(broken_site.problems)
    assert "content/reviews/alien-1979.md: Rating: '7': expected a number from 0.5 to 5" in problems
    assert "content/reviews/alien-1979.md: Diretor: 'Ridley Scott': expected a known field (did you mean Director?)" in problems
    assert "content/reviews/her-2013.md: Date: '2024-13-45': expected a date like 2024-03-02" in problems
    assert "Traceback" not in problems


def test_preview_build_continues_past_a_broken_review(broken_site):
    assert broken_site.error is None
    assert (broken_site.output_path / "reviews" / "alien-1979" / "index.html").is_file()
    assert (broken_site.output_path / "index.html").is_file()


def test_missing_title_and_date_are_named():
    review = review_with(title=None, date=None)
    assert [p.field for p in review.problems] == ["Title", "Date"]


def test_unknown_status_lists_the_accepted_ones():
    problem = only_problem(review_with(status="publihsed"))
    assert (problem.field, problem.value) == ("Status", "publihsed")
    assert "published, draft or hidden" in problem.expected


def test_field_given_twice_is_reported_once_with_both_values():
    problem = only_problem(review_with(rating=["3", "4"]))
    assert (problem.field, problem.value) == ("Rating", "3, 4")
    assert "given 2 times" in problem.expected


@pytest.fixture(scope="module")
def pelican_field_site(tmp_path_factory):
    root = copy_site(tmp_path_factory.mktemp("pelican-fields"))
    reviews = root / "content" / "reviews"
    for name, pattern, replacement in [("tenet-2020.md", r"^Date: .*\n", ""),
                                       ("parasite-2019.md", r"^Rating: ", "Status: publihsed\nRating: ")]:
        path = reviews / name
        text, count = re.subn(pattern, replacement, path.read_text(encoding="utf-8"), count=1, flags=re.M)
        assert count == 1, (name, pattern)
        path.write_text(text, encoding="utf-8")
    return build_site(root / "pelicanconf.py", root / "output", root=root)


def test_pelican_owned_fields_are_reported_once_in_the_same_form(pelican_field_site):
    problems = pelican_field_site.problems
    assert "Review problem: content/reviews/tenet-2020.md: Date: (missing): expected the publication date, e.g. 2024-03-02 20:15" in problems
    assert ("Review problem: content/reviews/parasite-2019.md: Status: 'publihsed': "
            "expected published, draft or hidden (or no Status line)") in problems
    assert len(problems) == 2, problems

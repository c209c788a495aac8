"""The stats pages: every figure matches a count made here from the review files.

The expectations are counted independently of the plugin: this module reads
each review's `Key: value` lines itself, keeps the published ones (no draft,
nothing dated in the future) and counts by year of watching (Watched, or the
publication date). The built pages are read with BeautifulSoup: the table
under each chart, the numbers drawn in its SVG and the size of its bars. Sites
checked: the sample site, the synthetic benchmark corpus, and small sites with
one review, none at all, a year without reviews and reviews missing fields.
Then the pages go through the Nu HTML Checker and headless Chromium (axe in
light and dark, no sideways scrolling from 320 px, screenshots at 375 and
1280 px in test-artifacts/screenshots/).
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

import pytest
from bs4 import BeautifulSoup

from benchmarks import corpus
from blogtools.build import build_site
from tests.browser import (
    BACKGROUND_LUMINANCE,
    DESKTOP,
    PHONE,
    SCREENSHOTS,
    SMALLEST_PHONE,
    load_lazy_images,
    violations,
)
from tests.nu import nu_errors
from tests.site_copy import front_matter, site_with_reviews
from tests.site_fixture import serve

ROOT = Path(__file__).resolve().parent.parent
SITE_TZ = ZoneInfo("Europe/Warsaw")  # pelicanconf's TIMEZONE
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
RATINGS = tuple(f"{step / 2:g}" for step in range(1, 11))  # "0.5" ... "5"
TOP_NAMES = 10
CORPUS_REVIEWS = 60


# --- What the review files say, counted here -------------------------------------------

def names(value: str) -> list[str]:
    return list(dict.fromkeys(item.strip() for item in value.split(",") if item.strip()))


def published_reviews(content: Path) -> list[dict]:
    """The reviews a reader can see, each with the day its film was watched."""
    now = dt.datetime.now(SITE_TZ)
    reviews = []
    for path in sorted((content / "reviews").glob("*.md")):
        fields = front_matter(path)
        date = dt.datetime.fromisoformat(fields["date"]).replace(tzinfo=SITE_TZ)
        if fields.get("status", "published") != "published" or date > now:
            continue
        watched = fields.get("watched")
        fields["watched_on"] = dt.date.fromisoformat(watched) if watched else date.date()
        reviews.append(fields)
    return reviews


def whole(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def expected_tables(reviews: list[dict], all_years: bool) -> dict[str, dict[str, int]]:
    """Every chart's rows as this module counts them (ranked charts: every name)."""
    months = Counter(MONTHS[r["watched_on"].month - 1] for r in reviews)
    tables = {"months": {month: months[month] for month in MONTHS}}
    if all_years:
        years = Counter(r["watched_on"].year for r in reviews)
        tables["years"] = {str(y): years[y] for y in range(min(years), max(years) + 1)}
    ratings = Counter(f"{float(r['rating']):g}" if r.get("rating") else "Unknown" for r in reviews)
    tables["ratings"] = {rating: ratings[rating] for rating in RATINGS}
    if ratings["Unknown"]:
        tables["ratings"]["Unknown"] = ratings["Unknown"]
    years = [whole(r.get("year")) for r in reviews]
    decades = Counter(f"{y // 10 * 10}s" if y else "Unknown" for y in years)
    known = sorted(y // 10 * 10 for y in years if y)
    tables["decades"] = {f"{d}s": decades[f"{d}s"] for d in range(known[0], known[-1] + 10, 10)} \
        if known else {}
    if decades["Unknown"]:
        tables["decades"]["Unknown"] = decades["Unknown"]
    for key, field in (("genres", "genre"), ("directors", "director"),
                       ("countries", "country"), ("languages", "language")):
        counts = Counter()
        for review in reviews:
            found = names(review.get(field, ""))
            counts.update(found or ["Unknown"])
        tables[key] = dict(counts)
    return tables


def by_watch_year(reviews: list[dict]) -> dict[int, list[dict]]:
    years: dict[int, list[dict]] = {}
    for review in reviews:
        years.setdefault(review["watched_on"].year, []).append(review)
    return years


# --- What the pages show ---------------------------------------------------------------

def page(output: Path, url: str) -> BeautifulSoup:
    path = output / url / "index.html" if url.endswith("/") or not url else output / url
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def shown_tables(soup: BeautifulSoup) -> dict[str, dict[str, int]]:
    tables = {}
    for figure in soup.select("main figure.chart"):
        rows = {}
        for row in figure.select("table tbody tr"):
            rows[row.th.get_text(strip=True)] = int(row.td.get_text(strip=True))
        tables[figure["data-chart"]] = rows
    return tables


def more_note(soup: BeautifulSoup, key: str) -> int:
    note = soup.find(id=f"stats-{key}").find_parent("section").select_one(".stats-note")
    match = re.match(r"(\d+) more", note.get_text(strip=True)) if note else None
    return int(match.group(1)) if match else 0


def assert_ranked(shown: dict[str, int], expected: dict[str, int], more: int, what: str):
    """The shown names are the top ones, each with its true count; Unknown is never left out."""
    expected = dict(expected)
    unknown = expected.pop("Unknown", 0)
    assert shown.pop("Unknown", 0) == unknown, what
    assert {name: expected.get(name) for name in shown} == shown, what
    assert len(shown) == min(TOP_NAMES, len(expected)), what
    assert more == len(expected) - len(shown), what
    left_out = [count for name, count in expected.items() if name not in shown]
    if left_out:
        assert min(shown.values()) >= max(left_out), what
    assert list(shown.values()) == sorted(shown.values(), reverse=True), what


def assert_page_counts(soup: BeautifulSoup, reviews: list[dict], all_years: bool, what: str):
    expected = expected_tables(reviews, all_years)
    shown = shown_tables(soup)
    assert set(shown) == set(expected), what
    for key in ("months", "years", "ratings", "decades"):
        if key in expected:
            assert shown[key] == expected[key], f"{what}: {key}"
            assert list(shown[key]) == list(expected[key]), f"{what}: {key} order"
    for key in ("genres", "directors", "countries", "languages"):
        assert_ranked(shown[key], expected[key], more_note(soup, key), f"{what}: {key}")


def summary(soup: BeautifulSoup) -> dict[str, str]:
    return {div.dt.get_text(strip=True): div.dd.get_text(" ", strip=True)
            for div in soup.select(".stats-summary div")}


def facts(soup: BeautifulSoup) -> dict[str, str]:
    found = soup.select_one(".stats-facts")
    return {dt_.get_text(strip=True): dt_.find_next_sibling("dd").get_text(" ", strip=True)
            for dt_ in found.find_all("dt")}


def assert_summary(soup: BeautifulSoup, reviews: list[dict], what: str):
    runtimes = [(whole(r.get("runtime")), r) for r in reviews if whole(r.get("runtime"))]
    minutes = sum(m for m, _ in runtimes)
    rated = [float(r["rating"]) for r in reviews if r.get("rating")]
    rewatches = sum(1 for r in reviews if r.get("rewatch", "").lower() == "yes")
    boxes = summary(soup)
    assert boxes["Reviews"] == str(len(reviews)), what
    assert boxes["Rewatches"] == str(rewatches), what
    hours, rest = divmod(minutes, 60)
    assert boxes["Time watched"] == (f"{hours} h {rest} min" if hours else f"{rest} min"), what
    if rated:
        assert boxes["Average rating"] == f"{sum(rated) / len(rated):.1f} out of 5", what
    listed = facts(soup)
    assert f"({minutes} minutes)" in listed["Running time"], what
    assert listed["Rewatches"] == f"{rewatches} of {len(reviews)} review{'' if len(reviews) == 1 else 's'}"
    if len({m for m, _ in runtimes}) > 1:
        for label, minutes in (("Longest", max(m for m, _ in runtimes)),
                               ("Shortest", min(m for m, _ in runtimes))):
            assert listed[label].endswith(f"({minutes} min)"), what
            # Any film with that running time will do: ties are not the point here.
            assert fact_slug(soup, label) in {r["slug"] for m, r in runtimes if m == minutes}, what


def fact_slug(soup: BeautifulSoup, label: str) -> str:
    term = next(t for t in soup.select(".stats-facts dt") if t.get_text(strip=True) == label)
    return re.search(r"reviews/([^/]+)/", term.find_next_sibling("dd").a["href"]).group(1)


# --- Builds ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def corpus_build(tmp_path_factory):
    """The synthetic benchmark corpus, built with the site's own settings."""
    work = tmp_path_factory.mktemp("stats-corpus")
    content = work / "content"
    corpus.generate_corpus(content, CORPUS_REVIEWS)
    result = build_site(ROOT / "pelicanconf.py", work / "output", overrides={
        "PATH": str(content), "FILMREVIEWS_POSTER_CACHE": str(work / "poster-cache"),
        "FILMREVIEWS_SEARCH": False})
    assert result.ok, result.problems
    return content, result.output_path


FULL_REVIEW = """\
Title: Rock & Roll <3, online movie review
Date: 2022-03-10 20:00
Slug: rock-and-roll-heart
Movie: Rock & Roll <3
Year: 1986
Director: Wanda Lis
Genre: Rock & Roll, Drama
Runtime: 97
Country: Poland, Italy
Language: Polish
Rating: 3.5
Poster: images/posters/her-2013.jpg
Watched: 2022-03-01
Summary: A made-up film with an ampersand in its name.

Written for the stats tests: every field is there.
"""
SPARSE_REVIEW = """\
Title: Bare Facts 2019, online movie review
Date: 2022-07-15 19:00
Slug: bare-facts-2019
Year: 2019
Director: Ola Nowak
Poster: images/posters/alien-1979.jpg
Summary: A review with only the fields it must have.

No Watched date, no rating, runtime, genre, country or language.
"""
BROKEN_REVIEW = """\
Title: Odd Year, online movie review
Date: 2024-05-05 18:00
Slug: odd-year
Year: 19x5
Genre: Drama
Runtime: 120
Rating: 4
Poster: images/posters/vertigo-1958.jpg
Watched: 2024-05-01
Rewatch: yes
Summary: A review whose release year cannot be read and whose director is missing.

The build warns about it and carries on.
"""
DRAFT_REVIEW = """\
Title: Not Yet, online movie review
Date: 2022-04-01 10:00
Slug: not-yet
Year: 2001
Director: Ola Nowak
Genre: Western
Rating: 1
Poster: images/posters/her-2013.jpg
Watched: 2022-03-30
Status: draft
Summary: A draft: counted nowhere.

Still being written.
"""


def small_site(tmp_path_factory, name: str, reviews: dict[str, str]) -> Path:
    """A copy of the site with only `reviews`, and no linkbacks to reviews it no longer has."""
    root = site_with_reviews(tmp_path_factory, name, reviews)
    for linkbacks in (root / "content" / "linkbacks").glob("*.json"):
        linkbacks.unlink()
    return root


@pytest.fixture(scope="module")
def gap_build(tmp_path_factory):
    """Reviews watched in 2022 and 2024, none in 2023; some fields missing or unreadable."""
    root = small_site(tmp_path_factory, "stats-gap", {
        "full.md": FULL_REVIEW, "sparse.md": SPARSE_REVIEW, "broken.md": BROKEN_REVIEW,
        "draft.md": DRAFT_REVIEW})
    result = build_site(root / "pelicanconf.py", root / "output", root=root,
                        overrides={"FILMREVIEWS_SEARCH": False})
    assert result.error is None, result.error
    return root / "content", result


@pytest.fixture(scope="module")
def one_review_build(tmp_path_factory):
    root = small_site(tmp_path_factory, "stats-one", {"full.md": FULL_REVIEW})
    result = build_site(root / "pelicanconf.py", root / "output", root=root,
                        overrides={"FILMREVIEWS_SEARCH": False})
    assert result.ok, result.problems
    return root / "content", result.output_path


# --- The sample site -------------------------------------------------------------------

def test_every_chart_of_the_all_years_page_matches_a_count_of_the_sample_reviews(output):
    reviews = published_reviews(ROOT / "content")
    soup = page(output, "stats/")
    assert_page_counts(soup, reviews, all_years=True, what="stats/")
    assert_summary(soup, reviews, "stats/")


def test_each_year_page_counts_only_the_films_watched_that_year(output):
    years = by_watch_year(published_reviews(ROOT / "content"))
    built = sorted(int(p.parent.name) for p in (output / "stats").glob("*/index.html"))
    assert built == sorted(years)
    for year, reviews in years.items():
        soup = page(output, f"stats/{year}/")
        assert soup.h1.get_text(strip=True) == f"{year} in film"
        assert_page_counts(soup, reviews, all_years=False, what=f"stats/{year}/")
        assert_summary(soup, reviews, f"stats/{year}/")


def test_drafts_and_reviews_dated_in_the_future_are_not_counted(output):
    unpublished = {"Denis Villeneuve", "Stanley Kubrick"}  # the draft, and the review dated 2031
    for path in [output / "stats" / "index.html", *(output / "stats").glob("*/index.html")]:
        text = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser").main.get_text()
        assert not any(name in text for name in unpublished), path
    assert not (output / "stats" / "2031").exists()


def test_highest_rated_cards_are_the_best_rated_films_of_each_page(output):
    reviews = published_reviews(ROOT / "content")
    for url, chosen in [("stats/", reviews),
                        *((f"stats/{y}/", r) for y, r in by_watch_year(reviews).items())]:
        soup = page(output, url)
        cards = [a["href"] for a in soup.select(".stats-top .poster-card-title a")]
        slugs = [re.search(r"reviews/([^/]+)/", href).group(1) for href in cards]
        rated = sorted((r for r in chosen if r.get("rating")),
                       key=lambda r: (-float(r["rating"]), -r["watched_on"].toordinal(), r["slug"]))
        assert slugs == [r["slug"] for r in rated[:6]], url


def test_stats_is_in_the_navigation_and_the_pages_link_to_each_other(output):
    home = page(output, "")
    assert [a.get_text() for a in home.select(".site-nav a") if a.get_text() == "Stats"] == ["Stats"]
    stats = page(output, "stats/")
    assert stats.select_one('.site-nav a[aria-current="page"]').get_text() == "Stats"
    years = sorted(by_watch_year(published_reviews(ROOT / "content")))
    for url in ["stats/", *(f"stats/{y}/" for y in years)]:
        soup = page(output, url)
        links = {urljoin("/" + url, a["href"]).lstrip("/"): a for a in soup.select(".stats-years a")}
        assert set(links) == {"stats/", *(f"stats/{y}/" for y in years)}, url
        assert links[url].get("aria-current") == "page"
        if url != "stats/":
            assert soup.select_one(".site-nav a.is-section").get_text() == "Stats"


def test_chart_labels_link_to_pages_that_exist(output):
    for url in ["stats/", "stats/2024/"]:
        soup = page(output, url)
        for figure in soup.select("figure.chart"):
            key = figure["data-chart"]
            for link in figure.select("svg a, table a"):
                target = urlsplit(urljoin("/" + url, link["href"])).path.lstrip("/")
                assert (output / target / "index.html").is_file(), (url, key, target)
            linked = {a.get_text(strip=True) for a in figure.select("table a")}
            counted = {label for label, count in shown_tables(soup)[key].items()
                       if count and label != "Unknown"}
            if key in ("genres", "directors", "decades", "years"):
                assert linked == counted, (url, key)  # every name with reviews has its page
                assert linked == {a.get_text(strip=True) for a in figure.select("svg a")}, (url, key)
            else:
                assert not linked, (url, key)  # months, ratings, countries, languages: no pages


def svg_sources(path: Path) -> list[str]:
    return re.findall(r"<svg\b.*?</svg>", path.read_text(encoding="utf-8"), flags=re.S)


def percent(value: str) -> float:
    assert value.endswith("%"), value
    return float(value[:-1])


def test_every_chart_is_well_formed_svg_with_a_title_a_description_and_bars_to_scale(output):
    svg = "{http://www.w3.org/2000/svg}"
    pages = [output / "stats" / "index.html", *(output / "stats").glob("*/index.html")]
    for path in pages:
        soup = BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")
        tables = shown_tables(soup)
        sources = svg_sources(path)
        charts = [s for s in sources if "chart-svg" in s]
        assert len(charts) == len(tables) >= 7, path
        for source, (key, rows) in zip(charts, tables.items(), strict=True):
            root = ET.fromstring(source.replace("<svg ", f'<svg xmlns="{svg[1:-1]}" ', 1))
            title, desc = root.find(f"{svg}title"), root.find(f"{svg}desc")
            assert root.get("aria-labelledby") == title.get("id") == f"chart-{key}-title"
            assert root.get("aria-describedby") == desc.get("id") == f"chart-{key}-desc"
            assert title.text and len(desc.text) > 20, (path, key)
            values = [int(t.text) for t in root.iter(f"{svg}text") if t.get("class") == "chart-value"]
            assert values == list(rows.values()), (path, key)
            # The description says the biggest figure, and who has it, for those who cannot see the bars.
            assert re.search(rf"\b{max(values)}\b", desc.text), (path, key, desc.text)
            known = {label: count for label, count in rows.items() if label != "Unknown"}
            leaders = [label for label, count in known.items() if count and count == max(known.values())]
            if len(leaders) <= 3:
                assert all(re.search(rf"\b{re.escape(label)}\b", desc.text) for label in leaders), \
                    (path, key, leaders, desc.text)
            bars = [b for b in root.iter(f"{svg}rect") if "chart-bar" in b.get("class")]
            assert len(bars) == sum(1 for v in values if v), (path, key)
            most = max(values)
            drawn = [v for v in values if v]
            if "chart-columns" in root.get("class"):
                heights = [float(b.get("height")) for b in bars]
                assert heights == pytest.approx([120 * v / most for v in drawn], abs=0.06), (path, key)
            else:
                widths = [percent(b.get("width")) for b in bars]
                assert widths == pytest.approx([max(100 * v / most, 0.6) for v in drawn], abs=0.006)


def test_charts_take_their_colours_from_the_theme():
    css = (ROOT / "theme" / "static" / "css" / "site.css").read_text(encoding="utf-8")
    for rule in (".chart-bar", ".chart-bar-unknown", ".chart-svg text", ".chart-track"):
        body = re.search(re.escape(rule) + r" \{([^}]*)\}", css).group(1)
        assert re.search(r"fill: var\(--[\w-]+\)", body), rule


# --- The synthetic corpus --------------------------------------------------------------

def test_corpus_stats_match_a_count_of_the_corpus_files(corpus_build):
    content, output = corpus_build
    reviews = published_reviews(content)
    assert len(reviews) == CORPUS_REVIEWS
    soup = page(output, "stats/")
    assert_page_counts(soup, reviews, all_years=True, what="corpus stats/")
    assert_summary(soup, reviews, "corpus stats/")
    # Sixty reviews have more directors than a ranked chart shows.
    assert more_note(soup, "directors") > 0
    for year, chosen in by_watch_year(reviews).items():
        soup = page(output, f"stats/{year}/")
        assert_page_counts(soup, chosen, all_years=False, what=f"corpus stats/{year}/")
        assert_summary(soup, chosen, f"corpus stats/{year}/")


def test_corpus_stats_pages_pass_the_nu_html_checker(corpus_build):
    """The sample site's stats pages are checked with every other page in test_theme_html.py."""
    _, output = corpus_build
    pages = [output / "stats" / "index.html", *sorted((output / "stats").glob("*/index.html"))]
    errors = nu_errors(pages)
    assert not errors, "\n".join(errors)


# --- Small sites: gaps, unknowns, one review, none -------------------------------------

def test_a_year_without_reviews_shows_as_zero_and_gets_no_page(gap_build):
    content, result = gap_build
    output = result.output_path
    soup = page(output, "stats/")
    assert shown_tables(soup)["years"] == {"2022": 2, "2023": 0, "2024": 1}
    year_links = {a.get_text(strip=True) for a in soup.select("#chart-years svg a")}
    assert year_links == {"2022", "2024"}
    assert not (output / "stats" / "2023").exists()
    assert (output / "stats" / "2022" / "index.html").is_file()
    assert_page_counts(soup, published_reviews(content), all_years=True, what="gap stats/")


def test_missing_and_unreadable_fields_are_counted_as_unknown(gap_build):
    content, result = gap_build
    # The broken review is reported, and still counted; nothing else is wrong.
    assert len(result.problems) == 2, result.problems
    assert any("broken.md: Year: '19x5'" in p for p in result.problems), result.problems
    assert any("broken.md: Director" in p for p in result.problems), result.problems
    soup = page(result.output_path, "stats/")
    tables = shown_tables(soup)
    assert tables["ratings"]["Unknown"] == 1
    assert tables["decades"]["Unknown"] == 1
    assert tables["directors"]["Unknown"] == 1
    assert tables["genres"]["Unknown"] == 1
    # Neither the sparse nor the broken review names a country or a language.
    assert tables["countries"]["Unknown"] == tables["languages"]["Unknown"] == 2
    assert tables["countries"]["Poland"] == tables["countries"]["Italy"] == 1
    notes = soup.main.get_text(" ", strip=True)
    assert "1 review has no Watched date and is counted by publication date" in notes
    assert "Unknown for 1 film without a Runtime" in notes
    # The review without a Watched date counts in the month it was published.
    assert page(result.output_path, "stats/2022/").select_one("#chart-months") is not None
    assert shown_tables(page(result.output_path, "stats/2022/"))["months"]["July"] == 1
    assert_summary(soup, published_reviews(content), "gap stats/")


def test_names_with_markup_characters_are_escaped_in_charts_and_facts(gap_build):
    _, result = gap_build
    html = (result.output_path / "stats" / "2022" / "index.html").read_text(encoding="utf-8")
    assert "<3" not in html and "Rock &amp; Roll &lt;3" in html
    soup = BeautifulSoup(html, "html.parser")
    assert "Rock & Roll" in shown_tables(soup)["genres"]
    assert "Rock & Roll" in {t.get_text() for t in soup.select("#chart-genres svg a text")}
    note = soup.find(id="stats-decades").find_parent("section").select_one(".stats-note")
    assert note.get_text(" ", strip=True) == "Oldest: Rock & Roll <3 (1986). Newest: Bare Facts (2019)."


def test_a_blog_with_one_review_gets_sensible_pages(one_review_build):
    content, output = one_review_build
    reviews = published_reviews(content)
    for url in ("stats/", "stats/2022/"):
        soup = page(output, url)
        assert_page_counts(soup, reviews, all_years=url == "stats/", what=url)
        assert_summary(soup, reviews, url)
        text = soup.main.get_text(" ", strip=True)
        assert "Released: Rock & Roll <3 (1986)" in text
        assert "Only film timed Rock & Roll <3 (97 min)" in text
        assert "1 review" in soup.select_one(".stats-intro p").get_text()
        assert len(soup.select(".stats-top .poster-card")) == 1
    assert sorted(p.name for p in (output / "stats").iterdir()) == ["2022", "index.html"]


def test_a_blog_without_reviews_still_has_a_stats_page(tmp_path_factory):
    root = small_site(tmp_path_factory, "stats-none", {})
    result = build_site(root / "pelicanconf.py", root / "output", root=root,
                        overrides={"FILMREVIEWS_SEARCH": False})
    assert result.ok, result.problems
    soup = page(result.output_path, "stats/")
    assert "No published reviews yet" in soup.main.get_text()
    assert not soup.select("figure.chart") and not soup.select(".stats-years")
    assert [p.name for p in (result.output_path / "stats").iterdir()] == ["index.html"]


# --- Settings ----------------------------------------------------------------------------

def test_stats_urls_come_from_the_settings(tmp_path):
    result = build_site(ROOT / "pelicanconf.py", tmp_path / "output", overrides={
        "FILMREVIEWS_SEARCH": False, "FILMREVIEWS_STATS_URL": "numbers/",
        "FILMREVIEWS_STATS_YEAR_URL": "numbers/{year}.html"})
    assert result.ok, result.problems
    output = result.output_path
    assert not (output / "stats").exists()
    assert (output / "numbers" / "index.html").is_file()
    assert (output / "numbers" / "2024.html").is_file()
    nav = {a.get_text(): a["href"] for a in page(output, "").select(".site-nav a")}
    assert nav["Stats"] == "./numbers/"
    years = page(output, "numbers/").select(".stats-years a")
    assert "/numbers/2024.html" in {urljoin("/numbers/", a["href"]) for a in years}


def test_an_empty_stats_url_turns_the_pages_and_the_nav_link_off(tmp_path):
    result = build_site(ROOT / "pelicanconf.py", tmp_path / "output", overrides={
        "FILMREVIEWS_SEARCH": False, "FILMREVIEWS_STATS_URL": ""})
    assert result.ok, result.problems
    assert not (result.output_path / "stats").exists()
    assert "Stats" not in [a.get_text() for a in page(result.output_path, "").select(".site-nav a")]


def test_a_year_pattern_without_year_is_named_and_the_default_is_used(tmp_path):
    result = build_site(ROOT / "pelicanconf.py", tmp_path / "output", overrides={
        "FILMREVIEWS_SEARCH": False, "FILMREVIEWS_STATS_YEAR_URL": "stats/year/"})
    assert result.error is None, result.error
    assert ("Stats setting problem: FILMREVIEWS_STATS_YEAR_URL: 'stats/year/': expected a pattern "
            "with {year}, e.g. 'stats/{year}/', or '' for no year pages") in result.problems, result.problems
    assert (result.output_path / "stats" / "2024" / "index.html").is_file()


# --- In a browser ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def sites(preview_build, corpus_build):
    assert preview_build.ok, preview_build.problems
    with serve(preview_build.output_path) as sample, serve(corpus_build[1]) as synthetic:
        yield {"sample": sample, "corpus": synthetic}


STATS_PAGES = {"stats-sample": ("sample", "stats/"), "stats-sample-2026": ("sample", "stats/2026/"),
               "stats-corpus": ("corpus", "stats/")}


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_stats_pages_pass_axe_and_fit_every_width_in_both_schemes(browser, axe, sites, scheme):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(color_scheme=scheme, viewport={"width": DESKTOP, "height": 900})
    page_ = context.new_page()
    found, too_wide, fills = [], [], set()
    for name, (site, path) in STATS_PAGES.items():
        page_.set_viewport_size({"width": DESKTOP, "height": 900})
        page_.goto(sites[site] + path, wait_until="load")
        luminance = page_.evaluate(BACKGROUND_LUMINANCE)
        assert (luminance < 0.05) if scheme == "dark" else (luminance > 0.8), (name, luminance)
        # The tables are folded; open them so axe checks them too.
        page_.evaluate("document.querySelectorAll('details.chart-data').forEach(d => d.open = true)")
        found += violations(axe, page_)
        page_.evaluate("document.querySelectorAll('details.chart-data').forEach(d => d.open = false)")
        fills.add(page_.evaluate("getComputedStyle(document.querySelector('.chart-bar')).fill"))
        load_lazy_images(page_)
        for width in (DESKTOP, PHONE, SMALLEST_PHONE):
            page_.set_viewport_size({"width": width, "height": 800})
            widths = page_.evaluate("[document.documentElement.scrollWidth, innerWidth]")
            if widths[0] > widths[1]:
                too_wide.append((name, width, widths))
            if width in (DESKTOP, PHONE):
                page_.screenshot(path=SCREENSHOTS / f"{name}-{scheme}-{width}.png", full_page=True)
    context.close()
    assert not found, "\n".join(found)
    assert not too_wide
    accent = {"light": "rgb(163, 38, 27)", "dark": "rgb(255, 159, 138)"}[scheme]  # --accent
    assert fills == {accent}


def test_charts_print_in_black_on_white_without_the_tables(browser, sites):
    context = browser.new_context(viewport={"width": 794, "height": 1123})  # A4 at 96 dpi
    page_ = context.new_page()
    page_.goto(sites["sample"] + "stats/", wait_until="load")
    page_.emulate_media(media="print")
    assert page_.evaluate("getComputedStyle(document.querySelector('.chart-bar')).fill") == "rgb(0, 0, 0)"
    assert page_.evaluate("getComputedStyle(document.querySelector('.chart-data')).display") == "none"
    assert page_.evaluate("document.documentElement.scrollWidth <= innerWidth")
    context.close()



def test_chart_links_are_reached_with_the_keyboard_and_show_focus(browser, sites):
    context = browser.new_context(viewport={"width": DESKTOP, "height": 900})
    page_ = context.new_page()
    page_.goto(sites["sample"] + "stats/", wait_until="load")
    for _ in range(60):
        page_.keyboard.press("Tab")
        if page_.evaluate("!!document.activeElement.closest('svg.chart-svg')"):
            break
    focused = page_.evaluate("""() => {
        const link = document.activeElement;
        return {chart: link.closest('figure').dataset.chart, text: link.textContent,
                outline: getComputedStyle(link).outlineStyle};
    }""")
    context.close()
    assert focused == {"chart": "years", "text": "2023", "outline": "solid"}

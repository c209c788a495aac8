"""Browse pages, previous/next links, related reviews and rewatch links.

Expectations come from the sample reviews' front matter, read here
independently of the plugin, and are checked against the built HTML.
"""

import datetime as dt
import re
import shutil
import xml.etree.ElementTree as ET
from collections import defaultdict
from pathlib import Path
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import pytest
from bs4 import BeautifulSoup

from blogtools.build import build_site
from tests.site_copy import front_matter

ROOT = Path(__file__).resolve().parent.parent
REVIEWS = ROOT / "content" / "reviews"
SITE_TZ = ZoneInfo("Europe/Warsaw")  # pelicanconf's TIMEZONE


# --- What the front matter says -------------------------------------------------

def names(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def published_reviews() -> list[dict]:
    """Reviews a reader can see: not drafts, not dated in the future. Oldest first."""
    now = dt.datetime.now(SITE_TZ)
    reviews = []
    for path in sorted(REVIEWS.glob("*.md")):
        fields = front_matter(path)
        fields["date"] = dt.datetime.fromisoformat(fields["date"]).replace(tzinfo=SITE_TZ)
        if fields.get("status", "published") == "draft" or fields["date"] > now:
            continue
        reviews.append(fields)
    return sorted(reviews, key=lambda r: (r["date"], r["slug"]))


def unpublished_slugs() -> set[str]:
    published = {r["slug"] for r in published_reviews()}
    return {front_matter(p)["slug"] for p in REVIEWS.glob("*.md")} - published


def expected_facets(kind: str) -> dict[str, list[str]]:
    """Facet name -> slugs of the published reviews that have it, newest first."""
    members = defaultdict(list)
    for review in reversed(published_reviews()):
        if kind == "genre":
            found = names(review.get("genre", ""))
        elif kind == "director":
            found = names(review.get("director", ""))
        elif kind == "year":
            found = [review["year"]]
        else:
            found = [review["year"][:3] + "0s"]
        for name in found:
            members[name].append(review["slug"])
    return dict(members)


# --- What the site shows ----------------------------------------------------------

def soup_of(output: Path, url: str) -> BeautifulSoup:
    path = output / url.lstrip("/")
    if url.endswith("/") or not url:
        path = path / "index.html"
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def resolve(page_url: str, href: str) -> str:
    """A link's target as a site-root-relative URL ("genres/drama/")."""
    return urljoin("/" + page_url, href).lstrip("/")


def review_slug(url: str) -> str:
    match = re.fullmatch(r"reviews/([^/]+)/", url)
    assert match, f"not a review URL: {url}"
    return match.group(1)


def card_slugs(soup: BeautifulSoup, page_url: str, within=None) -> list[str]:
    scope = soup.select_one(within) if within else soup
    return [review_slug(resolve(page_url, a["href"])) for a in scope.select(".poster-grid .poster-card-title a")]


def grid_slugs(output: Path, url: str) -> list[str]:
    """Every review on a browse page, following its pagination to the end."""
    slugs, seen = [], set()
    while url and url not in seen:
        seen.add(url)
        soup = soup_of(output, url)
        slugs += card_slugs(soup, url, within="main")
        older = soup.select_one('.pagination a[rel="next"]')
        url = resolve(url, older["href"]) if older else None
    return slugs


def index_entries(output: Path, url: str) -> dict[str, tuple[str, int]]:
    """Facet name -> (target URL, count) as listed on an index page."""
    entries = {}
    for item in soup_of(output, url).select("main li"):
        link = item.find("a")
        count = re.search(r"\((\d+)\)\s*$", item.get_text())
        assert link and count, f"{url}: entry without link or count: {item}"
        entries[link.get_text()] = (resolve(url, link["href"]), int(count.group(1)))
    return entries


def exists(output: Path, url: str) -> bool:
    return (output / url / "index.html").is_file() if url.endswith("/") else (output / url).is_file()


@pytest.fixture(scope="module")
def paged_output(tmp_path_factory):
    """The sample site with two reviews per list page, so browse pages paginate."""
    result = build_site(ROOT / "pelicanconf.py", tmp_path_factory.mktemp("paged") / "output",
                        overrides={"DEFAULT_PAGINATION": 2})
    assert result.ok, result.problems
    return result.output_path


# --- Browse pages -----------------------------------------------------------------

INDEX_OF = {"genre": "genres/", "director": "directors/", "year": "years/", "decade": "years/"}


@pytest.mark.parametrize("kind", ["genre", "director", "year", "decade"])
def test_each_browse_page_lists_exactly_the_published_reviews_that_have_it_newest_first(output, kind):
    expected = expected_facets(kind)
    entries = index_entries(output, INDEX_OF[kind])
    for name, slugs in expected.items():
        assert name in entries, f"{INDEX_OF[kind]} does not list {kind} {name!r}"
        url, count = entries[name]
        assert count == len(slugs), f"{kind} {name!r}: index says {count}, expected {len(slugs)}"
        assert grid_slugs(output, url) == slugs, f"{url} lists the wrong reviews"


@pytest.mark.parametrize("index_url", ["genres/", "directors/", "years/"])
def test_index_pages_list_only_real_facets_with_links_that_resolve(output, index_url):
    kinds = [kind for kind, url in INDEX_OF.items() if url == index_url]
    expected = {name for kind in kinds for name in expected_facets(kind)}
    entries = index_entries(output, index_url)
    assert set(entries) == expected
    for name, (url, _) in entries.items():
        assert exists(output, url), f"{index_url}: link for {name!r} goes to missing {url}"


def test_drafts_and_future_reviews_never_appear_on_browse_pages(output):
    hidden = unpublished_slugs()
    assert hidden, "the sample site should have a draft and a future-dated review"
    for folder in ("genres", "directors", "years", "decades"):
        for page in (output / folder).rglob("index.html"):
            html = page.read_text(encoding="utf-8")
            for slug in hidden:
                assert f"reviews/{slug}/" not in html, f"{page.relative_to(output)} links to {slug}"
    # Dune: Part Two (2024) is a draft and the only 2024 film: no page for its year.
    assert not (output / "years" / "2024").exists()


def test_accented_director_gets_an_ascii_slug(output):
    url, count = index_entries(output, "directors/")["Agnès Varda"]
    assert url == "directors/agnes-varda/"
    assert count == 1 and exists(output, url)


def test_review_page_links_to_its_genres_director_and_release_year(output):
    review = next(r for r in published_reviews() if r["slug"] == "cleo-from-5-to-7-1962")
    page_url = "reviews/cleo-from-5-to-7-1962/"
    facets = soup_of(output, page_url).select_one(".review-facets")
    links = {a.get_text(): resolve(page_url, a["href"]) for a in facets.select("a")}
    assert set(links) == {*names(review["genre"]), review["director"], "1962", "1960s"}
    assert links["Agnès Varda"] == "directors/agnes-varda/"
    assert links["1960s"] == "decades/1960s/"
    assert all(exists(output, url) for url in links.values())


def test_browse_pages_paginate_like_tag_pages(paged_output):
    drama = expected_facets("genre")["Drama"]
    assert len(drama) > 2, "needs more than one page of dramas"
    first = soup_of(paged_output, "genres/drama/")
    assert len(card_slugs(first, "genres/drama/", within="main")) == 2
    older = first.select_one('.pagination a[rel="next"]')
    assert resolve("genres/drama/", older["href"]) == "genres/drama/page/2/"
    second = soup_of(paged_output, "genres/drama/page/2/")
    newer = second.select_one('.pagination a[rel="prev"]')
    assert resolve("genres/drama/page/2/", newer["href"]) == "genres/drama/"
    assert grid_slugs(paged_output, "genres/drama/") == drama


def test_sitemap_has_browse_indexes_and_first_pages_but_no_later_pages(paged_output):
    tree = ET.parse(paged_output / "sitemap.xml")
    locs = {loc.text.lstrip("/") for loc in tree.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")}
    assert (paged_output / "genres" / "drama" / "page" / "2" / "index.html").is_file()
    assert not [loc for loc in locs if "/page/" in loc]
    assert {"genres/", "directors/", "years/", "genres/drama/", "directors/agnes-varda/",
            "years/1958/", "decades/1950s/"} <= locs


def test_browse_indexes_are_in_the_shared_context(tmp_path):
    from pelican.settings import read_settings

    from filmreviews.browse import BrowseGenerator

    settings = read_settings(str(ROOT / "pelicanconf.py"), override={
        "PATH": str(ROOT / "content"), "THEME": str(ROOT / "theme"), "OUTPUT_PATH": str(tmp_path)})
    context = {**settings, "articles": []}
    generator = BrowseGenerator(context=context, settings=settings, path=settings["PATH"],
                                theme=settings["THEME"], output_path=settings["OUTPUT_PATH"])
    generator.generate_context()
    assert context["browse_indexes"] == [("Genres", "genres/"), ("Directors", "directors/"),
                                         ("Years", "years/")]


# --- Loading posters on list pages ----------------------------------------------------

def test_home_page_fetches_only_its_first_poster_first_and_lazy_loads_after_the_first_row(output):
    home = soup_of(output, "")
    posters = home.select("main .poster-grid img")
    assert len(posters) > 6, "needs more than one row of cards at 1280 px (6 columns)"
    # Several images asking for high priority compete, and none gets it.
    assert home.select('img[fetchpriority="high"]') == [posters[0]]
    assert [img["loading"] for img in posters[:6]] == ["eager"] * 6  # the first row
    assert all(img["loading"] == "lazy" for img in posters[6:])


@pytest.mark.parametrize("url", ["page/2/", "genres/drama/", "tags/loneliness/"])
def test_other_list_pages_ask_for_no_priority_and_load_lazily(output, url):
    posters = soup_of(output, url).select("main img")
    assert posters, f"{url} shows no posters"
    assert all(img["loading"] == "lazy" and not img.has_attr("fetchpriority") for img in posters)


# --- Links between reviews ------------------------------------------------------------

def test_previous_and_next_links_walk_every_published_review_in_date_order(output):
    expected = [r["slug"] for r in published_reviews()]
    url, walked, backwards = f"reviews/{expected[0]}/", [], []
    assert soup_of(output, url).select_one('.review-pager a[rel="prev"]') is None
    while url:
        walked.append(review_slug(url))
        soup = soup_of(output, url)
        previous = soup.select_one('.review-pager a[rel="prev"]')
        if previous:
            backwards.append((review_slug(resolve(url, previous["href"])), walked[-1]))
        after = soup.select_one('.review-pager a[rel="next"]')
        url = resolve(url, after["href"]) if after else None
    assert walked == expected
    assert backwards == list(zip(expected, expected[1:], strict=False))


def test_related_reviews_are_at_most_four_and_share_a_director_genre_or_tag(output):
    reviews = {r["slug"]: r for r in published_reviews()}

    def shared(a, b, field):
        return {n.casefold() for n in names(a.get(field, ""))} & {n.casefold() for n in names(b.get(field, ""))}

    seen_any = False
    for slug, review in reviews.items():
        page_url = f"reviews/{slug}/"
        soup = soup_of(output, page_url)
        related = card_slugs(soup, page_url, within=".related-reviews") if soup.select_one(".related-reviews") else []
        assert len(related) <= 4
        assert len(set(related)) == len(related)
        seen_any = seen_any or bool(related)
        for other_slug in related:
            other = reviews[other_slug]
            assert other_slug != slug
            assert (other["movie"], other["year"]) != (review["movie"], review["year"])
            assert any(shared(review, other, f) for f in ("director", "genre", "tags")), \
                f"{slug} -> {other_slug} share nothing"
        same_director = [s for s, other in reviews.items() if shared(review, other, "director")
                         and (other["movie"], other["year"]) != (review["movie"], review["year"])]
        if same_director:
            assert related[0] in same_director, f"{slug}: a review by the same director should come first"
    assert seen_any


def test_reviews_of_the_same_film_link_to_each_other(output):
    films = defaultdict(list)
    for review in published_reviews():
        films[(review["movie"], review["year"])].append(review["slug"])
    pairs = [slugs for slugs in films.values() if len(slugs) > 1]
    assert pairs, "the sample site should have a rewatched film"
    for slugs in pairs:
        for slug in slugs:
            page_url = f"reviews/{slug}/"
            rewatches = soup_of(output, page_url).select_one(".review-rewatches")
            assert rewatches and rewatches.get_text().startswith("Also reviewed")
            linked = [review_slug(resolve(page_url, a["href"])) for a in rewatches.select("a")]
            assert linked == [s for s in slugs if s != slug]  # publication order


def test_archives_list_each_publication_year_with_its_reviews(output):
    by_year = defaultdict(set)
    for review in published_reviews():
        by_year[str(review["date"].year)].add(review["slug"])
    links = {a.get_text(): resolve("archives/", a["href"])
             for a in soup_of(output, "archives/").select(".archive-years a")}
    assert set(links) == set(by_year)
    for year, url in links.items():
        assert url == f"archives/{year}/"
        soup = soup_of(output, url)
        listed = {review_slug(resolve(url, a["href"])) for a in soup.select("main > ul a")}
        assert listed == by_year[year]


# --- Settings and bad input ------------------------------------------------------------

@pytest.fixture(scope="module")
def custom_site(tmp_path_factory):
    """A small site: custom genre URLs, one misspelt setting, one unusable genre name."""
    root = tmp_path_factory.mktemp("custom")
    for name in ("theme", "plugins"):
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pelicanconf.py", root / "pelicanconf.py")
    shutil.copytree(ROOT / "content", root / "content", ignore=shutil.ignore_patterns("*.md"))
    shutil.copytree(ROOT / "content" / "pages", root / "content" / "pages", dirs_exist_ok=True)
    for slug in ("her-2013", "being-john-malkovich-1999"):
        shutil.copy(REVIEWS / f"{slug}.md", root / "content" / "reviews")
    broken = root / "content" / "reviews" / "her-2013.md"
    broken.write_text(broken.read_text(encoding="utf-8").replace(
        "Genre: Drama, Romance, Science Fiction", "Genre: Drama, ???"), encoding="utf-8")
    return build_site(root / "pelicanconf.py", root / "output", root=root, overrides={
        "FILMREVIEWS_BROWSE": {"genre_url": "film-genres/{slug}.html", "genre_ulr": "x/{slug}/"},
    })


def test_genre_url_pattern_comes_from_the_settings(custom_site):
    output = custom_site.output_path
    assert (output / "film-genres" / "drama.html").is_file()
    assert not (output / "genres" / "drama").exists()
    url, count = index_entries(output, "genres/")["Drama"]
    assert (url, count) == ("film-genres/drama.html", 2)


def test_misspelt_browse_setting_is_named_with_the_expected_keys(custom_site):
    message = next(m for m in custom_site.warnings if "genre_ulr" in m)
    assert "FILMREVIEWS_BROWSE" in message and "genre_url" in message


def test_genre_without_letters_names_file_field_and_value(custom_site):
    assert any("content/reviews/her-2013.md: Genre: '???'" in p for p in custom_site.problems), \
        custom_site.problems
    assert set(index_entries(custom_site.output_path, "genres/")) == {"Drama", "Comedy", "Fantasy"}



def related_slugs(output: Path) -> dict[str, list[str]]:
    """Review slug -> the related reviews its page shows, in order."""
    related = {}
    for review in published_reviews():
        page_url = f"reviews/{review['slug']}/"
        soup = soup_of(output, page_url)
        section = soup.select_one(".related-reviews")
        related[review["slug"]] = card_slugs(soup, page_url, within=".related-reviews") if section else []
    return related


@pytest.mark.parametrize("value", ["four", -1, 2.5])
def test_unusable_related_reviews_count_is_named_and_the_default_of_four_is_used(
        output, tmp_path, value):
    result = build_site(ROOT / "pelicanconf.py", tmp_path / "output",
                        overrides={"FILMREVIEWS_RELATED_REVIEWS": value})
    assert result.error is None, result.error
    assert (f"Browse setting problem: FILMREVIEWS_RELATED_REVIEWS: {value!r}: "
            "expected a whole number from 0 up") in "\n".join(result.problems), result.problems
    shown = related_slugs(result.output_path)
    assert max(len(slugs) for slugs in shown.values()) == 4
    assert shown == related_slugs(output)


# --- The related-review choice against its ranking rule ---------------------------

def _stand_in_reviews(count: int, seed: int) -> list:
    """Reviews as the browse module reads them, with many overlaps and some rewatches."""
    import random
    from types import SimpleNamespace

    rng = random.Random(seed)
    genres = [f"Genre {i}" for i in range(8)]
    tags = [f"tag-{i}" for i in range(10)]
    directors = [f"Director {i}" for i in range(40)]
    films = []
    articles = []
    for index in range(count):
        if films and rng.random() < 0.05:
            film = rng.choice(films)  # a rewatch: same film, same director
        else:
            film = (f"Film {index}", 1950 + index % 70, rng.sample(directors, rng.choice((1, 1, 1, 2))))
            films.append(film)
        review = SimpleNamespace(directors=film[2], genres=rng.sample(genres, rng.randint(1, 3)),
                                 film_key=film[:2])
        articles.append(SimpleNamespace(
            slug=f"review-{index:04d}", review=review,
            # Several reviews on one day, so the slug breaks ties.
            date=dt.datetime(2010, 1, 1, tzinfo=SITE_TZ) + dt.timedelta(days=rng.randint(0, count // 3)),
            tags=[SimpleNamespace(slug=t) for t in rng.sample(tags, rng.randint(0, 3))]))
    return articles


def _related_by_the_rule(articles, count: int) -> dict:
    """Every pair compared: directors, genres, tags, newest, slug; the same film left out."""
    def shared(a, b, attribute):
        return len(set(getattr(a.review, attribute)) & set(getattr(b.review, attribute)))

    chosen = {}
    for article in articles:
        ranked = []
        for other in articles:
            if other is article or other.review.film_key == article.review.film_key:
                continue
            tags = len({t.slug for t in article.tags} & {t.slug for t in other.tags})
            score = (shared(article, other, "directors"), shared(article, other, "genres"), tags)
            if any(score):
                ranked.append(([-s for s in score], -other.date.timestamp(), other.slug, other))
        chosen[article.slug] = [entry[-1].slug for entry in sorted(ranked, key=lambda e: e[:3])[:count]]
    return chosen


@pytest.mark.parametrize("count", [1, 4, 9])
def test_related_choice_through_the_index_ranks_like_comparing_every_pair(count):
    from filmreviews.browse import FacetMaker, choose_related

    articles = _stand_in_reviews(400, seed=count)
    maker = FacetMaker({"FILMREVIEWS_BROWSE": {}})
    related = choose_related(articles, maker, count)
    assert {a.slug: [r.slug for r in related[id(a)]] for a in articles} == _related_by_the_rule(articles, count)

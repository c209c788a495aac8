"""The theme's HTML, read from the real sample site: valid, structured, fast to load.

Every generated page goes through the Nu HTML Checker (vnu.jar from the npm
package vnu-jar pinned in tests/package.json, run with Java), then through
structural checks with BeautifulSoup. The search index (plugins/filmreviews/search.py) is
checked here too, since the theme decides what Pagefind indexes.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from blogtools.build import build_site
from tests.nu import nu_errors
from tests.site_fixture import html_pages, soup_of

ROOT = Path(__file__).resolve().parent.parent

# Installed by `npm ci` in tests/ (bootstrap.sh test does it).
REVIEW_BUDGET_BYTES = 20 * 1024  # review page HTML + CSS + JS, gzipped, posters excluded
PLAIN_TEXT_LEAKS = ('class="caps"', "<span", "&nbsp;", "&#160;", "\xa0")


@pytest.fixture(scope="module")
def pages(output):
    found = html_pages(output)
    assert len(found) > 30, "the sample site should produce dozens of pages"
    return found


def page(output: Path, url: str):
    path = output / url / "index.html" if url.endswith("/") or url == "" else output / url
    return soup_of(path)


# --- The Nu HTML Checker ---------------------------------------------------------

def test_every_page_and_the_stylesheet_pass_the_nu_html_checker(output, pages, production_build):
    """Both builds: the preview (relative links) and production (absolute links)."""
    stylesheet = output / "theme" / "css" / "site.css"
    production = html_pages(production_build.output_path)
    assert len(production) == len(pages)
    errors = nu_errors(pages + production, css=[stylesheet])
    assert not errors, "\n".join(errors)


# --- Structure ---------------------------------------------------------------------

def test_every_page_has_exactly_one_h1(output, pages):
    wrong = {str(p.relative_to(output)): len(soup_of(p).find_all("h1")) for p in pages}
    assert {name: count for name, count in wrong.items() if count != 1} == {}


def test_every_page_has_landmarks_a_skip_link_and_a_language(pages):
    for path in pages:
        soup = soup_of(path)
        assert soup.html.get("lang") == "en", path
        skip = soup.body.find("a")
        assert skip["href"] == "#main" and "skip" in skip.get_text().lower(), path
        assert soup.find("main", id="main") and soup.find("header") and soup.find("footer"), path
        assert soup.find("nav", attrs={"aria-label": "Main"}), path


def test_time_elements_carry_iso_dates(pages):
    seen = 0
    for path in pages:
        for time in soup_of(path).find_all("time"):
            stamp = time.get("datetime", "")
            parsed = dt.datetime.fromisoformat(stamp)  # raises on anything but ISO 8601
            assert parsed.year > 1900, (path, stamp)
            seen += 1
    assert seen > 20


def test_review_page_shows_the_film_the_review_and_its_watched_date(output):
    soup = page(output, "reviews/her-2013/")
    article = soup.select_one("main article.review[data-pagefind-body]")
    assert article.h1.get_text(strip=True) == "Her"
    facts = article.select_one(".film-facts").get_text(" ", strip=True)
    for fact in ("Spike Jonze", "Joaquin Phoenix", "Science Fiction", "2013"):
        assert fact in facts
    assert article.select_one(".rating").get_text(" ", strip=True) == "★★★★½ 4.5 out of 5"
    stamps = [t["datetime"] for t in article.select(".review-byline time")]
    assert stamps == ["2024-03-02T20:15:00+01:00", "2024-02-28"]
    assert "Theodore writes heartfelt letters" in article.select_one(".review-body").get_text()
    assert [a.get_text() for a in article.select(".tag-list a")] == [
        "loneliness", "artificial intelligence", "los angeles"]


def test_ratings_have_a_text_alternative_to_the_stars(output):
    card = page(output, "").select_one(".poster-card-small .rating:not(.rating-none)")
    stars = card.find(attrs={"aria-hidden": "true"})
    assert set(stars.get_text()) <= set("★½")
    assert re.fullmatch(r"Rated \d(\.5)? out of 5", card.select_one(".visually-hidden").get_text())


def test_review_poster_is_eager_and_everything_below_the_fold_is_lazy(output):
    review = page(output, "reviews/her-2013/")
    hero, *others = review.select("main img")
    assert hero.find_parent(class_="poster-card-large")
    assert hero["loading"] == "eager" and hero["fetchpriority"] == "high"
    assert others and all(img["loading"] == "lazy" for img in others)
    home = page(output, "").select("main img")
    assert [img["loading"] for img in home[:6]] == ["eager"] * 6  # the first row at 1280 px
    assert len(home) > 6 and all(img["loading"] == "lazy" for img in home[6:])
    tag = page(output, "tags/loneliness/").select("main img")
    assert tag and all(img["loading"] == "lazy" for img in tag)


def test_every_image_declares_its_size(pages):
    for path in pages:
        for img in soup_of(path).find_all("img"):
            assert int(img["width"]) > 0 and int(img["height"]) > 0, (path, img)


def test_assets_never_come_from_another_site(output, pages):
    for path in pages:
        soup = soup_of(path)
        urls = [tag["src"] for tag in soup.find_all(["img", "script", "source", "iframe"]) if tag.get("src")]
        urls += [url.split()[0] for tag in soup.find_all(["img", "source"])
                 for url in tag.get("srcset", "").split(",") if url.strip()]
        urls += [link["href"] for link in soup.find_all("link")
                 if set(link.get("rel", [])) & {"stylesheet", "icon", "preload", "modulepreload", "manifest"}]
        external = [u for u in urls if urlsplit(u).scheme or u.startswith("//")]
        assert not external, (path, external)
    css = (output / "theme" / "css" / "site.css").read_text(encoding="utf-8")
    assert "@import" not in css and "@font-face" not in css
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", css)


def test_plain_text_places_hold_no_typography_markup(pages):
    for path in pages:
        raw = path.read_text(encoding="utf-8")
        title = re.search(r"<title>(.*?)</title>", raw, re.S).group(1)
        soup = soup_of(path)
        values = [title] + [m.get("content", "") for m in soup.find_all("meta")]
        values += [img.get("alt", "") for img in soup.find_all("img")]
        values += [el.get_text() for el in soup.find_all(attrs={"data-pagefind-meta": True})]
        leaks = [v for v in values if any(mark in v for mark in PLAIN_TEXT_LEAKS)]
        assert not leaks, (path, leaks)
        assert raw.count("<title>") == 1


def test_typogrify_marks_in_the_review_text_are_styled(output):
    css = (output / "theme" / "css" / "site.css").read_text(encoding="utf-8")
    for selector in (".caps", ".amp", ".dquo"):
        assert re.search(re.escape(selector) + r"\s*\{", css), selector
    body = page(output, "reviews/apollo-13-1995/").select_one(".review-body")
    assert body.select_one("span.caps")


def test_nav_marks_the_page_you_are_on(output):
    for url, label in (("", "Reviews"), ("archives/", "Archives"), ("tags/", "Tags"),
                       ("genres/", "Genres"), ("search/", "Search"), ("about/", "About")):
        current = page(output, url).select('nav[aria-label="Main"] [aria-current="page"]')
        assert [a.get_text() for a in current] == [label], url
    assert not page(output, "reviews/her-2013/").select('nav[aria-label="Main"] [aria-current]')


def test_scheme_toggle_is_applied_before_the_stylesheet_and_hidden_without_javascript(output):
    soup = page(output, "")
    head = list(soup.head.children)
    inline = next(i for i, el in enumerate(head) if getattr(el, "name", None) == "script" and not el.get("src"))
    sheet = next(i for i, el in enumerate(head) if getattr(el, "name", None) == "link" and "stylesheet" in el.get("rel", []))
    assert inline < sheet and "localStorage" in head[inline].string
    toggle = soup.select_one("header button.scheme-toggle")
    assert toggle.has_attr("hidden") and toggle["aria-pressed"] == "false"
    script = soup.head.find("script", src=True)
    assert script["src"].endswith("theme/js/site.js") and script.has_attr("defer")


def test_review_page_fits_the_weight_budget(output):
    """HTML + CSS + JS of a review page, gzipped, excluding posters: at most 20 KB."""
    review = output / "reviews" / "her-2013" / "index.html"
    soup = soup_of(review)
    files = [review]
    files += [(review.parent / link["href"]).resolve() for link in soup.find_all("link", rel="stylesheet")]
    files += [(review.parent / script["src"]).resolve() for script in soup.find_all("script", src=True)]
    sizes = {f.name: len(gzip.compress(f.read_bytes(), 9)) for f in files}
    assert len(sizes) == 3 and sum(sizes.values()) <= REVIEW_BUDGET_BYTES, sizes


# --- Search ----------------------------------------------------------------------------

def test_search_page_works_without_javascript_by_pointing_to_the_browse_pages(output):
    soup = page(output, "search/")
    assert soup.select_one("form.search-form").has_attr("hidden")  # shown by site.js
    links = {a.get_text(): a["href"] for a in soup.select(".search-browse a")}
    assert {"Genres", "Directors", "Years", "Tags", "Archives"} <= set(links)
    assert soup.select_one(".search-no-js")


def test_search_index_holds_the_reviews_and_nothing_else(output):
    entry = json.loads((output / "pagefind" / "pagefind-entry.json").read_text(encoding="utf-8"))
    indexed = sum(language["page_count"] for language in entry["languages"].values())
    reviews = len(list((output / "reviews").glob("*/index.html")))
    assert indexed == reviews > 0
    her = page(output, "reviews/her-2013/")
    meta = {el["data-pagefind-meta"]: el.get_text() for el in her.select("[data-pagefind-meta]")}
    assert meta["title"] == "Her (2013)"
    assert (output / "reviews" / "her-2013" / meta["image"]).resolve().is_file()
    assert "Joaquin Phoenix" in her.select_one("[data-pagefind-body]").get_text()


def test_search_indexes_every_cast_member_from_the_front_matter(output):
    """Pagefind reads the data-pagefind-body region minus anything marked data-pagefind-ignore."""
    front = (ROOT / "content" / "reviews" / "her-2013.md").read_text(encoding="utf-8").split("\n\n", 1)[0]
    cast = re.search(r"^Cast:\s*(.+)$", front, re.M).group(1).split(", ")
    assert "Rooney Mara" in cast
    body = page(output, "reviews/her-2013/").select_one("[data-pagefind-body]")
    for ignored in body.select("[data-pagefind-ignore]"):
        ignored.decompose()
    indexed = " ".join(body.get_text(" ").split())
    assert [name for name in cast if name not in indexed] == []


def test_search_can_be_turned_off(tmp_path):
    result = build_site(ROOT / "pelicanconf.py", tmp_path / "out", {"FILMREVIEWS_SEARCH": False})
    assert result.ok, result.problems
    assert not (tmp_path / "out" / "pagefind").exists()
    assert (tmp_path / "out" / "search" / "index.html").is_file()


def test_a_search_index_that_cannot_be_written_is_a_build_problem(tmp_path):
    # A static file saved as "pagefind" takes the place of the search bundle's folder.
    result = build_site(ROOT / "pelicanconf.py", tmp_path / "out", {
        "STATIC_PATHS": ["images", "extra/robots.txt"],
        "EXTRA_PATH_METADATA": {"extra/robots.txt": {"path": "pagefind"}},
    })
    problems = [p for p in result.problems if p.startswith("Search problem")]
    assert len(problems) == 1, result.warnings
    assert "/pagefind: search index: 'a file': expected" in problems[0] and "search bundle" in problems[0]
    assert not result.ok

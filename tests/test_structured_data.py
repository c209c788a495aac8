"""JSON-LD, Open Graph / Twitter tags and canonical links, read from real builds."""

import datetime as dt
import json
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from PIL import Image

from tests.site_copy import build_reviews

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION_ROOT = "https://reelnotes.example.org"
PREVIEW_ROOT = "http://localhost:8000"
AUTHOR = "Marta Kowalczyk"
SITENAME = "Reel Notes"


def soup(path):
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def review_pages(output):
    pages = sorted((output / "reviews").glob("*/index.html"))
    assert pages, "the build wrote no review pages"
    return pages


def ld_scripts(page):
    return page.find_all("script", type="application/ld+json")


def review_json_ld(page):
    scripts = ld_scripts(page)
    assert len(scripts) == 1, [s.string for s in scripts]
    return json.loads(scripts[0].string)


def meta_values(page, key):
    return [tag["content"] for tag in page.find_all("meta")
            if key in (tag.get("property"), tag.get("name"))]


def meta_value(page, key):
    values = meta_values(page, key)
    assert len(values) == 1, (key, values)
    return values[0]


def card_alt(slug):
    """What the social card shows, in words, from the review's own front matter."""
    for review in (ROOT / "content" / "reviews").glob("*.md"):
        header = review.read_text(encoding="utf-8").split("\n\n", 1)[0]
        fields = {k.strip().lower(): v.strip() for k, _, v in
                  (line.partition(":") for line in header.splitlines())}
        if fields["slug"] == slug:
            rating = f", rated {float(fields['rating']):g} out of 5" if fields.get("rating") else ""
            return f"{fields['movie']} ({fields['year']}){rating}"
    raise AssertionError(f"no review with slug {slug}")


def output_file_for(build, url, root):
    """The file in the build output that an absolute site URL points at."""
    assert url.startswith(root + "/"), url
    path = build.output_path / url[len(root) + 1:]
    return path / "index.html" if url.endswith("/") else path


# --- JSON-LD ------------------------------------------------------------------------------

def test_every_review_page_has_the_review_json_ld_google_requires(production_build):
    for path in review_pages(production_build.output_path):
        data = review_json_ld(soup(path))
        assert data["@context"] == "https://schema.org" and data["@type"] == "Review"
        movie = data["itemReviewed"]
        assert movie["@type"] == "Movie" and movie["name"], path
        assert data["author"] == {"@type": "Person", "name": AUTHOR}
        assert data["publisher"]["name"] == SITENAME
        assert data["publisher"]["@type"] in ("Organization", "Person")
        assert data["name"] and data["headline"] == data["name"]
        assert data["description"]
        slug = path.parent.name
        assert data["url"] == f"{PRODUCTION_ROOT}/reviews/{slug}/"
        published = dt.datetime.fromisoformat(data["datePublished"])
        assert published.tzinfo is not None, data["datePublished"]
        assert all(d["@type"] == "Person" and d["name"] for d in movie["director"])
        assert movie["dateCreated"].isdigit()
        assert output_file_for(production_build, movie["image"], PRODUCTION_ROOT).is_file()


def test_rated_review_carries_its_rating_on_the_half_star_scale(production_build):
    data = review_json_ld(soup(production_build.output_path / "reviews" / "her-2013" / "index.html"))
    assert data["reviewRating"] == {"@type": "Rating", "ratingValue": 4.5,
                                    "bestRating": 5, "worstRating": 0.5}
    movie = data["itemReviewed"]
    assert movie["name"] == "Her" and movie["dateCreated"] == "2013"
    assert movie["director"] == [{"@type": "Person", "name": "Spike Jonze"}]
    assert movie["sameAs"] == ["https://www.imdb.com/title/tt1798709/",
                               "https://www.themoviedb.org/movie/152601"]


def test_whole_star_rating_is_a_whole_number(production_build):
    data = review_json_ld(soup(production_build.output_path / "reviews" / "parasite-2019" / "index.html"))
    assert data["reviewRating"]["ratingValue"] == 5
    assert isinstance(data["reviewRating"]["ratingValue"], int)


def test_unrated_review_has_no_rating_markup(production_build):
    page = soup(production_build.output_path / "reviews" / "koyaanisqatsi-1982" / "index.html")
    data = review_json_ld(page)
    assert "reviewRating" not in data
    assert "ratingValue" not in ld_scripts(page)[0].string
    assert data["itemReviewed"]["name"] == "Koyaanisqatsi"


def test_review_without_imdb_or_tmdb_has_no_same_as(production_build):
    data = review_json_ld(soup(production_build.output_path / "reviews" / "cleo-from-5-to-7-1962" / "index.html"))
    assert "sameAs" not in data["itemReviewed"]


def test_list_pages_carry_no_review_json_ld(production_build):
    out = production_build.output_path
    lists = [out / "index.html", out / "archives" / "index.html", out / "tags" / "index.html",
             out / "genres" / "drama" / "index.html", out / "page" / "2" / "index.html"]
    for path in [p for p in lists if p.is_file()]:
        for script in ld_scripts(soup(path)):
            assert json.loads(script.string)["@type"] != "Review", path
    home = [json.loads(s.string) for s in ld_scripts(soup(out / "index.html"))]
    assert home == [{"@context": "https://schema.org", "@type": "WebSite", "name": SITENAME,
                     "url": PRODUCTION_ROOT + "/", "description": "Film reviews, one poster at a time",
                     "inLanguage": "en"}]


# --- Open Graph, Twitter and canonical ---------------------------------------------------------

@pytest.mark.parametrize("build_name, root", [("production_build", PRODUCTION_ROOT),
                                              ("preview_build", PREVIEW_ROOT)])
def test_social_tags_of_reviews_are_absolute_and_point_at_real_files(request, build_name, root):
    build = request.getfixturevalue(build_name)
    for path in review_pages(build.output_path):
        page = soup(path)
        url = f"{root}/reviews/{path.parent.name}/"
        assert page.find("link", rel="canonical")["href"] == url
        assert meta_value(page, "og:url") == url
        assert meta_value(page, "og:type") == "article"
        assert meta_value(page, "og:site_name") == SITENAME
        assert meta_value(page, "twitter:card") == "summary_large_image"
        image = meta_value(page, "og:image")
        assert meta_value(page, "twitter:image") == image
        card = output_file_for(build, image, root)
        with Image.open(card) as picture:
            assert picture.size == (1200, 630)
        assert meta_value(page, "og:image:width") == "1200"
        assert meta_value(page, "og:image:height") == "630"
        # og:image is the social card, so the alt describes the card, not the poster alone.
        assert meta_value(page, "og:image:alt") == card_alt(path.parent.name)
        assert meta_value(page, "twitter:image:alt") == card_alt(path.parent.name)
        published = dt.datetime.fromisoformat(meta_value(page, "article:published_time"))
        assert published.tzinfo is not None


def test_one_article_tag_per_tag(production_build):
    page = soup(production_build.output_path / "reviews" / "her-2013" / "index.html")
    assert meta_values(page, "article:tag") == ["loneliness", "artificial intelligence", "los angeles"]


def test_social_and_json_ld_text_is_plain(production_build):
    # Typogrify turns "online movie review" into "online movie&nbsp;review" in every title.
    for path in review_pages(production_build.output_path):
        page = soup(path)
        data = review_json_ld(page)
        values = [data["name"], data["description"], data["itemReviewed"]["name"]]
        values += [meta_value(page, key) for key in
                   ("og:title", "og:description", "twitter:title", "twitter:description", "og:image:alt")]
        for value in values:
            assert "<" not in value and "&" not in value and "\xa0" not in value, (path, value)
        assert meta_value(page, "og:title") == data["name"] == page.title.string.split(" · ")[0]


@pytest.mark.parametrize("build_name, root", [("production_build", PRODUCTION_ROOT),
                                              ("preview_build", PREVIEW_ROOT)])
def test_other_pages_get_basic_website_tags(request, build_name, root):
    out = request.getfixturevalue(build_name).output_path
    for relative, url, title in [("index.html", "/", SITENAME), ("about/index.html", "/about/", "About"),
                                 ("page/2/index.html", "/page/2/", SITENAME),
                                 ("genres/drama/index.html", "/genres/drama/", "Drama")]:
        page = soup(out / relative)
        assert page.find("link", rel="canonical")["href"] == root + url
        assert meta_value(page, "og:type") == "website"
        assert meta_value(page, "og:url") == root + url
        assert meta_value(page, "og:title") == title
        assert not meta_values(page, "og:image")


def test_hidden_404_page_has_no_canonical_link(production_build):
    page = soup(production_build.output_path / "404.html")
    assert page.find("link", rel="canonical") is None
    assert not meta_values(page, "og:url")


# --- Text that tries to leave the <script> ------------------------------------------------------

ESCAPED_TITLE_REVIEW = """\
Title: Escaping &lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt; for NASA
Date: 2024-01-10 20:00
Slug: escaping
Movie: &lt;/script&gt;&lt;script&gt;alert(2)&lt;/script&gt;&lt;!-- &amp; co
Year: 2013
Director: Spike Jonze
Rating: 3
Poster: images/posters/her-2013.jpg
Summary: Ends here &lt;/script&gt; or does it

A review whose title text holds a closing script tag.
"""

RAW_TITLE_REVIEW = """\
Title: </script><script>alert(1)</script> Raw HTML title
Date: 2024-01-11 20:00
Slug: raw-html
Movie: Alien
Year: 1979
Director: Ridley Scott
Poster: images/posters/alien-1979.jpg
Summary: Raw tags in the title.

A review whose title is raw HTML, which Pelican passes through as markup.
"""


@pytest.fixture(scope="module")
def hostile_build(tmp_path_factory):
    return build_reviews(tmp_path_factory, "hostile-site",
                         {"escaping.md": ESCAPED_TITLE_REVIEW, "raw-html.md": RAW_TITLE_REVIEW})


def test_script_closing_text_in_a_title_cannot_leave_the_json_ld(hostile_build):
    path = hostile_build.output_path / "reviews" / "escaping" / "index.html"
    raw = path.read_text(encoding="utf-8")
    page = BeautifulSoup(raw, "html.parser")
    data = review_json_ld(page)  # exactly one, and it parses
    # Typogrify wraps NASA in <span class="caps"> and glues "for NASA" with &nbsp;.
    assert data["name"] == "Escaping </script><script>alert(1)</script> for NASA"
    assert data["itemReviewed"]["name"] == "</script><script>alert(2)</script><!-- & co"
    assert data["description"] == "Ends here </script> or does it"
    script_body = raw.split('<script type="application/ld+json">', 1)[1].split("</script>", 1)[0]
    assert "<" not in script_body and ">" not in script_body
    assert json.loads(script_body) == data
    assert meta_value(page, "og:title") == data["name"]


def test_raw_html_title_reaches_json_ld_as_its_plain_text(hostile_build):
    page = soup(hostile_build.output_path / "reviews" / "raw-html" / "index.html")
    data = review_json_ld(page)
    assert data["name"] == "alert(1) Raw HTML title"
    assert "reviewRating" not in data
    assert page.title.string.startswith(data["name"] + " · ")


# --- A poster the build refused --------------------------------------------------------------


def test_refused_poster_gives_a_review_no_social_or_json_ld_image(refused_poster_build):
    out = refused_poster_build.output_path
    page = soup(out / "reviews" / "refused-poster" / "index.html")
    for key in ("og:image", "og:image:width", "og:image:height", "og:image:alt",
                "twitter:image", "twitter:image:alt"):
        assert not meta_values(page, key), key
    assert meta_value(page, "twitter:card") == "summary"
    assert "image" not in review_json_ld(page)["itemReviewed"]
    assert "not-a-picture" not in str(page.head)
    # The review beside it, whose poster is fine, keeps its card and image.
    good = soup(out / "reviews" / "good-poster" / "index.html")
    card = output_file_for(refused_poster_build, meta_value(good, "og:image"), PRODUCTION_ROOT)
    with Image.open(card) as picture:
        assert picture.size == (1200, 630)
    assert meta_value(good, "twitter:card") == "summary_large_image"
    image = review_json_ld(good)["itemReviewed"]["image"]
    assert output_file_for(refused_poster_build, image, PRODUCTION_ROOT).is_file()

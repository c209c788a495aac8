"""Atom and RSS feeds, read from real builds: RFC 4287 / RSS 2.0 rules, posters, genres.

No offline build of the W3C feed validator exists as a package, so these tests
check the rules it enforces directly, with an XML parser, and check that
feedparser reads every entry without complaint.
"""

import email.utils
import re
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import pytest
from bs4 import BeautifulSoup
from defusedxml import ElementTree as ET

from tests.site_copy import build_reviews, front_matter

ROOT = Path(__file__).resolve().parent.parent
REVIEWS = ROOT / "content" / "reviews"
PRODUCTION_ROOT = "https://reelnotes.example.org"
PREVIEW_ROOT = "http://localhost:8000"
ATOM = "{http://www.w3.org/2005/Atom}"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
RFC822 = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                    r"\d{4} \d\d:\d\d:\d\d [+-]\d{4}$")
BUILDS = [("production_build", PRODUCTION_ROOT), ("preview_build", PREVIEW_ROOT)]


def published_reviews(build):
    """Front matter of every sample review the build published, by slug."""
    reviews = {}
    for path in sorted(REVIEWS.glob("*.md")):
        meta = front_matter(path)
        if (build.output_path / "reviews" / meta["slug"] / "index.html").is_file():
            reviews[meta["slug"]] = meta
    assert len(reviews) >= 8
    return reviews


def feed_files(build):
    files = sorted((build.output_path / "feeds").rglob("*.xml"))
    assert any(f.name == "all.atom.xml" for f in files) and any(f.name == "all.rss.xml" for f in files)
    return files


def feed_url(build, path, root):
    return f"{root}/{path.relative_to(build.output_path).as_posix()}"


def is_absolute(url):
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def output_file_for(build, url, root):
    assert url.startswith(root + "/"), url
    path = build.output_path / url[len(root) + 1:]
    return path / "index.html" if url.endswith("/") else path


def parse(path):
    """feedparser, told to leave URLs and markup as written so the tests see what readers get."""
    return feedparser.parse(str(path), resolve_relative_uris=False, sanitize_html=False)


def one(parent, tag):
    found = parent.findall(tag)
    assert len(found) == 1, (tag, len(found))
    return found[0]


# --- Validity: what the W3C feed validator checks ------------------------------------------------

def check_atom(build, path, root):
    feed = ET.parse(path).getroot()
    assert feed.tag == f"{ATOM}feed"
    assert one(feed, f"{ATOM}title").text
    assert is_absolute(one(feed, f"{ATOM}id").text)
    assert RFC3339.match(one(feed, f"{ATOM}updated").text)
    links = {link.get("rel", "alternate"): link.get("href") for link in feed.findall(f"{ATOM}link")}
    assert links["self"] == feed_url(build, path, root)
    assert is_absolute(links["alternate"])
    feed_has_author = feed.find(f"{ATOM}author/{ATOM}name") is not None
    entries = feed.findall(f"{ATOM}entry")
    assert entries, path
    ids = [one(entry, f"{ATOM}id").text for entry in entries]
    assert len(set(ids)) == len(ids), "entry ids must be unique"
    for entry in entries:
        assert is_absolute(one(entry, f"{ATOM}id").text)
        assert one(entry, f"{ATOM}title").text
        assert RFC3339.match(one(entry, f"{ATOM}updated").text)
        assert RFC3339.match(one(entry, f"{ATOM}published").text)
        assert feed_has_author or entry.find(f"{ATOM}author/{ATOM}name") is not None
        by_rel = {}
        for link in entry.findall(f"{ATOM}link"):
            by_rel.setdefault(link.get("rel", "alternate"), []).append(link)
        assert len(by_rel["alternate"]) == 1 and is_absolute(by_rel["alternate"][0].get("href"))
        for enclosure in by_rel["enclosure"]:
            assert is_absolute(enclosure.get("href"))
            assert enclosure.get("length").isdigit() and enclosure.get("type")
        content = one(entry, f"{ATOM}content")
        assert content.get("type") == "html" and content.text
        summary = entry.find(f"{ATOM}summary")
        assert summary is None or summary.get("type") == "html"


def check_rss(build, path, root):
    rss = ET.parse(path).getroot()
    assert rss.tag == "rss" and rss.get("version") == "2.0"
    channel = one(rss, "channel")
    for name in ("title", "link", "description"):
        assert one(channel, name).text, name
    assert is_absolute(one(channel, "link").text)
    self_link = one(channel, f"{ATOM}link")
    assert self_link.get("rel") == "self" and self_link.get("href") == feed_url(build, path, root)
    assert RFC822.match(one(channel, "lastBuildDate").text)
    items = channel.findall("item")
    assert items, path
    for item in items:
        assert one(item, "title").text and one(item, "description").text
        link = one(item, "link").text
        assert is_absolute(link)
        guid = one(item, "guid")
        # Pelican's own feeds use a tag: URI here without isPermaLink="false".
        assert guid.get("isPermaLink") == "true" and guid.text == link
        assert RFC822.match(one(item, "pubDate").text)
        assert email.utils.parsedate_to_datetime(one(item, "pubDate").text).tzinfo is not None
        enclosure = one(item, "enclosure")
        assert is_absolute(enclosure.get("url"))
        assert enclosure.get("length").isdigit() and enclosure.get("type") == "image/jpeg"


@pytest.mark.parametrize("build_name, root", BUILDS)
def test_every_feed_meets_the_atom_and_rss_specifications(request, build_name, root):
    build = request.getfixturevalue(build_name)
    for path in feed_files(build):
        (check_atom if path.name.endswith(".atom.xml") else check_rss)(build, path, root)


@pytest.mark.parametrize("build_name, root", BUILDS)
def test_feedparser_reads_every_entry_with_title_link_date_content_and_poster(request, build_name, root):
    build = request.getfixturevalue(build_name)
    for path in feed_files(build):
        feed = parse(path)
        assert not feed.bozo, (path, feed.get("bozo_exception"))
        assert feed.version in ("atom10", "rss20")
        for entry in feed.entries:
            assert entry.title and entry.link.startswith(root + "/reviews/")
            assert entry.published_parsed is not None
            html = entry.content[0].value if "content" in entry else entry.description
            first = BeautifulSoup(html, "html.parser").find()
            assert first.name == "p" and first.img is not None, (path, entry.title)
            assert first.img["src"].startswith(root + "/") and first.img["alt"].startswith("Poster for ")
            assert len(entry.enclosures) == 1 and entry.enclosures[0].type == "image/jpeg"


def test_whole_site_feeds_hold_every_published_review(production_build):
    slugs = set(published_reviews(production_build))
    for name in ("all.atom.xml", "all.rss.xml"):
        feed = parse(production_build.output_path / "feeds" / name)
        assert {entry.link.rstrip("/").rsplit("/", 1)[1] for entry in feed.entries} == slugs


# --- What an entry carries ---------------------------------------------------------------------

def test_entry_titles_are_plain_film_year_and_stars(production_build):
    feed = parse(production_build.output_path / "feeds" / "all.atom.xml")
    titles = {entry.link: entry.title for entry in feed.entries}
    assert titles[f"{PRODUCTION_ROOT}/reviews/her-2013/"] == "Her (2013) ★★★★½"
    assert titles[f"{PRODUCTION_ROOT}/reviews/parasite-2019/"] == "Parasite (2019) ★★★★★"
    assert titles[f"{PRODUCTION_ROOT}/reviews/koyaanisqatsi-1982/"] == "Koyaanisqatsi (1982)"
    for path in feed_files(production_build):
        for entry in parse(path).entries:
            assert "<" not in entry.title and "&" not in entry.title and "\xa0" not in entry.title
            assert "caps" not in entry.title


def test_rating_is_spelled_out_at_the_top_of_rated_entries_only(production_build):
    feed = parse(production_build.output_path / "feeds" / "all.atom.xml")
    content = {entry.link: entry.content[0].value for entry in feed.entries}
    assert "<p>Rating: 4.5 out of 5</p>" in content[f"{PRODUCTION_ROOT}/reviews/her-2013/"]
    assert "Rating:" not in content[f"{PRODUCTION_ROOT}/reviews/koyaanisqatsi-1982/"]


def test_entries_carry_the_whole_review(production_build):
    feed = parse(production_build.output_path / "feeds" / "all.rss.xml")
    apollo = next(e for e in feed.entries if e.link.endswith("/apollo-13-1995/"))
    text = BeautifulSoup(apollo.description, "html.parser").get_text()
    # The first and the last sentence of the review.
    assert "is a film about engineers solving problems" in text
    assert "A solid, well-made, slightly overcooked" in text


@pytest.mark.parametrize("build_name, root", BUILDS)
def test_enclosure_is_the_published_poster_with_its_real_byte_size(request, build_name, root):
    build = request.getfixturevalue(build_name)
    for path in feed_files(build):
        for entry in parse(path).entries:
            enclosure = entry.enclosures[0]
            poster = output_file_for(build, enclosure.href, root)
            assert poster.is_file(), enclosure.href
            assert int(enclosure.length) == poster.stat().st_size


@pytest.mark.parametrize("build_name, root", BUILDS)
def test_every_url_in_entry_content_is_absolute(request, build_name, root):
    build = request.getfixturevalue(build_name)
    for path in feed_files(build):
        for entry in parse(path).entries:
            html = entry.content[0].value if "content" in entry else entry.description
            for tag in BeautifulSoup(html, "html.parser").find_all(["a", "img"]):
                url = tag.get("href") or tag.get("src")
                assert is_absolute(url), (path.name, entry.title, url)
                if url.startswith(root):
                    assert output_file_for(build, url, root).is_file(), url


def test_rss_guid_is_the_permalink_and_says_so(production_build):
    raw = (production_build.output_path / "feeds" / "all.rss.xml").read_text(encoding="utf-8")
    assert "<guid>tag:" not in raw
    assert f'<guid isPermaLink="true">{PRODUCTION_ROOT}/reviews/her-2013/</guid>' in raw


# --- One feed per genre --------------------------------------------------------------------------

def test_each_genre_has_feeds_with_exactly_its_reviews(production_build):
    by_genre = {}
    for slug, meta in published_reviews(production_build).items():
        for genre in meta["genre"].split(","):
            # Sample genres are plain words: their slug is lowercase, hyphenated.
            by_genre.setdefault(genre.strip().lower().replace(" ", "-"), set()).add(f"{PRODUCTION_ROOT}/reviews/{slug}/")
    genre_dir = production_build.output_path / "feeds" / "genres"
    written = {p.name for p in genre_dir.iterdir()}
    assert written == {f"{g}.{kind}.xml" for g in by_genre for kind in ("atom", "rss")}
    for genre, links in by_genre.items():
        for kind in ("atom", "rss"):
            feed = parse(genre_dir / f"{genre}.{kind}.xml")
            assert {entry.link for entry in feed.entries} == links, (genre, kind)
    drama = parse(genre_dir / "drama.atom.xml")
    assert drama.feed.title == "Reel Notes: Drama reviews"
    assert "science-fiction" in by_genre  # a two-word genre gets a hyphenated slug


def test_each_genre_feed_has_its_own_atom_id(production_build):
    genre_dir = production_build.output_path / "feeds" / "genres"
    ids = set()
    for path in genre_dir.glob("*.atom.xml"):
        feed = ET.parse(path).getroot()
        ids.add(feed.find(f"{ATOM}id").text)
    assert len(ids) == len(list(genre_dir.glob("*.atom.xml")))


# --- Relative links in a review ----------------------------------------------------------------------

LINKING_REVIEW = """\
Title: Links everywhere
Date: 2024-01-10 20:00
Slug: linking
Movie: Her
Year: 2013
Director: Spike Jonze
Genre: Drama
Rating: 4
Poster: images/posters/her-2013.jpg

See [the other review](../plain/), [it again]({filename}/reviews/plain.md),
[a footnote](#note), [a mail](mailto:marta@example.org) and [a site](https://example.com/x?a=1&b=2).

![A still]({static}/images/posters/alien-1979.jpg)

<img src="../../images/posters/her-2013.jpg" srcset="../../images/posters/her-2013.jpg 1x, /images/posters/alien-1979.jpg 2x" alt="Her">
"""

PLAIN_REVIEW = """\
Title: Plain
Date: 2024-01-09 20:00
Slug: plain
Movie: Alien
Year: 1979
Director: Ridley Scott
Genre: Horror
Poster: images/posters/alien-1979.jpg

Nothing to see.
"""


@pytest.fixture(scope="module")
def linking_build(tmp_path_factory):
    """A two-review site in the preview configuration, where SITEURL is empty."""
    return build_reviews(tmp_path_factory, "linking-site",
                         {"linking.md": LINKING_REVIEW, "plain.md": PLAIN_REVIEW}, "pelicanconf.py")


@pytest.mark.parametrize("name", ["all.atom.xml", "all.rss.xml", "genres/drama.atom.xml"])
def test_relative_links_in_a_review_become_absolute_in_feeds(linking_build, name):
    feed = parse(linking_build.output_path / "feeds" / name)
    assert not feed.bozo, feed.get("bozo_exception")
    entry = next(e for e in feed.entries if e.link == f"{PREVIEW_ROOT}/reviews/linking/")
    html = entry.content[0].value if "content" in entry else entry.description
    page = BeautifulSoup(html, "html.parser")
    assert [a["href"] for a in page.find_all("a")] == [
        f"{PREVIEW_ROOT}/reviews/plain/",
        f"{PREVIEW_ROOT}/reviews/plain/",
        f"{PREVIEW_ROOT}/reviews/linking/#note",
        "mailto:marta@example.org",
        "https://example.com/x?a=1&b=2",
    ]
    images = page.find_all("img")
    assert images[1]["src"] == f"{PREVIEW_ROOT}/images/posters/alien-1979.jpg"
    assert images[2]["src"] == f"{PREVIEW_ROOT}/images/posters/her-2013.jpg"
    assert images[2]["srcset"] == (f"{PREVIEW_ROOT}/images/posters/her-2013.jpg 1x, "
                                   f"{PREVIEW_ROOT}/images/posters/alien-1979.jpg 2x")


# --- A poster the build refused ---------------------------------------------------------------------


@pytest.mark.parametrize("name", ["all.atom.xml", "all.rss.xml", "genres/horror.atom.xml",
                                  "genres/horror.rss.xml"])
def test_refused_poster_gives_its_entry_no_image_and_no_enclosure(refused_poster_build, name):
    feed = parse(refused_poster_build.output_path / "feeds" / name)
    assert not feed.bozo, feed.get("bozo_exception")
    entries = {entry.link: entry for entry in feed.entries}

    def content(entry):
        return BeautifulSoup(entry.content[0].value if "content" in entry else entry.description,
                             "html.parser")

    refused = entries[f"{PRODUCTION_ROOT}/reviews/refused-poster/"]
    assert content(refused).find("img") is None
    assert not refused.enclosures
    assert "not-a-picture" not in str(content(refused))
    # The entry beside it, whose poster is fine, keeps both.
    good = entries[f"{PRODUCTION_ROOT}/reviews/good-poster/"]
    img = content(good).find("img")
    assert output_file_for(refused_poster_build, img["src"], PRODUCTION_ROOT).is_file()
    assert [e.href for e in good.enclosures] == [f"{PRODUCTION_ROOT}/images/posters/alien-1979.jpg"]

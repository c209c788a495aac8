"""The sample site, built for real: pages, order, drafts, sitemap, feeds, typography."""

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import feedparser
import pytest
from bs4 import BeautifulSoup

from tests.site_copy import front_matter

ROOT = Path(__file__).resolve().parent.parent
REVIEWS = ROOT / "content" / "reviews"
SITEMAP_NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}


def sample_reviews():
    return {p: front_matter(p) for p in sorted(REVIEWS.glob("*.md"))}


def is_published(meta):
    return meta.get("status", "published") == "published" and meta["date"][:4] < "2030"


def soup(path):
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def test_sample_content_exercises_what_the_blog_needs():
    reviews = sample_reviews()
    published = [m for m in reviews.values() if is_published(m)]
    assert len(published) >= 8
    assert any(m.get("status") == "draft" for m in reviews.values())
    assert any(m["date"][:4] >= "2030" for m in reviews.values())
    her = front_matter(REVIEWS / "her-2013.md")
    assert her["movie"] == "Her" and her["year"] == "2013"
    text = " ".join(p.read_text(encoding="utf-8") for p in reviews)
    for mark in ("„", "”", "—", "…"):
        assert mark in text


def test_every_published_review_has_its_page(preview_build):
    for path, meta in sample_reviews().items():
        page = preview_build.output_path / "reviews" / meta["slug"] / "index.html"
        assert page.is_file() == is_published(meta), path.name
        if page.is_file():
            h1 = soup(page).find("h1")
            assert h1 is not None and meta["movie"] in h1.get_text()


def test_draft_and_future_reviews_are_nowhere_on_the_site(preview_build):
    hidden = [m for m in sample_reviews().values() if not is_published(m)]
    assert len(hidden) >= 2
    everything = "\n".join(p.read_text(encoding="utf-8", errors="replace")
                           for p in preview_build.output_path.rglob("*")
                           if p.is_file() and p.suffix in {".html", ".xml", ".json", ".txt"})
    for meta in hidden:
        assert f"reviews/{meta['slug']}/" not in everything
        assert not (preview_build.output_path / "reviews" / meta["slug"]).exists()
        leftovers = [p for p in preview_build.output_path.rglob(f"*{meta['slug']}*")]
        assert not leftovers, leftovers  # not even its poster
    assert not (preview_build.output_path / "drafts").exists()


def test_index_lists_reviews_newest_first(preview_build):
    expected = sorted((m for m in sample_reviews().values() if is_published(m)),
                      key=lambda m: m["date"], reverse=True)
    links = [a["href"] for a in soup(preview_build.output_path / "index.html").select("main a[href*='reviews/']")]
    slugs = []
    for href in links:
        slug = re.search(r"reviews/([^/]+)/", href).group(1)
        if slug not in slugs:
            slugs.append(slug)
    first_page = slugs[: len(slugs)]
    assert first_page == [m["slug"] for m in expected][: len(first_page)]
    assert len(first_page) >= 8


def test_review_dates_are_iso_in_time_elements(preview_build):
    page = soup(preview_build.output_path / "reviews" / "her-2013" / "index.html")
    stamps = [t["datetime"] for t in page.find_all("time")]
    assert any(s.startswith("2024-03-02T20:15:00+01:00") for s in stamps), stamps


def test_sitemap_lists_pages_but_not_drafts_404_or_later_list_pages(production_build):
    tree = ET.parse(production_build.output_path / "sitemap.xml")
    locs = [e.text for e in tree.getroot().findall("s:url/s:loc", SITEMAP_NS)]
    assert "https://reelnotes.example.org/reviews/her-2013/" in locs
    assert all(loc.startswith("https://reelnotes.example.org/") for loc in locs)
    assert not [loc for loc in locs if "404" in loc or re.search(r"/page/\d+/", loc)]
    assert not [loc for loc in locs if "dune-part-two" in loc or "space-odyssey" in loc]


def robots_lines(build) -> list[str]:
    return (build.output_path / "robots.txt").read_text(encoding="utf-8").splitlines()


def test_robots_txt_points_at_the_absolute_sitemap_url(production_build):
    lines = robots_lines(production_build)
    assert lines[:2] == ["User-agent: *", "Allow: /"]
    assert [line for line in lines if line.startswith("Sitemap:")] == [
        "Sitemap: https://reelnotes.example.org/sitemap.xml"]


def test_preview_robots_txt_names_no_sitemap_since_its_urls_are_relative(preview_build):
    # A relative Sitemap line is invalid (Lighthouse marks it as an SEO error).
    assert robots_lines(preview_build) == ["User-agent: *", "Allow: /"]


@pytest.mark.parametrize("name", ["all.atom.xml", "all.rss.xml"])
def test_feeds_exist_and_parse(production_build, name):
    feed = feedparser.parse(str(production_build.output_path / "feeds" / name))
    assert not feed.bozo, feed.get("bozo_exception")
    published = [m for m in sample_reviews().values() if is_published(m)]
    assert len(feed.entries) == len(published)
    for entry in feed.entries:
        assert entry.link.startswith("https://reelnotes.example.org/reviews/")


def text_outside_markup(page):
    """Every place that must hold plain text: <title>, meta content, alt and title attributes."""
    values = [page.title.string or ""]
    values += [m.get("content", "") for m in page.find_all("meta")]
    values += [tag.get(attr, "") for attr in ("alt", "title") for tag in page.find_all(attrs={attr: True})]
    return values


def test_typogrify_markup_never_leaks_into_plain_text_places(production_build):
    out = production_build.output_path
    for html_file in out.rglob("*.html"):
        raw = html_file.read_text(encoding="utf-8")
        page = BeautifulSoup(raw, "html.parser")
        for value in text_outside_markup(page):
            assert "<span" not in value and "caps" not in value.split() and "\xa0" not in value, (html_file, value)
        title = re.search(r"<title>(.*?)</title>", raw, re.S).group(1)
        assert "<" not in title and "&nbsp;" not in title and "&#160;" not in title, (html_file, title)
    for feed_file in (out / "feeds").rglob("*.xml"):
        feed = feedparser.parse(str(feed_file))
        for entry in feed.entries:
            assert "<" not in entry.title and "\xa0" not in entry.title, (feed_file, entry.title)


def test_typogrify_does_improve_the_review_text(preview_build):
    body = (preview_build.output_path / "reviews" / "apollo-13-1995" / "index.html").read_text(encoding="utf-8")
    assert '<span class="caps">NASA</span>' in body

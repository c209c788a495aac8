"""Shared pytest setup: one real build of the sample site, in each configuration."""
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A copy of the sample site; tests that change content make their own copy of it."""
    from tests.site_copy import copy_site, shared_poster_cache

    return copy_site(tmp_path_factory.mktemp("site"), shared_poster_cache(tmp_path_factory))


@pytest.fixture
def own_copy(tmp_path, tmp_path_factory):
    """A copy of the sample site for one test to change."""
    from tests.site_copy import copy_site, shared_poster_cache

    return copy_site(tmp_path / "site", shared_poster_cache(tmp_path_factory))


@pytest.fixture(scope="session")
def preview_build(tmp_path_factory):
    """The sample site built with pelicanconf.py (the local preview), once per session."""
    from blogtools.build import build_site

    result = build_site(ROOT / "pelicanconf.py", tmp_path_factory.mktemp("preview") / "output")
    assert result.error is None, result.error
    return result


@pytest.fixture(scope="session")
def output(preview_build):
    """The preview build's output folder, for tests that need it to be problem-free."""
    assert preview_build.ok, preview_build.problems
    return preview_build.output_path


@pytest.fixture(scope="session")
def production_build(tmp_path_factory):
    """The sample site built with publishconf.py (absolute URLs), once per session."""
    from blogtools.build import build_site

    result = build_site(ROOT / "publishconf.py", tmp_path_factory.mktemp("production") / "output")
    assert result.error is None, result.error
    return result


REFUSED_POSTER_REVIEW = """\
Title: Refused poster
Date: 2024-01-12 20:00
Slug: refused-poster
Movie: Alien
Year: 1979
Director: Ridley Scott
Genre: Horror
Rating: 4
Poster: images/posters/not-a-picture.jpg
Summary: The poster file is text with a .jpg name.

The build cannot decode this review's poster.
"""
GOOD_POSTER_REVIEW = """\
Title: Good poster
Date: 2024-01-13 20:00
Slug: good-poster
Movie: Alien
Year: 1979
Director: Ridley Scott
Genre: Horror
Rating: 4
Poster: images/posters/alien-1979.jpg
Summary: A review whose poster is fine.

The poster file is a real JPEG.
"""


@pytest.fixture(scope="session")
def refused_poster_build(tmp_path_factory):
    """Two reviews in the production configuration; one poster is a text file named .jpg."""
    from blogtools.build import build_site
    from tests.site_copy import site_with_reviews

    root = site_with_reviews(tmp_path_factory, "refused-poster-site",
                             {"refused.md": REFUSED_POSTER_REVIEW, "good.md": GOOD_POSTER_REVIEW})
    (root / "content" / "images" / "posters" / "not-a-picture.jpg").write_text(
        "This is a text file, not a JPEG.\n", encoding="utf-8")
    result = build_site(root / "publishconf.py", root / "output", root=root)
    assert result.error is None, result.error
    assert any("not-a-picture.jpg" in problem for problem in result.problems), result.problems
    return result


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, driven by Playwright (no browser download)."""
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is needed for the browser tests (Debian: apt-get install chromium)"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def axe():
    from axe_playwright_python.sync_playwright import Axe

    return Axe()

"""Tests for blogtools.sample_posters (placeholder poster generator)."""
import os
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat

from blogtools import sample_posters

REVIEW = """\
Title: {movie} {year}, online movie review
Date: 2024-01-01 10:00
Slug: {slug}
Movie: {movie}
Year: {year}
Director: {director}
Rating: 4
Poster: images/posters/{slug}.jpg
Summary: A test review.

Body text with a colon: not metadata.
"""


def _write_review(content: Path, slug: str, movie: str, year: int, director: str) -> None:
    reviews = content / "reviews"
    reviews.mkdir(parents=True, exist_ok=True)
    (reviews / f"{slug}.md").write_text(
        REVIEW.format(slug=slug, movie=movie, year=year, director=director),
        encoding="utf-8",
    )


@pytest.fixture
def content(tmp_path):
    _write_review(tmp_path, "first-film-1959", "First Film", 1959, "Agnès Varda")
    _write_review(tmp_path, "a-completely-different-movie-2021",
                  "A Completely Different Movie", 2021, "Some Director")
    return tmp_path


def _poster_paths(content: Path):
    posters = content / "images" / "posters"
    return [posters / "first-film-1959.jpg",
            posters / "a-completely-different-movie-2021.jpg"]


def test_poster_jobs_reads_front_matter(content):
    jobs = sample_posters.poster_jobs(content)
    by_name = {Path(path).name: (title, year, director)
               for path, title, year, director in jobs}
    assert by_name == {
        "first-film-1959.jpg": ("First Film", "1959", "Agnès Varda"),
        "a-completely-different-movie-2021.jpg":
            ("A Completely Different Movie", "2021", "Some Director"),
    }


def test_generate_writes_jpegs_with_2_to_3_aspect(content):
    written = sample_posters.generate(content)
    expected = _poster_paths(content)
    assert sorted(map(Path, written)) == sorted(expected)
    for path in expected:
        assert path.is_file()
        assert path.read_bytes()[:3] == b"\xff\xd8\xff"  # JPEG magic
        with Image.open(path) as im:
            assert im.format == "JPEG"
            width, height = im.size
        assert width * 3 == height * 2
        assert (width, height) == (800, 1200)
        assert path.stat().st_size < 120_000


def test_different_titles_give_different_images(content):
    sample_posters.generate(content)
    first, second = _poster_paths(content)
    with Image.open(first) as a, Image.open(second) as b:
        a, b = a.convert("RGB"), b.convert("RGB")
        diff = ImageChops.difference(a, b)
        assert diff.getbbox() is not None
        # Not just JPEG noise: the average difference is clearly visible.
        assert sum(ImageStat.Stat(diff).mean) / 3 > 10


def test_rerun_without_overwrite_keeps_files(content):
    sample_posters.generate(content)
    paths = _poster_paths(content)
    old = 1_000_000_000  # set an old mtime so any rewrite would be detectable
    for path in paths:
        os.utime(path, (old, old))
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in paths}

    assert sample_posters.generate(content) == []
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in paths} == before

    rewritten = sample_posters.generate(content, overwrite=True)
    assert sorted(map(Path, rewritten)) == sorted(paths)
    assert all(p.stat().st_mtime_ns != before[p][0] for p in paths)


def test_draw_poster_is_deterministic():
    one = sample_posters.draw_poster("Her", 2013, "Spike Jonze")
    two = sample_posters.draw_poster("Her", 2013, "Spike Jonze")
    assert one.size == (800, 1200)
    assert one.mode == two.mode
    assert one.tobytes() == two.tobytes()
    other = sample_posters.draw_poster("Vertigo", 1958, "Alfred Hitchcock")
    assert other.tobytes() != one.tobytes()


def test_draw_poster_other_size_and_long_title():
    im = sample_posters.draw_poster(
        "Supercalifragilisticexpialidocious and an Extremely Long Subtitle",
        1964, "Robert Stevenson", size=(400, 600))
    assert im.size == (400, 600)


def test_japanese_title_is_drawn_not_replaced_by_question_marks():
    # tests/test_typesetting.py checks that each glyph is real, not a missing-glyph box.
    titled = sample_posters.draw_poster("千と千尋の神隠し", 2001, "", size=(400, 600), seed="same")
    marks = sample_posters.draw_poster("?" * 8, 2001, "", size=(400, 600), seed="same")
    assert ImageChops.difference(titled, marks).getbbox() is not None


def test_main_cli(content, capsys):
    assert sample_posters.main(["--content", str(content)]) == 0
    assert all(p.is_file() for p in _poster_paths(content))
    assert sample_posters.main(["--content", str(content)]) == 0
    assert sample_posters.main(["--content", str(content), "--overwrite"]) == 0

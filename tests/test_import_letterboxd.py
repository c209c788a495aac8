"""`invoke import.letterboxd`: a hand-written Letterboxd export (folder and zip)
imported into a copy of the site, built and checked."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from tests.import_support import LETTERBOXD, body, find_personal_data, front_matter
from tests.site_copy import copy_site, run_invoke, shared_poster_cache, snapshot, tree


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    from blogtools.check import check_site

    root = copy_site(tmp_path_factory.mktemp("lb-site"), shared_poster_cache(tmp_path_factory))
    run = run_invoke(root, "import.letterboxd", str(LETTERBOXD))
    assert run.returncode == 0, run.stdout + run.stderr
    return root, run.stdout, check_site(root, output_path=root / "output")


def review(root: Path, slug: str) -> Path:
    return root / "content" / "reviews" / f"{slug}.md"


def test_imported_site_builds_and_passes_check(imported):
    _, _, check = imported
    assert check.ok, check.report()
    assert (check.build.output_path / "reviews" / "paterson-2016" / "index.html").is_file()


def test_each_written_review_becomes_a_review_file(imported):
    root, report, _ = imported
    paterson = front_matter(review(root, "paterson-2016"))
    assert paterson["Title"] == "Paterson 2016, online movie review"
    assert (paterson["Movie"], paterson["Year"], paterson["Rating"]) == ("Paterson", "2016", "4.5")
    assert (paterson["Watched"], paterson["Rewatch"], paterson["Tags"]) == ("2024-01-06", "no", "slow cinema")
    assert paterson["Director"] == "Jim Jarmusch" and "Status" not in paterson  # named in the review itself
    assert paterson["Date"] == "2024-01-07 12:00"
    text = body(review(root, "paterson-2016"))
    assert "*Every day the same route*, and every day a little different. **Water falls** from the sky." in text
    assert "Reviews: 4 (1 published, 3 kept as drafts)" in report


def test_a_second_review_of_a_film_is_a_rewatch(imported):
    root, _, _ = imported
    again = front_matter(review(root, "paterson-2016-rewatch"))
    assert (again["Rewatch"], again["Watched"], again["Rating"]) == ("yes", "2024-02-24", "5")
    assert again["Status"] == "draft"  # no director in this one


def test_tags_become_genres_through_the_map_and_ratings_fill_gaps(imported):
    root, report, _ = imported
    tiger = front_matter(review(root, "crouching-tiger-hidden-dragon-2000"))
    assert tiger["Movie"] == "Crouching Tiger, Hidden Dragon"
    assert (tiger["Genre"], tiger["Tags"]) == ("Action", "wuxia")
    assert tiger["Rating"] == "4"  # from ratings.csv, matched by film
    assert "Crouching Tiger, Hidden Dragon (2000): Rating 4 from ratings.csv" in report


def test_a_film_the_site_already_reviewed_gets_its_own_file(imported):
    root, _, _ = imported
    original = Path(__file__).resolve().parent.parent / "content" / "reviews" / "cleo-from-5-to-7-1962.md"
    assert review(root, "cleo-from-5-to-7-1962").read_bytes() == original.read_bytes()
    cleo = review(root, "cleo-from-5-to-7-1962-2")
    assert front_matter(cleo)["Movie"] == "Cléo from 5 to 7"
    text = body(cleo)
    assert "„with the clock running” — and a [song](https://example.org/cleo) that stops the film dead." in text
    assert "> Everyone watches me, and I watch only myself." in text


def test_films_without_a_written_review_are_not_posts(imported):
    root, report, _ = imported
    names = {p.stem for p in (root / "content" / "reviews").glob("*.md")}
    assert not any(name.startswith(("stalker", "solaris")) for name in names)
    assert "2 films in diary.csv, watched.csv or ratings.csv without a written review" in report


def test_every_imported_review_gets_a_drawn_poster(imported):
    root, _, _ = imported
    for slug in ("paterson-2016", "paterson-2016-rewatch", "cleo-from-5-to-7-1962-2",
                 "crouching-tiger-hidden-dragon-2000"):
        assert front_matter(review(root, slug))["Poster"] == f"images/posters/{slug}.jpg"
        with Image.open(root / "content" / "images" / "posters" / f"{slug}.jpg") as poster:
            assert poster.format == "JPEG" and poster.size == (800, 1200)


def test_no_email_address_is_written(imported):
    root, _, check = imported
    assert find_personal_data(root / "content", check.build.output_path) == []


def test_zip_and_folder_import_the_same_reviews(imported, tmp_path):
    root, _, _ = imported
    archive = tmp_path / "letterboxd-marta-2024-03-01-10-00-utc.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in LETTERBOXD.iterdir():
            zipped.write(path, path.name)
    other = copy_site(tmp_path / "site")
    run = run_invoke(other, "import.letterboxd", str(archive))
    assert run.returncode == 0, run.stdout + run.stderr
    folder_files = {k: v for k, v in tree(root / "content").items() if k.startswith(("reviews/", "images/"))}
    zip_files = {k: v for k, v in tree(other / "content").items() if k.startswith(("reviews/", "images/"))}
    assert zip_files == folder_files


def test_rewatch_is_read_from_an_earlier_diary_entry(tmp_path):
    export = tmp_path / "export"
    export.mkdir()
    (export / "reviews.csv").write_text(
        "Date,Name,Year,Letterboxd URI,Rating,Rewatch,Review,Tags,Watched Date\n"
        "2024-03-02,Stalker,1979,https://boxd.it/x1,4,,Slower the second time.,,2024-03-01\n", encoding="utf-8")
    (export / "diary.csv").write_text(
        "Date,Name,Year,Letterboxd URI,Rating,Rewatch,Tags,Watched Date\n"
        "2019-05-05,Stalker,1979,https://boxd.it/x0,5,,,2019-05-04\n"
        "2024-03-02,Stalker,1979,https://boxd.it/x1,4,,,2024-03-01\n", encoding="utf-8")
    root = copy_site(tmp_path / "site")
    run = run_invoke(root, "import.letterboxd", str(export))
    assert run.returncode == 0, run.stderr
    assert front_matter(review(root, "stalker-1979"))["Rewatch"] == "yes"
    assert "Stalker (1979): Rewatch yes (seen before, on 2019-05-04)" in run.stdout


def test_second_import_changes_nothing_and_keeps_edits(tmp_path):
    root = copy_site(tmp_path / "site")
    assert run_invoke(root, "import.letterboxd", str(LETTERBOXD)).returncode == 0
    edited = review(root, "paterson-2016-rewatch")
    edited.write_text(edited.read_text(encoding="utf-8").replace("Status: draft\n", "Director: Jim Jarmusch\n"),
                      encoding="utf-8")
    before = tree(root / "content")
    run = run_invoke(root, "import.letterboxd", str(LETTERBOXD))
    assert run.returncode == 0, run.stderr
    after = tree(root / "content")
    assert {k: v for k, v in after.items() if not k.endswith("-report.txt")} == \
        {k: v for k, v in before.items() if not k.endswith("-report.txt")}
    assert "content/reviews/paterson-2016-rewatch.md: edited since the last import: kept as you left it" in run.stdout
    assert "Files: 0 new, 0 updated, 7 unchanged, 1 left alone" in run.stdout


def test_dry_run_writes_nothing(tmp_path):
    root = copy_site(tmp_path / "site")
    before = snapshot(root)
    run = run_invoke(root, "import.letterboxd", str(LETTERBOXD), "--dry-run")
    assert run.returncode == 0 and "(dry run: nothing was written)" in run.stdout
    assert snapshot(root) == before


def _bad_exports(folder: Path) -> dict[str, tuple[Path, str]]:
    no_reviews = folder / "no-reviews"
    shutil.copytree(LETTERBOXD, no_reviews)
    (no_reviews / "reviews.csv").unlink()
    missing_column = folder / "missing-column"
    shutil.copytree(LETTERBOXD, missing_column)
    text = (missing_column / "reviews.csv").read_text(encoding="utf-8")
    (missing_column / "reviews.csv").write_text(text.replace(",Review,", ",Text,", 1), encoding="utf-8")
    latin1 = folder / "latin-1"
    shutil.copytree(LETTERBOXD, latin1)
    (latin1 / "reviews.csv").write_bytes((latin1 / "reviews.csv").read_text(encoding="utf-8")
                                         .encode("latin-1", "replace"))
    not_zip = folder / "export.zip"
    not_zip.write_text("This is not a zip file.\n", encoding="utf-8")
    other_zip = folder / "photos.zip"
    with zipfile.ZipFile(other_zip, "w") as zipped:
        zipped.writestr("holiday/readme.txt", "no CSV files here")
    return {
        "folder without reviews.csv": (no_reviews, "is not a Letterboxd export: reviews.csv is missing"),
        "missing column": (missing_column, "the column 'Review' is missing"),
        "not UTF-8": (latin1, "is not UTF-8 text"),
        "not a zip": (not_zip, "is not a zip file"),
        "some other zip": (other_zip, "is not a Letterboxd export: reviews.csv is missing (found: holiday/readme.txt)"),
        "nothing there": (folder / "nowhere", "no such file or folder"),
    }


def test_bad_exports_end_with_one_clear_line_and_leave_content_alone(tmp_path):
    root = copy_site(tmp_path / "site")
    before = snapshot(root / "content")
    for name, (path, expected) in _bad_exports(tmp_path).items():
        run = run_invoke(root, "import.letterboxd", str(path))
        message = (run.stdout + run.stderr).strip()
        assert run.returncode == 1, (name, message)
        assert "Traceback" not in message and len(message.splitlines()) == 1, (name, message)
        assert path.name in message and expected in message, (name, message)
        assert snapshot(root / "content") == before, name

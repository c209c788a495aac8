"""Poster derivatives, the encode cache, social cards, bad posters and <picture> markup.

One tiny site is built in a temporary folder from the repository's settings,
theme and plugin, with posters drawn here: good ones of three shapes, a draft's
poster, and every kind of bad one. The site is built three times (cold, warm,
after one poster changes); the tests read the files, the build reports and
the HTML those builds left.
"""

from __future__ import annotations

import shutil
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import pytest
from bs4 import BeautifulSoup
from PIL import Image, ImageDraw

from blogtools.build import build_site
from filmreviews.posters import SIZES, Poster, PosterImage, PosterSource, posters_attached
from filmreviews.posters.cache import EncodeStats
from filmreviews.posters.encode import plan_widths
from tests.site_fixture import theme_environment

ROOT = Path(__file__).resolve().parent.parent
DERIVED = "images/posters/derived"
ALL_WIDTHS = (185, 342, 500, 780)


# --- Making posters ------------------------------------------------------------------

def draw(size, colour=(180, 60, 40)) -> Image.Image:
    """A simple poster-like picture: a colour field with a lighter block."""
    image = Image.new("RGB", size, colour)
    w, h = size
    ImageDraw.Draw(image).rectangle((w // 5, h // 6, w * 4 // 5, h // 2), fill=(240, 220, 160))
    return image


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def write_png_claiming(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims a size its few bytes of data could never fill."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    data = zlib.compress(b"\x00" * 64)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
                     + png_chunk(b"IDAT", data) + png_chunk(b"IEND", b""))


def write_blank_png(path: Path, width: int, height: int) -> None:
    """A real, valid, all-black 1-bit PNG: huge when decoded, tiny on disk."""
    row = b"\x00" * (1 + (width + 7) // 8)
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
                     + png_chunk(b"IDAT", data) + png_chunk(b"IEND", b""))


def write_review(site: Path, slug: str, poster: str, *, rating: str = "4", status: str = "",
                 movie: str | None = None) -> None:
    movie = movie or slug.replace("-", " ").title()
    lines = [
        f"Title: {movie}", "Date: 2024-01-10 12:00", f"Slug: {slug}", f"Movie: {movie}",
        "Year: 2001", "Director: Ada Example", "Genre: Drama", f"Rating: {rating}",
        f"Poster: {poster}", f"Summary: A review of {movie}.",
    ]
    if status:
        lines.append(f"Status: {status}")
    text = "\n".join(lines) + "\n\nA short review body.\n"
    (site / "content" / "reviews" / f"{slug}.md").write_text(text, encoding="utf-8")


# Each bad poster: (review slug, poster file, words the problem must contain).
BAD_POSTERS = {
    "truncated": ("broken-reel", "truncated.jpg", "a complete, readable image"),
    "not an image": ("text-reel", "notes.jpg", "a JPEG, PNG, WebP or AVIF image"),
    "bomb header": ("bomb-reel", "bomb.png", "at most 40 megapixels"),
    "over the pixel limit": ("huge-reel", "huge.png", "8000×6000"),
}


def make_site(site: Path) -> None:
    """The repository's settings, theme and plugin, with test reviews and posters."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copy(ROOT / "pelicanconf.py", site / "pelicanconf.py")
    shutil.copytree(ROOT / "theme", site / "theme", ignore=ignore)
    shutil.copytree(ROOT / "plugins", site / "plugins", ignore=ignore)
    shutil.copytree(ROOT / "content" / "extra", site / "content" / "extra")
    (site / "content" / "reviews").mkdir(parents=True)
    art = site / "content" / "images" / "posters"
    art.mkdir(parents=True)

    exif = Image.Exif()
    exif[0x010F] = "Poster Camera Co"  # Make: must not reach the derivatives
    draw((800, 1200)).save(art / "big.jpg", quality=90, exif=exif.tobytes())
    draw((700, 1000), (30, 90, 160)).save(art / "odd.png")
    draw((120, 180), (20, 120, 60)).save(art / "tiny.webp", quality=90)
    draw((600, 900), (90, 90, 90)).save(art / "draft.jpg")
    write_review(site, "big-reel", "images/posters/big.jpg", rating="4.5")
    write_review(site, "big-reel-rewatch", "images/posters/big.jpg", rating="3",
                 movie="Big Reel Again")
    write_review(site, "odd-reel", "images/posters/odd.png")
    write_review(site, "tiny-reel", "images/posters/tiny.webp")
    write_review(site, "draft-reel", "images/posters/draft.jpg", status="draft")

    good = (art / "big.jpg").read_bytes()
    (art / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (art / "notes.jpg").write_text("These are my notes, not a poster.\n", encoding="utf-8")
    write_png_claiming(art / "bomb.png", 12000, 18000)
    write_blank_png(art / "huge.png", 8000, 6000)  # 48 megapixels
    for slug, file_name, _ in BAD_POSTERS.values():
        write_review(site, slug, f"images/posters/{file_name}")
    write_review(site, "missing-reel", "images/posters/gone.jpg")


@dataclass
class Build:
    result: object
    stats: EncodeStats
    files: dict[str, bytes]  # derived file name -> content, right after the build

    @property
    def output(self) -> Path:
        return self.result.output_path


def build(site: Path, output: Path) -> Build:
    sent = []

    def keep(generator, stats):
        sent.append(stats)

    posters_attached.connect(keep)
    try:
        result = build_site("pelicanconf.py", output, root=site,
                            overrides={"TYPOGRIFY": False, "FILMREVIEWS_POSTER_CACHE": "cache/posters"})
    finally:
        posters_attached.disconnect(keep)
    assert result.error is None, result.error
    assert len(sent) == 1, "one build attaches posters once"
    derived = output / DERIVED
    files = {p.name: p.read_bytes() for p in derived.iterdir()} if derived.is_dir() else {}
    return Build(result, sent[0], files)


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """Cold build, warm build into a new folder, then odd.png changes and out2 is rebuilt."""
    site = tmp_path_factory.mktemp("poster-site")
    make_site(site)
    cold = build(site, site / "out1")
    warm = build(site, site / "out2")
    draw((700, 1000), (200, 30, 160)).save(site / "content" / "images" / "posters" / "odd.png")
    changed = build(site, site / "out2")
    return {"cold": cold, "warm": warm, "changed": changed, "site": site}


def derived_of(files, stem: str) -> dict[tuple[int, str], str]:
    """(width, extension) -> file name, for one poster's derivatives."""
    found = {}
    for name in files:
        parts = name.rsplit(".", 1)[0].split("-")
        if name.startswith(stem + "-") and parts[-2].isdigit():
            found[(int(parts[-2]), name.rsplit(".", 1)[1])] = name
    return found


def page(build: Build, slug: str) -> BeautifulSoup:
    html = (build.output / "reviews" / slug / "index.html").read_text(encoding="utf-8")
    return BeautifulSoup(html, "html.parser")


def resolve(build: Build, slug: str, url: str) -> Path:
    """The output file a URL on a review page points at."""
    path = urljoin(f"/reviews/{slug}/", url)
    return build.output / path.lstrip("/")


# --- Derivatives ---------------------------------------------------------------------

def test_derivatives_exist_in_avif_and_webp_at_every_width_and_in_jpeg_at_the_fallback_width(builds):
    files = builds["cold"].files
    big = derived_of(files, "big")
    assert set(big) == {(w, ext) for w in ALL_WIDTHS for ext in ("avif", "webp")} | {(500, "jpg")}
    for (width, ext), name in big.items():
        with Image.open(builds["cold"].output / DERIVED / name) as image:
            image.load()
            assert image.format == {"avif": "AVIF", "webp": "WEBP", "jpg": "JPEG"}[ext]
            assert image.size == (width, round(width * 1200 / 800))


def test_odd_shaped_poster_keeps_its_aspect_ratio(builds):
    odd = derived_of(builds["cold"].files, "odd")
    assert {w for w, _ in odd} == {185, 342, 500}  # 780 would be wider than the 700 px source
    for (width, _), name in odd.items():
        with Image.open(builds["cold"].output / DERIVED / name) as image:
            assert image.size == (width, round(width * 1000 / 700))


def test_small_poster_is_never_upscaled(builds):
    tiny = derived_of(builds["cold"].files, "tiny")
    assert set(tiny) == {(120, "avif"), (120, "webp"), (120, "jpg")}
    with Image.open(builds["cold"].output / DERIVED / tiny[(120, "jpg")]) as image:
        assert image.size == (120, 180)


def test_derivatives_carry_no_camera_metadata(builds):
    for name in derived_of(builds["cold"].files, "big").values():
        with Image.open(builds["cold"].output / DERIVED / name) as image:
            assert "exif" not in image.info
            assert not image.getexif()


def test_social_card_is_a_1200_by_630_jpeg_per_review(builds):
    cards = sorted(name for name in builds["cold"].files if "-card-" in name)
    # big.jpg has two reviews with different ratings: one card each.
    assert [name.split("-card-")[0] for name in cards] == ["big", "big", "odd", "tiny"]
    for name in cards:
        with Image.open(builds["cold"].output / DERIVED / name) as card:
            card.load()
            assert (card.format, card.size, card.mode) == ("JPEG", (1200, 630), "RGB")


def test_shared_poster_is_encoded_once(builds):
    stats = builds["cold"].stats
    assert stats.encoded_sources.count("images/posters/big.jpg") == 1
    # AVIF and WebP at each width the source allows, one JPEG: big 4+4+1, odd 3+3+1, tiny 1+1+1.
    assert stats.files_encoded == 9 + 7 + 3
    assert stats.cards_drawn == 4
    assert stats.workers >= 1


def test_draft_poster_is_not_encoded(builds):
    assert "images/posters/draft.jpg" not in builds["cold"].stats.decoded_sources
    assert not [name for name in builds["cold"].files if name.startswith("draft")]


# --- The cache -------------------------------------------------------------------------

def test_second_build_encodes_nothing_and_still_writes_every_file(builds):
    warm = builds["warm"]
    assert warm.stats.encodes == 0
    assert warm.stats.decoded_sources == []
    assert warm.stats.workers == 0  # no pool was started
    assert warm.files == builds["cold"].files  # same names, same bytes, new folder
    assert warm.stats.posters == builds["cold"].stats.posters == 4


def test_changed_poster_reencodes_only_that_poster(builds):
    changed = builds["changed"]
    assert changed.stats.decoded_sources == ["images/posters/odd.png"]
    assert changed.stats.encoded_sources == ["images/posters/odd.png"]
    assert changed.stats.files_encoded == 3 + 3 + 1
    assert changed.stats.cards_drawn == 1
    old = set(derived_of(builds["warm"].files, "odd").values())
    new = set(derived_of(changed.files, "odd").values())
    assert old.isdisjoint(new), "a changed poster must get new file names"
    assert set(changed.files) >= set(derived_of(builds["warm"].files, "big").values())
    # Rebuilt into the same folder: the old poster's files are gone.
    assert not old & set(changed.files)


def test_file_names_are_readable_and_carry_a_content_hash(builds):
    for name in builds["cold"].files:
        stem, width_or_card, short = name.rsplit(".", 1)[0].rsplit("-", 2)
        assert stem in {"big", "odd", "tiny"}
        assert width_or_card == "card" or width_or_card.isdigit()
        assert len(short) == 10 and all(c in "0123456789abcdef" for c in short)


# --- Bad posters -----------------------------------------------------------------------

@pytest.mark.parametrize("kind", BAD_POSTERS)
def test_bad_poster_is_reported_with_file_field_and_value(builds, kind):
    slug, file_name, expected = BAD_POSTERS[kind]
    cold = builds["cold"]
    prefix = f"Poster problem: content/reviews/{slug}.md: Poster: 'images/posters/{file_name}': expected "
    reports = [m for m in cold.result.problems if file_name in m]
    assert len(reports) == 1, cold.result.problems
    assert reports[0].startswith(prefix)
    assert expected in reports[0]
    # The build went on: the review is published, with a placeholder of the poster's shape.
    placeholder = page(cold, slug).select_one(".poster-placeholder")
    assert placeholder is not None
    assert "aspect-ratio: 2 / 3" in placeholder["style"]
    assert placeholder.get_text(strip=True) == f"Poster for {slug.replace('-', ' ').title()} (2001)"


def test_missing_poster_is_reported_once_by_the_review_model(builds):
    reports = [m for m in builds["cold"].result.warnings if "gone.jpg" in m]
    assert len(reports) == 1, reports
    assert reports[0].startswith("Review problem: content/reviews/missing-reel.md: Poster:")


def test_bomb_is_refused_from_its_header_without_decoding(builds):
    stats = builds["cold"].stats
    assert "images/posters/bomb.png" not in stats.decoded_sources
    assert "images/posters/huge.png" not in stats.decoded_sources
    [report] = [m for m in builds["cold"].result.problems if "bomb.png" in m]
    assert "216 megapixels" in report


def test_every_problem_is_a_poster_or_the_missing_file(builds):
    problems = builds["cold"].result.problems
    assert len(problems) == len(BAD_POSTERS) + 1, problems
    assert builds["cold"].result.articles == 4 + len(BAD_POSTERS) + 1  # the draft is not written


# --- Markup ------------------------------------------------------------------------------

def test_review_page_picture_has_sources_sizes_and_an_eager_img(builds):
    cold = builds["cold"]
    soup = page(cold, "big-reel")
    img = soup.find("img", alt="Poster for Big Reel (2001)")
    picture = img.find_parent("picture")
    sources = picture.find_all("source")
    assert [s["type"] for s in sources] == ["image/avif", "image/webp"]
    for source, fmt in zip(sources, ("AVIF", "WEBP"), strict=True):
        assert source["sizes"] == SIZES["large"]
        candidates = [c.split() for c in source["srcset"].split(", ")]
        assert [int(w.rstrip("w")) for _, w in candidates] == list(ALL_WIDTHS)
        for url, width in candidates:
            with Image.open(resolve(cold, "big-reel", url)) as image:
                assert (image.format, f"{image.width}w") == (fmt, width)
    assert img["sizes"] == SIZES["large"]
    assert (img["width"], img["height"]) == ("780", "1170")
    assert img["loading"] == "eager" and img["fetchpriority"] == "high"
    assert resolve(cold, "big-reel", img["src"]).suffix == ".jpg"
    assert resolve(cold, "big-reel", img["src"]).is_file()
    # The JPEG is only the fallback: one width (FILMREVIEWS_POSTER_JPEG_WIDTHS).
    assert [candidate.split()[1] for candidate in img["srcset"].split(", ")] == ["500w"]
    for candidate in img["srcset"].split(", "):
        url, _ = candidate.split()
        assert resolve(cold, "big-reel", url).is_file()


def sample_poster(alt: str = "Poster for Her (2013)") -> Poster:
    images = {fmt: tuple(PosterImage(f"{DERIVED}/her-{w}-0123456789.{fmt}", w, w * 3 // 2)
                         for w in (185, 342)) for fmt in ("avif", "webp", "jpg")}
    return Poster(
        alt=alt, width=342, height=513,
        sources=(PosterSource("image/avif", images["avif"]), PosterSource("image/webp", images["webp"])),
        fallback=PosterSource("image/jpeg", images["jpg"]),
        fallback_url=images["jpg"][0].url,
        social_card_url=f"{DERIVED}/her-card-0123456789.jpg",
    )


def render(poster, **arguments) -> BeautifulSoup:
    template = theme_environment().from_string(
        '{% from "partials/poster_picture.html" import poster_picture with context %}'
        "{{ poster_picture(poster, **arguments) }}")
    return BeautifulSoup(template.render(poster=poster, arguments=arguments, SITEURL="../.."),
                         "html.parser")


def test_grid_poster_is_lazy_with_small_sizes_and_page_relative_urls():
    soup = render(sample_poster(), variant="small")
    img = soup.find("img")
    assert img["loading"] == "lazy" and img["decoding"] == "async"
    assert not img.has_attr("fetchpriority")
    assert img["sizes"] == SIZES["small"]
    assert img["src"] == f"../../{DERIVED}/her-185-0123456789.jpg"
    assert soup.find("source", type="image/webp")["srcset"] == (
        f"../../{DERIVED}/her-185-0123456789.webp 185w, ../../{DERIVED}/her-342-0123456789.webp 342w")


def test_only_a_high_or_large_eager_poster_asks_to_be_fetched_first():
    above_fold = render(sample_poster(), variant="small", eager=True).find("img")
    assert above_fold["loading"] == "eager" and not above_fold.has_attr("fetchpriority")
    first_card = render(sample_poster(), variant="small", eager="high").find("img")
    assert first_card["loading"] == "eager" and first_card["fetchpriority"] == "high"
    hero = render(sample_poster(), variant="large", eager=True).find("img")
    assert hero["loading"] == "eager" and hero["fetchpriority"] == "high"


def test_alt_text_is_escaped():
    soup = render(sample_poster(alt='Her, "the" <film>'), variant="large", eager=True)
    assert soup.find("img")["alt"] == 'Her, "the" <film>'
    assert soup.find("img")["loading"] == "eager"


def test_missing_poster_renders_a_placeholder_with_its_alt_text():
    soup = render(None, variant="small", alt="Poster for <Her> (2013)")
    assert soup.find("picture") is None and soup.find("img") is None
    box = soup.select_one(".poster-placeholder")
    assert box.get_text(strip=True) == "Poster for <Her> (2013)"
    assert "aspect-ratio: 2 / 3" in box["style"]


def test_unknown_variant_names_the_choices():
    with pytest.raises(ValueError, match="small, large"):
        sample_poster().sizes_for("medium")


def test_widths_never_exceed_the_source():
    assert plan_widths(600, ALL_WIDTHS) == (185, 342, 500)
    assert plan_widths(780, ALL_WIDTHS) == ALL_WIDTHS
    assert plan_widths(120, ALL_WIDTHS) == (120,)


# --- Pages name derivatives before they exist ------------------------------------------------

@pytest.mark.parametrize("name, make", [
    # A big JPEG decodes at a reduced scale (draft): the size comes out smaller than the header's.
    ("big.jpg", lambda p: draw((2400, 3600)).save(p, quality=85)),
    # Turned a quarter by its EXIF orientation: width and height swap.
    ("turned.jpg", lambda p: draw((900, 600)).save(p, exif=_orientation(6))),
    ("mirrored.jpg", lambda p: draw((700, 1000)).save(p, exif=_orientation(2))),
    ("odd.png", lambda p: draw((701, 999), (20, 90, 200)).save(p)),
    ("small.webp", lambda p: draw((150, 225)).save(p, quality=80)),
])
def test_the_planned_derivatives_are_the_ones_the_encoder_writes(tmp_path, name, make):
    from filmreviews.posters.decode import decode, open_checked, upright_size
    from filmreviews.posters.encode import largest_width, manifest_for

    path = tmp_path / name
    make(path)
    widest = largest_width(ALL_WIDTHS, (500,))
    with open_checked(path, 40_000_000) as image:
        planned = manifest_for(upright_size(image, widest), ALL_WIDTHS, (500,))
    decoded = decode(path, 40_000_000, widest)
    assert planned == manifest_for(decoded.size, ALL_WIDTHS, (500,))


def _orientation(value: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = value
    return exif.tobytes()

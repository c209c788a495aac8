"""Letters on social cards and sample posters: fonts, missing glyphs, wrapping, the card cache.

The glyph checks draw each letter with the very font file the typesetter picks
for it and compare the picture with that font's missing-glyph box (what it
draws for U+10FFFD, a code point no font has), so a font that shows boxes or
nothing fails. The Noto fonts come from bootstrap.sh (fonts-noto-core,
fonts-noto-cjk); without them these tests fail and say so.
"""

from __future__ import annotations

import logging

import pytest
from PIL import Image, ImageChops, ImageDraw

from blogtools.sample_posters import draw_poster
from filmreviews import social_card, typesetting
from filmreviews.posters.cache import PosterRequest, cache_posters
from filmreviews.social_card import CardText, draw_card
from filmreviews.typesetting import Face, Typeface, typeface

NOT_IN_ANY_FONT = "\U0010fffd"
WORDS = {
    "French": "Cléo",
    "French, two accents": "Amélie",
    "Japanese": "千と千尋の神隠し",
    "Korean": "기생충",
    "Russian": "Иди и смотри",
    "Greek": "Ο Θίασος",
    "Polish": "Łódź",
}
NOTO = {"bold": ("NotoSans-Bold.ttf", "NotoSansCJK-Bold.ttc"),
        "regular": ("NotoSans-Regular.ttf", "NotoSansCJK-Regular.ttc")}


def ink(font, char: str) -> bytes:
    """`char` drawn alone in white on black."""
    image = Image.new("L", (160, 160))
    ImageDraw.Draw(image).text((40, 40), char, font=font, fill=255)
    return image.tobytes()


def plain_poster() -> Image.Image:
    image = Image.new("RGB", (400, 600), (40, 70, 120))
    ImageDraw.Draw(image).ellipse((80, 120, 320, 360), fill=(230, 190, 90))
    return image


def text_column(card: Image.Image) -> Image.Image:
    """The card right of the poster, where the text is."""
    return card.crop((560, 0, card.width, card.height))


# --- Fonts ------------------------------------------------------------------------------

@pytest.mark.parametrize("weight", NOTO)
def test_noto_sans_and_noto_sans_cjk_are_found_first(weight):
    names = typeface(weight).names
    assert names[:2] == NOTO[weight], (
        f"{weight} fonts found: {names}; install Debian's fonts-noto-core and fonts-noto-cjk (bootstrap.sh does)")


@pytest.mark.parametrize("weight", NOTO)
@pytest.mark.parametrize("language", WORDS)
def test_every_letter_is_drawn_as_a_real_glyph_not_the_missing_box(weight, language):
    word = WORDS[language]
    face = typeface(weight)
    assert face.drawable(word) == word, "no letter may be dropped or spelled without its accent"
    for char in word.replace(" ", ""):
        chosen = face.face_for(char)
        assert chosen is not None and chosen.path is not None, f"{char!r} has no installed font"
        font = chosen.font(48)
        drawn = ink(font, char)
        assert any(drawn), f"{char!r} draws nothing with {chosen.name}"
        assert drawn != ink(font, NOT_IN_ANY_FONT), f"{char!r} draws the missing-glyph box with {chosen.name}"


def test_japanese_is_drawn_with_the_cjk_font_and_latin_with_noto_sans():
    bold = typeface("bold")
    assert [(face.name, run) for face, run in bold.runs("Spirited Away 千と千尋")] == [
        ("NotoSans-Bold.ttf", "Spirited Away "), ("NotoSansCJK-Bold.ttc", "千と千尋")]


def test_without_noto_the_build_warns_once_and_falls_back(monkeypatch, tmp_path, caplog):
    monkeypatch.setattr(typesetting, "FONT_ROOTS", (tmp_path,))
    typesetting._system_typefaces.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="filmreviews.typesetting"):
            assert typeface("bold").names == ("pillow-default",)
            assert typeface("regular").names == ("pillow-default",)
    finally:
        typesetting._system_typefaces.cache_clear()
    [warning] = [r.getMessage() for r in caplog.records if r.name == "filmreviews.typesetting"]
    assert "NotoSansCJK-Bold.ttc" in warning and "fonts-noto-core and fonts-noto-cjk" in warning


def test_letters_no_font_has_are_spelled_plainly_or_left_out():
    builtin = Typeface((Face(None),))  # Pillow's own font: little beyond ASCII
    assert builtin.drawable("Plain ASCII 123") == "Plain ASCII 123"
    assert builtin.drawable("Cléo — Agnès") == "Cleo - Agnes"
    assert builtin.drawable("Straße Łódź") == "Strasse Lodz"
    assert builtin.drawable("Spirited Away 千と千尋") == "Spirited Away"


# --- Social cards and sample posters -----------------------------------------------------

@pytest.mark.parametrize("accented, plain", [("Cléo from 5 to 7", "Cleo from 5 to 7"), ("Amélie", "Amelie")])
def test_social_card_keeps_the_accent(accented, plain):
    poster = plain_poster()
    with_accent = text_column(draw_card(poster, CardText(accented, 2001)))
    without = text_column(draw_card(poster, CardText(plain, 2001)))
    assert ImageChops.difference(with_accent, without).getbbox() is not None, "the accent was not drawn"


def test_social_card_draws_a_japanese_title():
    poster = plain_poster()
    titled = text_column(draw_card(poster, CardText("千と千尋の神隠し", 2001)))
    untitled = text_column(draw_card(poster, CardText("", 2001)))
    changed = ImageChops.difference(titled, untitled).convert("L").point(lambda v: 255 if v > 64 else 0)
    # The title is there (it used to be left out); that its letters are real glyphs,
    # not boxes, is checked letter by letter above.
    assert changed.histogram()[255] > 2000


def test_sample_poster_keeps_the_accent():
    accented = draw_poster("Cléo from 5 to 7", 1962, "Agnès Varda", size=(400, 600), seed="same")
    plain = draw_poster("Cleo from 5 to 7", 1962, "Agnes Varda", size=(400, 600), seed="same")
    assert ImageChops.difference(accented, plain).getbbox() is not None


def test_cards_are_redrawn_when_the_fonts_change_and_derivatives_are_not(monkeypatch, tmp_path):
    source = tmp_path / "poster.jpg"
    plain_poster().save(source, quality=90)
    requests = [PosterRequest(source, CardText("Cléo", 1962))]
    cache = tmp_path / "cache"
    cache_posters(requests, cache, widths=(185,))
    _, unchanged = cache_posters(requests, cache, widths=(185,))
    assert unchanged.encodes == 0

    design = social_card.design()
    monkeypatch.setattr(social_card, "design", lambda: {**design, "fonts": [["OtherFont.ttf"]]})
    [cached], stats = cache_posters(requests, cache, widths=(185,))
    assert (stats.cards_drawn, stats.files_encoded) == (1, 0)
    assert cached.error is None and cached.card_file.is_file()


# --- Setting a title ---------------------------------------------------------------------

def test_japanese_breaks_between_characters_but_not_before_small_kana_or_commas():
    bold = typeface("bold")
    text = "ちょっと、まって。千と千尋の神隠し"
    width = bold.width("千千千", 50) + 1
    lines = bold.wrap(text, 50, width)
    assert "".join(lines) == text
    assert len(lines) > 3
    assert all(bold.width(line, 50) <= width for line in lines)
    assert not [line for line in lines if line[0] in "、。っょ"]


def test_latin_title_breaks_only_between_words():
    bold = typeface("bold")
    lines = bold.wrap("Cléo from 5 to 7", 60, bold.width("Cléo from", 60) + 1)
    assert lines == ["Cléo from", "5 to 7"]


def test_a_lone_number_on_its_own_line_is_avoided():
    bold = typeface("bold")
    column = bold.width("Paddington", 72) + 4  # at 72 px, "2" would sit alone on line two
    size, lines = bold.fit("Paddington 2", column, 3, 72, 34)
    assert lines == ["Paddington 2"] and size < 72


def test_a_title_that_fits_at_no_size_is_cut_with_an_ellipsis_inside_the_column():
    bold = typeface("bold")
    title = "An Extraordinarily Long Title That Will Not Fit In This Column Whatever Happens"
    size, lines = bold.fit(title, 220, 2, 72, 34)
    assert size == 34 and len(lines) == 2
    assert lines[-1].endswith("…")
    assert all(bold.width(line, size) <= 220 for line in lines)

"""The importers' small parts on their own: film titles, PHP-serialized meta,
wpautop and shortcodes, and the text taken from other people."""

from __future__ import annotations

import pytest

from blogtools.importers.phpdata import PhpDataError, unserialize
from blogtools.importers.titles import guess_director, guess_film
from blogtools.importers.wp_content import convert_post, user_markdown, wpautop


@pytest.mark.parametrize("title,movie,year", [
    ("Her 2013, online movie review", "Her", 2013),
    ("Her (2013) review", "Her", 2013),
    ("Review: Her (2013)", "Her", 2013),
    ("Her [2013] – a review", "Her", 2013),
    ("Movie review: Her", "Her", None),
    ("Blade Runner 2049 review", "Blade Runner 2049", None),  # 2049 is not a release year yet
    ("Blade Runner 2049 (2017) review", "Blade Runner 2049", 2017),
    ("2001: A Space Odyssey (1968)", "2001: A Space Odyssey", 1968),
    ("Cléo from 5 to 7 1962, online movie review", "Cléo from 5 to 7", 1962),
    ("1917 review", "1917", None),
    ("Her &#8211; review", "Her", None),
])
def test_film_and_year_are_read_from_common_title_shapes(title, movie, year):
    guess = guess_film(title, latest_year=2027)
    assert (guess.movie, guess.year) == (movie, year)


@pytest.mark.parametrize("text,director", [
    ("Her, directed by Spike Jonze, is gentle.", "Spike Jonze"),
    ("Director: Guillermo del Toro.", "Guillermo del Toro"),
    ("It was directed by someone who cares.", ""),
])
def test_director_is_taken_only_from_a_capitalised_name(text, director):
    assert guess_director(text) == director


def test_php_serialized_attachment_metadata_is_read_with_byte_lengths():
    data = unserialize('a:2:{s:5:"width";i:800;s:10:"image_meta";a:1:{s:7:"caption";s:7:"Łódź";}}')
    assert data == {"width": 800, "image_meta": {"caption": "Łódź"}}


@pytest.mark.parametrize("raw,message", [
    ('a:2:{s:5:"width";i:800;', "expected a PHP value"),
    ('s:10:"short";', "is not 10 bytes long"),
    ('O:8:"stdClass":0:{}', "PHP object or reference"),
    ('a:999999999:{}', "claims 999999999 elements"),
    ("a:1:{i:0;" * 40 + "N;" + "}" * 40, "nested more than 32 levels"),
])
def test_damaged_or_hostile_php_data_is_an_error_not_a_crash(raw, message):
    with pytest.raises(PhpDataError, match=message):
        unserialize(raw)


def test_wpautop_restores_paragraphs_and_line_breaks_but_not_inside_pre():
    html = wpautop("First line\nsecond line\n\nNext paragraph\n<pre>code\n\nkept</pre>\n<ul>\n<li>one</li>\n</ul>")
    assert html.startswith("<p>First line<br />\nsecond line</p>\n<p>Next paragraph</p>")
    assert "<pre>code\n\nkept</pre>" in html
    assert "<p><ul>" not in html and "<li>one</li>" in html


class _NoSite:
    def image_src(self, url):
        return None

    def link_href(self, url):
        return None

    def gallery(self, ids):
        return [("https://old.example/wp-content/uploads/a.jpg", "First", "One"),
                ("https://old.example/wp-content/uploads/b.jpg", "Second", "")] if ids == ["4", "5"] else []


def test_shortcodes_become_figures_links_or_plain_text():
    converted = convert_post('[gallery ids="4,5"]\n\n[embed]https://vimeo.com/42[/embed]\n\n'
                             '[[caption]] is how you write it.\n\n[spoiler]The sled.[/spoiler]\n\n'
                             '[audio mp3="https://old.example/a.mp3"]', _NoSite())
    text = converted.markdown
    assert '<figure>\n  <img src="https://old.example/wp-content/uploads/a.jpg" alt="First">\n' \
           '  <figcaption>One</figcaption>\n</figure>' in text
    assert "![Second](https://old.example/wp-content/uploads/b.jpg)" in text
    assert "<https://vimeo.com/42>" in text and "<https://old.example/a.mp3>" in text
    assert "[caption] is how you write it." in text
    assert "The sled." in text and "[spoiler]" not in text
    assert "unknown shortcode [spoiler] removed, its text kept" in converted.notes


def test_comment_text_keeps_only_paragraphs_links_and_emphasis():
    text = user_markdown('Hi <b>there</b>\n\n<a href="https://ok.example/">ok</a> <a href="javascript:x()">bad</a> '
                         '<img src=x onerror=alert(1)> &lt;script&gt; [typed](javascript:y())')
    assert text == "Hi **there**\n\n[ok](https://ok.example/) bad &lt;script> \\[typed\\](javascript:y())"

"""The redirect table (content/redirects.csv) in a real build: validation
problems in file/line/field form, and what a valid table writes."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup

from tests.site_copy import copy_site, shared_poster_cache


def build_with_table(tmp_path_factory, name, table):
    from blogtools.build import build_site

    root = copy_site(tmp_path_factory.mktemp(name), shared_poster_cache(tmp_path_factory))
    (root / "content" / "redirects.csv").write_text(table, encoding="utf-8")
    return build_site(root / "pelicanconf.py", root / "output", root=root,
                      overrides={"FILMREVIEWS_SEARCH": False})


BAD_TABLE = """old,new
/old/her/,/reviews/her-2013/
old/no-slash/,/reviews/her-2013/
/old/her/,/reviews/alien-1979/
/old/missing/,/reviews/no-such-review/
/about/,/reviews/her-2013/
/old/chain/,/old/her/
/old/space here/,/reviews/her-2013/
/old/three/,/reviews/her-2013/,extra
/,/reviews/her-2013/
/old/external/,javascript:alert(1)
"""


@pytest.fixture(scope="module")
def bad_build(tmp_path_factory):
    return build_with_table(tmp_path_factory, "bad-redirects", BAD_TABLE)


@pytest.mark.parametrize("line,field,expected", [
    (3, "old", "an address on the old site starting with /"),
    (4, "old", "each old address once (it is also on line 2)"),
    (5, "new", "the address of a page this site builds (nothing is written at reviews/no-such-review/index.html)"),
    (6, "old", "an address this site does not use itself (the build writes about/index.html)"),
    (7, "new", "the final address (/old/her/ is itself redirected on line 2, to /reviews/her-2013/)"),
    (8, "old", "without ' '"),
    (9, "row", "two values: old,new"),
    (10, "old", "an old address other than the home page"),
    (11, "new", "an absolute http(s) URL"),
])
def test_bad_rows_are_problems_naming_line_field_and_expectation(bad_build, line, field, expected):
    matching = [p for p in bad_build.problems if p.startswith(f"Redirect problem: content/redirects.csv: line {line}: {field}: ")]
    assert len(matching) == 1, bad_build.problems
    assert expected in matching[0]


def test_good_rows_still_work_next_to_bad_ones(bad_build):
    output = bad_build.output_path
    page = BeautifulSoup((output / "old" / "her" / "index.html").read_text(encoding="utf-8"), "html.parser")
    assert page.find("meta", attrs={"http-equiv": "refresh"})["content"] == "0; url=../../reviews/her-2013/"
    assert "<meta name=\"generator\" content=\"Reel Notes redirect\">" not in \
        (output / "about" / "index.html").read_text(encoding="utf-8")  # the site's page was not replaced
    assert len([p for p in bad_build.problems if p.startswith("Redirect problem")]) == 9


def test_a_header_that_is_not_old_new_is_one_problem(tmp_path_factory):
    result = build_with_table(tmp_path_factory, "bad-header", "from,to\n/a/,/reviews/her-2013/\n")
    assert [p for p in result.problems if "Redirect" in p] == [
        "Redirect problem: content/redirects.csv: line 1: header: 'from,to': expected the header line old,new"]


def test_production_pages_link_absolutely_and_servers_get_every_row(tmp_path_factory):
    from blogtools.build import build_site

    root = copy_site(tmp_path_factory.mktemp("prod-redirects"), shared_poster_cache(tmp_path_factory))
    (root / "content" / "redirects.csv").write_text(
        "old,new\n/2013/12/05/caf%C3%A9-review/,/reviews/her-2013/\n/?p=12,/reviews/her-2013/\n"
        "/old.html,https://elsewhere.example/page\n", encoding="utf-8")
    result = build_site(root / "publishconf.py", root / "output", root=root, overrides={"FILMREVIEWS_SEARCH": False})
    assert result.ok, result.problems
    output = result.output_path
    page = (output / "2013/12/05/café-review/index.html").read_text(encoding="utf-8")
    assert 'content="0; url=https://reelnotes.example.org/reviews/her-2013/"' in page
    assert 'rel="canonical" href="https://reelnotes.example.org/reviews/her-2013/"' in page
    assert "url=https://elsewhere.example/page" in (output / "old.html").read_text(encoding="utf-8")
    # A query entry has no page: the home page answering "/" is the site's own.
    assert "Reel Notes redirect" not in (output / "index.html").read_text(encoding="utf-8")
    nginx = (output / "redirects.nginx.conf").read_text(encoding="utf-8")
    assert '"/2013/12/05/caf%C3%A9-review/" "/reviews/her-2013/";' in nginx
    assert '"/2013/12/05/caf%c3%a9-review/" "/reviews/her-2013/";' in nginx
    assert '"/?p=12" "/reviews/her-2013/";' in nginx
    htaccess = (output / ".htaccess").read_text(encoding="utf-8")
    assert "RewriteRule ^2013/12/05/caf\\xc3\\xa9-review/?$ /reviews/her-2013/ [R=301,L,NE]" in htaccess
    assert "RewriteCond %{QUERY_STRING} ^p=12$" in htaccess
    assert "/ p=12 /reviews/her-2013/ 301!" in (output / "_redirects").read_text(encoding="utf-8")
    assert "café-review" not in (output / "sitemap.xml").read_text(encoding="utf-8")

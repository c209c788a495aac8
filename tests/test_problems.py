"""Problems travel from the plugin to the build as records, not as log text."""

import logging
from pathlib import Path

from blogtools.build import build_site
from filmreviews.problems import Problem, collecting, report
from tests.site_copy import site_with_reviews

ROOT = Path(__file__).resolve().parent.parent

BAD_YEAR = """\
Title: Bad year
Date: 2024-01-12 20:00
Slug: bad-year
Year: nineteen
Director: Someone
Poster: images/posters/alien-1979.jpg

Text.
"""


def test_a_problem_is_collected_even_when_its_log_line_is_silenced(tmp_path_factory):
    root = site_with_reviews(tmp_path_factory, "silenced", {"bad.md": BAD_YEAR})
    plugin_log = logging.getLogger("filmreviews")
    level = plugin_log.level
    plugin_log.setLevel(logging.CRITICAL)  # no warning reaches any handler
    try:
        result = build_site(root / "pelicanconf.py", root / "output", root=root)
    finally:
        plugin_log.setLevel(level)
    assert result.error is None, result.error
    year = [p for p in result.problems if ": Year: 'nineteen': expected" in p]
    assert len(year) == 1 and year[0].startswith("Review problem: content/reviews/bad.md"), result.problems
    assert not any(": Year:" in warning for warning in result.warnings)


def test_a_warning_that_mentions_a_template_is_not_a_problem(tmp_path_factory):
    her = (ROOT / "content" / "reviews" / "her-2013.md").read_text(encoding="utf-8")
    root = site_with_reviews(tmp_path_factory, "template-word", {"her-2013.md": her})
    (root / "noisy_plugins").mkdir()
    (root / "noisy_plugins" / "noisy.py").write_text(
        "import logging\n"
        "from pelican import signals\n"
        "def _warn(pelican):\n"
        "    logging.getLogger('pelican.noisy').warning('template cache is cold, rendering anyway')\n"
        "def register():\n"
        "    signals.initialized.connect(_warn)\n", encoding="utf-8")
    result = build_site(root / "pelicanconf.py", root / "output", root=root,
                        overrides={"PLUGIN_PATHS": ["plugins", str(root / "noisy_plugins")],
                                   "PLUGINS": ["sitemap", "filmreviews", "noisy"]})
    assert any("template cache is cold" in warning for warning in result.warnings), result.warnings
    assert result.ok, result.problems


def test_problems_outside_a_collection_are_only_logged(caplog):
    with collecting() as first:
        report(Problem("content/reviews/a.md", "Year", "x", "a year"))
    report(Problem("content/reviews/b.md", "Year", "y", "a year"))
    assert [p.source_path for p in first] == ["content/reviews/a.md"]
    assert "Review problem: content/reviews/b.md: Year: 'y': expected a year" in caplog.text

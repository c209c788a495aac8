"""Site search: the Pagefind index, built over the finished output.

Owns the last step of every build: running Pagefind on the output folder so
the search page (theme/templates/search.html with theme/static/js/site.js)
can search the reviews in the browser. Only review pages are indexed: the
theme marks the review's <article> with `data-pagefind-body`, so lists,
archives and browse pages stay out of the results. The bundle lands in
`<output>/pagefind/`, where the search page looks for it.

Settings (optional): FILMREVIEWS_SEARCH = False skips indexing (the search
page then says search is unavailable and points to the browse pages).
A failure is reported as a Search `Problem`, which makes the build a broken one.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import shutil
import subprocess
import sys
from pathlib import Path

from reelnotes.settings import setting

from .problems import Problem, report, report_settings

logger = logging.getLogger(__name__)

BUNDLE_DIR = "pagefind"  # the search page loads <site root>/pagefind/pagefind.js
TIMEOUT_SECONDS = 300
INDEXED_PAGES = re.compile(r"Indexed (\d+) pages?")


def _reviews_written(pelican) -> bool:
    """Whether the build wrote at least one review page for Pagefind to find."""
    return any("data-pagefind-body" in path.read_text(encoding="utf-8", errors="replace")
               for path in Path(pelican.output_path).rglob("*.html"))


def _what_went_wrong(text: str, count: int = 2) -> str:
    """Pagefind's own words, without the Rust backtrace boilerplate around them."""
    lines = [line.strip() for line in text.splitlines()
             if line.strip() and not line.strip().startswith(("stack backtrace", "note:", "thread '"))]
    return " / ".join(lines[-count:]) or "(Pagefind printed nothing)"


def _problem(where: str, what: str, expected: str) -> None:
    report(Problem(where, "search index", what, expected, kind="Search"))


def index_site(pelican) -> None:
    """finalized: build the Pagefind index of the review pages in the output folder."""
    settings = pelican.settings
    if not setting(settings, "FILMREVIEWS_SEARCH", problems := []):
        report_settings(problems, "Search setting")
        logger.info("Search index skipped: FILMREVIEWS_SEARCH is False, so the search page "
                    "will only offer the browse pages")
        return
    output = Path(pelican.output_path)
    if importlib.util.find_spec("pagefind") is None:
        _problem("pagefind", "not installed", "the pagefind package in this Python environment "
                 "(pyproject.toml: pagefind[bin]), or FILMREVIEWS_SEARCH = False to build without search")
        return
    bundle = output / BUNDLE_DIR
    if bundle.exists() and not bundle.is_dir():
        _problem(str(bundle), "a file", f"that name free for the search bundle "
                 f"(is some content or static file saved as {BUNDLE_DIR!r}?)")
        return
    # A fresh bundle each build: fragments of deleted reviews must not linger.
    shutil.rmtree(bundle, ignore_errors=True)
    command = [sys.executable, "-m", "pagefind", "--site", str(output), "--output-subdir", BUNDLE_DIR]
    try:
        run = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        _problem(str(output), f"not indexed within {TIMEOUT_SECONDS} seconds", f"a search index in {bundle}")
        return
    except OSError as exc:
        _problem("pagefind", f"could not start ({exc})", f"{sys.executable} -m pagefind to run")
        return
    if run.returncode != 0:
        _problem("pagefind", f"exit status {run.returncode}: {_what_went_wrong(run.stderr or run.stdout)}",
                 f"a search index in {bundle}")
        return
    found = INDEXED_PAGES.search(run.stdout)
    pages = int(found.group(1)) if found else 0
    if pages == 0 and _reviews_written(pelican):
        _problem(str(output), f"no pages indexed ({_what_went_wrong(run.stdout + run.stderr)})",
                 "every review page (marked data-pagefind-body by the theme) indexed")
        return
    if not (bundle / "pagefind.js").is_file():
        _problem(str(bundle / "pagefind.js"), "not written", "the search bundle there")
        return
    logger.info("Search index: %d review pages indexed into %s", pages, bundle)

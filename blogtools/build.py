"""Building the site in-process and collecting what went wrong.

`build_site` is what `invoke build`, `invoke check` and `invoke publish` share:
one Pelican run with a given settings file into a given folder, returning every
problem the run reported. A problem is a review that failed validation or a
Pelican warning that means the output is broken (an unresolved {static} link,
an overwritten file, a missing template...).
"""

from __future__ import annotations

import logging
import re
from contextlib import chdir
from dataclasses import dataclass, field
from pathlib import Path

from blogtools.progress import showing_progress
from filmreviews import content_cache, output, posters, problems, search
from filmreviews.posters import placement

ROOT = Path(__file__).resolve().parent.parent

# Pelican's own warnings that mean a reader would see a broken page. The
# plugin's problems are not recognised here: it hands them over as records.
BROKEN_OUTPUT = (
    re.compile(r"Unable to find"),  # unresolved {static}/{filename} link
    # A {static} link to a missing file: Pelican keeps the link (a broken image)
    # and only says so while stamping the file for its cache.
    re.compile(r"Cannot get modification stamp"),
    re.compile(r"overwrit", re.I),  # two contents saved to one path
    # Two sources with one slug: the only message that names both files.
    re.compile(r"There are \d+ original .*items with slug"),
    re.compile(r"Could not process", re.I),  # a file Pelican skipped entirely
    re.compile(r"Skipping", re.I),
)


@dataclass
class BuildResult:
    output_path: Path
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    articles: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems and self.error is None


class _Collector(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        try:
            message = record.getMessage()
        except Exception:  # a broken log call must not stop the build
            message = str(record.msg)
        self.messages.append(message)


def _reset_sitemap_plugin() -> None:
    """pelican-sitemap keeps its run in module state and resets it only when a
    build finishes; after a build that failed half-way, the next build in the
    same process would write no sitemap at all."""
    try:
        from pelican.plugins.sitemap import sitemap
    except ImportError:
        return
    sitemap.generator._main_pelican = None
    sitemap.generator.page_queue = []


# Pelican's own line about a file it then skipped; ours already says why.
PELICAN_ECHO = re.compile(r"^(Skipping |Unknown status |Could not process )")


def without_echoes(pelican_problems: list[str], ours: list[problems.Problem]) -> list[str]:
    """Drop Pelican's generic line about a file when one of our problems names
    it, so one mistake is reported once, in file/field/value/expected form."""
    named = {problem.source_path.split("/", 1)[-1] for problem in ours if problem.source_path}
    return [message for message in pelican_problems
            if not (PELICAN_ECHO.match(message) and any(path in message for path in named))]


def is_problem(message: str) -> bool:
    return any(pattern.search(message) for pattern in BROKEN_OUTPUT)


def build_site(settings_file: str | Path, output_path: str | Path,
               overrides: dict | None = None, root: Path = ROOT, progress: bool | None = None,
               split_pages: bool = True) -> BuildResult:
    """Build the site from `root` into `output_path`; never raises for bad content.

    Pages are written while posters are still being encoded, naming the files
    the encoder will write. When a poster turns out unusable after all (its
    header was fine, its data is not), those pages are wrong: the site is then
    built once more, from the caches, and that build's result is the one
    returned.

    `progress`: what the build is doing, on stderr (blogtools.progress): None
    or True shows it, False keeps quiet. `split_pages`: on a machine with more
    than one core, a second process reads half of the reviews the content
    cache lacks (filmreviews.content_cache) and later renders the list pages
    while this one renders the reviews (filmreviews.output); a caller with
    threads of its own that must not be forked can say False.
    """
    output_path = Path(output_path).resolve()
    # Two processes render the pages (filmreviews.output): only in builds this
    # function runs, which make sure the second one never outlives them.
    output.write_in_two_processes(split_pages)
    content_cache.read_ahead_in_another_process(split_pages)
    try:
        with showing_progress(progress):
            result = _build_once(settings_file, output_path, overrides, root)
            if placement.rebuild_needed and result.error is None:
                result = _build_once(settings_file, output_path, overrides, root)
    finally:
        output.write_in_two_processes(False)
        content_cache.read_ahead_in_another_process(False)
        placement.forget_carried()
    result.articles = sum(1 for _ in (output_path / "reviews").glob("*/index.html")) \
        if (output_path / "reviews").is_dir() else 0
    return result


def _build_once(settings_file, output_path: Path, overrides: dict | None, root: Path) -> BuildResult:
    from pelican import Pelican
    from pelican.log import LimitFilter
    from pelican.settings import read_settings

    # Pelican shows each warning once per process; a second build in the same
    # process (livereload, tests, check after build) must report it again.
    LimitFilter._raised_messages.clear()
    LimitFilter._group_count.clear()
    _reset_sitemap_plugin()

    result = BuildResult(output_path)
    collector = _Collector()
    watched = [logging.getLogger(name) for name in ("pelican", "filmreviews")]
    for logger in watched:
        logger.addHandler(collector)
    try:
        with chdir(root), problems.collecting() as reported:
            # Pelican's own content cache knows a source only by its modification
            # time; the plugin's (filmreviews.content_cache) keys on everything
            # that shapes the result, so Pelican's stays off.
            override = {"OUTPUT_PATH": str(output_path), "LOAD_CONTENT_CACHE": False, "CACHE_CONTENT": False}
            override.update(overrides or {})
            settings = read_settings(str(Path(settings_file).resolve()), override=override)
            pelican = Pelican(settings)
            pelican.run()
    except Exception as exc:  # reported, not raised: the caller decides what to do
        output.leave_if_list_writer(exc)
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        output.leave_if_list_writer(None)  # the list writer exits here, whatever happened
        # A build that stopped half-way leaves Pagefind, the encoders and the list writer running.
        output.abandon()
        search.abandon()
        posters.abandon()
        content_cache.finish()
        for logger in watched:
            logger.removeHandler(collector)
    result.warnings = collector.messages
    pelican_problems = [message for message in collector.messages if is_problem(message)]
    result.problems = ([problem.message for problem in reported]
                       + without_echoes(pelican_problems, reported))
    if result.error:
        result.problems.append(f"Build failed: {result.error}")
    return result

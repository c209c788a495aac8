"""One timed job in a process of its own, for bench.py.

The benchmark starts this module once per measurement so no imported module,
cache or logging state carries over from one to the next. It prints one
line, `BENCH-RESULT {json}`, with the job's own seconds, CPU seconds
(including worker processes), peak memory and what the build reported. `stats_seconds` is the time the plugin's stats generator took
(counting and writing the stats pages; null when the plugin has none).

    python -m benchmarks.run_build SETTINGS_FILE OUTPUT_DIR [--overrides JSON]
    python -m benchmarks.run_build SETTINGS_FILE OUTPUT_DIR --check [--root DIR]
    python -m benchmarks.run_build SETTINGS_FILE CACHE_DIR --encode-floor --overrides JSON

`--check` runs `invoke check`'s function (a build into a temporary folder
plus the verdict); `--encode-floor` encodes every poster the corpus's reviews
name into CACHE_DIR with the build's own encoder on all cores, and nothing
else: the least time a first build can take.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

RESULT_PREFIX = "BENCH-RESULT "
# The plugin's stats pages, timed inside the build they are part of.
STATS_MODULE, STATS_GENERATOR = "filmreviews.stats", "StatsGenerator"


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + workers.ru_utime + workers.ru_stime


class StatsTimer:
    """Adds up the wall time of the stats generator's work during one build.

    Pelican imports the plugin itself, so the generator class can only be
    wrapped once the plugins are loaded: on the `initialized` signal.
    """

    def __init__(self):
        self.seconds: float | None = None

    def install(self) -> None:
        from pelican import signals

        signals.initialized.connect(self._wrap, weak=False)

    def _wrap(self, pelican) -> None:
        module = sys.modules.get(STATS_MODULE)
        generator = getattr(module, STATS_GENERATOR, None)
        if generator is None or getattr(generator, "timed_by_bench", False):
            return
        self.seconds = 0.0
        for name in ("generate_context", "generate_output"):
            setattr(generator, name, self._timed(getattr(generator, name)))
        generator.timed_by_bench = True

    def _timed(self, method):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started
        return timed


def poster_requests(settings_file: str, overrides: dict) -> tuple[list, dict]:
    """The poster requests a build of these settings makes (published reviews with a
    usable Poster line), read with Pelican's Markdown reader and the review model."""
    from pelican.readers import MarkdownReader
    from pelican.settings import read_settings

    from filmreviews.posters.cache import PosterRequest
    from filmreviews.review import parse_review
    from filmreviews.social_card import CardText

    settings = read_settings(settings_file, override=overrides)
    content = Path(settings["PATH"])
    reader = MarkdownReader(settings)
    requests = []
    for path in sorted((content / "reviews").glob("*.md")):
        _, metadata = reader.read(str(path))
        if str(metadata.get("status", "")).lower() == "draft":
            continue
        review = parse_review(metadata, path.name, content_root=content)
        if review.poster is not None:
            requests.append(PosterRequest(content / review.poster, CardText(
                review.movie, review.year, review.rating, review.rating_label, str(settings["SITENAME"]))))
    return requests, settings


def encode_floor(settings_file: str, cache: Path, overrides: dict) -> dict:
    from filmreviews.posters.cache import cache_posters
    from reelnotes.settings import setting

    requests, settings = poster_requests(settings_file, overrides)
    cpu_before = _cpu_seconds()
    started = time.perf_counter()
    results, stats = cache_posters(requests, cache, setting(settings, "FILMREVIEWS_POSTER_WIDTHS"),
                                   setting(settings, "FILMREVIEWS_POSTER_MAX_PIXELS"),
                                   jpeg_widths=setting(settings, "FILMREVIEWS_POSTER_JPEG_WIDTHS"))
    return {"seconds": time.perf_counter() - started, "cpu_seconds": _cpu_seconds() - cpu_before,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "articles": len(requests), "problems": [r.error for r in results if r.error],
            "warnings": 0, "error": None, "encodes": stats.encodes, "jobs": stats.jobs,
            "encoder_cpu_seconds": stats.worker_cpu_seconds}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Build the site once (or check it, or encode its "
                                                 "posters) and print timings as JSON.")
    parser.add_argument("settings", help="Pelican settings file")
    parser.add_argument("output", help="output folder (--encode-floor: the poster cache folder)")
    parser.add_argument("--overrides", default="{}", help="JSON object of settings to override")
    parser.add_argument("--check", action="store_true", help="run `invoke check`'s check_site instead")
    parser.add_argument("--encode-floor", action="store_true", help="only encode the posters")
    args = parser.parse_args(argv)
    try:
        overrides = json.loads(args.overrides)
    except json.JSONDecodeError as exc:
        parser.error(f"--overrides: {args.overrides!r}: expected a JSON object ({exc})")

    if args.encode_floor:
        print(RESULT_PREFIX + json.dumps(encode_floor(args.settings, Path(args.output), overrides)), flush=True)
        return 0

    # Imported here so the import cost is part of the wall time the parent
    # measures but not of the "build" seconds.
    from filmreviews.posters import posters_attached

    stats_timer = StatsTimer()
    stats_timer.install()
    from blogtools.build import build_site
    from blogtools.check import check_site

    encoder = []

    def keep(generator, stats):
        encoder.append(stats.worker_cpu_seconds)

    # Encoder processes are children of a fork server, not of this process:
    # their CPU time comes with the posters' stats.
    posters_attached.connect(keep)
    cpu_before = _cpu_seconds()
    started = time.perf_counter()
    if args.check:
        settings = Path(args.settings).resolve()
        result = check_site(settings.parent, settings.name, overrides=overrides, progress=False).build
    else:
        result = build_site(args.settings, args.output, overrides=overrides, progress=False)
    seconds = time.perf_counter() - started
    report = {
        "seconds": seconds,
        "cpu_seconds": _cpu_seconds() - cpu_before,
        # ru_maxrss is in kilobytes on Linux.
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "articles": result.articles,
        "problems": result.problems,
        "warnings": len(result.warnings),
        "error": result.error,
        "stats_seconds": stats_timer.seconds,
        "encoder_cpu_seconds": sum(encoder),
    }
    print(RESULT_PREFIX + json.dumps(report), flush=True)
    return 0 if result.error is None else 1


if __name__ == "__main__":
    sys.exit(main())

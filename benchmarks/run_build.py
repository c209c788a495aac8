"""One timed site build in a process of its own, for bench.py.

The benchmark starts this module once per build so no imported module, cache
or logging state carries over from one build to the next. It prints one line,
`BENCH-RESULT {json}`, with the build's own seconds, CPU seconds (including
worker processes), peak memory, what the build reported, and the seconds the
stats pages took (`stats_seconds`: the plugin's stats generator, counting and
writing; null when the plugin has none).

    python -m benchmarks.run_build SETTINGS_FILE OUTPUT_DIR [--overrides JSON]
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

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


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Build the site once and print timings as JSON.")
    parser.add_argument("settings", help="Pelican settings file")
    parser.add_argument("output", help="output folder")
    parser.add_argument("--overrides", default="{}", help="JSON object of settings to override")
    args = parser.parse_args(argv)
    try:
        overrides = json.loads(args.overrides)
    except json.JSONDecodeError as exc:
        parser.error(f"--overrides: {args.overrides!r}: expected a JSON object ({exc})")

    # Imported here so the import cost is part of the wall time the parent
    # measures but not of the "build" seconds.
    from blogtools.build import build_site

    stats_timer = StatsTimer()
    stats_timer.install()
    cpu_before = _cpu_seconds()
    started = time.perf_counter()
    result = build_site(args.settings, args.output, overrides=overrides)
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
    }
    print(RESULT_PREFIX + json.dumps(report), flush=True)
    return 0 if result.error is None else 1


if __name__ == "__main__":
    sys.exit(main())

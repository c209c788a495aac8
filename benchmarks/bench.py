"""Build-time benchmark: our site against stock Pelican on the same synthetic corpus.

Owns the procedure, the targets and the report. For each corpus size (N
generated reviews, benchmarks/corpus.py) it measures, each in a fresh
process (benchmarks/run_build.py) and each `--runs` times:

- encode floor: the build's own poster encoder alone on all cores, encoding
  every poster the reviews name into an empty cache;
- ours, cold: our theme, the filmreviews plugin, typogrify and sitemap, with
  the settings of pelicanconf.py; empty output and no cache of any kind;
- stock, cold: Pelican's default theme with only the sitemap plugin and
  typogrify, same URLs and Markdown settings, empty output, no cache;
- ours, warm: output emptied, every cache kept (posters, content, search);
- ours, posters only: output emptied, only the poster cache kept;
- ours, check: `invoke check`'s check_site (a build into a temporary folder)
  of the unchanged site;
- one sentence of one review changed, then both sites rebuilt into their
  existing output folders.

The runs of the scenarios are interleaved, so a burst of load on a shared
machine spreads over all of them. Each figure is the median of the runs,
with the minimum and maximum. Then one table holds every target of issue 9:
ours, the reference (stock Pelican, the encode floor, our warm build), the
ratio and the target; the edit loop's row comes from benchmarks/edit_loop.py,
run at the sizes `--edit-loop-at` names (1,000 by default). A chart of build time against the number of
reviews is written as SVG (drawn here, no plotting library).

    python -m benchmarks.bench --reviews 1000 5000
    python -m benchmarks.bench --reviews 5 --quick
    invoke bench -- --reviews 1000 --runs 5
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import corpus
from benchmarks.run_build import RESULT_PREFIX

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POSTER_SAMPLE = 100
DEFAULT_SIZES = (1000, 5000)
DEFAULT_RUNS = 3

# Stock Pelican: our own settings (same URLs, feeds, Markdown and typogrify,
# so both sites write comparable pages) with Pelican's default theme and no
# plugin but the sitemap. Importing pelicanconf keeps the two from drifting.
STOCK_SETTINGS = '''\
"""Stock Pelican settings for the benchmark (written by benchmarks/bench.py)."""
from pelican.settings import DEFAULT_CONFIG, load_source

globals().update({{name: value for name, value in vars(load_source("pelicanconf", {pelicanconf!r})).items()
                  if name.isupper()}})

SITENAME = "Reel Notes (stock)"
PATH = {path!r}
CACHE_PATH = {cache!r}
THEME = DEFAULT_CONFIG["THEME"]
JINJA_ENVIRONMENT = DEFAULT_CONFIG["JINJA_ENVIRONMENT"]  # Pelican's theme expects autoescape off
DIRECT_TEMPLATES = ["index", "archives", "tags", "authors"]
PLUGIN_PATHS = []
PLUGINS = ["sitemap"]
SITEMAP = {{"format": "xml"}}
'''

SCENARIOS = {
    # key: (label, site)
    "floor": ("encode floor (posters alone, all cores)", "floor"),
    "cold": ("cold: empty output, no caches", "ours"),
    "stock-cold": ("cold: empty output, no caches", "stock"),
    "warm": ("warm: empty output, all caches", "ours"),
    "posters-only": ("empty output, poster cache only", "ours"),
    "check": ("invoke check, unchanged site", "ours"),
    "rebuild": ("rebuild after one edit", "ours"),
    "stock-rebuild": ("rebuild after one edit", "stock"),
}


@dataclass
class Build:
    scenario: str
    wall: float
    seconds: float
    cpu_seconds: float
    peak_mb: float
    articles: int
    problems: list
    warnings: int
    error: str | None
    stats_seconds: float | None = None


@dataclass
class Figure:
    """Several runs of one measurement."""

    values: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    def shown(self, unit: str = "s") -> str:
        if not self.values:
            return "n/a"
        if len(self.values) == 1:
            return f"{self.median:.2f} {unit}"
        return f"{self.median:.2f} {unit} [{min(self.values):.2f}–{max(self.values):.2f}]"


@dataclass
class SizeResult:
    reviews: int
    posters: int
    builds: dict[str, list[Build]] = field(default_factory=dict)
    edit_loop: dict | None = None

    def seconds(self, scenario: str) -> Figure:
        return Figure([b.seconds for b in self.builds.get(scenario, []) if not b.error])

    def wall(self, scenario: str) -> Figure:
        return Figure([b.wall for b in self.builds.get(scenario, []) if not b.error])

    def peak(self, scenario: str) -> Figure:
        return Figure([b.peak_mb for b in self.builds.get(scenario, []) if not b.error])


def _run(scenario: str, settings: Path, output: Path, overrides: dict, *extra: str) -> Build:
    command = [sys.executable, "-m", "benchmarks.run_build", str(settings), str(output),
               "--overrides", json.dumps(overrides), *extra]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        return Build(scenario, wall, 0.0, 0.0, 0.0, 0, [], 0,
                     f"the process exited with {done.returncode}: " + " | ".join(tail))
    report = json.loads(lines[-1][len(RESULT_PREFIX):])
    return Build(scenario, wall, report["seconds"], report["cpu_seconds"] + report.get("encoder_cpu_seconds", 0),
                 report["peak_mb"],
                 report["articles"], report["problems"], report["warnings"], report["error"],
                 report.get("stats_seconds"))


def _fingerprint(reviews: int, seed: str) -> str:
    """Identifies a corpus: its size, seed and the code that draws it."""
    digest = hashlib.sha256(f"{reviews}|{seed}".encode())
    for module in (ROOT / "benchmarks" / "corpus.py", ROOT / "blogtools" / "sample_posters.py",
                   ROOT / "plugins" / "filmreviews" / "typesetting.py",
                   ROOT / "content" / "extra" / "robots.txt"):
        if module.is_file():
            digest.update(module.read_bytes())
    return digest.hexdigest()


def prepare_corpus(workdir: Path, reviews: int, seed: str) -> tuple[Path, float, bool]:
    """The corpus folder, the seconds spent making it, and whether it was reused."""
    content = workdir / "content"
    stamp = workdir / "corpus-fingerprint.txt"
    fingerprint = _fingerprint(reviews, seed)
    if content.is_dir() and stamp.is_file() and stamp.read_text().strip() == fingerprint:
        return content, 0.0, True
    shutil.rmtree(content, ignore_errors=True)
    started = time.perf_counter()
    corpus.generate_corpus(content, reviews, seed)
    stamp.write_text(fingerprint + "\n")
    return content, time.perf_counter() - started, False


def edit_one_review(content: Path) -> tuple[Path, bytes]:
    """Change the first sentence of one review's text; return the file and its old bytes."""
    files = sorted((content / "reviews").glob("*.md"))
    path = files[len(files) // 2]
    original = path.read_bytes()
    front, _, body = original.decode("utf-8").partition("\n\n")
    end = min((i for i in (body.find(". "), body.find("! "), body.find("? ")) if i >= 0),
              default=len(body))
    body = "This sentence was changed to time a rebuild after one edit" + body[end:]
    path.write_text(front + "\n\n" + body, encoding="utf-8")
    return path, original


def _fresh(*folders: Path) -> None:
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


class Site:
    """The folders and settings of one corpus's builds."""

    def __init__(self, workdir: Path, content: Path):
        self.workdir, self.content = workdir, content
        self.ours_out, self.stock_out = workdir / "output-ours", workdir / "output-stock"
        self.check_settings = ROOT / "pelicanconf.py"
        self.poster_cache = workdir / "poster-cache"
        self.ours_cache, self.stock_cache = workdir / "pelican-cache-ours", workdir / "pelican-cache-stock"
        self.floor_cache = workdir / "floor-cache"
        self.stock_settings = workdir / "stockconf.py"
        self.stock_settings.write_text(STOCK_SETTINGS.format(
            pelicanconf=str(ROOT / "pelicanconf.py"), path=str(content), cache=str(self.stock_cache)),
            encoding="utf-8")
        self.ours = {"PATH": str(content), "CACHE_PATH": str(self.ours_cache),
                     "FILMREVIEWS_POSTER_CACHE": str(self.poster_cache)}

    def measure(self, scenario: str) -> Build:
        ours_settings = ROOT / "pelicanconf.py"
        if scenario == "floor":
            _fresh(self.floor_cache)
            build = _run(scenario, ours_settings, self.floor_cache, self.ours, "--encode-floor")
            _fresh(self.floor_cache)
            return build
        if scenario == "cold":
            _fresh(self.ours_out, self.poster_cache, self.ours_cache)
        elif scenario in ("warm", "posters-only"):
            _fresh(self.ours_out)
            if scenario == "posters-only":
                _fresh(self.ours_cache)  # content, search and template caches
        elif scenario == "stock-cold":
            _fresh(self.stock_out, self.stock_cache)
            return _run(scenario, self.stock_settings, self.stock_out, {})
        elif scenario == "stock-rebuild":
            return _run(scenario, self.stock_settings, self.stock_out, {})
        if scenario == "check":
            return _run(scenario, self.check_settings, self.workdir / "unused", self.ours, "--check")
        return _run(scenario, ours_settings, self.ours_out, self.ours)


def measure_size(workdir: Path, reviews: int, seed: str, runs: int, echo=print,
                 edit_loop: bool = True) -> SizeResult:
    content, made_in, reused = prepare_corpus(workdir, reviews, seed)
    posters = len(list((content / "images" / "posters").glob("*.jpg")))
    echo(f"\nCorpus: {reviews} reviews, {posters} posters, seed {seed!r}, in {content} "
         + ("(reused)" if reused else f"(generated in {made_in:.1f} s)"))
    site = Site(workdir, content)
    result = SizeResult(reviews, posters)
    for run in range(1, runs + 1):
        # The cold build fills the caches the next ones use (the poster-cache-only
        # build fills the others again before the check).
        for scenario in ("floor", "cold", "warm", "posters-only", "check", "stock-cold"):
            build = site.measure(scenario)
            result.builds.setdefault(scenario, []).append(build)
            load = os.getloadavg()[0]
            echo(f"  run {run}/{runs} {scenario:<14} {build.seconds:7.2f} s (wall {build.wall:6.2f} s, "
                 f"peak {build.peak_mb:5.0f} MB, load {load:.2f})"
                 + (f"  FAILED: {build.error}" if build.error else ""))
    edited, original = edit_one_review(content)
    try:
        for scenario in ("rebuild", "stock-rebuild"):
            result.builds[scenario] = [site.measure(scenario)]
    finally:
        # Put the review back, so a kept corpus matches its fingerprint.
        edited.write_bytes(original)
    if edit_loop:
        result.edit_loop = measure_edit_loop(workdir, reviews, echo)
    return result


def measure_edit_loop(corpus_root: Path, reviews: int, echo=print) -> dict | None:
    """Target 1 comes from benchmarks/edit_loop.py (`measure(corpus_root, reviews) -> dict`,
    a real `invoke livereload` and a livereload client); `corpus_root` holds the corpus in content/."""
    try:
        figures = importlib.import_module("benchmarks.edit_loop").measure(corpus_root, reviews)
    except Exception as exc:  # another module's failure is reported, never hides the build figures
        echo(f"  edit loop: benchmarks/edit_loop.py failed: {type(exc).__name__}: {exc}")
        return {"error": f"{type(exc).__name__}: {exc}"}
    return figures if isinstance(figures, dict) else {"result": figures}


# --- The report ----------------------------------------------------------------------

@dataclass
class TargetRow:
    target: str
    reviews: str
    ours: str
    reference: str
    ratio: float | None
    limit: str
    met: bool | None

    @property
    def verdict(self) -> str:
        return {True: "met", False: "MISSED", None: "n/a"}[self.met]


def _ratio(a: Figure, b: Figure) -> float | None:
    if not a.values or not b.values or b.median <= 0:
        return None
    return a.median / b.median


def target_rows(results: list[SizeResult]) -> list[TargetRow]:
    rows = []
    for size in results:
        n = f"{size.reviews:,}"
        loop = size.edit_loop
        if loop is None:
            rows.append(TargetRow("1 edit loop: saved edit shown in the browser", n,
                                  "not measured", "see --edit-loop-at", None, "≤ 1.0 s", None))
        else:
            # benchmarks/edit_loop.py: the text edits' summary, save -> the tab shows it.
            loop = loop.get("text_edit_shown", loop)
            seconds = loop.get("median")
            shown = (f"{seconds:.2f} s" + (f" [{loop['min']:.2f}–{loop['max']:.2f}]" if "min" in loop else "")
                     if isinstance(seconds, (int, float)) else loop.get("error", "see below"))
            met = seconds <= 1.0 if isinstance(seconds, (int, float)) else None
            rows.append(TargetRow("1 edit loop: saved edit shown in the browser", n, shown, "—",
                                  None, "≤ 1.0 s", met))
        stock = size.seconds("stock-cold")
        for key, label, limit in (("warm", "2 whole build, caches warm", 0.8),
                                  ("posters-only", "2 whole build, poster cache only", 1.2)):
            ratio = _ratio(size.seconds(key), stock)
            rows.append(TargetRow(label, n, size.seconds(key).shown(), f"stock cold {stock.shown()}",
                                  ratio, f"≤ {limit}×", None if ratio is None else ratio <= limit))
        floor = size.seconds("floor")
        ratio = _ratio(size.seconds("cold"), floor)
        rows.append(TargetRow("3 first build vs encode floor", n, size.seconds("cold").shown(),
                              f"floor {floor.shown()}", ratio, "≤ 1.1×", None if ratio is None else ratio <= 1.1))
        ratio = _ratio(size.seconds("check"), size.seconds("warm"))
        rows.append(TargetRow("5 invoke check, unchanged site", n, size.seconds("check").shown(),
                              f"warm build {size.seconds('warm').shown()}", ratio, "≤ 1.0×",
                              None if ratio is None else ratio <= 1.0))
    if len(results) >= 2:
        small, large = results[0], results[-1]
        growth = large.reviews / small.reviews
        limit = 1.1 * growth  # "at most linearly": 5.5 from 1,000 to 5,000
        span = f"{small.reviews:,}→{large.reviews:,}"
        for key, label in (("warm", "build time, caches warm"), ("posters-only", "build time, poster cache only"),
                           ("cold", "build time, cold")):
            ratio = _ratio(large.seconds(key), small.seconds(key))
            stock_ratio = _ratio(large.seconds("stock-cold"), small.seconds("stock-cold"))
            rows.append(TargetRow(f"4 scale: {label}", span,
                                  f"{small.seconds(key).median:.2f} → {large.seconds(key).median:.2f} s",
                                  "stock " + (f"{stock_ratio:.2f}×" if stock_ratio else "n/a"), ratio,
                                  f"≤ {limit:.1f}×", None if ratio is None else ratio <= limit))
        ratio = _ratio(large.peak("warm"), small.peak("warm"))
        rows.append(TargetRow("4 scale: peak memory, warm build", span,
                              f"{small.peak('warm').median:.0f} → {large.peak('warm').median:.0f} MB", "—",
                              ratio, f"≤ {limit:.1f}×", None if ratio is None else ratio <= limit))
    return rows


def print_report(results: list[SizeResult], runs: int, echo=print) -> list[TargetRow]:
    echo(f"\nBuilds (seconds of the build itself; median [min–max] of {runs} run(s); each in a fresh process;"
         " cpu s counts the poster encoders too)")
    header = (f"{'reviews':>8}  {'site':<6}{'scenario':<40}{'build seconds':>28}{'wall s':>9}{'peak MB':>9}"
              f"{'cpu s':>8}")
    echo(header)
    echo("-" * len(header))
    for size in results:
        for key, (label, site) in SCENARIOS.items():
            builds = size.builds.get(key, [])
            if not builds:
                continue
            cpu = Figure([b.cpu_seconds for b in builds if not b.error])
            echo(f"{size.reviews:>8,}  {site:<6}{label:<40}{size.seconds(key).shown():>28}"
                 f"{size.wall(key).median:>9.2f}{size.peak(key).median:>9.0f}{cpu.median:>8.1f}")
    rows = target_rows(results)
    echo("\nTargets (issue 9)")
    header = f"{'target':<46}{'reviews':>12}  {'ours':<30}{'reference':<36}{'ratio':>7}  {'target':<8}{'verdict':<7}"
    echo(header)
    echo("-" * len(header))
    for row in rows:
        ratio = f"{row.ratio:.2f}×" if row.ratio is not None else "—"
        echo(f"{row.target:<46}{row.reviews:>12}  {row.ours:<30}{row.reference:<36}{ratio:>7}  "
             f"{row.limit:<8}{row.verdict:<7}")
    echo("\nStats pages (issue 13: at most 2% of a build): the plugin's stats generator, timed inside our builds")
    for size in results:
        for key, (label, site) in SCENARIOS.items():
            timed = [b for b in size.builds.get(key, []) if site == "ours" and not b.error
                     and b.stats_seconds is not None and b.seconds > 0]
            if timed:
                share = statistics.median(100 * b.stats_seconds / b.seconds for b in timed)
                seconds = statistics.median(b.stats_seconds for b in timed)
                echo(f"stats pages, {size.reviews:,} reviews, {label}: {seconds:.3f} s, {share:.2f}% of the build")
    for size in results:
        if size.edit_loop and "error" not in size.edit_loop and "text_edit_shown" in size.edit_loop:
            importlib.import_module("benchmarks.edit_loop").print_figures(size.edit_loop)
        elif size.edit_loop:
            echo(f"\nEdit loop at {size.reviews:,} reviews (benchmarks/edit_loop.py):")
            _print_figures(size.edit_loop, "  ", echo)
        for key, builds in size.builds.items():
            for b in builds:
                if b.error:
                    echo(f"{size.reviews:,} {key} FAILED: {b.error}")
                elif key != "floor" and b.articles != size.reviews:
                    echo(f"{size.reviews:,} {key} wrote {b.articles} review pages, expected {size.reviews}")
                elif key in ("cold", "warm", "check") and b.problems:
                    echo(f"{size.reviews:,} {key} reported {len(b.problems)} problem(s), e.g.: {b.problems[0]}")
    return rows


# --- The chart -------------------------------------------------------------------------

CHART_SERIES = (
    ("cold", "ours, cold (encodes every poster)", "#b3261e", ""),
    ("floor", "encode floor (posters alone)", "#b3261e", "6 4"),
    ("stock-cold", "stock Pelican, cold", "#555555", ""),
    ("posters-only", "ours, poster cache only", "#1f5fa8", "6 4"),
    ("warm", "ours, all caches warm", "#1f5fa8", ""),
)


def chart_svg(results: list[SizeResult], width: int = 760, height: int = 440) -> str:
    """Build time against the number of reviews, one line per scenario, as an SVG document.

    The time axis is logarithmic: a cold build that encodes thousands of
    posters and a warm one that encodes none differ a hundredfold.
    """
    from html import escape

    left, right, top, bottom = 70, 260, 40, 60
    plot_w, plot_h = width - left - right, height - top - bottom
    xs = [r.reviews for r in results]
    points = {key: [(r.reviews, r.seconds(key).median) for r in results if r.seconds(key).values]
              for key, *_ in CHART_SERIES}
    values = [v for series in points.values() for _, v in series if v > 0] or [1.0]
    low = 10 ** math.floor(math.log10(min(values)))
    high = 10 ** math.ceil(math.log10(max(values)))
    if high <= low:
        high = low * 10
    x_max = max(xs) if xs else 1

    def x(value):
        return left + plot_w * value / x_max

    def y(value):
        share = (math.log10(max(value, low)) - math.log10(low)) / (math.log10(high) - math.log10(low))
        return top + plot_h * (1 - share)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
             "<title>Build time against the number of reviews</title>",
             f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
             f'<text x="{left}" y="22" font-size="14" font-weight="bold">Build time by number of reviews '
             "(median seconds, log scale)</text>"]
    tick = low
    while tick <= high * 1.0001:
        for factor in (1, 2, 5):
            value = tick * factor
            if value > high * 1.0001:
                break
            parts.append(f'<line x1="{left}" y1="{y(value):.1f}" x2="{left + plot_w}" y2="{y(value):.1f}" '
                         f'stroke="{"#d0d0d0" if factor == 1 else "#eeeeee"}"/>')
            parts.append(f'<text x="{left - 8}" y="{y(value) + 4:.1f}" text-anchor="end">{value:g}</text>')
        tick *= 10
    for value in xs:
        parts.append(f'<text x="{x(value):.1f}" y="{top + plot_h + 18}" text-anchor="middle">{value:,}</text>')
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#333"/>')
    parts.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#333"/>')
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 18}" text-anchor="middle">reviews</text>')
    parts.append(f'<text x="18" y="{top + plot_h / 2:.1f}" text-anchor="middle" '
                 f'transform="rotate(-90 18 {top + plot_h / 2:.1f})">seconds</text>')
    for index, (key, label, colour, dash) in enumerate(CHART_SERIES):
        series = points[key]
        if not series:
            continue
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        path = " ".join(f"{x(a):.1f},{y(b):.1f}" for a, b in series)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dashes}/>')
        for a, b in series:
            parts.append(f'<circle cx="{x(a):.1f}" cy="{y(b):.1f}" r="3.5" fill="{colour}">'
                         f"<title>{escape(label)}: {b:.1f} s at {a:,} reviews</title></circle>")
        legend_y = top + 10 + index * 22
        parts.append(f'<line x1="{width - right + 16}" y1="{legend_y}" x2="{width - right + 44}" y2="{legend_y}" '
                     f'stroke="{colour}" stroke-width="2"{dashes}/>')
        parts.append(f'<text x="{width - right + 50}" y="{legend_y + 4}">{escape(label)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


# --- Poster figures and the command line ---------------------------------------------------

def print_poster_timings(content: Path, workdir: Path, sample: int, echo=print) -> None:
    echo("\nPoster derivatives (benchmarks/posters_bench.py)")
    from benchmarks.posters_bench import time_posters

    posters = sorted((content / "images" / "posters").glob("*.jpg"))[:sample]
    cache = workdir / "poster-bench-cache"
    shutil.rmtree(cache, ignore_errors=True)
    figures = time_posters(posters, cache)
    echo(f"  {len(posters)} posters of {corpus.POSTER_SIZE[0]}×{corpus.POSTER_SIZE[1]}, empty cache first:")
    _print_figures(figures, "  ", echo)


def _print_figures(figures: dict, indent: str, echo=print) -> None:
    for key, value in figures.items():
        if isinstance(value, dict):
            echo(f"{indent}{key}:")
            _print_figures(value, indent + "  ", echo)
            continue
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        echo(f"{indent}{key:<30}{shown}")


def _whole(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number of at least 1") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a whole number of at least 1")
    return value


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench",
        description="Time our builds against stock Pelican and print the targets of issue 9.")
    parser.add_argument("--reviews", type=_whole, nargs="+", default=list(DEFAULT_SIZES),
                        help="corpus sizes, smallest first for the scale target (default: %(default)s)")
    parser.add_argument("--runs", type=_whole, default=DEFAULT_RUNS,
                        help="runs of each measurement; figures are medians (default: %(default)s)")
    parser.add_argument("--quick", action="store_true",
                        help="one run of each measurement and no poster timings: for tests")
    parser.add_argument("--workdir", help="folder for the corpora and outputs (default: a temporary "
                        "folder; a corpus already there with the same size and seed is reused)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder to look at the outputs")
    parser.add_argument("--seed", default=corpus.DEFAULT_SEED, help="corpus seed (default: %(default)s)")
    parser.add_argument("--poster-sample", type=_whole, default=DEFAULT_POSTER_SAMPLE,
                        help="posters to time with posters_bench (default: %(default)s)")
    parser.add_argument("--edit-loop-at", type=_whole, nargs="*", default=[1000], metavar="REVIEWS",
                        help="sizes at which to run benchmarks/edit_loop.py too (default: %(default)s; "
                        "none with --quick)")
    parser.add_argument("--chart", help="where to write the SVG chart (default: build-times.svg in the workdir)")
    args = parser.parse_args(argv)
    runs = 1 if args.quick else args.runs
    sizes = sorted(set(args.reviews))

    started = time.perf_counter()
    workdir = Path(args.workdir).resolve() if args.workdir else Path(tempfile.mkdtemp(prefix="reelnotes-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results: list[SizeResult] = []
    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"Machine: {os.cpu_count()} cores, load average {load} at start, "
              f"Python {platform.python_version()}; sizes {sizes}, {runs} run(s) each", flush=True)
        for reviews in sizes:
            results.append(measure_size(workdir / f"reviews-{reviews}", reviews, args.seed, runs,
                                        echo=lambda line: print(line, flush=True),
                                        edit_loop=not args.quick and reviews in args.edit_loop_at))
        print_report(results, runs)
        chart = Path(args.chart) if args.chart else workdir / "build-times.svg"
        chart.parent.mkdir(parents=True, exist_ok=True)
        chart.write_text(chart_svg(results), encoding="utf-8")
        print(f"\nChart: {chart}")
        if not args.quick:
            print_poster_timings(workdir / f"reviews-{sizes[0]}" / "content", workdir, args.poster_sample)
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"\nBenchmark took {time.perf_counter() - started:.0f} s; load average {load} at the end")
    finally:
        if args.workdir or args.keep:
            print(f"Outputs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    failed = [b for size in results for key, builds in size.builds.items() for b in builds
              if b.error or (key != "floor" and b.articles != size.reviews)]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

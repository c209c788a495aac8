"""Build-time benchmark: our site against stock Pelican on the same synthetic corpus.

Owns the procedure and the report. For N generated reviews (benchmarks/corpus.py)
it times four builds, each in a fresh process (benchmarks/run_build.py):

- ours, cold: our theme, the filmreviews plugin, typogrify and sitemap, with
  the settings of pelicanconf.py; empty output, no Pelican cache and an empty
  poster derivative cache, so every poster is encoded;
- stock, cold: Pelican's default theme with only the sitemap plugin and
  typogrify, same URLs and Markdown settings;
- then one sentence of one review is changed, and both sites are built again
  into their existing output folders (ours with a warm poster cache).

It prints seconds (wall time of the process, and the build alone), CPU seconds,
peak memory, and the ratios ours/stock; the share of our builds spent on the
stats pages (the plugin's stats generator, timed inside the build); then the
poster derivative timings from benchmarks/posters_bench.py when that module is
present.

    python -m benchmarks.bench --reviews 200
    invoke bench
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks import corpus
from benchmarks.run_build import RESULT_PREFIX

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_POSTER_SAMPLE = 100

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


@dataclass
class Build:
    site: str
    kind: str
    wall: float
    seconds: float
    cpu_seconds: float
    peak_mb: float
    articles: int
    problems: list
    warnings: int
    error: str | None
    stats_seconds: float | None = None


def _run_build(site: str, kind: str, settings: Path, output: Path, overrides: dict) -> Build:
    command = [sys.executable, "-m", "benchmarks.run_build", str(settings), str(output),
               "--overrides", json.dumps(overrides)]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if not lines:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        return Build(site, kind, wall, 0.0, 0.0, 0.0, 0, [], 0,
                     f"the build process exited with {done.returncode}: " + " | ".join(tail))
    report = json.loads(lines[-1][len(RESULT_PREFIX):])
    return Build(site, kind, wall, report["seconds"], report["cpu_seconds"], report["peak_mb"],
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


def run_builds(content: Path, workdir: Path) -> list[Build]:
    ours_out, stock_out = workdir / "output-ours", workdir / "output-stock"
    poster_cache = workdir / "poster-cache"
    ours_cache, stock_cache = workdir / "pelican-cache-ours", workdir / "pelican-cache-stock"
    stock_settings = workdir / "stockconf.py"
    stock_settings.write_text(STOCK_SETTINGS.format(pelicanconf=str(ROOT / "pelicanconf.py"), path=str(content), cache=str(stock_cache)),
                              encoding="utf-8")
    ours_settings = ROOT / "pelicanconf.py"
    ours_overrides = {
        "PATH": str(content),
        "CACHE_PATH": str(ours_cache),
        "FILMREVIEWS_POSTER_CACHE": str(poster_cache),
    }

    builds = []
    _fresh(ours_out, poster_cache, ours_cache)
    builds.append(_run_build("ours", "cold", ours_settings, ours_out, ours_overrides))
    _fresh(stock_out, stock_cache)
    builds.append(_run_build("stock", "cold", stock_settings, stock_out, {}))
    edited, original = edit_one_review(content)
    try:
        builds.append(_run_build("ours", "rebuild", ours_settings, ours_out, ours_overrides))
        builds.append(_run_build("stock", "rebuild", stock_settings, stock_out, {}))
    finally:
        # Put the review back, so a kept corpus matches its fingerprint.
        edited.write_bytes(original)
    return builds


def _ratio(ours: float, stock: float) -> str:
    return f"{ours / stock:.2f}×" if stock > 0 else "n/a"


def print_builds(builds: list[Build], reviews: int) -> None:
    print(f"\nSite builds, {reviews} reviews (each build in a fresh Python process)")
    header = f"{'build':<18}{'site':<7}{'wall s':>8}{'build s':>9}{'cpu s':>8}{'peak MB':>9}" \
             f"{'reviews':>9}{'warnings':>10}"
    print(header)
    print("-" * len(header))
    labels = {"cold": "cold", "rebuild": "rebuild (1 edit)"}
    for b in builds:
        print(f"{labels[b.kind]:<18}{b.site:<7}{b.wall:>8.2f}{b.seconds:>9.2f}{b.cpu_seconds:>8.2f}"
              f"{b.peak_mb:>9.0f}{b.articles:>9}{b.warnings:>10}")
    by = {(b.site, b.kind): b for b in builds}
    for kind in ("cold", "rebuild"):
        ours, stock = by[("ours", kind)], by[("stock", kind)]
        if ours.error or stock.error:
            print(f"ours/stock, {labels[kind]}: n/a (a build failed)")
            continue
        print(f"ours/stock, {labels[kind]}: {_ratio(ours.wall, stock.wall)} wall, "
              f"{_ratio(ours.seconds, stock.seconds)} build")
    for b in builds:
        if b.site == "ours" and not b.error:
            print_stats_share(b, labels[b.kind])
    for b in builds:
        if b.error:
            print(f"{b.site} {b.kind} build FAILED: {b.error}")
        elif b.articles != reviews:
            print(f"{b.site} {b.kind} build wrote {b.articles} review pages, expected {reviews}")
        if b.site == "ours" and b.problems:
            print(f"{b.site} {b.kind} build reported {len(b.problems)} problem(s), e.g.: {b.problems[0]}")


def print_stats_share(build: Build, label: str) -> None:
    """How much of one of our builds the stats pages took (counting and writing)."""
    if build.stats_seconds is None:
        print(f"stats pages, {label}: not timed (no stats generator in the plugin)")
        return
    share = 100 * build.stats_seconds / build.seconds if build.seconds > 0 else 0.0
    print(f"stats pages, {label}: {build.stats_seconds:.3f} s of the {build.seconds:.2f} s build "
          f"({share:.2f}%)")


def print_poster_timings(content: Path, workdir: Path, sample: int) -> None:
    print("\nPoster derivatives (benchmarks/posters_bench.py)")
    try:
        from benchmarks.posters_bench import time_posters
    except ImportError as exc:
        print(f"  missing: benchmarks/posters_bench.py with time_posters() is not available ({exc})")
        return
    posters = sorted((content / "images" / "posters").glob("*.jpg"))[:sample]
    cache = workdir / "poster-bench-cache"
    shutil.rmtree(cache, ignore_errors=True)
    try:
        figures = time_posters(posters, cache)
    except Exception as exc:  # another engineer's module: report, do not hide the build figures
        print(f"  time_posters failed: {type(exc).__name__}: {exc}")
        return
    print(f"  {len(posters)} posters of {corpus.POSTER_SIZE[0]}×{corpus.POSTER_SIZE[1]}, empty cache first:")
    _print_figures(figures if isinstance(figures, dict) else {"result": figures}, "  ")


def _print_figures(figures: dict, indent: str) -> None:
    for key, value in figures.items():
        if isinstance(value, dict):
            print(f"{indent}{key}:")
            _print_figures(value, indent + "  ")
            continue
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        print(f"{indent}{key:<30}{shown}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench",
        description="Time cold builds and one-edit rebuilds of our site and of stock Pelican.")
    parser.add_argument("--reviews", type=int, default=corpus.DEFAULT_REVIEWS,
                        help="number of synthetic reviews (default: %(default)s)")
    parser.add_argument("--workdir", help="folder for the corpus and outputs (default: a temporary "
                        "folder; a corpus already there with the same size and seed is reused)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary folder to look at the outputs")
    parser.add_argument("--seed", default=corpus.DEFAULT_SEED, help="corpus seed (default: %(default)s)")
    parser.add_argument("--poster-sample", type=int, default=DEFAULT_POSTER_SAMPLE,
                        help="posters to time with posters_bench (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.reviews < 1:
        parser.error(f"--reviews {args.reviews}: expected a whole number of at least 1")
    if args.poster_sample < 1:
        parser.error(f"--poster-sample {args.poster_sample}: expected a whole number of at least 1")

    started = time.perf_counter()
    if args.workdir:
        workdir = Path(args.workdir).resolve()
        workdir.mkdir(parents=True, exist_ok=True)
    else:
        workdir = Path(tempfile.mkdtemp(prefix="reelnotes-bench-"))
    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"Machine: {os.cpu_count()} cores, load average {load} at start, "
              f"Python {platform.python_version()}")
        content, made_in, reused = prepare_corpus(workdir, args.reviews, args.seed)
        posters = len(list((content / "images" / "posters").glob("*.jpg")))
        print(f"Corpus: {args.reviews} reviews, {posters} posters, seed {args.seed!r}, in {content} "
              + ("(reused)" if reused else f"(generated in {made_in:.1f} s)"))
        builds = run_builds(content, workdir)
        print_builds(builds, args.reviews)
        print_poster_timings(content, workdir, args.poster_sample)
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"\nBenchmark took {time.perf_counter() - started:.0f} s; load average {load} at the end")
    finally:
        if args.workdir or args.keep:
            print(f"Outputs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    failed = [b for b in builds if b.error or b.articles != args.reviews]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

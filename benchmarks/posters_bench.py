"""How long poster derivatives take: a cold cache, then a warm one.

Owns the poster benchmark: N synthetic 800×1200 posters are drawn, then the
plugin's own `cache_posters` (the code a build runs) encodes them into an empty
cache, and runs again over the full cache, which must encode nothing. Prints
timings, encode counts and the average file size per format and width.

Usage, from the repository root::

    python -m benchmarks.posters_bench --posters 20
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from filmreviews.posters.cache import DEFAULT_JPEG_WIDTHS, DEFAULT_WIDTHS, PosterRequest, cache_posters
from filmreviews.social_card import CardText

SOURCE_SIZE = (800, 1200)  # the sample posters' size


def draw_posters(folder: Path, count: int) -> list[Path]:
    """`count` distinct synthetic posters as progressive JPEGs in `folder`."""
    from blogtools.sample_posters import JPEG_OPTIONS, draw_poster

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"bench-film-{i:03d}.jpg"
        draw_poster(f"Bench Film {i}", 1950 + i % 70, f"Director {i % 13}", SOURCE_SIZE,
                    seed=f"bench-{i}").save(path, "JPEG", **JPEG_OPTIONS)
        paths.append(path)
    return paths


def _requests(paths) -> list[PosterRequest]:
    return [PosterRequest(path, CardText(path.stem.replace("-", " ").title(), 2000, 3.5, "3.5 out of 5", "Bench"))
            for path in paths]


def time_posters(poster_paths, cache_dir, widths=DEFAULT_WIDTHS, jpeg_widths=DEFAULT_JPEG_WIDTHS) -> dict:
    """Encode `poster_paths` into `cache_dir` twice; return timings and counts.

    The first run should find `cache_dir` empty (cold), the second finds
    everything cached (warm) and must encode nothing.
    """
    requests = _requests([Path(p) for p in poster_paths])
    started = time.perf_counter()
    cold_results, cold = cache_posters(requests, Path(cache_dir), widths, jpeg_widths=jpeg_widths)
    cold_seconds = time.perf_counter() - started
    started = time.perf_counter()
    _, warm = cache_posters(requests, Path(cache_dir), widths, jpeg_widths=jpeg_widths)
    warm_seconds = time.perf_counter() - started

    sizes = defaultdict(list)
    for cached in cold_results:
        for item in (cached.manifest or {}).get("files", []):
            sizes[(item["format"], item["width"])].append((cached.entry / item["name"]).stat().st_size)
    return {
        "posters": len(requests),
        "cores": os.cpu_count(),
        "workers": cold.workers,
        "problems": sum(1 for c in cold_results if c.error),
        "cold_seconds": cold_seconds,
        "cold_seconds_per_poster": cold_seconds / max(1, len(requests)),
        "cold_files_encoded": cold.files_encoded,
        "cold_cards_drawn": cold.cards_drawn,
        "warm_seconds": warm_seconds,
        "warm_encodes": warm.encodes,
        "warm_workers": warm.workers,
        "average_bytes": {f"{fmt} {width}w": sum(v) // len(v) for (fmt, width), v in sorted(sizes.items())},
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posters", type=int, default=20, help="how many synthetic posters (default 20)")
    parser.add_argument("--jpeg-widths", type=int, nargs="+", default=list(DEFAULT_JPEG_WIDTHS),
                        help="widths of the JPEG fallback (default %(default)s; the build's "
                        "FILMREVIEWS_POSTER_JPEG_WIDTHS), to weigh what each fallback width costs")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="posters-bench-") as tmp:
        paths = draw_posters(Path(tmp) / "posters", args.posters)
        figures = time_posters(paths, Path(tmp) / "cache", jpeg_widths=tuple(args.jpeg_widths))
    print(f"posters: {figures['posters']} synthetic {SOURCE_SIZE[0]}×{SOURCE_SIZE[1]} JPEGs, "
          f"{figures['cores']} cores, {figures['workers']} workers, {figures['problems']} problems; "
          f"JPEG fallback at {', '.join(map(str, args.jpeg_widths))} px")
    print(f"cold: {figures['cold_seconds']:.2f} s ({figures['cold_seconds_per_poster'] * 1000:.0f} ms "
          f"per poster), {figures['cold_files_encoded']} files encoded, "
          f"{figures['cold_cards_drawn']} social cards drawn")
    print(f"warm: {figures['warm_seconds'] * 1000:.0f} ms, {figures['warm_encodes']} encodes, "
          f"{figures['warm_workers']} workers started")
    print("average size:")
    for label, size in figures["average_bytes"].items():
        print(f"  {label:>12}: {size / 1024:6.1f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

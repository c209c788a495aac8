"""Page-weight budgets and Lighthouse scores for the built site.

Owns the budget rule and its report: the home page, one review page (Her)
and the stats page (the densest page: every chart of every year) must each
stay within 20 KB gzip for their own HTML plus every same-site
stylesheet and script they load (posters and fonts are not counted). For the
home page it also reports the poster images it references, how many load
lazily, and the bytes a phone would fetch for them. Then, when Lighthouse is
installed in benchmarks/node_modules, it serves the built site on 127.0.0.1
and prints Lighthouse's four category scores and the layout shift per page.

It exits 1 when a page is over budget, a Lighthouse score is below 100, a page
shifts while it loads (CLS above 0) or a Lighthouse run fails. Without
Lighthouse installed it prints how to install it and judges the budgets only,
unless --require-lighthouse is given.

    python -m benchmarks.budgets                       # production settings
    python -m benchmarks.budgets --settings pelicanconf.py --no-lighthouse
    python -m benchmarks.budgets --require-lighthouse  # for CI: no Lighthouse is a failure

Install Lighthouse once with `npm install` (or
`npm install --no-save lighthouse@12.2.3`) inside benchmarks/.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
LIGHTHOUSE = BENCH_DIR / "node_modules" / ".bin" / "lighthouse"
LIGHTHOUSE_VERSION = "12.2.3"
CHROMIUM = "/usr/bin/chromium"
CHROME_FLAGS = ("--headless=new --no-sandbox --disable-gpu --disable-background-networking "
                "--disable-component-update --disable-sync --no-first-run")
BUDGET_BYTES = 20 * 1024  # gzip, HTML + CSS + JS of one page
GZIP_LEVEL = 9
DEFAULT_REVIEW = "her-2013"
STATS_PAGE = "stats/index.html"  # FILMREVIEWS_STATS_SAVE_AS by default
CATEGORIES = (("performance", "Performance"), ("accessibility", "Accessibility"),
              ("best-practices", "Best Practices"), ("seo", "SEO"))
# Lighthouse's mobile emulation (Moto G Power): 412 CSS px wide at 1.75 device pixels per px.
MOBILE_VIEWPORT, MOBILE_DPR = 412, 1.75
ROOT_FONT_PX = 16


@dataclass
class Resource:
    kind: str  # "HTML", "CSS" or "JS"
    path: str  # relative to the output folder
    raw: int
    gzip: int


@dataclass
class PageWeight:
    name: str
    page: str
    resources: list[Resource] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def raw(self) -> int:
        return sum(r.raw for r in self.resources)

    @property
    def gzip(self) -> int:
        return sum(r.gzip for r in self.resources)

    @property
    def passes(self) -> bool:
        return self.gzip <= BUDGET_BYTES and not self.missing


def gzip_size(data: bytes) -> int:
    return len(gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0))


def _local_path(base: str, page_url: str, href: str) -> str | None:
    """The output-relative file that `href` (on the page at `page_url`) names, or None if off-site."""
    url = urlparse(urljoin(page_url, href))
    site = urlparse(base)
    if url.scheme not in ("http", "https") or url.netloc != site.netloc:
        return None
    path = unquote(url.path)
    prefix = site.path.rstrip("/")
    if prefix and path.startswith(prefix):
        path = path[len(prefix):]
    path = path.lstrip("/")
    if path == "" or path.endswith("/"):
        path += "index.html"
    return path


CSS_IMPORT = re.compile(r"""@import\s+(?:url\()?\s*["']?([^"')\s;]+)""")


def page_weight(output: Path, base: str, name: str, page: str) -> PageWeight:
    """HTML + same-site CSS (with @imports) + JS of one built page, each counted once."""
    weight = PageWeight(name, page)
    html = (output / page).read_bytes()
    weight.resources.append(Resource("HTML", page, len(html), gzip_size(html)))
    page_url = urljoin(base.rstrip("/") + "/", page.removesuffix("index.html"))
    soup = BeautifulSoup(html, "html.parser")
    wanted: list[tuple[str, str, str]] = []  # (kind, href, url of the document naming it)
    for link in soup.find_all("link", href=True):
        rel = {r.lower() for r in link.get("rel", [])}
        if "stylesheet" in rel:
            wanted.append(("CSS", link["href"], page_url))
        elif "modulepreload" in rel or ("preload" in rel and link.get("as") == "script"):
            wanted.append(("JS", link["href"], page_url))
    for script in soup.find_all("script", src=True):
        wanted.append(("JS", script["src"], page_url))
    seen: set[str] = set()
    while wanted:
        kind, href, referrer = wanted.pop(0)
        path = _local_path(base, referrer, href)
        if path is None or path in seen:
            continue
        seen.add(path)
        file = output / path
        if not file.is_file():
            weight.missing.append(f"{kind} {href} (no {path} in the output)")
            continue
        data = file.read_bytes()
        weight.resources.append(Resource(kind, path, len(data), gzip_size(data)))
        if kind == "CSS":
            css_url = urljoin(base.rstrip("/") + "/", path)
            wanted.extend(("CSS", m.group(1), css_url)
                          for m in CSS_IMPORT.finditer(data.decode("utf-8", "replace")))
    return weight


def print_weight(weight: PageWeight) -> None:
    print(f"\n{weight.name} ({weight.page})")
    print(f"  {'':<5}{'file':<52}{'raw B':>9}{'gzip B':>9}")
    for r in weight.resources:
        print(f"  {r.kind:<5}{r.path:<52}{r.raw:>9,}{r.gzip:>9,}")
    for line in weight.missing:
        print(f"  MISSING {line}")
    kinds = {k: sum(r.gzip for r in weight.resources if r.kind == k) for k in ("HTML", "CSS", "JS")}
    split = ", ".join(f"{k} {v:,}" for k, v in kinds.items())
    verdict = "PASS" if weight.passes else "FAIL"
    print(f"  {'total':<57}{weight.raw:>9,}{weight.gzip:>9,}")
    print(f"  gzip {split} — {weight.gzip:,} of {BUDGET_BYTES:,} B budget "
          f"({weight.gzip / BUDGET_BYTES:.0%}): {verdict}")


# --- Posters on a page: which file a phone would fetch ------------------------------

LENGTH = r"(\d+(?:\.\d+)?|\.\d+)(px|rem|em|vw)"
# A media condition of plain features, "(min-width: 40rem) and (max-width: 60rem)", then the slot.
SIZES_ENTRY = re.compile(r"(\([^()]*\)(?:\s+and\s+\([^()]*\))*)\s+(.+)")


def _length_px(text: str, viewport: int) -> float | None:
    """One length, or a calc() that adds and subtracts lengths; None for anything else."""
    text = text.strip()
    calc = re.fullmatch(r"calc\((.*)\)", text)
    terms = calc.group(1).strip() if calc else text
    if not re.fullmatch(rf"{LENGTH}(\s+[-+]\s+{LENGTH})*", terms):
        return None
    units = {"px": 1, "rem": ROOT_FONT_PX, "em": ROOT_FONT_PX, "vw": viewport / 100}
    tokens = terms.split()  # length, sign, length, sign, length...
    total = 0.0
    for sign, length in zip(["+", *tokens[1::2]], tokens[::2]):
        value, unit = re.fullmatch(LENGTH, length).groups()
        total += (-1 if sign == "-" else 1) * float(value) * units[unit]
    return total


def _media_matches(condition: str, viewport: int) -> bool:
    for name, length in re.findall(r"\(\s*(min-width|max-width)\s*:\s*([^)]+)\)", condition):
        px = _length_px(length, viewport)
        if px is None or (name == "min-width" and viewport < px) or (name == "max-width" and viewport > px):
            return False
    return True


def _top_level_entries(sizes: str) -> list[str]:
    """`sizes` split at the commas that are not inside min(), max() or clamp()."""
    entries, depth, start = [], 0, 0
    for i, char in enumerate(sizes):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            entries.append(sizes[start:i].strip())
            start = i + 1
    return [*entries, sizes[start:].strip()]


def slot_width(sizes: str | None, viewport: int) -> float:
    """The width `sizes` gives the image on a screen `viewport` CSS px wide (100vw if unreadable)."""
    for entry in _top_level_entries(sizes or ""):
        conditional = SIZES_ENTRY.fullmatch(entry)
        media, length = conditional.groups() if conditional else ("", entry)
        if not media or _media_matches(media, viewport):
            px = _length_px(length, viewport)
            # The browser would use this entry; a length we cannot read means we cannot tell.
            return float(viewport) if px is None else px
    return float(viewport)


def _candidates(srcset: str | None) -> list[tuple[str, float]]:
    """(url, width) pairs of a srcset with w descriptors; x or bare entries count as width 0."""
    found = []
    for part in (srcset or "").split(","):
        bits = part.split()
        if not bits:
            continue
        width = float(bits[1][:-1]) if len(bits) > 1 and bits[1].endswith("w") else 0.0
        found.append((bits[0], width))
    return found


def _pick(candidates: list[tuple[str, float]], needed: float) -> str | None:
    if not candidates:
        return None
    wide_enough = sorted((c for c in candidates if c[1] >= needed), key=lambda c: c[1])
    return (wide_enough[0] if wide_enough else max(candidates, key=lambda c: c[1]))[0]


@dataclass
class PosterReport:
    images: int = 0
    lazy: int = 0
    phone_bytes: int = 0
    phone_eager_bytes: int = 0
    fallback_bytes: int = 0
    every_file_bytes: int = 0
    missing: list[str] = field(default_factory=list)


def poster_bytes(output: Path, base: str, page: str) -> PosterReport:
    """Posters (<img> under images/, with their <picture> sources) on one page."""
    report = PosterReport()
    page_url = urljoin(base.rstrip("/") + "/", page.removesuffix("index.html"))
    soup = BeautifulSoup((output / page).read_bytes(), "html.parser")

    def size_of(href: str) -> int:
        path = _local_path(base, page_url, href)
        if path is None:
            return 0
        file = output / path
        if not file.is_file():
            report.missing.append(href)
            return 0
        return file.stat().st_size

    for img in soup.find_all("img"):
        sources = img.parent.find_all("source") if img.parent and img.parent.name == "picture" else []
        every = [img.get("src")] + [u for u, _ in _candidates(img.get("srcset"))]
        every += [u for s in sources for u, _ in _candidates(s.get("srcset"))]
        every = [u for u in dict.fromkeys(every) if u and "images/" in u]
        if not every:
            continue
        report.images += 1
        lazy = img.get("loading") == "lazy"
        report.lazy += lazy
        report.every_file_bytes += sum(size_of(u) for u in every)
        if img.get("src"):
            report.fallback_bytes += size_of(img["src"])
        # A browser takes the first <source> it can decode; Chromium decodes all our types.
        first = sources[0] if sources else img
        needed = slot_width(first.get("sizes") or img.get("sizes"), MOBILE_VIEWPORT) * MOBILE_DPR
        chosen = _pick(_candidates(first.get("srcset")), needed) or img.get("src")
        fetched = size_of(chosen) if chosen else 0
        report.phone_bytes += fetched
        if not lazy:
            report.phone_eager_bytes += fetched
    return report


def print_posters(report: PosterReport) -> None:
    print(f"  posters (not in the budget): {report.images} images, {report.lazy} lazy, "
          f"{report.images - report.lazy} eager")
    if report.images:
        print(f"    a {MOBILE_VIEWPORT}px phone at {MOBILE_DPR}x fetches {report.phone_bytes:,} B "
              f"if it scrolls through all of them ({report.phone_eager_bytes:,} B eager); "
              f"JPEG fallbacks {report.fallback_bytes:,} B; every referenced file "
              f"{report.every_file_bytes:,} B")
    for href in report.missing:
        print(f"    MISSING poster file {href}")


# --- Lighthouse ------------------------------------------------------------------------

class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


def serve(folder: Path) -> tuple[ThreadingHTTPServer, str]:
    """Serve `folder` on 127.0.0.1 at a free port, in a thread; return the server and its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def lighthouse_install_hint() -> str:
    return (f"Lighthouse is not installed: run `npm install --no-save lighthouse@{LIGHTHOUSE_VERSION}` "
            "(or `npm install`) in benchmarks/, then run this again.")


def run_lighthouse(url: str, report_path: Path, preset: str) -> dict:
    command = [str(LIGHTHOUSE), url, "--output=json", f"--output-path={report_path}", "--quiet",
               "--only-categories=" + ",".join(key for key, _ in CATEGORIES),
               f"--chrome-flags={CHROME_FLAGS}"]
    if preset != "mobile":
        command.append(f"--preset={preset}")
    env = dict(os.environ)
    if Path(CHROMIUM).exists():
        env.setdefault("CHROME_PATH", CHROMIUM)
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    if done.returncode != 0 or not report_path.is_file():
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-4:])
        raise RuntimeError(f"lighthouse exited with {done.returncode}: {tail}")
    return json.loads(report_path.read_text(encoding="utf-8"))


def lighthouse_figures(report: dict) -> dict:
    audits = report.get("audits", {})

    def numeric(key):
        return audits.get(key, {}).get("numericValue")

    figures = {}
    for key, label in CATEGORIES:
        score = report.get("categories", {}).get(key, {}).get("score")
        figures[label] = None if score is None else round(score * 100)
    figures["CLS"] = numeric("cumulative-layout-shift")
    figures["LCP ms"] = numeric("largest-contentful-paint")
    figures["TBT ms"] = numeric("total-blocking-time")
    figures["bytes"] = numeric("total-byte-weight")
    failing = [audit.get("id", key) for key, audit in audits.items()
               if audit.get("score") is not None and audit.get("score") < 0.9
               and audit.get("scoreDisplayMode") in ("binary", "metricSavings")]
    figures["audits below 0.9"] = failing
    console = audits.get("errors-in-console", {}).get("details", {}).get("items", [])
    figures["console errors"] = [
        f"{item.get('description', '')} ({item.get('sourceLocation', {}).get('url', '')})"
        for item in console]
    return figures


def print_lighthouse(rows: list[tuple[str, dict | str]], preset: str) -> None:
    print(f"\nLighthouse {LIGHTHOUSE_VERSION} ({preset}, served by Python's http.server without "
          "compression, on a shared 2-core machine)")
    header = f"  {'page':<14}" + "".join(f"{label:>15}" for _, label in CATEGORIES) \
             + f"{'CLS':>8}{'LCP ms':>9}{'TBT ms':>8}{'bytes':>9}"
    print(header)
    for name, figures in rows:
        if isinstance(figures, str):
            print(f"  {name:<14}FAILED: {figures}")
            continue
        scores = "".join(f"{'-' if figures[label] is None else figures[label]:>15}"
                         for _, label in CATEGORIES)

        def num(key, fmt):
            return "-" if figures[key] is None else format(figures[key], fmt)

        print(f"  {name:<14}{scores}{num('CLS', '8.3f')}{num('LCP ms', '9.0f')}"
              f"{num('TBT ms', '8.0f')}{num('bytes', '9,.0f')}")
    for name, figures in rows:
        if not isinstance(figures, str) and figures["audits below 0.9"]:
            print(f"  {name}: audits below 0.9: {', '.join(figures['audits below 0.9'])}")
        for error in [] if isinstance(figures, str) else figures["console errors"]:
            print(f"  {name}: console error: {error}")


def lighthouse_shortfalls(rows: list[tuple[str, dict | str]]) -> list[str]:
    """Why the Lighthouse results miss the bar: a failed run, a score below 100, any layout shift."""
    found = []
    for name, figures in rows:
        if isinstance(figures, str):
            found.append(f"{name}: the Lighthouse run failed ({figures})")
            continue
        for _, label in CATEGORIES:
            if figures[label] is None or figures[label] < 100:
                score = "no score" if figures[label] is None else figures[label]
                found.append(f"{name}: Lighthouse {label} {score}, expected 100")
        if figures["CLS"] is None or figures["CLS"] > 0:
            shift = "not measured" if figures["CLS"] is None else f"{figures['CLS']:.4f}"
            found.append(f"{name}: cumulative layout shift {shift}, expected 0")
    return found


def print_verdict(failures: list[str]) -> int:
    """The exit status: 1 with every reason listed, or 0."""
    if failures:
        print("\nFAILED:")
        for failure in failures:
            print(f"  {failure}")
        return 1
    print("\nEvery check passed.")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.budgets",
        description="Check the 20 KB page budget and run Lighthouse on the home page, one review "
                    "and the stats page. "
                    "Exits 1 if a page is over budget, a Lighthouse score is below 100, a page "
                    "shifts while it loads, or a Lighthouse run fails.")
    parser.add_argument("--settings", default="publishconf.py",
                        help="settings file in the repository (default: %(default)s)")
    parser.add_argument("--review", default=DEFAULT_REVIEW,
                        help="slug of the review page to measure (default: %(default)s)")
    parser.add_argument("--preset", choices=("mobile", "desktop"), default="mobile",
                        help="Lighthouse form factor (default: %(default)s)")
    lighthouse = parser.add_mutually_exclusive_group()
    lighthouse.add_argument("--no-lighthouse", action="store_true", help="only the byte budgets")
    lighthouse.add_argument("--require-lighthouse", action="store_true",
                            help="exit 1 when Lighthouse is not installed (otherwise only a hint is printed)")
    parser.add_argument("--keep", action="store_true", help="keep the built site and reports")
    args = parser.parse_args(argv)
    settings = (ROOT / args.settings).resolve()
    if not settings.is_file():
        parser.error(f"--settings {args.settings}: expected a settings file in the repository "
                     f"(no {settings.name} there)")

    from blogtools.build import build_site

    workdir = Path(tempfile.mkdtemp(prefix="reelnotes-budgets-"))
    output = workdir / "output"
    server, base = serve(output)
    failures: list[str] = []
    try:
        # The site is built for the address it is served from, so absolute
        # links (production settings) resolve to this server.
        started = time.perf_counter()
        result = build_site(settings, output, overrides={
            "SITEURL": base, "FEED_DOMAIN": base,
            "FILMREVIEWS_LINKBACKS_ENDPOINT": base + "/linkbacks"})
        print(f"Built {result.articles} reviews with {settings.name} in "
              f"{time.perf_counter() - started:.1f} s into {output}")
        if result.error:
            print(f"Build FAILED: {result.error}")
            return 1
        for problem in result.problems[:10]:
            print(f"  build problem: {problem}")
        pages = [("Home page", "index.html"), ("Review page", f"reviews/{args.review}/index.html"),
                 ("Stats page", STATS_PAGE)]
        expected = {"Review page": f"a review with Slug: {args.review}",
                    "Stats page": f"FILMREVIEWS_STATS_SAVE_AS to be {STATS_PAGE!r}"}
        for name, page in pages:
            if not (output / page).is_file():
                print(f"\n{name}: {page} was not built (expected {expected.get(name, 'it')})")
                failures.append(f"{name}: {page} was not built")
                continue
            weight = page_weight(output, base, name, page)
            print_weight(weight)
            if not weight.passes:
                failures.append(f"{name}: {weight.gzip:,} B gzip of a {BUDGET_BYTES:,} B budget"
                                + (f", {len(weight.missing)} file(s) missing" if weight.missing else ""))
            if page == "index.html":
                print_posters(poster_bytes(output, base, page))

        if args.no_lighthouse:
            return print_verdict(failures)
        if not LIGHTHOUSE.exists():
            print("\n" + lighthouse_install_hint())
            if args.require_lighthouse:
                failures.append(f"Lighthouse is required (--require-lighthouse) but {LIGHTHOUSE} "
                                "does not exist")
            return print_verdict(failures)
        rows = []
        for name, page in pages:
            if not (output / page).is_file():
                continue
            url = f"{base}/{page.removesuffix('index.html')}"
            try:
                report = run_lighthouse(url, workdir / f"lighthouse-{len(rows)}.json", args.preset)
                rows.append((name, lighthouse_figures(report)))
            except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
                rows.append((name, str(exc)))
        print_lighthouse(rows, args.preset)
        return print_verdict(failures + lighthouse_shortfalls(rows))
    finally:
        server.shutdown()
        server.server_close()
        if args.keep:
            print(f"Kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

if __name__ == "__main__":
    sys.exit(main())

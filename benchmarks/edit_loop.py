"""The edit loop at scale: how soon a saved change shows in the browser under `invoke livereload`.

Owns the procedure and its figures. On a private copy of the site whose
content is a synthetic corpus (benchmarks/corpus.py), it starts the real
`invoke livereload` on a free port, connects to ws://127.0.0.1:PORT/livereload
as a browser tab does (hello, then `info` with the page the tab shows), and
times, from the moment a file is saved:

- a sentence changed in a review's text, 10 times: until the reload message
  for the tab's page, and until the page served has the new sentence (the
  fast pass); then until the whole build has settled;
- the same while the settle pass of the previous save is still running;
- a Rating changed, with the tab on the home page: until the home page's
  card shows the new rating; a Title changed: until the review's <title>
  shows it; a Movie changed: until the card on the home page shows it;
- a new review, a deleted review, a replaced poster and a template edit:
  until the tab shows the result, and until settled.

When the loop has settled, every file of output/ is compared with a clean
build of the same site into another folder (`python -m blogtools.preview`,
what `invoke build` runs) and every difference is printed; the sitemap's
lastmod of list pages is the time a build ran, so sitemap.xml is compared
without those values.

    python -m benchmarks.edit_loop --reviews 1000
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import re
import shutil
import signal
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import corpus
from blogtools.output_sync import compare_builds

ROOT = Path(__file__).resolve().parent.parent
SITE_PARTS = ("theme", "plugins", "pelicanconf.py", "publishconf.py", "tasks.py")
PROTOCOL = "http://livereload.com/protocols/official-7"
DEFAULT_EDITS = 10
START_TIMEOUT = 1800  # a first build with an empty poster cache encodes every poster
STEP_TIMEOUT = 300


# --- The site under test ----------------------------------------------------------------

def make_site(corpus_root: Path, site: Path, poster_cache: Path) -> Path:
    """A private site: the repository's theme, plugin and settings, the corpus as content/.

    Reviews are copied (they get edited); poster files are hard-linked where
    possible (a replaced poster is a new file, never written in place).
    """
    corpus_root = Path(corpus_root)
    content = corpus_root / "content" if (corpus_root / "content" / "reviews").is_dir() else corpus_root
    shutil.rmtree(site, ignore_errors=True)
    site.mkdir(parents=True)
    for part in SITE_PARTS:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, site / part, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, site / part)

    def link_or_copy(source, target):
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)

    shutil.copytree(content, site / "content", copy_function=link_or_copy)
    for review in (site / "content" / "reviews").glob("*.md"):  # edited in place by nothing, but own them
        data = review.read_bytes()
        review.unlink()
        review.write_bytes(data)
    poster_cache.mkdir(parents=True, exist_ok=True)
    (site / "cache").mkdir()
    (site / "cache" / "posters").symlink_to(poster_cache.resolve(), target_is_directory=True)
    return site


def save(path: Path, text: str | bytes) -> None:
    """Save as editors that replace the file do: a new file renamed over the old one."""
    staging = path.with_name(path.name + "~")  # a backup-like name the watcher ignores
    if isinstance(text, bytes):
        staging.write_bytes(text)
    else:
        staging.write_text(text, encoding="utf-8")
    os.replace(staging, path)


def set_field(text: str, name: str, value: str) -> str:
    header, body = text.split("\n\n", 1)
    lines = [line for line in header.splitlines() if not line.lower().startswith(name.lower() + ":")]
    lines.append(f"{name}: {value}")
    return "\n".join(lines) + "\n\n" + body


def field_value(text: str, name: str) -> str:
    for line in text.split("\n\n", 1)[0].splitlines():
        if line.lower().startswith(name.lower() + ":"):
            return line.split(":", 1)[1].strip()
    return ""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- Talking to the running preview ------------------------------------------------------

@dataclass
class Preview:
    """`invoke livereload` in a subprocess, its output lines, and one tab's websocket."""

    site: Path
    port: int
    process: asyncio.subprocess.Process | None = None
    lines: list = field(default_factory=list)  # (time, line)
    settles: list = field(default_factory=list)  # the worker's own timing of each settle pass
    socket: object = None
    reloads: asyncio.Queue = field(default_factory=asyncio.Queue)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> float:
        started = time.perf_counter()
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "invoke", "-r", str(self.site), "livereload",
            "--host", "127.0.0.1", "--port", str(self.port),
            cwd=self.site, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            start_new_session=True)
        asyncio.create_task(self._read_output())
        await self.wait_settled(-1, START_TIMEOUT)
        return time.perf_counter() - started

    async def _read_output(self) -> None:
        async for raw in self.process.stdout:
            self.lines.append((time.perf_counter(), raw.decode("utf-8", "replace").rstrip()))

    async def status(self) -> dict:
        from tornado.httpclient import AsyncHTTPClient

        try:
            response = await AsyncHTTPClient().fetch(self.base + "/livereload/status")
        except Exception:  # not listening yet
            return {"changes": -1, "idle": False}
        return json.loads(response.body)

    async def changes(self) -> int:
        return (await self.status())["changes"]

    async def wait_settled(self, seen: int, timeout: float = STEP_TIMEOUT) -> float:
        """When the server, having seen more than `seen` batches of saved files, is
        idle again (the last batch settled); polled every 20 ms."""
        deadline = time.perf_counter() + timeout
        while True:
            if self.process.returncode is not None:
                raise RuntimeError("invoke livereload stopped:\n" + self.tail())
            status = await self.status()
            now = time.perf_counter()
            if status["idle"] and status["changes"] > seen:
                return now
            if now > deadline:
                raise TimeoutError(f"not settled within {timeout} s:\n" + self.tail())
            await asyncio.sleep(0.02)

    def tail(self, count: int = 15) -> str:
        return "\n".join(line for _, line in self.lines[-count:])

    async def connect(self, url_path: str) -> None:
        from tornado.websocket import websocket_connect

        self.socket = await websocket_connect(f"ws://127.0.0.1:{self.port}/livereload")
        await self.socket.write_message(json.dumps({"command": "hello", "protocols": [PROTOCOL]}))
        hello = json.loads(await self.socket.read_message())
        if hello.get("command") != "hello":
            raise RuntimeError(f"the server answered hello with {hello!r}")
        asyncio.create_task(self._read_socket())
        await self.show(url_path)

    async def show(self, url_path: str) -> None:
        """The tab now shows this page (livereload.js says so in its `info` command)."""
        await self.socket.write_message(json.dumps({"command": "info", "url": self.base + url_path,
                                                    "plugins": {}}))
        await asyncio.sleep(0.05)
        while not self.reloads.empty():
            self.reloads.get_nowait()

    async def _read_socket(self) -> None:
        while True:
            message = await self.socket.read_message()
            if message is None:
                return
            data = json.loads(message)
            if data.get("command") == "reload":
                await self.reloads.put((time.perf_counter(), data.get("path")))

    async def get(self, url_path: str) -> tuple[int, str]:
        from tornado.httpclient import AsyncHTTPClient, HTTPClientError

        try:
            response = await AsyncHTTPClient().fetch(self.base + url_path, raise_error=True)
            return response.code, response.body.decode("utf-8", "replace")
        except HTTPClientError as exc:
            body = exc.response.body.decode("utf-8", "replace") if exc.response else ""
            return exc.code, body

    async def until_shown(self, url_path: str, check, began: float, timeout: float = STEP_TIMEOUT) -> float:
        """Seconds from `began` until a reload of the tab's page, followed by a GET, passes `check`."""
        deadline = began + timeout
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise TimeoutError(f"{url_path} did not show the change within {timeout} s:\n" + self.tail())
            try:
                _, path = await asyncio.wait_for(self.reloads.get(), remaining)
            except TimeoutError:
                continue
            if path != url_path and not path.endswith(".css"):
                continue
            code, body = await self.get(url_path)
            served = time.perf_counter()  # the page is here; how long the check takes is not the preview's
            if check(code, body):
                return served - began

    async def stop(self) -> None:
        if self.socket is not None:
            self.socket.close()
        if self.process is not None and self.process.returncode is None:
            with contextlib_suppress():
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                with contextlib_suppress():
                    os.killpg(self.process.pid, signal.SIGKILL)


def contextlib_suppress():
    import contextlib

    return contextlib.suppress(ProcessLookupError, PermissionError)


# --- The figures ---------------------------------------------------------------------------

def summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": len(values),
            "values": values}


def _newest_reviews(content: Path, count: int) -> list[Path]:
    """The reviews on the home page: the newest ones (date order; none is a rewatch)."""
    dated = []
    for path in (content / "reviews").glob("*.md"):
        text = path.read_text(encoding="utf-8")
        dated.append((field_value(text, "Date"), path.name, path))
    dated.sort(reverse=True)
    return [path for _, _, path in dated[:count]]


def _url(path: Path) -> str:
    return f"/reviews/{field_value(path.read_text(encoding='utf-8'), 'Slug')}/"


def _card_of(body: str, url_path: str):
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(body, "html.parser")
    for card in soup.select("article.poster-card"):
        link = card.select_one(".poster-card-title a")
        if link is not None and link.get("href", "").rstrip("/").endswith(url_path.rstrip("/")):
            return card
    return None


async def text_edits(preview: Preview, reviews: list[Path], during_settle: bool) -> tuple[list, list]:
    """Change one sentence per review; (seconds until shown, seconds until settled) per edit.

    `during_settle`: the next edit is saved as soon as the last one shows,
    while the settle pass of the last one runs."""
    shown, settled = [], []
    for number, path in enumerate(reviews):
        url = _url(path)
        await preview.show(url)
        marker = f"Edit-loop marker {number} {time.time_ns()}"
        text = path.read_text(encoding="utf-8")
        header, body = text.split("\n\n", 1)
        seen = await preview.changes()
        began = time.perf_counter()
        save(path, f"{header}\n\n{marker}. {body}")
        shown.append(await preview.until_shown(url, lambda code, page, m=marker: code == 200 and m in page, began))
        if not during_settle:
            settled.append(await preview.wait_settled(seen) - began)
            preview.settles.append((await preview.status()).get("last_settle", {}))
    if during_settle:
        await preview.wait_settled(seen)
    return shown, settled


async def field_change(preview: Preview, path: Path, tab: str, name: str, value: str, check) -> tuple[float, float]:
    await preview.show(tab)
    seen = await preview.changes()
    began = time.perf_counter()
    save(path, set_field(path.read_text(encoding="utf-8"), name, value))
    shown = await preview.until_shown(tab, check, began)
    return shown, await preview.wait_settled(seen) - began


def _replaced_poster(poster: Path) -> bytes:
    from PIL import Image, ImageOps

    with Image.open(poster) as image:
        changed = ImageOps.invert(image.convert("RGB"))
    buffer = io.BytesIO()
    changed.save(buffer, "JPEG", quality=82)
    return buffer.getvalue()


async def run_measure(corpus_root: Path, reviews: int, work: Path, poster_cache: Path, edits: int) -> dict:
    site = make_site(corpus_root, work / "site", poster_cache)
    content = site / "content"
    preview = Preview(site, free_port())
    figures: dict = {"reviews": reviews, "load_at_start": os.getloadavg()}
    try:
        figures["first_build"] = await preview.start()
        newest = _newest_reviews(content, 8)  # on the home page; used for the field changes
        others = [p for p in sorted((content / "reviews").glob("*.md")) if p not in newest]
        wanted = edits + min(5, edits)
        spread = [others[(i * len(others)) // wanted] for i in range(wanted)]
        await preview.connect(_url(spread[0]))

        shown, settled = await text_edits(preview, spread[:edits], during_settle=False)
        figures["text_edit_shown"], figures["text_edit_settled"] = summary(shown), summary(settled)
        for part in ("build_seconds", "sync_seconds"):
            values = [timing[part] for timing in preview.settles if part in timing]
            if values:
                figures[f"settle_{part}"] = summary(values)
        quick, _ = await text_edits(preview, spread[edits: edits + min(5, edits)], during_settle=True)
        figures["text_edit_during_settle_shown"] = summary(quick)

        home = "/"
        target = newest[1]
        url = _url(target)
        old = field_value(target.read_text(encoding="utf-8"), "Rating")
        rating = "1.5" if old != "1.5" else "4.5"

        def rated(code, body, url=url, rating=rating):
            card = _card_of(body, url)
            return card is not None and f"Rated {rating} out of 5" in card.get_text(" ")

        figures["rating_change"] = await field_change(preview, target, home, "Rating", rating, rated)
        title = f"A retitled review {time.time_ns()}"
        figures["title_change"] = await field_change(
            preview, target, url, "Title", title, lambda code, body, t=title: f"<title>{t}" in body)
        movie = f"Renamed Film {time.time_ns() % 100000}"

        def renamed(code, body, url=url, movie=movie):
            card = _card_of(body, url)
            return card is not None and movie in card.get_text(" ")

        figures["movie_change"] = await field_change(preview, target, home, "Movie", movie, renamed)

        # A new review, newest of all, with the tab waiting on its URL (404 until it exists).
        model = newest[2].read_text(encoding="utf-8")
        slug = f"edit-loop-new-review-{time.time_ns() % 100000}"
        text = set_field(set_field(model, "Slug", slug), "Date", "2025-07-01 20:00")
        new_url = f"/reviews/{slug}/"
        await preview.show(new_url)
        seen = await preview.changes()
        began = time.perf_counter()
        save(content / "reviews" / f"{slug}.md", text)
        shown = await preview.until_shown(new_url, lambda code, body: code == 200, began)
        figures["new_review"] = (shown, await preview.wait_settled(seen) - began)

        # A deleted review: its page goes (404) and its card leaves the home page.
        gone = newest[3]
        gone_url = _url(gone)
        await preview.show(gone_url)
        seen = await preview.changes()
        began = time.perf_counter()
        gone.unlink()
        shown = await preview.until_shown(gone_url, lambda code, body: code == 404, began)
        settled_at = await preview.wait_settled(seen) - began
        code, body = await preview.get(home)
        figures["deleted_review"] = (shown, settled_at)
        figures["deleted_card_gone"] = _card_of(body, gone_url) is None

        # A replaced poster: the review page points at new derivatives.
        replaced = newest[4]
        replaced_url = _url(replaced)
        poster = content / field_value(replaced.read_text(encoding="utf-8"), "Poster")
        await preview.show(replaced_url)
        _, before = await preview.get(replaced_url)
        seen = await preview.changes()
        began = time.perf_counter()
        save(poster, _replaced_poster(poster))
        derived = re.compile(r'srcset="([^"]+)"')
        shown = await preview.until_shown(
            replaced_url, lambda code, body: derived.findall(body) != derived.findall(before), began)
        figures["replaced_poster"] = (shown, await preview.wait_settled(seen) - began)

        # A template edit, with the tab on the home page.
        footer = site / "theme" / "templates" / "partials" / "footer.html"
        marker = f"Edit-loop footer {time.time_ns()}"
        await preview.show(home)
        seen = await preview.changes()
        began = time.perf_counter()
        save(footer, footer.read_text(encoding="utf-8").replace("</footer>", f"<p>{marker}</p></footer>", 1))
        shown = await preview.until_shown(home, lambda code, body: marker in body, began)
        figures["template_edit"] = (shown, await preview.wait_settled(seen) - began)

        # Settled: output/ against clean builds of the same site (two: to tell
        # files no build writes the same way twice).
        await asyncio.sleep(1.0)
        cleans = []
        for name in ("clean-output", "clean-output-again"):
            clean = work / name
            shutil.rmtree(clean, ignore_errors=True)
            began = time.perf_counter()
            build = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "blogtools.preview", "--root", str(site), "--settings", "pelicanconf.py",
                "--output", str(clean), cwd=site, stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL)
            await build.wait()
            cleans.append(time.perf_counter() - began)
        figures["clean_build"] = cleans[0]
        figures["differing"], figures["explained"] = compare_builds(site / "output", work / "clean-output",
                                                                     work / "clean-output-again")
        figures["files_compared"] = sum(1 for p in (work / "clean-output").rglob("*") if p.is_file())
    finally:
        await preview.stop()
        if os.environ.get("EDIT_LOOP_VERBOSE"):
            first = preview.lines[0][0] if preview.lines else 0
            for at, line in preview.lines:
                print(f"{at - first:9.3f}  {line}")
    figures["load_at_end"] = os.getloadavg()
    return figures


def measure(corpus_root, reviews: int, poster_cache=None, edits: int = DEFAULT_EDITS) -> dict:
    """Run the edit-loop benchmark on a corpus folder (made by benchmarks/corpus.py); the figures.

    `poster_cache` defaults to a poster-cache folder beside the corpus, shared
    with benchmarks/bench.py (the cache is keyed by content, so sharing is safe).
    """
    corpus_root = Path(corpus_root).resolve()
    poster_cache = Path(poster_cache) if poster_cache else corpus_root.parent / "poster-cache"
    with tempfile.TemporaryDirectory(prefix="reelnotes-edit-loop-") as work:
        return asyncio.run(run_measure(corpus_root, reviews, Path(work), poster_cache, edits))


def _seconds(pair) -> str:
    shown, settled = pair
    return f"shown {shown:6.2f} s   settled {settled:6.2f} s"


def print_figures(figures: dict) -> None:
    load = " ".join(f"{x:.2f}" for x in figures["load_at_start"])
    print(f"\nEdit loop, {figures['reviews']} reviews, invoke livereload (load average {load} at start)")
    print(f"  first build (output/ empty)            {figures['first_build']:6.2f} s  (until settled, with "
          "the poster cache of earlier runs)")
    for key, label in (("text_edit_shown", "text edit: save -> tab shows it"),
                       ("text_edit_settled", "text edit: save -> settled"),
                       ("settle_build_seconds", "  of which the whole build"),
                       ("settle_sync_seconds", "  of which the sync into output/"),
                       ("text_edit_during_settle_shown", "text edit during a settle: shown")):
        if key not in figures:
            continue
        f = figures[key]
        print(f"  {label:<39}median {f['median']:6.3f} s  min {f['min']:6.3f}  max {f['max']:6.3f}  "
              f"({f['runs']} edits)")
    for key, label in (("rating_change", "Rating (home page card)"), ("title_change", "Title (review <title>)"),
                       ("movie_change", "Movie (home page card)"), ("new_review", "new review (its page)"),
                       ("deleted_review", "deleted review (404)"), ("replaced_poster", "replaced poster"),
                       ("template_edit", "template edit (open page)")):
        print(f"  {label:<39}{_seconds(figures[key])}")
    print(f"  deleted review's card gone from home   {'yes' if figures['deleted_card_gone'] else 'NO'}")
    print(f"  clean build for the comparison         {figures['clean_build']:6.2f} s")
    print(f"\noutput/ after settling against a clean build: {figures['files_compared']} files compared")
    for line in figures["explained"]:
        print(f"  same but explained: {line}")
    if figures["differing"]:
        for line in figures["differing"]:
            print(f"  DIFFERS: {line}")
    else:
        print("  no other file differs")
    load = " ".join(f"{x:.2f}" for x in figures["load_at_end"])
    print(f"load average {load} at the end")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.edit_loop", description=__doc__.split("\n")[0])
    parser.add_argument("--reviews", type=int, default=corpus.DEFAULT_REVIEWS)
    parser.add_argument("--edits", type=int, default=DEFAULT_EDITS, help="text edits to time (default %(default)s)")
    parser.add_argument("--workdir", help="keep the corpus and the poster cache here between runs")
    parser.add_argument("--seed", default=corpus.DEFAULT_SEED)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    if args.reviews < 24:
        parser.error(f"--reviews {args.reviews}: expected at least 24 (the home page and the edits need them)")
    if args.edits < 1:
        parser.error(f"--edits {args.edits}: expected at least 1")
    from benchmarks.bench import prepare_corpus

    workdir = Path(args.workdir).resolve() if args.workdir else Path(tempfile.mkdtemp(prefix="reelnotes-edit-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        content, made_in, reused = prepare_corpus(workdir, args.reviews, args.seed)
        made = "(reused)" if reused else f"(made in {made_in:.0f} s)"
        print(f"Corpus: {args.reviews} reviews in {content} {made}")
        figures = measure(content, args.reviews, poster_cache=workdir / "poster-cache", edits=args.edits)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    print_figures(figures)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1), encoding="utf-8")
    ok = not figures["differing"] and figures["deleted_card_gone"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

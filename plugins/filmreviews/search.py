"""Site search: the Pagefind index, built while the pages are written.

Owns the search bundle in `<output>/pagefind/`, where the search page
(theme/templates/search.html with theme/static/js/site.js) looks for it. Only
review pages are indexed: the theme marks the review's <article> with
`data-pagefind-body`, and a page without it is never sent to Pagefind, so
lists, archives and browse pages stay out of the results.

Pagefind runs beside the build instead of after it: its indexing service (the
`pagefind --service` process of the pagefind package) is started before the
first page is written, and every page is handed to it the moment Pelican has
written it, so the index grows on the other core while Pelican renders. The
bundle is written as soon as the review pages are (article_writer_finalized)
and again at the end only if a marked page came later.

The bundle is kept in `CACHE_PATH/search/`, named by a hash of Pagefind's
version and every indexed page (address and bytes): a build whose review
pages are all unchanged reuses it instead of writing a new one, so its files
(which Pagefind does not write the same way twice) stay as they were. The
bundle is placed in the output with unchanged files left alone.

Settings (optional): FILMREVIEWS_SEARCH = False skips indexing (the search
page then says search is unavailable and points to the browse pages).
A failure is reported as a Search `Problem`, which makes the build a broken one.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from reelnotes.files import atomic_write, sync_folder
from reelnotes.settings import setting

from . import output, progress
from .problems import Problem, report, report_settings

logger = logging.getLogger(__name__)

BUNDLE_DIR = "pagefind"  # the search page loads <site root>/pagefind/pagefind.js
MARKER = "data-pagefind-body"  # what the theme puts on a review's <article>
TIMEOUT_SECONDS = 300
KEPT_BUNDLES = 4  # bundles kept in the cache: preview, production, and the one before each


class SearchError(Exception):
    """Pagefind failed; the message says how."""


class PagefindService:
    """One `pagefind --service` process, spoken to without waiting.

    Requests go out through a sender thread, so handing over a page never
    blocks the build, and answers are collected by a reader thread. The
    protocol is Pagefind's own: base64-encoded JSON messages, each followed
    by a comma, answered with the same message_id.
    """

    def __init__(self, executable: Path):
        # Its error output goes to a file: a pipe nobody reads could fill and stall it.
        self.errors = tempfile.TemporaryFile()
        self.process = subprocess.Popen([str(executable), "--service"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self.errors)
        self.answers: dict[int, dict] = {}
        self.answered = threading.Condition()
        self.outbox: queue.Queue = queue.Queue()
        self.last_id = 0
        self.broken: str | None = None
        self.threads = [threading.Thread(target=self._send, daemon=True, name="pagefind-send"),
                        threading.Thread(target=self._read, daemon=True, name="pagefind-read")]
        for thread in self.threads:
            thread.start()

    def request(self, payload: dict) -> int:
        """Queue a request; its message id, to wait for the answer with."""
        self.last_id += 1
        self.outbox.put((self.last_id, payload))
        return self.last_id

    def answer(self, message_id: int, deadline: float) -> dict:
        with self.answered:
            while message_id not in self.answers:
                if self.broken:
                    raise SearchError(self.broken)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise SearchError(f"no answer within {TIMEOUT_SECONDS} seconds")
                self.answered.wait(min(remaining, 1.0))
            answer = self.answers[message_id]
        if answer.get("type") == "Error":
            raise SearchError(answer.get("message") or "an error without a message")
        return answer

    def close(self) -> None:
        """Every answer is in: stop the process."""
        self.outbox.put(None)
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def kill(self) -> None:
        self.outbox.put(None)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def _fail(self, why: str) -> None:
        with self.answered:
            self.broken = self.broken or why
            self.answered.notify_all()

    def _send(self) -> None:
        try:
            while (item := self.outbox.get()) is not None:
                message_id, payload = item
                message = json.dumps({"message_id": message_id, "payload": payload})
                self.process.stdin.write(base64.b64encode(message.encode("utf-8")) + b",")
                self.process.stdin.flush()
            self.process.stdin.close()
        except Exception as exc:  # a dead process or a page that cannot be read
            if isinstance(exc, OSError) and self._stopped():
                return  # Pagefind is gone: the reader says how it ended, which says more
            self._fail(f"could not hand a request to Pagefind ({exc})")

    def _stopped(self) -> bool:
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            return False
        return True

    def _read(self) -> None:
        pending = b""
        while chunk := self.process.stdout.read1(1 << 16):
            pending += chunk
            *messages, pending = pending.split(b",")
            for message in messages:
                try:
                    answer = json.loads(base64.b64decode(message))
                except ValueError:
                    continue  # not a message: Pagefind never writes anything else here
                with self.answered:
                    self.answers[answer.get("message_id")] = answer.get("payload") or {}
                    self.answered.notify_all()
        # Harmless after the last answer; otherwise whoever waits learns why.
        self.process.wait()
        self.errors.seek(0)
        said = self.errors.read().decode("utf-8", "replace").strip().splitlines()
        self._fail(f"Pagefind stopped with exit status {self.process.returncode}"
                   + (f": {said[-1]}" if said else ""))


def _page_url(relative: str) -> str:
    """The address Pagefind gives a file under the site root (path relative to it): folders for index.html."""
    if relative == "index.html":
        return "/"
    if relative.endswith("/index.html"):
        return "/" + relative.removesuffix("index.html")
    return "/" + relative


class SearchIndex:
    """One build's index: pages go in as they are written, the bundle comes out at the end.

    A worker thread reads each written page, keeps the ones with the marker
    and hashes them. While every page so far is one a cached bundle already
    holds, byte for byte, Pagefind is not even started: a build of unchanged
    reviews reuses that bundle. At the first page no cached bundle holds,
    Pagefind starts, is handed the pages seen so far, and then each page as
    it comes.
    """

    def __init__(self, output: Path, cache: Path, executable: Path):
        self.output = output
        self.output_prefix = str(output) + "/"
        self.cache = cache
        self.executable = executable
        self.version = importlib.metadata.version("pagefind")
        self.deadline = time.monotonic() + TIMEOUT_SECONDS
        self.service: PagefindService | None = None
        self.index_id: int | None = None
        self.pages: dict[str, str] = {}  # url -> sha256 of the marked page (worker thread)
        self.paths: dict[str, str] = {}  # url -> the file, to hand over when Pagefind starts late
        self.page_requests: list[int] = []
        self.seen: set[str] = set()
        self.rewritten = False  # a page was written twice: index the final files instead
        self.written: dict[str, int | None] = {}  # bundle key -> WriteFiles message id (None: cached)
        self.candidates = _cached_page_lists(cache, self.version)  # bundles that could still be reused
        self.failure: str | None = None
        self.work: queue.Queue = queue.Queue()
        self.worker = threading.Thread(target=self._work, daemon=True, name="search-pages")
        self.worker.start()

    # --- Main thread ---------------------------------------------------------------------

    def add(self, path) -> None:
        """Hand a written page over (read, checked and sent in the worker thread)."""
        # Plain strings: this runs for every file the build writes.
        path = str(path)
        if not path.endswith(".html") or not path.startswith(self.output_prefix):
            return
        relative = path[len(self.output_prefix):]
        if relative.startswith(BUNDLE_DIR + "/"):
            return
        url = _page_url(relative)
        if url in self.seen:
            self.rewritten = True
            return
        self.seen.add(url)
        self.work.put(("page", path, url))

    def write_bundle(self) -> None:
        """The pages so far are likely all there will be: start writing their bundle now."""
        self.work.put(("write",))

    def finish(self) -> int:
        """Wait for Pagefind, place the bundle in the output; the number of pages indexed."""
        self.work.put(None)
        self.worker.join()
        try:
            if self.failure:
                raise SearchError(self.failure)
            if self.rewritten:
                self.kill()
                return _index_files(self.output, self.cache)
            key = self._write()  # the final pages: written early, cached, or written now
            message_id = self.written[key]
            if message_id is not None:
                for earlier in self.page_requests:
                    self.service.answer(earlier, self.deadline)
                self.service.answer(message_id, self.deadline)
                for other, other_id in self.written.items():
                    if other != key and other_id is not None:  # superseded by later pages
                        shutil.rmtree(self._staging(other), ignore_errors=True)
                staging = self._staging(key)
                if (self.cache / key).exists():  # another build made the same bundle meanwhile
                    shutil.rmtree(staging, ignore_errors=True)
                else:
                    staging.rename(self.cache / key)
                atomic_write(self.cache / f"{key}.pages.json", json.dumps(self.pages, sort_keys=True))
        finally:
            if self.service is not None:
                self.service.close()
        bundle = self.cache / key
        os.utime(bundle)  # the most recently used bundle is kept the longest
        sync_folder(bundle, self.output / BUNDLE_DIR)
        _forget_old_bundles(self.cache, keep=key)
        return len(self.pages)

    def kill(self) -> None:
        if self.service is not None:
            self.service.kill()

    # --- Worker thread ---------------------------------------------------------------------

    def _work(self) -> None:
        try:
            while (item := self.work.get()) is not None:
                if item[0] == "page":
                    self._page(*item[1:])
                elif not self.rewritten:
                    self._write()
        except Exception as exc:  # a page that cannot be read, Pagefind gone
            self.failure = self.failure or (str(exc) if isinstance(exc, SearchError)
                                            else f"could not hand a page to Pagefind ({exc})")
            while self.work.get() is not None:  # let the build go on; finish reports it
                pass

    def _page(self, path: str, url: str) -> None:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
        if MARKER not in text:
            return
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
        self.pages[url], self.paths[url] = digest, path
        if self.service is None:
            self.candidates = [pages for pages in self.candidates if pages.get(url) == digest]
            if self.candidates:
                return  # a cached bundle holds this very page
            self._start()  # hands over every page so far, this one included
        else:
            self._send(url, text)

    def _start(self) -> None:
        self.service = PagefindService(self.executable)
        self.index_id = self.service.answer(self.service.request({"type": "NewIndex", "config": None}),
                                            self.deadline)["index_id"]
        for url, path in self.paths.items():
            with open(path, encoding="utf-8", errors="replace") as handle:
                self._send(url, handle.read())

    def _send(self, url: str, text: str) -> None:
        self.page_requests.append(self.service.request({
            "type": "AddFile", "index_id": self.index_id, "url": url, "file_contents": text, "file_path": None}))

    def _write(self) -> str:
        """Make sure the bundle of the pages so far is cached or being written; its key."""
        key = self._bundle_key()
        if key in self.written:
            return key
        if (self.cache / key / "pagefind.js").is_file():
            self.written[key] = None
            return key
        if self.service is None:
            self._start()  # no cached bundle holds exactly these pages (one was removed)
        shutil.rmtree(self._staging(key), ignore_errors=True)
        self.written[key] = self.service.request({"type": "WriteFiles", "index_id": self.index_id,
                                                  "output_path": str(self._staging(key))})
        return key

    def _bundle_key(self) -> str:
        digest = hashlib.sha256(f"pagefind {self.version}\n".encode())
        for url in sorted(self.pages):
            digest.update(f"{url}\0{self.pages[url]}\n".encode())
        return digest.hexdigest()[:32]

    def _staging(self, key: str) -> Path:
        return self.cache / f"{key}.tmp-{os.getpid()}"


def _cached_page_lists(cache: Path, version: str) -> list[dict]:
    """The pages of each cached bundle, as {url: sha256}."""
    found = []
    for listing in cache.glob("*.pages.json"):
        if (cache / listing.name.removesuffix(".pages.json") / "pagefind.js").is_file():
            try:
                found.append(json.loads(listing.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                continue
    return found


def _index_files(output: Path, cache: Path) -> int:
    """Index the pages as they are in the output folder now."""
    index = SearchIndex(output, cache, get_executable())
    for path in sorted(output.rglob("*.html")):
        index.add(str(path))
    return index.finish()


def _forget_old_bundles(cache: Path, keep: str) -> None:
    """Keep the KEPT_BUNDLES most recently used bundles; drop what a stopped build left half-written."""
    now = time.time()
    bundles = []
    for path in cache.iterdir():
        if not path.is_dir() or path.name == keep:
            continue
        if ".tmp-" in path.name:
            if now - path.stat().st_mtime > 3600:
                shutil.rmtree(path, ignore_errors=True)
            continue
        bundles.append(path)
    bundles.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    for old in bundles[KEPT_BUNDLES - 1:]:
        shutil.rmtree(old, ignore_errors=True)


def get_executable() -> Path | None:
    from pagefind.service import get_executable as find

    return find()


# --- The build's index, driven by Pelican's signals --------------------------------------

_current: SearchIndex | None = None


def _problem(where: str, what: str, expected: str) -> None:
    report(Problem(where, "search index", what, expected, kind="Search"))


def _taken(bundle: Path) -> bool:
    """Whether something else is saved where the bundle goes (reported)."""
    if bundle.exists() and not bundle.is_dir():
        _problem(str(bundle), "a file", f"that name free for the search bundle "
                 f"(is some content or static file saved as {BUNDLE_DIR!r}?)")
        return True
    return False


def start_index(generators) -> None:
    """all_generators_finalized: start Pagefind before the first page is written."""
    global _current
    abandon()
    if not generators:
        return
    settings = generators[0].settings
    if not setting(settings, "FILMREVIEWS_SEARCH", problems := []):
        report_settings(problems, "Search setting")
        logger.info("Search index skipped: FILMREVIEWS_SEARCH is False, so the search page "
                    "will only offer the browse pages")
        return
    # As Pelican names the files it writes (absolute, symbolic links kept).
    output = Path(os.path.abspath(generators[0].output_path))
    if importlib.util.find_spec("pagefind") is None or (executable := get_executable()) is None:
        _problem("pagefind", "not installed", "the pagefind package in this Python environment "
                 "(pyproject.toml: pagefind[bin]), or FILMREVIEWS_SEARCH = False to build without search")
        return
    if _taken(output / BUNDLE_DIR):
        return
    cache = Path(settings["CACHE_PATH"]).resolve() / "search"
    try:
        cache.mkdir(parents=True, exist_ok=True)
        _current = SearchIndex(output, cache, executable)
    except OSError as exc:
        _problem("pagefind", f"could not start ({exc.strerror or exc})", f"{executable} --service to run")


def page_written(path, context=None) -> None:
    """content_written: hand the page to Pagefind (once it is on disk)."""
    if _current is not None and not output.rendered_elsewhere(path):
        _current.add(path)


def pages_written_elsewhere(sender, paths) -> None:
    """output.written_elsewhere: the list pages, now on disk."""
    if _current is not None:
        for path in paths:
            _current.add(path)


def review_pages_written(generator, writer) -> None:
    """article_writer_finalized: every review page is out; write the bundle while the rest is built."""
    if _current is not None:
        _current.write_bundle()


def finish_index(pelican) -> None:
    """finalized: wait for Pagefind and place the bundle in the output."""
    global _current
    index, _current = _current, None
    if index is None:
        return
    bundle = index.output / BUNDLE_DIR
    if _taken(bundle):  # a static file may have been copied there since the start
        index.kill()
        return
    try:
        pages = index.finish()
    except SearchError as exc:
        index.kill()
        _problem("pagefind", str(exc), f"a search index in {bundle}")
        return
    except OSError as exc:
        index.kill()
        _problem(str(bundle), f"could not be written ({exc.strerror or exc})", "a search index there")
        return
    logger.info("Search index: %d review pages indexed into %s", pages, bundle)
    progress.phase(f"Search index: {pages:,} review pages")


def abandon(*args, **kwargs) -> None:
    """Stop a build's Pagefind process that will not be finished (the build failed)."""
    global _current
    index, _current = _current, None
    if index is not None:
        index.kill()

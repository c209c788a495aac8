"""The content cache: what reading a source gave last time, reused when nothing it depends on changed.

Reading a review is most of a build that has nothing to encode: Markdown, then
typogrify on the body, title and summary. This cache keeps both results
between builds, in `CACHE_PATH/content/<fingerprint>.pickle`:

* a reader's result (the HTML and the metadata) under the source's path and
  the SHA-256 of its bytes, with the warnings and problems the read reported,
  which are reported again whenever the entry is used, so `invoke check`
  finds the same problems in a cached build as in a fresh one;
* typogrify's result under a hash of its input and its options.

The fingerprint names everything else the results depend on: every setting
(except where the output and the caches go), the code of every plugin under
PLUGIN_PATHS, the installed versions of Pelican, Markdown, typogrify,
smartypants, Pillow, Jinja, Python, each Markdown extension and each plugin
named in PLUGINS. Change any of them and the build starts from an empty cache
file; a cache file is replaced in one step, holds only what the last build
used, and the few most recent fingerprints are kept (preview, production).

Pelican's own content cache stays off (LOAD_CONTENT_CACHE = False): it knows a
file only by its modification time and is never told about settings, plugin
code or library versions.

Setting (optional): FILMREVIEWS_CONTENT_CACHE = False reads everything afresh.
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import os
import pickle
import shutil
import signal as signal_module
import tempfile
from pathlib import Path

from reelnotes.files import atomic_write
from reelnotes.settings import setting

from . import fingerprint, problems
from .problems import report_settings

logger = logging.getLogger(__name__)

CACHE_FORMAT = 1  # bump when an entry's layout changes
KEPT_FINGERPRINTS = 4
# Where things go, not what they are: left out of the fingerprint, so
# `invoke check` (a temporary output folder) shares the cache with `invoke build`.
LOCATION_SETTINGS = {"OUTPUT_PATH", "CACHE_PATH", "FILMREVIEWS_POSTER_CACHE"}
LIBRARIES = ("pelican", "markdown", "typogrify", "smartypants", "pillow", "jinja2", "docutils", "pygments")
PLUGIN_ROOT = Path(__file__).resolve().parent


def settings_fingerprint(settings) -> str:
    """A hash of everything besides a source's own bytes that reading it depends on."""
    wanted = {name: value for name, value in settings.items() if name not in LOCATION_SETTINGS}
    markdown = settings.get("MARKDOWN") or {}
    extensions = list((markdown.get("extension_configs") or {}).keys()) + list(markdown.get("extensions") or [])
    plugins = [name if "." in str(name) else f"pelican.plugins.{name}" for name in settings.get("PLUGINS") or ()]
    code_folders = [Path(folder) for folder in settings.get("PLUGIN_PATHS") or ()] + [PLUGIN_ROOT]
    reelnotes = Path(fingerprint.__file__).resolve().parent.parent.parent / "reelnotes"
    return fingerprint.digest(
        CACHE_FORMAT, wanted,
        fingerprint.files_digest(code_folders + [reelnotes]),
        fingerprint.versions(*LIBRARIES, *fingerprint.distributions_of(extensions + plugins)),
    )


class _Replay(logging.Handler):
    """Catches what a read logs, to be logged again whenever its cached result is used."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.records: list[tuple[str, int, str]] = []

    def emit(self, record):
        if record.name != problems.logger.name:  # problems are reported again as problems
            self.records.append((record.name, record.levelno, record.getMessage()))


class ContentCache:
    """One build's view of one cache file."""

    def __init__(self, folder: Path, fingerprint_hex: str, settings):
        self.file = folder / f"{fingerprint_hex[:32]}.pickle"
        self.settings = settings
        self.entries: dict | None = None  # loaded at the first read
        self.stored: frozenset = frozenset()  # the keys the file held
        self.used: dict = {}
        self.hits = self.misses = 0
        self.helper: _ReadAhead | None = None  # a second process reading sources ahead

    def _load(self) -> dict:
        if self.entries is None:
            self.entries = {}
            try:
                with open(self.file, "rb") as handle:
                    unpickler = pickle.Unpickler(handle)
                    unpickler.persistent_load = self._load_persistent
                    self.entries = unpickler.load()
                    self.stored = frozenset(self.entries)
            except FileNotFoundError:
                pass
            except Exception as exc:  # a damaged or foreign file: start again, say so quietly
                logger.info("Content cache %s could not be read (%s): reading every source", self.file, exc)
        return self.entries

    # Metadata (tags, authors, the category) points at the settings dict; it is
    # stored as a reference and comes back as this build's settings.
    def _persistent_id(self, value):
        return "settings" if value is self.settings else None

    def _load_persistent(self, name):
        if name != "settings":
            raise pickle.UnpicklingError(f"unknown reference {name!r}")
        return self.settings

    def read(self, source_path: str, read_source):
        """`read_source()`'s result for this file, from the cache when its bytes are unchanged."""
        path = Path(source_path)
        try:
            data = path.read_bytes()
        except OSError:
            return read_source()  # the reader reports it as it always does
        key = _read_key(path, data)
        entry = self._load().get(key)
        if entry is None and self.helper is not None and key in self.helper.keys:
            entry = self.helper.wait_for(key, self)
            if entry is not None:
                self.hits -= 1  # read in this build, by the other process
                self.misses += 1
        if entry is not None:
            self.hits += 1
            result, records, reported = entry
            for name, level, message in records:
                logging.getLogger(name).log(level, "%s", message)
            for problem in reported:
                problems.report(problem)
        else:
            self.misses += 1
            catcher = _Replay()
            logging.getLogger().addHandler(catcher)
            try:
                with problems.collecting() as reported:
                    result = read_source()  # an error is raised, never cached
            finally:
                logging.getLogger().removeHandler(catcher)
            entry = (result, catcher.records, list(reported))
        self.used[key] = entry
        return entry[0]

    def typogrify(self, typogrify, text, *args, **kwargs):
        import smartypants

        # Pelican sets smartypants' default attributes (TYPOGRIFY_DASHES) just before.
        key = ("typogrify", hashlib.sha256(repr((text, args, sorted(kwargs.items()),
                                                 int(smartypants.Attr.default))).encode("utf-8")).hexdigest())
        result = self._load().get(key)
        if result is None:
            result = typogrify(text, *args, **kwargs)
        self.used[key] = result
        return result

    def dump_bytes(self, value) -> bytes:
        buffer = io.BytesIO()
        pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
        pickler.persistent_id = self._persistent_id
        pickler.dump(value)
        return buffer.getvalue()

    def load_bytes(self, data: bytes):
        unpickler = pickle.Unpickler(io.BytesIO(data))
        unpickler.persistent_load = self._load_persistent
        return unpickler.load()

    def save(self) -> None:
        """Keep what this build used, and nothing else, in one step."""
        if self.helper is not None:
            self.helper.close(self)
            self.helper = None
        if not self.used or self.used.keys() == self.stored:
            return  # nothing new: the file already holds exactly this
        buffer = io.BytesIO()
        pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
        pickler.persistent_id = self._persistent_id
        try:
            pickler.dump(self.used)
        except Exception as exc:  # metadata a plugin added that cannot be stored
            logger.info("Content cache not saved: %s", exc)
            return
        atomic_write(self.file, buffer.getvalue())
        _forget_old_files(self.file.parent, keep=self.file)


def _read_key(path: Path, data: bytes) -> tuple:
    return ("read", str(path.resolve()), hashlib.sha256(data).hexdigest())


class _ReadAhead:
    """A second process that reads the later half of the reviews the cache lacks.

    Pelican reads sources one after the other. When many are missing from the
    cache (a first build, a changed setting), a forked process reads the
    second half of them, in the order Pelican will ask for them, while the
    build reads the first half: Markdown and typogrify on two cores. Each
    result comes back as a cache entry (with the warnings and problems the
    read reported) and typogrify's results for its body, title and summary,
    exactly as a cache hit would give them; a source it could not read is
    read by the build as usual.
    """

    def __init__(self, pid: int, pipe: int, keys: set, folder: Path):
        self.pid, self.pipe, self.keys, self.folder = pid, pipe, keys, folder
        self.buffer = bytearray()
        self.done = False

    def wait_for(self, key, cache: ContentCache):
        while key not in cache.entries and not self.done:
            self._receive(cache)
        return cache.entries.get(key)

    def _receive(self, cache: ContentCache) -> None:
        """The next finished file of entries: its name comes through the pipe (a
        pipe holds only so much, and the reader must never wait for the build)."""
        while b"\n" not in self.buffer:
            chunk = os.read(self.pipe, 1 << 16)
            if not chunk:
                self.done = True
                return
            self.buffer += chunk
        name, _, rest = bytes(self.buffer).partition(b"\n")
        self.buffer = bytearray(rest)
        path = self.folder / name.decode()
        for key, value in cache.load_bytes(path.read_bytes()):
            cache.entries.setdefault(key, value)
        path.unlink()

    def close(self, cache: ContentCache | None) -> None:
        """Take whatever is left, and let the process go."""
        try:
            while cache is not None and not self.done:
                self._receive(cache)
        finally:
            os.close(self.pipe)
            try:
                if cache is None:
                    os.kill(self.pid, signal_module.SIGKILL)
                os.waitpid(self.pid, 0)
            except OSError:
                pass
            shutil.rmtree(self.folder, ignore_errors=True)


_read_ahead_enabled = False


def read_ahead_in_another_process(enabled: bool) -> None:
    """Whether builds may read sources in a second process (blogtools.build turns it on)."""
    global _read_ahead_enabled
    _read_ahead_enabled = enabled and (os.cpu_count() or 1) > 1 and hasattr(os, "fork")


READ_AHEAD_FROM = 40  # fewer missing sources are not worth a process


def read_ahead(generator) -> None:
    """article_generator_init: if many reviews are missing from the cache, read half in another process."""
    cache = _current
    if cache is None or not _read_ahead_enabled or cache.helper is not None:
        return
    settings = generator.settings
    # The very set Pelican iterates a moment later, so the order is the one it reads in.
    files = list(generator.get_files(settings["ARTICLE_PATHS"], exclude=settings["ARTICLE_EXCLUDES"]))
    entries = cache._load()
    missing = []
    for relative in files:
        path = Path(generator.path) / relative
        try:
            key = _read_key(path, path.read_bytes())
        except OSError:
            continue
        if key not in entries:
            missing.append((path, key))
    if len(missing) < READ_AHEAD_FROM:
        return
    later = missing[len(missing) // 2:]
    folder = Path(tempfile.mkdtemp(prefix="reelnotes-read-ahead-"))
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid:
        os.close(write_end)
        cache.helper = _ReadAhead(pid, read_end, {key for _, key in later}, folder)
        return
    os.close(read_end)
    try:
        _read_in_helper(generator, cache, later, write_end, folder)
    finally:
        os._exit(0)


def _read_in_helper(generator, cache: ContentCache, later, pipe: int, folder: Path) -> None:
    """In the forked process: read each source, send its entries, never return."""
    from blinker import NamedSignal
    from pelican.plugins import signals as pelican_signals

    for value in vars(pelican_signals).values():
        if isinstance(value, NamedSignal):
            value.is_muted = True
    for name in ("", "pelican", "filmreviews"):
        log = logging.getLogger(name)
        for handler in list(log.handlers):
            log.removeHandler(handler)
    settings = generator.settings
    for number, (path, _key) in enumerate(later):
        reader = generator.readers.readers.get(path.suffix.lstrip("."))
        if reader is None:
            continue
        before = set(cache.used)
        try:
            content, metadata = reader.read(str(path))  # through the cache: captured for replay
            _typogrify_as_pelican_does(settings, content, metadata)
        except Exception:
            continue  # the build reads it again and reports what is wrong
        fresh = [(k, cache.used[k]) for k in cache.used if k not in before]
        name = f"{number}.pickle"
        (folder / f"{name}.tmp").write_bytes(cache.dump_bytes(fresh))
        os.rename(folder / f"{name}.tmp", folder / name)
        os.write(pipe, f"{name}\n".encode())


def _typogrify_as_pelican_does(settings, content, metadata) -> None:
    """Call typogrify on the body, title and summary with the arguments Pelican's
    reader uses, so its results are in the cache when the build asks."""
    if not settings.get("TYPOGRIFY"):
        return
    import smartypants
    import typogrify.filters as filters

    dashes = settings.get("TYPOGRIFY_DASHES")
    attributes = {"oldschool": smartypants.Attr.set2,
                  "oldschool_inverted": smartypants.Attr.set3}.get(dashes, smartypants.Attr.set1)
    smartypants.Attr.default = attributes | smartypants.Attr.w
    ignore = settings["TYPOGRIFY_IGNORE_TAGS"]
    omit = dict.fromkeys(settings["TYPOGRIFY_OMIT_FILTERS"], False)
    for text in (content, metadata.get("title"), metadata.get("summary")):
        if text:
            filters.typogrify(text, ignore, **omit)


def _forget_old_files(folder: Path, keep: Path) -> None:
    others = sorted((p for p in folder.glob("*.pickle") if p != keep),
                    key=lambda p: p.stat().st_mtime, reverse=True)
    for old in others[KEPT_FINGERPRINTS - 1:]:
        old.unlink(missing_ok=True)


# --- One build's cache, driven by Pelican's signals ----------------------------------------

_current: ContentCache | None = None
_typogrify_original = None


def start(pelican) -> None:
    """initialized: open the cache file for these settings, or none when it is off."""
    global _current
    finish()
    settings = pelican.settings
    if not setting(settings, "FILMREVIEWS_CONTENT_CACHE", found := []):
        report_settings(found, "Cache setting")
        return
    folder = Path(settings["CACHE_PATH"]).resolve() / "content"
    _current = ContentCache(folder, settings_fingerprint(settings), settings)
    _install_typogrify_memo()


def cache_readers(readers) -> None:
    """readers_init: every reader's results go through the cache.

    Not the static files' reader (Pelican's BaseReader): it reads nothing, and
    hashing every poster to cache nothing would be the only work it caused.
    """
    from pelican.readers import BaseReader

    for fmt, reader_class in list(readers.reader_classes.items()):
        if (reader_class and reader_class is not BaseReader
                and not getattr(reader_class, "cached_by_filmreviews", False)):
            readers.reader_classes[fmt] = _cached_reader(reader_class)


@functools.cache
def _cached_reader(reader_class):
    class CachedReader(reader_class):
        cached_by_filmreviews = True

        def read(self, source_path):
            if _current is None:
                return super().read(source_path)
            return _current.read(source_path, lambda: super(CachedReader, self).read(source_path))

    # Pelican derives the "reader" metadata from the class name.
    CachedReader.__name__ = CachedReader.__qualname__ = reader_class.__name__
    return CachedReader


def _install_typogrify_memo() -> None:
    """Pelican looks typogrify up in its module at every read: serve it from the cache."""
    global _typogrify_original
    try:
        import typogrify.filters as filters
    except ImportError:
        return
    if _typogrify_original is None:
        _typogrify_original = filters.typogrify
        original = _typogrify_original

        @functools.wraps(original)
        def typogrify_from_cache(text, *args, **kwargs):
            if _current is None:
                return original(text, *args, **kwargs)
            return _current.typogrify(original, text, *args, **kwargs)

        filters.typogrify = typogrify_from_cache


# (sources reused, sources read) by the last build that used the cache: for tests and tools.
last_counts: tuple[int, int] = (0, 0)


def counts() -> tuple[int, int]:
    """(sources reused, sources read) so far in this build."""
    return (_current.hits, _current.misses) if _current is not None else (0, 0)


def save(*args, **kwargs) -> None:
    """all_generators_finalized: every source is read; keep what this build used."""
    global last_counts
    if _current is not None:
        last_counts = (_current.hits, _current.misses)
        if _current.hits or _current.misses:
            logger.info("Content cache: %d sources reused, %d read", _current.hits, _current.misses)
        try:
            _current.save()
        except OSError as exc:  # a full disk: the next build reads afresh
            logger.info("Content cache not saved: %s", exc.strerror or exc)


def finish(*args, **kwargs) -> None:
    """finalized (and a failed build): the build's cache is closed; typogrify is itself again."""
    global _current, _typogrify_original
    if _current is not None and _current.helper is not None:
        _current.helper.close(None)
        _current.helper = None
    _current = None
    if _typogrify_original is not None:
        import typogrify.filters as filters

        filters.typogrify = _typogrify_original
        _typogrify_original = None

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
import pickle
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
        self.used: dict = {}
        self.hits = self.misses = 0

    def _load(self) -> dict:
        if self.entries is None:
            self.entries = {}
            try:
                with open(self.file, "rb") as handle:
                    unpickler = pickle.Unpickler(handle)
                    unpickler.persistent_load = self._load_persistent
                    self.entries = unpickler.load()
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
        key = ("read", str(path.resolve()), hashlib.sha256(data).hexdigest())
        entry = self._load().get(key)
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

    def save(self) -> None:
        """Keep what this build used, and nothing else, in one step."""
        if not self.used or self.used.keys() == (self.entries or {}).keys():
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
    """readers_init: every reader's results go through the cache."""
    for fmt, reader_class in list(readers.reader_classes.items()):
        if reader_class and not getattr(reader_class, "cached_by_filmreviews", False):
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
    _current = None
    if _typogrify_original is not None:
        import typogrify.filters as filters

        filters.typogrify = _typogrify_original
        _typogrify_original = None

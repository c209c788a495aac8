"""A built site kept in memory, so a saved review is on screen in a fraction of a second.

Owns what the livereload worker keeps between builds, and the fast pass over it:

* `SourceMemo` remembers every Markdown source a build read (its HTML after
  Markdown and typogrify, and its metadata), keyed by the file's bytes. Put on
  a build's generators, it makes reading an unchanged file cost only building
  the content object again; the plugin's per-review steps still run on it.
* `WarmSite` holds the generators of the last finished build with their shared
  context: every review with its poster, browse links and related reviews.
  `refresh` re-reads a saved source into the place of its old content object,
  so every list and link that holds it sees the new text; `render` writes just
  the output files asked for (the review's page, the pages open in a browser),
  each replaced in one atomic step and only when its bytes changed.

A fast pass does not follow what moves a page among the others (a new date,
slug, status, tags, genres, film or poster, a new or deleted file) and does
not redo lists, feeds, the sitemap or the search index: the full build that
always follows it does.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import io
import os
import re
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

from pelican import signals
from pelican.contents import Article, Content, Page, SkipStub
from pelican.generators import ArticlesGenerator, PagesGenerator, TemplatePagesGenerator

from filmreviews import fast_render
from filmreviews.browse import BrowseGenerator
from reelnotes.files import atomic_write

# The attributes each content object had once its source was read, before any
# generator or plugin step added or replaced some (the plugin replaces the
# `poster` path with a Poster, Pelican sets `translations`): what a re-read
# replaces. Kept as the identity of each value, never the value: the values
# include the build's context, which holds the object, and a weak key whose
# value refers back to it would never be let go.
_AS_READ: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _identities(content) -> dict[str, tuple[int, type]]:
    return {key: (id(value), type(value)) for key, value in vars(content).items()}
# Pelican memoizes a content object's HTML per object; a refreshed object must
# not keep its old HTML.
MEMOIZED = ("get_content", "get_summary")


def _digest(path: str) -> bytes | None:
    try:
        return hashlib.blake2b(Path(path).read_bytes(), digest_size=20).digest()
    except OSError:
        return None


class SourceMemo:
    """What each Markdown source read into, for as long as its bytes stay the same."""

    def __init__(self):
        # (source path, content class) -> (digest, HTML, metadata)
        self._entries: dict[tuple[str, str], tuple[bytes, str, dict]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def install(self, generator) -> None:
        """generator_init: route this generator's reads of reviews and pages through the memo."""
        if isinstance(generator, (ArticlesGenerator, PagesGenerator)):
            readers = generator.readers
            readers.read_file = functools.partial(self.read, readers, readers.read_file)

    def read(self, readers, read_file, base_path, path, content_class=Page, fmt=None, context=None,
             **signalling):
        """Readers.read_file, from memory when the file's bytes were read before.

        A remembered read stands for the whole of it, the reader signals
        included (nothing in this site listens to them); the content object is
        new each time, so content_object_init and the review model run again.
        """
        source = os.path.abspath(os.path.join(base_path, path))
        key = (source, content_class.__name__)
        before = _digest(source)
        remembered = self._entries.get(key)
        if remembered is not None and before is not None and remembered[0] == before:
            _, html, metadata = remembered
            made = content_class(content=html, metadata=dict(metadata), settings=readers.settings,
                                 source_path=source, context=context)
        else:
            captured = {}

            def capture(**arguments):
                captured.update(html=arguments["content"], metadata=dict(arguments["metadata"]))
                return content_class(**arguments)

            capture.__name__ = content_class.__name__  # Pelican logs it
            made = read_file(base_path, path, content_class=capture, fmt=fmt, context=context, **signalling)
            # Kept only if the file did not change while it was read.
            if captured and before is not None and _digest(source) == before:
                self._entries[key] = (before, captured["html"], captured["metadata"])
            else:
                self._entries.pop(key, None)
        if not isinstance(made, SkipStub):
            _AS_READ[made] = _identities(made)
        return made

    def keep_only(self, sources: Iterable[str]) -> None:
        """Forget files the last build no longer read (deleted or renamed)."""
        keep = set(sources)
        for key in [key for key in self._entries if key[0] not in keep]:
            del self._entries[key]


def forget_rendered(content=None) -> None:
    """Drop Pelican's memoized HTML of one content object, or of all of them."""
    for name in MEMOIZED:
        cache = getattr(Content.__dict__.get(name), "cache", None)
        if not isinstance(cache, dict):
            continue
        if content is None:
            cache.clear()
        else:
            for key in [key for key in list(cache) if key and key[0] is content]:
                cache.pop(key, None)


def _names(values) -> tuple[str, ...]:
    if isinstance(values, str):
        values = [values]
    return tuple(sorted(str(getattr(value, "slug", value)) for value in values or ()))


def placement(content) -> tuple:
    """Everything that decides where a page stands among the others: its URL,
    status, date, language, template, tags, authors, category, and what the
    plugin builds across reviews (fast_render.placement)."""
    return (type(content).__name__, content.status, content.save_as, content.url,
            getattr(content, "slug", None), getattr(content, "lang", None),
            getattr(content, "translation", None), getattr(content, "date", None),
            getattr(content, "template", None), _names(getattr(content, "tags", ())),
            _names(getattr(content, "authors", ())), str(getattr(content, "category", "")),
            fast_render.placement(content))


# --- Writing only some files ----------------------------------------------------------

class _Selected:
    """A template that renders only for the output files asked for ("" for the others)."""

    def __init__(self, template, wanted: set[str]):
        self._template = template
        self._wanted = wanted

    def render(self, context):
        return self._template.render(context) if context.get("output_file") in self._wanted else ""

    def __getattr__(self, name):
        return getattr(self._template, name)


class _Replacing(io.StringIO):
    """What Pelican writes for one output file; replaces the file on close if it differs."""

    def __init__(self, path: Path, name: str, changed: list[str]):
        super().__init__()
        self._path, self._name, self._changed = path, name, changed

    def __exit__(self, kind, value, traceback):
        if kind is None:
            data = self.getvalue().encode("utf-8")
            try:
                same = self._path.read_bytes() == data
            except OSError:
                same = False
            if not same:
                atomic_write(self._path, data, durable=False)
                self._changed.append(self._name)
        return super().__exit__(kind, value, traceback)


@functools.cache
def _selective_writer_class(writer_class: type) -> type:
    class SelectiveWriter(writer_class):
        """The site's writer, rendering only the wanted files and writing each atomically."""

        def __init__(self, output_path: Path, settings, wanted: set[str]):
            # Absolute and unresolved, as Pelican joins names onto it.
            self.root = Path(os.path.abspath(output_path))
            super().__init__(str(self.root), settings=settings)
            self.wanted = wanted
            self.changed: list[str] = []

        def write_file(self, name, template, context, *args, **kwargs):
            return super().write_file(name, _Selected(template, self.wanted), context, *args, **kwargs)

        def write_feed(self, *args, **kwargs):
            return None  # feeds wait for the full build

        def _open_w(self, filename, encoding, override=False):
            name = Path(filename).relative_to(self.root).as_posix()
            if name not in self.wanted:
                return open(os.devnull, "w", encoding=encoding)  # noqa: SIM115 - Pelican closes it
            return _Replacing(Path(filename), name, self.changed)

    SelectiveWriter.__name__ = SelectiveWriter.__qualname__ = f"Selective{writer_class.__name__}"
    return SelectiveWriter


def _view(generator, **lists):
    """A shallow copy of a generator with some of its lists replaced."""
    view = copy.copy(generator)
    for name, value in lists.items():
        setattr(view, name, value)
    return view


def _pagination_patterns(settings) -> list[re.Pattern]:
    """Regexes that find the first page's base name in the file name of a later page."""
    found = []
    for rule in settings.get("PAGINATION_PATTERNS", ()):
        save_as = rule[2] if len(rule) > 2 else ""
        if not isinstance(save_as, str) or "{number}" not in save_as:
            continue
        pattern = re.escape(save_as)
        for placeholder, regex in (("base_name", "(?P<base_name>.+?)"), ("name", "(?P<name>.+?)"),
                                   ("number", r"\d+"), ("extension", r"(?P<extension>\.\w+)"),
                                   ("save_as", "(?P<save_as>.+?)"), ("url", ".*?")):
            pattern = pattern.replace(re.escape("{" + placeholder + "}"), regex, 1)
        found.append(re.compile(pattern.lstrip("/") + "$"))
    return found


@dataclass
class WarmSite:
    """The generators and context of the last finished build, kept for fast passes."""

    generators: list
    writer_class: type
    settings: dict
    _producers: dict | None = field(default=None, repr=False)
    _sources: dict | None = field(default=None, repr=False)

    def _generator(self, kind):
        return next((g for g in self.generators if isinstance(g, kind)), None)

    @property
    def articles(self) -> ArticlesGenerator:
        return self._generator(ArticlesGenerator)

    @property
    def pages(self) -> PagesGenerator:
        return self._generator(PagesGenerator)

    @property
    def readable(self) -> set[str]:
        """File extensions Pelican reads reviews and pages from (md, markdown, html...)."""
        articles = self.articles
        return set(articles.readers.extensions) if articles is not None else set()

    def contents(self) -> list[Content]:
        """Every review and page the build wrote (drafts are never written)."""
        found = []
        if (articles := self.articles) is not None:
            found += chain(articles.translations, articles.articles, articles.hidden_translations,
                           articles.hidden_articles)
        if (pages := self.pages) is not None:
            found += chain(pages.translations, pages.pages, pages.hidden_translations, pages.hidden_pages)
        return found

    def sources(self) -> dict[str, Content]:
        """Every written review and page by the absolute path of its source."""
        if self._sources is None:
            self._sources = {os.path.abspath(content.source_path): content for content in self.contents()}
        return self._sources

    # --- Re-reading ------------------------------------------------------------------

    def refresh(self, path: str | Path) -> Content | str:
        """Re-read one saved source into the place of its old content object.

        Returns the content object (the old one, now holding the new text), or
        why the fast pass leaves this file to the full build.
        """
        source = os.path.abspath(path)
        old = self.sources().get(source)
        if old is None:
            return "not a page of the last build (new, draft or unreadable then)"
        if old not in _AS_READ:
            return "not read through the preview's memo"
        generator = self.articles if isinstance(old, Article) else self.pages
        preread, context_signal = (
            (signals.article_generator_preread, signals.article_generator_context)
            if isinstance(old, Article) else (signals.page_generator_preread, signals.page_generator_context))
        try:
            fresh = generator.readers.read_file(
                base_path=generator.path, path=os.path.relpath(source, generator.path),
                content_class=type(old), context=generator.context,
                preread_signal=preread, preread_sender=generator,
                context_signal=context_signal, context_sender=generator)
        except Exception as exc:  # reported by the plugin, or by the full build that follows
            return f"cannot be read ({type(exc).__name__}: {exc})"
        if isinstance(fresh, SkipStub) or not fresh.is_valid():
            return "no longer a page (skipped or missing a title)"
        if placement(fresh) != placement(old):
            return "its place among the other pages changed (date, slug, status, tags, genres, film or poster)"
        # Keep what the generators and the plugin added across pages (browse
        # links, related reviews, poster...): the edit did not touch their inputs.
        as_read = _AS_READ[old]
        # ...except what Pelican's own link refresh redoes from the metadata below.
        redone = {"metadata", "_summary"} | {key.lower() for key in generator.settings["FORMATTED_FIELDS"]}
        added = {key: value for key, value in vars(old).items()
                 if key not in redone and (key not in as_read or as_read[key] != (id(value), type(value)))}
        state = vars(old)
        state.clear()
        state.update(vars(fresh))
        state.update(added)
        _AS_READ[old] = _AS_READ[fresh]
        forget_rendered(old)
        old.refresh_metadata_intersite_links()
        fast_render.refresh(old, generator.settings)
        return old

    def forget_templates(self) -> None:
        """After a template edit: load templates again.

        Pelican keeps each generator's templates in `_templates`, and Jinja its
        compiled ones in `env.cache`; builds switch off Jinja's file check
        (filmreviews.fragments), so both are emptied here."""
        for generator in self.generators:
            cached = getattr(generator, "_templates", None)  # Pelican's per-generator cache
            if isinstance(cached, dict):
                cached.clear()
            env = getattr(generator, "env", None)
            if env is not None and env.cache is not None:
                env.cache.clear()

    # --- Rendering ---------------------------------------------------------------------

    def producers(self) -> dict[str, tuple[str, object]]:
        """Output file -> what writes it, for the pages a fast pass can render on their own."""
        if self._producers is None:
            index: dict[str, tuple[str, object]] = {}
            if (articles := self.articles) is not None:
                for article in chain(articles.translations, articles.articles,
                                     articles.hidden_translations, articles.hidden_articles):
                    index[article.save_as] = ("article", article)
                for tag in articles.tags:
                    index[tag.save_as] = ("tag", tag)
                for author, _ in articles.authors:
                    index[author.save_as] = ("author", author)
                for category, _ in articles.categories:
                    index[category.save_as] = ("category", category)
                for granularity, archives in articles.period_archives.items():
                    for archive in archives:
                        index[archive["save_as"]] = ("period", (granularity, archive))
            if (pages := self.pages) is not None:
                for page in chain(pages.translations, pages.pages, pages.hidden_translations,
                                  pages.hidden_pages):
                    index[page.save_as] = ("page", page)
            for template in self.settings.get("DIRECT_TEMPLATES", ()):
                index[self.settings.get(f"{template.upper()}_SAVE_AS", f"{template}.html")] = ("direct", template)
            for dest in self.settings.get("TEMPLATE_PAGES", {}).values():
                index[dest] = ("template_page", dest)
            index.pop("", None)
            index.pop(None, None)
            self._producers = index
        return self._producers

    def first_page(self, name: str) -> str:
        """The first page's file of a paginated list page, e.g. page/2/index.html -> index.html."""
        for pattern in _pagination_patterns(self.settings):
            match = pattern.match(name)
            if not match:
                continue
            parts = match.groupdict()
            for candidate in (f"{parts.get('base_name')}/index.html", f"{parts.get('base_name')}.html",
                              f"{parts.get('name')}{parts.get('extension') or ''}", parts.get("save_as")):
                if candidate and candidate in self.producers():
                    return candidate
            base = parts.get("base_name") or parts.get("name")
            if base:
                return f"{base}/index.html"
        return name

    def render(self, output: Path, names: Iterable[str]) -> list[str]:
        """Render these output files (relative to `output`) from the warm context.

        Each file is replaced in one step and only when its bytes changed; the
        ones that changed are returned. A name no generator writes is skipped.
        """
        wanted = set(names)
        if not wanted:
            return []
        writer = _selective_writer_class(self.writer_class)(Path(output), self.settings, wanted)
        write = functools.partial(writer.write_file, relative_urls=self.settings["RELATIVE_URLS"])
        by_kind: dict[str, list] = {}
        for name in wanted:
            kind, what = self.producers().get(self.first_page(name), ("other", None))
            by_kind.setdefault(kind, []).append(what)
        articles, pages = self.articles, self.pages
        if articles is not None:
            # Each generator method goes through one list; a copy of the
            # generator with just that list cut down to what was asked for
            # renders those pages with the same context and templates.
            _view(articles, articles=by_kind.get("article", []), translations=[], hidden_translations=[],
                  hidden_articles=[]).generate_articles(write)
            if by_kind.get("tag"):
                _view(articles, tags={tag: articles.tags[tag] for tag in by_kind["tag"]}).generate_tags(write)
            if by_kind.get("author"):
                _view(articles, authors=[(a, members) for a, members in articles.authors
                                         if a in by_kind["author"]]).generate_authors(write)
            if by_kind.get("category"):
                _view(articles, categories=[(c, members) for c, members in articles.categories
                                            if c in by_kind["category"]]).generate_categories(write)
            if by_kind.get("period"):
                periods: dict[str, list] = {}
                for granularity, archive in by_kind["period"]:
                    periods.setdefault(granularity, []).append(archive)
                _view(articles, period_archives=periods).generate_period_archives(write)
            if by_kind.get("direct"):
                _view(articles, settings={**articles.settings, "DIRECT_TEMPLATES": by_kind["direct"]}
                      ).generate_direct_templates(write)
        if pages is not None and by_kind.get("page"):
            _view(pages, translations=[], hidden_translations=[], draft_translations=[], draft_pages=[],
                  pages=[p for p in by_kind["page"] if p.status == "published"],
                  hidden_pages=[p for p in by_kind["page"] if p.status == "hidden"]).generate_output(writer)
        for generator in self.generators:
            # Template pages (robots.txt), and the browse pages for any other
            # name: such a generator goes through all it writes, and the
            # writer renders only what was asked for.
            if (isinstance(generator, TemplatePagesGenerator) and by_kind.get("template_page")) or \
                    (isinstance(generator, BrowseGenerator) and by_kind.get("other")):
                generator.generate_output(writer)
        return writer.changed

"""Markup rendered once per build and reused on every page that shows it.

A review's poster card appears on the home page, its tag, genre, director,
year and decade pages and under related reviews: thousands of identical
renderings in a large archive. Templates wrap such a fragment in
`{% call render_once("poster_card", article, ...) %}...{% endcall %}`; the
first page renders it, later pages reuse the Markup.

The key must name everything the fragment depends on (the template passes
its SITEURL, which differs with the page's depth under RELATIVE_URLS). The
memo lives for one build: it is emptied when a build starts and when all
generators have finished reading, before the first page is written, so no
markup made from half-built data or from a previous build is ever reused.
"""

from __future__ import annotations

from pathlib import Path

from markupsafe import Markup

_rendered: dict[tuple, tuple[tuple, Markup]] = {}


def _identity(part):
    # Content objects are compared by identity; the part itself is kept with
    # the markup, so its id cannot be reused by another object meanwhile.
    try:
        hash(part)
    except TypeError:
        return ("id", id(part))
    return part


def render_once(*key, caller) -> Markup:
    """Jinja global for `{% call %}`: the caller's markup, rendered the first time `key` is seen."""
    identity = tuple(_identity(part) for part in key)
    found = _rendered.get(identity)
    if found is None:
        found = _rendered[identity] = (key, Markup(caller()))
    return found[1]


def forget(*args, **kwargs) -> None:
    """initialized, all_generators_finalized, finalized: start from nothing."""
    _rendered.clear()


def prepare_templates(generator) -> None:
    """generator_init: give every generator's templates `render_once`, and compile them once.

    Pelican makes one Jinja environment per generator and builds, and by
    default Jinja checks a template's file before every use. Within one build
    the templates do not change, so the check is skipped; compiled templates
    are kept in CACHE_PATH/templates (Jinja checks each against its source).
    """
    env = getattr(generator, "env", None)
    if env is None:
        return
    env.globals["render_once"] = render_once
    env.auto_reload = False
    if env.bytecode_cache is None and generator.settings.get("CACHE_PATH"):
        from jinja2 import FileSystemBytecodeCache

        folder = Path(generator.settings["CACHE_PATH"]) / "templates"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            env.bytecode_cache = FileSystemBytecodeCache(str(folder))
        except OSError:
            pass  # templates are compiled in memory, as without a cache

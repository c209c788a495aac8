"""The build's caches: where they live and `invoke clean --cache`.

Every cache is safe to delete: the next build does the work again (a cold
build encodes every poster, which is the slow part). They live under the
settings' CACHE_PATH (`cache/`) unless FILMREVIEWS_POSTER_CACHE says otherwise:

* `cache/posters/`   poster derivatives and social cards, by content hash
                     (FILMREVIEWS_POSTER_CACHE), with `used/` naming what the
                     last build of each configuration used;
* `cache/content/`   what reading each source gave (filmreviews.content_cache);
* `cache/search/`    the last few Pagefind bundles;
* `cache/templates/` compiled Jinja templates.

`clean_caches` keeps the poster derivatives a recent build used (encoding them
is what takes long) and removes every one no review uses any more; the other
caches are emptied.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from filmreviews.posters.cache import prune

REBUILT_CACHES = ("content", "search", "templates")


def cache_folders(settings: dict, root: Path) -> dict[str, Path]:
    """Each cache's folder, absolute."""
    cache = Path(settings["CACHE_PATH"])
    posters = Path(settings.get("FILMREVIEWS_POSTER_CACHE") or "cache/posters")
    folders = {"posters": posters if posters.is_absolute() else Path(root) / posters}
    folders.update({name: cache / name for name in REBUILT_CACHES})
    return folders


def clean_caches(settings: dict, root: Path) -> list[str]:
    """Prune the poster cache and empty the others; one line per cache saying what went."""
    folders = cache_folders(settings, root)
    lines = [f"{folders['posters']}: removed {prune(folders['posters'], grace=0)} poster "
             "derivative folder(s) and card(s) no review uses"]
    for name in REBUILT_CACHES:
        folder = folders[name]
        if folder.is_dir():
            shutil.rmtree(folder)
            lines.append(f"{folder}: emptied")
    return lines

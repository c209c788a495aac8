"""A private copy of the blog for tests that change its content or run `invoke` in it.

The copy holds everything a build and the tasks need (content, theme,
plugins, blogtools, both settings files, tasks.py), so `invoke -r COPY ...`
works on it exactly as in the repository.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SITE_PARTS = ("content", "theme", "plugins", "blogtools", "pelicanconf.py", "publishconf.py", "tasks.py")
# Variables that would point a test's deploy somewhere real.
DEPLOY_VARIABLES = re.compile(r"^(PUBLISH_|GITHUB_PAGES_|LINKBACKS_)")


def front_matter(path: Path) -> dict[str, str]:
    """A review's front matter: field names lowercased, values stripped (up to the first blank line)."""
    header = path.read_text(encoding="utf-8").split("\n\n", 1)[0]
    return {key.strip().lower(): value.strip() for key, value in
            (line.split(":", 1) for line in header.splitlines() if ":" in line)}


def shared_poster_cache(tmp_path_factory) -> Path:
    """One poster-derivative cache for every copy in this test process.

    Encoding the sample posters takes seconds; the cache is keyed by each
    poster's content, so copies of the same site can share it safely.
    """
    cache = tmp_path_factory.getbasetemp() / "poster-cache"
    cache.mkdir(exist_ok=True)
    return cache


def copy_site(destination: Path, poster_cache: Path | None = None) -> Path:
    """Copy the site into `destination`; builds there use `poster_cache` if given."""
    destination = Path(destination)
    destination.mkdir(parents=True, exist_ok=True)
    if poster_cache is not None:
        # Where the posters package keeps derivatives by default (cache/posters under the site root).
        (destination / "cache").mkdir(exist_ok=True)
        (destination / "cache" / "posters").symlink_to(poster_cache, target_is_directory=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for part in SITE_PARTS:
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(source, destination / part, ignore=ignore)
        else:
            shutil.copy2(source, destination / part)
    return destination


def site_with_reviews(tmp_path_factory, name, reviews):
    """A private copy of the site whose only reviews are `reviews` (file name: text)."""
    root = copy_site(tmp_path_factory.mktemp(name), shared_poster_cache(tmp_path_factory))
    for review in (root / "content" / "reviews").glob("*.md"):
        review.unlink()
    for file_name, text in reviews.items():
        (root / "content" / "reviews" / file_name).write_text(text, encoding="utf-8")
    return root


def build_reviews(tmp_path_factory, name, reviews, settings_file="publishconf.py"):
    """Build a private copy of the site whose only reviews are `reviews`; the
    build must run to the end (problems are the caller's to check)."""
    from blogtools.build import build_site

    root = site_with_reviews(tmp_path_factory, name, reviews)
    result = build_site(root / settings_file, root / "output", root=root)
    assert result.error is None, result.error
    return result


def set_field(review: Path, field: str, value: str) -> None:
    """Replace one front-matter line, e.g. set_field(path, "Rating", "7")."""
    text = review.read_text(encoding="utf-8")
    header, body = text.split("\n\n", 1)
    lines = [line for line in header.splitlines() if not line.lower().startswith(field.lower() + ":")]
    lines.append(f"{field}: {value}")
    review.write_text("\n".join(lines) + "\n\n" + body, encoding="utf-8")


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` by relative path, with its bytes."""
    folder = Path(folder)
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def snapshot(folder: Path) -> dict[str, tuple]:
    """Files and folders with content, mode and mtime: any change to the tree shows."""
    folder = Path(folder)
    state = {}
    for path in sorted([folder, *folder.rglob("*")]):
        info = path.stat()
        content = path.read_bytes() if path.is_file() else None
        state[path.relative_to(folder).as_posix()] = (content, info.st_mode, info.st_mtime_ns)
    return state


def run_invoke(root: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`invoke -r ROOT ARGS...` in a real subprocess, without the caller's deploy settings."""
    environ = {k: v for k, v in os.environ.items() if not DEPLOY_VARIABLES.match(k)}
    environ.update(env or {})
    return subprocess.run([sys.executable, "-m", "invoke", "-r", str(root), *args],
                          cwd=root, env=environ, capture_output=True, text=True, timeout=300)

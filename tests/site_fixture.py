"""Helpers for tests that read or serve a built site, or render the theme.

The build itself is the session fixture `preview_build` in conftest.py; this
module adds what several test files need around it: the list of generated
pages, a local web server for the browser tests, and the theme's Jinja
environment for tests that render one partial.
"""

from __future__ import annotations

import functools
import http.server
import threading
from contextlib import contextmanager
from pathlib import Path

import jinja2
from bs4 import BeautifulSoup

ROOT = Path(__file__).resolve().parent.parent
# Folders in the output that the site did not write as pages of its own.
GENERATED_ELSEWHERE = ("pagefind",)


def html_pages(output: Path) -> list[Path]:
    """Every HTML page the site generated (not Pagefind's bundle)."""
    return sorted(
        path for path in output.rglob("*.html")
        if path.relative_to(output).parts[0] not in GENERATED_ELSEWHERE
    )


def soup_of(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def theme_environment() -> jinja2.Environment:
    """The theme's templates with the Jinja options Pelican uses for this site
    (JINJA_ENVIRONMENT from pelicanconf.py, autoescape included)."""
    from pelican.settings import read_settings

    options = read_settings(str(ROOT / "pelicanconf.py"))["JINJA_ENVIRONMENT"]
    return jinja2.Environment(loader=jinja2.FileSystemLoader(ROOT / "theme" / "templates"), **options)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class names it so
        pass


@contextmanager
def serve(folder: Path):
    """Serve `folder` on 127.0.0.1 at a free port; yields the base URL ending in "/"."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()

"""Reading the site's settings files the way Pelican does, for the tools around it.

`invoke new` needs the timezone and the content folders from pelicanconf.py;
`invoke publish` and `invoke gh-pages` need the deployment settings from
publishconf.py, where an environment variable of the same name wins.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def _in_directory(path: Path):
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def read_site_settings(settings_file: str | Path = "pelicanconf.py", root: Path = ROOT) -> dict:
    """Pelican's full settings (defaults included) from a file relative to `root`."""
    from pelican.settings import read_settings

    root = Path(root).resolve()
    path = root / settings_file
    if not path.is_file():
        raise FileNotFoundError(f"{path.name}: no such settings file in {root}")
    with _in_directory(root):
        # publishconf.py imports pelicanconf by name; never reuse one cached
        # from another site root.
        sys.modules.pop("pelicanconf", None)
        settings = read_settings(str(path))
    # Pelican leaves a default OUTPUT_PATH relative ("output"); the tools run
    # from any folder (invoke -r), so pin it to the site root.
    for name in ("OUTPUT_PATH", "CACHE_PATH"):
        if settings.get(name) and not Path(settings[name]).is_absolute():
            settings[name] = str(root / settings[name])
    return settings


def setting(settings: dict, name: str, environ=None, default=""):
    """A setting as text, the environment variable of the same name winning.

    A variable set to the empty string counts: it is how a user switches a
    setting off for one run (`PUBLISH_SSH_HOST= invoke publish ...`).
    """
    environ = os.environ if environ is None else environ
    if name in environ:
        return environ[name].strip()
    value = settings.get(name, default)
    return "" if value is None else str(value).strip()

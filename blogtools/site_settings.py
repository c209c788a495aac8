"""Reading the site's settings files the way Pelican does, for the tools around it.

`invoke new` needs the timezone and the content folders from pelicanconf.py;
`invoke publish` and `invoke gh-pages` need the deployment settings from
publishconf.py, where an environment variable of the same name wins.
A settings file Pelican cannot load is a `SettingsError` naming the file and
line, so every task can end with that one line instead of a traceback.
"""

from __future__ import annotations

import os
import sys
import traceback
from contextlib import chdir
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class SettingsError(Exception):
    """A settings file that cannot be loaded; the message says where and why."""


def _shown(filename: str, root: Path) -> str:
    """A settings file's name as the user knows it: relative to the site root."""
    path = (root / filename).resolve()
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def _settings_error(exc: Exception, settings_file: Path, root: Path) -> SettingsError:
    """What went wrong in which file and line, from the exception Pelican let through."""
    if isinstance(exc, SyntaxError) and exc.filename:
        return SettingsError(f"{_shown(exc.filename, root)}, line {exc.lineno}: "
                             f"{type(exc).__name__}: {exc.msg}")
    # The innermost line that ran in a settings file (publishconf.py imports
    # pelicanconf.py, so the mistake may be in either); Pelican's own checks
    # after loading have none, and then the file that was read is named.
    in_settings = [frame for frame in traceback.extract_tb(exc.__traceback__)
                   if (root / frame.filename).resolve().parent == root]
    where = (f"{_shown(in_settings[-1].filename, root)}, line {in_settings[-1].lineno}"
             if in_settings else _shown(str(settings_file), root))
    return SettingsError(f"{where}: {type(exc).__name__}: {exc}")


def read_site_settings(settings_file: str | Path = "pelicanconf.py", root: Path = ROOT) -> dict:
    """Pelican's full settings (defaults included) from a file relative to `root`.

    Raises FileNotFoundError for a missing file and SettingsError for one that
    does not load.
    """
    from pelican.settings import read_settings

    root = Path(root).resolve()
    path = root / settings_file
    if not path.is_file():
        raise FileNotFoundError(f"{path.name}: no such settings file in {root}")
    with chdir(root):
        # publishconf.py imports pelicanconf by name; never reuse one cached
        # from another site root.
        sys.modules.pop("pelicanconf", None)
        try:
            settings = read_settings(str(path))
        except Exception as exc:  # anything a Python file can raise while it runs
            raise _settings_error(exc, path, root) from None
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

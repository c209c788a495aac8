"""Shared pytest setup: importable packages and one real build of the sample site."""
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "plugins"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))


@pytest.fixture(scope="session")
def preview_build(tmp_path_factory):
    """The sample site built with pelicanconf.py (the local preview), once per session."""
    from blogtools.build import build_site

    result = build_site(ROOT / "pelicanconf.py", tmp_path_factory.mktemp("preview") / "output")
    assert result.error is None, result.error
    return result


@pytest.fixture(scope="session")
def production_build(tmp_path_factory):
    """The sample site built with publishconf.py (absolute URLs), once per session."""
    from blogtools.build import build_site

    result = build_site(ROOT / "publishconf.py", tmp_path_factory.mktemp("production") / "output")
    assert result.error is None, result.error
    return result

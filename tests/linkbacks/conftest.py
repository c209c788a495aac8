"""Shared by every linkbacks test: no real DNS, one loopback page server per
module, and the two databases the store runs on.

``backend`` is "sqlite" or "postgresql": a test (or a fixture) that takes it
runs once on each. ``new_database(backend)`` gives an empty database of that
kind: an SQLite file in a fresh folder, or a fresh database in the session's
throwaway PostgreSQL cluster (``postgres``, started on first use; with
pytest-xdist, one per worker).
"""

import pytest

from tests.linkbacks.support import BACKENDS, PageServer, guard_dns
from tests.postgres_server import PostgresServer, PostgresUnavailable


@pytest.fixture(autouse=True)
def _no_dns(monkeypatch):
    """Only IP literals and localhost resolve: a test can never reach a real host."""
    guard_dns(monkeypatch)


@pytest.fixture(scope="module")
def pages():
    server = PageServer()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server of this session's own on 127.0.0.1 (Debian's
    postgresql package; `bash bootstrap.sh test` installs it)."""
    try:
        server = PostgresServer.start()
    except PostgresUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def new_database(request, tmp_path_factory):
    def make(backend: str):
        if backend == "postgresql":
            return request.getfixturevalue("postgres").new_database()
        return tmp_path_factory.mktemp("db") / "linkbacks.sqlite3"

    return make


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param

"""Shared by every linkbacks test: no real DNS, and one loopback page server per module."""

import pytest

from tests.linkbacks.support import PageServer, guard_dns


@pytest.fixture(autouse=True)
def _no_dns(monkeypatch):
    """Only IP literals and localhost resolve: a test can never reach a real host."""
    guard_dns(monkeypatch)


@pytest.fixture(scope="module")
def pages():
    server = PageServer()
    yield server
    server.stop()

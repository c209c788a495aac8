"""The deployable receiver: ``filmreviews.linkbacks.wsgi:application``,
configured by environment variables, served by a real WSGI server (wsgiref)
on 127.0.0.1 as gunicorn or uWSGI would."""

from __future__ import annotations

import importlib
import json
import sys
import threading
from pathlib import Path
from urllib.parse import urlencode
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest

from tests.linkbacks.support import HER, SITE, request, write_reviews_json

MODULE = "filmreviews.linkbacks.wsgi"


def import_wsgi(monkeypatch, **variables):
    """Import the module afresh with exactly these LINKBACKS_* variables set."""
    for name in ("LINKBACKS_DB", "LINKBACKS_REVIEWS_JSON", "LINKBACKS_SITE_URL", "LINKBACKS_BASE_PATH",
                 "LINKBACKS_TRUST_FORWARDED_FOR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delitem(sys.modules, MODULE, raising=False)
    return importlib.import_module(MODULE)


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def test_application_from_the_environment_serves_behind_a_proxy(tmp_path, monkeypatch):
    wsgi = import_wsgi(
        monkeypatch,
        LINKBACKS_DB=str(tmp_path / "linkbacks.sqlite3"),
        LINKBACKS_REVIEWS_JSON=str(write_reviews_json(tmp_path / "reviews.json")),
        LINKBACKS_SITE_URL=SITE,
        LINKBACKS_BASE_PATH="/linkbacks",
        LINKBACKS_TRUST_FORWARDED_FOR="yes",
    )
    httpd = make_server("127.0.0.1", 0, wsgi.application, handler_class=Quiet)
    thread = threading.Thread(target=httpd.handle_request, daemon=True)
    thread.start()
    try:
        # 192.0.2.1 (documentation range) is refused later, without a connection.
        reply = request(httpd.server_address[1], "POST", "/linkbacks/webmention",
                        urlencode({"source": "http://192.0.2.1/post", "target": HER}),
                        {"Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-For": "198.51.100.7"})
        thread.join(timeout=15)
    finally:
        httpd.server_close()
        wsgi.application.close()
    assert reply.status == 202
    location = json.loads(reply.body)["location"]
    assert location.startswith("/linkbacks/webmention/status/") and reply.headers["location"] == location
    stored = wsgi.application.store.get_request(location.rsplit("/", 1)[1])
    assert (stored.review, stored.client_ip) == ("her-2013", "198.51.100.7")


@pytest.mark.parametrize("missing", ["LINKBACKS_DB", "LINKBACKS_REVIEWS_JSON", "LINKBACKS_SITE_URL"])
def test_a_missing_variable_is_named_when_the_module_is_imported(tmp_path, monkeypatch, missing):
    variables = {"LINKBACKS_DB": str(tmp_path / "db.sqlite3"), "LINKBACKS_REVIEWS_JSON": str(tmp_path / "reviews.json"),
                 "LINKBACKS_SITE_URL": SITE}
    del variables[missing]
    with pytest.raises(ValueError) as info:
        import_wsgi(monkeypatch, **variables)
    assert str(info.value).startswith(f"{missing} is not set: expected ")
    assert not (tmp_path / "db.sqlite3").exists()


@pytest.mark.parametrize("name, value, expected", [
    ("LINKBACKS_SITE_URL", "reelnotes.example.org", "expected an absolute http(s) address"),
    ("LINKBACKS_BASE_PATH", "linkbacks", "expected a path starting with /"),
    ("LINKBACKS_TRUST_FORWARDED_FOR", "maybe", "expected yes or no"),
])
def test_a_bad_value_is_named_with_what_was_expected(tmp_path, monkeypatch, name, value, expected):
    variables = {"LINKBACKS_DB": str(tmp_path / "db.sqlite3"),
                 "LINKBACKS_REVIEWS_JSON": str(write_reviews_json(tmp_path / "reviews.json")),
                 "LINKBACKS_SITE_URL": SITE, name: value}
    with pytest.raises(ValueError) as info:
        import_wsgi(monkeypatch, **variables)
    assert str(info.value).startswith(f"{name} '{value}': {expected}")

"""The deployable receiver: ``linkbacks.wsgi:application``, configured by
environment variables, served by a real WSGI server (wsgiref) on 127.0.0.1
as gunicorn or uWSGI would -- and a service of its own: importing it loads
no part of the site builder and starts no thread."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from urllib.parse import urlencode
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest

from tests.linkbacks.support import HER, SITE, request, write_reviews_json

MODULE = "linkbacks.wsgi"
HEAVY = ("pelican", "PIL", "jinja2", "filmreviews")
SECRET = "s" * 40


def import_wsgi(monkeypatch, **variables):
    """Import the module afresh with exactly these LINKBACKS_* variables set."""
    for name in ("LINKBACKS_DB", "LINKBACKS_REVIEWS_JSON", "LINKBACKS_SITE_URL", "LINKBACKS_BASE_PATH",
                 "LINKBACKS_TRUST_FORWARDED_FOR", "LINKBACKS_SECRET", "LINKBACKS_SITE_NAME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delitem(sys.modules, MODULE, raising=False)
    return importlib.import_module(MODULE)


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def test_application_from_the_environment_serves_behind_a_proxy(tmp_path, monkeypatch, backend, new_database):
    wsgi = import_wsgi(
        monkeypatch,
        LINKBACKS_DB=str(new_database(backend)),
        LINKBACKS_REVIEWS_JSON=str(write_reviews_json(tmp_path / "reviews.json")),
        LINKBACKS_SITE_URL=SITE,
        LINKBACKS_SECRET=SECRET,
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
    stored = wsgi.application.app.store.get_request(location.rsplit("/", 1)[1])
    assert (stored.review, stored.client_ip) == ("her-2013", "198.51.100.7")
    assert wsgi.application.app.secret == SECRET.encode()  # keys the reply tokens and client hashes


@pytest.mark.parametrize("missing", ["LINKBACKS_DB", "LINKBACKS_REVIEWS_JSON", "LINKBACKS_SITE_URL",
                                     "LINKBACKS_SECRET"])
def test_a_missing_variable_is_named_when_the_module_is_imported(tmp_path, monkeypatch, missing):
    variables = {"LINKBACKS_DB": str(tmp_path / "db.sqlite3"), "LINKBACKS_REVIEWS_JSON": str(tmp_path / "reviews.json"),
                 "LINKBACKS_SITE_URL": SITE, "LINKBACKS_SECRET": SECRET}
    del variables[missing]
    with pytest.raises(ValueError) as info:
        import_wsgi(monkeypatch, **variables)
    assert str(info.value).startswith(f"{missing} is not set: expected ")
    assert not (tmp_path / "db.sqlite3").exists()


@pytest.mark.parametrize("name, value, expected", [
    ("LINKBACKS_SITE_URL", "reelnotes.example.org", "expected an absolute http(s) address"),
    ("LINKBACKS_BASE_PATH", "linkbacks", "expected a path starting with /"),
    ("LINKBACKS_TRUST_FORWARDED_FOR", "maybe", "expected yes or no"),
    ("LINKBACKS_SECRET", "short-secret", "expected a random string of at least 32 characters"),
])
def test_a_bad_value_is_named_with_what_was_expected(tmp_path, monkeypatch, name, value, expected):
    variables = {"LINKBACKS_DB": str(tmp_path / "db.sqlite3"),
                 "LINKBACKS_REVIEWS_JSON": str(write_reviews_json(tmp_path / "reviews.json")),
                 "LINKBACKS_SITE_URL": SITE, "LINKBACKS_SECRET": SECRET, name: value}
    with pytest.raises(ValueError) as info:
        import_wsgi(monkeypatch, **variables)
    shown = "'<12 characters>'" if name == "LINKBACKS_SECRET" else f"'{value}'"
    assert str(info.value).startswith(f"{name}: {shown}: {expected}")
    assert name != "LINKBACKS_SECRET" or value not in str(info.value)  # a secret is never printed


def test_a_database_or_reviews_index_that_cannot_be_used_stops_the_import(tmp_path, monkeypatch):
    good = {"LINKBACKS_DB": str(tmp_path / "db.sqlite3"),
            "LINKBACKS_REVIEWS_JSON": str(write_reviews_json(tmp_path / "reviews.json")), "LINKBACKS_SITE_URL": SITE,
            "LINKBACKS_SECRET": SECRET}
    not_a_database = tmp_path / "notes.txt"
    not_a_database.write_bytes(b"a text file where the database should be, long enough for a header " * 4)
    with pytest.raises(ValueError) as info:
        import_wsgi(monkeypatch, **{**good, "LINKBACKS_DB": str(not_a_database)})
    assert str(info.value).startswith(f"LINKBACKS_DB: '{not_a_database}': expected a linkbacks SQLite database")
    assert not_a_database.read_bytes().startswith(b"a text file")  # looked at, never written

    broken = tmp_path / "broken.json"
    broken.write_text('{"site_url": "", "reviews": [', encoding="utf-8")
    with pytest.raises(ValueError) as info:
        import_wsgi(monkeypatch, **{**good, "LINKBACKS_REVIEWS_JSON": str(broken)})
    assert str(info.value).startswith(f"LINKBACKS_REVIEWS_JSON: '{broken}': expected a readable reviews.json")
    assert not (tmp_path / "db.sqlite3").exists()


@pytest.mark.parametrize("value, expected", [
    ("postgresql://reelnotes:hunter2@127.0.0.1:{port}/nope?password=hunter2",
     "LINKBACKS_DB: 'postgresql://reelnotes:***@127.0.0.1:{port}/nope?password=***': "
     "expected a reachable PostgreSQL database (connection failed: "),
    ("mysql://reelnotes:hunter2@db.example.org/reelnotes",
     "LINKBACKS_DB: 'mysql://reelnotes:***@db.example.org/reelnotes': expected the receiver's database: "
     "an SQLite file, e.g. 'linkbacks.sqlite3', or a PostgreSQL URL"),
    ("postgresql://reelnotes:hunter2@db.example.org:port/reelnotes",
     "LINKBACKS_DB: 'postgresql://reelnotes:***@db.example.org:port/reelnotes': expected the receiver's database"),
])
def test_a_database_url_that_cannot_be_used_is_named_without_its_password(tmp_path, monkeypatch, postgres, value,
                                                                          expected):
    dead_port = postgres.port + 1 if postgres.port < 65535 else postgres.port - 1  # nothing listens there
    variables = {"LINKBACKS_DB": value.format(port=dead_port),
                 "LINKBACKS_REVIEWS_JSON": str(write_reviews_json(tmp_path / "reviews.json")),
                 "LINKBACKS_SITE_URL": SITE, "LINKBACKS_SECRET": SECRET}
    with pytest.raises(ValueError) as info:
        import_wsgi(monkeypatch, **variables)
    assert str(info.value).startswith(expected.format(port=dead_port))
    assert "hunter2" not in str(info.value) and "\n" not in str(info.value)


def _fresh_python(code: str, environ: dict) -> dict:
    """Run ``code`` in a new interpreter (nothing imported yet); it prints JSON."""
    run = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env={**os.environ, **environ},
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_importing_the_wsgi_module_loads_no_site_builder_and_starts_no_thread(tmp_path):
    db = tmp_path / "linkbacks.sqlite3"
    report = _fresh_python(f"""
        import io, json, os, sys, threading
        import linkbacks.wsgi
        heavy = sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})
        imported = {{"heavy": heavy, "threads": threading.active_count(), "db": os.path.exists({str(db)!r})}}
        statuses = []
        environ = {{"REQUEST_METHOD": "GET", "PATH_INFO": "/nothing", "wsgi.input": io.BytesIO()}}
        linkbacks.wsgi.application(environ, lambda status, headers: statuses.append(status))
        served = {{"status": statuses, "threads": threading.active_count(), "db": os.path.exists({str(db)!r})}}
        print(json.dumps({{"imported": imported, "served": served}}))
    """, {"LINKBACKS_DB": str(db), "LINKBACKS_REVIEWS_JSON": str(write_reviews_json(tmp_path / "reviews.json")),
          "LINKBACKS_SITE_URL": SITE, "LINKBACKS_SECRET": SECRET})
    assert report["imported"] == {"heavy": [], "threads": 1, "db": False}
    # The first request builds the receiver: its database and its webmention workers.
    assert report["served"]["status"] == ["404 Not Found"]
    assert report["served"]["db"] is True and report["served"]["threads"] > 1


def test_no_module_of_the_service_imports_pelican_pillow_or_the_plugin(tmp_path):
    report = _fresh_python(f"""
        import importlib, json, pkgutil, sys
        import linkbacks
        names = [m.name for m in pkgutil.walk_packages(linkbacks.__path__, "linkbacks.")]
        for name in names:
            importlib.import_module(name)
        print(json.dumps({{"modules": names,
                           "heavy": sorted(m for m in sys.modules if m.split(".")[0] in {HEAVY!r})}}))
    """, {"LINKBACKS_DB": str(tmp_path / "db.sqlite3"), "LINKBACKS_REVIEWS_JSON": str(tmp_path / "reviews.json"),
          "LINKBACKS_SITE_URL": SITE, "LINKBACKS_SECRET": SECRET})
    assert {"linkbacks.cli", "linkbacks.app", "linkbacks.store", "linkbacks.wsgi",
            "linkbacks.protocols.webmention"} <= set(report["modules"])
    assert report["heavy"] == []


@pytest.mark.parametrize("value, shown", [
    ("postgresql://reelnotes:s3cret@db.example.org:5432/reelnotes",
     "postgresql://reelnotes:***@db.example.org:5432/reelnotes"),
    ("postgres://reelnotes@db.example.org/reelnotes?sslmode=require&password=s3cret",
     "postgres://reelnotes@db.example.org/reelnotes?sslmode=require&password=***"),
    ("postgresql://reelnotes:p@ss:w@db.example.org/reelnotes", "postgresql://reelnotes:***@db.example.org/reelnotes"),
    ("postgresql:///reelnotes?host=/var/run/postgresql", "postgresql:///reelnotes?host=/var/run/postgresql"),
    ("/srv/reelnotes/linkbacks.sqlite3", "/srv/reelnotes/linkbacks.sqlite3"),
])
def test_a_database_setting_is_a_file_or_a_postgresql_url_and_is_shown_without_a_password(value, shown):
    from reelnotes.settings import database_location, redact_database_url

    location = database_location(value, "LINKBACKS_DB", root="/site")
    assert str(location) == value if "://" in value else location == Path(value)
    assert redact_database_url(value) == shown
    relative = database_location("data/linkbacks.sqlite3", "FILMREVIEWS_LINKBACKS_DB", root="/site")
    assert relative == Path("/site/data/linkbacks.sqlite3")

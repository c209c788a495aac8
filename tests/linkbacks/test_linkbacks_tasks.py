"""The `invoke linkbacks.*` tasks as a user runs them: real `invoke -r COPY`
subprocesses on a private copy of the site. Bad input and missing
prerequisites end in exit status 1 and one clear message, never a traceback;
`linkbacks.serve` takes its public path from publishconf.py."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from urllib.parse import urlencode

import pytest

from linkbacks.store import Store
from tests.site_copy import DEPLOY_VARIABLES, copy_site, run_invoke

SITE_URL = "https://reelnotes.example.org"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A copy of the site that was never built (no output/)."""
    return copy_site(tmp_path_factory.mktemp("linkbacks-tasks") / "site")


def refused(run) -> str:
    """The message of a task that must fail cleanly."""
    assert run.returncode == 1, (run.stdout, run.stderr)
    assert "Traceback" not in run.stdout + run.stderr, run.stderr
    return run.stderr.strip()


def test_list_with_an_unknown_status_names_the_option_and_the_choices(site):
    message = refused(run_invoke(site, "linkbacks.list", "--status", "bogus"))
    assert message == "--status 'bogus': expected one of pending, approved, rejected, spam (or none for all)"


def test_approving_an_unknown_linkback_points_to_the_list(site):
    assert refused(run_invoke(site, "linkbacks.approve", "99")) == "No linkback #99 (see invoke linkbacks.list)"
    message = refused(run_invoke(site, "linkbacks.reject", "twelve"))
    assert message == "Linkback 'twelve': expected a linkback number (see invoke linkbacks.list)"


@pytest.mark.parametrize("task", ["linkbacks.export", "linkbacks.send"])
def test_export_and_send_without_a_build_say_to_build_first(site, task):
    message = refused(run_invoke(site, task))
    assert message == f"{site / 'output' / 'reviews.json'} not found: build the site first: invoke preview"


def test_a_file_that_is_not_a_database_is_named(site, tmp_path):
    db = tmp_path / "linkbacks.sqlite3"
    db.write_bytes(b"these are not the linkbacks you are looking for " * 4)
    message = refused(run_invoke(site, "linkbacks.list", "--db", str(db)))
    assert message.startswith(f"{db}: cannot use this linkbacks database (file is not a database)")


def test_serve_refuses_a_bad_port_and_a_port_in_use(site):
    assert refused(run_invoke(site, "linkbacks.serve", "--port", "http")) == \
        "--port: 'http': expected a port number from 1 to 65535"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        message = refused(run_invoke(site, "linkbacks.serve", "--port", str(port)))
    assert f"Cannot listen on 127.0.0.1:{port}: Address already in use" in message


def test_send_has_no_loopback_switch(site):
    run = run_invoke(site, "--help", "linkbacks.send")
    assert run.returncode == 0 and "loopback" not in run.stdout
    assert run_invoke(site, "linkbacks.send", "--allow-loopback").returncode != 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _post_when_listening(port: int, path: str, body: str, headers: dict, process) -> http.client.HTTPResponse:
    """POST once the server accepts connections (it starts in a subprocess)."""
    for _ in range(300):
        if process.poll() is not None:
            pytest.fail(f"linkbacks.serve exited: {process.stderr.read()}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
            conn.request("POST", path, body, headers)
            return conn.getresponse()
        except ConnectionRefusedError:
            time.sleep(0.1)
    pytest.fail("linkbacks.serve never listened")


def test_a_bad_linkbacks_setting_is_named_with_its_file(tmp_path):
    site = copy_site(tmp_path / "site")
    with (site / "publishconf.py").open("a", encoding="utf-8") as settings:
        settings.write('FILMREVIEWS_LINKBACKS_PORT = "eighty"\n')
    message = refused(run_invoke(site, "linkbacks.list"))
    assert message == "publishconf.py: FILMREVIEWS_LINKBACKS_PORT: 'eighty': expected a port number from 1 to 65535"


def test_serve_listens_on_the_port_setting_mounts_under_the_endpoint_path_and_trusts_the_proxy_when_told(tmp_path):
    site = copy_site(tmp_path / "site")
    (site / "output").mkdir()
    (site / "output" / "reviews.json").write_text(json.dumps(
        {"site_url": "", "reviews": [{"slug": "her-2013", "url": "/reviews/her-2013/", "title": "Her"}]}))
    port = _free_port()
    with (site / "publishconf.py").open("a", encoding="utf-8") as settings:
        settings.write(f"FILMREVIEWS_LINKBACKS_PORT = {port}\n")  # no --port: the setting decides
    environ = {k: v for k, v in os.environ.items() if not DEPLOY_VARIABLES.match(k)}
    environ["SITEURL"] = SITE_URL  # publishconf.py: FILMREVIEWS_LINKBACKS_ENDPOINT = SITEURL + "/linkbacks"
    process = subprocess.Popen(
        [sys.executable, "-m", "invoke", "-r", str(site), "linkbacks.serve", "--trust-forwarded-for"],
        cwd=site, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        # 192.0.2.1 is a documentation address: the source is refused without any connection.
        body = urlencode({"source": "http://192.0.2.1/post", "target": f"{SITE_URL}/reviews/her-2013/"})
        reply = _post_when_listening(port, "/linkbacks/webmention", body, {
            "Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-For": "198.51.100.7"}, process)
        assert reply.status == 202
        location = reply.getheader("Location")
        assert location.startswith("/linkbacks/webmention/status/")
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    request = Store(site / "linkbacks.sqlite3").get_request(location.rsplit("/", 1)[1])
    assert request.client_ip == "198.51.100.7"


def test_the_tasks_moderate_a_postgresql_database_named_in_the_settings(tmp_path, new_database):
    url = new_database("postgresql")
    store = Store(url)
    first = store.add(review="her-2013", source="https://blog.example/post", target=f"{SITE_URL}/reviews/her-2013/",
                      kind="pingback", title="On Her")
    store.close()
    site = copy_site(tmp_path / "site")
    with (site / "publishconf.py").open("a", encoding="utf-8") as settings:
        settings.write(f"FILMREVIEWS_LINKBACKS_DB = {url!r}\n")
    listed = run_invoke(site, "linkbacks.list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith(f"#{first} ") and "pending" in listed.stdout and '"On Her"' in listed.stdout
    assert run_invoke(site, "linkbacks.approve", str(first)).returncode == 0
    assert Store(url).get(first).status == "approved"
    assert not (site / "linkbacks.sqlite3").exists()


def test_a_database_url_is_named_without_its_password(tmp_path, postgres):
    site = copy_site(tmp_path / "site")
    dead = f"postgresql://reelnotes:hunter2@127.0.0.1:{postgres.port + 1}/linkbacks"  # nothing listens there
    message = refused(run_invoke(site, "linkbacks.list", "--db", dead))
    assert message.startswith(f"postgresql://reelnotes:***@127.0.0.1:{postgres.port + 1}/linkbacks: "
                              "cannot use this linkbacks database (cannot connect (connection failed: ")
    with (site / "publishconf.py").open("a", encoding="utf-8") as settings:
        settings.write('FILMREVIEWS_LINKBACKS_DB = "mysql://reelnotes:hunter2@db.example.org/reelnotes"\n')
    setting_message = refused(run_invoke(site, "linkbacks.list"))
    assert setting_message.startswith("publishconf.py: FILMREVIEWS_LINKBACKS_DB: "
                                      "'mysql://reelnotes:***@db.example.org/reelnotes': expected the receiver's "
                                      "database: an SQLite file")
    assert "hunter2" not in message + setting_message and "\n" not in message

"""Moderation from the writer's machine against the receiver's database on
the "server": a real sshd on 127.0.0.1 (tests/sshd.py) whose logins run this
venv's Python with the project installed, and a real SQLite file or
PostgreSQL database (the throwaway cluster, by its URL). The tasks
run ``python -m linkbacks.cli ... --json`` there over SSH; nobody without
the writer's key can, and the HTTP receiver has no route for any of it."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys

import pytest

from linkbacks import cli
from linkbacks.store import Store
from reelnotes.settings import RemoteModeration, SettingProblem, remote_moderation
from tests.linkbacks.support import (
    BACKENDS,
    HER,
    REVIEWS,
    approved_records,
    request,
    start_receiver,
    write_reviews_json,
)
from tests.site_copy import copy_site, run_invoke
from tests.sshd import SBIN_PATH, missing_tools, running_sshd

pytestmark = pytest.mark.skipif(bool(missing_tools()), reason=f"needs {', '.join(missing_tools())}")
SLUGS = {review["slug"] for review in REVIEWS}
HOSTILE_SOURCE = "https://evil.example/\u202egnp.post\u009b[2J"


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    with running_sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server


def remote_for(sshd, db, **changes) -> RemoteModeration:
    values = dict(host=sshd.host, port=sshd.port, user=sshd.user, ssh_options=tuple(shlex.split(sshd.options)),
                  python=sys.executable, db=str(db))
    values.update(changes)
    return RemoteModeration(**values)


@pytest.fixture(params=BACKENDS)
def server_db(request, new_database):
    """The receiver's database "on the server" -- an SQLite file, or the
    PostgreSQL database of instances (its URL without a password): an
    approved pingback, a pending webmention from a hostile URL, and a pending
    reply whose reader left an address."""
    db = new_database(request.param)
    store = Store(db)
    approved = store.add(review="her-2013", source="https://friend.example/her", target=HER, kind="pingback",
                         title="On Her", author="Friend", excerpt="A fine film.",
                         received="2026-11-01T10:00:00+00:00")
    store.set_status(approved, "approved")
    store.add(review="her-2013", source=HOSTILE_SOURCE, target=HER, kind="webmention", type="reply",
              title="Re\u0435l N\u043etes\u200b official", author="Mallory", excerpt="Click here",
              received="2026-11-02T10:00:00+00:00")
    store.add(review="alien-1979", source="", target=HER, kind="reply", title="", author="Ann",
              excerpt="Loved the ending.", received="2026-11-03T10:00:00+00:00", held_reason="new reader")
    with store._write() as conn:  # the replies form stores the address; only the notice may read it
        conn.execute("UPDATE linkbacks SET email = 'ann@reader.example' WHERE kind = 'reply'")
    store.close()
    return db


def test_the_writer_lists_the_servers_queue_over_ssh_pending_first(sshd, server_db, tmp_path):
    blocks = cli.list_linkbacks(tmp_path / "local.sqlite3", remote=remote_for(sshd, server_db))
    assert [block.split()[1] for block in blocks] == ["pending", "pending", "approved"]
    hostile, reply, approved = blocks
    assert "webmention/reply" in hostile and "her-2013" in hostile
    assert "https://evil.example/\\u202egnp.post\\u009b[2J" in hostile  # shown escaped, never raw
    assert "\u202e" not in "".join(blocks) and "\u009b" not in "".join(blocks)
    assert "held:    first linkback from this site" in hostile
    assert 'warning: mixed scripts in the title: "Re\u0435l", "N\u043etes"' in hostile
    assert "\\u200b" in hostile  # the zero-width space in the stored title is shown, not hidden
    assert "reply" in reply and "alien-1979" in reply and "excerpt: Loved the ending." in reply
    assert "held:    new reader" in reply
    assert "ann@reader.example" not in "".join(blocks)  # addresses never leave the server
    assert not (tmp_path / "local.sqlite3").exists()  # nothing was read or made here


def test_approve_reject_spam_and_forget_change_the_servers_database(sshd, server_db, tmp_path):
    remote = remote_for(sshd, server_db)
    store = Store(server_db)
    hostile = store.find("her-2013", HOSTILE_SOURCE).id
    reply = store.list(status="pending", review="alien-1979")[0].id
    assert " approved " in cli.set_status(tmp_path / "x", reply, "approved", remote=remote)
    assert " spam " in cli.set_status(tmp_path / "x", hostile, "spam", remote=remote)
    assert (store.get(reply).status, store.get(hostile).status) == ("approved", "spam")
    assert [n.kind for n in store.notices(undone_only=True)][-1] == "reply-approved"  # the reader's one notice
    assert "Mallory" in cli.forget(tmp_path / "x", hostile, remote=remote)
    assert store.get(hostile) is None


def test_export_pulls_the_approved_records_into_content_here(sshd, server_db, tmp_path):
    remote = remote_for(sshd, server_db)
    store = Store(server_db)
    like = store.add(review="alien-1979", source="https://fan.example/likes/1", target=HER, kind="webmention",
                     type="like", title="Liked", author="Fan", received="2026-11-04T10:00:00+00:00")
    store.set_status(like, "approved")
    content = tmp_path / "writer" / "content"
    content.mkdir(parents=True)
    reviews_json = write_reviews_json(tmp_path / "writer" / "reviews.json")
    lines = cli.export(tmp_path / "x", content, reviews_json, remote=remote)
    assert sorted(lines) == [f"wrote {content / 'linkbacks' / 'alien-1979.json'}",
                             f"wrote {content / 'linkbacks' / 'her-2013.json'}"]
    records = approved_records(content, SLUGS)
    assert [r.title for r in records["her-2013"]] == ["On Her"]  # the pending hostile one stays on the server
    exported = "".join(p.read_text(encoding="utf-8") for p in (content / "linkbacks").glob("*.json"))
    assert "ann@reader.example" not in exported and "evil.example" not in exported
    # Once the server rejects it, the next export takes it off.
    store.set_status(store.find("her-2013", "https://friend.example/her").id, "rejected")
    cli.export(tmp_path / "x", content, reviews_json, remote=remote)
    assert approved_records(content, SLUGS).get("her-2013", []) == []


def test_a_refusal_on_the_server_comes_back_as_its_message(sshd, server_db, tmp_path):
    with pytest.raises(cli.LinkbacksError) as info:
        cli.set_status(tmp_path / "x", 4242, "approved", remote=remote_for(sshd, server_db))
    assert str(info.value) == "On the server: No linkback #4242 (see invoke linkbacks.list)"
    with pytest.raises(cli.LinkbacksError) as info:
        cli.list_linkbacks(tmp_path / "x", remote=remote_for(sshd, tmp_path / "no-such.sqlite3"))
    assert "no such file" in str(info.value) and "LINKBACKS_REMOTE_DB" in str(info.value)
    with pytest.raises(cli.LinkbacksError) as info:
        cli.list_linkbacks(tmp_path / "x", remote=remote_for(sshd, server_db, python="/nowhere/bin/python"))
    assert "LINKBACKS_REMOTE_PYTHON" in str(info.value) and "/nowhere/bin/python" in str(info.value)


def test_ssh_with_another_key_is_refused_and_shows_nothing(sshd, server_db, tmp_path):
    stranger = tmp_path / "stranger_key"
    subprocess.run([shutil.which("ssh-keygen", path=SBIN_PATH), "-q", "-t", "ed25519", "-N", "", "-f", str(stranger)],
                   check=True)
    options = [str(stranger) if option == str(sshd.key) else option for option in shlex.split(sshd.options)]
    before = Store(server_db).list()
    for call in (lambda remote: cli.list_linkbacks(tmp_path / "x", remote=remote),
                 lambda remote: cli.set_status(tmp_path / "x", before[1].id, "approved", remote=remote),
                 lambda remote: cli.export(tmp_path / "x", tmp_path / "content",
                                           write_reviews_json(tmp_path / "reviews.json"), remote=remote)):
        with pytest.raises(cli.LinkbacksError) as info:
            call(remote_for(sshd, server_db, ssh_options=tuple(options)))
        message = str(info.value)
        assert message.startswith(f"Cannot reach {sshd.user}@{sshd.host} (port {sshd.port}) over SSH")
        assert "Permission denied" in message
        assert "Mallory" not in message and "evil.example" not in message and "Friend" not in message
    assert Store(server_db).list() == before
    assert not (tmp_path / "content").exists()


@pytest.mark.parametrize("db, accepted", [
    ("/srv/reelnotes/linkbacks.sqlite3", True),
    ("postgresql://reelnotes@db.internal/reelnotes", True),
    ("postgresql://reelnotes:s3cret@db.internal/reelnotes", False),
    ("postgresql://reelnotes@db.internal/reelnotes?password=s3cret", False),
    ("linkbacks.sqlite3", False),
])
def test_the_remote_database_is_a_server_path_or_a_url_without_a_password(db, accepted):
    settings = {"PUBLISH_SSH_HOST": "www.example.org", "PUBLISH_SSH_USER": "marta",
                "LINKBACKS_REMOTE_PYTHON": "/srv/reelnotes/.venv/bin/python", "LINKBACKS_REMOTE_DB": db}
    if accepted:
        assert remote_moderation(settings, {}).db == db
        return
    with pytest.raises(SettingProblem) as info:
        remote_moderation(settings, {})
    assert str(info.value).startswith("LINKBACKS_REMOTE_DB: ")
    assert "s3cret" not in str(info.value)  # the message never repeats a password


MODERATION_PATHS = ["/", "/list", "/moderation", "/admin", "/approve/1", "/api/linkbacks", "/linkbacks",
                    "/linkbacks/list", "/export", "/export-records", "/pending", "/replies", "/queue",
                    "/cli", "/trackback", "/webmention/status/", "/webmention/list", "/pingback/list"]


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE"])
def test_the_http_receiver_has_no_moderation_route(tmp_path, method):
    with start_receiver(tmp_path, base_path="/linkbacks") as running:
        running.app.store.add(review="her-2013", source="https://secret.example/pending", target=HER,
                              kind="pingback", title="Secret pending title")
        for path in MODERATION_PATHS + ["/linkbacks" + p for p in MODERATION_PATHS]:
            reply = request(running.port, method, path, b"id=1&status=approved" if method != "GET" else None,
                            {"Content-Type": "application/x-www-form-urlencoded"})
            assert reply.status in (404, 405), (method, path, reply.status)
            assert b"Secret" not in reply.body and b"secret.example" not in reply.body
        assert running.app.store.list()[0].status == "pending"


def test_the_tasks_moderate_on_the_server_when_configured_and_here_with_local(sshd, server_db, tmp_path):
    site = copy_site(tmp_path / "site")
    (site / "output").mkdir()
    (site / "output" / "reviews.json").write_text(json.dumps(
        {"site_url": "", "reviews": [dict(r) for r in REVIEWS]}), encoding="utf-8")
    env = dict(sshd.publish_environ(tmp_path / "www"), LINKBACKS_REMOTE_PYTHON=sys.executable,
               LINKBACKS_REMOTE_DB=str(server_db))
    listed = run_invoke(site, "linkbacks.list", "--status", "pending", env=env)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith(f"On the server {sshd.user}@{sshd.host}:{server_db}:")
    assert "Mallory" in listed.stdout and "\\u202e" in listed.stdout and "\u202e" not in listed.stdout
    here = run_invoke(site, "linkbacks.list", "--local", env=env)
    assert here.returncode == 0 and here.stdout.strip() == "No responses.", here.stdout
    pending = Store(server_db).find("her-2013", HOSTILE_SOURCE).id
    assert run_invoke(site, "linkbacks.reject", str(pending), env=env).returncode == 0
    assert Store(server_db).get(pending).status == "rejected"
    store = Store(server_db)
    store.set_status(store.add(review="alien-1979", source="https://fan.example/likes/1", target=HER,
                               kind="webmention", type="like", title="Liked", author="Fan"), "approved")
    exported = run_invoke(site, "linkbacks.export", env=env)
    assert exported.returncode == 0, exported.stderr
    assert f"wrote {site / 'content' / 'linkbacks' / 'alien-1979.json'}" in exported.stdout
    assert [r.title for r in approved_records(site / "content", SLUGS)["alien-1979"]] == ["Liked"]
    half = run_invoke(site, "linkbacks.list", env=dict(env, LINKBACKS_REMOTE_DB=""))
    assert half.returncode == 1 and "Traceback" not in half.stderr
    assert half.stderr.strip().startswith("publishconf.py: LINKBACKS_REMOTE_DB is not set: expected")

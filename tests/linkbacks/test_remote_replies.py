"""The writer's reply tools against the receiver's database on the "server",
over a real sshd on 127.0.0.1 (tests/sshd.py) as the moderation tasks do
(test_remote_moderation.py): answering as the author, and forgetting a
person -- their rows deleted on the server, their records removed from
content/linkbacks/ here by the record ids the server sends back. On an
SQLite file and on PostgreSQL (by its URL)."""

from __future__ import annotations

import json
import sys

import pytest

from linkbacks import cli
from linkbacks.store import Store
from tests.linkbacks.support import BACKENDS, HER, REVIEWS, approved_records, write_reviews_json
from tests.linkbacks.test_remote_moderation import remote_for
from tests.site_copy import copy_site, run_invoke
from tests.sshd import missing_tools, running_sshd

pytestmark = pytest.mark.skipif(bool(missing_tools()), reason=f"needs {', '.join(missing_tools())}")
SLUGS = {review["slug"] for review in REVIEWS}
IMPORTED = {"id": "wordpress-7", "kind": "reply", "type": "reply", "source": "", "title": "", "author": "Ann",
            "excerpt": "From the old blog.", "text": "From the old blog.", "parent": None, "by_author": False,
            "date": "2012-01-01T10:00:00+00:00"}


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    with running_sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server


@pytest.fixture(params=BACKENDS)
def server_db(request, new_database):
    """On the server: Ann's approved reply (she left an address), Bo's
    approved reply, and an approved pingback."""
    db = new_database(request.param)
    store = Store(db)
    for author, text, email in (("Ann", "Loved the ending.", "ann@reader.example"), ("Bo", "Me too.", "")):
        reply = store.add_reply(review="her-2013", target=HER, author=author, text=text, excerpt=text, email=email,
                                client_hash=f"hash-{author}", held_reason="new reader")
        store.set_status(reply, "approved")
    store.set_status(store.add(review="her-2013", source="https://friend.example/her", target=HER, kind="pingback",
                               title="On Her", author="Ann"), "approved")
    store.close()
    return db


def ids_by_author(db) -> dict[str, int]:
    return {row.author: row.id for row in Store(db).list() if row.kind == "reply"}


def test_the_writer_answers_and_forgets_replies_on_the_server_over_ssh(sshd, server_db, tmp_path):
    remote = remote_for(sshd, server_db)
    here = tmp_path / "local.sqlite3"
    ann = ids_by_author(server_db)["Ann"]
    # A text that looks like options travels as one argument.
    answer = cli.reply_as_author(here, ann, "--json -- Thank you, Ann.", "Marta", remote=remote)
    (mine,) = [row for row in Store(server_db).list() if row.by_author]
    assert answer.startswith(f"#{mine.id} ") and "approved" in answer and f"answers: #{ann}" in answer
    assert (mine.text, mine.author, mine.parent_id) == ("--json -- Thank you, Ann.", "Marta", ann)
    content = tmp_path / "content"
    (content / "linkbacks").mkdir(parents=True)
    (content / "linkbacks" / "her-2013.json").write_text(
        json.dumps({"review": "her-2013", "linkbacks": [IMPORTED]}), encoding="utf-8")
    cli.export(here, content, write_reviews_json(tmp_path / "reviews.json"), remote=remote)
    assert f"receiver-{ann}" in [r.id for r in approved_records(content, SLUGS)["her-2013"]]

    lines = cli.forget_replies(here, content, email="ANN@reader.example", remote=remote)
    assert lines == [f"forgot reply #{ann} to her-2013 by 'Ann': 'Loved the ending.' (database)",
                     f"removed receiver-{ann} by 'Ann' from {content / 'linkbacks' / 'her-2013.json'}"]
    assert ann not in {row.id for row in Store(server_db).list()}
    assert Store(server_db).get(mine.id).parent_id is None  # no thread left to hang in
    records = {r.id for r in approved_records(content, SLUGS)["her-2013"]}
    assert "wordpress-7" in records and f"receiver-{ann}" not in records  # by e-mail: only what the server had
    assert "ann@reader.example" not in "".join(lines)

    by_name = cli.forget_replies(here, content, name="ann", remote=remote)
    assert by_name == [f"removed wordpress-7 by 'Ann' from {content / 'linkbacks' / 'her-2013.json'}"]
    assert {r.author for r in Store(server_db).list()} == {"Bo", "Marta", "Ann"}  # her pingback is no reply
    assert not here.exists()  # nothing was read or made here


def test_a_refusal_on_the_server_comes_back_as_its_message(sshd, server_db, tmp_path):
    remote = remote_for(sshd, server_db)
    before = Store(server_db).list()
    for call, message in [
        (lambda: cli.reply_as_author(tmp_path / "x", 4242, "Hi", "Marta", remote=remote),
         "On the server: No response #4242 (see invoke linkbacks.list)"),
        (lambda: cli.reply_as_author(tmp_path / "x", "99999999999999999999", "Hi", "Marta", remote=remote),
         "On the server: Response '99999999999999999999': expected a response number"),
        (lambda: cli.forget_replies(tmp_path / "x", tmp_path / "content", remote=remote),
         "Say whose replies to forget: --email ADDRESS, --name NAME and/or --id N"),
    ]:
        with pytest.raises(cli.LinkbacksError) as info:
            call()
        assert str(info.value).startswith(message)
    assert Store(server_db).list() == before
    assert cli.forget_replies(tmp_path / "x", tmp_path / "content", name="Nobody", remote=remote) == [
        "No reply matched: nothing removed."]


def test_the_replies_tasks_work_on_the_server_when_configured_and_here_with_local(sshd, server_db, tmp_path):
    site = copy_site(tmp_path / "site")
    (site / "output").mkdir()
    write_reviews_json(site / "output" / "reviews.json")
    env = dict(sshd.publish_environ(tmp_path / "www"), LINKBACKS_REMOTE_PYTHON=sys.executable,
               LINKBACKS_REMOTE_DB=str(server_db))
    bo = ids_by_author(server_db)["Bo"]
    answered = run_invoke(site, "replies.reply", str(bo), "Thanks, Bo!", env=env)
    assert answered.returncode == 0, answered.stderr
    assert "linkbacks.export" in answered.stdout
    assert ids_by_author(server_db)["Marta Kowalczyk"]  # AUTHOR from the settings, stored on the server
    assert run_invoke(site, "linkbacks.export", env=env).returncode == 0
    assert f"receiver-{bo}" in [r.id for r in approved_records(site / "content", SLUGS)["her-2013"]]
    forgotten = run_invoke(site, "replies.forget", "--name", "Bo", env=env)
    assert forgotten.returncode == 0, forgotten.stderr
    assert f"forgot reply #{bo}" in forgotten.stdout and f"removed receiver-{bo}" in forgotten.stdout
    assert "Bo" not in ids_by_author(server_db)
    assert f"receiver-{bo}" not in [r.id for r in approved_records(site / "content", SLUGS)["her-2013"]]
    local = run_invoke(site, "replies.forget", "--name", "Ann", "--local", env=env)
    assert local.returncode == 0, local.stderr
    # --local: the database here (which has none of hers) and the records here, not the server's rows.
    assert "forgot reply" not in local.stdout and "removed receiver-" in local.stdout
    assert "Ann" in ids_by_author(server_db)
    refused = run_invoke(site, "replies.reply", "4242", "Hi", env=env)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "On the server: No response #4242" in refused.stderr

"""The writer's reply tools on a real SQLite store and records folder:
answering as the author, and `replies.forget` removing a person's replies
from the store and the exported files (and nobody else's)."""

from __future__ import annotations

import json

import pytest

from linkbacks import cli, moderation
from linkbacks.store import Store
from tests.linkbacks.support import HER, approved_records, write_reviews_json
from tests.site_copy import ROOT, copy_site, run_invoke

SLUGS = {"her-2013", "alien-1979"}


def reply(store, text, author="Ana", email="", review="her-2013", status="approved", **kw):
    row = store.add_reply(review=review, target=HER, author=author, text=text, excerpt=text, email=email,
                          client_hash="h", **kw)
    if status != "pending":
        store.set_status(row, status)
    return row


@pytest.fixture()
def site(tmp_path, backend, new_database):
    """A store (on each database) and a content folder with hand-written and WordPress records."""
    store = Store(new_database(backend))
    content = tmp_path / "content"
    (content / "linkbacks").mkdir(parents=True)
    imported = {"review": "her-2013", "linkbacks": [
        {"id": "wordpress-7", "kind": "reply", "type": "reply", "source": "", "title": "", "author": "Ana",
         "excerpt": "From the old blog.", "text": "From the old blog.", "parent": None, "by_author": False,
         "date": "2012-01-01T10:00:00+00:00"},
        {"id": "hand-1", "kind": "trackback", "type": "mention", "source": "https://ana.example/",
         "title": "Ana's blog", "author": "Ana", "excerpt": "", "date": "2012-02-01T10:00:00+00:00"},
    ]}
    (content / "linkbacks" / "her-2013.json").write_text(json.dumps(imported), encoding="utf-8")
    return store, content


def test_reply_as_author_is_approved_threaded_and_marked(site):
    store, content = site
    parent = reply(store, "Lovely review.")
    answer = reply(store, "Agreed!", author="Bo", parent_id=parent)
    line = cli.reply_as_author(store.path, answer, "Thank you both.", "Marta Kowalczyk")
    row = store.list(review="her-2013")[-1]
    assert (row.by_author, row.status, row.parent_id, row.author) == (1, "approved", parent, "Marta Kowalczyk")
    assert line.startswith(f"#{row.id} ") and "approved" in line
    moderation.export(store, content, SLUGS)
    record = [r for r in approved_records(content, SLUGS)["her-2013"] if r.by_author][0]
    assert record.parent == f"receiver-{parent}" and record.text == "Thank you both."


@pytest.mark.parametrize("target, text, message", [
    (999, "Hi", "No response #999"),
    ("pending", "Hi", "is pending: approve it first"),
    ("approved", "   ", "The reply is empty"),
    ("approved", "x" * 5001, "at most 5000"),
    ("twelve", "Hi", "Response 'twelve': expected a response number"),
    ("99999999999999999999", "Hi", "expected a response number"),
])
def test_reply_as_author_refuses_with_a_message(site, target, text, message):
    store, _ = site
    ids = {"pending": reply(store, "Waiting.", status="pending"), "approved": reply(store, "Shown.")}
    with pytest.raises(cli.LinkbacksError) as info:
        cli.reply_as_author(store.path, ids.get(target, target), text, "Marta")
    assert message in str(info.value)


def test_forget_by_email_removes_the_rows_and_their_exported_records_only(site):
    store, content = site
    first = reply(store, "One.", email="ana@example.org")
    second = reply(store, "Two.", email="ANA@example.org ")
    other = reply(store, "Mine.", author="Bo", email="bo@example.org")
    answer = reply(store, "Answering Ana.", author="Bo", parent_id=first)
    moderation.export(store, content, SLUGS)
    lines = cli.forget_replies(store.path, content, email="ana@example.org")
    assert {row.id for row in store.list()} == {other, answer}
    assert store.get(answer).parent_id is None  # no thread left to hang in
    assert lines[:2] == [f"forgot reply #{first} to her-2013 by 'Ana': 'One.' (database)",
                         f"forgot reply #{second} to her-2013 by 'Ana': 'Two.' (database)"]
    assert any(f"removed receiver-{first} by 'Ana' from" in line for line in lines)
    ids = [r.id for r in approved_records(content, SLUGS)["her-2013"]]
    # Her imported reply and her trackback are not selected by e-mail (the files never hold addresses).
    assert sorted(ids) == sorted(["wordpress-7", "hand-1", f"receiver-{other}", f"receiver-{answer}"])


def test_forget_by_name_reaches_imported_replies_but_never_linkbacks(site):
    store, content = site
    mine = reply(store, "By Ana.", author="ana")
    bo = reply(store, "By Bo.", author="Bo")
    moderation.export(store, content, SLUGS)
    lines = cli.forget_replies(store.path, content, name="Ana")
    assert [row.id for row in store.list()] == [bo]
    ids = [r.id for r in approved_records(content, SLUGS)["her-2013"]]
    assert "wordpress-7" not in ids and f"receiver-{mine}" not in ids
    assert "hand-1" in ids and f"receiver-{bo}" in ids  # a trackback from her site is not a reply
    assert any("removed wordpress-7 by 'Ana'" in line for line in lines)


def test_forget_by_id_and_combined_criteria_narrow_the_selection(site):
    store, content = site
    a, b = reply(store, "First by Ana."), reply(store, "Second by Ana.")
    assert cli.forget_replies(store.path, content, name="Bo", ids=[a]) == ["No reply matched: nothing removed."]
    cli.forget_replies(store.path, content, ids=[f"#{a}", "wordpress-7"])
    assert [row.id for row in store.list()] == [b]
    assert "wordpress-7" not in [r.id for r in approved_records(content, SLUGS)["her-2013"]]


def test_forget_needs_a_criterion(site):
    store, content = site
    with pytest.raises(cli.LinkbacksError) as info:
        cli.forget_replies(store.path, content)
    assert "--email ADDRESS, --name NAME and/or --id N" in str(info.value)


def test_invoke_replies_reply_and_forget_in_a_copy_of_the_site(tmp_path):
    root = copy_site(tmp_path / "site")
    store = Store(root / "linkbacks.sqlite3")
    (root / "output").mkdir()
    write_reviews_json(root / "output" / "reviews.json")
    parent = reply(store, "A reader's reply.", email="reader@example.org")
    answered = run_invoke(root, "replies.reply", str(parent), "Thanks for reading!")
    assert answered.returncode == 0, answered.stderr
    assert "approved" in answered.stdout and "linkbacks.export" in answered.stdout
    assert store.list()[-1].author == "Marta Kowalczyk"  # AUTHOR from the settings
    exported = run_invoke(root, "linkbacks.export")
    assert exported.returncode == 0, exported.stderr
    forgotten = run_invoke(root, "replies.forget", "--email", "reader@example.org")
    assert forgotten.returncode == 0, forgotten.stderr
    assert f"forgot reply #{parent}" in forgotten.stdout and f"removed receiver-{parent}" in forgotten.stdout
    missing = run_invoke(root, "replies.forget")
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert "--email ADDRESS" in missing.stderr + missing.stdout
    by_name = run_invoke(root, "replies.forget", "--name", "Marta Kowalczyk")
    assert by_name.returncode == 0 and "forgot reply" in by_name.stdout, by_name.stderr
    assert store.list() == [] and ROOT != root


def test_serve_keeps_a_secret_beside_the_database_unless_the_environment_gives_one(tmp_path, monkeypatch):
    monkeypatch.delenv("LINKBACKS_SECRET", raising=False)
    db = tmp_path / "data" / "linkbacks.sqlite3"
    first = cli.service_secret(db)
    kept = tmp_path / "data" / "linkbacks.sqlite3.secret"
    assert len(first) >= 32 and kept.read_text().strip().encode() == first
    assert kept.stat().st_mode & 0o077 == 0  # the owner's alone
    assert cli.service_secret(db) == first  # the same after a restart: tokens and hashes stay valid
    monkeypatch.setenv("LINKBACKS_SECRET", "e" * 40)
    assert cli.service_secret(db) == b"e" * 40
    monkeypatch.setenv("LINKBACKS_SECRET", "too-short")
    with pytest.raises(cli.LinkbacksError) as info:
        cli.service_secret(db)
    assert "LINKBACKS_SECRET is 9 characters long: expected at least 32" in str(info.value)
    assert "too-short" not in str(info.value)

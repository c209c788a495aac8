"""E-mail notices against a real SMTP server on 127.0.0.1 (aiosmtpd): one
mail per pending response or a daily digest, retried while the server is
down without ever holding up or losing a response, and the one notice to a
reader whose reply was approved, after which their address is gone. The
outbox is tested on both stores (SQLite and PostgreSQL), also with two
senders on two connections to one database, as two instances are."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from linkbacks import notices
from linkbacks.store import Store
from reelnotes.settings import NoticeSettings, SettingProblem, notice_settings
from tests.linkbacks.support import ALIEN, HER, post_form, start_receiver

WRITER = "writer@reelnotes.example.org"
SENDER = "Reel Notes <notices@reelnotes.example.org>"


class Mailbox:
    """aiosmtpd handler keeping every message it accepts."""

    def __init__(self):
        self.messages = []
        self.arrived = threading.Condition()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 -- aiosmtpd's hook name
        with self.arrived:
            self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default)))
            self.arrived.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int, timeout: float = 20.0) -> list:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while len(self.messages) < count and time.monotonic() < deadline:
                self.arrived.wait(deadline - time.monotonic())
        return list(self.messages)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpServer:
    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.mailbox = Mailbox()
        self.controller = None

    def start(self):
        self.controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def settings(self, mode: str = "each") -> NoticeSettings:
        return NoticeSettings(host="127.0.0.1", port=self.port, user="", password="", security="none",
                              sender=SENDER, recipients=(WRITER,), mode=mode)


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def store(backend, new_database):
    store = Store(new_database(backend))
    yield store
    store.close()


def add(store, n, review="her-2013", **fields):
    values = dict(review=review, source=f"https://blog{n}.example/post", target=HER, kind="pingback",
                  title=f"Post {n}", author=f"Blog {n}", excerpt=f"Excerpt number {n}.")
    values.update(fields)
    return store.add(**values)


def body(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def test_each_pending_response_mails_the_writer_with_review_kind_and_excerpt(pages, tmp_path, smtp, backend,
                                                                          new_database):
    source = pages.page_linking(f"/notices/tb/{backend}", HER, title="My take on Her")
    db = new_database(backend)
    with start_receiver(tmp_path, notices=smtp.settings(), db=db) as running:
        assert post_form(running.port, "/trackback/her-2013", {"url": source}).status == 200
        assert post_form(running.port, "/webmention", {"source": pages.page_linking(f"/notices/wm/{backend}", ALIEN),
                                                       "target": ALIEN}).status == 202
        mails = smtp.mailbox.wait_for(2)
    assert len(mails) == 2
    (to, trackback), (_, webmention) = sorted(mails, key=lambda m: m[1]["Subject"])
    assert to == [WRITER] and trackback["From"] == SENDER
    assert trackback["Subject"].startswith("New trackback on her-2013 waits for moderation")
    text = body(trackback)
    assert "her-2013" in text and "trackback" in text and source in text and '"My take on Her"' in text
    assert "excerpt: I wrote about this review" in text and "held:    first linkback from this site" in text
    assert "invoke linkbacks.approve" in text
    assert webmention["Subject"].startswith("New webmention on alien-1979")
    store = Store(db)
    assert [n.outcome for n in store.notices()] == ["sent", "sent"]
    store.close()


def test_the_daily_digest_groups_the_waiting_responses_by_review(store, smtp):
    settings = smtp.settings(mode="daily")
    add(store, 1), add(store, 2), add(store, 3, review="alien-1979", source="https://a.example/x")
    now = datetime.now(UTC)
    report = notices.send_due(store, settings, now=now)
    assert (report.mails, report.notices) == (1, 3)
    (to, digest), = smtp.mailbox.messages
    assert to == [WRITER] and digest["Subject"] == "3 new response(s) wait for moderation"
    text = body(digest)
    assert "== alien-1979 (1) ==" in text and "== her-2013 (2) ==" in text
    assert text.index("== alien-1979") < text.index("https://a.example/x") < text.index("== her-2013")
    assert "Excerpt number 1." in text and "Excerpt number 2." in text
    # A response arriving later waits for the next day's digest.
    add(store, 4)
    assert notices.send_due(store, settings, now=now + timedelta(hours=2)).waiting == 1
    assert notices.send_due(store, settings, now=now + timedelta(hours=23)).mails == 0
    assert notices.send_due(store, settings, now=now + timedelta(hours=24, minutes=1)).mails == 1
    assert "Excerpt number 4." in body(smtp.mailbox.messages[-1][1])
    assert len(smtp.mailbox.messages) == 2


def test_a_response_is_stored_while_smtp_is_down_and_its_notice_arrives_when_it_comes_back(pages, tmp_path):
    smtp = SmtpServer()  # not started: connections to its port are refused
    source = pages.page_linking("/notices/down", HER)
    with start_receiver(tmp_path, notices=smtp.settings(), notice_interval=0.2) as running:
        started = time.monotonic()
        reply = post_form(running.port, "/trackback/her-2013", {"url": source})
        answered = time.monotonic() - started
        assert reply.status == 200 and b"<error>0</error>" in reply.body
        store = running.app.store
        deadline = time.monotonic() + 10
        while not store.notices()[0].attempts and time.monotonic() < deadline:
            time.sleep(0.05)
        (notice,) = store.notices()
    assert answered < 5  # the request only queued the notice
    assert store.find("her-2013", source).status == "pending"
    assert notice.done is None and notice.attempts >= 1 and "Connection refused" in notice.outcome
    smtp.start()
    try:
        when = datetime.fromisoformat(notice.next_attempt)
        assert notices.send_due(store, smtp.settings(), now=when - timedelta(seconds=1)).mails == 0  # not yet
        report = notices.send_due(store, smtp.settings(), now=when)
        assert (report.mails, report.failed) == (1, 0)
        assert source in body(smtp.mailbox.messages[0][1])
    finally:
        smtp.stop()
    assert store.notices()[0].outcome == "sent"


def test_backoff_doubles_from_a_minute_up_to_six_hours():
    assert [notices.backoff(n) for n in (1, 2, 3, 10, 30)] == [60, 120, 240, 6 * 3600, 6 * 3600]


def test_an_approved_reply_notifies_its_reader_once_and_forgets_the_address(store, smtp):
    reply = add(store, 1, kind="reply", source="", author="Ann", excerpt="Loved it.")
    with store._write() as conn:  # what the reply form stores when the reader asks for a notice
        conn.execute("UPDATE linkbacks SET email = 'ann@reader.example' WHERE id = ?", (reply,))
    store.set_status(reply, "rejected")
    store.set_status(reply, "approved")
    store.set_status(reply, "approved")  # approving twice queues one notice
    assert [n.kind for n in store.notices()] == ["new-response", "reply-approved"]
    report = notices.send_due(store, smtp.settings())
    assert (report.mails, report.settled) == (1, 1)  # the writer's notice: already moderated
    (to, mail), = smtp.mailbox.messages
    assert to == ["ann@reader.example"] and mail["To"] == "ann@reader.example"
    assert mail["Subject"] == "Your reply has been approved"
    assert "Hello Ann" in body(mail) and HER in body(mail) and "deleted" in body(mail)
    assert store.get(reply).email == ""
    assert notices.send_due(store, smtp.settings(), now=datetime.now(UTC) + timedelta(days=2)).mails == 0


def test_a_response_moderated_before_its_notice_needs_none(store, smtp):
    store.set_status(add(store, 1), "spam")
    report = notices.send_due(store, smtp.settings())
    assert (report.mails, report.settled) == (0, 1)
    assert smtp.mailbox.messages == []


def test_a_flood_in_each_mode_becomes_one_digest(store, smtp):
    for n in range(notices.EACH_LIMIT + 2):
        add(store, n)
    assert notices.send_due(store, smtp.settings()).mails == 1
    assert smtp.mailbox.messages[0][1]["Subject"] == f"{notices.EACH_LIMIT + 2} new response(s) wait for moderation"


def test_two_senders_at_once_send_each_notice_once(store, smtp):
    for n in range(6):
        add(store, n)
    threads = [threading.Thread(target=notices.send_due, args=(store, smtp.settings())) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(m[1]["Subject"] for m in smtp.mailbox.messages) == sorted(
        f"New pingback on her-2013 waits for moderation (#{n})" for n in range(1, 7))


def test_senders_of_several_instances_share_the_outbox_and_send_each_notice_once(store, smtp):
    """Four senders, each with its own store (connections) on one database, as
    the receivers of four instances are, race over 40 notices: each is
    claimed once, and a notice a dead sender still holds is taken only once
    its lease has run out."""
    for n in range(40):
        add(store, n, review=("her-2013", "alien-1979")[n % 2])
    held = store.claim_notices(datetime.now(UTC), sender="instance-that-died")[:1]
    with store._write() as conn:  # give back all but the first; the first stays claimed by the dead sender
        conn.execute("UPDATE notices SET claimed_by = '', claimed_at = NULL WHERE id <> ?", (held[0].id,))
    senders = [Store(store.path) for _ in range(4)]
    start = threading.Barrier(len(senders))
    reports = []

    def send(sender_store, n):
        start.wait()
        # Small batches, so the senders take turns rather than one taking everything.
        for _ in range(20):
            claimed = sender_store.claim_notices(datetime.now(UTC), limit=3, sender=f"instance-{n}")
            if not claimed:
                break
            reports.append((n, [notice.id for notice in claimed]))
            sender_store.finish_notices([notice.id for notice in claimed], "sent", datetime.now(UTC))

    threads = [threading.Thread(target=send, args=(s, n)) for n, s in enumerate(senders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for sender_store in senders:
        sender_store.close()
    sent = [notice_id for _, ids in reports for notice_id in ids]
    assert sorted(sent) == [n.id for n in store.notices()][1:]  # each once; the held one by nobody
    # Its lease runs out (its sender died): the next sender takes it, and sends it.
    report = notices.send_due(store, smtp.settings(), now=datetime.now(UTC) + timedelta(minutes=10))
    assert (report.mails, report.notices) == (1, 1)
    assert [n.done is not None for n in store.notices()] == [True] * 40


def test_the_notify_command_sends_what_is_due_for_cron(store, smtp):
    add(store, 1)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LINKBACKS_")}
    environ.update(LINKBACKS_SMTP_HOST="127.0.0.1", LINKBACKS_SMTP_PORT=str(smtp.port),
                   LINKBACKS_SMTP_SECURITY="none", LINKBACKS_NOTIFY_FROM=SENDER, LINKBACKS_NOTIFY_TO=WRITER,
                   LINKBACKS_DB=store.path)
    done = subprocess.run([sys.executable, "-m", "linkbacks.cli", "notify", "--json"], env=environ,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["mails"] == 1
    assert len(smtp.mailbox.messages) == 1
    off = subprocess.run([sys.executable, "-m", "linkbacks.cli", "notify"], capture_output=True, text=True,
                         env=dict(environ, LINKBACKS_SMTP_HOST=""), timeout=60)
    assert off.returncode == 1 and off.stderr.startswith("LINKBACKS_SMTP_HOST is not set")


@pytest.mark.parametrize("changes, message", [
    ({"LINKBACKS_SMTP_SECURITY": "tls"}, "LINKBACKS_SMTP_SECURITY: 'tls': expected one of starttls, ssl, none"),
    ({"LINKBACKS_SMTP_PORT": "smtp"}, "LINKBACKS_SMTP_PORT: 'smtp': expected a port number"),
    ({"LINKBACKS_NOTIFY_TO": "nobody"}, "LINKBACKS_NOTIFY_TO: 'nobody': expected the writer's address"),
    ({"LINKBACKS_NOTIFY_FROM": ""}, "LINKBACKS_NOTIFY_FROM: '': expected the address notices come from"),
    ({"LINKBACKS_NOTIFY_MODE": "weekly"}, "LINKBACKS_NOTIFY_MODE: 'weekly': expected each"),
])
def test_a_bad_notice_setting_is_named(changes, message):
    settings = {"LINKBACKS_SMTP_HOST": "smtp.example.org", "LINKBACKS_NOTIFY_FROM": SENDER,
                "LINKBACKS_NOTIFY_TO": WRITER}
    with pytest.raises(SettingProblem) as info:
        notice_settings(settings, changes)  # the environment wins over publishconf.py
    assert str(info.value).startswith(message)


def test_the_password_comes_only_from_the_environment():
    settings = {"LINKBACKS_SMTP_HOST": "smtp.example.org", "LINKBACKS_SMTP_USER": "marta",
                "LINKBACKS_SMTP_PASSWORD": "in-a-file", "LINKBACKS_NOTIFY_FROM": SENDER, "LINKBACKS_NOTIFY_TO": WRITER}
    assert notice_settings(settings, {}).password == ""
    assert notice_settings(settings, {"LINKBACKS_SMTP_PASSWORD": "s3cret"}).password == "s3cret"
    assert notice_settings({}, {}) is None


def test_the_wsgi_receiver_reads_its_notice_settings_from_the_environment(tmp_path, monkeypatch):
    environ = {"LINKBACKS_DB": str(tmp_path / "db.sqlite3"), "LINKBACKS_REVIEWS_JSON": str(tmp_path / "r.json"),
               "LINKBACKS_SITE_URL": "https://reelnotes.example.org", "LINKBACKS_SMTP_HOST": "smtp.example.org",
               "LINKBACKS_SMTP_PORT": "465", "LINKBACKS_SMTP_SECURITY": "ssl", "LINKBACKS_SMTP_USER": "marta",
               "LINKBACKS_SMTP_PASSWORD": "s3cret", "LINKBACKS_NOTIFY_FROM": SENDER,
               "LINKBACKS_NOTIFY_TO": f"{WRITER}, second@example.org", "LINKBACKS_NOTIFY_MODE": "daily",
               "LINKBACKS_SECRET": "s" * 40}
    for name in ("LINKBACKS_DB", "LINKBACKS_REVIEWS_JSON", "LINKBACKS_SITE_URL", "LINKBACKS_SECRET"):
        monkeypatch.setenv(name, environ[name])  # importing the module checks its own environment
    from linkbacks.wsgi import config_from_env

    assert config_from_env(environ).notices == NoticeSettings(
        host="smtp.example.org", port=465, user="marta", password="s3cret", security="ssl", sender=SENDER,
        recipients=(WRITER, "second@example.org"), mode="daily")
    assert config_from_env(dict(environ, LINKBACKS_SMTP_HOST="")).notices is None

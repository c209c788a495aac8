"""E-mail notices of responses, sent from the outbox in the store.

The receiver's request path only ever inserts into the outbox
(``Store.add`` queues a ``new-response`` notice in the same transaction as
the response; approving a reply whose reader left an address queues a
``reply-approved`` one). Sending happens apart from it, in ``send_due``:

* by the receiver's ``NoticeWorker`` thread, started with the receiver
  (lazily, like the webmention workers) and woken when a notice is queued;
* by ``python -m linkbacks.cli notify``, for cron (the daily digest, or as
  the only sender when the receiver runs without notice settings).

Two senders -- threads, the cron job, or the receivers of several
instances sharing a PostgreSQL database -- never send one notice twice:
``Store.claim_notices`` claims what it hands out, as the webmention workers
claim their rows. A send that fails (server down, refused, timed out) leaves the
notice in the outbox with a later attempt (``backoff``: 1 minute, doubling,
at most 6 hours); the response itself was stored long before and is never
touched by a failure here.

Notices to the writer (``LINKBACKS_NOTIFY_TO``): one mail per pending
response (mode ``each``; more than ``EACH_LIMIT`` at once become one digest
instead of a flood), or one digest a day (mode ``daily``), grouped by
review. A response moderated before its notice went out needs none. A
reader whose reply was approved gets one mail at the address they left; the
address is cleared from the store as soon as it has been sent.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from reelnotes.settings import NoticeSettings

from .listing import format_response, terminal_text
from .queue import response_fields
from .store import Notice, Store, StoredLinkback
from .workers import worker_name

logger = logging.getLogger(__name__)

EACH_LIMIT = 10  # more new responses than this at once: one digest instead
DIGEST_EVERY = timedelta(days=1)
LAST_DIGEST = "last-digest"  # notice_state key
SMTP_TIMEOUT = 20.0
MODERATE_HINT = ("Moderate from your machine: invoke linkbacks.list, then invoke linkbacks.approve NUMBER "
                 "(or reject, spam, forget), and invoke linkbacks.export to put the approved ones on the site.")


def backoff(attempts: int) -> float:
    """Seconds before the next try after ``attempts`` failed ones."""
    return float(min(60 * 2 ** (attempts - 1), 6 * 3600))


@dataclass
class SendReport:
    mails: int = 0  # e-mails the SMTP server accepted
    notices: int = 0  # notices those mails delivered
    settled: int = 0  # notices no longer needed (already moderated, no address)
    waiting: int = 0  # notices put back: the digest is not due yet
    failed: int = 0  # notices to try again later
    error: str = ""
    retry_at: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

    def merge_failure(self, count: int, error: str, retry_at: datetime | None) -> None:
        self.failed += count
        self.error = error
        if retry_at is not None:
            stamp = retry_at.isoformat()
            self.retry_at = stamp if self.retry_at is None else min(self.retry_at, stamp)


class Mailer:
    """One SMTP connection for a batch, opened at the first message."""

    def __init__(self, settings: NoticeSettings, timeout: float = SMTP_TIMEOUT):
        self.settings = settings
        self.timeout = timeout
        self._smtp = None

    def _connect(self):
        s = self.settings
        context = ssl.create_default_context()
        if s.security == "ssl":
            smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=self.timeout, context=context)
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=self.timeout)
            if s.security == "starttls":
                smtp.starttls(context=context)
        if s.user:
            smtp.login(s.user, s.password)
        return smtp

    def send(self, message: EmailMessage) -> None:
        if self._smtp is None:
            self._smtp = self._connect()
        self._smtp.send_message(message)

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None


def _message(settings: NoticeSettings, to: tuple[str, ...] | str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = ", ".join(to) if isinstance(to, tuple) else to
    message["Subject"] = terminal_text(subject, 200)
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=parseaddr(settings.sender)[1].rpartition("@")[2] or None)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to this
    message.set_content(body)
    return message


def response_mail(settings: NoticeSettings, row: StoredLinkback) -> EmailMessage:
    """To the writer: one response waits."""
    kind = "reply" if row.kind == "reply" else row.kind
    subject = f"New {kind} on {row.review} waits for moderation (#{row.id})"
    body = "\n\n".join(["A new response waits for moderation:", format_response(response_fields(row)),
                        MODERATE_HINT]) + "\n"
    return _message(settings, settings.recipients, subject, body)


def digest_mail(settings: NoticeSettings, rows: list[StoredLinkback]) -> EmailMessage:
    """To the writer: every waiting response in one mail, grouped by review."""
    by_review: dict[str, list[StoredLinkback]] = defaultdict(list)
    for row in rows:
        by_review[row.review].append(row)
    parts = [f"{len(rows)} new response(s) wait for moderation, on {len(by_review)} review(s)."]
    for review in sorted(by_review):
        group = by_review[review]
        parts.append(f"== {terminal_text(review)} ({len(group)}) ==\n"
                     + "\n\n".join(format_response(response_fields(row)) for row in group))
    parts.append(MODERATE_HINT)
    subject = f"{len(rows)} new response(s) wait for moderation"
    return _message(settings, settings.recipients, subject, "\n\n".join(parts) + "\n")


def reader_mail(settings: NoticeSettings, row: StoredLinkback) -> EmailMessage:
    """To the reader whose reply was approved, at the address they left."""
    name = terminal_text(row.author, 60)
    body = (f"Hello{' ' + name if name else ''},\n\n"
            f"your reply to the review {row.target} has been approved. It appears on the review's page "
            "when the site is next published.\n\n"
            "You asked for this one notice when you sent your reply; your e-mail address has now been "
            "deleted, and you will get no other mail from us.\n")
    return _message(settings, row.email, "Your reply has been approved", body)


def _failure_text(exc: Exception) -> str:
    text = f"{type(exc).__name__}: {exc}".splitlines()[0]
    return terminal_text(text, 300)


def _permanent(exc: Exception) -> bool:
    """The server refused the recipient for good (5xx): retrying cannot help."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    return False


def send_due(store: Store, settings: NoticeSettings, now: datetime | None = None, digest_now: bool = False,
             mailer: Mailer | None = None, sender: str = "") -> SendReport:
    """Send every notice that is due at ``now``; see the module docstring.
    Never raises for a mail that cannot be sent: it is counted in the report
    and stays in the outbox for a later attempt. ``sender`` names who holds
    the claims (default: this host and process)."""
    now = now or datetime.now(UTC)
    report = SendReport()
    claimed = store.claim_notices(now, sender=sender or worker_name())
    if not claimed:
        return report
    mailer = mailer or Mailer(settings)
    try:
        _send_to_writer(store, settings, mailer, [n for n in claimed if n.kind == "new-response"], now,
                        digest_now, report)
        _send_to_readers(store, settings, mailer, [n for n in claimed if n.kind == "reply-approved"], now, report)
    finally:
        mailer.close()
    if report.failed:
        logger.warning("notices: %d not sent (%s); next try at %s", report.failed, report.error, report.retry_at)
    return report


def _deliver(store: Store, mailer: Mailer, message: EmailMessage, notices: list[Notice], now: datetime,
             report: SendReport, clear_email_of: int | None = None) -> bool:
    try:
        mailer.send(message)
    except (smtplib.SMTPException, OSError) as exc:  # OSError covers refused and timed out
        error = _failure_text(exc)
        mailer.close()  # a broken connection is not reused for the next message
        if _permanent(exc):
            store.finish_notices([n.id for n in notices], f"refused: {error}", now, clear_email_of)
            report.settled += len(notices)
            return False
        retry_at = store.retry_notices([n.id for n in notices], error, now, backoff)
        report.merge_failure(len(notices), error, retry_at)
        return False
    store.finish_notices([n.id for n in notices], "sent", now, clear_email_of)
    report.mails += 1
    report.notices += len(notices)
    return True


def _send_to_writer(store, settings, mailer, notices, now, digest_now, report) -> None:
    waiting: list[tuple[Notice, StoredLinkback]] = []
    for notice in notices:
        row = store.get(notice.linkback_id)
        if row is None or row.status != "pending":
            store.finish_notices([notice.id], "settled: moderated before the notice went out", now)
            report.settled += 1
        else:
            waiting.append((notice, row))
    if not waiting:
        return
    if settings.mode == "daily":
        last = store.state(LAST_DIGEST)
        due_at = datetime.fromisoformat(last) + DIGEST_EVERY if last else now
        if not digest_now and now < due_at:
            store.postpone_notices([n.id for n, _ in waiting], due_at)
            report.waiting += len(waiting)
            return
    if settings.mode == "daily" or len(waiting) > EACH_LIMIT:
        if _deliver(store, mailer, digest_mail(settings, [row for _, row in waiting]), [n for n, _ in waiting],
                    now, report):
            store.set_state(LAST_DIGEST, now.isoformat())
        return
    for notice, row in waiting:
        _deliver(store, mailer, response_mail(settings, row), [notice], now, report)


def _send_to_readers(store, settings, mailer, notices, now, report) -> None:
    for notice in notices:
        row = store.get(notice.linkback_id)
        if row is None or not row.email:
            store.finish_notices([notice.id], "settled: no address", now)
            report.settled += 1
        elif row.status != "approved":
            store.finish_notices([notice.id], "settled: no longer approved", now)
            report.settled += 1
        else:
            _deliver(store, mailer, reader_mail(settings, row), [notice], now, report, clear_email_of=row.id)


class NoticeWorker:
    """The receiver's sender: a daemon thread that sends what is due when
    woken (a notice was queued) and every ``interval`` seconds (retries, the
    digest). Started by ``start()``, never when made."""

    def __init__(self, store: Store, settings: NoticeSettings, interval: float = 30.0):
        self.store = store
        self.settings = settings
        self.interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.name = worker_name()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="notices", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=SMTP_TIMEOUT + 5)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                send_due(self.store, self.settings, sender=self.name)
            except Exception:  # a bug here must not end the thread: the outbox keeps everything
                logger.exception("notices: sending failed")
            self._wake.wait(self.interval)

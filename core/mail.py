"""An outbox for e-mail: a message is stored first and sent afterwards, so that nothing is lost
when the mail server is down and nothing is sent twice when two deliverers run at once.

A deliverer claims one message at a time (queued -> sending) and commits the claim before it
talks SMTP; a failed send puts the message back in the queue with its error. On PostgreSQL the
claim reads the next message with `SELECT ... FOR UPDATE SKIP LOCKED`: a row another deliverer
is claiming at that moment is locked, so it is passed over, never waited on and never taken by
both; once that claim commits the row is no longer deliverable. On SQLite the claim's write
transaction (BEGIN IMMEDIATE) lets one deliverer claim at a time. The steps are here; the
delivery job (`ops.jobs.deliver_job`) commits between them. A claim left behind by a deliverer
that died mid-send is taken back after CLAIM_TIMEOUT: a message may then, rarely, go out twice,
but it is never lost.
"""

import enum
import logging
import smtplib
from datetime import datetime, timedelta
from email.message import EmailMessage

from flask import current_app
from sqlalchemy import JSON, Index, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import utcnow
from core.database import UTCDateTime, db, value_enum

log = logging.getLogger(__name__)

CLAIM_TIMEOUT = timedelta(minutes=15)


class OutboxStatus(enum.StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"


class OutboxMessage(db.Model):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    # Files sent with the message: [{filename, content_type, content}], text content (an
    # iCalendar invitation), stored with the message so that a retry sends the same files.
    attachments: Mapped[list | None] = mapped_column(JSON)
    status: Mapped[OutboxStatus] = mapped_column(
        value_enum(OutboxStatus), default=OutboxStatus.QUEUED
    )
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def queue_message(
    recipient: str, subject: str, *, body: str, attachments: list[dict] | None = None
) -> OutboxMessage:
    """Store a message for the delivery job. Line breaks in the recipient or the subject (a
    product named with one) become spaces: a value never starts a header of its own.
    `attachments` are text files: {filename, content_type ("text/calendar"), content}."""
    message = OutboxMessage(
        recipient=_one_line(recipient)[:254],
        subject=_one_line(subject)[:200],
        body=body,
        attachments=attachments or None,
    )
    db.session.add(message)
    db.session.flush()
    return message


def _one_line(text: str) -> str:
    return " ".join(text.split())


def mail_server_configured() -> bool:
    return bool(current_app.config.get("MAIL_SERVER"))


def queued_count() -> int:
    return db.session.scalar(
        select(db.func.count()).where(OutboxMessage.status == OutboxStatus.QUEUED)
    )


def claim_next(after_id: int = 0) -> OutboxMessage | None:
    """Take the oldest deliverable message with an id past `after_id` for sending (queued ->
    sending), claims abandoned by a dead deliverer included; None when none is left. The
    caller commits the claim before it talks SMTP."""
    message = db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.id > after_id, _deliverable())
        .order_by(OutboxMessage.id)
        .limit(1)
        # Ignored on SQLite, whose write transaction already admits one claimer at a time.
        .with_for_update(skip_locked=True)
    ).first()
    if message is None:
        return None
    message.status = OutboxStatus.SENDING
    message.claimed_at = utcnow()
    db.session.flush()
    return message


def compose(message: OutboxMessage) -> EmailMessage:
    """The e-mail of a message, built while its claim is open, so that no transaction stays
    open while SMTP talks."""
    config = current_app.config
    email = EmailMessage()
    email["From"] = config["MAIL_FROM"]
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Message-ID"] = f"<outbox-{message.id}@serum-formulary>"
    email.set_content(message.body)
    for attachment in message.attachments or ():
        maintype, subtype = attachment["content_type"].split("/", 1)
        email.add_attachment(
            attachment["content"].encode(),
            maintype=maintype,
            subtype=subtype,
            filename=attachment["filename"],
        )
    return email


def send(email: EmailMessage) -> Exception | None:
    """Hand the e-mail to the SMTP server; answers the error when that failed."""
    config = current_app.config
    try:
        with smtplib.SMTP(
            config["MAIL_SERVER"], config["MAIL_PORT"], timeout=config["MAIL_TIMEOUT"]
        ) as smtp:
            smtp.send_message(email)
    except (OSError, smtplib.SMTPException) as error:
        log.warning("outbox message %s not sent: %s", email["Message-ID"], error)
        return error
    return None


def record_attempt(message_id: int, error: Exception | None) -> None:
    """Sent, or back in the queue with the error, for the next delivery to try again."""
    message = db.session.get(OutboxMessage, message_id)
    message.attempts += 1
    if error is None:
        message.status = OutboxStatus.SENT
        message.sent_at = utcnow()
        message.last_error = None
    else:
        message.status = OutboxStatus.QUEUED
        message.last_error = f"{type(error).__name__}: {error}"[:1000]
    db.session.flush()


def _deliverable():
    abandoned = (OutboxMessage.status == OutboxStatus.SENDING) & (
        OutboxMessage.claimed_at < utcnow() - CLAIM_TIMEOUT
    )
    return (OutboxMessage.status == OutboxStatus.QUEUED) | abandoned

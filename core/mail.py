"""An outbox for e-mail: a message is stored first and sent afterwards, so that nothing is lost
when the mail server is down and nothing is sent twice when two deliverers run at once.

Messages are claimed one by one with a conditional UPDATE (queued -> sending) before they are
handed to SMTP; a failed send puts the message back in the queue with its error. The steps are
here; the delivery job (`ops.jobs.deliver_job`) commits between them. A claim left
behind by a deliverer that died mid-send is taken back after CLAIM_TIMEOUT: a message may then,
rarely, go out twice, but it is never lost.
"""

import enum
import logging
import smtplib
from datetime import datetime, timedelta
from email.message import EmailMessage

from flask import current_app
from sqlalchemy import Index, String, Text, select, update
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
    status: Mapped[OutboxStatus] = mapped_column(
        value_enum(OutboxStatus), default=OutboxStatus.QUEUED
    )
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def queue_message(recipient: str, subject: str, *, body: str) -> OutboxMessage:
    """Store a message for the delivery job. Line breaks in the recipient or the subject (a
    product named with one) become spaces: a value never starts a header of its own."""
    message = OutboxMessage(
        recipient=_one_line(recipient)[:254], subject=_one_line(subject)[:200], body=body
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


def deliverable_ids() -> list[int]:
    """Messages waiting to be sent (claims abandoned by a dead deliverer included), oldest
    first."""
    return db.session.scalars(
        select(OutboxMessage.id).where(_deliverable()).order_by(OutboxMessage.id)
    ).all()


def claim(message_id: int) -> OutboxMessage | None:
    """Take the message for sending (queued -> sending), or None when another deliverer has
    it. The caller commits the claim before it talks SMTP."""
    claimed = db.session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, _deliverable())
        .values(status=OutboxStatus.SENDING, claimed_at=utcnow())
    ).rowcount
    return db.session.get(OutboxMessage, message_id) if claimed == 1 else None


def send(message: OutboxMessage) -> Exception | None:
    """Hand the message to the SMTP server; answers the error when that failed."""
    try:
        _send(message)
    except (OSError, smtplib.SMTPException) as error:
        log.warning("outbox message %s not sent: %s", message.id, error)
        return error
    return None


def record_attempt(message: OutboxMessage, error: Exception | None) -> None:
    """Sent, or back in the queue with the error, for the next delivery to try again."""
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


def _send(message: OutboxMessage) -> None:
    config = current_app.config
    email = EmailMessage()
    email["From"] = config["MAIL_FROM"]
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Message-ID"] = f"<outbox-{message.id}@serum-formulary>"
    email.set_content(message.body)
    with smtplib.SMTP(
        config["MAIL_SERVER"], config["MAIL_PORT"], timeout=config["MAIL_TIMEOUT"]
    ) as smtp:
        smtp.send_message(email)

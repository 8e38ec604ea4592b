"""The mail outbox: stored first, sent over real SMTP, kept when the server is down, sent once."""

import socket

from sqlalchemy import select

from core.database import db
from core.mail import OutboxMessage, OutboxStatus, queue_message
from ops.jobs import deliver_job
from tests.mailserver import smtp_server
from tests.servers import free_port


def test_queued_messages_are_sent_over_smtp_and_never_twice(mail_config):
    queue_message("admin@clinic.example", "Digest 1", body="three lots expire")
    queue_message("pharma@clinic.example", "Digest 2", body="one recall")
    db.session.commit()
    with smtp_server() as (port, mailbox):
        mail_config(port)
        assert deliver_job() == {"sent": 2, "failed": 0, "queued": 0}
        assert deliver_job() == {"sent": 0, "failed": 0, "queued": 0}
    assert sorted(m["Subject"] for m in mailbox.messages) == ["Digest 1", "Digest 2"]
    assert mailbox.messages[0]["To"] == "admin@clinic.example"
    assert "three lots expire" in mailbox.messages[0].get_payload()


def test_a_message_stays_queued_while_the_server_is_down_and_arrives_once_after(mail_config):
    message = queue_message("admin@clinic.example", "Digest", body="body")
    db.session.commit()
    port = free_port()
    mail_config(port)
    assert deliver_job() == {"sent": 0, "failed": 1, "queued": 1}
    stored = db.session.get(OutboxMessage, message.id)
    assert stored.status == OutboxStatus.QUEUED
    assert stored.attempts == 1 and "Connection" in stored.last_error
    with smtp_server(port) as (_, mailbox):
        assert deliver_job()["sent"] == 1
        assert deliver_job()["sent"] == 0
    assert len(mailbox.messages) == 1
    assert db.session.get(OutboxMessage, message.id).sent_at is not None


def test_without_a_mail_server_messages_wait_in_the_outbox():
    queue_message("admin@clinic.example", "Digest", body="body")
    db.session.commit()
    assert deliver_job() == {"sent": 0, "failed": 0, "queued": 1}
    statuses = db.session.scalars(select(OutboxMessage.status)).all()
    assert statuses == [OutboxStatus.QUEUED]


def test_a_message_claimed_by_another_deliverer_is_not_sent_again(mail_config):
    message = queue_message("admin@clinic.example", "Digest", body="body")
    message.status = OutboxStatus.SENDING  # another process is sending it right now
    message.claimed_at = db.func.now()
    db.session.commit()
    with smtp_server() as (port, mailbox):
        mail_config(port)
        assert deliver_job()["sent"] == 0
    assert mailbox.messages == []


def test_a_line_break_in_a_subject_never_makes_a_header_of_its_own(mail_config):
    queue_message("admin@clinic.example", "Recall of Lido\r\nBcc: thief@evil.example", body="body")
    db.session.commit()
    with smtp_server() as (port, mailbox):
        mail_config(port)
        assert deliver_job()["sent"] == 1
    (message,) = mailbox.messages
    assert message["Subject"] == "Recall of Lido Bcc: thief@evil.example"
    assert message["Bcc"] is None


def test_a_server_that_never_answers_leaves_the_message_queued_after_the_timeout(app, mail_config):
    message = queue_message("admin@clinic.example", "Digest", body="body")
    db.session.commit()
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never says a word
        mail_config(silent.getsockname()[1])
        app.config["MAIL_TIMEOUT"] = 0.5
        try:
            assert deliver_job() == {"sent": 0, "failed": 1, "queued": 1}
        finally:
            app.config["MAIL_TIMEOUT"] = 5
    assert "timed out" in db.session.get(OutboxMessage, message.id).last_error

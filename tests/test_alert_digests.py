"""Alert e-mail (SPEC 3.7): one digest per recipient per scan (in a chain, one per site), through
the outbox, over a real SMTP server on loopback; kept while the server is down, sent exactly
once after."""

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from core.database import db
from core.mail import OutboxMessage, OutboxStatus
from inventory import lots
from inventory.alerts import notifications, scan
from ops.jobs import run_scan_job
from tests import factories
from tests.mailserver import smtp_server
from tests.servers import free_port

AS_OF = date(2025, 6, 1)


def outbox() -> list[OutboxMessage]:
    return db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()


def two_expiring_lots():
    product = factories.make_product(kind="consumable", name="Mesoneedle 4 mm", unit="box")
    soon = factories.make_lot(product, lot_number="N-7", quantity="3", expiry_date=date(2025, 6, 5))
    later = factories.make_lot(product, lot_number="N-30", expiry_date=date(2025, 6, 25))
    return soon, later


def test_a_scan_dated_ahead_says_so_in_its_digest_and_in_the_scan_history(client):
    admin = factories.make_user(role="admin")
    two_expiring_lots()
    scan(AS_OF, now=datetime(2025, 5, 20, 6, tzinfo=UTC))  # a look at what 1 June raises
    db.session.commit()
    (message,) = outbox()
    dated = "1 Jun 2025 (a look ahead, run on 20 May 2025)"
    assert message.subject == f"Alerts of {dated}: 2 expiring"
    assert f"The alert scan of {dated} found 2 new alert(s)" in message.body
    client.post("/login", data={"username": admin.username, "password": factories.DEFAULT_PASSWORD})
    assert f"<td>{dated}</td>" in client.get("/admin").get_data(as_text=True)


def test_a_scan_queues_one_digest_per_recipient_admins_and_those_who_opted_in():
    admin = factories.make_user(role="admin", email="boss@clinic.example")
    factories.make_user(role="admin", email=None)
    factories.make_user(role="admin", email="gone@clinic.example", active=False)
    pharmacist = factories.make_user(role="pharmacist", alert_emails=True)
    factories.make_user(role="doctor", email="doc@clinic.example")  # did not opt in
    factories.make_user(role="doctor", email="boss@clinic.example", alert_emails=True)
    two_expiring_lots()
    scan(AS_OF)
    db.session.commit()
    assert sorted(m.recipient for m in outbox()) == sorted([admin.email, pharmacist.email])
    assert {m.status for m in outbox()} == {OutboxStatus.QUEUED}


def test_a_digest_lists_kind_product_lot_number_effective_expiry_and_quantity():
    factories.make_user(role="admin")
    two_expiring_lots()
    scan(AS_OF, now=datetime(2025, 6, 1, 6, tzinfo=UTC))
    db.session.commit()
    (message,) = outbox()
    assert message.subject == "Alerts of 1 Jun 2025: 2 expiring"
    lines = [line for line in message.body.splitlines() if line.startswith("- ")]
    assert lines == [
        "- expiring: Mesoneedle 4 mm; lot N-7; effective expiry 2025-06-05; quantity 3 box; "
        "within 7 days",
        "- expiring: Mesoneedle 4 mm; lot N-30; effective expiry 2025-06-25; quantity 10 box; "
        "within 30 days",
    ]


def test_a_scan_that_finds_nothing_new_queues_no_digest():
    factories.make_user(role="admin")
    two_expiring_lots()
    scan(AS_OF)
    scan(AS_OF + timedelta(days=1))
    db.session.commit()
    assert len(outbox()) == 1


def test_without_recipients_the_alerts_are_stored_and_nothing_is_queued():
    two_expiring_lots()
    run = scan(AS_OF)
    db.session.commit()
    assert run.counts["expiring"] == 2 and outbox() == []


def test_a_long_digest_names_how_many_more_wait_in_the_inbox(monkeypatch):
    monkeypatch.setattr(notifications, "DIGEST_MAX_LINES", 1)
    factories.make_user(role="admin")
    two_expiring_lots()
    scan(AS_OF)
    db.session.commit()
    (message,) = outbox()
    assert "lot N-7" in message.body and "lot N-30" not in message.body
    assert "... and 1 more in the alert inbox." in message.body


def test_a_recall_queues_its_notice_at_once_for_the_next_delivery():
    admin = factories.make_user(role="admin")
    lot = factories.make_lot(lot_number="R-1")
    lots.recall(lot.id, "sterility failure", now=datetime(2025, 6, 1, tzinfo=UTC))
    db.session.commit()
    (message,) = outbox()
    assert message.recipient == admin.email
    assert message.subject.startswith("Recall: lot R-1 of ")
    assert "- recall:" in message.body and "lot R-1" in message.body


def test_the_scan_sends_its_digests_over_smtp_once(mail_config):
    admin = factories.make_user(role="admin")
    pharmacist = factories.make_user(role="pharmacist", alert_emails=True)
    two_expiring_lots()
    with smtp_server() as (port, mailbox):
        mail_config(port)
        run_scan_job(AS_OF)
        run_scan_job(AS_OF + timedelta(days=1))  # nothing new: nothing sent
    assert sorted(m["To"] for m in mailbox.messages) == sorted([admin.email, pharmacist.email])
    assert all("lot N-7" in m.get_payload() for m in mailbox.messages)
    assert {m.status for m in outbox()} == {OutboxStatus.SENT}


def test_a_digest_queued_while_the_server_is_down_arrives_exactly_once_after(mail_config, runner):
    admin = factories.make_user(role="admin")
    two_expiring_lots()
    port = free_port()
    mail_config(port)
    run = run_scan_job(AS_OF)  # the server is down: the scan succeeds, its digest waits
    assert run.counts["expiring"] == 2
    (queued,) = outbox()
    assert queued.status == OutboxStatus.QUEUED and queued.attempts == 1
    with smtp_server(port) as (_, mailbox):
        first = runner.invoke(args=["alerts", "deliver"])
        second = runner.invoke(args=["alerts", "deliver"])
        run_scan_job(AS_OF)
    assert first.exit_code == 0 and "sent 1, failed 0, queued 0" in first.output
    assert "sent 0, failed 0, queued 0" in second.output
    assert [m["To"] for m in mailbox.messages] == [admin.email]


# --- in a chain: each site's digest to those who work there ---------------------------------


def a_chain_with_alerts_due():
    """The clinic's first site and Lyon, each with a lot reaching its last day within a week,
    and a product the forecast finds short (an alert no site carries)."""
    main_site = factories.clinic_site()
    lyon = factories.make_site(code=factories.unique("LYON-"), name="Lyon")
    product = factories.make_product(kind="consumable", name="Mesoneedle 4 mm", unit="box")
    factories.make_lot(product, lot_number="HERE-7", expiry_date=date(2025, 6, 5),
                       site_id=main_site.id)  # fmt: skip
    factories.make_lot(product, lot_number="LYON-7", expiry_date=date(2025, 6, 6),
                       site_id=lyon.id)  # fmt: skip
    return main_site, lyon, [(product.id, date(2025, 6, 2))]


def digests_by_recipient() -> dict[str, list[str]]:
    found = {}
    for message in outbox():
        found.setdefault(message.recipient, []).append(message.subject)
    return {recipient: sorted(subjects) for recipient, subjects in found.items()}


def test_each_sites_digest_goes_to_those_who_work_there_and_to_administrators_of_every_site():
    main_site, lyon, shortfalls = a_chain_with_alerts_due()
    admin = factories.make_user(role="admin", email="boss@clinic.example")
    lyon_admin = factories.make_user(role="admin", email="lyon-boss@clinic.example", sites=[lyon])
    here = factories.make_user(role="pharmacist", email="here@clinic.example", alert_emails=True)
    there = factories.make_user(role="pharmacist", email="there@clinic.example",
                                alert_emails=True, sites=[lyon])  # fmt: skip
    factories.make_user(role="pharmacist", email="quiet@clinic.example", sites=[lyon])
    scan(AS_OF, now=datetime(2025, 6, 1, 6, tzinfo=UTC), shortfalls=shortfalls)
    db.session.commit()
    at_main = f"Alerts of 1 Jun 2025 at {main_site.name}: 1 expiring"
    at_lyon = "Alerts of 1 Jun 2025 at Lyon: 1 expiring"
    everywhere = "Alerts of 1 Jun 2025 for every site: 1 shortfall"
    assert digests_by_recipient() == {
        admin.email: sorted([at_main, at_lyon, everywhere]),
        lyon_admin.email: sorted([at_lyon, everywhere]),
        here.email: sorted([at_main, everywhere]),
        there.email: sorted([at_lyon, everywhere]),
    }
    [lyons] = [m for m in outbox() if m.recipient == there.email and "Lyon" in m.subject]
    assert "found 1 new alert(s) at Lyon" in lyons.body
    assert "lot LYON-7" in lyons.body and "lot HERE-7" not in lyons.body


def test_a_sites_digest_is_told_once_a_second_scan_of_the_day_queues_nothing():
    _, _, shortfalls = a_chain_with_alerts_due()
    factories.make_user(role="admin")
    scan(AS_OF, shortfalls=shortfalls)
    scan(AS_OF, shortfalls=shortfalls)
    db.session.commit()
    assert len(outbox()) == 3  # one per site, one clinic-wide


def test_a_recall_notice_goes_to_those_who_work_at_the_lots_site():
    _, lyon, _ = a_chain_with_alerts_due()
    admin = factories.make_user(role="admin")
    factories.make_user(role="pharmacist", alert_emails=True)  # the main site's
    there = factories.make_user(role="pharmacist", alert_emails=True, sites=[lyon])
    lot = factories.make_lot(lot_number="R-LYON", site_id=lyon.id)
    lots.recall(lot.id, "sterility failure", now=datetime(2025, 6, 1, tzinfo=UTC))
    db.session.commit()
    assert sorted(m.recipient for m in outbox()) == sorted([admin.email, there.email])


def test_in_a_chain_the_scan_sends_each_site_its_digest_over_smtp_once(mail_config):
    main_site, lyon, _ = a_chain_with_alerts_due()
    here = factories.make_user(role="pharmacist", alert_emails=True)
    there = factories.make_user(role="pharmacist", alert_emails=True, sites=[lyon])
    with smtp_server() as (port, mailbox):
        mail_config(port)
        run_scan_job(AS_OF)
        run_scan_job(AS_OF + timedelta(days=1))  # nothing new: nothing sent
    # The subject as one line (a long header is folded), past the day the scan was for.
    received = {m["To"]: (" ".join(m["Subject"].split()), m.get_payload())
                for m in mailbox.messages}  # fmt: skip
    assert len(mailbox.messages) == 2
    assert received[here.email][0].endswith(f"at {main_site.name}: 1 expiring")
    assert "lot HERE-7" in received[here.email][1] and "LYON-7" not in received[here.email][1]
    assert received[there.email][0].endswith("at Lyon: 1 expiring")
    assert {m.status for m in outbox()} == {OutboxStatus.SENT}

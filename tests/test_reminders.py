"""Patient reminders: contact details and consent, the reminder the day before a session at
the clinic's 09:00 (daylight-saving changes included), corrections after a move or a
cancellation, the aftercare advice, in English or French, delivered over real SMTP."""

from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from icalendar import Calendar
from sqlalchemy import func, select

from clinic.models import Language, ReminderKind, SentReminder
from clinic.patients import record_contact_consent
from clinic.sessions import cancel_session, complete_session, move_session
from core.database import db
from core.mail import OutboxMessage
from ops.jobs import run_reminders_job
from tests import factories
from tests.mailserver import smtp_server

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
PROCEDURE = {"needle_mm": 4, "technique": "manual", "injection_points": 80}
# Europe/Paris leaves winter time on Sunday 29 March 2026 and returns to it on 25 October.
SPRING_MONDAY = date(2026, 3, 30)
AUTUMN_MONDAY = date(2026, 10, 26)


@pytest.fixture(autouse=True)
def paris_clinic(app, monkeypatch):
    for key, value in {
        "CLINIC_TIMEZONE": "Europe/Paris",
        "CLINIC_NAME": "Clinique du Marais",
        "CLINIC_ADDRESS": "12 rue des Archives, Paris",
        "CLINIC_PHONE": "+33 1 23 45 67 89",
        "REMINDER_DAYS_BEFORE": 1,
        "REMINDER_HOUR": 9,
    }.items():
        monkeypatch.setitem(app.config, key, value)
    # The sessions take place at the clinic's one site: reminders speak of it, on its clock.
    site = factories.clinic_site()
    site.name, site.address = "Clinique du Marais", "12 rue des Archives, Paris"
    site.phone, site.timezone = "+33 1 23 45 67 89", "Europe/Paris"
    db.session.commit()


def consenting_patient(language=Language.EN, **fields):
    patient = factories.make_safe_patient(
        email=fields.pop("email", "ana@example.org"), language=language, **fields
    )
    record_contact_consent(
        patient, given=True, by=factories.make_user(role="doctor"), now=datetime.now(UTC)
    )
    db.session.commit()
    return patient


def first_session(patient, start_date=SPRING_MONDAY):
    return factories.make_course(patient, start_date=start_date).sessions[0]


def queued(now: datetime) -> dict:
    counts = run_reminders_job(now=now)
    return {kind: n for kind, n in counts.items() if n}


def modern(message: Message) -> EmailMessage:
    """The message as the mail server received it, read with the modern e-mail API."""
    return message_from_bytes(message.as_bytes(), policy=policy.default)


def calendar_of(message: Message) -> Calendar:
    [part] = [
        p for p in modern(message).iter_attachments() if p.get_content_type() == "text/calendar"
    ]
    return Calendar.from_ical(part.get_payload(decode=True))


def body_of(message: Message) -> str:
    return modern(message).get_body(preferencelist=("plain",)).get_content()


def test_the_reminder_goes_out_once_at_nine_in_paris_the_day_summer_time_begins(mail_config):
    session = first_session(consenting_patient())
    # Sunday 29 March, 09:00 in Paris is 07:00 UTC (summer time since 02:00 that night).
    with smtp_server() as (port, mailbox):
        mail_config(port)
        assert queued(datetime(2026, 3, 29, 6, 59, tzinfo=UTC)) == {}
        assert queued(datetime(2026, 3, 29, 7, 0, tzinfo=UTC)) == {"day_before": 1}
        assert queued(datetime(2026, 3, 29, 7, 10, tzinfo=UTC)) == {}
        assert queued(datetime(2026, 3, 29, 20, 0, tzinfo=UTC)) == {}
    [message] = mailbox.messages
    assert message["To"] == "ana@example.org"
    assert modern(message)["Subject"] == "Your session on Monday, March 30, 2026"
    body = body_of(message)
    assert "Limit aspirin and other blood thinners" in body
    assert "Wash your hair the day before or on the morning of the session." in body
    assert "Clinique du Marais, 12 rue des Archives, Paris" in body
    event = calendar_of(message).events[0]
    assert event.decoded("dtstart") == SPRING_MONDAY
    assert str(event["uid"]) == f"session-{session.id}@serum-formulary"
    rows = db.session.scalars(select(SentReminder)).all()
    assert [(r.session_id, r.kind, r.session_date) for r in rows] == [
        (session.id, ReminderKind.DAY_BEFORE, SPRING_MONDAY)
    ]


def test_the_reminder_goes_out_at_nine_in_paris_the_day_winter_time_returns():
    first_session(consenting_patient(), start_date=AUTUMN_MONDAY)
    # Sunday 25 October, 09:00 in Paris is 08:00 UTC (winter time since 03:00 that night).
    assert queued(datetime(2026, 10, 25, 7, 59, tzinfo=UTC)) == {}
    assert queued(datetime(2026, 10, 25, 8, 0, tzinfo=UTC)) == {"day_before": 1}
    assert queued(datetime(2026, 10, 25, 8, 1, tzinfo=UTC)) == {}


def test_a_reminder_missed_while_the_job_was_down_goes_out_late_but_not_after_the_day():
    first_session(consenting_patient())
    # 08:00 in Paris on the session's day: late, and still of use.
    assert queued(datetime(2026, 3, 30, 6, 0, tzinfo=UTC)) == {"day_before": 1}
    first_session(consenting_patient(email="bo@example.org"))
    assert queued(datetime(2026, 3, 31, 8, 0, tzinfo=UTC)) == {}  # that day is gone


def test_no_reminder_without_consent_or_an_address():
    first_session(factories.make_safe_patient(email="no-consent@example.org"))
    first_session(factories.make_safe_patient())
    assert queued(datetime(2026, 3, 29, 8, 0, tzinfo=UTC)) == {}
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0


def test_no_reminder_after_the_consent_is_withdrawn(client, login_as):
    patient = consenting_patient()
    first_session(patient)
    headers = login_as("doctor")
    answer = client.patch(
        f"/api/patients/{patient.id}", json={"contact_consent": {"given": False}}, headers=headers
    )
    assert answer.status_code == 200, answer.json
    assert answer.json["contact_consent"] == {"given": False, "at": None, "by": None}
    assert queued(datetime(2026, 3, 29, 8, 0, tzinfo=UTC)) == {}
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0


def test_a_moved_session_sends_a_correction_with_the_new_date_once(mail_config):
    session = first_session(consenting_patient())
    reminded = datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    with smtp_server() as (port, mailbox):
        mail_config(port)
        assert queued(reminded) == {"day_before": 1}
        move_session(session, date(2026, 4, 2), now=reminded)
        db.session.commit()
        assert queued(reminded + timedelta(minutes=10)) == {"moved": 1}
        assert queued(reminded + timedelta(minutes=20)) == {}
        # The day before the new date, the reminder of the new date.
        assert queued(datetime(2026, 4, 1, 7, 0, tzinfo=UTC)) == {"day_before": 1}
    subjects = [modern(m)["Subject"] for m in mailbox.messages]
    assert subjects == [
        "Your session on Monday, March 30, 2026",
        "Your session has moved to Thursday, April 2, 2026",
        "Your session on Thursday, April 2, 2026",
    ]
    correction = calendar_of(mailbox.messages[1])
    event = correction.events[0]
    assert event.decoded("dtstart") == date(2026, 4, 2)
    assert int(event["sequence"]) == 1
    assert str(event["uid"]) == f"session-{session.id}@serum-formulary"


def test_a_session_moved_before_any_reminder_sends_no_correction():
    session = first_session(consenting_patient())
    move_session(session, date(2026, 4, 2), now=datetime(2026, 3, 20, tzinfo=UTC))
    db.session.commit()
    assert queued(datetime(2026, 3, 29, 7, 0, tzinfo=UTC)) == {}
    assert queued(datetime(2026, 4, 1, 7, 0, tzinfo=UTC)) == {"day_before": 1}


def test_a_cancelled_session_sends_a_cancellation_once(mail_config):
    session = first_session(consenting_patient())
    reminded = datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    with smtp_server() as (port, mailbox):
        mail_config(port)
        assert queued(reminded) == {"day_before": 1}
        cancel_session(session, "doctor ill", now=reminded)
        db.session.commit()
        assert queued(reminded + timedelta(minutes=10)) == {"cancelled": 1}
        assert queued(reminded + timedelta(minutes=20)) == {}
    cancellation = mailbox.messages[1]
    assert modern(cancellation)["Subject"] == "Your session on Monday, March 30, 2026 is cancelled"
    calendar = calendar_of(cancellation)
    assert str(calendar["method"]) == "CANCEL"
    assert str(calendar.events[0]["status"]) == "CANCELLED"


def test_a_session_cancelled_before_its_reminder_sends_nothing():
    session = first_session(consenting_patient())
    cancel_session(session, None, now=datetime(2026, 3, 20, tzinfo=UTC))
    db.session.commit()
    assert queued(datetime(2026, 3, 29, 7, 0, tzinfo=UTC)) == {}


def test_the_french_reminder_and_its_calendar_invitation(mail_config):
    session = first_session(consenting_patient(language=Language.FR, name="Chloé Martin"))
    with smtp_server() as (port, mailbox):
        mail_config(port)
        assert queued(datetime(2026, 3, 29, 7, 0, tzinfo=UTC)) == {"day_before": 1}
    [message] = mailbox.messages
    assert modern(message)["Subject"] == "Votre séance du lundi 30 mars 2026"
    body = body_of(message)
    assert body.startswith("Bonjour Chloé Martin,")
    assert "Nous vous attendons pour votre séance du lundi 30 mars 2026." in body
    assert "Limitez l'aspirine" in body
    assert "Lavez-vous les cheveux la veille ou le matin de la séance." in body
    assert "Lieu : Clinique du Marais, 12 rue des Archives, Paris" in body
    event = calendar_of(message).events[0]
    assert str(event["summary"]) == "Séance de mésothérapie à Clinique du Marais"
    assert event.decoded("dtstart") == SPRING_MONDAY
    assert event.decoded("dtend") == SPRING_MONDAY + timedelta(days=1)
    assert "Lavez-vous les cheveux" in str(event["description"])
    assert str(event["uid"]) == f"session-{session.id}@serum-formulary"


def test_the_aftercare_advice_follows_a_completed_session_once(mail_config):
    patient = consenting_patient(language=Language.FR)
    session = first_session(patient, start_date=date(2026, 3, 2))
    serum = session.course.serum
    factories.make_lot(factories.make_serum_product(serum), quantity="5")
    done = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    complete_session(session, factories.make_user(role="doctor"), fields=dict(PROCEDURE), now=done)
    db.session.commit()
    with smtp_server() as (port, mailbox):
        mail_config(port)
        assert queued(done + timedelta(minutes=5)) == {"aftercare": 1}
        assert queued(done + timedelta(minutes=15)) == {}
    [message] = mailbox.messages
    assert modern(message)["Subject"] == "Après votre séance du lundi 2 mars 2026"
    body = body_of(message)
    assert "Ne lavez pas vos cheveux (pas de shampoing) pendant 48 heures." in body
    assert "Ni piscine ni sauna pendant 48 heures." in body
    assert list(modern(message).iter_attachments()) == []


def test_the_compiled_catalogues_match_their_sources():
    """The .mo files are committed beside the .po files: each must say what its source says
    (after editing a .po: `make translations`)."""
    sources = sorted(TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"))
    assert sources
    for source in sources:
        with source.open("rb") as po, source.with_suffix(".mo").open("rb") as mo:
            written, compiled = read_po(po), read_mo(mo)
        assert {m.id: m.string for m in written if m.id} == {
            m.id: m.string for m in compiled if m.id
        }, source


def test_every_patient_text_has_its_french_translation():
    with (TRANSLATIONS / "messages.pot").open("rb") as pot:
        template = read_po(pot)
    with (TRANSLATIONS / "fr/LC_MESSAGES/messages.po").open("rb") as po:
        french = read_po(po)
    missing = [m.id for m in template if m.id and not (french.get(m.id) and french[m.id].string)]
    assert missing == []


def test_a_run_with_nothing_new_to_send_reads_the_same_few_rows_however_many_were_sent(
    count_queries,
):
    """The job runs every few minutes: once the reminders are out, a run queries a fixed
    number of statements, whether one patient or five were reminded."""
    reminded = datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    statements = []
    for patients in (1, 5):
        for number in range(patients):
            first_session(consenting_patient(email=f"p{patients}-{number}@example.org"))
        assert sum(queued(reminded).values()) == patients
        with count_queries() as counted:
            assert queued(reminded + timedelta(minutes=10)) == {}
        statements.append(counted.count)
    assert statements[0] == statements[1]


def test_the_doctor_moves_a_session_through_the_api_and_the_patient_is_told(client, login_as):
    session = first_session(consenting_patient(), start_date=date(2030, 3, 4))
    assert queued(datetime(2030, 3, 3, 8, 0, tzinfo=UTC)) == {"day_before": 1}
    headers = login_as("doctor")
    moved = client.post(
        f"/api/sessions/{session.id}/move", json={"scheduled_date": "2030-03-06"}, headers=headers
    )
    assert moved.status_code == 200, moved.json
    assert moved.json["scheduled_date"] == "2030-03-06"
    assert queued(datetime(2030, 3, 3, 8, 10, tzinfo=UTC)) == {"moved": 1}
    past = client.post(
        f"/api/sessions/{session.id}/move", json={"scheduled_date": "2020-01-01"}, headers=headers
    )
    assert past.status_code == 422 and "scheduled_date" in str(past.json)
    cancelled = factories.make_course(consenting_patient(email="c@example.org")).sessions[0]
    cancel_session(cancelled, None, now=datetime(2025, 3, 1, tzinfo=UTC))
    db.session.commit()
    refused = client.post(
        f"/api/sessions/{cancelled.id}/move", json={"scheduled_date": "2030-03-06"}, headers=headers
    )
    assert refused.status_code == 409


def test_the_doctor_moves_a_session_on_the_patient_page(client, sign_in_page):
    sign_in_page("doctor")
    patient = consenting_patient()
    session = first_session(patient, start_date=date(2030, 3, 4))
    page = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert f'action="/sessions/{session.id}/move"' in page
    response = client.post(
        f"/sessions/{session.id}/move", data={f"move-{session.id}-scheduled_date": "2030-03-05"}
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    db.session.expire_all()
    assert session.scheduled_date == date(2030, 3, 5)
    refused = client.post(
        f"/sessions/{session.id}/move", data={f"move-{session.id}-scheduled_date": "2020-01-01"}
    )
    assert refused.status_code == 422
    assert "Cannot be before today" in refused.get_data(as_text=True)


def test_a_reminder_still_waiting_for_the_mail_server_is_not_sent_after_a_withdrawal(
    mail_config, client, login_as
):
    patient = consenting_patient()
    first_session(patient)
    # No mail server configured: the reminder waits in the outbox.
    assert queued(datetime(2026, 3, 29, 7, 0, tzinfo=UTC)) == {"day_before": 1}
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 1
    answer = client.patch(
        f"/api/patients/{patient.id}",
        json={"contact_consent": {"given": False}},
        headers=login_as("doctor"),
    )
    assert answer.status_code == 200
    with smtp_server() as (port, mailbox):
        mail_config(port)
        assert queued(datetime(2026, 3, 29, 7, 10, tzinfo=UTC)) == {}
    assert mailbox.messages == []
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0

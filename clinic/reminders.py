"""Messages to patients about their sessions, through the outbox (core.mail): the day before a
planned session (the date, the place, how to prepare, an iCalendar invitation), a correction
when a session announced that way is moved or cancelled, and the aftercare advice once a
session took place.

`queue_due_reminders(now=...)` queues whatever is due at `now`, once: each message is recorded
in `sent_reminders` under its session, kind and the session date it tells, a unique key, so
running it again (every few minutes, by the scheduler) queues nothing new. Nothing goes to a
patient without a recorded consent to be contacted and an address; a consent withdrawn stops
every message from then on. A message is in the patient's language (Flask-Babel catalogues).

The reminder is due REMINDER_DAYS_BEFORE days before the session at REMINDER_HOUR on the wall
clock of the session's place: the moment is worked out in that time zone, so it stays 09:00
across a daylight-saving change.
"""

import dataclasses
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import force_locale, format_date
from flask_babel import gettext as _
from icalendar import Calendar, Event
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import contains_eager

from clinic.advice import AFTER, BEFORE
from clinic.models import (
    Patient,
    ReminderKind,
    SentReminder,
    SessionStatus,
    TreatmentSession,
)
from core.database import db
from core.mail import OutboxMessage, OutboxStatus, queue_message

# The kinds that told the patient a date to come: a later change of that date needs a
# correction.
ANNOUNCEMENTS = (ReminderKind.DAY_BEFORE, ReminderKind.MOVED)


@dataclasses.dataclass(frozen=True)
class Place:
    """Where a session takes place, and the clock it keeps."""

    name: str
    address: str
    phone: str
    zone: ZoneInfo


def session_place(session: TreatmentSession) -> Place:
    """Where the session takes place: its site, with the site's own clock."""
    site = session.site
    return Place(site.name, site.address or "", site.phone or "", site.zone)


def reminder_due_at(session_date: date, zone: ZoneInfo) -> datetime:
    """When the day-before reminder of a session on `session_date` is due, as a moment."""
    config = current_app.config
    day = session_date - timedelta(days=config["REMINDER_DAYS_BEFORE"])
    return datetime.combine(day, time(config["REMINDER_HOUR"]), tzinfo=zone)


def queue_due_reminders(*, now: datetime) -> dict[str, int]:
    """Queue every message due at `now` that was not queued before; answers how many of each
    kind. The caller commits (and then delivers the outbox)."""
    counts = {kind.value: 0 for kind in ReminderKind}
    for session, kind, day in [
        *_due_corrections(now),
        *_due_day_before(now),
        *_due_aftercare(now),
    ]:
        _queue(session, kind, day=day, now=now)
        counts[kind.value] += 1
    return counts


def withdraw_queued_reminders(patient_id: int) -> int:
    """Take back the patient's messages still waiting in the outbox (the mail server was down
    when they were queued): a withdrawn consent stops what was not sent yet. Answers how many.
    A message already claimed by a deliverer is on its way and goes."""
    waiting = (
        select(OutboxMessage.id)
        .join(SentReminder, SentReminder.outbox_id == OutboxMessage.id)
        .join(TreatmentSession, TreatmentSession.id == SentReminder.session_id)
        .where(
            TreatmentSession.patient_id == patient_id,
            OutboxMessage.status == OutboxStatus.QUEUED,
        )
    )
    ids = db.session.scalars(waiting).all()
    if not ids:
        return 0
    db.session.execute(
        update(SentReminder).where(SentReminder.outbox_id.in_(ids)).values(outbox_id=None)
    )
    db.session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(ids)))
    return len(ids)


def _may_be_mailed():
    return Patient.contact_consent_at.is_not(None) & Patient.email.is_not(None)


def _told(kind: ReminderKind, day_column):
    return (
        select(SentReminder.id)
        .where(
            SentReminder.session_id == TreatmentSession.id,
            SentReminder.kind == kind,
            SentReminder.session_date == day_column,
        )
        .exists()
    )


def _due_day_before(now: datetime):
    """Planned sessions from today to REMINDER_DAYS_BEFORE days ahead (a day more either way,
    as places keep different clocks) whose reminder moment has come and that were not told."""
    today = now.date()
    ahead = current_app.config["REMINDER_DAYS_BEFORE"] + 1
    sessions = db.session.scalars(
        select(TreatmentSession)
        .join(Patient, Patient.id == TreatmentSession.patient_id)
        .where(
            TreatmentSession.status == SessionStatus.PLANNED,
            TreatmentSession.scheduled_date >= today - timedelta(days=1),
            TreatmentSession.scheduled_date <= today + timedelta(days=ahead),
            _may_be_mailed(),
            ~_told(ReminderKind.DAY_BEFORE, TreatmentSession.scheduled_date),
        )
        .options(contains_eager(TreatmentSession.patient))
        .order_by(TreatmentSession.scheduled_date, TreatmentSession.id)
    ).all()
    for session in sessions:
        zone = session_place(session).zone
        if session.scheduled_date < now.astimezone(zone).date():
            continue  # the day is gone where the session was to take place
        if reminder_due_at(session.scheduled_date, zone) <= now:
            yield session, ReminderKind.DAY_BEFORE, session.scheduled_date


def _due_corrections(now: datetime):
    """Sessions whose last announced date is still to come and that were cancelled since, or
    moved to another day: a correction each, once."""
    last = (
        select(SentReminder.session_id, func.max(SentReminder.id).label("last_id"))
        .where(
            SentReminder.kind.in_(ANNOUNCEMENTS),
            SentReminder.session_date >= now.date() - timedelta(days=1),
        )
        .group_by(SentReminder.session_id)
        .subquery()
    )
    rows = db.session.execute(
        select(TreatmentSession, SentReminder.session_date)
        .join(last, last.c.session_id == TreatmentSession.id)
        .join(SentReminder, SentReminder.id == last.c.last_id)
        .join(Patient, Patient.id == TreatmentSession.patient_id)
        .where(_may_be_mailed())
        .options(contains_eager(TreatmentSession.patient))
        .order_by(TreatmentSession.id)
    ).all()
    for session, announced in rows:
        correction = _correction(session, announced)
        if correction is not None and not _already(session.id, *correction):
            yield session, *correction


def _correction(session: TreatmentSession, announced: date) -> tuple | None:
    """What the patient must now be told of a session announced for `announced`, if anything."""
    if session.status == SessionStatus.CANCELLED:
        return ReminderKind.CANCELLED, announced
    if session.status == SessionStatus.PLANNED and session.scheduled_date != announced:
        return ReminderKind.MOVED, session.scheduled_date
    return None


def _already(session_id: int, kind: ReminderKind, day: date) -> bool:
    return (
        db.session.scalar(
            select(SentReminder.id).where(
                SentReminder.session_id == session_id,
                SentReminder.kind == kind,
                SentReminder.session_date == day,
            )
        )
        is not None
    )


def _due_aftercare(now: datetime):
    """Sessions completed within the last AFTERCARE_WITHIN_HOURS (older ones are past the
    advice's 48 hours, or predate the consent) not yet followed by the advice."""
    since = now - timedelta(hours=current_app.config["AFTERCARE_WITHIN_HOURS"])
    sessions = db.session.scalars(
        select(TreatmentSession)
        .join(Patient, Patient.id == TreatmentSession.patient_id)
        .where(
            TreatmentSession.status == SessionStatus.COMPLETED,
            TreatmentSession.completed_at >= since,
            TreatmentSession.completed_at <= now,
            _may_be_mailed(),
            ~_told(ReminderKind.AFTERCARE, TreatmentSession.performed_on),
        )
        .options(contains_eager(TreatmentSession.patient))
        .order_by(TreatmentSession.completed_at, TreatmentSession.id)
    ).all()
    for session in sessions:
        yield session, ReminderKind.AFTERCARE, session.performed_on


def _queue(session: TreatmentSession, kind: ReminderKind, *, day: date, now: datetime) -> None:
    patient = session.patient
    place = session_place(session)
    sequence = db.session.scalar(
        select(func.count(SentReminder.id)).where(
            SentReminder.session_id == session.id,
            SentReminder.kind.in_((*ANNOUNCEMENTS, ReminderKind.CANCELLED)),
        )
    )
    with force_locale(patient.language.value):
        subject, body = _TEXTS[kind](session, patient=patient, place=place, day=day)
        attachments = None
        if kind != ReminderKind.AFTERCARE:
            attachments = [
                {
                    "filename": "session.ics",
                    "content_type": "text/calendar",
                    "content": session_calendar(
                        session, place=place, day=day, sequence=sequence, kind=kind, now=now
                    ),
                }
            ]
    message = queue_message(patient.email, subject, body=body, attachments=attachments)
    db.session.add(
        SentReminder(
            session_id=session.id,
            kind=kind,
            session_date=day,
            recipient=patient.email,
            language=patient.language,
            outbox_id=message.id,
            queued_at=now,
        )
    )
    db.session.flush()


def session_calendar(
    session: TreatmentSession,
    *,
    place: Place,
    day: date,
    sequence: int,
    kind: ReminderKind,
    now: datetime,
) -> str:
    """The session as an all-day iCalendar event (sessions are booked by the day); the same
    UID throughout, a higher SEQUENCE for each correction, and a cancellation as METHOD:CANCEL,
    so a calendar updates the event it already holds."""
    cancelled = kind == ReminderKind.CANCELLED
    calendar = Calendar()
    calendar.add("prodid", "-//Serum formulary//Patient reminders//EN")
    calendar.add("version", "2.0")
    calendar.add("method", "CANCEL" if cancelled else "PUBLISH")
    event = Event()
    event.add("uid", f"session-{session.id}@serum-formulary")
    event.add("dtstamp", now)
    event.add("sequence", sequence)
    event.add("dtstart", day)
    event.add("dtend", day + timedelta(days=1))
    event.add("summary", _session_title(place))
    event.add("location", _place_line(place))
    event.add("description", "\n".join(str(line) for line in BEFORE))
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    calendar.add_component(event)
    return calendar.to_ical().decode()


def _session_title(place: Place) -> str:
    if place.name:
        return _("Mesotherapy session at %(place)s", place=place.name)
    return _("Mesotherapy session")


def _place_line(place: Place) -> str:
    return ", ".join(part for part in (place.name, place.address) if part)


def _long_date(day: date) -> str:
    return format_date(day, format="full")


def _greeting(patient: Patient) -> str:
    return _("Hello %(name)s,", name=patient.name)


def _signature(place: Place) -> list[str]:
    lines = []
    if place.phone:
        lines.append(
            _("To change or cancel your appointment, call us on %(phone)s.", phone=place.phone)
        )
    if place.name:
        lines.append(place.name)
    return lines


def _bullets(lines) -> list[str]:
    return [f"- {line}" for line in lines]


def _day_before_text(session, *, patient, place, day):
    subject = _("Your session on %(date)s", date=_long_date(day))
    body = [
        _greeting(patient),
        "",
        _("We look forward to seeing you for your session on %(date)s.", date=_long_date(day)),
        *_where(place),
        "",
        _("Before your session:"),
        *_bullets(BEFORE),
        "",
        *_signature(place),
    ]
    return subject, "\n".join(body)


def _moved_text(session, *, patient, place, day):
    subject = _("Your session has moved to %(date)s", date=_long_date(day))
    body = [
        _greeting(patient),
        "",
        _("Your session has moved: it now takes place on %(date)s.", date=_long_date(day)),
        *_where(place),
        "",
        _("Before your session:"),
        *_bullets(BEFORE),
        "",
        *_signature(place),
    ]
    return subject, "\n".join(body)


def _cancelled_text(session, *, patient, place, day):
    subject = _("Your session on %(date)s is cancelled", date=_long_date(day))
    body = [
        _greeting(patient),
        "",
        _(
            "Your session on %(date)s is cancelled. The clinic will contact you to plan "
            "the next one.",
            date=_long_date(day),
        ),
        "",
        *_signature(place),
    ]
    return subject, "\n".join(body)


def _aftercare_text(session, *, patient, place, day):
    subject = _("After your session of %(date)s", date=_long_date(day))
    body = [
        _greeting(patient),
        "",
        _("After your session:"),
        *_bullets(AFTER),
        "",
        _(
            "Call the clinic at once if you notice swelling, a rash that spreads, breathing "
            "difficulty or a fever."
        ),
        *([place.phone] if place.phone else []),
        "",
        *([place.name] if place.name else []),
    ]
    return subject, "\n".join(body)


def _where(place: Place) -> list[str]:
    line = _place_line(place)
    return [_("Where: %(place)s", place=line)] if line else []


_TEXTS = {
    ReminderKind.DAY_BEFORE: _day_before_text,
    ReminderKind.MOVED: _moved_text,
    ReminderKind.CANCELLED: _cancelled_text,
    ReminderKind.AFTERCARE: _aftercare_text,
}

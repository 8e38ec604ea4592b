"""The doctor's agenda: the sessions planned across patients over a span of days, each with
its patient, its serum and that serum's verdict for the patient now. Set-based: the page of
sessions is one query, and their screens a fixed number more (`clinic.safety.screen_pairs`),
whatever the number of sessions and patients."""

import dataclasses
from datetime import date, timedelta

from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload

from clinic.models import Course, Patient, SessionStatus, TreatmentSession
from clinic.safety import screen_pairs
from formulary.screen import Screen

WEEK_DAYS = 7


@dataclasses.dataclass(frozen=True)
class AgendaEntry:
    session: TreatmentSession
    screen: Screen

    @property
    def patient(self) -> Patient:
        return self.session.patient

    @property
    def course(self) -> Course:
        return self.session.course


def week_from(as_of: date) -> tuple[date, date]:
    """The week the agenda shows: `as_of` and the six days after it (both inclusive)."""
    return as_of, as_of + timedelta(days=WEEK_DAYS - 1)


def planned_sessions_query(*, first: date, last: date, site_ids: list[int] | None = None) -> Select:
    """The sessions still planned between two days (both inclusive) at the sites given (None:
    every site), by day, then by patient name, with their patient, site, course and serum
    loaded in the same query."""
    stmt = (
        select(TreatmentSession)
        .join(Patient, Patient.id == TreatmentSession.patient_id)
        .where(
            TreatmentSession.status == SessionStatus.PLANNED,
            TreatmentSession.scheduled_date >= first,
            TreatmentSession.scheduled_date <= last,
        )
        .options(
            joinedload(TreatmentSession.patient),
            joinedload(TreatmentSession.site),
            joinedload(TreatmentSession.course).joinedload(Course.serum),
        )
        .order_by(TreatmentSession.scheduled_date, Patient.name, TreatmentSession.id)
    )
    if site_ids is not None:
        stmt = stmt.where(TreatmentSession.site_id.in_(site_ids))
    return stmt


def agenda_entries(sessions: list[TreatmentSession]) -> list[AgendaEntry]:
    """Each session with its serum's screen for its patient (as for what its course treats),
    in the sessions' order."""

    def pair(session: TreatmentSession) -> tuple:
        return session.patient_id, session.course.serum_id, session.course.indication

    screens = screen_pairs({pair(session) for session in sessions})
    return [AgendaEntry(session, screens[pair(session)]) for session in sessions]

"""Vigilance: the side effects of completed sessions looked at together, per serum, per lot and
per month, and the adverse signal raised when one lot's allergic reactions or severe side
effects reach the clinic's count within its window.

Every count is of side effects that stand (one entered in error is not counted), of completed
sessions, dated by the day the session was performed: the day the patient met the lot.

The signal (`adverse_signal` alert) counts the sessions with a lot that had an allergic
reaction or a severe side effect (one session with two such side effects is one patient, one
count). A window is VIGILANCE_SIGNAL_DAYS long and starts on such a session's day; the first
window (in time) holding VIGILANCE_SIGNAL_COUNT of them raises the signal, once per lot and
window (the alerts' told-once index on the lot and the window's first day). The lot's next
signal is looked for only after that window ends, so that the same patients never raise it
twice, and a new cluster later raises a new one. Recording a side effect checks its lot in
the same transaction; the daily scan checks every lot with such a session in the last window
(a catch-up, when the count was lowered or a side effect came another way). Both lock the lot
first and compute the windows alike, so they agree on the window and tell it once.
"""

import dataclasses
from collections import defaultdict
from datetime import date, datetime, timedelta

from flask import current_app
from sqlalchemy import Select, String, and_, case, func, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from clinic.models import (
    Course,
    Patient,
    SessionStatus,
    Severity,
    SideEffect,
    SideEffectKind,
    TreatmentSession,
)
from core.clock import clinic_today, day_text
from core.database import db
from core.errors import Invalid
from formulary.models import Serum
from inventory.alerts import AdverseSignal, Alert, AlertKind, raise_adverse_signals
from inventory.models import Lot

# The longest window the side-effect counts cover: a year, as one request reads it.
MOST_DAYS = 366


# --- the window asked for -------------------------------------------------------------------


def default_window(today: date) -> tuple[date, date]:
    """The last twelve months: from the first day of the month eleven months back to today."""
    month = today.year * 12 + today.month - 1 - 11
    return date(month // 12, month % 12 + 1, 1), today


def window_asked(first: date | None, last: date | None, *, today: date) -> tuple[date, date]:
    """The window a request names, checked: `to` defaults to today, `from` to the first day
    of the month eleven months before `to`."""
    last = last or today
    first = first or default_window(last)[0]
    check_window(first, last)
    return first, last


def check_window(first: date, last: date) -> None:
    """`to` on or after `from`, at most MOST_DAYS days in all (a 422 naming `to`)."""
    if last < first:
        raise Invalid({"to": [f"Before `from` ({day_text(first)})."]})
    if (last - first).days + 1 > MOST_DAYS:
        raise Invalid(
            {"to": [f"At most {MOST_DAYS} days after `from` ({day_text(first)}): a year."]}
        )


# --- the counts ---------------------------------------------------------------------------


class month_of(FunctionElement):
    """A date's month as `YYYY-MM`, which each database spells its own way."""

    type = String()
    name = "month_of"
    inherit_cache = True


@compiles(month_of)
def _month_of_sqlite(element, compiler, **kw):
    return f"strftime('%Y-%m', {compiler.process(element.clauses, **kw)})"


@compiles(month_of, "postgresql")
def _month_of_postgresql(element, compiler, **kw):
    return f"to_char({compiler.process(element.clauses, **kw)}, 'YYYY-MM')"


SEVERITIES = tuple(Severity)
KINDS = tuple(SideEffectKind)


def _performed_within(first: date, last: date, site_ids: list[int] | None) -> tuple:
    return (
        TreatmentSession.status == SessionStatus.COMPLETED,
        TreatmentSession.performed_on >= first,
        TreatmentSession.performed_on <= last,
        *(() if site_ids is None else (TreatmentSession.site_id.in_(site_ids),)),
    )


def _counted(column, value) -> object:
    return func.sum(case((column == value, 1), else_=0))


def _side_effect_counts(*group_by, first: date, last: date, site_ids: list[int] | None):
    """Side effects that stand, of sessions performed within the window, counted per group:
    in all, per severity and per kind."""
    return (
        select(
            *group_by,
            func.count().label("side_effects"),
            *(_counted(SideEffect.severity, s).label(s.value) for s in SEVERITIES),
            *(_counted(SideEffect.kind, k).label(k.value) for k in KINDS),
        )
        .select_from(SideEffect)
        .join(TreatmentSession, TreatmentSession.id == SideEffect.session_id)
        .join(Course, Course.id == TreatmentSession.course_id)
        .where(SideEffect.entered_in_error_at.is_(None), *_performed_within(first, last, site_ids))
        .group_by(*group_by)
    )


def _sessions_counted(*group_by, first: date, last: date, site_ids: list[int] | None):
    """Completed sessions within the window per group: how many patients met the lot."""
    return (
        select(*group_by, func.count().label("sessions"))
        .select_from(TreatmentSession)
        .join(Course, Course.id == TreatmentSession.course_id)
        .where(*_performed_within(first, last, site_ids))
        .group_by(*group_by)
    )


COUNT_NAMES = ("side_effects", *(s.value for s in SEVERITIES), *(k.value for k in KINDS))


def side_effects_by_lot(first: date, last: date, *, site_ids: list[int] | None = None) -> Select:
    """One row per serum, lot and month (`YYYY-MM`) that had a side effect within the window
    (both days inclusive), at the sites given (None: every site): the completed sessions of
    that lot in that month, and their side effects in all, per severity and per kind. By
    serum name, lot number and month; two grouped queries joined, whatever the number of
    sessions."""
    check_window(first, last)
    month = month_of(TreatmentSession.performed_on).label("month")
    window = {"first": first, "last": last, "site_ids": site_ids}
    effects = _side_effect_counts(
        Course.serum_id, TreatmentSession.lot_id, month, **window
    ).subquery("effects")
    sessions = _sessions_counted(TreatmentSession.lot_id, month, **window).subquery("exposed")
    return (
        select(
            effects.c.serum_id,
            Serum.name.label("serum_name"),
            Serum.version.label("serum_version"),
            effects.c.lot_id,
            Lot.lot_number,
            Lot.product_id,
            Lot.site_id,
            effects.c.month,
            sessions.c.sessions,
            *(effects.c[name] for name in COUNT_NAMES),
        )
        .join(Serum, Serum.id == effects.c.serum_id)
        .join(Lot, Lot.id == effects.c.lot_id)
        .join(
            sessions,
            and_(sessions.c.lot_id == effects.c.lot_id, sessions.c.month == effects.c.month),
        )
        .order_by(Serum.name, Serum.version, Serum.id, Lot.lot_number, Lot.id, effects.c.month)
    )


def side_effects_by_serum(
    first: date, last: date, *, site_ids: list[int] | None = None, limit: int
) -> list:
    """Per serum with a side effect within the window: its completed sessions and their side
    effects in all, per severity and per kind (at most `limit` serums, by name)."""
    check_window(first, last)
    window = {"first": first, "last": last, "site_ids": site_ids}
    effects = _side_effect_counts(Course.serum_id, **window).subquery("effects")
    sessions = _sessions_counted(Course.serum_id, **window).subquery("exposed")
    return db.session.execute(
        select(
            effects.c.serum_id,
            Serum.name.label("serum_name"),
            Serum.version.label("serum_version"),
            sessions.c.sessions,
            *(effects.c[name] for name in COUNT_NAMES),
        )
        .join(Serum, Serum.id == effects.c.serum_id)
        .join(sessions, sessions.c.serum_id == effects.c.serum_id)
        .order_by(Serum.name, Serum.version, Serum.id)
        .limit(limit)
    ).all()


# --- the adverse signal ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SignalRule:
    count: int  # sessions with an allergic reaction or a severe side effect
    days: int  # within this many days


def signal_rule() -> SignalRule:
    """The clinic's VIGILANCE_SIGNAL_COUNT and VIGILANCE_SIGNAL_DAYS."""
    config = current_app.config
    return SignalRule(config["VIGILANCE_SIGNAL_COUNT"], config["VIGILANCE_SIGNAL_DAYS"])


def signalling(side_effect: SideEffect) -> bool:
    """Whether the side effect counts towards its lot's signal: allergic, or severe."""
    return (
        side_effect.kind == SideEffectKind.ALLERGIC_REACTION
        or side_effect.severity == Severity.SEVERE
    )


# What the signal counts, as SQL: a side effect that stands, allergic or severe, of a
# completed session.
SIGNALLING = (
    SideEffect.entered_in_error_at.is_(None),
    or_(
        SideEffect.kind == SideEffectKind.ALLERGIC_REACTION,
        SideEffect.severity == Severity.SEVERE,
    ),
    TreatmentSession.status == SessionStatus.COMPLETED,
)


def _signalling_days(lot_ids: list[int], as_of: date) -> dict[int, list[date]]:
    """Per lot, the days of its sessions (one per session, on or before `as_of`) with a
    signalling side effect, in order: one query."""
    rows = db.session.execute(
        select(TreatmentSession.lot_id, TreatmentSession.id, TreatmentSession.performed_on)
        .join(SideEffect, SideEffect.session_id == TreatmentSession.id)
        .where(
            TreatmentSession.lot_id.in_(lot_ids),
            TreatmentSession.performed_on <= as_of,
            *SIGNALLING,
        )
        .group_by(TreatmentSession.lot_id, TreatmentSession.id, TreatmentSession.performed_on)
        .order_by(TreatmentSession.lot_id, TreatmentSession.performed_on, TreatmentSession.id)
    )
    days = defaultdict(list)
    for lot_id, _session_id, day in rows:
        days[lot_id].append(day)
    return days


def _last_windows_end(lot_ids: list[int]) -> dict[int, date]:
    """Per lot, the last day of its latest signal's window: one query."""
    rows = db.session.execute(
        select(Alert.lot_id, Alert.window_start, Alert.threshold_days)
        .where(Alert.kind == AlertKind.ADVERSE_SIGNAL, Alert.lot_id.in_(lot_ids))
        .order_by(Alert.lot_id, Alert.window_start)
    )
    ends = {}
    for lot_id, start, days in rows:
        ends[lot_id] = start + timedelta(days=days - 1)
    return ends


def signal_windows(days: list[date], rule: SignalRule, *, after: date | None) -> list:
    """The windows (first day, sessions) of a lot's signalling session days (in order) that
    reach the rule's count, each starting on such a day after the one before ends, the first
    after `after`: the earliest first."""
    found = []
    days = [day for day in days if after is None or day > after]
    start = 0
    while start + rule.count <= len(days):
        end_day = days[start] + timedelta(days=rule.days - 1)
        within = start
        while within < len(days) and days[within] <= end_day:
            within += 1
        if within - start >= rule.count:
            found.append((days[start], within - start))
            while start < len(days) and days[start] <= end_day:
                start += 1
        else:
            start += 1
    return found


def due_signals(lot_ids: list[int], *, as_of: date, rule: SignalRule) -> list[AdverseSignal]:
    """The signals of these lots not raised yet, with their sessions on or before `as_of`.
    Locks the lots (in id order) first: two transactions checking one lot decide one after
    the other, and the second sees the first one's side effects and signal."""
    lot_ids = sorted(set(lot_ids))
    if not lot_ids:
        return []
    db.session.execute(
        select(Lot.id).where(Lot.id.in_(lot_ids)).order_by(Lot.id).with_for_update()
    ).all()
    days = _signalling_days(lot_ids, as_of)
    ends = _last_windows_end(lot_ids)
    return [
        AdverseSignal(lot_id=lot_id, window_start=start, days=rule.days, sessions=count)
        for lot_id in lot_ids
        for start, count in signal_windows(days.get(lot_id, []), rule, after=ends.get(lot_id))
    ]


def raise_adverse_signal(lot_id: int, *, now: datetime) -> list[Alert]:
    """After a side effect was recorded on a session with the lot: the lot's signals due, in
    the same transaction (their e-mail queued at once, as a recall's). Answers the alerts
    raised (none when the count is not reached, or its window was told already)."""
    signals = due_signals([lot_id], as_of=clinic_today(now), rule=signal_rule())
    return raise_adverse_signals(signals, as_of=clinic_today(now), now=now)


def signals_due_in_scan(as_of: date) -> list[AdverseSignal]:
    """The daily scan's catch-up: the signals due of every lot with a signalling session in
    the window that ends on `as_of` (found through the sessions' day index)."""
    rule = signal_rule()
    lot_ids = db.session.scalars(
        select(TreatmentSession.lot_id)
        .join(SideEffect, SideEffect.session_id == TreatmentSession.id)
        .where(
            TreatmentSession.performed_on > as_of - timedelta(days=rule.days),
            TreatmentSession.performed_on <= as_of,
            *SIGNALLING,
        )
        .distinct()
    ).all()
    return due_signals(lot_ids, as_of=as_of, rule=rule)


# --- the sessions behind a signal -------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SignalSession:
    """A session behind an adverse signal: who, when, and its allergic or severe side
    effects."""

    session_id: int
    patient_id: int
    mrn: str
    patient_name: str
    performed_on: date
    side_effects: list[dict]


def sessions_behind(alerts: list[Alert]) -> dict[int, list[SignalSession]]:
    """Per adverse-signal alert (by id), the sessions with its lot within its window that had
    an allergic reaction or a severe side effect that still stands, oldest first: one query
    for all the alerts given. Other kinds of alert have none."""
    signals = [a for a in alerts if a.kind == AlertKind.ADVERSE_SIGNAL and a.window_start]
    if not signals:
        return {}
    rows = db.session.execute(
        select(
            TreatmentSession.lot_id,
            TreatmentSession.id,
            TreatmentSession.patient_id,
            Patient.mrn,
            Patient.name,
            TreatmentSession.performed_on,
            SideEffect.kind,
            SideEffect.severity,
        )
        .join(SideEffect, SideEffect.session_id == TreatmentSession.id)
        .join(Patient, Patient.id == TreatmentSession.patient_id)
        .where(
            or_(
                *(
                    and_(
                        TreatmentSession.lot_id == alert.lot_id,
                        TreatmentSession.performed_on >= alert.window_start,
                        TreatmentSession.performed_on <= alert.window_end,
                    )
                    for alert in signals
                )
            ),
            *SIGNALLING,
        )
        .order_by(TreatmentSession.performed_on, TreatmentSession.id, SideEffect.id)
    ).all()
    found = {alert.id: [] for alert in signals}
    for alert in signals:
        sessions: dict[int, SignalSession] = {}
        for row in rows:
            if row.lot_id != alert.lot_id or not (
                alert.window_start <= row.performed_on <= alert.window_end
            ):
                continue
            if row.id not in sessions:
                sessions[row.id] = SignalSession(
                    row.id, row.patient_id, row.mrn, row.name, row.performed_on, []
                )
            sessions[row.id].side_effects.append(
                {"kind": row.kind.value, "severity": row.severity.value}
            )
        found[alert.id] = list(sessions.values())
    return found


class AlertWithSessions:
    """An alert as the alert's detail answers it: the alert, and the sessions behind it (an
    adverse signal's; none for other kinds)."""

    def __init__(self, alert: Alert, sessions: list[SignalSession]):
        self.alert = alert
        self.sessions = sessions

    def __getattr__(self, name):
        return getattr(self.alert, name)


def alert_with_sessions(alert: Alert) -> AlertWithSessions:
    return AlertWithSessions(alert, sessions_behind([alert]).get(alert.id, []))

"""Sessions of a course (SPEC 3.6): completing one re-runs the safety screen and consumes the
serum lot in the same transaction; cancelling; side effects. Also the two questions inventory
asks of the clinic: which sessions are planned (the forecast) and who was treated with a lot
(the recall trace)."""

import dataclasses
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Select, func, select
from sqlalchemy.orm import selectinload

from clinic.models import (
    Course,
    Patient,
    SessionStatus,
    Severity,
    SideEffect,
    SideEffectKind,
    Technique,
    TreatmentSession,
)
from clinic.safety import screen_patient_serum
from clinic.vigilance import raise_adverse_signal, signalling
from core.accounts import User
from core.clock import clinic_date, clinic_today, day_text
from core.database import db
from core.errors import Conflict, Invalid, NotFound
from formulary.models import Serum
from formulary.screen import Screen, Verdict
from inventory.expiry import usable_on
from inventory.forecast import Demand
from inventory.ledger import post_movement
from inventory.models import Lot, MovementKind
from inventory.serum_stock import doses_as_stock, serum_products, usable_serum_lots

NEEDLE_MM = (Decimal(4), Decimal(13))


@dataclasses.dataclass(frozen=True)
class TreatedWithLot:
    """A completed session that used a lot: who to call when that lot is recalled."""

    session_id: int
    patient_id: int
    mrn: str
    patient_name: str
    date: date
    lot_id: int


def get_session(session_id: int, lock: bool = False) -> TreatmentSession:
    """The session; with `lock` its row is locked and re-read (PostgreSQL), so that two
    completions of one session cannot both consume stock."""
    stmt = select(TreatmentSession).where(TreatmentSession.id == session_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    session = db.session.scalar(stmt)
    if session is None:
        raise NotFound(f"No session with id {session_id}.")
    return session


def sessions_query(
    patient_id: int | None = None,
    first: date | None = None,
    *,
    last: date | None = None,
    site_ids: list[int] | None = None,
) -> Select:
    """Sessions by date (both bounds inclusive), at the sites given (None: every site), with
    their side effects loaded up front."""
    stmt = select(TreatmentSession).options(selectinload(TreatmentSession.side_effects))
    if site_ids is not None:
        stmt = stmt.where(TreatmentSession.site_id.in_(site_ids))
    if patient_id is not None:
        stmt = stmt.where(TreatmentSession.patient_id == patient_id)
    if first is not None:
        stmt = stmt.where(TreatmentSession.scheduled_date >= first)
    if last is not None:
        stmt = stmt.where(TreatmentSession.scheduled_date <= last)
    return stmt.order_by(TreatmentSession.scheduled_date, TreatmentSession.id)


def next_planned_session(patient_id: int, *, after: date) -> TreatmentSession | None:
    """The patient's next appointment: the first session still planned after a day."""
    return db.session.scalar(
        select(TreatmentSession)
        .where(
            TreatmentSession.patient_id == patient_id,
            TreatmentSession.status == SessionStatus.PLANNED,
            TreatmentSession.scheduled_date > after,
        )
        .order_by(TreatmentSession.scheduled_date, TreatmentSession.id)
        .limit(1)
    )


def session_doctor(session: TreatmentSession) -> User | None:
    """The doctor of a session: who performed it, or, before that, who planned its course."""
    return session.completed_by or session.course.created_by


def complete_session(
    session: TreatmentSession, doctor: User, *, fields: dict, now: datetime
) -> TreatmentSession:
    """Record a session as performed, on `performed_on` or its scheduled date: the screen is
    run again (a contraindication refuses it, a caution needs the doctor's `override_reason`),
    and the doses are taken from the given lot, or FEFO from the serum's usable lots, in the
    same transaction. A refusal changes nothing."""
    _refuse_unless(session, SessionStatus.PLANNED, "completed")
    day = _performed_on(session, fields.get("performed_on"), now)
    doses = fields.get("doses") or session.doses
    _check_procedure(fields, doses)
    serum = session.course.serum
    screen = screen_patient_serum(session.patient, serum, indication=session.course.indication)
    override_reason = (fields.get("override_reason") or "").strip() or None
    _refuse_unsafe(screen, serum, override_reason)
    with db.session.begin_nested():
        lot, quantity = _pick_lot(serum, doses, day, fields.get("lot_id"), site_id=session.site_id)
        post_movement(
            lot,
            MovementKind.CONSUME,
            quantity=-quantity,
            reason=f"session {session.id}",
            user_id=doctor.id,
            now=now,
            usable_on=day,
        )
        session.status = SessionStatus.COMPLETED
        session.performed_on = day
        session.lot_id = lot.id
        session.doses = doses
        session.needle_mm = fields["needle_mm"]
        session.technique = Technique(fields["technique"])
        session.injection_points = fields["injection_points"]
        session.screen_verdict = screen.verdict
        session.override_reason = override_reason
        session.completed_by_id = doctor.id
        session.completed_at = now
        db.session.flush()
    return session


def cancel_session(
    session: TreatmentSession, reason: str | None, *, now: datetime
) -> TreatmentSession:
    """Only a planned session can be cancelled: a completed one has used stock and stays."""
    _refuse_unless(session, SessionStatus.PLANNED, "cancelled")
    session.status = SessionStatus.CANCELLED
    session.cancelled_reason = (reason or "").strip() or None
    session.cancelled_at = now
    db.session.flush()
    return session


def move_session(session: TreatmentSession, new_date: date, *, now: datetime) -> TreatmentSession:
    """Plan a session for another day (not before today in the clinic). A patient already
    reminded of the old day is sent a correction by the reminder job (clinic.reminders), which
    compares the day it told with the session's day."""
    _refuse_unless(session, SessionStatus.PLANNED, "moved")
    today = clinic_today(now)
    if new_date < today:
        raise Invalid({"scheduled_date": [f"Cannot be before today ({day_text(today)})."]})
    session.scheduled_date = new_date
    db.session.flush()
    return session


def record_side_effect(
    session: TreatmentSession,
    kind: SideEffectKind | str,
    *,
    severity: Severity | str,
    note: str | None,
    doctor: User,
    now: datetime,
) -> SideEffect:
    """A side effect follows a session that took place. An allergic reaction or a severe one
    may make its lot's adverse signal due: checked in the same transaction
    (`clinic.vigilance`)."""
    _refuse_unless(session, SessionStatus.COMPLETED, "given a side effect")
    side_effect = SideEffect(
        session_id=session.id,
        kind=SideEffectKind(kind),
        severity=Severity(severity),
        note=note,
        recorded_by_id=doctor.id,
        recorded_at=now,
    )
    db.session.add(side_effect)
    db.session.flush()
    db.session.expire(session, ["side_effects"])
    if signalling(side_effect):
        raise_adverse_signal(session.lot_id, now=now)
    return side_effect


def get_side_effect(session: TreatmentSession, *, side_effect_id: int) -> SideEffect:
    """A side effect of the session that stands (one entered in error is no longer found)."""
    side_effect = db.session.get(SideEffect, side_effect_id)
    if (
        side_effect is None
        or side_effect.session_id != session.id
        or side_effect.entered_in_error_at is not None
    ):
        raise NotFound("The session has no such side effect (or it was withdrawn).")
    return side_effect


def mark_side_effect_entered_in_error(
    side_effect: SideEffect, *, doctor: User, now: datetime
) -> SideEffect:
    """Withdraw a side effect recorded by mistake: the row stays, with who withdrew it and
    when (and the audit log has both writes), but it is no longer part of the session's
    record."""
    if side_effect.entered_in_error_at is not None:
        raise Conflict("This side effect was already marked entered in error.")
    side_effect.entered_in_error_at = now
    side_effect.entered_in_error_by_id = doctor.id
    db.session.flush()
    db.session.expire(side_effect.session, ["side_effects"])
    return side_effect


def planned_demand(first: date, last: date, *, site_ids: list[int] | None = None) -> list[Demand]:
    """Doses planned sessions need, per serum and day, between two days (inclusive), at the
    sites given (None: every site): one grouped query, whatever the number of sessions."""
    rows = db.session.execute(
        select(
            Course.serum_id,
            TreatmentSession.scheduled_date,
            func.sum(TreatmentSession.doses),
        )
        .join(Course, Course.id == TreatmentSession.course_id)
        .where(
            TreatmentSession.status == SessionStatus.PLANNED,
            TreatmentSession.scheduled_date >= first,
            TreatmentSession.scheduled_date <= last,
            *(() if site_ids is None else (TreatmentSession.site_id.in_(site_ids),)),
        )
        .group_by(Course.serum_id, TreatmentSession.scheduled_date)
        .order_by(Course.serum_id, TreatmentSession.scheduled_date)
    ).all()
    return [Demand(serum_id, day, Decimal(doses)) for serum_id, day, doses in rows]


def sessions_using_lots(lot_ids: set[int]) -> list[TreatedWithLot]:
    """Every completed session that used one of the lots, with the patient to call: one
    query."""
    if not lot_ids:
        return []
    rows = db.session.execute(
        select(
            TreatmentSession.id,
            TreatmentSession.patient_id,
            Patient.mrn,
            Patient.name,
            TreatmentSession.performed_on,
            TreatmentSession.lot_id,
        )
        .join(Patient, Patient.id == TreatmentSession.patient_id)
        .where(
            TreatmentSession.lot_id.in_(sorted(lot_ids)),
            TreatmentSession.status == SessionStatus.COMPLETED,
        )
        .order_by(TreatmentSession.performed_on, TreatmentSession.id)
    ).all()
    return [TreatedWithLot(*row) for row in rows]


def _refuse_unless(session: TreatmentSession, status: SessionStatus, action: str) -> None:
    if session.status != status:
        raise Conflict(
            f"The session of {day_text(session.performed_on or session.scheduled_date)} is "
            f"{session.status.value}: only a {status.value} session can be {action}."
        )


def _performed_on(session: TreatmentSession, performed_on: date | None, now: datetime) -> date:
    """The day the session took place: never after today in the clinic."""
    today = clinic_today(now)
    if performed_on is not None:
        if performed_on > today:
            raise Invalid({"performed_on": [f"Cannot be after today ({day_text(today)})."]})
        return performed_on
    if session.scheduled_date > today:
        raise Invalid(
            {
                "performed_on": [
                    f"The session is scheduled for {day_text(session.scheduled_date)}, after "
                    "today: give the day it was performed."
                ]
            }
        )
    return session.scheduled_date


def _check_procedure(fields: dict, doses: Decimal) -> None:
    errors = {}
    low, high = NEEDLE_MM
    needle = fields.get("needle_mm")
    if needle is None or not low <= Decimal(needle) <= high:
        errors["needle_mm"] = ["A mesotherapy needle is 4 to 13 mm long."]
    if fields.get("technique") not in {t.value for t in Technique}:
        errors["technique"] = ["One of manual, gun."]
    points = fields.get("injection_points")
    if points is None or points < 1:
        errors["injection_points"] = ["At least one injection point."]
    if doses <= 0:
        errors["doses"] = ["Must be more than 0."]
    if errors:
        raise Invalid(errors)


def _refuse_unsafe(screen: Screen, serum: Serum, override_reason: str | None) -> None:
    reasons = [reason.as_dict() for reason in screen.reasons]
    if screen.verdict == Verdict.CONTRAINDICATED:
        raise Conflict(
            f"{serum.name} is now contraindicated for this patient: the session cannot go ahead.",
            verdict=screen.verdict.value,
            reasons=reasons,
        )
    if screen.verdict == Verdict.CAUTION and override_reason is None:
        raise Conflict(
            f"The screen of {serum.name} says caution: "
            "give the reason for going ahead (the override reason).",
            {"override_reason": ["Required when the screen says caution."]},
            verdict=screen.verdict.value,
            reasons=reasons,
        )


def _pick_lot(
    serum: Serum, doses: Decimal, day: date, lot_id: int | None, *, site_id: int
) -> tuple[Lot, Decimal]:
    """The lot the session uses and how much of it, from its site's shelf: the given lot, or
    the first usable lot in FEFO order that holds the whole session (one session draws from
    one lot, so the trace names it)."""
    products = serum_products(serum.id)
    if not products:
        raise Conflict(f"No product stocks {serum.name}: receive it first.")
    if lot_id is not None:
        return _given_lot(serum, products, doses, day, lot_id, site_id=site_id)
    for lot in usable_serum_lots([p.id for p in products], day, lock=True, site_id=site_id):
        if _received_after(lot, day):
            continue
        quantity = doses_as_stock(doses, serum.dose_volume_ml, unit=lot.product.unit)
        if lot.quantity_on_hand >= quantity:
            return lot, quantity
    raise Conflict(
        f"No lot of {serum.name} usable on {day_text(day)} holds {doses} doses.",
        {"lot_id": ["No usable lot holds the session's doses."]},
    )


def _received_after(lot: Lot, day: date) -> bool:
    """A session back-dated before the lot reached the clinic cannot have used it."""
    return clinic_date(lot.received_at) > day


def _given_lot(serum, products, doses, day, lot_id, *, site_id: int) -> tuple[Lot, Decimal]:
    lot = db.session.scalar(
        select(Lot)
        .where(Lot.id == lot_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if lot is None:
        raise Invalid({"lot_id": ["No such lot."]})
    if lot.product_id not in {p.id for p in products}:
        raise Invalid({"lot_id": [f"Lot {lot.lot_number} is not a lot of {serum.name}."]})
    if lot.site_id != site_id:
        raise Conflict(
            f"Lot {lot.lot_number} is at another site: a session uses its own site's stock.",
            {"lot_id": ["At another site."]},
        )
    if not usable_on(lot, day):
        raise Conflict(
            f"Lot {lot.lot_number} is not usable on {day_text(day)} "
            f"({lot.status.value}, last day {day_text(lot.effective_expiry)}).",
            {"lot_id": ["Not usable on the session's date."]},
        )
    if _received_after(lot, day):
        raise Conflict(
            f"Lot {lot.lot_number} was received on {day_text(clinic_date(lot.received_at))}, "
            f"after the session of {day_text(day)}: it cannot have been used then.",
            {"lot_id": ["Received after the session's day."]},
        )
    quantity = doses_as_stock(doses, serum.dose_volume_ml, unit=lot.product.unit)
    if lot.quantity_on_hand < quantity:
        raise Conflict(
            f"Lot {lot.lot_number} holds {lot.quantity_on_hand} {lot.product.unit}; the session "
            f"needs {quantity}.",
            {"lot_id": ["Holds too little."]},
        )
    return lot, quantity

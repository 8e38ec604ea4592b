"""The reorder suggestions fed by what the clinic plans: each site's planned sessions, per
serum and day, handed to inventory's `reorder_suggestions` over the longest window any
supplier's lead time (plus the safety margin, REORDER_SAFETY_DAYS) needs."""

from datetime import date, timedelta
from decimal import Decimal

from flask import current_app
from sqlalchemy import func, select

from clinic.models import Course, SessionStatus, TreatmentSession
from core.database import db
from inventory import reorder
from inventory.reorder import PlannedSessions, Suggestion

DEFAULT_SAFETY_DAYS = 7


def safety_days() -> int:
    return int(current_app.config.get("REORDER_SAFETY_DAYS", DEFAULT_SAFETY_DAYS))


def reorder_suggestions(
    as_of: date, *, site_ids: list[int] | None, product_ids: list[int] | None = None
) -> list[Suggestion]:
    """What each site (None: every site) should order on `as_of`."""
    margin = safety_days()
    last = as_of + timedelta(days=reorder.longest_lead_time() + margin)
    return reorder.reorder_suggestions(
        planned_sessions(as_of, last, site_ids=site_ids),
        as_of=as_of,
        safety_days=margin,
        site_ids=site_ids,
        product_ids=product_ids,
    )


def planned_sessions(
    first: date, last: date, *, site_ids: list[int] | None
) -> list[PlannedSessions]:
    """Planned sessions and their doses per site, serum and day between two days (both
    included): one grouped query."""
    stmt = (
        select(
            TreatmentSession.site_id,
            Course.serum_id,
            TreatmentSession.scheduled_date,
            func.count(),
            func.sum(TreatmentSession.doses),
        )
        .join(Course, Course.id == TreatmentSession.course_id)
        .where(
            TreatmentSession.status == SessionStatus.PLANNED,
            TreatmentSession.scheduled_date >= first,
            TreatmentSession.scheduled_date <= last,
            *(() if site_ids is None else (TreatmentSession.site_id.in_(site_ids),)),
        )
        .group_by(TreatmentSession.site_id, Course.serum_id, TreatmentSession.scheduled_date)
    )
    return [
        PlannedSessions(site_id, serum_id, day, count, Decimal(doses))
        for site_id, serum_id, day, count, doses in db.session.execute(stmt)
    ]

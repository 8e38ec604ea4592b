"""The alert inbox: alerts to act on, filtered, counted and acknowledged."""

from datetime import datetime

from sqlalchemy import (
    Select,
    func,
    or_,
    select,
)
from sqlalchemy.orm import joinedload

from core.accounts import User
from core.database import db
from core.errors import Invalid, NotFound
from core.sites import require_site
from inventory.alerts.models import Alert, AlertKind, AlertStatus


def with_details(stmt: Select) -> Select:
    # Everything the alert's shape and message need, in the same query.
    return stmt.options(
        joinedload(Alert.product), joinedload(Alert.acknowledged_by), joinedload(Alert.site)
    )


def at_sites(site_ids: list[int] | None) -> tuple:
    """The conditions of the alerts someone working at `site_ids` acts on (None: every
    site): those of their sites, and the clinic-wide ones that no site carries (a forecast's
    shortfall)."""
    if site_ids is None:
        return ()
    return (or_(Alert.site_id.in_(site_ids), Alert.site_id.is_(None)),)


def inbox(
    status: AlertStatus | None = None,
    kind: AlertKind | None = None,
    *,
    site_ids: list[int] | None = None,
) -> Select:
    """Alerts newest first, optionally of one status and kind, at some sites (`at_sites`)."""
    stmt = with_details(select(Alert)).order_by(Alert.created_at.desc(), Alert.id.desc())
    if status is not None:
        stmt = stmt.where(Alert.status == status)
    if kind is not None:
        stmt = stmt.where(Alert.kind == kind)
    return stmt.where(*at_sites(site_ids))


def get_alert(alert_id: int) -> Alert:
    """The alert, with its product and who acknowledged it; a 404 when there is none."""
    alert = db.session.scalar(with_details(select(Alert).where(Alert.id == alert_id)))
    if alert is None:
        raise NotFound(f"No alert with id {alert_id}.")
    return alert


def open_counts(site_ids: list[int] | None = None) -> dict[str, int]:
    """Open alerts per kind, every kind named (zero included): what is left to act on at the
    sites (`at_sites`)."""
    rows = db.session.execute(
        select(Alert.kind, func.count())
        .where(Alert.status == AlertStatus.OPEN, *at_sites(site_ids))
        .group_by(Alert.kind)
    )
    counts = {kind.value: 0 for kind in AlertKind}
    counts.update({kind.value: count for kind, count in rows})
    return counts


def acknowledge(alert_id: int, user: User, *, now: datetime) -> Alert:
    """Mark the alert seen by this user. Acknowledging again keeps the first acknowledgement:
    the inbox says who saw it first and when."""
    alert = db.session.scalar(
        with_details(select(Alert).where(Alert.id == alert_id))
        .with_for_update(of=Alert)
        .execution_options(populate_existing=True)
    )
    if alert is None:
        raise NotFound(f"No alert with id {alert_id}.")
    _check_sites(user, [alert])
    if alert.status == AlertStatus.ACKNOWLEDGED:
        return alert
    alert.status = AlertStatus.ACKNOWLEDGED
    alert.acknowledged_by = user
    alert.acknowledged_at = now
    db.session.flush()
    return alert


# A page of the inbox at its largest: what one person can have looked at before saying "seen".
MOST_ACKNOWLEDGED_AT_ONCE = 500


def acknowledge_many(alert_ids: list[int], user: User, *, now: datetime) -> list[Alert]:
    """Acknowledge the alerts a person selected (or every one they were shown), in one
    transaction; the ones already acknowledged keep their first acknowledgement. Answers the
    alerts this call acknowledged. Only named alerts: one raised meanwhile is not seen."""
    ids = sorted(set(alert_ids))
    if not ids:
        raise Invalid({"alert_ids": ["Select at least one alert."]}, "Select at least one alert.")
    if len(ids) > MOST_ACKNOWLEDGED_AT_ONCE:
        too_many = f"At most {MOST_ACKNOWLEDGED_AT_ONCE} alerts at once."
        raise Invalid({"alert_ids": [too_many]}, too_many)
    found = db.session.scalars(
        with_details(select(Alert).where(Alert.id.in_(ids)))
        .order_by(Alert.id)
        .with_for_update(of=Alert)
        .execution_options(populate_existing=True)
    ).all()
    missing = set(ids) - {alert.id for alert in found}
    if missing:
        raise NotFound(f"No alert with id {min(missing)}.")
    _check_sites(user, found)
    acknowledged = [alert for alert in found if alert.status == AlertStatus.OPEN]
    for alert in acknowledged:
        alert.status = AlertStatus.ACKNOWLEDGED
        alert.acknowledged_by = user
        alert.acknowledged_at = now
    db.session.flush()
    return acknowledged


def _check_sites(user: User, alerts: list[Alert]) -> None:
    """An alert of a site the user does not work at is a 403, as its stock is."""
    for site_id in sorted({alert.site_id for alert in alerts if alert.site_id is not None}):
        require_site(user, site_id)

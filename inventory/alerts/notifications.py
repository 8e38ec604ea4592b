"""Who is told of alerts, and the e-mail digests of a scan (queued in the outbox, never sent
from here).

In a chain each site has its digest, sent to those who work there and to the administrators
of every site; the alerts no site carries (the clinic's forecast shortfalls) have a digest of
their own, sent to everyone who gets alerts. A clinic of one site gets one digest, as before
there were sites. A scan's digests list only what it created, and an alert is created once
(`models.TOLD_ONCE`): a second scan of the same day tells nothing again."""

from sqlalchemy import (
    case,
    exists,
    func,
    or_,
    select,
)

from core.accounts import Role, User
from core.database import db
from core.mail import queue_message
from core.sites import Site, user_sites
from inventory.alerts.models import URGENCY, Alert, AlertKind, ScanRun, digest_line, raised_by
from inventory.models import Product


def alert_recipients(site_id: int | None = None) -> list[str]:
    """E-mail addresses that get alerts, each once: active administrators, and active users
    who opted in, with an address; of a site, those who work there and the administrators of
    every site (None: of every site)."""
    stmt = select(User.email).where(
        User.active.is_(True),
        User.email.is_not(None),
        User.email != "",
        or_(User.role == Role.ADMIN, User.alert_emails.is_(True)),
    )
    if site_id is not None:
        works_there = exists().where(
            user_sites.c.user_id == User.id, user_sites.c.site_id == site_id
        )
        everywhere = (User.role == Role.ADMIN) & ~exists().where(user_sites.c.user_id == User.id)
        stmt = stmt.where(or_(works_there, everywhere))
    return db.session.scalars(stmt.group_by(User.email).order_by(User.email)).all()


# Most urgent first in a digest.
_DIGEST_ORDER = case({kind.value: rank for rank, kind in enumerate(URGENCY)}, value=Alert.kind)

# A digest lists at most this many alerts; the rest are counted and wait in the inbox.
DIGEST_MAX_LINES = 500
# What a digest line names (`models.digest_line`): of the alert, and its product's name and unit.
_LINE_COLUMNS = (
    Alert.kind,
    Alert.lot_number,
    Alert.effective_expiry,
    Alert.quantity,
    Alert.threshold_days,
    Product.name,
    Product.unit,
)


def queue_scan_digest(run: ScanRun) -> int:
    """One message per recipient and site listing what the run created there (and one of the
    clinic-wide alerts); none when it created nothing. Answers the number of messages
    queued."""
    if sum(run.counts.values()) == 0:
        return 0
    counted = db.session.execute(
        select(Alert.site_id, Alert.kind, func.count())
        .where(*raised_by(run))
        .group_by(Alert.site_id, Alert.kind)
    ).all()
    sites = db.session.scalars(select(Site).order_by(Site.name, Site.id).limit(2)).all()
    if len(sites) < 2:
        # One site: its digest holds the clinic-wide alerts too, as before there were sites.
        recipients = alert_recipients(sites[0].id if sites else None)
        return _queue_digest(run, _counts_of(counted), recipients, where=(), place="")
    queued = 0
    site_ids = sorted({site_id for site_id, _, _ in counted if site_id is not None})
    named = db.session.scalars(select(Site).where(Site.id.in_(site_ids)).order_by(Site.name))
    for site in named:
        counts = _counts_of(row for row in counted if row[0] == site.id)
        where = (Alert.site_id == site.id,)
        recipients = alert_recipients(site.id)
        queued += _queue_digest(run, counts, recipients, where=where, place=f" at {site.name}")
    if any(site_id is None for site_id, _, _ in counted):
        counts = _counts_of(row for row in counted if row[0] is None)
        where = (Alert.site_id.is_(None),)
        recipients = alert_recipients()
        queued += _queue_digest(run, counts, recipients, where=where, place=" for every site")
    return queued


def _counts_of(rows) -> dict[str, int]:
    """Counts per kind, in the order of the run's counts (every kind named)."""
    counts = {kind.value: 0 for kind in AlertKind}
    for _, kind, count in rows:
        counts[AlertKind(kind).value] += count
    return counts


def _queue_digest(
    run: ScanRun, counts: dict[str, int], recipients: list[str], *, where: tuple, place: str
) -> int:
    """The digest of the run's alerts meeting `where` (those of a site), to each recipient."""
    total = sum(counts.values())
    if total == 0 or not recipients:
        return 0
    # The most urgent alerts are picked from the run's own rows before anything is joined to
    # them (of those due the same day, the first raised); only they are read, with their
    # products' names, by name within a day. Plain rows: a line needs no entity.
    most_urgent = (
        select(Alert.id)
        .where(*raised_by(run), *where)
        .order_by(_DIGEST_ORDER, Alert.effective_expiry, Alert.id)
        .limit(DIGEST_MAX_LINES)
    )
    rows = db.session.execute(
        select(*_LINE_COLUMNS)
        .join(Product, Product.id == Alert.product_id)
        .where(Alert.id.in_(most_urgent))
        .order_by(_DIGEST_ORDER, Alert.effective_expiry, Product.name, Alert.id)
    ).all()
    lines = [digest_line(row.kind, row, alert=row) for row in rows]
    if total > len(lines):
        lines.append(f"... and {total - len(lines)} more in the alert inbox.")
    summary = ", ".join(f"{count} {kind}" for kind, count in counts.items() if count)
    subject = f"Alerts of {run.day_text}{place}: {summary}"
    body = (
        f"The alert scan of {run.day_text} found {total} new alert(s){place}:\n\n"
        + "\n".join(lines)
        + "\n"
    )
    for recipient in recipients:
        queue_message(recipient, subject[:200], body=body)
    return len(recipients)

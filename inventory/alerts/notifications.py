"""Who is told of alerts, and the e-mail digest of a scan (queued in the outbox, never sent
from here)."""

from sqlalchemy import (
    case,
    or_,
    select,
)

from core.accounts import Role, User
from core.database import db
from core.mail import queue_message
from inventory.alerts.models import URGENCY, Alert, ScanRun, digest_line, raised_by
from inventory.models import Product


def alert_recipients() -> list[str]:
    """E-mail addresses that get alerts, each once: active administrators, and active users
    who opted in, with an address."""
    return db.session.scalars(
        select(User.email)
        .where(
            User.active.is_(True),
            User.email.is_not(None),
            User.email != "",
            or_(User.role == Role.ADMIN, User.alert_emails.is_(True)),
        )
        .group_by(User.email)
        .order_by(User.email)
    ).all()


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
    """One message per recipient listing what the run created; none when it created nothing.
    Answers the number of messages queued."""
    total = sum(run.counts.values())
    if total == 0:
        return 0
    recipients = alert_recipients()
    if not recipients:
        return 0
    # The most urgent alerts are picked from the run's own rows before anything is joined to
    # them (of those due the same day, the first raised); only they are read, with their
    # products' names, by name within a day. Plain rows: a line needs no entity.
    most_urgent = (
        select(Alert.id)
        .where(*raised_by(run))
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
    summary = ", ".join(f"{count} {kind}" for kind, count in run.counts.items() if count)
    subject = f"Alerts of {run.day_text}: {summary}"
    body = (
        f"The alert scan of {run.day_text} found {total} new alert(s):\n\n"
        + "\n".join(lines)
        + "\n"
    )
    for recipient in recipients:
        queue_message(recipient, subject[:200], body=body)
    return len(recipients)

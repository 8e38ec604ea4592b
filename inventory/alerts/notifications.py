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
from inventory.alerts.models import URGENCY, Alert, ScanRun, digest_line
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


def queue_scan_digest(run: ScanRun) -> int:
    """One message per recipient listing what the run created; none when it created nothing.
    Answers the number of messages queued."""
    total = sum(run.counts.values())
    if total == 0:
        return 0
    recipients = alert_recipients()
    if not recipients:
        return 0
    rows = db.session.execute(
        select(Alert, Product)
        .join(Product, Product.id == Alert.product_id)
        .where(Alert.scan_run_id == run.id)
        .order_by(_DIGEST_ORDER, Alert.effective_expiry, Product.name, Alert.id)
        .limit(DIGEST_MAX_LINES)
    ).all()
    lines = [digest_line(alert.kind, product, alert=alert) for alert, product in rows]
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

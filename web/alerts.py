"""The alert inbox of the web interface, for administrators and pharmacists (SPEC 4 gives the
inbox to both): filter by status and kind, newest first, and acknowledge an alert. It shows
the site chosen in the header (else every site of the user's), with the clinic-wide alerts,
and in a chain says which site each alert is at. Every page
can also ask how many alerts are open, for its links to the inbox."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import SelectChoice, SelectField

from clinic.vigilance import sessions_behind
from core.accounts import PHARMACY_ROLES, Role, User
from core.clock import moment_text, utcnow
from core.database import db
from core.errors import Invalid
from core.sites import in_a_chain
from inventory import alerts
from inventory.alerts import AlertKind, AlertStatus
from inventory.lots import transitions
from inventory.models import Lot
from web.pages import optional_record_id, page_of, role_page
from web.sites import shown_site_ids

bp = Blueprint("inbox", __name__, url_prefix="/alerts")

KIND_LABELS = {
    AlertKind.RECALL: "Recall",
    AlertKind.ADVERSE_SIGNAL: "Adverse signal",
    AlertKind.EXPIRED: "Expired",
    AlertKind.EXPIRING: "Expiring",
    AlertKind.SHORTFALL: "Shortfall",
    AlertKind.LOW_STOCK: "Low stock",
    AlertKind.PURCHASE_ORDER_LATE: "Order late",
}
ALL = "all"
# The inbox's own query arguments: an acknowledgement sends the reader back to the same view.
INBOX_ARGUMENTS = ("status", "kind", "page")


class InboxFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    status = SelectField(
        "Status",
        choices=[
            SelectChoice(AlertStatus.OPEN.value, "Open"),
            SelectChoice(AlertStatus.ACKNOWLEDGED.value, "Acknowledged"),
            SelectChoice(ALL, "All"),
        ],
        default=AlertStatus.OPEN.value,
    )
    kind = SelectField(
        "Kind",
        choices=[
            SelectChoice("", "Every kind"),
            *(SelectChoice(kind.value, label) for kind, label in KIND_LABELS.items()),
        ],
        default="",
    )


def kind_label(kind: str) -> str:
    return KIND_LABELS[AlertKind(kind)]


def counts_text(counts: dict[str, int]) -> str:
    """A run's or the inbox's counts per kind in words, most urgent kind first:
    "2 expiring, 1 low stock"; "none" when every count is zero."""
    words = [
        f"{counts[kind.value]} {label.lower()}"
        for kind, label in KIND_LABELS.items()
        if counts.get(kind.value)
    ]
    return ", ".join(words) or "none"


bp.add_app_template_filter(kind_label, "alert_kind")
bp.add_app_template_filter(counts_text, "alert_counts")


@bp.app_context_processor
def alert_links():
    # A function, not a number: only the pages that show the count pay for its query.
    return {"open_alert_counts": lambda: alerts.open_counts(shown_site_ids())}


def inbox_arguments() -> dict[str, str]:
    return {name: request.args[name] for name in INBOX_ARGUMENTS if request.args.get(name)}


@bp.route("")
@role_page(*PHARMACY_ROLES)
def list_alerts():
    return _inbox_page()


def _inbox_page(bulk_error: str | None = None, status: int = 200):
    form = InboxFilterForm(request.args)
    if not form.validate():
        return render_template("alerts/inbox.html", form=form, page=None), 422
    state = None if form.status.data == ALL else AlertStatus(form.status.data)
    kind = AlertKind(form.kind.data) if form.kind.data else None
    page = page_of(alerts.inbox(state, kind, site_ids=shown_site_ids()))
    if page.number > page.pages:
        # Acknowledging the last alert of the last page leaves that page empty: show the one
        # before it instead.
        return redirect(url_for("inbox.list_alerts", **{**inbox_arguments(), "page": page.pages}))
    signal_sessions = sessions_behind(page.items)
    page_html = render_template(
        "alerts/inbox.html",
        form=form,
        page=page,
        back=inbox_arguments(),
        open_shown=[alert.id for alert in page.items if alert.status == AlertStatus.OPEN],
        bulk_error=bulk_error,
        lot_links=True,  # pharmacists act on the lot page; administrators read it
        # An adverse signal's sessions, all the page's in one query; pharmacists may put its
        # lot in quarantine or recall it from here (the lot page's own steps).
        signal_sessions=signal_sessions,
        signal_lot_steps=_steps_of_signal_lots(page.items, signal_sessions),
        recalls=current_user.role == Role.PHARMACIST,
        show_sites=in_a_chain(),
    )
    return page_html, status


def _steps_of_signal_lots(shown: list, signal_sessions: dict) -> dict[int, set[str]]:
    """What each adverse signal's lot can still go through (quarantine, recall): one query for
    the page's signals, none when it shows none."""
    lot_ids = {alert.lot_id for alert in shown if alert.id in signal_sessions}
    if not lot_ids:
        return {}
    found = db.session.scalars(select(Lot).where(Lot.id.in_(sorted(lot_ids))))
    return {lot.id: {step.value for step in transitions(lot)} for lot in found}


@bp.route("/<id:alert_id>/ack", methods=["POST"])
@role_page(*PHARMACY_ROLES)
def acknowledge(alert_id):
    user = db.session.get(User, current_user.id)
    now = utcnow()
    alert = alerts.acknowledge(alert_id, user, now=now)
    # Acknowledging again keeps the first acknowledgement: its time tells which one this was.
    if alert.acknowledged_at == now:
        flash(f"Acknowledged: {alert.message}", "success")
    else:
        flash(
            f"Already acknowledged by {alert.acknowledged_by_username or 'a removed user'} "
            f"on {moment_text(alert.acknowledged_at)}.",
            "info",
        )
    return redirect(url_for("inbox.list_alerts", **inbox_arguments()))


@bp.route("/ack", methods=["POST"])
@role_page(*PHARMACY_ROLES)
def acknowledge_many():
    """The selected alerts, or every open one the page showed (their ids came with it: an
    alert raised since is not acknowledged unseen)."""
    field = "shown" if request.form.get("which") == "shown" else "alert_id"
    user = db.session.get(User, current_user.id)
    try:
        ids = [optional_record_id(value) for value in request.form.getlist(field)]
        acknowledged = alerts.acknowledge_many([i for i in ids if i], user, now=utcnow())
    except ValueError:
        return _inbox_page("Those alerts are not in the inbox.", 422)
    except Invalid as error:
        db.session.rollback()
        return _inbox_page(error.message, 422)
    count = len(acknowledged)
    flash(
        f"Acknowledged {count} alert{'' if count == 1 else 's'}."
        if count
        else "Those alerts were already acknowledged.",
        "success" if count else "info",
    )
    return redirect(url_for("inbox.list_alerts", **inbox_arguments()))

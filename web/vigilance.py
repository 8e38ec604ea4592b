"""The vigilance page, for pharmacists, doctors and administrators: the side effects of
completed sessions per serum, then per lot and month, over a window (the last twelve months
unless asked), with the sessions that met each lot; the same counts `GET /api/vigilance`
answers, from the same domain function."""

import calendar

from flask import Blueprint, render_template, request
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DateField
from wtforms.validators import Optional

from clinic import vigilance
from core.accounts import ALL_ROLES, PHARMACY_ROLES
from core.clock import clinic_today
from core.database import PAGE_SIZE
from core.errors import DomainError
from web.pages import page_of, role_page, show_domain_error
from web.sites import shown_site_ids

bp = Blueprint("side_effects", __name__)

SEVERITY_LABELS = {"mild": "Mild", "moderate": "Moderate", "severe": "Severe"}
KIND_LABELS = {
    "allergic_reaction": "Allergic reaction",
    "rash": "Rash",
    "redness": "Redness",
    "local_pain": "Local pain",
    "hematoma": "Hematoma",
    "other": "Other",
}


@bp.app_template_filter("month")
def month_text(month: str) -> str:
    """`2025-03` as people say it: March 2025."""
    year, number = month.split("-")
    return f"{calendar.month_name[int(number)]} {year}"


class WindowForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    first = DateField("From", name="from", validators=[Optional()])
    to = DateField("To", validators=[Optional()])


@bp.route("/vigilance")
@role_page(*ALL_ROLES)
def by_serum_and_lot():
    form = WindowForm(request.args)
    if not form.validate():
        return _page(form, status=422)
    try:
        first, last = vigilance.window_asked(form.first.data, form.to.data, today=clinic_today())
    except DomainError as error:
        return _page(form, status=show_domain_error(form, error))
    form.first.data, form.to.data = first, last
    site_ids = shown_site_ids()
    by_lot = page_of(vigilance.side_effects_by_lot(first, last, site_ids=site_ids), scalars=False)
    by_serum = vigilance.side_effects_by_serum(first, last, site_ids=site_ids, limit=PAGE_SIZE)
    return _page(form, by_lot=by_lot, by_serum=by_serum)


def _page(form: WindowForm, *, status: int = 200, by_lot=None, by_serum=()):
    return render_template(
        "vigilance.html",
        form=form,
        by_lot=by_lot,
        by_serum=by_serum,
        severities=SEVERITY_LABELS,
        kinds=KIND_LABELS,
        lot_links=current_user.role in PHARMACY_ROLES,  # the lot page is the pharmacy's
    ), status

"""Serum formulas' pages: the list of versions (draft, approved, retired), a version's page
with its components, writing a new serum as a draft (component rows that work without a
script: blank rows, and a button that adds more), editing a draft, starting the next version
of a serum, and retiring a version after a confirmation."""

from flask import Blueprint, flash, redirect, render_template, request, url_for

from core.accounts import PHARMACY_ROLES
from core.database import db
from core.errors import Conflict, DomainError
from formulary import serums as formulas
from formulary import substances as catalogue
from formulary.models import Serum, SerumSource, SerumStatus
from web.formulary.common import signed_in_user
from web.formulary.forms import BLANK_ROWS, DraftForm, SerumForm
from web.pages import confirmation_page, confirmed, page_of, role_page

bp = Blueprint("formulary_serums", __name__, url_prefix="/formulary/serums")

ADD_ROWS = "add_rows"


@bp.route("")
@role_page(*PHARMACY_ROLES)
def serums():
    q = request.args.get("q", "").strip()
    status = request.args.get("status", "")
    if status not in {s.value for s in SerumStatus}:
        status = ""
    stmt = formulas.serum_query(q=q or None, status=status or None)
    return render_template(
        "formulary/serums.html", q=q, status=status, statuses=list(SerumStatus), page=page_of(stmt)
    )


@bp.route("/<id:serum_id>")
@role_page(*PHARMACY_ROLES)
def serum_page(serum_id):
    return _serum_page(formulas.get_serum(serum_id))


def _serum_page(serum: Serum, status: int = 200, refusal: str | None = None):
    user = signed_in_user()
    page = render_template(
        "formulary/serum.html",
        serum=serum,
        versions=db.session.scalars(formulas.serum_query(code=serum.code)).all(),
        problems=formulas.concentration_problems(serum)
        if serum.status is SerumStatus.DRAFT
        else {},
        maxima={c.substance_id: catalogue.max_concentration(c.substance) for c in serum.components},
        own_part=formulas.own_part(serum, user),
        refusal=refusal,
    )
    return page, status


@bp.route("/new", methods=["GET", "POST"])
@role_page(*PHARMACY_ROLES)
def new_serum():
    form = SerumForm()
    if request.method == "GET" or ADD_ROWS in request.form:
        form.add_blank_rows(0 if request.method == "GET" else BLANK_ROWS)
        return _form_page(form, None)
    parsed = _fields(form)
    if parsed is None:
        return _form_page(form, None, status=422)
    fields, rows = parsed
    try:
        serum = formulas.create_serum(author=signed_in_user(), code=form.code.data, **fields)
    except DomainError as error:
        return _form_page(form, None, status=_show_error(form, error, rows))
    flash(
        f"Draft {serum.code} version {serum.version} saved: another person approves it before "
        "it can be used.",
        "success",
    )
    return redirect(url_for("formulary_serums.serum_page", serum_id=serum.id))


@bp.route("/<id:serum_id>/edit", methods=["GET", "POST"])
@role_page(*PHARMACY_ROLES)
def edit_draft(serum_id):
    serum = formulas.get_serum(serum_id)
    try:
        formulas.refuse_unless_editable(serum)
    except Conflict as error:
        return _serum_page(serum, status=error.status, refusal=error.message)
    if request.method == "GET":
        form = DraftForm(
            formdata=None,
            name=serum.name,
            source=serum.source.value,
            manufacturer=serum.manufacturer or "",
            dose_volume_ml=serum.dose_volume_ml.normalize(),
            components=[
                {
                    "substance": c.substance.name,
                    "amount": c.amount_value.normalize(),
                    "unit": c.amount_unit,
                }
                for c in serum.components
            ],
        )
        form.add_blank_rows(2)
        return _form_page(form, serum)
    form = DraftForm()
    if ADD_ROWS in request.form:
        form.add_blank_rows()
        return _form_page(form, serum)
    parsed = _fields(form)
    if parsed is None:
        return _form_page(form, serum, status=422)
    fields, rows = parsed
    try:
        formulas.update_draft(serum, changes=fields, editor=signed_in_user())
    except DomainError as error:
        return _form_page(form, serum, status=_show_error(form, error, rows))
    flash(f"Draft {serum.code} version {serum.version} saved.", "success")
    return redirect(url_for("formulary_serums.serum_page", serum_id=serum.id))


@bp.route("/<id:serum_id>/versions", methods=["POST"])
@role_page(*PHARMACY_ROLES)
def new_version(serum_id):
    serum = formulas.get_serum(serum_id)
    try:
        draft = formulas.new_version(serum, author=signed_in_user())
    except DomainError as error:
        db.session.rollback()
        return _serum_page(formulas.get_serum(serum_id), status=error.status, refusal=error.message)
    flash(
        f"Version {draft.version} of {draft.code} is a draft copy of version {serum.version}: "
        "change it, then another person approves it.",
        "success",
    )
    return redirect(url_for("formulary_serums.edit_draft", serum_id=draft.id))


@bp.route("/<id:serum_id>/retire", methods=["POST"])
@role_page(*PHARMACY_ROLES)
def retire(serum_id):
    serum = formulas.get_serum(serum_id)
    label = f"{serum.code} version {serum.version}"
    if not confirmed():
        consequence = (
            "The draft is abandoned; it stays in the history as retired."
            if serum.status is SerumStatus.DRAFT
            else "Doctors can no longer choose it for a new course; it stays in the history."
        )
        return confirmation_page(
            title=f"Retire {label}",
            question=f"Retire {label} ({serum.name})?",
            action=f"Retire {label}",
            cancel_url=url_for("formulary_serums.serum_page", serum_id=serum.id),
            details=(consequence,),
        )
    try:
        formulas.retire(serum)
    except DomainError as error:
        db.session.rollback()
        return _serum_page(formulas.get_serum(serum_id), status=error.status, refusal=error.message)
    flash(f"{label} is retired.", "success")
    return redirect(url_for("formulary_serums.serum_page", serum_id=serum.id))


def _fields(form: SerumForm) -> tuple[dict, list[int]] | None:
    """The formula's fields and components from the form, with the row each component came
    from; None when something is wrong, every wrong field and row marked at once (substance
    names nobody recognises included)."""
    valid = form.validate()
    rows = form.filled_rows()
    named = {f"components.{i}": [row.substance.data] for i, row in rows if row.substance.data}
    found = {}
    try:
        found = catalogue.substances_by_names(named)
    except DomainError as error:
        for key, messages in error.errors.items():
            row = form.components[int(key.split(".")[1])].form
            row.substance.errors = [*row.substance.errors, *messages]
        valid = False
    if not valid:
        return None
    components = [
        {
            "substance_id": found[f"components.{i}"][0].id,
            "amount_per_dose": {"value": row.amount.data, "unit": row.unit.data},
        }
        for i, row in rows
    ]
    fields = {
        "name": form.name.data.strip(),
        "source": SerumSource(form.source.data),
        "manufacturer": (form.manufacturer.data or "").strip() or None,
        "dose_volume_ml": form.dose_volume_ml.data,
        "components": components,
    }
    return fields, [i for i, _ in rows]


def _show_error(form: SerumForm, error: DomainError, rows: list[int]) -> int:
    """The refusal beside its field, or its component's row (the rules count components; the
    form counts rows, blank ones too); the rest above the form. Nothing was kept."""
    db.session.rollback()
    placed = False
    for key, messages in error.errors.items():
        parts = key.split(".")
        if parts[0] == "components" and len(parts) == 3:
            row = form.components[rows[int(parts[1])]].form
            field = row.substance if parts[2] == "substance_id" else row.amount
        else:
            field = getattr(form, key, None)
        if field is None or not hasattr(field, "errors"):
            continue
        field.errors = [*field.errors, *messages]
        placed = True
    if isinstance(error, Conflict) or not placed:
        form.form_errors.append(error.message)
    return error.status


def _form_page(form: SerumForm, serum: Serum | None, status: int = 200):
    page = render_template(
        "formulary/serum_form.html",
        form=form,
        serum=serum,
        add_rows=ADD_ROWS,
        substance_names=catalogue.ingredient_names(),
    )
    return page, status

"""The substance catalogue's pages: a searchable list, a substance's page (its classes, the
allergens it carries, its synonyms, the cross-reactivity groups it is in), and the forms that
add and change substances. Relations are typed as names, one per line."""

from flask import Blueprint, flash, redirect, render_template, request, url_for

from core.accounts import PHARMACY_ROLES
from core.errors import DomainError
from formulary import graph
from formulary import substances as catalogue
from formulary.codes import code_line, codes_from_lines
from formulary.models import Category, Substance
from web.formulary.forms import SubstanceForm, lines
from web.pages import page_of, role_page, show_domain_error

bp = Blueprint("formulary_substances", __name__, url_prefix="/formulary/substances")

# The catalogue's field names as the form spells them.
FIELDS = {"max_concentration_per_ml": "max_value"}


@bp.route("")
@role_page(*PHARMACY_ROLES)
def substances():
    q = request.args.get("q", "").strip()
    category = request.args.get("category", "")
    if category not in {c.value for c in Category}:
        category = ""
    stmt = catalogue.substance_query(q=q or None, category=category or None)
    return render_template(
        "formulary/substances.html",
        q=q,
        category=category,
        categories=list(Category),
        page=page_of(stmt),
    )


@bp.route("/<id:substance_id>")
@role_page(*PHARMACY_ROLES)
def substance_page(substance_id):
    substance = catalogue.get_substance(substance_id)
    lineage = graph.lineages([substance.id])[substance.id]
    return render_template(
        "formulary/substance.html",
        substance=substance,
        # Everything above it, at any depth: the classes it is in and the allergens it carries.
        lineage=[item for item in lineage if item.substance_id != substance.id],
        groups=graph.cross_reactivity_groups_of([substance.id]).get(substance.id, []),
        members=catalogue.class_members(substance) if substance.is_class else [],
        carriers=catalogue.carriers_of(substance),
    )


@bp.route("/new", methods=["GET", "POST"])
@role_page(*PHARMACY_ROLES)
def new_substance():
    form = SubstanceForm()
    if request.method == "GET":
        return _form_page(form, None)
    fields = _fields(form)
    if fields is None:
        return _form_page(form, None, status=422)
    try:
        substance = catalogue.create_substance(**fields)
    except DomainError as error:
        return _form_page(form, None, status=show_domain_error(form, error, FIELDS))
    flash(f"{substance.name} added to the catalogue.", "success")
    return redirect(url_for("formulary_substances.substance_page", substance_id=substance.id))


@bp.route("/<id:substance_id>/edit", methods=["GET", "POST"])
@role_page(*PHARMACY_ROLES)
def edit_substance(substance_id):
    substance = catalogue.get_substance(substance_id)
    if request.method == "GET":
        return _form_page(_filled_form(substance), substance)
    form = SubstanceForm()
    fields = _fields(form)
    if fields is None:
        return _form_page(form, substance, status=422)
    try:
        catalogue.update_substance(substance, changes=fields)
    except DomainError as error:
        status = show_domain_error(form, error, FIELDS)
        return _form_page(form, catalogue.get_substance(substance_id), status=status)
    flash(f"{substance.name} saved.", "success")
    return redirect(url_for("formulary_substances.substance_page", substance_id=substance.id))


def _filled_form(substance: Substance) -> SubstanceForm:
    maximum = catalogue.max_concentration(substance)
    return SubstanceForm(
        formdata=None,
        name=substance.name,
        category=substance.category.value,
        is_class=substance.is_class,
        synonyms="\n".join(s.name for s in substance.synonyms),
        codes="\n".join(code_line(c.system, c.code) for c in substance.codes),
        parents="\n".join(s.name for s in substance.parents),
        contains="\n".join(s.name for s in substance.contains),
        max_value=maximum.value.normalize() if maximum else None,
        max_unit=maximum.unit if maximum else "",
        note=substance.note or "",
    )


def _fields(form: SubstanceForm) -> dict | None:
    """The catalogue's fields from the form, or None when something is wrong; every wrong
    field says so at once, names nobody recognises included."""
    valid = form.validate()
    named, codes = {}, []
    try:
        named = catalogue.substances_by_names(
            {"parents": lines(form.parents.data), "contains": lines(form.contains.data)}
        )
    except DomainError as error:
        show_domain_error(form, error)
        valid = False
    try:
        codes = codes_from_lines(lines(form.codes.data))
    except DomainError as error:
        show_domain_error(form, error)
        valid = False
    if not valid:
        return None
    maximum = None
    if form.max_value.data is not None:
        maximum = {"value": form.max_value.data, "unit": form.max_unit.data}
    return {
        "name": form.name.data,
        "category": Category(form.category.data),
        "is_class": form.is_class.data,
        "synonyms": lines(form.synonyms.data),
        "codes": codes,
        "parents": [s.id for s in named["parents"]],
        "contains": [s.id for s in named["contains"]],
        "max_concentration_per_ml": maximum,
        "note": (form.note.data or "").strip() or None,
    }


def _form_page(form: SubstanceForm, substance: Substance | None, status: int = 200):
    page = render_template("formulary/substance_form.html", form=form, substance=substance)
    return page, status

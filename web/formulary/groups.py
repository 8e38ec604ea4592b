"""Cross-reactivity groups' pages: the list, a group's page, and the forms that add a group
and change its name, members and note. Members are typed as names, one per line."""

from flask import Blueprint, flash, redirect, render_template, request, url_for

from core.accounts import PHARMACY_ROLES
from core.errors import DomainError
from formulary import cross_reactivity
from formulary import substances as catalogue
from formulary.models import CrossReactivityGroup
from web.formulary.forms import GroupForm, lines
from web.pages import page_of, role_page, show_domain_error

bp = Blueprint("formulary_groups", __name__, url_prefix="/formulary/cross-reactivity")


@bp.route("")
@role_page(*PHARMACY_ROLES)
def groups():
    return render_template("formulary/groups.html", page=page_of(cross_reactivity.group_query()))


@bp.route("/<id:group_id>")
@role_page(*PHARMACY_ROLES)
def group_page(group_id):
    return render_template("formulary/group.html", group=cross_reactivity.get_group(group_id))


@bp.route("/new", methods=["GET", "POST"])
@role_page(*PHARMACY_ROLES)
def new_group():
    form = GroupForm()
    if request.method == "GET":
        return _form_page(form, None)
    fields = _fields(form)
    if fields is None:
        return _form_page(form, None, status=422)
    try:
        group = cross_reactivity.create_group(**fields)
    except DomainError as error:
        return _form_page(form, None, status=show_domain_error(form, error))
    flash(f"Cross-reactivity group {group.name} added.", "success")
    return redirect(url_for("formulary_groups.group_page", group_id=group.id))


@bp.route("/<id:group_id>/edit", methods=["GET", "POST"])
@role_page(*PHARMACY_ROLES)
def edit_group(group_id):
    group = cross_reactivity.get_group(group_id)
    if request.method == "GET":
        form = GroupForm(
            formdata=None,
            name=group.name,
            members="\n".join(member.name for member in group.members),
            note=group.note or "",
        )
        return _form_page(form, group)
    form = GroupForm()
    fields = _fields(form)
    if fields is None:
        return _form_page(form, group, status=422)
    try:
        cross_reactivity.update_group(group, changes=fields)
    except DomainError as error:
        return _form_page(form, group, status=show_domain_error(form, error))
    flash(f"Cross-reactivity group {group.name} saved.", "success")
    return redirect(url_for("formulary_groups.group_page", group_id=group.id))


def _fields(form: GroupForm) -> dict | None:
    valid = form.validate()
    members = []
    try:
        members = catalogue.substances_by_names({"members": lines(form.members.data)})["members"]
    except DomainError as error:
        show_domain_error(form, error)
        valid = False
    if not valid:
        return None
    return {
        "name": form.name.data,
        "members": [member.id for member in members],
        "note": (form.note.data or "").strip() or None,
    }


def _form_page(form: GroupForm, group: CrossReactivityGroup | None, status: int = 200):
    return render_template("formulary/group_form.html", form=form, group=group), status

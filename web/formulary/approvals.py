"""The approval queue: every draft formula waiting for a second person, each with what it
changes from the version it replaces (components added, removed, amounts changed), and its
approval after a confirmation. Nobody approves a draft they wrote or changed: the rule is the
formulary's (`formulary.serums.approve`); the page only leaves out the button."""

from flask import Blueprint, flash, redirect, render_template, url_for

from core.accounts import Role
from core.database import db
from core.errors import DomainError
from formulary import serums as formulas
from formulary.models import SerumStatus
from web.formulary.common import change_lines, field_lines, signed_in_user
from web.pages import confirmation_page, confirmed, page_of, role_page

bp = Blueprint("approvals", __name__, url_prefix="/formulary/approvals")

# Approving is the API's too: pharmacists and administrators, never of their own drafts.
APPROVERS = (Role.PHARMACIST, Role.ADMIN)


@bp.route("")
@role_page(*APPROVERS)
def queue():
    return _queue_page()


def _queue_page(status: int = 200, refused: dict[int, list[str]] | None = None):
    user = signed_in_user()
    page = page_of(formulas.serum_query(status=SerumStatus.DRAFT))
    replaced = formulas.versions_replaced(page.items)
    drafts = []
    for draft in page.items:
        changes = formulas.formula_changes(draft, replaced[draft.id])
        drafts.append(
            {
                "serum": draft,
                "changes": changes,
                "field_lines": field_lines(changes),
                "own_part": formulas.own_part(draft, user),
                "problems": formulas.concentration_problems(draft),
                "refused": (refused or {}).get(draft.id, []),
            }
        )
    return render_template("formulary/approvals.html", page=page, drafts=drafts), status


@bp.route("/<id:serum_id>/approve", methods=["POST"])
@role_page(*APPROVERS)
def approve(serum_id):
    serum = formulas.get_serum(serum_id)
    approver = signed_in_user()
    label = f"{serum.code} version {serum.version}"
    try:
        # Asked before "are you sure?": nobody should confirm what will be refused anyway.
        formulas.refuse_own_approval(serum, approver)
    except DomainError as error:
        return _queue_page(status=error.status, refused={serum.id: [error.message]})
    if not confirmed():
        base = formulas.versions_replaced([serum])[serum.id]
        changes = formulas.formula_changes(serum, base)
        if base is not None and base.status is SerumStatus.APPROVED:
            replaces = f"It replaces version {base.version}, which is then retired."
        else:
            replaces = "Doctors can choose it for a course as soon as it is approved."
        return confirmation_page(
            title=f"Approve {label}",
            question=f"Approve {label} ({serum.name})? {replaces}",
            action=f"Approve {label}",
            cancel_url=url_for("approvals.queue"),
            details=tuple(change_lines(changes)),
        )
    try:
        formulas.approve(serum, approver=approver)
    except DomainError as error:
        refused = [error.message, *(m for ms in error.errors.values() for m in ms)]
        db.session.rollback()
        return _queue_page(status=error.status, refused={serum_id: refused})
    flash(f"{label} ({serum.name}) is approved: doctors can choose it now.", "success")
    return redirect(url_for("approvals.queue"))

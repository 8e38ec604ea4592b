"""What every page of the web interface shares: the role a page is for, domain errors shown
next to the fields they concern, exact quantities typed into forms, and pages of long lists.

A page that refuses a form answers 4xx, so the app's after_request rolls back whatever the
attempt wrote; a form that succeeds redirects (302), which commits.
"""

import dataclasses
import functools
from datetime import date
from decimal import Decimal

from flask import abort, g, render_template, request
from flask_login import current_user
from sqlalchemy import Select, func, select
from wtforms.validators import ValidationError

from core.accounts import Role
from core.audit import set_actor
from core.database import MAX_ID, PAGE_SIZE, db
from core.errors import Conflict, DomainError
from inventory.models import QUANTITY_PLACES
from web.login import login_manager

ROLE_HOMES = {
    Role.PHARMACIST: "stock.board",
    Role.DOCTOR: "doctor_today.today",
    Role.ADMIN: "admin.home",
}
ROLE_NAMES = {Role.PHARMACIST: "pharmacists", Role.DOCTOR: "doctors", Role.ADMIN: "administrators"}


def role_page(*roles: Role):
    """Decorate a page view: a visitor who is not signed in is sent to /login, a user of
    another role gets a 403 page. The signed-in user is the audit log's actor."""
    allowed = {Role(role) for role in roles}

    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in allowed:
                names = " and ".join(ROLE_NAMES[role] for role in sorted(allowed))
                abort(403, description=f"This page is for {names}.")
            set_actor(current_user.id, current_user.username)
            return view(*args, **kwargs)

        wrapper.allowed_roles = allowed
        return wrapper

    return decorator


def show_domain_error(form, error: DomainError, fields: dict[str, str] | None = None) -> int:
    """Put a refused operation's messages next to the form's fields (`fields` renames the
    domain's field names to the form's), the rest above the form; answers the status code.
    The attempt is rolled back first, so the page is drawn from what is really stored."""
    db.session.rollback()
    fields = fields or {}
    placed = False
    for name, messages in error.errors.items():
        field = getattr(form, fields.get(name, name), None)
        if field is None or not hasattr(field, "errors"):
            continue
        field.errors = [*field.errors, *messages]
        placed = True
    if isinstance(error, Conflict) or not placed:
        form.form_errors.append(error.message)
    return error.status


def optional_record_id(value) -> int | None:
    """A WTForms coerce for a select of record ids: blank is None; a number no id can be (over
    the database's integer range) is refused as a bad choice, not sent to the database."""
    if value in (None, ""):
        return None
    number = int(value)
    if not 0 < number <= MAX_ID:
        raise ValueError("Not a record id.")
    return number


def _amount_in_millionths(field) -> Decimal | None:
    """The field's amount, refused when it is no number or finer than the ledger counts."""
    value = field.data
    if value is None:
        return None
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValidationError("Not a number.")
    if value.as_tuple().exponent < -QUANTITY_PLACES:
        raise ValidationError(f"At most {QUANTITY_PLACES} decimal places.")
    return value


def exact_quantity(form, field) -> None:
    """A WTForms validator: more than 0, in millionths at most (the ledger counts no finer)."""
    value = _amount_in_millionths(field)
    if value is not None and value <= 0:
        raise ValidationError("Must be more than 0.")


def counted_quantity(form, field) -> None:
    """A WTForms validator for what is there (on a shelf, out of a box): 0 or more."""
    value = _amount_in_millionths(field)
    if value is not None and value < 0:
        raise ValidationError("0 when there is none, never less.")


def signed_exact_quantity(form, field) -> None:
    """A WTForms validator for a correction: up or down, never zero, in millionths at most."""
    value = _amount_in_millionths(field)
    if value == 0:
        raise ValidationError("An adjustment changes the count: write +2 or -2, not 0.")


def quantity_text(quantity: Decimal | None) -> str:
    """An exact quantity as a person writes it: 10, 2.5, 0.000001 (never 1E+1)."""
    if quantity is None:
        return ""
    return f"{Decimal(quantity).normalize():f}"


def doses_text(doses: Decimal) -> str:
    """A number of doses as a person says it: 1 dose, 1.5 doses, 4 doses."""
    return f"{quantity_text(doses)} dose{'' if doses == 1 else 's'}"


def as_of_argument(default: date) -> date:
    """The `as_of` query argument of a page (a day to look at the board as of), or today."""
    raw = request.args.get("as_of")
    if not raw:
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        abort(422, description="as_of must be a date written YYYY-MM-DD.")


@dataclasses.dataclass(frozen=True)
class Page:
    items: list
    number: int
    total: int
    size: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def page_of(stmt: Select, size: int = PAGE_SIZE, *, scalars: bool = True) -> Page:
    """The page of a select named by the `page` query argument: two queries, whatever the
    page's length. Items are the select's first column, or its rows (`scalars=False`)."""
    number = request.args.get("page", "1")
    number = int(number) if number.isdigit() and int(number) > 0 else 1
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    window = stmt.limit(size).offset((number - 1) * size)
    items = (db.session.scalars(window) if scalars else db.session.execute(window)).all()
    return Page(list(items), number, total, size)


def first_error_on_page() -> bool:
    """True for the first field with an error that a page renders, once per request: the
    field macro gives it `autofocus`, so the cursor lands where the first fix is needed, with
    or without script."""
    if g.get("error_focused"):
        return False
    g.error_focused = True
    return True


CONFIRMED = "confirmed"


def confirmed() -> bool:
    """Whether the person has said yes to an irreversible step: on the confirm page, or in the
    dialog static/confirm.js opens for a form marked data-confirm."""
    return request.form.get(CONFIRMED) == "yes"


def confirmation_page(
    *,
    title: str,
    question: str,
    action: str,
    cancel_url: str,
    details: tuple[str, ...] = (),
    action_url: str | None = None,
    fields: list[tuple[str, str]] | None = None,
):
    """The page that asks before an irreversible step when no script asked: it posts the form
    again, as it was filled in, with the yes (or `fields` to `action_url`, for a step that
    follows what the form recorded). Nothing irreversible has been done yet."""
    if fields is None:
        fields = [
            (name, value)
            for name, value in request.form.items(multi=True)
            if name not in ("csrf_token", CONFIRMED)
        ]
    page = render_template(
        "confirm.html",
        title=title,
        question=question,
        action=action,
        cancel_url=cancel_url,
        details=details,
        fields=fields,
        action_url=action_url or request.path,
    )
    return page, 200

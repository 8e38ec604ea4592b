"""What the formulary's pages share: who may use them, the area's home, the way to the
stock's own list of products, and how amounts and a draft's changes are written."""

from flask import Blueprint, current_app, render_template, url_for
from flask_login import current_user
from sqlalchemy import func, select

from core.accounts import PHARMACY_ROLES, User
from core.database import db
from formulary.models import CrossReactivityGroup, Serum, SerumStatus, Substance
from formulary.serums import FormulaChanges
from formulary.units import Amount
from inventory.models import Product
from web.pages import quantity_text, role_page

bp = Blueprint("formulary", __name__, url_prefix="/formulary")


@bp.route("")
@role_page(*PHARMACY_ROLES)
def home():
    substances = dict(
        db.session.execute(
            select(Substance.is_class, func.count()).group_by(Substance.is_class)
        ).all()
    )
    serums = dict(
        db.session.execute(select(Serum.status, func.count()).group_by(Serum.status)).all()
    )
    return render_template(
        "formulary/home.html",
        ingredients=substances.get(False, 0),
        classes=substances.get(True, 0),
        groups=db.session.scalar(select(func.count()).select_from(CrossReactivityGroup)),
        products=db.session.scalar(select(func.count()).select_from(Product)),
        drafts=serums.get(SerumStatus.DRAFT, 0),
        approved=serums.get(SerumStatus.APPROVED, 0),
    )


def stock_products_url() -> str | None:
    """The stock list of products (on hand, usable, low stock), when the app has one."""
    for rule in current_app.url_map.iter_rules():
        if rule.rule == "/stock/products" and "GET" in (rule.methods or ()):
            return url_for(rule.endpoint)
    return None


def signed_in_user() -> User:
    """The signed-in user itself (not Flask-Login's proxy), for the rules that store who."""
    return current_user._get_current_object()


@bp.app_template_filter("amount")
def amount_text(amount: Amount | None) -> str:
    """An amount as a pharmacist writes it: 2.5 mg, 500 ug."""
    if amount is None:
        return ""
    return f"{quantity_text(amount.value)} {amount.unit}"


FIELD_NAMES = {
    "name": "name",
    "source": "source",
    "manufacturer": "manufacturer",
    "dose_volume_ml": "dose volume",
}


def _field_value(field: str, value) -> str:
    if value is None or value == "":
        return "none"
    if field == "dose_volume_ml":
        return f"{quantity_text(value)} mL"
    return str(getattr(value, "value", value))


def change_lines(changes: FormulaChanges) -> list[str]:
    """A draft's differences as sentences: "biotin: 1 mg → 2 mg", "dexpanthenol added: 50 mg",
    "Dose volume: 2 mL → 3 mL"."""
    found = []
    for change in changes.components:
        if change.change == "added":
            found.append(f"{change.substance} added: {amount_text(change.after)}")
        elif change.change == "removed":
            found.append(f"{change.substance} removed (was {amount_text(change.before)})")
        else:
            found.append(
                f"{change.substance}: {amount_text(change.before)} → {amount_text(change.after)}"
            )
    return [*found, *field_lines(changes)]


def field_lines(changes: FormulaChanges) -> list[str]:
    """The changes of a draft's other fields: "Dose volume: 2 mL → 3 mL"."""
    lines = []
    for field in changes.fields:
        before = _field_value(field.field, field.before)
        after = _field_value(field.field, field.after)
        lines.append(f"{FIELD_NAMES[field.field].capitalize()}: {before} → {after}")
    return lines

"""Factory functions for test data: each makes one valid object, with any field overridable.

Factories commit: in the test session a commit only releases a savepoint (the whole test is
still rolled back at its end), and a request that rolls back then cannot undo the setup.
"""

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from core.accounts import Role, User, issue_token
from core.database import db
from formulary.models import Category, Serum, SerumSource, Substance
from inventory.lots import Expiry, receive
from inventory.products import create_product

_sequence = itertools.count(1)

DEFAULT_PASSWORD = "correct horse battery"


def save(obj):
    db.session.add(obj)
    db.session.commit()
    return obj


def unique(prefix: str) -> str:
    return f"{prefix}{next(_sequence)}"


def make_user(role: str | Role = Role.ADMIN, password: str = DEFAULT_PASSWORD, **fields) -> User:
    fields.setdefault("username", unique(f"{Role(role).value}-"))
    fields.setdefault("email", f"{fields['username']}@clinic.example")
    user = User(role=Role(role), **fields)
    user.set_password(password)
    return save(user)


def auth_header(user: User, lifetime: timedelta = timedelta(hours=1)) -> dict:
    token, _ = issue_token(user, lifetime)
    db.session.commit()
    return {"Authorization": f"Bearer {token}"}


# --- inventory -------------------------------------------------------------------------------

# Stock factories act at a fixed moment: tests about time pass their own `now`.
STOCK_NOW = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)


def make_product(kind: str = "serum", **fields):
    if kind == "component" and "substance_id" not in fields:
        name = unique("stock-substance-")
        substance = save(Substance(name=name, name_key=name, category=Category.VITAMIN))
        fields["substance_id"] = substance.id
    if kind == "serum" and "serum_id" not in fields:
        serum = Serum(
            code=unique("SER-"),
            name="Revitalising serum",
            source=SerumSource.MANUFACTURED,
            dose_volume_ml=Decimal("2"),
        )
        fields["serum_id"] = save(serum).id
    fields.setdefault("name", unique(f"{kind} product "))
    fields.setdefault("unit", "vial")
    product = create_product(kind=kind, **fields)
    db.session.commit()
    return product


def make_lot(
    product=None,
    quantity="10",
    expiry_date: date = date(2030, 12, 31),
    now: datetime = STOCK_NOW,
    **fields,
):
    """A lot received through the domain (so with its `receive` movement) at `now`."""
    product = product or make_product()
    fields.setdefault("lot_number", unique("LOT-"))
    lot = receive(
        product.id,
        fields.pop("lot_number"),
        Expiry(expiry_date),
        Decimal(quantity),
        None,
        now,
        **fields,
    ).lot
    db.session.commit()
    return lot

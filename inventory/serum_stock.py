"""Serum doses on the shelf: which products stock a serum, and how many of a product's units
a number of doses is.

A serum product is counted either per dose (a count unit such as `dose`, `vial`, `ampoule`:
one unit is one dose) or by volume (`mL`: a dose is the serum's `dose_volume_ml`). A mass or
an IU makes no sense for finished doses and is refused.
"""

from datetime import date
from decimal import ROUND_CEILING, Decimal

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from core.database import db
from core.errors import Conflict
from formulary import units
from inventory.expiry import FEFO_ORDER, usable_lot_conditions
from inventory.models import QUANTITY_PLACES, Lot, Product, ProductKind

_LEDGER_STEP = Decimal(1).scaleb(-QUANTITY_PLACES)


def serum_products(serum_id: int) -> list[Product]:
    """Every product that stocks finished doses of the serum version."""
    return list(
        db.session.scalars(
            select(Product)
            .where(Product.kind == ProductKind.SERUM, Product.serum_id == serum_id)
            .order_by(Product.id)
        )
    )


def doses_as_stock(doses: Decimal, dose_volume_ml: Decimal, *, unit: str) -> Decimal:
    """How much of a product counted in `unit` the doses are."""
    measured = _measured_unit(unit)
    if measured is None:
        return doses
    if measured != "mL":
        raise Conflict(
            f"A serum product counted in {unit} cannot hold doses: count it per dose or in mL."
        )
    volume = units.Amount(Decimal(doses) * Decimal(dose_volume_ml), "mL")
    # Rounded up to the ledger's precision: a session or a batch never counts short.
    return units.convert(volume, unit).value.quantize(_LEDGER_STEP, rounding=ROUND_CEILING)


def stock_as_doses(quantity: Decimal, dose_volume_ml: Decimal, *, unit: str) -> Decimal:
    """How many doses a quantity of a product counted in `unit` holds."""
    per_dose = doses_as_stock(Decimal(1), dose_volume_ml, unit=unit)
    return Decimal(quantity) / per_dose


def _measured_unit(unit: str) -> str | None:
    """The pint unit a product unit is, or None for a count unit (dose, vial, piece)."""
    try:
        return units.canonical_unit(unit)
    except units.UnitError:
        return None


def usable_serum_lots(
    product_ids: list[int], day: date, *, lock: bool = False, site_id: int | None = None
) -> list[Lot]:
    """Lots of any of the products usable on that day (at the site, when given), in FEFO
    order (earliest effective expiry, then earliest received). With `lock`, the rows stay
    locked until the transaction ends (PostgreSQL), so that a pick made from them holds."""
    if not product_ids:
        return []
    stmt = (
        select(Lot)
        .where(
            Lot.product_id.in_(product_ids),
            *usable_lot_conditions(day),
            *(() if site_id is None else (Lot.site_id == site_id,)),
        )
        .options(joinedload(Lot.product, innerjoin=True))
        .order_by(*FEFO_ORDER)
    )
    if lock:
        stmt = stmt.with_for_update(of=Lot).execution_options(populate_existing=True)
    return list(db.session.scalars(stmt))

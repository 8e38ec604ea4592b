"""Reorder suggestions: per product and site, what to order so that usable stock plus what is
already on order covers the site's reorder point and what planned sessions need until a new
delivery could come (the supplier's lead time) and a safety margin after it, in whole packs.

The supplier is the cheapest that sells the product (of equal prices, the quickest, then the
first recorded); the reason says which it is and why. A serum's planned doses fall on its
first product (the lowest id) that a supplier sells, counted in that product's unit.

Inventory does not know what the clinic plans: the sessions are handed in (the clinic's
`clinic.reorder`), so that this module reads only stock and orders. Set-based: one query for
the suppliers' offers, one for the stock levels of every offered product at every site, one
for what is on order, whatever the number of products.
"""

import dataclasses
from collections import defaultdict
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal

from sqlalchemy import func, select, true

from core.database import db
from core.errors import Conflict
from core.sites import Site
from formulary.models import Serum
from inventory.models import Product, ProductKind
from inventory.purchase_orders import on_order
from inventory.serum_stock import doses_as_stock
from inventory.stock import reorder_point_at, usable_at
from inventory.suppliers import Supplier, SupplierProduct


@dataclasses.dataclass(frozen=True)
class PlannedSessions:
    """Planned sessions of a serum at a site on a day, and the doses they need."""

    site_id: int
    serum_id: int
    day: date
    sessions: int
    doses: Decimal


@dataclasses.dataclass(frozen=True)
class Offer:
    supplier_id: int
    supplier_name: str
    lead_time_days: int
    pack_size: Decimal
    unit_price: Decimal | None


@dataclasses.dataclass(frozen=True)
class Suggestion:
    product_id: int
    product_name: str
    unit: str
    site_id: int
    supplier_id: int
    supplier_name: str
    quantity: Decimal
    packs: int
    pack_size: Decimal
    unit_price: Decimal | None
    usable: Decimal
    on_order: Decimal
    needed: Decimal
    sessions: int
    reorder_point: Decimal
    horizon_days: int
    reason: str


def longest_lead_time() -> int:
    """The longest lead time of any supplier (0 without suppliers)."""
    return db.session.scalar(select(func.coalesce(func.max(Supplier.lead_time_days), 0)))


def reorder_suggestions(
    planned: list[PlannedSessions],
    *,
    as_of: date,
    safety_days: int,
    site_ids: list[int] | None = None,
    product_ids: list[int] | None = None,
) -> list[Suggestion]:
    """What each site (of `site_ids`, None: every site) should order on `as_of`, by site and
    product name; only products some supplier sells (of `product_ids`, when given)."""
    offers, products, volumes = _offers(product_ids)
    if not offers:
        return []
    levels = _levels(sorted(offers), as_of, site_ids)
    ordered = on_order(site_ids=site_ids)
    demand_product = _demand_products(products)
    needs: dict[tuple[int, int], list[PlannedSessions]] = defaultdict(list)
    for row in planned:
        product_id = demand_product.get(row.serum_id)
        if product_id is not None:
            needs[(product_id, row.site_id)].append(row)
    found = []
    for product_id, site_id, usable, reorder_point in levels:
        choices = offers[product_id]
        offer = choices[0]
        horizon = offer.lead_time_days + safety_days
        last_day = as_of + timedelta(days=horizon - 1)
        window = [r for r in needs.get((product_id, site_id), ()) if as_of <= r.day <= last_day]
        sessions = sum(r.sessions for r in window)
        doses = sum((r.doses for r in window), Decimal(0))
        product = products[product_id]
        needed = _in_product_units(doses, product, volumes.get(product.serum_id))
        coming = ordered.get((product_id, site_id), Decimal(0))
        short = reorder_point + needed - usable - coming
        if short <= 0:
            continue
        packs = int((short / offer.pack_size).to_integral_value(rounding=ROUND_CEILING))
        quantity = packs * offer.pack_size
        found.append(
            Suggestion(
                product_id=product_id,
                product_name=product.name,
                unit=product.unit,
                site_id=site_id,
                supplier_id=offer.supplier_id,
                supplier_name=offer.supplier_name,
                quantity=quantity,
                packs=packs,
                pack_size=offer.pack_size,
                unit_price=offer.unit_price,
                usable=usable,
                on_order=coming,
                needed=needed,
                sessions=sessions,
                reorder_point=reorder_point,
                horizon_days=horizon,
                reason=_reason(
                    product,
                    sessions=sessions,
                    needed=needed,
                    usable=usable,
                    coming=coming,
                    reorder_point=reorder_point,
                    horizon=horizon,
                    quantity=quantity,
                    packs=packs,
                    offer=offer,
                    suppliers=len(choices),
                ),
            )
        )
    return found


def _offers(product_ids: list[int] | None):
    """product id -> its offers, the chosen one first; the products; serum id -> dose volume."""
    stmt = (
        select(SupplierProduct, Supplier, Product, Serum.dose_volume_ml)
        .join(Supplier, Supplier.id == SupplierProduct.supplier_id)
        .join(Product, Product.id == SupplierProduct.product_id)
        .outerjoin(Serum, Serum.id == Product.serum_id)
    )
    if product_ids is not None:
        stmt = stmt.where(SupplierProduct.product_id.in_(product_ids))
    offers: dict[int, list[Offer]] = defaultdict(list)
    products: dict[int, Product] = {}
    volumes: dict[int, Decimal] = {}
    for offer, supplier, product, volume in db.session.execute(stmt):
        offers[product.id].append(
            Offer(supplier.id, supplier.name, supplier.lead_time_days, offer.pack_size,
                  offer.unit_price)
        )  # fmt: skip
        products[product.id] = product
        if product.serum_id is not None:
            volumes[product.serum_id] = volume
    for choices in offers.values():
        choices.sort(key=_cheapest_first)
    return offers, products, volumes


def _cheapest_first(offer: Offer) -> tuple:
    return (offer.unit_price is None, offer.unit_price or 0, offer.lead_time_days,
            offer.supplier_id)  # fmt: skip


def _levels(product_ids: list[int], as_of: date, site_ids: list[int] | None) -> list[tuple]:
    """(product id, site id, usable on `as_of`, reorder point) of the products at the sites,
    by site and product name: one statement."""
    sites = select(Site.id).where(*(() if site_ids is None else (Site.id.in_(site_ids),)))
    sites = sites.subquery("stock_sites")
    stmt = (
        select(
            Product.id,
            sites.c.id,
            usable_at(Product.id, sites.c.id, as_of=as_of),
            reorder_point_at(Product.id, sites.c.id),
        )
        .select_from(Product)
        .join(sites, true())
        .where(Product.id.in_(product_ids))
        .order_by(sites.c.id, Product.name, Product.id)
    )
    return [
        (product_id, site_id, Decimal(usable), Decimal(point))
        for product_id, site_id, usable, point in db.session.execute(stmt)
    ]


def _demand_products(products: dict[int, Product]) -> dict[int, int]:
    """serum id -> the product its planned doses are ordered as: its first offered product."""
    chosen: dict[int, int] = {}
    for product_id in sorted(products):
        product = products[product_id]
        if product.kind == ProductKind.SERUM and product.serum_id is not None:
            chosen.setdefault(product.serum_id, product_id)
    return chosen


def _in_product_units(doses: Decimal, product: Product, volume: Decimal | None) -> Decimal:
    if doses == 0 or volume is None:
        return Decimal(0)
    try:
        return doses_as_stock(doses, volume, unit=product.unit)
    except Conflict:
        return Decimal(0)  # a serum product counted in mg holds no doses


def amount_text(quantity: Decimal, unit: str) -> str:
    """`12 vials`, `1 vial`, `2.5 mL`: a count unit takes the plural."""
    number = f"{Decimal(quantity).normalize():f}"
    plural = quantity != 1 and unit.isalpha() and unit.islower() and len(unit) > 2
    return f"{number} {unit}{'s' if plural and not unit.endswith('s') else ''}"


def period_text(days: int) -> str:
    if days % 7 == 0 and days >= 7:
        weeks = days // 7
        return "week" if weeks == 1 else f"{weeks} weeks"
    return "day" if days == 1 else f"{days} days"


def _reason(
    product: Product,
    *,
    sessions: int,
    needed: Decimal,
    usable: Decimal,
    coming: Decimal,
    reorder_point: Decimal,
    horizon: int,
    quantity: Decimal,
    packs: int,
    offer: Offer,
    suppliers: int,
) -> str:
    unit = product.unit
    period = period_text(horizon)
    if sessions:
        planned = "session" if sessions == 1 else "sessions"
        verb = "needs" if sessions == 1 else "need"
        need = amount_text(needed, unit)
        demand = f"{sessions} {planned} planned in the next {period} {verb} {need}"
    else:
        demand = f"no session planned in the next {period}"
    point = f", reorder point {amount_text(reorder_point, unit)}" if reorder_point else ""
    stock = f"{_number(usable)} usable, {_number(coming)} on order"
    pack = "pack" if packs == 1 else "packs"
    choice = "its only supplier" if suppliers == 1 else f"the cheapest of {suppliers} suppliers"
    lead = "day" if offer.lead_time_days == 1 else "days"
    return (
        f"{demand}; {stock}{point}. Order {amount_text(quantity, unit)} ({packs} {pack} of "
        f"{_number(offer.pack_size)}) from {offer.supplier_name}, {choice} "
        f"({offer.lead_time_days} {lead} to deliver)."
    )


def _number(value: Decimal) -> str:
    return f"{Decimal(value).normalize():f}"

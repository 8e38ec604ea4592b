"""Demonstration stock for `flask seed --demo`: a product for each demo serum, a few raw
ingredients and consumables, and lots spread over the next months so that the stock board,
FEFO and the expiry alerts have something to show. Idempotent: what exists is left alone."""

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from core.clock import clinic_today
from core.database import db
from formulary.models import Serum, SerumStatus, Substance
from inventory.lots import Expiry, find_lot, receive
from inventory.models import Product
from inventory.products import create_product

# GTIN-14s with valid check digits, so that the demo boxes can be "scanned".
DEMO_SERUM_PRODUCTS = [
    ("HAIR-VIT-AA", "07612345000015", "vial", 10),
    ("HAIR-LIDO", "07612345000022", "vial", 6),
    ("HAIR-PN", "07612345000039", "syringe", 4),
    ("HAIR-AOX", "07612345000046", "vial", 6),
]
DEMO_COMPONENT_PRODUCTS = [
    ("biotin", "Biotin powder", "g", "07612345000053", 5),
    ("dexpanthenol", "Dexpanthenol solution 250 mg/mL", "mL", "07612345000060", 20),
]
DEMO_CONSUMABLES = [("Mesotherapy needle 30G 4 mm", "needle", 200)]
# (days until expiry, quantity) for each product's lots.
DEMO_LOTS = [(12, 3), (48, 8), (85, 12), (240, 20)]


def seed_demo_stock(now: datetime) -> int:
    """Answers how many lots were added."""
    products = _demo_products()
    added = 0
    today = clinic_today(now)
    for product in products:
        for number, (days, quantity) in enumerate(DEMO_LOTS, start=1):
            lot_number = f"D{product.id:03d}-{number}"
            if find_lot(product.id, lot_number) is not None:
                continue
            receive(
                product_id=product.id,
                lot_number=lot_number,
                expiry=Expiry(today + timedelta(days=days)),
                quantity=Decimal(quantity),
                user_id=None,
                now=now,
                supplier="Demo Pharma Supplies",
            )
            added += 1
    return added


def _demo_products() -> list[Product]:
    products = []
    for code, gtin, unit, reorder_point in DEMO_SERUM_PRODUCTS:
        serum = db.session.scalar(
            select(Serum).where(Serum.code == code, Serum.status == SerumStatus.APPROVED)
        )
        if serum is not None:
            products.append(
                _product(gtin, "serum", serum.name, unit, reorder_point, serum_id=serum.id)
            )
    for substance_name, name, unit, gtin, reorder_point in DEMO_COMPONENT_PRODUCTS:
        substance = db.session.scalar(select(Substance).where(Substance.name == substance_name))
        if substance is not None:
            products.append(
                _product(gtin, "component", name, unit, reorder_point, substance_id=substance.id)
            )
    for name, unit, reorder_point in DEMO_CONSUMABLES:
        products.append(_product(None, "consumable", name, unit, reorder_point))
    return products


def _product(gtin, kind, name, unit, reorder_point, **reference) -> Product:
    lookup = Product.gtin == gtin if gtin else Product.name == name
    existing = db.session.scalar(select(Product).where(lookup))
    if existing is not None:
        return existing
    return create_product(
        kind=kind,
        name=name,
        unit=unit,
        gtin=gtin,
        reorder_point=Decimal(reorder_point),
        storage="refrigerated" if kind == "serum" else "room",
        **reference,
    )

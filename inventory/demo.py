"""Demonstration stock for `flask seed --demo`: a product for each demo serum, a raw
ingredient (with its strength) for every component of the compounded demo serums, so that
each can be compounded several times over, a consumable, and lots spread over the next months
so that the stock board, FEFO and the expiry alerts have something to show. Idempotent: what
exists is left alone."""

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from core.clock import clinic_today
from core.database import db
from core.sites import Site
from formulary import units
from formulary.models import Serum, SerumStatus, Substance
from inventory.lots import Expiry, find_lot, receive
from inventory.models import Product
from inventory.products import create_product, update_product
from inventory.purchase_orders import PurchaseOrder, create_order, submit
from inventory.suppliers import Supplier, SupplierProduct, create_supplier, supply_product

# GTIN-14s with valid check digits, so that the demo boxes can be "scanned".
DEMO_SERUM_PRODUCTS = [
    ("HAIR-VIT-AA", "07612345000015", "vial", 10),
    ("HAIR-LIDO", "07612345000022", "vial", 6),
    ("HAIR-PN", "07612345000039", "syringe", 4),
    ("HAIR-AOX", "07612345000046", "vial", 6),
]
# Raw ingredients for every component of the compounded demo serums, so that each can be
# compounded from the demo stock: (substance, product, unit, GTIN, reorder point, strength,
# how many times DEMO_LOTS' quantities each lot holds). A solution states its strength; a
# powder is weighed out in its own unit. The solutions are concentrated enough that a dose's
# components fit in its volume, made up with water for injection.
DEMO_COMPONENT_PRODUCTS = [
    ("biotin", "Biotin powder", "g", "07612345000053", 5, None, 1),
    ("dexpanthenol", "Dexpanthenol solution 250 mg/mL", "mL", "07612345000060", 20, "250 mg/mL", 2),
    ("hyaluronic acid", "Hyaluronic acid (sodium hyaluronate) 20 mg/mL", "mL", None, 20,
     "20 mg/mL", 5),
    ("cyanocobalamin", "Cyanocobalamin 1 mg/mL", "mL", None, 5, "1 mg/mL", 1),
    ("thiamine", "Thiamine 100 mg/mL", "mL", None, 5, "100 mg/mL", 1),
    ("pyridoxine", "Pyridoxine 50 mg/mL", "mL", None, 5, "50 mg/mL", 1),
    ("nicotinamide", "Nicotinamide powder", "g", None, 2, None, 1),
    ("L-cysteine", "L-cysteine 50 mg/mL", "mL", None, 5, "50 mg/mL", 1),
    ("L-methionine", "L-methionine powder", "g", None, 2, None, 1),
    ("glycine", "Glycine powder", "g", None, 2, None, 1),
    ("L-arginine", "L-arginine powder", "g", None, 2, None, 1),
    ("zinc sulfate", "Zinc sulfate 10 mg/mL", "mL", None, 5, "10 mg/mL", 1),
    ("sodium chloride", "Sodium chloride 23.4% concentrate (234 mg/mL)", "mL", None, 5,
     "234 mg/mL", 1),
    ("copper tripeptide-1", "Copper tripeptide-1 powder", "g", None, 1, None, 1),
    ("lidocaine", "Lidocaine 2% (20 mg/mL)", "mL", None, 20, "20 mg/mL", 5),
    ("glutathione", "Glutathione 600 mg vial", "vial", None, 5, "600 mg/vial", 1),
    ("ascorbic acid", "Ascorbic acid 500 mg/mL", "mL", None, 5, "500 mg/mL", 1),
    ("sodium selenite", "Sodium selenite 100 µg/mL", "mL", None, 10, "100 ug/mL", 2),
    ("monomethylsilanetriol", "Monomethylsilanetriol (organic silicon) 10 mg/mL", "mL", None, 20,
     "10 mg/mL", 5),
    ("benzyl alcohol", "Benzyl alcohol (pure liquid, 1045 mg/mL)", "mL", None, 5, "1045 mg/mL", 1),
]  # fmt: skip
DEMO_CONSUMABLES = [("Mesotherapy needle 30G 4 mm", "needle", 200)]
# (days until expiry, quantity) for each product's lots.
DEMO_LOTS = [(12, 3), (48, 8), (85, 12), (240, 20)]
DEMO_SUPPLIER = "Demo Pharma Supplies"


def seed_demo_stock(now: datetime) -> int:
    """Answers how many lots were added, all at the clinic's first site."""
    added = 0
    today = clinic_today(now)
    site_id = db.session.scalar(select(func.min(Site.id)))
    products = _demo_products()
    for product, scale in products:
        for number, (days, quantity) in enumerate(DEMO_LOTS, start=1):
            lot_number = f"D{product.id:03d}-{number}"
            if find_lot(product.id, lot_number, site_id=site_id) is not None:
                continue
            receive(
                product_id=product.id,
                lot_number=lot_number,
                expiry=Expiry(today + timedelta(days=days)),
                quantity=Decimal(quantity * scale),
                user_id=None,
                now=now,
                supplier="Demo Pharma Supplies",
                site_id=site_id,
            )
            added += 1
    _demo_supplier([product for product, _ in products], site_id, now)
    return added


def _demo_supplier(products: list[Product], site_id: int, now: datetime) -> None:
    """A supplier of every demo product (packs of 5) and, the first time, an order of the
    first product sent to it."""
    supplier = db.session.scalar(select(Supplier).where(Supplier.name == DEMO_SUPPLIER))
    if supplier is None:
        supplier = create_supplier(
            name=DEMO_SUPPLIER, email="orders@demo-pharma.example", phone="+1 555 0199",
            lead_time_days=7,
        )  # fmt: skip
    for product in products:
        if db.session.get(SupplierProduct, (supplier.id, product.id)) is None:
            supply_product(supplier, product.id, pack_size=Decimal(5), unit_price=Decimal(3))
    if products and db.session.scalar(select(PurchaseOrder.id).limit(1)) is None:
        order = create_order(
            supplier.id, site_id, lines=[{"product_id": products[0].id, "quantity": Decimal(10)}],
            user_id=None, now=now,
        )  # fmt: skip
        submit(order.id, user_id=None, now=now)


def _demo_products() -> list[tuple[Product, int]]:
    """Each demo product with how many times DEMO_LOTS' quantities its lots hold."""
    products = []
    for code, gtin, unit, reorder_point in DEMO_SERUM_PRODUCTS:
        serum = db.session.scalar(
            select(Serum).where(Serum.code == code, Serum.status == SerumStatus.APPROVED)
        )
        if serum is not None:
            product = _product(gtin, "serum", serum.name, unit, reorder_point, serum_id=serum.id)
            products.append((product, 1))
    for substance_name, name, unit, gtin, reorder_point, strength, scale in DEMO_COMPONENT_PRODUCTS:
        substance = db.session.scalar(select(Substance).where(Substance.name == substance_name))
        if substance is not None:
            stated = units.parse_strength_text(strength) if strength else None
            product = _product(
                gtin, "component", name, unit, reorder_point,
                substance_id=substance.id, strength=stated,
            )  # fmt: skip
            products.append((product, scale))
    for name, unit, reorder_point in DEMO_CONSUMABLES:
        products.append((_product(None, "consumable", name, unit, reorder_point), 1))
    return products


def _product(gtin, kind, name, unit, reorder_point, **reference) -> Product:
    lookup = Product.gtin == gtin if gtin else Product.name == name
    existing = db.session.scalar(select(Product).where(lookup))
    if existing is not None:
        # A demo made before products had strengths gets the strength it lacks, so that its
        # serums compound; a strength someone gave it is left alone.
        if reference.get("strength") and existing.strength is None:
            update_product(existing, {"strength": reference["strength"]})
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

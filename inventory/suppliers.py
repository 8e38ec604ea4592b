"""Suppliers, and what each supplies: a product in packs of a size, at a price per unit of the
product, under the supplier's own GTIN for the pack when it has one.

A supplier's lead time (days from the order to the delivery) sets how far ahead the reorder
suggestions look and when a submitted order is late.
"""

from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Select, String, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.database import db
from core.errors import Conflict, Invalid, NotFound
from inventory.barcodes import normalize_gtin
from inventory.models import Product, Quantity

SUPPLIER_NAME_LENGTH = 160
SUPPLIER_EMAIL_LENGTH = 254
SUPPLIER_PHONE_LENGTH = 40
# A lead time longer than a year is a typing mistake, not a supplier.
MAX_LEAD_TIME_DAYS = 365
DEFAULT_LEAD_TIME_DAYS = 7
SUPPLIER_FIELDS = frozenset({"name", "email", "phone", "lead_time_days"})


class Supplier(db.Model):
    __tablename__ = "suppliers"
    __table_args__ = (
        CheckConstraint(
            f"lead_time_days >= 0 AND lead_time_days <= {MAX_LEAD_TIME_DAYS}",
            name="lead_time_days_range",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(SUPPLIER_NAME_LENGTH), unique=True)
    # Where a submitted order is e-mailed (none: the order is printed and sent otherwise).
    email: Mapped[str | None] = mapped_column(String(SUPPLIER_EMAIL_LENGTH))
    phone: Mapped[str | None] = mapped_column(String(SUPPLIER_PHONE_LENGTH))
    lead_time_days: Mapped[int] = mapped_column(default=DEFAULT_LEAD_TIME_DAYS)


class SupplierProduct(db.Model):
    """A product as one supplier sells it."""

    __tablename__ = "supplier_products"
    __table_args__ = (
        CheckConstraint("pack_size > 0", name="pack_size_positive"),
        CheckConstraint("unit_price IS NULL OR unit_price >= 0", name="unit_price_not_negative"),
        # The reorder suggestions: every supplier of a product.
        Index("ix_supplier_products_product_id", "product_id"),
    )

    supplier_id: Mapped[int] = mapped_column(
        ForeignKey("suppliers.id", ondelete="CASCADE"), primary_key=True
    )
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="RESTRICT"), primary_key=True
    )
    # How many units of the product one pack holds: orders are whole packs.
    pack_size: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(1))
    # The price of one unit of the product (a pack costs pack_size times it).
    unit_price: Mapped[Decimal | None] = mapped_column(Quantity)
    gtin: Mapped[str | None] = mapped_column(String(14))

    supplier: Mapped[Supplier] = relationship()
    product: Mapped[Product] = relationship()


def supplier_list() -> Select:
    return select(Supplier).order_by(Supplier.name, Supplier.id)


def get_supplier(supplier_id: int, *, field: str | None = None) -> Supplier:
    """The supplier; missing, a 404, or with `field` a 422 on the request's field naming it."""
    supplier = db.session.get(Supplier, supplier_id)
    if supplier is None:
        if field is not None:
            raise Invalid({field: [f"No supplier with id {supplier_id}."]})
        raise NotFound(f"No supplier with id {supplier_id}.")
    return supplier


def create_supplier(
    *,
    name: str,
    email: str | None = None,
    phone: str | None = None,
    lead_time_days: int = DEFAULT_LEAD_TIME_DAYS,
) -> Supplier:
    supplier = Supplier()
    _apply(
        supplier,
        {"name": name, "email": email, "phone": phone, "lead_time_days": lead_time_days},
    )
    db.session.add(supplier)
    db.session.flush()
    return supplier


def update_supplier(supplier: Supplier, changes: dict) -> Supplier:
    unknown = sorted(set(changes) - SUPPLIER_FIELDS)
    if unknown:
        raise Invalid({name: ["Cannot be changed."] for name in unknown})
    _apply(supplier, changes)
    db.session.flush()
    return supplier


def _apply(supplier: Supplier, changes: dict) -> None:
    if "name" in changes:
        name = (changes["name"] or "").strip()
        if not name:
            raise Invalid({"name": ["A supplier has a name."]})
        taken = db.session.scalar(
            select(Supplier.id).where(Supplier.name == name, Supplier.id != supplier.id)
        )
        if taken is not None:
            raise Conflict(f"Another supplier is named {name}.", {"name": ["Taken."]})
        changes["name"] = name
    if "lead_time_days" in changes:
        days = changes["lead_time_days"]
        if days is None or not 0 <= days <= MAX_LEAD_TIME_DAYS:
            raise Invalid({"lead_time_days": [f"From 0 to {MAX_LEAD_TIME_DAYS} days."]})
    for field in ("email", "phone"):
        if field in changes:
            changes[field] = (changes[field] or "").strip() or None
    if changes.get("email") and "@" not in changes["email"]:
        raise Invalid({"email": ["Not an e-mail address."]})
    for field, value in changes.items():
        setattr(supplier, field, value)


def supplier_products(supplier_id: int) -> Select:
    """What the supplier supplies, by product name, each with its product loaded."""
    return (
        select(SupplierProduct)
        .join(SupplierProduct.product)
        .where(SupplierProduct.supplier_id == supplier_id)
        .order_by(Product.name, Product.id)
    )


def supply_product(
    supplier: Supplier,
    product_id: int,
    *,
    pack_size: Decimal = Decimal(1),
    unit_price: Decimal | None = None,
    gtin: str | None = None,
) -> tuple[SupplierProduct, bool]:
    """Record that the supplier sells the product (in packs of `pack_size`, at `unit_price` a
    unit); given again, the pack, price and GTIN are replaced. Answers it and whether it is
    new."""
    if db.session.get(Product, product_id) is None:
        raise Invalid({"product_id": [f"No product with id {product_id}."]})
    if pack_size is None or pack_size <= 0:
        raise Invalid({"pack_size": ["Must be more than 0."]})
    if unit_price is not None and unit_price < 0:
        raise Invalid({"unit_price": ["Cannot be negative."]})
    gtin = normalize_gtin(gtin) if gtin and gtin.strip() else None
    offer = db.session.get(SupplierProduct, (supplier.id, product_id))
    created = offer is None
    if created:
        offer = SupplierProduct(supplier_id=supplier.id, product_id=product_id)
        db.session.add(offer)
    offer.pack_size, offer.unit_price, offer.gtin = pack_size, unit_price, gtin
    db.session.flush()
    return offer, created

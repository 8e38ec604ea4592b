"""Purchase orders: what a site orders from a supplier, and its receipt.

An order is drafted (by hand or from the reorder suggestions), submitted (its e-mail to the
supplier queued in the outbox, its expected day set by the supplier's lead time), then
received line by line as lots arrive against it: partly received, then received. A draft or an
order still waiting for goods can be cancelled.

A receipt against a line adds to its received quantity with one conditional UPDATE that
refuses to go past the ordered quantity plus the configured tolerance
(PURCHASE_OVER_RECEIPT_TOLERANCE, a percentage): two receipts at once never both pass it.
"""

import enum
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, Decimal

from flask import current_app
from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Select,
    UniqueConstraint,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from core.accounts import User
from core.audit import record
from core.clock import clinic_today, day_text, utcnow
from core.database import UTCDateTime, db, value_enum
from core.errors import Conflict, Invalid, NotFound
from core.mail import queue_message
from core.sites import Site, stock_site_id
from inventory.models import QUANTITY_MAX, Product, Quantity
from inventory.suppliers import Supplier, SupplierProduct, get_supplier

# No order has more lines than this (an order is one delivery, not a catalogue).
MAX_LINES = 200
DEFAULT_OVER_RECEIPT_TOLERANCE = Decimal(10)


class OrderStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    PARTLY_RECEIVED = "partly_received"
    RECEIVED = "received"
    CANCELLED = "cancelled"


# Orders whose goods are still expected: what is "on order".
WAITING_FOR_GOODS = (OrderStatus.SUBMITTED, OrderStatus.PARTLY_RECEIVED)
# ...and, for the suggestions, drafts too: an order drafted is not suggested a second time.
ORDERED_OR_DRAFTED = (OrderStatus.DRAFT, *WAITING_FOR_GOODS)


class PurchaseOrder(db.Model):
    __tablename__ = "purchase_orders"
    __table_args__ = (
        CheckConstraint(
            "status = 'draft' OR status = 'cancelled' OR expected_on IS NOT NULL",
            name="submitted_with_an_expected_day",
        ),
        # The list by status (and site), newest first; the late scan (status, expected_on).
        Index("ix_purchase_orders_status_site_id_id", "status", "site_id", "id"),
        Index("ix_purchase_orders_status_expected_on", "status", "expected_on"),
        Index("ix_purchase_orders_site_id_id", "site_id", "id"),
        Index("ix_purchase_orders_supplier_id", "supplier_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id", ondelete="RESTRICT"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="RESTRICT"))
    status: Mapped[OrderStatus] = mapped_column(value_enum(OrderStatus), default=OrderStatus.DRAFT)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The day the goods are due: the clinic's day of submission plus the supplier's lead time.
    expected_on: Mapped[date | None] = mapped_column(Date)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    supplier: Mapped[Supplier] = relationship()
    site: Mapped[Site] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    submitted_by: Mapped[User | None] = relationship(foreign_keys=[submitted_by_id])
    lines: Mapped[list["PurchaseOrderLine"]] = relationship(
        back_populates="order", order_by="PurchaseOrderLine.id"
    )

    @property
    def number(self) -> str:
        return order_number(self.id)

    @property
    def open(self) -> bool:
        return self.status in WAITING_FOR_GOODS

    @property
    def total(self) -> Decimal | None:
        """What the order costs at the supplier's prices (None when a line has no price)."""
        prices = [line.value for line in self.lines]
        return None if any(p is None for p in prices) else sum(prices, Decimal(0))


class PurchaseOrderLine(db.Model):
    __tablename__ = "purchase_order_lines"
    __table_args__ = (
        UniqueConstraint("purchase_order_id", "product_id", name="uq_purchase_order_lines_product"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("received_quantity >= 0", name="received_quantity_not_negative"),
        # What is on order, per product (the suggestions, the forecast).
        Index("ix_purchase_order_lines_product_id", "product_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    purchase_order_id: Mapped[int] = mapped_column(
        ForeignKey("purchase_orders.id", ondelete="CASCADE")
    )
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="RESTRICT"))
    quantity: Mapped[Decimal] = mapped_column(Quantity)
    received_quantity: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(0))
    # The supplier's price of one unit when the line was written (None: not known).
    unit_price: Mapped[Decimal | None] = mapped_column(Quantity)
    pack_size: Mapped[Decimal] = mapped_column(Quantity, default=Decimal(1))

    order: Mapped[PurchaseOrder] = relationship(back_populates="lines")
    product: Mapped[Product] = relationship()

    @property
    def outstanding(self) -> Decimal:
        return max(self.quantity - self.received_quantity, Decimal(0))

    @property
    def value(self) -> Decimal | None:
        return None if self.unit_price is None else self.quantity * self.unit_price

    @property
    def packs(self) -> Decimal:
        return (self.quantity / self.pack_size).to_integral_value(rounding=ROUND_CEILING)


def order_number(order_id: int) -> str:
    """How the clinic and the supplier name an order: PO-000012."""
    return f"PO-{order_id:06d}"


def get_order(order_id: int, *, lock: bool = False) -> PurchaseOrder:
    stmt = select(PurchaseOrder).where(PurchaseOrder.id == order_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    order = db.session.scalar(stmt)
    if order is None:
        raise NotFound(f"No purchase order with id {order_id}.")
    return order


def order_list(
    *, status: OrderStatus | str | None = None, site_ids: list[int] | None = None
) -> Select:
    """Orders, newest first, with their supplier and lines loaded (a query each for a page)."""
    stmt = select(PurchaseOrder).options(
        selectinload(PurchaseOrder.supplier),
        selectinload(PurchaseOrder.lines).selectinload(PurchaseOrderLine.product),
    )
    if status:
        stmt = stmt.where(PurchaseOrder.status == OrderStatus(status))
    if site_ids is not None:
        stmt = stmt.where(PurchaseOrder.site_id.in_(site_ids))
    return stmt.order_by(PurchaseOrder.id.desc())


def create_order(
    supplier_id: int,
    site_id: int | None,
    *,
    lines: list[dict],
    user_id: int | None,
    now: datetime,
) -> PurchaseOrder:
    """A draft order of `lines` ({product_id, quantity}), each product once, at the
    supplier's price and pack for it when the supplier lists it."""
    supplier = get_supplier(supplier_id, field="supplier_id")
    site_id = stock_site_id(site_id)
    if not lines:
        raise Invalid({"lines": ["An order has one line at least."]})
    if len(lines) > MAX_LINES:
        raise Invalid({"lines": [f"At most {MAX_LINES} lines."]})
    product_ids = [line["product_id"] for line in lines]
    if len(set(product_ids)) != len(product_ids):
        raise Invalid({"lines": ["Each product once: add the quantities up."]})
    known = set(db.session.scalars(select(Product.id).where(Product.id.in_(product_ids))))
    offers = {
        offer.product_id: offer
        for offer in db.session.scalars(
            select(SupplierProduct).where(
                SupplierProduct.supplier_id == supplier.id,
                SupplierProduct.product_id.in_(product_ids),
            )
        )
    }
    errors = {}
    for index, line in enumerate(lines):
        if line["product_id"] not in known:
            errors[f"lines.{index}.product_id"] = [f"No product with id {line['product_id']}."]
        elif not 0 < line["quantity"] <= QUANTITY_MAX:
            errors[f"lines.{index}.quantity"] = [f"More than 0, at most {QUANTITY_MAX}."]
    if errors:
        raise Invalid(errors)
    order = PurchaseOrder(
        supplier_id=supplier.id,
        site_id=site_id,
        status=OrderStatus.DRAFT,
        created_at=now,
        created_by_id=user_id,
    )
    db.session.add(order)
    for line in lines:
        offer = offers.get(line["product_id"])
        order.lines.append(
            PurchaseOrderLine(
                product_id=line["product_id"],
                quantity=line["quantity"],
                received_quantity=Decimal(0),
                unit_price=offer.unit_price if offer else None,
                pack_size=offer.pack_size if offer else Decimal(1),
            )
        )
    db.session.flush()
    return order


def order_suggestions(
    suggestions: list, *, user_id: int | None, now: datetime
) -> list[PurchaseOrder]:
    """Draft orders of reorder suggestions (`inventory.reorder.Suggestion`), one per site and
    supplier, each line the suggested quantity; 409 when nothing is to be ordered."""
    if not suggestions:
        raise Conflict("Nothing to order: usable stock and what is on order cover the need.")
    grouped: dict[tuple[int, int], list] = defaultdict(list)
    for suggestion in suggestions:
        grouped[(suggestion.site_id, suggestion.supplier_id)].append(suggestion)
    return [
        create_order(
            supplier_id,
            site_id,
            lines=[{"product_id": s.product_id, "quantity": s.quantity} for s in chosen],
            user_id=user_id,
            now=now,
        )
        for (site_id, supplier_id), chosen in sorted(grouped.items())
    ]


def submit(order_id: int, *, user_id: int | None, now: datetime) -> PurchaseOrder:
    """A draft goes to the supplier: due the clinic's day plus the supplier's lead time, and
    its e-mail queued for the supplier (when it has an address; else it is printed)."""
    order = get_order(order_id, lock=True)
    if order.status != OrderStatus.DRAFT:
        raise Conflict(f"{order.number} is {order.status.value}: only a draft is submitted.")
    expected_on = clinic_today(now) + timedelta(days=order.supplier.lead_time_days)
    order.status = OrderStatus.SUBMITTED
    order.submitted_at = now
    order.submitted_by_id = user_id
    order.expected_on = expected_on
    db.session.flush()
    if order.supplier.email:
        queue_message(
            order.supplier.email, f"Purchase order {order.number}", body=order_email(order)
        )
    return order


def order_email(order: PurchaseOrder) -> str:
    """The order as the supplier reads it: who orders, where to deliver, what and by when."""
    site = order.site
    lines = []
    for line in order.lines:
        product = line.product
        offer_gtin = _supplier_gtin(order.supplier_id, line.product_id) or product.gtin
        packs = (
            f" ({line.packs:f} packs of {_number(line.pack_size)})" if line.pack_size != 1 else ""
        )
        price = f", {_number(line.unit_price)} a unit" if line.unit_price is not None else ""
        gtin = f", GTIN {offer_gtin}" if offer_gtin else ""
        lines.append(
            f"- {_number(line.quantity)} {product.unit} of {product.name}{packs}{gtin}{price}"
        )
    address = f"\n{site.address}" if site.address else ""
    phone = f"\nPhone: {site.phone}" if site.phone else ""
    return (
        f"Dear {order.supplier.name},\n\n"
        f"Please supply the following for delivery to {site.name} by "
        f"{day_text(order.expected_on)}:\n\n" + "\n".join(lines) + "\n\n"
        f"Please quote our order number {order.number} on the delivery note.\n\n"
        f"{site.name}{address}{phone}\n"
    )


def _supplier_gtin(supplier_id: int, product_id: int) -> str | None:
    offer = db.session.get(SupplierProduct, (supplier_id, product_id))
    return offer.gtin if offer else None


def _number(value: Decimal) -> str:
    return f"{Decimal(value).normalize():f}"


def cancel(order_id: int, *, now: datetime) -> PurchaseOrder:
    """A draft, or an order whose goods have not all come, is cancelled: what was received
    stays received, the rest is no longer expected."""
    order = get_order(order_id, lock=True)
    if order.status not in ORDERED_OR_DRAFTED:
        raise Conflict(f"{order.number} is {order.status.value}: it cannot be cancelled.")
    order.status = OrderStatus.CANCELLED
    order.closed_at = now
    db.session.flush()
    return order


def over_receipt_tolerance() -> Decimal:
    """How far past the ordered quantity a line may be received, in percent."""
    raw = current_app.config.get("PURCHASE_OVER_RECEIPT_TOLERANCE", DEFAULT_OVER_RECEIPT_TOLERANCE)
    return Decimal(str(raw))


def receive_on_line(
    line_id: int, *, product_id: int, site_id: int, quantity: Decimal, now: datetime
) -> PurchaseOrderLine:
    """Count a receipt against an order line: the line's product, at the order's site, of an
    order waiting for goods; at most the ordered quantity plus the tolerance in all (a 409
    past it). The order becomes partly received, or received once every line is."""
    line = db.session.get(PurchaseOrderLine, line_id)
    if line is None:
        raise Invalid({"purchase_order_line_id": [f"No order line with id {line_id}."]})
    # The order's row is locked first: two receipts on its lines settle its status in turn.
    order = get_order(line.purchase_order_id, lock=True)
    if order.status not in WAITING_FOR_GOODS:
        raise Conflict(
            f"{order.number} is {order.status.value}: nothing is received against it.",
            {"purchase_order_line_id": [f"The order is {order.status.value}."]},
        )
    if line.product_id != product_id:
        raise Invalid(
            {"purchase_order_line_id": [f"This line orders {line.product.name}, not this product."]}
        )
    if order.site_id != site_id:
        raise Invalid(
            {"purchase_order_line_id": [f"{order.number} is delivered to {order.site.name}."]}
        )
    limit = line.quantity * (1 + over_receipt_tolerance() / 100)
    table = PurchaseOrderLine.__table__
    changed = db.session.execute(
        update(table)
        .where(
            table.c.id == line.id,
            table.c.received_quantity + quantity <= literal(limit, Quantity()),
        )
        .values(received_quantity=table.c.received_quantity + quantity)
        .execution_options(preserve_rowcount=True)
    ).rowcount
    db.session.refresh(line)
    if changed == 0:
        raise Conflict(
            f"{order.number} ordered {_number(line.quantity)} {line.product.unit} of "
            f"{line.product.name} and {_number(line.received_quantity)} came already: "
            f"{_number(quantity)} more is past the {_number(over_receipt_tolerance())}% "
            "tolerance.",
            {"quantity": [f"At most {_number(max(limit - line.received_quantity, 0))} more."]},
        )
    record(
        "receive",
        "purchase_order_lines",
        entity_id=line.id,
        changes={"received_quantity": {"added": str(quantity), "now": str(line.received_quantity)}},
    )
    _settle_status(order, now)
    return line


def _settle_status(order: PurchaseOrder, now: datetime) -> None:
    missing = db.session.scalar(
        select(func.count())
        .select_from(PurchaseOrderLine)
        .where(
            PurchaseOrderLine.purchase_order_id == order.id,
            PurchaseOrderLine.received_quantity < PurchaseOrderLine.quantity,
        )
    )
    if missing:
        order.status = OrderStatus.PARTLY_RECEIVED
    else:
        order.status = OrderStatus.RECEIVED
        order.closed_at = now
    db.session.flush()


def open_lines(*, site_ids: list[int] | None, product_id: int | None = None, limit: int = 50):
    """Lines of orders waiting for goods still short of their quantity, oldest order first,
    with their order, supplier and product loaded (for a receive form to pick from)."""
    stmt = (
        select(PurchaseOrderLine)
        .join(PurchaseOrderLine.order)
        .where(
            PurchaseOrder.status.in_(WAITING_FOR_GOODS),
            PurchaseOrderLine.received_quantity < PurchaseOrderLine.quantity,
        )
        .options(
            selectinload(PurchaseOrderLine.order).selectinload(PurchaseOrder.supplier),
            selectinload(PurchaseOrderLine.product),
        )
        .order_by(PurchaseOrder.id, PurchaseOrderLine.id)
        .limit(limit)
    )
    if site_ids is not None:
        stmt = stmt.where(PurchaseOrder.site_id.in_(site_ids))
    if product_id is not None:
        stmt = stmt.where(PurchaseOrderLine.product_id == product_id)
    return list(db.session.scalars(stmt))


def on_order(
    *, site_ids: list[int] | None, statuses=ORDERED_OR_DRAFTED
) -> dict[tuple[int, int], Decimal]:
    """(product_id, site_id) -> what is ordered and not yet received, summed in SQL."""
    outstanding = func.sum(
        PurchaseOrderLine.quantity - PurchaseOrderLine.received_quantity, type_=Quantity()
    )
    stmt = (
        select(PurchaseOrderLine.product_id, PurchaseOrder.site_id, outstanding)
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.purchase_order_id)
        .where(
            PurchaseOrder.status.in_(statuses),
            PurchaseOrderLine.received_quantity < PurchaseOrderLine.quantity,
        )
        .group_by(PurchaseOrderLine.product_id, PurchaseOrder.site_id)
    )
    if site_ids is not None:
        stmt = stmt.where(PurchaseOrder.site_id.in_(site_ids))
    return {(product_id, site_id): total for product_id, site_id, total in db.session.execute(stmt)}


def arrivals(
    product_ids: list[int], *, as_of: date, site_ids: list[int] | None
) -> dict[int, list[tuple[date, Decimal]]]:
    """product id -> [(the day it is due, quantity)] of what submitted orders still bring;
    an order already late is counted as coming on `as_of`."""
    if not product_ids:
        return {}
    outstanding = func.sum(
        PurchaseOrderLine.quantity - PurchaseOrderLine.received_quantity, type_=Quantity()
    )
    stmt = (
        select(PurchaseOrderLine.product_id, PurchaseOrder.expected_on, outstanding)
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.purchase_order_id)
        .where(
            PurchaseOrder.status.in_(WAITING_FOR_GOODS),
            PurchaseOrderLine.product_id.in_(product_ids),
            PurchaseOrderLine.received_quantity < PurchaseOrderLine.quantity,
        )
        .group_by(PurchaseOrderLine.product_id, PurchaseOrder.expected_on)
    )
    if site_ids is not None:
        stmt = stmt.where(PurchaseOrder.site_id.in_(site_ids))
    found: dict[int, list[tuple[date, Decimal]]] = defaultdict(list)
    for product_id, expected_on, total in db.session.execute(stmt):
        found[product_id].append((max(expected_on, as_of), total))
    return found


def late_orders(as_of: date) -> list[tuple[int, int, int, str]]:
    """(order id, site id, first product id, what the alert says) of every order whose goods
    were due before `as_of` and have not all come."""
    first_product = (
        select(func.min(PurchaseOrderLine.product_id))
        .where(PurchaseOrderLine.purchase_order_id == PurchaseOrder.id)
        .scalar_subquery()
    )
    rows = db.session.execute(
        select(
            PurchaseOrder.id,
            PurchaseOrder.site_id,
            first_product,
            PurchaseOrder.expected_on,
            Supplier.name,
        )
        .join(Supplier, Supplier.id == PurchaseOrder.supplier_id)
        .where(PurchaseOrder.status.in_(WAITING_FOR_GOODS), PurchaseOrder.expected_on < as_of)
        .order_by(PurchaseOrder.id)
    ).all()
    return [
        (
            order_id,
            site_id,
            product_id,
            f"{order_number(order_id)} from {supplier} was due on {day_text(expected_on)}",
        )
        for order_id, site_id, product_id, expected_on, supplier in rows
    ]

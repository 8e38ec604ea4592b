"""Transfers of stock between the sites of a chain (issue 15).

A transfer is drafted at its source with the lots to send, shipped (each lot gives its quantity
by a `transfer_out` movement: nothing of it is usable anywhere while in transit), then received
at its destination (a lot of the same product, lot number, expiry, opening and supplier there
gets what arrived by a `transfer_in` movement; a short receipt records the difference and why).
A draft may be cancelled; once shipped, what left is received, with 0 and the reason for what
never arrived.

A transfer never creates or loses stock: what a line ships is what it received plus the short
difference it records, and `transfer_mismatches` (run by `flask inventory verify`) holds every
line to its two movements. Only usable lots travel; a refrigerated or frozen lot that spent
longer than TRANSFER_COLD_CHAIN_HOURS in transit arrives in quarantine, to be checked before
release; a lot recalled while in transit arrives recalled.
"""

import dataclasses
from datetime import datetime, timedelta
from decimal import Decimal

from flask import current_app
from sqlalchemy import Select, func, literal, or_, select, union, update
from sqlalchemy.orm import aliased, selectinload

from core.clock import clinic_today, moment_text
from core.database import db
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.sites import Site, require_site, site_for_new_record, works_at
from inventory.alerts import raise_recall_alert
from inventory.barcodes import read_barcode
from inventory.expiry import refresh_effective_expiry, usable_on
from inventory.ledger import post_movement
from inventory.models import (
    Lot,
    LotStatus,
    Movement,
    MovementKind,
    Storage,
    Transfer,
    TransferLine,
    TransferStatus,
)
from inventory.products import product_for_gtin

_transfers = Transfer.__table__
COLD_CHAIN = (Storage.REFRIGERATED, Storage.FROZEN)
# A transfer is one box or a few: its page and its answer stay small.
TRANSFER_MOST_LOTS = 200


def get_transfer(transfer_id: int) -> Transfer:
    transfer = db.session.scalar(
        select(Transfer)
        .where(Transfer.id == transfer_id)
        .options(selectinload(Transfer.lines).joinedload(TransferLine.lot).joinedload(Lot.product))
        .execution_options(populate_existing=True)
    )
    if transfer is None:
        raise NotFound(f"No transfer with id {transfer_id}.")
    return transfer


def transfer_for(user, transfer_id: int) -> Transfer:
    """The transfer, for someone who works at its source or its destination (403 otherwise)."""
    transfer = get_transfer(transfer_id)
    if not works_at_either_end(user, transfer):
        raise Forbidden("You work at neither site of this transfer.")
    return transfer


def draft_at_source(user, transfer_id: int) -> Transfer:
    """The transfer, for someone at its source, who drafts it (403 otherwise)."""
    transfer = transfer_for(user, transfer_id)
    require_site(user, transfer.from_site_id)
    return transfer


def works_at_either_end(user, transfer: Transfer) -> bool:
    return works_at(user, transfer.from_site_id) or works_at(user, transfer.to_site_id)


def transfer_list(
    *, site_ids: list[int] | None, status: TransferStatus | str | None = None
) -> Select:
    """Transfers from or to the sites given (None: every site), newest first."""
    stmt = select(Transfer).options(
        selectinload(Transfer.lines),
        selectinload(Transfer.from_site),
        selectinload(Transfer.to_site),
    )
    if site_ids is not None:
        stmt = stmt.where(
            or_(Transfer.from_site_id.in_(site_ids), Transfer.to_site_id.in_(site_ids))
        )
    if status is not None:
        stmt = stmt.where(Transfer.status == TransferStatus(status))
    return stmt.order_by(Transfer.id.desc())


# --- drafting ------------------------------------------------------------------------------------


def create_transfer(
    *, user, from_site_id: int | None, to_site_id: int, lines: list[dict], now: datetime
) -> Transfer:
    """A draft transfer from a site the user works at (by default their only one) to another
    site of the chain, with its lines (`{lot_id, quantity}`; none: lots are added to the
    draft one by one)."""
    source = site_for_new_record(user, from_site_id, field="from_site_id")
    destination = db.session.get(Site, to_site_id)
    if destination is None:
        raise Invalid({"to_site_id": [f"No site with id {to_site_id}."]})
    if destination.id == source.id:
        raise Invalid({"to_site_id": ["A transfer goes to another site than its source."]})
    transfer = Transfer(
        from_site_id=source.id, to_site_id=destination.id, created_by_id=user.id, created_at=now
    )
    db.session.add(transfer)
    db.session.flush()
    seen = set()
    for index, line in enumerate(lines):
        field = f"lines.{index}"
        if line["lot_id"] in seen:
            raise Invalid({f"{field}.lot_id": ["This lot is on the transfer already."]})
        seen.add(line["lot_id"])
        add_line(transfer, lot_id=line["lot_id"], quantity=line["quantity"], now=now, field=field)
    return transfer


def add_line(
    transfer: Transfer, *, lot_id: int, quantity: Decimal, now: datetime, field: str = "lines"
) -> TransferLine:
    """One more lot on a draft: a lot of the source, usable today, holding the quantity. The
    same lot again adds to its line."""
    _refuse_unless(transfer, TransferStatus.DRAFT, "changed")
    if quantity <= 0:
        raise Invalid({f"{field}.quantity": ["Must be more than 0."]})
    lot = db.session.get(Lot, lot_id)
    if lot is None or lot.site_id != transfer.from_site_id:
        raise Invalid({f"{field}.lot_id": ["No such lot on this site's shelves."]})
    line = next((line for line in transfer.lines if line.lot_id == lot.id), None)
    if line is None and len(transfer.lines) >= TRANSFER_MOST_LOTS:
        raise Invalid({f"{field}.lot_id": [f"A transfer carries at most {TRANSFER_MOST_LOTS} "
                                           "lots: start another one."]})  # fmt: skip
    total = quantity + (line.quantity if line else 0)
    _check_can_travel(lot, total, now=now, field=field)
    if line is None:
        line = TransferLine(lot_id=lot.id, quantity=total, lot=lot)
        transfer.lines.append(line)
    else:
        line.quantity = total
    db.session.flush()
    return line


def remove_line(transfer: Transfer, line_id: int) -> None:
    _refuse_unless(transfer, TransferStatus.DRAFT, "changed")
    line = next((line for line in transfer.lines if line.id == line_id), None)
    if line is None:
        raise NotFound(f"No line {line_id} on this transfer.")
    transfer.lines.remove(line)
    db.session.flush()


def lot_to_send(site_id: int, scanned: str) -> Lot:
    """The site's lot a pharmacist scanned (a GS1 barcode) or typed (its lot number)."""
    text = (scanned or "").strip()
    if not text:
        raise Invalid({"barcode": ["Scan the lot's barcode or type its lot number."]})
    lots = _lots_scanned(site_id, text)
    if not lots:
        raise Invalid({"barcode": ["No lot of this site has that barcode or lot number."]})
    if len(lots) > 1:
        raise Invalid({"barcode": ["Several products have a lot of that number: scan it."]})
    return lots[0]


def _lots_scanned(site_id: int, text: str) -> list[Lot]:
    at_site = select(Lot).where(Lot.site_id == site_id)
    try:
        label = read_barcode(text)
    except Invalid:
        return db.session.scalars(at_site.where(Lot.lot_number == text).limit(2)).all()
    product = product_for_gtin(label.gtin)
    if product is None:
        return []
    found = at_site.where(Lot.product_id == product.id, Lot.lot_number == label.lot_number)
    return db.session.scalars(found).all()


def _check_can_travel(lot: Lot, quantity: Decimal, *, now: datetime, field: str) -> None:
    if not usable_on(lot, clinic_today(now)):
        problem = f"Lot {lot.lot_number} is not usable today: only usable lots travel."
        raise Invalid({f"{field}.lot_id": [problem]})
    if quantity > lot.quantity_on_hand:
        problem = f"More than lot {lot.lot_number} holds ({_amount(lot.quantity_on_hand)})."
        raise Invalid({f"{field}.quantity": [problem]})


# --- shipping, receiving, cancelling ----------------------------------------------------------


def ship_transfer(transfer_id: int, *, user, now: datetime) -> Transfer:
    """The stock leaves the source: one `transfer_out` movement per line, each refused (and
    the whole shipment with it) when its lot no longer holds the quantity or is no longer
    usable. Two shipments racing for one lot never give more than it holds."""
    transfer = transfer_for(user, transfer_id)
    require_site(user, transfer.from_site_id)
    if not transfer.lines:
        raise Conflict("Nothing to ship: add a lot to the transfer first.")
    _move_on(transfer, TransferStatus.DRAFT, TransferStatus.SHIPPED, "shipped")
    today = clinic_today(now)
    for line in transfer.lines:
        movement = post_movement(
            line.lot,
            MovementKind.TRANSFER_OUT,
            quantity=-line.quantity,
            reason=f"transfer {transfer.id} to {transfer.to_site.code}",
            user_id=user.id,
            now=now,
            usable_on=today,
        )
        line.shipped_movement_id = movement.id
    transfer.shipped_by_id, transfer.shipped_at = user.id, now
    db.session.flush()
    return transfer


@dataclasses.dataclass(frozen=True)
class LineReceipt:
    received_quantity: Decimal
    reason: str | None = None


def receive_transfer(
    transfer_id: int,
    *,
    user,
    now: datetime,
    receipts: list[dict] | None = None,
    scanned: set[int] | None = None,
) -> Transfer:
    """What arrived enters the destination's stock: by default everything shipped; `receipts`
    (`{lot_id, received_quantity, reason}`, the lot as shipped) say otherwise for some lines,
    a reason required for less than was sent. Received by scanning (`scanned`: the lots
    whose barcode was read as they were unpacked), every lot that arrives must have been
    scanned."""
    transfer = transfer_for(user, transfer_id)
    require_site(user, transfer.to_site_id)
    received = _receipts_by_line(transfer, receipts or [])
    if scanned is not None:
        _refuse_unscanned(transfer, received, scanned)
    _move_on(transfer, TransferStatus.SHIPPED, TransferStatus.RECEIVED, "received")
    hours_in_transit = (now - transfer.shipped_at) / timedelta(hours=1)
    for line in transfer.lines:
        receipt = received.get(line.id, LineReceipt(line.quantity))
        line.received_quantity = receipt.received_quantity
        line.short_reason = receipt.reason
        if receipt.received_quantity > 0:
            _arrive(line, transfer, hours_in_transit, user=user, now=now)
    transfer.received_by_id, transfer.received_at = user.id, now
    db.session.flush()
    return transfer


def cancel_transfer(transfer_id: int, *, user, reason: str | None, now: datetime) -> Transfer:
    """A draft is cancelled by someone at either site; shipped stock is received instead."""
    transfer = transfer_for(user, transfer_id)
    if transfer.status == TransferStatus.SHIPPED:
        raise Conflict(
            "The transfer is shipped: receive it, with 0 and the reason for what never arrived."
        )
    _move_on(transfer, TransferStatus.DRAFT, TransferStatus.CANCELLED, "cancelled")
    transfer.cancelled_at, transfer.cancel_reason = now, (reason or "").strip() or None
    db.session.flush()
    return transfer


def _move_on(transfer: Transfer, before: TransferStatus, after: TransferStatus, done: str):
    """The status changes in one conditional update: of two requests racing to ship (or
    receive, or cancel) the same transfer, the database lets one through."""
    _refuse_unless(transfer, before, done)
    changed = db.session.execute(
        update(_transfers)
        .where(_transfers.c.id == transfer.id, _transfers.c.status == before.value)
        .values(status=after.value)
    ).rowcount
    if changed != 1:
        raise Conflict(f"The transfer was {done} by someone else in the meantime.")
    db.session.refresh(transfer, ["status"])


def _refuse_unless(transfer: Transfer, status: TransferStatus, action: str) -> None:
    if transfer.status != status:
        raise Conflict(f"The transfer is {transfer.status.value}: it cannot be {action}.")


def _receipts_by_line(transfer: Transfer, receipts: list[dict]) -> dict[int, LineReceipt]:
    lines = {line.lot_id: line for line in transfer.lines}
    received, errors = {}, {}
    for index, receipt in enumerate(receipts):
        field = f"lines.{index}"
        line = lines.get(receipt["lot_id"])
        quantity = receipt["received_quantity"]
        reason = (receipt.get("reason") or "").strip() or None
        if line is None:
            errors[f"{field}.lot_id"] = ["This lot is not on the transfer."]
        elif line.id in received:
            errors[f"{field}.lot_id"] = ["This lot is received once."]
        elif quantity < 0:
            errors[f"{field}.received_quantity"] = ["Cannot be less than 0."]
        elif quantity > line.quantity:
            errors[f"{field}.received_quantity"] = [
                f"More than was shipped ({_amount(line.quantity)})."
            ]
        elif quantity < line.quantity and reason is None:
            errors[f"{field}.reason"] = ["Say why less arrived than was shipped."]
        else:
            received[line.id] = LineReceipt(quantity, reason)
    if errors:
        raise Invalid(errors)
    return received


def _refuse_unscanned(transfer: Transfer, received: dict, scanned: set[int]) -> None:
    errors = {}
    for index, line in enumerate(transfer.lines):
        arriving = received.get(line.id, LineReceipt(line.quantity)).received_quantity
        if arriving > 0 and line.lot_id not in scanned:
            errors[f"lines.{index}.received_quantity"] = [
                "Scan this lot as you unpack it, or set what arrived to 0 with the reason."
            ]
    if errors:
        raise Invalid(errors, message="Some lots were not scanned.")


def line_for_scan(transfer: Transfer, scanned: str) -> TransferLine:
    """The line of the lot a pharmacist scanned (its GS1 barcode) or typed (its lot number)
    while unpacking the transfer."""
    text = (scanned or "").strip()
    if not text:
        raise Invalid({"barcode": ["Scan the lot's barcode or type its lot number."]})
    try:
        label = read_barcode(text)
    except Invalid:
        label = None
    for line in transfer.lines:
        lot = line.lot
        if label is None and lot.lot_number == text:
            return line
        if label and (lot.product.gtin, lot.lot_number) == (label.gtin, label.lot_number):
            return line
    raise Invalid({"barcode": ["This lot is not on this transfer: set it aside and call the "
                               "sending site."]})  # fmt: skip


def _arrive(line: TransferLine, transfer: Transfer, hours: float, *, user, now: datetime):
    source = line.lot
    lot = _destination_lot(source, transfer.to_site_id, now=now)
    too_long = source.storage in COLD_CHAIN and hours > cold_chain_hours()
    if too_long and lot.status == LotStatus.AVAILABLE:
        lot.status = LotStatus.QUARANTINE
        lot.status_reason = (
            f"{hours:.0f} hours in transit ({moment_text(transfer.shipped_at)} to "
            f"{moment_text(now)}), over the {cold_chain_hours()} a {source.storage.value} lot "
            "may travel: check it before release."
        )
    db.session.flush()
    movement = post_movement(
        lot,
        MovementKind.TRANSFER_IN,
        quantity=line.received_quantity,
        reason=f"transfer {transfer.id} from {transfer.from_site.code}",
        user_id=user.id,
        now=now,
    )
    line.received_lot_id, line.received_movement_id = lot.id, movement.id
    if source.status == LotStatus.RECALLED and lot.status != LotStatus.RECALLED:
        lot.status, lot.status_reason = LotStatus.RECALLED, source.status_reason
        db.session.flush()
        raise_recall_alert(lot, source.status_reason or "recalled in transit", now=now)


def _destination_lot(source: Lot, site_id: int, *, now: datetime) -> Lot:
    """The destination's lot of the same product and lot number: the one on its shelf (its
    earlier opening, if any, kept: the shorter life wins), or a new one like the source."""
    lot = db.session.scalar(
        select(Lot)
        .where(
            Lot.site_id == site_id,
            Lot.product_id == source.product_id,
            Lot.lot_number == source.lot_number,
        )
        .with_for_update()
    )
    if lot is None:
        lot = Lot(
            site_id=site_id,
            product_id=source.product_id,
            lot_number=source.lot_number,
            expiry_date=source.expiry_date,
            expiry_month_only=source.expiry_month_only,
            effective_expiry=source.effective_expiry,
            opened_at=source.opened_at,
            quantity_on_hand=Decimal(0),
            status=LotStatus.AVAILABLE,
            received_at=now,
            supplier=source.supplier,
            storage=source.storage,
        )
        db.session.add(lot)
        return lot
    if lot.status == LotStatus.DISPOSED or lot.expiry_date != source.expiry_date:
        raise Conflict(
            f"Lot {lot.lot_number} on this site's shelf is "
            + ("disposed of" if lot.status == LotStatus.DISPOSED else "of another expiry")
            + ": the stock cannot join it. Ask the source to check the lot.",
            lot_id=lot.id,
        )
    openings = [moment for moment in (lot.opened_at, source.opened_at) if moment is not None]
    if openings:
        lot.opened_at = min(openings)
        refresh_effective_expiry(lot, lot.product.days_after_opening)
    return lot


def cold_chain_hours() -> int:
    return current_app.config["TRANSFER_COLD_CHAIN_HOURS"]


def _amount(quantity: Decimal) -> str:
    return format(quantity.normalize(), "f")


# --- the trace and the ledger check -----------------------------------------------------------


def transfer_edges():
    """Pairs of lots that are the same stock at two sites (a lot and the lot it arrived as),
    each pair both ways round: the recall walks them in either direction."""
    sent = select(TransferLine.lot_id.label("lot_id"), TransferLine.received_lot_id.label("to"))
    returned = select(TransferLine.received_lot_id, TransferLine.lot_id)
    return union(
        sent.where(TransferLine.received_lot_id.is_not(None)),
        returned.where(TransferLine.received_lot_id.is_not(None)),
    ).subquery("transferred")


def transferred_copies(lot_id: int) -> list[Lot]:
    """The lots that are the same stock as this one at other sites: sent from it, or that it
    was sent from, at any remove (A to B to C), in one recursive query."""
    edges = transfer_edges()
    family = select(literal(lot_id).label("lot_id")).cte("family", recursive=True)
    family = family.union(select(edges.c.to).join(family, edges.c.lot_id == family.c.lot_id))
    copies = select(Lot).where(Lot.id.in_(select(family.c.lot_id)), Lot.id != lot_id)
    return db.session.scalars(copies.order_by(Lot.id)).all()


@dataclasses.dataclass(frozen=True)
class TransferMismatch:
    # None for a transfer movement that no line points to.
    transfer_id: int | None
    line_id: int | None
    problem: str


def transfer_mismatches() -> list[TransferMismatch]:
    """Every transfer line whose movements do not say what the line says: shipped lines hold
    one `transfer_out` of the shipped quantity from their lot, received ones one `transfer_in`
    of what arrived into the lot it arrived as, drafts and cancelled ones none; and every
    transfer movement belongs to a line. Set-based, whatever the number of transfers."""
    out, into = aliased(Movement), aliased(Movement)
    rows = db.session.execute(
        select(
            TransferLine.transfer_id,
            TransferLine.id,
            Transfer.status,
            TransferLine.lot_id,
            TransferLine.quantity,
            TransferLine.received_quantity,
        )
        .join(Transfer, Transfer.id == TransferLine.transfer_id)
        .outerjoin(out, out.id == TransferLine.shipped_movement_id)
        .outerjoin(into, into.id == TransferLine.received_movement_id)
        .where(_line_disagrees(out, into))
        .order_by(TransferLine.id)
    ).all()
    found = [
        TransferMismatch(
            transfer_id,
            line_id,
            f"{status.value}, {_amount(quantity)} of lot {lot_id} sent and "
            f"{'nothing' if received is None else _amount(received)} received: its movements "
            "or its reason disagree",
        )
        for transfer_id, line_id, status, lot_id, quantity, received in rows
    ]
    return found + _stray_movements()


def _line_disagrees(out, into):
    shipped = Transfer.status.in_([TransferStatus.SHIPPED, TransferStatus.RECEIVED])
    received = Transfer.status == TransferStatus.RECEIVED
    arrived = TransferLine.received_quantity > 0
    ships_right = (
        (out.kind == MovementKind.TRANSFER_OUT)
        & (out.lot_id == TransferLine.lot_id)
        & (out.quantity == -TransferLine.quantity)
    )
    arrives_right = (
        (into.kind == MovementKind.TRANSFER_IN)
        & (into.lot_id == TransferLine.received_lot_id)
        & (into.quantity == TransferLine.received_quantity)
    )
    short_explained = (TransferLine.received_quantity == TransferLine.quantity) | (
        TransferLine.short_reason.is_not(None)
    )
    consistent = or_(
        ~shipped & out.id.is_(None) & into.id.is_(None),
        shipped & ~received & ships_right & into.id.is_(None)
        & TransferLine.received_quantity.is_(None),
        received & ships_right & arrived & arrives_right & short_explained,
        received & ships_right & (TransferLine.received_quantity == 0) & into.id.is_(None)
        & short_explained,
    )  # fmt: skip
    return ~consistent


def _stray_movements() -> list[TransferMismatch]:
    """Transfer movements no line points to."""
    claimed = union(
        select(TransferLine.shipped_movement_id.label("id")),
        select(TransferLine.received_movement_id),
    ).subquery()
    stray = db.session.execute(
        select(Movement.id, Movement.kind, Movement.lot_id)
        .where(
            Movement.kind.in_([MovementKind.TRANSFER_OUT, MovementKind.TRANSFER_IN]),
            Movement.id.not_in(select(claimed.c.id).where(claimed.c.id.is_not(None))),
        )
        .order_by(Movement.id)
    ).all()
    return [
        TransferMismatch(
            None, None, f"movement {id_} ({kind.value}, lot {lot_id}) is on no transfer"
        )
        for id_, kind, lot_id in stray
    ]


def in_transit() -> Decimal:
    """Everything shipped and not yet received, whatever the product: stock that left a site
    and is on its way."""
    shipped = Transfer.status == TransferStatus.SHIPPED
    total = db.session.scalar(select(func.sum(TransferLine.quantity)).join(Transfer).where(shipped))
    return total or Decimal(0)

"""In-house compounding (SPEC 3.5): N doses of an approved compounded serum made from the
component lots on the shelf, as one transaction.

For each component, N x its amount per dose is measured out of the component products (pint):
through a product's strength (40 mg of a 250 mg/mL solution is 0.16 mL), else by converting
to its unit (40 mg of a powder counted in g is 0.04 g), and taken first-expiring-first from
every usable lot of every product of that substance, whatever its strength. A product that
says neither is a 409 naming it. Every component is picked before anything moves, so a short
component refuses the whole batch (409 naming it) and nothing is consumed. The new serum
lot's beyond-use date is the earliest of every consumed lot's effective expiry and the
preparation time plus the serum's beyond-use days for its storage.

The batch is its compounding record (USP 795/797 practice): the formula version, every
ingredient lot and quantity, who prepared it when, the beyond-use date and storage. Its lot
starts in quarantine: a second pharmacist, never the preparer, verifies the batch (the lot is
released, `verify_batch` or `inventory.lots.release`) or rejects it with a reason (the whole lot
is disposed of, `reject_batch`); `inventory.second_check` holds that rule.
"""

import dataclasses
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, Decimal

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from core.accounts import User
from core.clock import clinic_date, clinic_today
from core.database import db
from core.errors import Conflict, Invalid, NotFound
from core.sites import stock_site_id
from formulary import units
from formulary.models import Serum, SerumComponent, SerumSource, SerumStatus
from inventory.barcodes import GS1_LOT_LENGTH
from inventory.expiry import FEFO_ORDER, usable_lot_conditions
from inventory.ledger import post_movement
from inventory.lots import dispose, get_lot, release
from inventory.models import (
    QUANTITY_PLACES,
    Batch,
    BatchConsumption,
    Lot,
    LotStatus,
    MovementKind,
    Product,
    ProductKind,
    Storage,
)
from inventory.products import product_strength
from inventory.second_check import check_second_pharmacist, record_rejection
from inventory.serum_stock import doses_as_stock, serum_products

_LEDGER_STEP = Decimal(1).scaleb(-QUANTITY_PLACES)
MADE_IN_HOUSE = "compounded in-house"


@dataclasses.dataclass(frozen=True)
class Draw:
    """How much one component lot gives the batch, in its product's unit."""

    component: str
    lot: Lot
    quantity: Decimal
    unit: str


def get_batch(batch_id: int) -> Batch:
    """The batch with its lot and every ingredient lot drawn, for its record."""
    batch = db.session.scalar(
        select(Batch)
        .where(Batch.id == batch_id)
        .options(
            joinedload(Batch.lot, innerjoin=True).joinedload(Lot.product, innerjoin=True),
            selectinload(Batch.consumptions)
            .joinedload(BatchConsumption.lot, innerjoin=True)
            .joinedload(Lot.product, innerjoin=True),
            joinedload(Batch.serum, innerjoin=True),
            joinedload(Batch.made_by),
            joinedload(Batch.verified_by),
            joinedload(Batch.rejected_by),
        )
    )
    if batch is None:
        raise NotFound(f"No batch with id {batch_id}.")
    return batch


def beyond_use_days(serum: Serum, storage: Storage) -> int:
    """The serum's beyond-use days for the storage. The SPEC gives room and refrigerated
    figures only; a frozen batch keeps the refrigerated figure, the shorter and so the safe
    one, since it is thawed into the refrigerator."""
    if storage == Storage.ROOM:
        return serum.bud_room_days
    return serum.bud_refrigerated_days


def beyond_use_date(prepared_at: datetime, days: int) -> date:
    """The last clinic day that ends before preparation time + `days`: a lot is usable through
    its whole last day, so a batch made at 10:00 with one day is used the same day, never at
    11:00 the next."""
    return clinic_date(prepared_at + timedelta(days=days)) - timedelta(days=1)


def compound(
    serum: Serum,
    doses: Decimal,
    *,
    user: User,
    now: datetime,
    storage: Storage | str = Storage.ROOM,
    product_id: int | None = None,
    lot_number: str | None = None,
    site_id: int | None = None,
) -> Batch:
    """Make `doses` doses of the serum now at a site (the clinic's only site when none is
    named), from that site's components into a lot on its shelf: all of it, or nothing."""
    storage = Storage(storage)
    site_id = stock_site_id(site_id)
    _check_compoundable(serum, doses)
    product = _serum_product(serum, product_id)
    today = clinic_today(now)
    draws = _draw_components(serum, doses, today, site_id=site_id)
    expiry = min(
        [beyond_use_date(now, beyond_use_days(serum, storage))]
        + [draw.lot.effective_expiry for draw in draws]
    )
    if expiry < today:
        raise Conflict(
            f"{serum.name} would be beyond use before it is made: check its beyond-use days."
        )
    produced = doses_as_stock(doses, serum.dose_volume_ml, unit=product.unit)
    with db.session.begin_nested():
        lot = Lot(
            site_id=site_id,
            product_id=product.id,
            lot_number=lot_number or _next_lot_number(serum, today),
            expiry_date=expiry,
            effective_expiry=expiry,
            quantity_on_hand=Decimal(0),
            # Until a second pharmacist checks it (`verify_batch`).
            status=LotStatus.QUARANTINE,
            received_at=now,
            supplier=MADE_IN_HOUSE,
            storage=storage,
        )
        db.session.add(lot)
        db.session.flush()
        batch = Batch(
            serum_id=serum.id,
            lot_id=lot.id,
            doses=doses,
            prepared_at=now,
            storage=storage,
            beyond_use_date=expiry,
            made_by_id=user.id,
        )
        db.session.add(batch)
        db.session.flush()
        reason = f"compounding batch {batch.id}"
        for draw in draws:
            post_movement(
                draw.lot,
                MovementKind.CONSUME,
                quantity=-draw.quantity,
                reason=reason,
                user_id=user.id,
                now=now,
                usable_on=today,
            )
            batch.consumptions.append(
                BatchConsumption(lot_id=draw.lot.id, quantity=draw.quantity, unit=draw.unit)
            )
        post_movement(
            lot, MovementKind.PRODUCE, quantity=produced, reason=reason, user_id=user.id, now=now
        )
        db.session.flush()
    return batch


def _check_compoundable(serum: Serum, doses: Decimal) -> None:
    if doses <= 0:
        raise Invalid({"doses": ["Must be more than 0."]})
    if serum.status != SerumStatus.APPROVED:
        raise Conflict(
            f"{serum.code} version {serum.version} is {serum.status.value}: only an approved "
            "formula is compounded.",
            {"serum_id": ["Not approved."]},
        )
    if serum.source != SerumSource.COMPOUNDED:
        raise Conflict(
            f"{serum.name} is manufactured: it is received as stock, not compounded.",
            {"serum_id": ["Not a compounded serum."]},
        )
    if not serum.components:
        raise Conflict(f"{serum.name} has no components.")


def _serum_product(serum: Serum, product_id: int | None) -> Product:
    """The product the batch's doses are stocked as. With several, the pharmacist says which;
    there is no sound way to guess."""
    products = serum_products(serum.id)
    if product_id is not None:
        for product in products:
            if product.id == product_id:
                return _locked(product)
        raise Invalid({"product_id": [f"That product does not stock {serum.name}."]})
    if not products:
        raise Conflict(
            f"No product stocks {serum.name} (serum {serum.id}): create a serum product for it "
            "before compounding.",
            {"serum_id": ["No serum product."]},
        )
    if len(products) > 1:
        raise Invalid(
            {"product_id": [f"{len(products)} products stock {serum.name}: say which one."]}
        )
    return _locked(products[0])


def _locked(product: Product) -> Product:
    """Compounding of one product is serialised on its row (PostgreSQL), which also keeps the
    generated lot numbers from colliding."""
    return db.session.scalar(
        select(Product)
        .where(Product.id == product.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _next_lot_number(serum: Serum, today: date) -> str:
    """`{CODE}-{YYMMDD}-{n}`: the serum's code, the clinic day and the batch's number that day
    (1, 2, ...), the first not yet taken by any lot. A GS1 lot number holds at most 20
    characters, so a code too long for the rest is cut to what fits (and of a trailing dash):
    HAIR-VITAMIN-COCKTAIL on 3 Dec 2026 is HAIR-VITAMI-261203-1. Two codes that cut to the same
    letters still get different numbers, since every lot of that day counts."""
    day = f"{today:%y%m%d}"
    taken = set(
        db.session.scalars(
            select(Lot.lot_number).where(Lot.lot_number.contains(f"-{day}-", autoescape=True))
        )
    )
    number = 1
    while True:
        suffix = f"-{day}-{number}"
        code = serum.code[: GS1_LOT_LENGTH - len(suffix)].rstrip("-")
        if f"{code}{suffix}" not in taken:
            return f"{code}{suffix}"
        number += 1


def verify_batch(batch_id: int, *, pharmacist: User, now: datetime) -> Batch:
    """The second pharmacist has checked the compounding record and the preparation: the
    batch's lot leaves quarantine and the batch records who verified it when. By the preparer
    it is a 409."""
    batch = get_batch(batch_id)
    release(batch.lot_id, user=pharmacist, now=now)
    return batch


def reject_batch(batch_id: int, *, pharmacist: User, reason: str, now: datetime) -> Batch:
    """The second pharmacist found the batch wrong: its whole lot is disposed of with the
    reason, and the batch records who rejected it when and why. By the preparer it is a 409 (a
    preparer who spots their own mistake disposes of the lot from its page)."""
    if not reason or not reason.strip():
        raise Invalid({"reason": ["Say why the batch is rejected."]})
    reason = reason.strip()
    batch = get_batch(batch_id)
    lot = get_lot(batch.lot_id, lock=True)
    check_second_pharmacist(batch, lot, pharmacist=pharmacist)
    dispose(lot.id, f"batch rejected at its check: {reason}", user_id=pharmacist.id, now=now)
    record_rejection(batch, pharmacist=pharmacist, reason=reason, now=now)
    db.session.flush()
    return batch


def _draw_components(serum: Serum, doses: Decimal, day: date, *, site_id: int) -> list[Draw]:
    """The draws for every component, FEFO across the usable lots of all products of its
    substance whatever their strength, or a 409 naming every component that is short
    (nothing is drawn then)."""
    components = sorted(serum.components, key=lambda c: (c.position, c.id))
    measures = _measures(components)
    lots_by_substance = _usable_component_lots(
        {c.substance_id for c in components}, day, site_id=site_id
    )
    draws: list[Draw] = []
    shortages: dict[str, str] = {}
    for component in components:
        need = units.amount(Decimal(doses) * component.amount_value, component.amount_unit)
        lots = lots_by_substance.get(component.substance_id, [])
        per_unit = measures[component.id]
        component_draws, missing = _draw(component, need, lots, per_unit)
        if missing > 0:
            shortages[component.substance.name] = _shortage(component, missing, lots, per_unit)
        draws += component_draws
    if shortages:
        raise Conflict(
            f"{_plain(doses)} dose{'' if doses == 1 else 's'} of {serum.name} cannot be "
            "compounded: " + " ".join(shortages.values()),
            {"components": list(shortages.values())},
            short_components=list(shortages),
        )
    return draws


def _draw(
    component: SerumComponent, need: units.Amount, lots: list[Lot], per_unit: dict[int, Decimal]
):
    """FEFO over the lots, working in the formula's unit and drawing in each lot's product's
    unit (`per_unit`: how much of the formula's unit one unit of each product holds)."""
    name = component.substance.name
    missing = need.value
    draws = []
    for lot in lots:
        if missing <= 0:
            break
        held = per_unit[lot.product_id]
        if lot.quantity_on_hand * held <= missing:
            draws.append(Draw(name, lot, lot.quantity_on_hand, lot.product.unit))
            missing -= lot.quantity_on_hand * held
            continue
        taken = (missing / held).quantize(_LEDGER_STEP, rounding=ROUND_CEILING)
        draws.append(Draw(name, lot, min(taken, lot.quantity_on_hand), lot.product.unit))
        missing = Decimal(0)
    return draws, missing


def _shortage(
    component: SerumComponent, missing: Decimal, lots: list[Lot], per_unit: dict[int, Decimal]
) -> str:
    """In the pharmacist's words: none at all, or how much more of the product the last lot
    drawn is of, in its own unit (and of which substance, unless its name says)."""
    name = component.substance.name
    if not lots:
        return f"No {name} in stock."
    product = lots[-1].product
    short = (missing / per_unit[product.id]).quantize(_LEDGER_STEP, rounding=ROUND_CEILING)
    which = "" if name.casefold() in product.name.casefold() else f" ({name})"
    return f"{_plain(short)} {product.unit} short of {product.name}{which}."


def _measures(components: list[SerumComponent]) -> dict[int, dict[int, Decimal]]:
    """For each component, how much of the formula's unit one unit of every stocked product
    of its substance holds: through the product's strength, else by converting its unit. A
    product that says neither (counted in vials without a strength, in mg for an IU amount)
    is a 409 naming it, whatever stock there is. One query."""
    products: dict[int, list[Product]] = defaultdict(list)
    rows = db.session.scalars(
        select(Product)
        .where(
            Product.kind == ProductKind.COMPONENT,
            Product.substance_id.in_(sorted({c.substance_id for c in components})),
        )
        .order_by(Product.name, Product.id)
    )
    for product in rows:
        products[product.substance_id].append(product)
    return {
        component.id: {
            product.id: _measure(product, component) for product in products[component.substance_id]
        }
        for component in components
    }


def _measure(product: Product, component: SerumComponent) -> Decimal:
    unit = component.amount_unit
    strength = product_strength(product)
    if strength is not None:
        try:
            return units.per_product_unit(strength, unit, product_unit=product.unit)
        except units.UnitError:
            pass
    try:
        return units.convert(units.amount(1, product.unit), unit).value
    except units.UnitError:
        pass
    message = (
        f"{product.name} is counted in {product.unit}"
        + (f" at {product.strength_text}" if strength else "")
        + f", which does not say how much {component.substance.name} in {unit} it holds:"
        f" give it a strength in {unit}/{product.unit}."
    )
    raise Conflict(message, {"components": [message]}, product=product.name)


def _usable_component_lots(
    substance_ids: set[int], day: date, *, site_id: int
) -> dict[int, list[Lot]]:
    """Usable lots at the site of every component product of the substances, locked, FEFO
    within each substance: one query."""
    stmt = (
        select(Lot)
        .join(Product, Product.id == Lot.product_id)
        .where(
            Lot.site_id == site_id,
            Product.kind == ProductKind.COMPONENT,
            Product.substance_id.in_(sorted(substance_ids)),
            *usable_lot_conditions(day),
        )
        .options(joinedload(Lot.product, innerjoin=True))
        .order_by(*FEFO_ORDER)
        .with_for_update(of=Lot)
        .execution_options(populate_existing=True)
    )
    by_substance: dict[int, list[Lot]] = defaultdict(list)
    for lot in db.session.scalars(stmt).unique():
        by_substance[lot.product.substance_id].append(lot)
    return by_substance


def _plain(value: Decimal) -> str:
    return format(Decimal(value).normalize(), "f")

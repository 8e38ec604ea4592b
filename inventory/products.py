"""Products: what the clinic stocks, and what each kind must refer to (SPEC 3.4)."""

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from sqlalchemy import Select, func, select

from core.database import db
from core.errors import Conflict, Invalid, NotFound
from core.sites import Site
from formulary import units
from formulary.models import Serum, Substance
from inventory.barcodes import normalize_gtin
from inventory.expiry import refresh_effective_expiry
from inventory.models import Lot, Product, ProductKind, SiteReorderPoint, Storage

# Multi-dose vials of serums and raw ingredients keep 28 days once opened unless told otherwise.
DEFAULT_DAYS_AFTER_OPENING = 28
_REFERENCE_FIELD = {ProductKind.COMPONENT: "substance_id", ProductKind.SERUM: "serum_id"}
_REFERENCE_NAME = {"substance_id": "substance", "serum_id": "serum"}
_NOT_GIVEN = object()


def get_product(product_id: int) -> Product:
    product = db.session.get(Product, product_id)
    if product is None:
        raise NotFound(f"No product with id {product_id}.")
    return product


def product_for_gtin(gtin: str) -> Product | None:
    return db.session.scalar(select(Product).where(Product.gtin == gtin))


def product_query(
    kind: ProductKind | str | None = None, gtin: str | None = None, *, q: str | None = None
) -> Select:
    """Products by name, of a kind, of a GTIN (any length it is written in), or whose name
    contains `q` (any case)."""
    stmt = select(Product).order_by(Product.name, Product.id)
    if kind:
        stmt = stmt.where(Product.kind == ProductKind(kind))
    if gtin:
        stmt = stmt.where(Product.gtin == gtin)
    if q and q.strip():
        stmt = stmt.where(Product.name.icontains(q.strip(), autoescape=True))
    return stmt


def create_product(
    kind: ProductKind | str,
    name: str,
    *,
    unit: str,
    substance_id: int | None = None,
    serum_id: int | None = None,
    gtin: str | None = None,
    reorder_point: Decimal = Decimal(0),
    days_after_opening=_NOT_GIVEN,
    storage: Storage | str = Storage.ROOM,
    strength: Mapping | None = None,
) -> Product:
    """`strength`, for a component only, is `{"value": 250, "unit": "mg/mL"}`: how much of
    its substance one unit of the product holds."""
    kind = ProductKind(kind)
    if days_after_opening is _NOT_GIVEN:
        days_after_opening = None if kind == ProductKind.CONSUMABLE else DEFAULT_DAYS_AFTER_OPENING
    product = Product(
        kind=kind,
        name=name,
        unit=unit,
        substance_id=substance_id,
        serum_id=serum_id,
        reorder_point=reorder_point,
        days_after_opening=days_after_opening,
        storage=Storage(storage),
    )
    _check_reference(product)
    _set_strength(product, strength)
    product.gtin = _unused_gtin(gtin, product)
    db.session.add(product)
    db.session.flush()
    return product


def update_product(product: Product, changes: dict) -> Product:
    """Apply the changed fields. A new days-after-opening moves the effective expiry of the
    product's opened lots with it; the unit cannot change under stock already counted in it.
    A strength is checked against the kind and unit the product ends with."""
    _refuse_changing_what_its_lots_are(product, changes)
    if "gtin" in changes:
        changes["gtin"] = _unused_gtin(changes["gtin"], product)
    strength = changes.pop("strength", product.strength)
    enums = {"kind": ProductKind, "storage": Storage}
    for field, value in changes.items():
        setattr(product, field, enums[field](value) if field in enums else value)
    _check_reference(product)
    _set_strength(product, strength)
    if "days_after_opening" in changes:
        _refresh_opened_lots(product)
    db.session.flush()
    return product


# What a product's lots are, as people name it and why it stays: changed under stock, the lots
# would stand for another thing.
_IDENTITY = {
    "unit": ("unit", "its quantities are counted in it"),
    "kind": ("kind", "its lots are stock of this kind"),
    "substance_id": ("substance", "its lots hold this substance"),
    "serum_id": ("serum", "its lots hold this serum"),
    "strength": ("strength", "its lots were received at this strength"),
}


def _refuse_changing_what_its_lots_are(product: Product, changes: dict) -> None:
    """Once a product has lots, its unit, kind, substance, serum and strength stay: a new
    product is the way to stock something else. Giving a strength to a product that had
    none is allowed (it only makes its lots measurable)."""
    changed = [
        field
        for field in _IDENTITY
        if field in changes
        and changes[field] != getattr(product, field)
        and not (field == "strength" and product.strength is None)
    ]
    if not changed or not _has_lots(product):
        return
    raise Conflict(
        f"{product.name} has lots: its "
        + ", ".join(_IDENTITY[field][0] for field in changed)
        + " cannot change. Add a new product for the new stock.",
        {field: [f"Lots exist: {_IDENTITY[field][1]}."] for field in changed},
    )


def _check_reference(product: Product) -> None:
    """A component names its substance, a serum product its serum, a consumable neither."""
    needed = _REFERENCE_FIELD.get(product.kind)
    for field in ("substance_id", "serum_id"):
        value, thing = getattr(product, field), _REFERENCE_NAME[field]
        if field == needed and value is None:
            raise Invalid({field: [f"A {product.kind.value} product names its {thing}."]})
        if field != needed and value is not None:
            raise Invalid({field: [f"A {product.kind.value} product has no {thing}."]})
    if needed == "substance_id" and db.session.get(Substance, product.substance_id) is None:
        raise Invalid({"substance_id": [f"No substance with id {product.substance_id}."]})
    if needed == "serum_id" and db.session.get(Serum, product.serum_id) is None:
        raise Invalid({"serum_id": [f"No serum with id {product.serum_id}."]})


def _set_strength(product: Product, strength: Mapping | None) -> None:
    """Only a component has a strength: an amount (mg, ug, g, mL, IU) per unit of the
    product, more than 0."""
    if strength is None:
        product.strength_value = product.strength_unit = None
        return
    if product.kind != ProductKind.COMPONENT:
        raise Invalid(
            {"strength": [f"Only a component has a strength, not a {product.kind.value}."]}
        )
    try:
        value = strength["value"]
        value = Decimal(str(value) if isinstance(value, float) else value)
        checked = units.strength(value, strength["unit"], product_unit=product.unit)
    except (KeyError, TypeError, InvalidOperation):
        raise Invalid({"strength": ["Give a value and a unit, such as 250 mg/mL."]}) from None
    except units.UnitError as error:
        raise Invalid({"strength": [str(error)]}) from None
    if value.as_tuple().exponent < -6 or value >= 10**12:
        raise Invalid({"strength": ["At most 6 decimal places, below a trillion."]})
    product.strength_value, product.strength_unit = checked.value, checked.unit


def product_strength(product: Product) -> units.Strength | None:
    """The product's strength as units measure it, or None."""
    if product.strength_value is None:
        return None
    return units.strength(product.strength_value, product.strength_unit, product_unit=product.unit)


def _unused_gtin(gtin: str | None, product: Product) -> str | None:
    if gtin is None:
        return None
    gtin = normalize_gtin(gtin)
    holder = product_for_gtin(gtin)
    if holder is not None and holder is not product:
        raise Conflict(
            f"GTIN {gtin} already belongs to {holder.name}.",
            {"gtin": [f"Already the GTIN of {holder.name}."]},
        )
    return gtin


def _has_lots(product: Product) -> bool:
    return (
        db.session.scalar(select(Lot.id).where(Lot.product_id == product.id).limit(1)) is not None
    )


def _refresh_opened_lots(product: Product) -> None:
    opened = select(Lot).where(Lot.product_id == product.id, Lot.opened_at.is_not(None))
    for lot in db.session.scalars(opened):
        refresh_effective_expiry(lot, product.days_after_opening)


def set_site_reorder_point(
    product: Product, site_id: int, *, reorder_point: Decimal | None
) -> None:
    """The product's reorder point at one site; None gives the site the product's own again."""
    if reorder_point is not None and reorder_point < 0:
        raise Invalid({"reorder_point": ["Cannot be negative."]})
    own = db.session.get(SiteReorderPoint, (product.id, site_id))
    if reorder_point is None:
        if own is not None:
            db.session.delete(own)
    elif own is None:
        db.session.add(
            SiteReorderPoint(product_id=product.id, site_id=site_id, reorder_point=reorder_point)
        )
    else:
        own.reorder_point = reorder_point
    db.session.flush()


def reorder_points_by_site(product_id: int, site_ids: list[int] | None = None) -> Select:
    """Each site (of `site_ids`; None: every site) by name, with the product's reorder point
    there: the site's own, or the product's (`own` false)."""
    own = (
        select(SiteReorderPoint.reorder_point)
        .where(SiteReorderPoint.product_id == product_id, SiteReorderPoint.site_id == Site.id)
        .scalar_subquery()
    )
    products = select(Product.reorder_point).where(Product.id == product_id).scalar_subquery()
    stmt = select(
        Site.id.label("site_id"),
        Site.code.label("site_code"),
        Site.name.label("site_name"),
        func.coalesce(own, products).label("reorder_point"),
        own.is_not(None).label("own"),
    ).order_by(Site.name, Site.id)
    if site_ids is not None:
        stmt = stmt.where(Site.id.in_(site_ids))
    return stmt


def reorder_point_of_site(product_id: int, site_id: int):
    """The product's reorder point at one site, as `reorder_points_by_site` lists it."""
    return db.session.execute(reorder_points_by_site(product_id, [site_id])).one()


def site_reorder_points(product_id: int) -> dict[int, Decimal]:
    """The sites where the product has a reorder point of its own, and what it is."""
    stmt = select(SiteReorderPoint.site_id, SiteReorderPoint.reorder_point).where(
        SiteReorderPoint.product_id == product_id
    )
    return dict(db.session.execute(stmt).all())

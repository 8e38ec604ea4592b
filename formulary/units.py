"""Amounts of substances, through pint, and the strength of a product that holds one.

A formula states amounts in the few units a pharmacist writes (`mg`, `ug`, `g`, `mL`, `IU`).
International units measure biological activity, not mass: pint is told they are a dimension
of their own, so an IU amount never silently converts to milligrams.
"""

import functools
import re
from dataclasses import dataclass
from decimal import Decimal

import pint


@functools.cache
def registry() -> pint.UnitRegistry:
    """Built on first use: parsing pint's definitions takes a third of a second, which every
    process start (each CLI command, each worker) would otherwise pay whether it converts
    anything or not."""
    units = pint.UnitRegistry(non_int_type=Decimal)
    units.define("international_unit = [biological_activity] = IU")
    return units


# What a pharmacist may write (case-insensitive), and the unit it means as the API spells it.
UNIT_SPELLINGS = {
    "mg": "mg",
    "ug": "ug",
    "µg": "ug",  # micro sign
    "μg": "ug",  # Greek mu
    "mcg": "ug",
    "g": "g",
    "ml": "mL",
    "iu": "IU",
}
UNITS = ("mg", "ug", "g", "mL", "IU")


class UnitError(ValueError):
    """A unit outside UNITS, or two units that measure different things."""


@dataclass(frozen=True)
class Amount:
    value: Decimal
    unit: str

    def as_dict(self) -> dict:
        return {"value": self.value, "unit": self.unit}


def canonical_unit(spelling: str) -> str:
    """The API's spelling of a unit a pharmacist wrote, or UnitError."""
    unit = UNIT_SPELLINGS.get(str(spelling).strip().lower())
    if unit is None:
        raise UnitError(f"Unknown unit {spelling!r}; use one of {', '.join(UNITS)}.")
    return unit


def amount(value, unit: str) -> Amount:
    return Amount(Decimal(value), canonical_unit(unit))


def convert(quantity: Amount, unit: str) -> Amount:
    """The same amount in another unit; UnitError when they measure different things (IU and
    mg, mg and mL)."""
    target = canonical_unit(unit)
    try:
        converted = registry().Quantity(quantity.value, quantity.unit).to(target)
    except pint.DimensionalityError:
        raise UnitError(f"{quantity.unit} cannot be compared with {target}.") from None
    return Amount(Decimal(converted.magnitude), target)


def concentration_per_ml(amount_per_dose: Amount, dose_volume_ml: Decimal) -> Amount:
    """How much of the amount one mL of the dose holds, in the amount's own unit."""
    return Amount(Decimal(amount_per_dose.value) / Decimal(dose_volume_ml), amount_per_dose.unit)


@dataclass(frozen=True)
class Strength:
    """How much of its substance one unit of a product holds: 250 mg per mL, 5 mg per vial.
    `per_unit` is the product's own unit (a count unit such as `vial` included) or a unit
    pint converts to it."""

    value: Decimal
    amount_unit: str
    per_unit: str

    @property
    def unit(self) -> str:
        return f"{self.amount_unit}/{self.per_unit}"


_STRENGTH_TEXT = re.compile(r"\s*([0-9]+(?:[.,][0-9]+)?|[.,][0-9]+)\s*(\S.*?)\s*")


def parse_strength_text(text: str) -> dict:
    """`250 mg/mL` as a pharmacist writes it, as a product's strength is given
    (`{"value": Decimal("250"), "unit": "mg/mL"}`), or UnitError."""
    match = _STRENGTH_TEXT.fullmatch(str(text))
    if match is None:
        raise UnitError("Write an amount per unit of the product, such as 250 mg/mL.")
    return {"value": Decimal(match.group(1).replace(",", ".")), "unit": match.group(2)}


def strength(value, unit: str, *, product_unit: str) -> Strength:
    """The strength `value unit` (`unit` as `mg/mL`) of a product counted in `product_unit`,
    or UnitError: the amount is one of UNITS, and it is per the product's unit or per a unit
    pint converts to it."""
    amount_part, slash, per_part = str(unit).partition("/")
    if not slash or not per_part.strip() or "/" in per_part:
        raise UnitError(
            f"Write the unit as an amount per {product_unit}, such as mg/{product_unit}."
        )
    amount_unit = canonical_unit(amount_part)
    per_unit = _per_unit(per_part.strip(), product_unit)
    value = Decimal(value)
    if not value.is_finite() or value <= 0:
        raise UnitError("A strength is more than 0.")
    return Strength(value, amount_unit, per_unit)


def _per_unit(spelling: str, product_unit: str) -> str:
    if spelling.lower() == product_unit.strip().lower():
        return product_unit
    try:
        per_unit, counted_in = canonical_unit(spelling), canonical_unit(product_unit)
        convert(Amount(Decimal(1), counted_in), per_unit)
    except UnitError:
        raise UnitError(
            f"The product is counted in {product_unit}: give the amount per {product_unit}."
        ) from None
    return per_unit


def per_product_unit(strength: Strength, amount_unit: str, *, product_unit: str) -> Decimal:
    """How much, in `amount_unit`, one `product_unit` of a product of that strength holds;
    UnitError when the strength measures another kind of amount (IU against mg)."""
    held = convert(Amount(strength.value, strength.amount_unit), amount_unit).value
    if strength.per_unit == product_unit:
        return held
    one = convert(Amount(Decimal(1), canonical_unit(product_unit)), strength.per_unit)
    return held * one.value

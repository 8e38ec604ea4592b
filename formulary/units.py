"""Amounts of substances, through pint.

A formula states amounts in the few units a pharmacist writes (`mg`, `ug`, `g`, `mL`, `IU`).
International units measure biological activity, not mass: pint is told they are a dimension
of their own, so an IU amount never silently converts to milligrams.
"""

import functools
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

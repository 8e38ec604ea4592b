"""Fields the inventory schemas share: exact quantities, printed expiry dates and moments that
may be given without an offset (taken in the clinic's timezone)."""

from datetime import datetime
from decimal import Decimal

import marshmallow as ma

from core.clock import clinic_timezone
from core.database import NOTE_LENGTH, REASON_LENGTH
from inventory.expiry import ExpiryFormatError, parse_expiry
from inventory.lots import Expiry
from inventory.models import QUANTITY_MAX, QUANTITY_PLACES


class Integer(ma.fields.Integer):
    """A whole number: 2.5 is refused, not cut to 2 as marshmallow's Integer would."""

    def _validated(self, value):
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid")
        return super()._validated(value)


class Number(ma.fields.Decimal):
    """An exact decimal read from a JSON number or string, with at most `places` decimals
    (more is refused, not rounded: 0.0000001 mL is a typing slip, not a dose), written as a
    JSON number.

    The document says the places in words, not as `multipleOf`: JSON Schema divides floats,
    and 0.003163 / 0.000001 is not a whole number in binary."""

    def __init__(self, *, places: int | None = None, **kwargs):
        self.decimals = places
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> Decimal:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        amount = super()._deserialize(value, attr, data, **kwargs)
        if self.decimals is not None and amount.as_tuple().exponent < -self.decimals:
            raise ma.ValidationError(f"At most {self.decimals} decimal places.")
        return amount

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else float(value)


class QuantityField(Number):
    """An amount in the product's unit, up to six decimal places and at most QUANTITY_MAX in a
    request; a whole amount is written as a JSON integer."""

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {}).setdefault(
            "description", f"Amount in the product's unit (up to {QUANTITY_PLACES} decimals)."
        )
        super().__init__(places=QUANTITY_PLACES, **kwargs)
        if not self.dump_only:
            self.validators.insert(0, ma.validate.Range(min=-QUANTITY_MAX, max=QUANTITY_MAX))

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        amount = Decimal(value)
        return int(amount) if amount == amount.to_integral_value() else float(amount)


class JSONBoolean(ma.fields.Boolean):
    """`true` or `false` in a JSON body, and nothing else (marshmallow would also take 0, 1,
    "yes", "off"...). Query strings keep marshmallow's Boolean ("true", "1")."""

    def _deserialize(self, value, attr, data, **kwargs) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class ExpiryField(ma.fields.Field):
    """An expiry date: `YYYY-MM-DD`, or month-only `YYYY-MM` / `MM/YYYY` (the month's last
    day)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {}).update(
            {"type": "string", "example": "2027-07-31", "description": self.__doc__.strip()}
        )
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> Expiry:
        if not isinstance(value, str):
            raise ma.ValidationError("Not a date.")
        try:
            day, month_only = parse_expiry(value)
        except ExpiryFormatError as error:
            raise ma.ValidationError(str(error)) from None
        return Expiry(day, month_only)


class ClinicDateTime(ma.fields.DateTime):
    """An ISO 8601 moment; without an offset it is taken in the clinic's timezone."""

    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=clinic_timezone())
        return moment


# Free text a person writes: documented maxima, the same as the pages' (core.database).
REASON = ma.validate.Length(max=REASON_LENGTH)
REASON_REQUIRED = ma.validate.Length(min=1, max=REASON_LENGTH)
NOTE = ma.validate.Length(max=NOTE_LENGTH)

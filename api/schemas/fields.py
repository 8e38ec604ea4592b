"""Fields the inventory schemas share: exact quantities, printed expiry dates and moments that
may be given without an offset (taken in the clinic's timezone)."""

from datetime import datetime
from decimal import Decimal

import marshmallow as ma

from core.clock import clinic_timezone
from core.database import NOTE_LENGTH, REASON_LENGTH
from inventory.expiry import ExpiryFormatError, parse_expiry
from inventory.lots import Expiry
from inventory.models import QUANTITY_PLACES


class QuantityField(ma.fields.Decimal):
    """An exact amount in the product's unit, up to six decimal places, read from a JSON
    number or string and written as a JSON number."""

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {}).setdefault(
            "description", f"Amount in the product's unit (up to {QUANTITY_PLACES} decimals)."
        )
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        amount = super()._deserialize(value, attr, data, **kwargs)
        if amount.as_tuple().exponent < -QUANTITY_PLACES:
            raise ma.ValidationError(f"At most {QUANTITY_PLACES} decimal places.")
        return amount

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        amount = Decimal(value)
        return int(amount) if amount == amount.to_integral_value() else float(amount)


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

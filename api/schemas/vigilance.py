"""Schemas of vigilance (`api.vigilance`)."""

import marshmallow as ma

from api.pagination import id_field
from api.schemas.fields import Integer
from api.schemas.lean import LeanSchema
from clinic.vigilance import KINDS, MOST_DAYS, SEVERITIES


class VigilanceQuerySchema(ma.Schema):
    first = ma.fields.Date(
        data_key="from",
        metadata={"description": "From this day on (default: the first day of the month "
                  "eleven months before `to`)."},
    )  # fmt: skip
    last = ma.fields.Date(
        data_key="to",
        metadata={"description": f"Up to this day, inclusive (default: today); on or after "
                  f"`from`, at most {MOST_DAYS} days in all."},
    )  # fmt: skip
    site_id = id_field(
        metadata={"description": "One site's sessions (403 outside the user's); default: "
                  "every site the user works at."}
    )  # fmt: skip


def _counts(names):
    return lambda row: {name: int(getattr(row, name)) for name in names}


class VigilanceRowSchema(LeanSchema):
    serum_id = Integer()
    serum_name = ma.fields.String()
    serum_version = Integer()
    lot_id = Integer()
    lot_number = ma.fields.String()
    product_id = Integer()
    site_id = Integer()
    month = ma.fields.String(metadata={"description": "YYYY-MM: when the sessions took place."})
    sessions = Integer(
        metadata={"description": "Completed sessions with the lot in the month (within the "
                  "window)."}
    )  # fmt: skip
    side_effects = Integer(
        metadata={"description": "Their side effects, those entered in error not counted."}
    )
    by_severity = ma.fields.Function(
        _counts([s.value for s in SEVERITIES]),
        metadata={"description": "The side effects per severity (mild, moderate, severe)."},
    )
    by_kind = ma.fields.Function(
        _counts([k.value for k in KINDS]),
        metadata={"description": "The side effects per kind (allergic_reaction, rash, ...)."},
    )

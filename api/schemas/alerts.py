"""Schemas of alerts (`api.alerts`)."""

import marshmallow as ma

from api.pagination import AfterSchema, id_field
from api.schemas.fields import Integer, QuantityField
from api.schemas.lean import LeanSchema
from inventory.alerts import AlertKind, AlertStatus
from inventory.alerts.inbox import MOST_ACKNOWLEDGED_AT_ONCE


class AlertSchema(LeanSchema):
    id = Integer()
    kind = ma.fields.Enum(AlertKind, by_value=True)
    product_id = Integer()
    lot_id = Integer(allow_none=True)
    site_id = Integer(
        allow_none=True,
        metadata={"description": "Whose stock: the lot's site, or the site short of the product."},
    )
    threshold_days = Integer(
        allow_none=True, metadata={"description": "The expiry threshold reached (expiring)."}
    )
    status = ma.fields.Enum(AlertStatus, by_value=True)
    message = ma.fields.String()
    created_at = ma.fields.AwareDateTime()
    as_of = ma.fields.Date(metadata={"description": "The clinic day the condition was found."})
    acknowledged_by = ma.fields.String(attribute="acknowledged_by_username", allow_none=True)
    acknowledged_at = ma.fields.AwareDateTime(allow_none=True)
    lot_number = ma.fields.String(allow_none=True)
    effective_expiry = ma.fields.Date(allow_none=True)
    quantity = QuantityField(
        dump_only=True,
        allow_none=True,
        metadata={"description": "On hand in the lot, or the product's usable stock (low stock)."},
    )
    week_start = ma.fields.Date(allow_none=True)
    window_start = ma.fields.Date(
        allow_none=True,
        metadata={"description": "Adverse signals: the first day of the window whose sessions "
                  "reached the signal count (`threshold_days` long)."},
    )  # fmt: skip
    window_end = ma.fields.Date(
        allow_none=True, metadata={"description": "Adverse signals: the window's last day."}
    )
    scan_run_id = Integer(allow_none=True)


class AlertQuerySchema(AfterSchema):
    status = ma.fields.Enum(AlertStatus, by_value=True)
    kind = ma.fields.Enum(AlertKind, by_value=True)
    site_id = id_field(
        metadata={"description": "One site's alerts, with the clinic-wide ones no site carries "
                  "(a forecast's shortfall); a site the user does not work at is a 403. "
                  "Default: those of every site the user works at, and the clinic-wide ones."}
    )  # fmt: skip


class ScanSchema(ma.Schema):
    run_id = Integer()
    as_of = ma.fields.Date()
    counts = ma.fields.Dict(keys=ma.fields.String(), values=Integer())
    created = ma.fields.List(ma.fields.Nested(AlertSchema))


class AcknowledgeManySchema(ma.Schema):
    alert_ids = ma.fields.List(
        id_field(strict=True),
        required=True,
        validate=ma.validate.Length(min=1, max=MOST_ACKNOWLEDGED_AT_ONCE),
        metadata={"description": f"The alerts seen (1 to {MOST_ACKNOWLEDGED_AT_ONCE})."},
    )


class SignalSideEffectSchema(ma.Schema):
    kind = ma.fields.String()
    severity = ma.fields.String()


class SignalSessionSchema(ma.Schema):
    session_id = Integer()
    patient_id = Integer()
    patient_mrn = ma.fields.String(attribute="mrn")
    patient_name = ma.fields.String()
    performed_on = ma.fields.Date()
    side_effects = ma.fields.List(
        ma.fields.Nested(SignalSideEffectSchema),
        metadata={"description": "Its allergic reactions and severe side effects."},
    )


class AlertDetailSchema(AlertSchema):
    sessions = ma.fields.List(
        ma.fields.Nested(SignalSessionSchema),
        metadata={"description": "Adverse signals: the sessions with the lot within the window "
                  "that had an allergic reaction or a severe side effect (still standing), "
                  "oldest first; empty for other kinds."},
    )  # fmt: skip

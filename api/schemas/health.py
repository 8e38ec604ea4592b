"""Schemas of health (`api.health`)."""

import marshmallow as ma

from api.schemas.fields import Integer


class HealthSchema(ma.Schema):
    status = ma.fields.String(metadata={"description": "`ok` or `degraded`"})
    database = ma.fields.String(metadata={"description": "`ok` or `error`"})
    last_scan_at = ma.fields.AwareDateTime(
        allow_none=True, metadata={"description": "When the last successful scan finished."}
    )
    scan_overdue = ma.fields.Boolean(
        metadata={"description": "No successful scan for more than 26 hours (or ever)."}
    )
    last_run_outcome = ma.fields.String(
        allow_none=True, metadata={"description": "`running`, `succeeded` or `failed`."}
    )
    mail_queued = Integer(
        allow_none=True, metadata={"description": "Messages waiting in the outbox."}
    )

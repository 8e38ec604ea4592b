"""Schemas of audit (`api.audit`)."""

import marshmallow as ma

from api.pagination import AfterSchema, id_field
from api.schemas.fields import Integer
from api.schemas.lean import LeanSchema


class AuditEntrySchema(LeanSchema):
    id = Integer()
    at = ma.fields.AwareDateTime()
    user_id = Integer(allow_none=True)
    username = ma.fields.String()
    action = ma.fields.String()
    entity = ma.fields.String()
    entity_id = ma.fields.String(allow_none=True)
    changes = ma.fields.Dict()


class AuditQuerySchema(AfterSchema):
    user = ma.fields.String(metadata={"description": "Username of the acting user."})
    user_id = id_field()
    entity = ma.fields.String(metadata={"description": "Table name, e.g. `users`, `lots`."})
    entity_id = ma.fields.String()
    date_from = ma.fields.Date(
        data_key="from", metadata={"description": "First day (clinic time)."}
    )
    date_to = ma.fields.Date(data_key="to", metadata={"description": "Last day (clinic time)."})

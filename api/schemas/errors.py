"""The one error body every refusal of the API answers (`app.errors.error_payload`): the four
fields of every error, and the details some refusals add, each documented here so that the
OpenAPI document holds exactly what is sent."""

import marshmallow as ma

from api.schemas.fields import Integer
from api.schemas.patients import ReasonSchema


class ErrorSchema(ma.Schema):
    code = Integer(metadata={"description": "The HTTP status code."})
    status = ma.fields.String(metadata={"description": "The HTTP status's name."})
    message = ma.fields.String(metadata={"description": "What was refused and why, in words."})
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={"description": "Each field at fault (its dotted path) and its messages."},
    )
    allergy_id = Integer(
        metadata={"description": "Recording an allergy already on record: the record to correct."}
    )
    lot_id = Integer(metadata={"description": "The lot that holds too little."})
    usable = ma.fields.Float(
        metadata={"description": "A dispense larger than the stock: the amount usable."}
    )
    short_components = ma.fields.List(
        ma.fields.String(), metadata={"description": "Compounding: the substances short."}
    )
    product = ma.fields.String(
        metadata={"description": "Compounding: the product whose strength is missing."}
    )
    verdict = ma.fields.String(
        metadata={"description": "A serum refused by the safety screen: its verdict."}
    )
    reasons = ma.fields.List(
        ma.fields.Nested(ReasonSchema), metadata={"description": "The screen's reasons."}
    )
    suggestions = ma.fields.List(
        ma.fields.String(),
        metadata={"description": "A substance name not in the catalogue: the closest names."},
    )

"""What apispec's marshmallow converter leaves out of the OpenAPI document, added so that the
document says exactly what the server accepts (Schemathesis holds it to that)."""

import marshmallow as ma
from flask_smorest.pagination import PaginationMetadataSchema

# OpenAPI 3.0 has no null type: a schema that admits only null.
ONLY_NULL = {"type": "object", "nullable": True, "enum": [None]}


def exclusive_bounds(self, field: ma.fields.Field, **kwargs) -> dict:
    """A Range that leaves out its end (`min_inclusive=False`: "more than 0") says so."""
    bounds = {}
    for validator in field.validators:
        if not isinstance(validator, ma.validate.Range):
            continue
        if validator.min is not None and not validator.min_inclusive:
            bounds["exclusiveMinimum"] = True
        if validator.max is not None and not validator.max_inclusive:
            bounds["exclusiveMaximum"] = True
    return bounds


def only_null_or_nested(self, field: ma.fields.Field, ret: dict, **kwargs) -> dict:
    """apispec writes a nullable nested object as "the object, or any object that may be
    null" under OpenAPI 3.0, which admits `{}`; it is the object or null."""
    choices = ret.get("anyOf")
    if not choices:
        return {}
    return {
        "anyOf": [
            ONLY_NULL if choice == {"type": "object", "nullable": True} else choice
            for choice in choices
        ]
    }


class ListPositionSchema(PaginationMetadataSchema):
    """Where a page sits in its list (the X-Pagination header)."""

    total_exceeds = ma.fields.Integer(
        metadata={
            "description": "The list holds more items than this, the most a page counts: "
            "total, total_pages and last_page are left out."
        },
    )
    next_after = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "Give it as `?after=` for the next page, found whatever the depth "
            "without counting; null on the last page."
        },
    )


def complete_the_document(api) -> None:
    converter = api.ma_plugin.converter
    converter.add_attribute_function(exclusive_bounds)
    converter.add_attribute_function(only_null_or_nested)
    api.spec.components.schema("ListPosition", schema=ListPositionSchema)

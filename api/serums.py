"""Serum formulas over HTTP (SPEC 3.2): versions, drafts, four-eyes approval, retirement."""

import marshmallow as ma
from flask_smorest import Blueprint

from api.auth import ALL_ROLES, current_api_user, roles_required
from api.pagination import PAGINATION, paginate
from api.substances import WRITERS, AmountSchema, FlatErrorsSchema, Number
from formulary import serums
from formulary.models import SerumSource, SerumStatus

blp = Blueprint(
    "serums",
    __name__,
    url_prefix="/api",
    description="Serum formulas: versions, drafts, approval by a second person.",
)

DOSE_VOLUME = ma.validate.Range(min=0, min_inclusive=False, max=1000)


class ComponentSchema(ma.Schema):
    substance_id = ma.fields.Integer()
    substance = ma.fields.Function(lambda component: component.substance.name)
    amount_per_dose = ma.fields.Nested(AmountSchema)
    concentration_per_ml = ma.fields.Nested(
        AmountSchema, metadata={"description": "amount_per_dose / dose_volume_ml, per mL."}
    )


class SerumSchema(ma.Schema):
    id = ma.fields.Integer()
    code = ma.fields.String()
    name = ma.fields.String()
    version = ma.fields.Integer()
    status = ma.fields.Enum(SerumStatus, by_value=True)
    source = ma.fields.Enum(SerumSource, by_value=True)
    manufacturer = ma.fields.String(allow_none=True)
    dose_volume_ml = Number()
    author = ma.fields.Function(lambda serum: serum.author.username if serum.author else None)
    approved_by = ma.fields.Function(
        lambda serum: serum.approved_by.username if serum.approved_by else None
    )
    approved_at = ma.fields.AwareDateTime(allow_none=True)
    created_at = ma.fields.AwareDateTime()
    components = ma.fields.List(ma.fields.Nested(ComponentSchema))


class ComponentCreateSchema(ma.Schema):
    substance_id = ma.fields.Integer(required=True, strict=True)
    amount_per_dose = ma.fields.Nested(AmountSchema, required=True)


class SerumUpdateSchema(FlatErrorsSchema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=160))
    source = ma.fields.Enum(SerumSource, by_value=True)
    manufacturer = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=160))
    dose_volume_ml = Number(places=3, validate=DOSE_VOLUME)
    components = ma.fields.List(ma.fields.Nested(ComponentCreateSchema))


class SerumCreateSchema(SerumUpdateSchema):
    code = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=40))
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=160))
    source = ma.fields.Enum(SerumSource, by_value=True, required=True)
    manufacturer = ma.fields.String(
        allow_none=True, load_default=None, validate=ma.validate.Length(max=160)
    )
    dose_volume_ml = Number(places=3, required=True, validate=DOSE_VOLUME)
    components = ma.fields.List(ma.fields.Nested(ComponentCreateSchema), load_default=list)


class SerumQuerySchema(ma.Schema):
    code = ma.fields.String(metadata={"description": "Every version of this serum."})
    status = ma.fields.Enum(SerumStatus, by_value=True)


@blp.route("/serums", methods=["GET"])
@roles_required(*ALL_ROLES)
@blp.arguments(SerumQuerySchema, location="query")
@blp.response(200, SerumSchema(many=True))
@blp.paginate(**PAGINATION)
def list_serums(query, pagination_parameters):
    """Serum versions by code and version; `code` lists one serum's whole history."""
    stmt = serums.serum_query(code=query.get("code"), status=query.get("status"))
    return paginate(stmt, pagination_parameters)


@blp.route("/serums", methods=["POST"])
@roles_required(*WRITERS)
@blp.arguments(SerumCreateSchema)
@blp.response(201, SerumSchema)
def add_serum(fields):
    """A new serum: version 1, a draft written by the caller."""
    return serums.create_serum(author=current_api_user(), **fields)


@blp.route("/serums/<id:serum_id>", methods=["GET"])
@roles_required(*ALL_ROLES)
@blp.response(200, SerumSchema)
def get_serum(serum_id):
    return serums.get_serum(serum_id)


@blp.route("/serums/<id:serum_id>", methods=["PATCH"])
@roles_required(*WRITERS)
@blp.arguments(SerumUpdateSchema)
@blp.response(200, SerumSchema)
def update_serum(changes, serum_id):
    """Edit a draft (409 for an approved or retired version); `components` replaces them."""
    return serums.update_draft(serums.get_serum(serum_id), changes)


@blp.route("/serums/<id:serum_id>/approve", methods=["POST"])
@roles_required(*WRITERS)
@blp.response(200, SerumSchema)
def approve_serum(serum_id):
    """Approve a draft: not by its author (409); refused (422) with no components or a
    component above its maximum concentration. Retires the previously approved version."""
    return serums.approve(serums.get_serum(serum_id), current_api_user())


@blp.route("/serums/<id:serum_id>/retire", methods=["POST"])
@roles_required(*WRITERS)
@blp.response(200, SerumSchema)
def retire_serum(serum_id):
    return serums.retire(serums.get_serum(serum_id))


@blp.route("/serums/<id:serum_id>/versions", methods=["POST"])
@roles_required(*WRITERS)
@blp.response(201, SerumSchema)
def new_serum_version(serum_id):
    """The next version of this serum, a draft copy written by the caller."""
    return serums.new_version(serums.get_serum(serum_id), current_api_user())

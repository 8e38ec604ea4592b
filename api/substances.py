"""The substance catalogue over HTTP (SPEC 3.1): substances and classes, synonyms, "is a" and
"contains" relations, maximum concentration."""

from api.auth import roles_required
from api.blueprint import Blueprint
from api.pagination import PAGINATION, paginate
from api.schemas.substances import (
    SubstanceCreateSchema,
    SubstanceQuerySchema,
    SubstanceSchema,
    SubstanceUpdateSchema,
)
from core.accounts import ALL_ROLES, PHARMACY_ROLES
from formulary import substances

blp = Blueprint(
    "substances",
    __name__,
    url_prefix="/api",
    description="Substances and classes, their synonyms and relations.",
)


@blp.route("/substances", methods=["GET"])
@roles_required(*ALL_ROLES)
@blp.arguments(SubstanceQuerySchema, location="query")
@blp.response(200, SubstanceSchema(many=True))
@blp.paginate(**PAGINATION)
def list_substances(query, pagination_parameters):
    """Substances and classes by name; `q` matches names and synonyms."""
    stmt = substances.substance_query(q=query.get("q"), category=query.get("category"))
    return paginate(stmt, pagination_parameters)


@blp.route("/substances", methods=["POST"])
@roles_required(*PHARMACY_ROLES)
@blp.arguments(SubstanceCreateSchema)
@blp.response(201, SubstanceSchema)
def add_substance(fields):
    """A new substance or class; a relation that would make a cycle is refused (422)."""
    return substances.create_substance(**fields)


@blp.route("/substances/<id:substance_id>", methods=["GET"])
@roles_required(*ALL_ROLES)
@blp.response(200, SubstanceSchema)
def get_substance(substance_id):
    return substances.get_substance(substance_id)


@blp.route("/substances/<id:substance_id>", methods=["PATCH"])
@roles_required(*PHARMACY_ROLES)
@blp.arguments(SubstanceUpdateSchema)
@blp.response(200, SubstanceSchema)
def update_substance(changes, substance_id):
    """Change a substance; `synonyms`, `parents` and `contains`, when given, replace the lists."""
    return substances.update_substance(substances.get_substance(substance_id), changes)

"""The condition rule table (read: doctors and administrators; write: administrators)."""

from sqlalchemy import select

from api.auth import roles_required
from api.blueprint import Blueprint
from api.pagination import PAGINATION, paginate
from api.schemas.condition_rules import ConditionRuleSchema
from clinic.conditions import create_condition_rule
from clinic.models import ConditionRule
from core.accounts import CLINICAL_ROLES, Role

blp = Blueprint(
    "condition_rules", __name__, url_prefix="/api", description="Conditions the screen applies."
)


@blp.route("/condition-rules", methods=["GET"])
@roles_required(*CLINICAL_ROLES)
@blp.response(200, ConditionRuleSchema(many=True))
@blp.paginate(**PAGINATION)
def list_condition_rules(pagination_parameters):
    return paginate(select(ConditionRule).order_by(ConditionRule.code), pagination_parameters)


@blp.route("/condition-rules", methods=["POST"])
@roles_required(Role.ADMIN)
@blp.arguments(ConditionRuleSchema)
@blp.response(201, ConditionRuleSchema)
def add_condition_rule(fields):
    return create_condition_rule(fields)

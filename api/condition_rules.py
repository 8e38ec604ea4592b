"""The condition rule table (read: doctors and administrators; write: administrators)."""

import marshmallow as ma
from flask_smorest import Blueprint
from sqlalchemy import select

from api.auth import roles_required
from api.pagination import PAGINATION, paginate
from clinic.conditions import create_condition_rule
from clinic.models import ConditionRule
from core.accounts import Role
from formulary.screen import Verdict

blp = Blueprint(
    "condition_rules", __name__, url_prefix="/api", description="Conditions the screen applies."
)


class ConditionRuleSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    code = ma.fields.String(
        required=True,
        validate=ma.validate.Regexp(r"^[a-z][a-z0-9_]{0,59}$", error="Use a lower-case code."),
    )
    label = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=160))
    verdict = ma.fields.Enum(Verdict, by_value=True, required=True)
    message = ma.fields.String(required=True, validate=ma.validate.Length(min=1))


@blp.route("/condition-rules", methods=["GET"])
@roles_required(Role.DOCTOR, Role.ADMIN)
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

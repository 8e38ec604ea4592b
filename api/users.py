"""Tokens and user management."""

from datetime import timedelta

from flask import current_app, request
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from api.auth import bearer_token, current_api_user, roles_required
from api.blueprint import Blueprint
from api.pagination import PAGINATION, paginate
from api.schemas.users import (
    TokenRequestSchema,
    TokenSchema,
    UserCreateSchema,
    UserSchema,
    UserUpdateSchema,
)
from core import accounts
from core.accounts import (
    ALL_ROLES,
    Role,
    User,
    create_user,
    get_user,
    issue_token,
    revoke_sign_ins,
    revoke_token,
)
from core.audit import set_actor
from core.signin import sign_in

blp = Blueprint("users", __name__, url_prefix="/api", description="Sign-in tokens and users.")


@blp.route("/auth/token", methods=["POST"])
@blp.arguments(TokenRequestSchema)
@blp.response(201, TokenSchema)
@blp.doc(security=[])
def token(credentials):
    """A bearer token for a username and password."""
    user = sign_in(
        credentials["username"], credentials["password"], address=request.remote_addr or ""
    )
    set_actor(user.id, user.username)
    lifetime = timedelta(hours=current_app.config["TOKEN_LIFETIME_HOURS"])
    token_text, record = issue_token(user, lifetime)
    return {"token": token_text, "role": user.role.value, "expires_at": record.expires_at}


@blp.route("/auth/token", methods=["DELETE"])
@roles_required(*ALL_ROLES)
@blp.response(204)
def revoke_own_token():
    """Sign out: the token of this request stops working."""
    revoke_token(bearer_token())


@blp.route("/users/<id:user_id>/tokens", methods=["DELETE"])
@roles_required(Role.ADMIN)
@blp.response(204)
def revoke_user_sign_ins(user_id):
    """End every token and signed-in browser of the user (a lost phone, a departure)."""
    revoke_sign_ins(get_user(user_id))


@blp.route("/users", methods=["GET"])
@roles_required(Role.ADMIN)
@blp.response(200, UserSchema(many=True))
@blp.paginate(**PAGINATION)
def list_users(pagination_parameters):
    users = select(User).options(selectinload(User.sites)).order_by(User.username)
    return paginate(users, pagination_parameters)


@blp.route("/users", methods=["POST"])
@roles_required(Role.ADMIN)
@blp.arguments(UserCreateSchema)
@blp.response(201, UserSchema)
def add_user(fields):
    site_ids = fields.pop("sites")
    return create_user(**fields, site_ids=site_ids)


@blp.route("/users/<id:user_id>", methods=["GET"])
@roles_required(Role.ADMIN)
@blp.response(200, UserSchema)
def show_user(user_id):
    return get_user(user_id)


@blp.route("/users/<id:user_id>", methods=["PATCH"])
@roles_required(Role.ADMIN)
@blp.arguments(UserUpdateSchema)
@blp.response(200, UserSchema)
def update_user(changes, user_id):
    return accounts.update_user(get_user(user_id), changes, by=current_api_user())

"""Tokens and user management."""

from datetime import timedelta

import marshmallow as ma
from flask import current_app, request
from flask_smorest import Blueprint
from sqlalchemy import select

from api.auth import roles_required
from api.pagination import PAGINATION, paginate
from core.accounts import (
    PASSWORD_MIN_LENGTH,
    Role,
    User,
    create_user,
    get_user,
    issue_token,
)
from core.audit import set_actor
from core.database import db
from core.signin import sign_in

blp = Blueprint("users", __name__, url_prefix="/api", description="Sign-in tokens and users.")

ROLE_CHOICES = [role.value for role in Role]


class TokenRequestSchema(ma.Schema):
    username = ma.fields.String(required=True)
    password = ma.fields.String(required=True, load_only=True)


class TokenSchema(ma.Schema):
    token = ma.fields.String()
    role = ma.fields.String()
    expires_at = ma.fields.AwareDateTime()


class UserSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    username = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=80))
    role = ma.fields.Enum(Role, by_value=True, required=True)
    email = ma.fields.Email(allow_none=True, load_default=None)
    active = ma.fields.Boolean(load_default=True)
    alert_emails = ma.fields.Boolean(load_default=False)


class UserCreateSchema(UserSchema):
    password = ma.fields.String(
        required=True, load_only=True, validate=ma.validate.Length(min=PASSWORD_MIN_LENGTH)
    )


class UserUpdateSchema(ma.Schema):
    role = ma.fields.Enum(Role, by_value=True)
    email = ma.fields.Email(allow_none=True)
    active = ma.fields.Boolean()
    alert_emails = ma.fields.Boolean()
    password = ma.fields.String(
        load_only=True, validate=ma.validate.Length(min=PASSWORD_MIN_LENGTH)
    )


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


@blp.route("/users", methods=["GET"])
@roles_required(Role.ADMIN)
@blp.response(200, UserSchema(many=True))
@blp.paginate(**PAGINATION)
def list_users(pagination_parameters):
    return paginate(select(User).order_by(User.username), pagination_parameters)


@blp.route("/users", methods=["POST"])
@roles_required(Role.ADMIN)
@blp.arguments(UserCreateSchema)
@blp.response(201, UserSchema)
def add_user(fields):
    return create_user(**fields)


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
    user = get_user(user_id)
    password = changes.pop("password", None)
    if password is not None:
        user.set_password(password)
    for field, value in changes.items():
        setattr(user, field, value)
    db.session.flush()
    return user

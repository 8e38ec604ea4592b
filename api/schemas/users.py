"""Schemas of users (`api.users`)."""

import marshmallow as ma

from api.schemas.fields import Integer, JSONBoolean
from api.schemas.lean import LeanSchema
from core.accounts import (
    PASSWORD_MIN_LENGTH,
    Role,
)

ROLE_CHOICES = [role.value for role in Role]


class TokenRequestSchema(ma.Schema):
    username = ma.fields.String(required=True)
    password = ma.fields.String(required=True, load_only=True)


class TokenSchema(ma.Schema):
    token = ma.fields.String()
    role = ma.fields.String()
    expires_at = ma.fields.AwareDateTime()


class UserSchema(LeanSchema):
    id = Integer(dump_only=True)
    username = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=80))
    role = ma.fields.Enum(Role, by_value=True, required=True)
    email = ma.fields.Email(allow_none=True, load_default=None)
    active = JSONBoolean(load_default=True)
    alert_emails = JSONBoolean(load_default=False)


class UserCreateSchema(UserSchema):
    password = ma.fields.String(
        required=True, load_only=True, validate=ma.validate.Length(min=PASSWORD_MIN_LENGTH)
    )


class UserUpdateSchema(ma.Schema):
    role = ma.fields.Enum(Role, by_value=True)
    email = ma.fields.Email(allow_none=True)
    active = JSONBoolean()
    alert_emails = JSONBoolean()
    password = ma.fields.String(
        load_only=True, validate=ma.validate.Length(min=PASSWORD_MIN_LENGTH)
    )

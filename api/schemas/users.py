"""Schemas of users (`api.users`)."""

import marshmallow as ma

from api.pagination import id_list
from api.schemas.fields import Integer, JSONBoolean
from api.schemas.lean import LeanSchema
from core.accounts import (
    PASSWORD_MIN_LENGTH,
    Role,
)

ROLE_CHOICES = [role.value for role in Role]
SITES = {
    "description": "Ids of the sites they work at. A pharmacist or a doctor works at one at "
    "least: given none, at the clinic's only site (a 422 naming `sites` when it has several). "
    "Empty for an administrator of every site."
}


class SiteIds(ma.fields.List):
    """Site ids, each named once; a user's sites are written as their ids."""

    def __init__(self, **kwargs):
        ids = id_list()
        super().__init__(
            ids.inner, validate=ids.validators, metadata={**ids.metadata, **SITES}, **kwargs
        )

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else [site.id for site in value]


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
    sites = SiteIds(load_default=list)


class UserCreateSchema(UserSchema):
    password = ma.fields.String(
        required=True, load_only=True, validate=ma.validate.Length(min=PASSWORD_MIN_LENGTH)
    )


class UserUpdateSchema(ma.Schema):
    role = ma.fields.Enum(Role, by_value=True)
    email = ma.fields.Email(allow_none=True)
    active = JSONBoolean()
    alert_emails = JSONBoolean()
    sites = SiteIds()
    password = ma.fields.String(
        load_only=True, validate=ma.validate.Length(min=PASSWORD_MIN_LENGTH)
    )

"""Schemas of sites (`api.sites`)."""

import marshmallow as ma

from api.schemas.fields import Integer
from core.sites import (
    SITE_ADDRESS_LENGTH,
    SITE_CODE,
    SITE_CODE_HINT,
    SITE_NAME_LENGTH,
    SITE_PHONE_LENGTH,
    TIMEZONE_HINT,
    TIMEZONE_NAMES,
)

# The formats are checked by core.sites; the document states the same rules.
CODE_DOC = {
    "description": f"Unique. {SITE_CODE_HINT}",
    "pattern": f"^{SITE_CODE.pattern}$",
}
TIMEZONE_DOC = {"description": f"The site's local clock. {TIMEZONE_HINT}"}
# Regexp matches from the start only: \Z holds it to the whole code, as the pattern says.
CODE = ma.validate.Regexp(rf"{SITE_CODE.pattern}\Z", error=f"Not a site code. {SITE_CODE_HINT}")
NAME = ma.validate.Length(min=1, max=SITE_NAME_LENGTH)
ADDRESS = ma.validate.Length(max=SITE_ADDRESS_LENGTH)
PHONE = ma.validate.Length(max=SITE_PHONE_LENGTH)
# A list of choices, so that the document names each zone; the error does not list them all.
TIMEZONE = ma.validate.OneOf(TIMEZONE_NAMES, error=f"Not a time zone. {TIMEZONE_HINT}")


class SiteSchema(ma.Schema):
    id = Integer(dump_only=True)
    code = ma.fields.String(required=True, validate=CODE, metadata=CODE_DOC)
    name = ma.fields.String(required=True, validate=NAME)
    address = ma.fields.String(allow_none=True, load_default=None, validate=ADDRESS)
    phone = ma.fields.String(allow_none=True, load_default=None, validate=PHONE)
    timezone = ma.fields.String(required=True, validate=TIMEZONE, metadata=TIMEZONE_DOC)


class SiteUpdateSchema(ma.Schema):
    code = ma.fields.String(validate=CODE, metadata=CODE_DOC)
    name = ma.fields.String(validate=NAME)
    address = ma.fields.String(allow_none=True, validate=ADDRESS)
    phone = ma.fields.String(allow_none=True, validate=PHONE)
    timezone = ma.fields.String(validate=TIMEZONE, metadata=TIMEZONE_DOC)

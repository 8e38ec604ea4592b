"""Every error, from any layer, answers the JSON of SPEC 4:
`{"code", "status", "message", "errors"}`. Pages outside /api get a small HTML page instead."""

import logging

from flask import Flask, render_template, request
from sqlalchemy.exc import (
    DataError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.http import HTTP_STATUS_CODES

from api.schemas.substances import flatten_errors
from core.database import db
from core.errors import DomainError

log = logging.getLogger(__name__)


def error_payload(code: int, message: str, errors: dict | None = None, **details) -> dict:
    payload = {"code": code, "status": HTTP_STATUS_CODES.get(code, "Error"), "message": message}
    payload["errors"] = errors or {}
    payload.update(details)
    return payload


def _flatten_locations(messages: dict) -> dict:
    """webargs nests field errors under their location (`json`, `query`) and marshmallow the
    errors of a list's items under their index; the API names each field by its dotted path
    (`members.0`), with a list of messages."""
    flat: dict = {}
    for location, fields in messages.items():
        if not isinstance(fields, dict):
            flat[location] = fields
            continue
        for field, field_messages in fields.items():
            flat.update(flatten_errors(field_messages, str(field)))
    return flat


def _wants_json() -> bool:
    return request.path.startswith("/api") or request.accept_mimetypes.best == "application/json"


def _respond(payload: dict, headers: dict | None = None):
    if _wants_json():
        return payload, payload["code"], headers or {}
    return render_template("error.html", error=payload), payload["code"], headers or {}


def handle_http_exception(error: HTTPException):
    data = getattr(error, "data", None) or {}
    errors = data.get("errors") or data.get("messages") or {}
    if error.code == 422 and errors:
        errors = _flatten_locations(errors)
        message = data.get("message") or "Invalid value for " + ", ".join(sorted(errors)) + "."
    else:
        message = data.get("message") or error.description or HTTP_STATUS_CODES.get(error.code, "")
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    headers.update(data.get("headers") or {})
    if error.code == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    return _respond(error_payload(error.code, message, errors), headers)


def handle_domain_error(error: DomainError):
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
    payload = error_payload(error.status, error.message, error.errors, **error.details)
    return _respond(payload, headers)


def handle_integrity_error(error: IntegrityError):
    # The schema's constraints are the last guard; a rule check should have said it first.
    log.warning("integrity error reached the boundary: %s", error.orig)
    db.session.rollback()
    return _respond(
        error_payload(
            409,
            "The change conflicts with data already stored (a duplicate or a reference in use).",
        )
    )


def handle_unstorable_value(error: Exception):
    """The last guard for a value its column cannot hold (a number out of range, a character
    the database refuses), should a schema let one through: the client's mistake (422)."""
    log.warning("a value the database cannot store reached it: %s", error)
    db.session.rollback()
    return _respond(
        error_payload(
            422,
            "A value in the request cannot be stored (a number out of range, a date too far"
            " away, or a character the database refuses).",
        )
    )


def handle_database_unavailable(error: Exception):
    """The database cannot be reached (or, on SQLite, stayed locked past the busy timeout):
    the service is unavailable for a moment, not broken."""
    log.error("database unavailable: %s", error)
    try:
        db.session.rollback()
    except SQLAlchemyError:
        log.warning("rollback after a lost database connection failed too")
    payload = error_payload(503, "The database cannot be reached just now: try again shortly.")
    return _respond(payload, {"Retry-After": "5"})


def handle_unexpected_error(error: Exception):
    if isinstance(error, HTTPException):
        return handle_http_exception(error)
    log.exception("unhandled error", exc_info=error)
    return handle_http_exception(InternalServerError())


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(OverflowError, handle_unstorable_value)
    app.register_error_handler(DataError, handle_unstorable_value)
    app.register_error_handler(OperationalError, handle_database_unavailable)
    app.register_error_handler(InterfaceError, handle_database_unavailable)
    app.register_error_handler(Exception, handle_unexpected_error)

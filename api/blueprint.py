"""The JSON API's Blueprint: flask-smorest's, with a body parser that refuses what the
database could not store or Python could not walk, before any schema sees it, and parsers
that build each argument schema once, not on every request.

- nesting deeper than MAX_NESTING (a 4 KB body of brackets otherwise ends in a RecursionError,
  a 500): 400;
- a NUL character or a lone UTF-16 surrogate in any text (PostgreSQL refuses the first, no
  encoder takes the second): 422 naming the field.
"""

import json
import re

import flask_smorest
import marshmallow as ma
from flask_smorest.utils import load_info_from_docstring
from webargs import core
from webargs.flaskparser import FlaskParser, abort, is_json_request

from api.pagination import COUNT_LIMIT

MAX_NESTING = 32
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
UNSTORABLE_TEXT = "Holds a character that cannot be stored (a NUL or a lone surrogate)."


class ReusingParser(FlaskParser):
    """webargs' parser, building one instance of each schema class it is given, not one per
    request (building a query schema cost as much as loading it): marshmallow keeps nothing
    of a load in the schema, so one instance serves every request and thread."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._schemas: dict[type, ma.Schema] = {}

    def _get_schema(self, argmap, req) -> ma.Schema:
        if isinstance(argmap, type) and issubclass(argmap, ma.Schema):
            schema = self._schemas.get(argmap)
            if schema is None:
                schema = self._schemas.setdefault(argmap, argmap())
            return schema
        return super()._get_schema(argmap, req)


class StrictJSONParser(ReusingParser):
    def _raw_load_json(self, req):
        if not is_json_request(req):
            return core.missing
        try:
            body = core.parse_json(req.get_data(cache=True))
        except RecursionError:
            abort(400, messages={"json": [f"Nested more than {MAX_NESTING} levels deep."]})
        errors = {}
        _check(body, path="", depth=0, errors=errors)
        if "" in errors:
            abort(400, messages={"json": errors[""]})
        if errors:
            raise ma.ValidationError(errors)
        return body


def _check(value, *, path: str, depth: int, errors: dict) -> None:
    """Collect, by field, the texts that cannot be stored; "" holds a nesting too deep."""
    if depth > MAX_NESTING:
        errors[""] = [f"Nested more than {MAX_NESTING} levels deep."]
        return
    if isinstance(value, str):
        if _UNSTORABLE.search(value):
            errors[path or "json"] = [UNSTORABLE_TEXT]
        return
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return
    for key, item in items:
        if isinstance(key, str) and _UNSTORABLE.search(key):
            errors[path or "json"] = [UNSTORABLE_TEXT]
            continue
        _check(item, path=_join(path, key), depth=depth + 1, errors=errors)
        if "" in errors:
            return


def _join(path: str, key) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _error(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


# The refusals every operation behind a token can answer, with the one error schema.
REFUSALS = {
    401: _error("No valid bearer token (POST /api/auth/token gives one)."),
    403: _error("The caller's role may not do this; the body is not read."),
    404: _error("A record named in the path does not exist."),
    409: _error("A rule refuses it in the records' present state; nothing changed."),
    422: _error("A field is wrong or missing, named in `errors`; nothing changed."),
}


# flask-smorest documents X-Pagination as an object; what it sends is that object as JSON
# text, which is what an OpenAPI header with `content` says.
PAGINATION_HEADER = {
    "description": "The page's place in the list, as JSON text. By page number: total, "
    "total_pages, first_page, last_page, page, previous_page, next_page and next_after; a list "
    f"of more than {COUNT_LIMIT:,} items that the database would count whole on every page "
    f"says total_exceeds ({COUNT_LIMIT}) instead of total, total_pages and last_page. After a "
    "cursor (`?after=`): next_after only, no count.",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ListPosition"}}},
}


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = StrictJSONParser()
    PAGINATION_ARGUMENTS_PARSER = ReusingParser()

    def arguments(self, schema, *, location="json", required=None, **kwargs):
        """flask-smorest's arguments, with a JSON body documented as required exactly when
        its schema has a required field: a PATCH or an action whose fields are all optional
        may come with no body at all, and is answered as an empty one."""
        if required is None:
            instance = schema() if isinstance(schema, type) else schema
            required = location != "json" or any(
                field.required for field in instance.fields.values()
            )
        return super().arguments(schema, location=location, required=required, **kwargs)

    def _set_pagination_metadata(self, page_params, result, headers):
        """flask-smorest's header, with the cursor of the page's last row (`next_after`);
        without the counts on a page asked for after a cursor (api.pagination.paginate_after),
        and without the total on a list longer than the count goes (`total_exceeds`)."""
        headers = headers or {}
        if getattr(page_params, "after", None) is not None:
            position = {}
        elif getattr(page_params, "total_exceeds", None) is not None:
            position = _uncounted_position(page_params)
        else:
            position = _counted_position(
                page_params.page, page_params.page_size, page_params.item_count
            )
        if hasattr(page_params, "next_after"):
            position["next_after"] = page_params.next_after
        headers[self.PAGINATION_HEADER_NAME] = json.dumps(position)
        return result, headers

    def _document_pagination_metadata(self, spec, resp_doc):
        resp_doc.setdefault("headers", {})[self.PAGINATION_HEADER_NAME] = PAGINATION_HEADER

    def route(self, rule, *, parameters=None, **options):
        """flask-smorest's route, documenting for a view behind `roles_required` who may
        call it (description and security requirement) and the refusals it can answer."""
        register = super().route(rule, parameters=parameters, **options)

        def decorator(view):
            roles = getattr(view, "allowed_roles", None)
            if roles is not None:
                names = ", ".join(sorted(role.value for role in roles))
                said = load_info_from_docstring(view.__doc__ or "").get("description")
                view = self.doc(
                    description=f"{said}\n\nFor {names}." if said else f"For {names}.",
                    security=[{"bearer": []}],
                    responses=REFUSALS,
                )(view)
            return register(view)

        return decorator


def _counted_position(page: int, page_size: int, item_count: int) -> dict:
    """flask-smorest's pagination metadata, the same keys in the same order, written without
    building its marshmallow schema on every request."""
    if item_count == 0:
        return {"total": 0, "total_pages": 0}
    last_page = (item_count - 1) // page_size + 1
    position = {"total": item_count, "total_pages": last_page, "first_page": 1}
    position["last_page"] = last_page
    if page <= last_page:
        position["page"] = page
        if page > 1:
            position["previous_page"] = page - 1
        if page < last_page:
            position["next_page"] = page + 1
    return position


def _uncounted_position(page_params) -> dict:
    """The place of a page in a list longer than the count goes: that it is longer, and the
    pages around this one that exist."""
    position = {"total_exceeds": page_params.total_exceeds, "first_page": 1}
    if page_params.page_exists:
        position["page"] = page_params.page
        if page_params.page > 1:
            position["previous_page"] = page_params.page - 1
        if page_params.next_page_exists:
            position["next_page"] = page_params.page + 1
    return position

"""The JSON API's Blueprint: flask-smorest's, with a body parser that refuses what the
database could not store or Python could not walk, before any schema sees it.

- nesting deeper than MAX_NESTING (a 4 KB body of brackets otherwise ends in a RecursionError,
  a 500): 400;
- a NUL character or a lone UTF-16 surrogate in any text (PostgreSQL refuses the first, no
  encoder takes the second): 422 naming the field.
"""

import re

import flask_smorest
import marshmallow as ma
from webargs import core
from webargs.flaskparser import FlaskParser, abort, is_json_request

MAX_NESTING = 32
_UNSTORABLE = re.compile(r"[\x00\ud800-\udfff]")
UNSTORABLE_TEXT = "Holds a character that cannot be stored (a NUL or a lone surrogate)."


class StrictJSONParser(FlaskParser):
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


class Blueprint(flask_smorest.Blueprint):
    ARGUMENTS_PARSER = StrictJSONParser()

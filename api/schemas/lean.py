"""The base of the schemas the API answers lists with: the same dump as marshmallow's, in fewer
steps per value.

marshmallow reads and writes each value of each object through a chain of calls (the field's
`serialize`, its `get_value`, the schema's `get_attribute`, `utils.get_value`, then the
field's `_serialize` and what it calls); a page of 50 lots is 700 such chains. `LeanSchema`
works out once per schema instance a plan: one `attrgetter` that reads every attribute the
fields read, in one call, and one writer per field that gives what marshmallow's
`_serialize` gives:

- the function it would call for the common fields: `int` for an Integer, the format's
  function for a date or a moment, `str` for a String, the member's value for an Enum by
  value, the function of a Function field, the value itself where `_serialize` returns it;
- the field's own `_serialize` for every other field (nested schemas, lists, the project's
  quantities), given what marshmallow gives it (None for a field that reads no attribute).

What the plan does not cover takes marshmallow's own dump: an object without one of the
attributes (marshmallow then uses the field's `dump_default`), an item that is a mapping or a
sequence (marshmallow reads those by key; a database row it reads by attribute, as the plan
does), a schema with dump hooks, its own `get_attribute`, or a field that reads a dotted path
or reads its value its own way.

tests/test_api_throughput_rules.py holds the lean dump of each list schema to marshmallow's.
"""

import operator

import marshmallow as ma
from marshmallow.decorators import POST_DUMP, PRE_DUMP
from marshmallow.utils import ensure_text_type
from sqlalchemy import Row

_missing = ma.missing


class LeanSchema(ma.Schema):
    def dump(self, obj, *, many: bool | None = None):
        many = self.many if many is None else bool(many)
        plan = None if obj is None else self._plan()
        if plan is None:
            return super().dump(obj, many=many)
        if many:
            return [plan.dump(item) for item in obj]
        return plan.dump(obj)

    def _plan(self):
        # Worked out on first use, once the fields are bound; a second thread working it out
        # at the same moment comes to the same plan.
        if "_lean_plan" not in self.__dict__:
            self._lean_plan = _Plan.of(self)
        return self._lean_plan


class _Plan:
    def __init__(self, schema: ma.Schema, names: list[str], steps: list[tuple], skips: bool):
        self.schema = schema
        self.names = names
        self.read = _tuple_of(operator.attrgetter, names)
        # A database row reads a value by position far faster than by name: one reader per
        # shape of row (its column names), built on first sight.
        self.row_readers: dict[tuple, object] = {}
        self.steps = steps
        # A field's own `_serialize` may answer marshmallow's `missing`: the key is left out.
        self.skips = skips

    @classmethod
    def of(cls, schema: ma.Schema) -> "_Plan | None":
        if (
            schema._hooks[PRE_DUMP]
            or schema._hooks[POST_DUMP]
            or type(schema).get_attribute is not ma.Schema.get_attribute
        ):
            return None
        names, steps, skips = [], [], False
        for name, field in schema.dump_fields.items():
            key = name if field.data_key is None else field.data_key
            write, own = _writer(field, name)
            skips = skips or own
            if not field._CHECK_ATTRIBUTE:
                steps.append((key, 0, _given_none(write)))
                continue
            attribute = field.attribute or name
            if "." in attribute or type(field).get_value is not ma.fields.Field.get_value:
                return None
            steps.append((key, len(names), write))
            names.append(attribute)
        return cls(schema, names, steps, skips)

    def dump(self, obj) -> dict:
        if isinstance(obj, Row):
            read = self._row_reader(obj)
        elif hasattr(obj, "__getitem__"):
            return self.schema._serialize(obj)
        else:
            read = self.read
        try:
            values = read(obj)
        except AttributeError:
            return self.schema._serialize(obj)
        dumped = {key: write(values[index], obj) for key, index, write in self.steps}
        if self.skips:
            return {key: value for key, value in dumped.items() if value is not _missing}
        return dumped

    def _row_reader(self, obj: Row):
        fields = obj._fields
        read = self.row_readers.get(fields)
        if read is None:
            read = self.read  # by name, as marshmallow reads a row
            # By position when each name the schema reads is one column of the row, and the
            # names are the row's every column (none unnamed).
            if len(fields) == len(obj) and all(fields.count(n) == 1 for n in self.names):
                read = _tuple_of(operator.itemgetter, [fields.index(n) for n in self.names])
            self.row_readers[fields] = read
        return read


def _tuple_of(getter, keys: list):
    """A reader answering the values of `keys` as a tuple, however many there are."""
    if len(keys) > 1:
        return getter(*keys)
    if keys:
        one = getter(*keys)
        return lambda obj: (one(obj),)
    return lambda obj: (None,)


def _writer(field: ma.fields.Field, name: str) -> tuple:
    """(write(value, obj), whether it is the field's own `_serialize`)."""
    kind = type(field)
    serialize = kind._serialize
    if serialize is ma.fields.Field._serialize:
        return _as_it_is, False
    if serialize is ma.fields.Function._serialize:
        function = field.serialize_func
        return (lambda value, obj: function(obj)), False
    if (
        serialize is ma.fields.Number._serialize
        and kind._format_num is ma.fields.Number._format_num
        and not field.as_string
    ):
        number = field.num_type
        return (lambda value, obj: None if value is None else number(value)), False
    if serialize is ma.fields.String._serialize:
        return _text, False
    if serialize is _TEMPORAL_SERIALIZE:
        function = kind.SERIALIZATION_FUNCS.get(field.format or kind.DEFAULT_FORMAT)
        if function is not None:
            return (lambda value, obj: None if value is None else function(value)), False
    if (
        serialize is ma.fields.Enum._serialize
        and field.by_value is True
        and type(field.field)._serialize is ma.fields.Field._serialize
    ):
        return _member_value, False
    own = field._serialize
    return (lambda value, obj: own(value, name, obj)), True


def _given_none(write):
    """A field that reads no attribute is given None, as marshmallow gives it."""
    return lambda value, obj: write(None, obj)


def _as_it_is(value, obj):
    return value


def _text(value, obj):
    if type(value) is str or value is None:
        return value
    return ensure_text_type(value)


def _member_value(value, obj):
    return None if value is None else value.value


_TEMPORAL_SERIALIZE = ma.fields.Date._serialize

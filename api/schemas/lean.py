"""The base of the schemas the API answers lists with: the same dump as marshmallow's, in fewer
steps per value.

marshmallow reads and writes each value of each object through a chain of calls (the field's
`serialize`, its `get_value`, the schema's `get_attribute`, `utils.get_value`, then the
field's `_serialize` and what it calls); a page of 50 lots is 700 such chains. `LeanSchema`
works out once per schema instance a plan: one `attrgetter` that reads every attribute the
fields read, in one call (an `itemgetter` for a database row, which reads by position far
faster than by name), and one function, written for the schema's fields and compiled once,
that builds the dumped dict from those values with what marshmallow's `_serialize` gives:

- for the common fields, what it computes, written inline: `int` of an Integer, the
  format's function of a date or a moment, `str` of a String, the member's value of an Enum
  by value, the function of a Function field, the value itself where `_serialize` returns it;
- for every other field (nested schemas, lists, the project's quantities), a call of the
  field's own `_serialize`, given what marshmallow gives it (None for a field that reads no
  attribute).

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
    def __init__(self, schema: ma.Schema, names: list[str], write):
        self.schema = schema
        self.names = names
        self.read = _tuple_of(operator.attrgetter, names)
        # One reader per shape of row (its column names), built on first sight.
        self.row_readers: dict[tuple, object] = {}
        self.last_row_reader = (None, None)
        self.write = write

    @classmethod
    def of(cls, schema: ma.Schema) -> "_Plan | None":
        if (
            schema._hooks[PRE_DUMP]
            or schema._hooks[POST_DUMP]
            or type(schema).get_attribute is not ma.Schema.get_attribute
        ):
            return None
        names, entries, given, skips = [], [], {}, False
        for name, field in schema.dump_fields.items():
            key = name if field.data_key is None else field.data_key
            if field._CHECK_ATTRIBUTE:
                attribute = field.attribute or name
                if "." in attribute or type(field).get_value is not ma.fields.Field.get_value:
                    return None
                value = f"v{len(names)}"
                names.append(attribute)
            else:
                value = "None"
            expression, own = _written(field, name, value, given)
            skips = skips or own
            entries.append(f"{key!r}: {expression}")
        return cls(schema, names, _compiled(len(names), entries, given, skips=skips))

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
        return self.write(values, obj)

    def _row_reader(self, obj: Row):
        # The rows of one result share their metadata (SQLAlchemy's `_parent`): the reader of
        # the last one seen serves them all, without reading the names again for each row.
        parent = getattr(obj, "_parent", None)
        last = self.last_row_reader
        if parent is not None and last[0] is parent:
            return last[1]
        fields = obj._fields
        read = self.row_readers.get(fields)
        if read is None:
            read = self.read  # by name, as marshmallow reads a row
            # By position when each name the schema reads is one column of the row, and the
            # names are the row's every column (none unnamed).
            if len(fields) == len(obj) and all(fields.count(n) == 1 for n in self.names):
                read = _tuple_of(operator.itemgetter, [fields.index(n) for n in self.names])
            self.row_readers[fields] = read
        self.last_row_reader = (parent, read)
        return read


def _tuple_of(getter, keys: list):
    """A reader answering the values of `keys` as a tuple, however many there are."""
    if len(keys) > 1:
        return getter(*keys)
    if keys:
        one = getter(*keys)
        return lambda obj: (one(obj),)
    return lambda obj: ()


def _written(field: ma.fields.Field, name: str, value: str, given: dict) -> tuple[str, bool]:
    """(the expression giving what the field's `_serialize` gives for `value`, whether it
    calls the field's own `_serialize`); what it calls is put in `given` under a name of its
    own."""
    kind = type(field)
    serialize = kind._serialize
    own = f"_{len(given)}"
    if serialize is ma.fields.Field._serialize:
        return value, False
    if serialize is ma.fields.Function._serialize:
        given[own] = field.serialize_func
        return f"{own}(obj)", False
    if (
        serialize is ma.fields.Number._serialize
        and kind._format_num is ma.fields.Number._format_num
        and not field.as_string
    ):
        given[own] = field.num_type
        return f"(None if {value} is None else {own}({value}))", False
    if serialize is ma.fields.String._serialize:
        given["_text"] = ensure_text_type
        return (
            f"({value} if {value}.__class__ is str or {value} is None else _text({value}))",
            False,
        )
    if serialize is _TEMPORAL_SERIALIZE:
        function = kind.SERIALIZATION_FUNCS.get(field.format or kind.DEFAULT_FORMAT)
        if function is not None:
            given[own] = function
            return f"(None if {value} is None else {own}({value}))", False
    if (
        serialize is ma.fields.Enum._serialize
        and field.by_value is True
        and type(field.field)._serialize is ma.fields.Field._serialize
    ):
        return f"(None if {value} is None else {value}.value)", False
    given[own] = field._serialize
    return f"{own}({value}, {name!r}, obj)", True


def _compiled(count: int, entries: list[str], given: dict, *, skips: bool):
    """The function `write(values, obj)` building the dumped dict; a field's own `_serialize`
    may answer marshmallow's `missing` (`skips`), and marshmallow then leaves the key out."""
    unpacked = "".join(f"v{n}, " for n in range(count))
    lines = ["def write(values, obj):"]
    if count:
        lines.append(f"    {unpacked}= values")
    lines.append(f"    dumped = {{{', '.join(entries)}}}")
    if skips:
        lines.append("    return {k: v for k, v in dumped.items() if v is not _missing}")
    else:
        lines.append("    return dumped")
    namespace = {**given, "_missing": _missing}
    exec(compile("\n".join(lines), "<lean dump>", "exec"), namespace)
    return namespace["write"]


_TEMPORAL_SERIALIZE = ma.fields.Date._serialize

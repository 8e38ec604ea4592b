"""Pieces every REST blueprint shares: pagination, id fields, common query arguments."""

import enum
import re
from collections import Counter
from datetime import date, datetime
from decimal import Decimal

import marshmallow as ma
from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Select, func, literal, select, tuple_
from sqlalchemy.sql import operators

from api.schemas.fields import Integer
from core.database import MAX_ID, PAGE_SIZE, db
from core.errors import Invalid

PAGINATION = {"page_size": PAGE_SIZE, "max_page_size": 500}
# A cursor is the few values of one row's place in its list, signed (URL-safe base64 and a dot).
CURSOR = re.compile(r"^[A-Za-z0-9_.-]+$")
CURSOR_LENGTH = 1000  # a product name of 160 characters, written in UTF-8, fits


def paginate(stmt: Select, pagination_parameters) -> list:
    """One page of a select, and the total count for the X-Pagination header: two queries,
    whatever the page size."""
    if not _count_reaches_the_page(stmt, pagination_parameters):
        return []
    page = stmt.limit(pagination_parameters.page_size).offset(pagination_parameters.first_item)
    return db.session.scalars(page).all()


def paginate_after(stmt: Select, pagination_parameters, *, after: str | None) -> list:
    """One page of a list that may be long (lots, movements, alerts, audit), whose order ends
    with its id: by page number as `paginate` does, or after a cursor (`after`, the
    `next_after` of the page before): the rows that follow it in the list's order, found
    through the order's index whatever the depth, without counting (one query). Either way
    the header's `next_after` names the page's last row, and is null on the last page."""
    order = _order_of(stmt)
    size = pagination_parameters.page_size
    keyed = stmt.add_columns(*(column for column, _ in order)).limit(size)
    if after is not None:
        pagination_parameters.after = after
        keyed = keyed.where(_beyond(order, decode_cursor(after, order)))
        rows = db.session.execute(keyed).all()
        pagination_parameters.item_count = len(rows)
    elif _count_reaches_the_page(stmt, pagination_parameters):
        rows = db.session.execute(keyed.offset(pagination_parameters.first_item)).all()
    else:
        rows = []
    last = rows[-1][1:] if len(rows) == size else None
    pagination_parameters.next_after = None if last is None else encode_cursor(last, order)
    return [row[0] for row in rows]


def _count_reaches_the_page(stmt: Select, pagination_parameters) -> bool:
    """Count the list for the header; False past its end (also a page number too large for
    an SQL OFFSET)."""
    count_stmt = select(func.count()).select_from(stmt.order_by(None).subquery())
    pagination_parameters.item_count = db.session.scalar(count_stmt)
    return pagination_parameters.first_item < pagination_parameters.item_count


def _order_of(stmt: Select) -> list[tuple]:
    """(column, descending) of each term of the select's ORDER BY. SQLAlchemy keeps them in a
    private attribute; reading it keeps one order per list, written once in its domain query."""
    order = []
    for clause in stmt._order_by_clauses:
        descending = getattr(clause, "modifier", None) is operators.desc_op
        order.append((clause.element if descending else clause, descending))
    if len({descending for _, descending in order}) > 1:
        raise ValueError("a cursor follows an order in one direction only")
    return order


def _beyond(order: list[tuple], values: list):
    """The rows after (or, in descending order, before) the cursor's row."""
    key = tuple_(*(column for column, _ in order))
    bound = tuple_(
        *(literal(value, column.type) for (column, _), value in zip(order, values, strict=True))
    )
    return key < bound if order[0][1] else key > bound


def encode_cursor(values, order: list[tuple]) -> str:
    """The row's place in the list, signed with the app's secret and naming the list's order,
    so that only a cursor this list gave is ever read back."""
    place = {"order": _order_name(order), "values": [_tagged(value) for value in values]}
    return _signer().dumps(place)


def decode_cursor(cursor: str, order: list[tuple]) -> list:
    """The values a cursor names, or a 422 on `after` for one this list did not give."""
    try:
        place = _signer().loads(cursor)
        if place["order"] != _order_name(order):
            raise ValueError("a cursor of another list or order")
        return [_untagged(value) for value in place["values"]]
    except (BadSignature, ValueError, TypeError, KeyError, ArithmeticError):
        raise Invalid(
            {"after": ["Not a cursor this list gave (use the next_after of a page)."]}
        ) from None


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="list-cursor")


def _order_name(order: list[tuple]) -> str:
    return ",".join(f"{column}{' desc' if descending else ''}" for column, descending in order)


def _tagged(value):
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    if isinstance(value, Decimal):
        return {"n": str(value)}
    if isinstance(value, enum.Enum):
        return value.value
    return value


def _untagged(value):
    if not isinstance(value, dict):
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise ValueError(value)
        return value
    [(tag, text)] = value.items()
    return {"t": datetime.fromisoformat, "d": date.fromisoformat, "n": Decimal}[tag](text)


def paginate_list(items: list, pagination_parameters) -> list:
    """One page of a list that had to be computed whole (e.g. sorted by a screen verdict)."""
    pagination_parameters.item_count = len(items)
    start = pagination_parameters.first_item
    return items[start : start + pagination_parameters.page_size]


def id_field(**kwargs) -> ma.fields.Integer:
    """An id as the database stores it (a 32-bit integer): a larger number is a 422 naming the
    field, not an overflow deep in the driver."""
    return Integer(validate=ma.validate.Range(min=1, max=MAX_ID), **kwargs)


def id_list(*, min_items: int = 0, **kwargs) -> ma.fields.List:
    """A list of ids, each named once."""
    return ma.fields.List(
        id_field(strict=True),
        validate=[ma.validate.Length(min=min_items), _each_once],
        metadata={"uniqueItems": True},
        **kwargs,
    )


def _each_once(ids: list) -> None:
    twice = sorted(number for number, times in Counter(ids).items() if times > 1)
    if twice:
        raise ma.ValidationError(f"Listed twice: {', '.join(map(str, twice))}.")


class AfterSchema(ma.Schema):
    after = ma.fields.String(
        validate=[ma.validate.Length(min=1, max=CURSOR_LENGTH), ma.validate.Regexp(CURSOR)],
        metadata={
            "pattern": CURSOR.pattern,
            "description": "The `next_after` of the page before (in X-Pagination): the page "
            "that follows it, however deep, without a count.",
        },
    )


class AsOfSchema(ma.Schema):
    as_of = ma.fields.Date(
        metadata={"description": "Answer as on this date (ISO 8601); default today in the clinic."}
    )

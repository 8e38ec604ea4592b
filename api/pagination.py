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
# A list is counted for the X-Pagination header up to this many items. A longer one is said to
# hold more (`total_exceeds`), without total, total_pages and last_page: counting a long table
# on every page would cost more than the page.
COUNT_LIMIT = 1_000
# A cursor is the few values of one row's place in its list, signed (URL-safe base64 and a dot).
CURSOR = re.compile(r"^[A-Za-z0-9_.-]+$")
CURSOR_LENGTH = 1000  # a product name of 160 characters, written in UTF-8, fits


def paginate(stmt: Select, pagination_parameters, *, columns: tuple = ()) -> list:
    """One page of a select by page number, and its place in the list for the X-Pagination
    header (a count that stops past COUNT_LIMIT): on the first page one query, the count in
    a subquery beside the page; on a later one two, the count first, whatever the page size
    or the length of the list.

    With `columns`, the page answers rows of those columns (which its schema reads by name)
    rather than the select's ORM objects: a long list's page is read without building them."""
    rows = _numbered_page(_listed(stmt, columns), stmt, pagination_parameters, columns=columns)
    # The row after the page only tells whether one follows; it is not answered.
    return [row if columns else row[0] for row in rows[: pagination_parameters.page_size]]


def paginate_after(
    stmt: Select, pagination_parameters, *, after: str | None, columns: tuple = ()
) -> list:
    """One page of a list that may be long (lots, movements, alerts, audit), whose order ends
    with its id: by page number as `paginate` does, or after a cursor (`after`, the
    `next_after` of the page before): the rows that follow it in the list's order, found
    through the order's index whatever the depth, without counting (one query). Either way
    the header's `next_after` names the page's last row, and is null on the last page.
    `columns` as for `paginate`."""
    order = _order_of(stmt)
    size = pagination_parameters.page_size
    listed = _listed(stmt, columns)
    # The order's values come last, under names no schema reads.
    place = [column.label(f"_cursor_{n}") for n, (column, _) in enumerate(order)]
    if after is not None:
        pagination_parameters.after = after
        keyed = listed.add_columns(*place).where(_beyond(order, decode_cursor(after, order)))
        rows = _rows(keyed.limit(size + 1), columns)
        pagination_parameters.item_count = min(len(rows), size)
    else:
        rows = _numbered_page(
            listed, stmt, pagination_parameters, columns=columns, last_columns=place
        )
    # The row after the page only tells whether one follows; it is not answered.
    last = rows[size - 1][-len(order) :] if len(rows) > size else None
    pagination_parameters.next_after = None if last is None else encode_cursor(last, order)
    return [row if columns else row[0] for row in rows[:size]]


def _listed(stmt: Select, columns: tuple) -> Select:
    if not columns:
        return stmt
    return stmt.with_only_columns(*columns, maintain_column_froms=True)


def _rows(page: Select, columns: tuple) -> list:
    """The page's rows. Rows of columns are read on the session's connection, in its
    transaction, as plain rows: the ORM's result machinery, which builds objects, would only
    pass them through (half the time of reading a page of 50 lots)."""
    if not columns:
        return db.session.execute(page).all()
    db.session.flush()  # as the session's own execute does before it reads
    return db.session.connection().execute(page).all()


def _numbered_page(
    listed: Select, stmt: Select, pagination_parameters, *, columns=(), last_columns=()
) -> list:
    """The rows of the page asked for by number (`last_columns` last), and one more when a
    page follows; the list (`stmt`) counted for the header up to COUNT_LIMIT + 1. The first
    page, which most requests ask for, carries the count in a subquery of its own statement
    (databases run an uncorrelated one once); a later page is counted first, so that one past
    the end of the list (or past any OFFSET a database takes) costs no page query."""
    size, first = pagination_parameters.page_size, pagination_parameters.first_item
    if first == 0:
        counted = listed.add_columns(_count_up_to_the_limit(stmt).label("_listed"))
        rows = _rows(counted.add_columns(*last_columns).limit(size + 1), columns)
        count = rows[0]._mapping["_listed"] if rows else 0
    else:
        count = db.session.scalar(select(_count_up_to_the_limit(stmt)))
        past_the_end = first >= count and (count <= COUNT_LIMIT or first > MAX_ID)
        page = listed.add_columns(*last_columns).limit(size + 1).offset(first)
        rows = [] if past_the_end else _rows(page, columns)
    pagination_parameters.item_count = count
    if count > COUNT_LIMIT:
        pagination_parameters.total_exceeds = COUNT_LIMIT
    pagination_parameters.page_exists = bool(rows)
    pagination_parameters.next_page_exists = len(rows) > size
    return rows


def _count_up_to_the_limit(stmt: Select):
    """The number of items of the list, or COUNT_LIMIT + 1 for a longer one, as a scalar
    subquery: a count that reads at most that many rows, whatever the length of the table."""
    rows = stmt.order_by(None).with_only_columns(literal(1), maintain_column_froms=True)
    counted = select(func.count()).select_from(rows.limit(COUNT_LIMIT + 1).subquery())
    return counted.scalar_subquery()


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

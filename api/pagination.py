"""Pieces every REST blueprint shares: pagination, id fields, common query arguments."""

from collections import Counter

import marshmallow as ma
from sqlalchemy import Select, func, select

from api.schemas.fields import Integer
from core.database import MAX_ID, PAGE_SIZE, db

PAGINATION = {"page_size": PAGE_SIZE, "max_page_size": 500}


def paginate(stmt: Select, pagination_parameters) -> list:
    """One page of a select, and the total count for the X-Pagination header: two queries,
    whatever the page size."""
    count_stmt = select(func.count()).select_from(stmt.order_by(None).subquery())
    pagination_parameters.item_count = db.session.scalar(count_stmt)
    if pagination_parameters.first_item >= pagination_parameters.item_count:
        return []  # past the end (also a page number too large for an SQL OFFSET)
    page = stmt.limit(pagination_parameters.page_size).offset(pagination_parameters.first_item)
    return db.session.scalars(page).all()


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


class AsOfSchema(ma.Schema):
    as_of = ma.fields.Date(
        metadata={"description": "Answer as on this date (ISO 8601); default today in the clinic."}
    )

"""Lots to and from CSV: an all-or-nothing import that names the line of every bad row, and a
streamed export.

The import validates the whole file before it writes anything, then inserts lots and their
`receive` movements with bulk Core statements in chunks (no ORM object per row), which is what
makes a hundred thousand lots take seconds. Bulk statements bypass the audit log's flush hook,
so the import records one summary entry itself.
"""

import csv
import dataclasses
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import Integer, String, Text, insert, literal, select

from core import audit
from core.clock import clinic_timezone, clinic_today
from core.database import UTCDateTime, db, widen_sqlite_page_cache
from inventory.expiry import ExpiryFormatError, effective_expiry, parse_expiry
from inventory.models import (
    LOT_NUMBER_LENGTH,
    QUANTITY_PLACES,
    SUPPLIER_LENGTH,
    Lot,
    LotStatus,
    Movement,
    MovementKind,
    Product,
    Storage,
)

REQUIRED_COLUMNS = ("product_id", "lot_number", "expiry_date", "quantity")
OPTIONAL_COLUMNS = ("supplier", "storage", "received_at")
EXPORT_COLUMNS = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS, "id", "status", "effective_expiry")
CHUNK_SIZE = 5000
# A file with thousands of bad rows is reported by its first errors; the count says the rest.
MAX_REPORTED_ERRORS = 100
_STORAGES = {storage.value for storage in Storage}
_lots = Lot.__table__
_movements = Movement.__table__


class LotImportError(Exception):
    """The file cannot be imported; `errors` lists each problem with its line number."""

    def __init__(self, errors: list[str], total: int | None = None):
        self.errors = errors
        self.total = total if total is not None else len(errors)
        super().__init__(f"{self.total} error(s) in the file; nothing was imported.")


@dataclasses.dataclass
class _Validation:
    now: datetime
    today: date
    errors: list[str] = dataclasses.field(default_factory=list)
    error_count: int = 0

    def error(self, line: int, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(f"line {line}: {message}")


def read_lot_rows(lines: Iterable[str], now: datetime) -> list[dict]:
    """Every row of the file as the values of a new lot, or LotImportError naming every bad
    line: unreadable fields, unknown products, expired lots, lots repeated in the file or
    already on the shelf."""
    reader = csv.reader(lines)
    check = _Validation(now=now, today=clinic_today(now))
    columns = _read_header(next(reader, None), check)
    if check.error_count:
        raise LotImportError(check.errors, check.error_count)
    rows, lines_of = [], []
    parse = _RowParser(check)
    for record in reader:
        if not any(cell.strip() for cell in record):
            continue
        line = reader.line_num
        row = parse(line, dict(zip(columns, record, strict=False)), len(record) - len(columns))
        if row is not None:
            rows.append(row)
            lines_of.append(line)
    _check_products_and_lot_numbers(rows, lines_of, check)
    if check.error_count:
        raise LotImportError(check.errors, check.error_count)
    if not rows:
        raise LotImportError(["line 2: the file has no lots"])
    return rows


def _read_header(header: list[str] | None, check: _Validation) -> list[str]:
    if header is None:
        check.error(1, "the file is empty; expected a header " + ",".join(REQUIRED_COLUMNS))
        return []
    columns = [name.strip().lower() for name in header]
    for name in columns:
        if name not in REQUIRED_COLUMNS and name not in OPTIONAL_COLUMNS:
            check.error(1, f"unknown column {name!r}")
    for name in REQUIRED_COLUMNS:
        if name not in columns:
            check.error(1, f"missing column {name!r}")
    if len(set(columns)) != len(columns):
        check.error(1, "a column is named twice")
    return columns


class _RowParser:
    """Turns one CSV record into the values of a lot, reporting each bad field."""

    def __init__(self, check: _Validation):
        self.check = check
        # Thousands of lots share a handful of expiry dates: parse each spelling once.
        self.expiries: dict[str, tuple[date, bool] | str] = {}

    def __call__(self, line: int, values: dict, extra_cells: int) -> dict | None:
        before = self.check.error_count
        if extra_cells > 0:
            self.check.error(line, f"{extra_cells} cell(s) more than the header names")
        row = {
            "product_id": self._product_id(line, values.get("product_id", "")),
            "lot_number": self._lot_number(line, unescaped(values.get("lot_number", ""))),
            "quantity": self._quantity(line, values.get("quantity", "")),
            "supplier": self._supplier(line, unescaped(values.get("supplier", ""))),
            "storage": self._storage(line, values.get("storage", "")),
            "received_at": self._received_at(line, values.get("received_at", "")),
        }
        expiry = self._expiry(line, values.get("expiry_date", ""))
        if self.check.error_count > before:
            return None
        row["expiry_date"], row["expiry_month_only"] = expiry
        return row

    def _product_id(self, line, text):
        text = text.strip()
        if not text.isdigit():
            self.check.error(line, f"product_id: {text!r} is not a product id")
        return int(text) if text.isdigit() else None

    def _lot_number(self, line, text):
        text = text.strip()
        if not text:
            self.check.error(line, "lot_number: missing")
        elif len(text) > LOT_NUMBER_LENGTH:
            self.check.error(line, f"lot_number: longer than {LOT_NUMBER_LENGTH} characters")
        return text

    def _expiry(self, line, text):
        known = self.expiries.get(text)
        if known is None:
            try:
                known = parse_expiry(text)
            except ExpiryFormatError as error:
                known = f"expiry_date: not a date ({error})"
            self.expiries[text] = known
        if isinstance(known, str):
            self.check.error(line, known)
            return None, False
        if known[0] < self.check.today:
            self.check.error(
                line, f"expiry_date: {known[0].isoformat()} is already past (expired lot)"
            )
        return known

    def _quantity(self, line, text):
        try:
            amount = Decimal(text.strip())
        except InvalidOperation:
            self.check.error(line, f"quantity: {text!r} is not a number")
            return None
        if not amount.is_finite() or amount <= 0:
            self.check.error(line, f"quantity: {text!r} must be more than 0")
        elif amount.as_tuple().exponent < -QUANTITY_PLACES:
            self.check.error(line, f"quantity: at most {QUANTITY_PLACES} decimal places")
        return amount

    def _supplier(self, line, text):
        text = text.strip()
        if len(text) > SUPPLIER_LENGTH:
            self.check.error(line, f"supplier: longer than {SUPPLIER_LENGTH} characters")
        return text or None

    def _storage(self, line, text):
        text = text.strip().lower() or Storage.ROOM.value
        if text not in _STORAGES:
            self.check.error(
                line, f"storage: {text!r} is not one of {', '.join(sorted(_STORAGES))}"
            )
        return text

    def _received_at(self, line, text):
        text = text.strip()
        if not text:
            return self.check.now
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            self.check.error(line, f"received_at: {text!r} is not an ISO 8601 date or time")
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=clinic_timezone())
        if moment > self.check.now:
            self.check.error(line, "received_at: in the future")
        return moment


def _check_products_and_lot_numbers(rows: list[dict], lines_of: list[int], check) -> None:
    days_after_opening = _products(sorted({row["product_id"] for row in rows}))
    existing = _existing_lot_numbers(list(days_after_opening))
    first_line: dict[tuple[int, str], int] = {}
    for row, line in zip(rows, lines_of, strict=True):
        key = (row["product_id"], row["lot_number"])
        if row["product_id"] not in days_after_opening:
            check.error(line, f"product_id: no product with id {row['product_id']}")
        elif key in existing:
            check.error(line, f"lot_number: lot {key[1]} of product {key[0]} already exists")
        elif key in first_line:
            check.error(line, f"lot_number: lot {key[1]} repeats line {first_line[key]}")
        else:
            first_line[key] = line
            row["effective_expiry"] = effective_expiry(
                row["expiry_date"], None, days_after_opening=days_after_opening[row["product_id"]]
            )


def _products(ids: list[int]) -> dict[int, int | None]:
    found = {}
    for start in range(0, len(ids), 500):
        stmt = select(Product.id, Product.days_after_opening).where(
            Product.id.in_(ids[start : start + 500])
        )
        found.update(db.session.execute(stmt).tuples().all())
    return found


def _existing_lot_numbers(product_ids: list[int]) -> set[tuple[int, str]]:
    if not product_ids:
        return set()
    stmt = select(Lot.product_id, Lot.lot_number).where(Lot.product_id.in_(product_ids))
    return set(db.session.execute(stmt).tuples())


def insert_lots(
    rows: list[dict],
    user_id: int | None,
    *,
    now: datetime,
    source: str,
    progress: Callable[[int], None] = lambda done: None,
) -> int:
    """Insert validated rows as available lots, each with its `receive` movement, in chunks
    of bulk statements; one audit entry sums it up. Never commits."""
    reason = f"imported from {source}"
    widen_sqlite_page_cache()
    for start in range(0, len(rows), CHUNK_SIZE):
        chunk = rows[start : start + CHUNK_SIZE]
        _insert_many(_lots, [_lot_values(row) for row in chunk])
        _receive_movements(chunk, reason, user_id, now)
        progress(len(chunk))
    audit.record(
        "import",
        "lots",
        changes={
            "lots": len(rows),
            "source": source,
            "product_ids": sorted({row["product_id"] for row in rows}),
        },
    )
    return len(rows)


def _insert_many(table, rows: list[dict]) -> None:
    """One executemany of the rows, each value converted by its column type's own bind
    processor but without SQLAlchemy building a parameter set per row, which costs more than
    the insert itself at a hundred thousand rows."""
    connection = db.session.connection()
    dialect = connection.dialect
    columns = [table.c[name] for name in rows[0]]
    processors = [
        column.type.dialect_impl(dialect).bind_processor(dialect) or (lambda value: value)
        for column in columns
    ]
    placeholder = "?" if dialect.paramstyle == "qmark" else "%s"
    sql = (
        f"INSERT INTO {table.name} ({', '.join(column.name for column in columns)}) "
        f"VALUES ({', '.join([placeholder] * len(columns))})"
    )
    connection.exec_driver_sql(
        sql,
        [
            tuple(process(value) for process, value in zip(processors, row.values(), strict=True))
            for row in rows
        ],
    )


def _receive_movements(chunk: list[dict], reason: str, user_id: int | None, now: datetime):
    """The `receive` movement of every lot of the chunk, with one INSERT ... SELECT per
    product: the lots are found again by (product_id, lot_number), unique and new to the
    shelf, through its unique index. This gives the ledger their ids without a RETURNING,
    which SQLite answers one row at a time when the order of the rows must be kept."""
    lot_numbers: dict[int, list[str]] = {}
    for row in chunk:
        lot_numbers.setdefault(row["product_id"], []).append(row["lot_number"])
    columns = ["lot_id", "kind", "quantity", "reason", "user_id", "created_at"]
    for product_id, numbers in lot_numbers.items():
        new_lots = select(
            _lots.c.id,
            literal(MovementKind.RECEIVE.value, String),
            _lots.c.quantity_on_hand,
            literal(reason, Text),
            literal(user_id, Integer),
            literal(now, UTCDateTime),
        ).where(_lots.c.product_id == product_id, _lots.c.lot_number.in_(numbers))
        db.session.execute(insert(_movements).from_select(columns, new_lots))


def _lot_values(row: dict) -> dict:
    return {
        "product_id": row["product_id"],
        "lot_number": row["lot_number"],
        "expiry_date": row["expiry_date"],
        "expiry_month_only": row["expiry_month_only"],
        "effective_expiry": row["effective_expiry"],
        "quantity_on_hand": row["quantity"],
        "status": LotStatus.AVAILABLE,
        "received_at": row["received_at"],
        "supplier": row["supplier"],
        "storage": row["storage"],
    }


def export_rows(batch_size: int = 2000) -> Iterator[list]:
    """The header, then every lot, read in batches through a server-side cursor so that the
    whole table is never held in memory."""
    yield list(EXPORT_COLUMNS)
    stmt = (
        select(
            Lot.product_id,
            Lot.lot_number,
            Lot.expiry_date,
            Lot.quantity_on_hand,
            Lot.supplier,
            Lot.storage,
            Lot.received_at,
            Lot.id,
            Lot.status,
            Lot.effective_expiry,
        )
        .order_by(Lot.id)
        .execution_options(yield_per=batch_size)
    )
    for row in db.session.execute(stmt):
        yield [_csv_value(value) for value in row]


def _csv_value(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Storage | LotStatus):
        return value.value
    if isinstance(value, str):
        return escaped(value)
    return str(value)


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def escaped(text: str) -> str:
    """A text cell a spreadsheet shows as text: a leading apostrophe before a formula start."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def unescaped(text: str) -> str:
    """What `escaped` wrote, read back: an exported file imports its own values unchanged."""
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text

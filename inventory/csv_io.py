"""Lots to and from CSV: an all-or-nothing import that names the line of every bad row, and a
streamed export.

The import checks the whole file before it writes a lot: it streams the file, a chunk of rows
at a time, into a temporary table, checks across rows there in SQL, then inserts the lots and
their `receive` movements with one Core statement each (no ORM object per row), which is what
keeps a million-line file in bounded memory and a hundred thousand lots in seconds. Bulk
statements bypass the audit log's flush hook, so the import records one summary entry itself.
"""

import codecs
import csv
import dataclasses
import heapq
import operator
import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    func,
    insert,
    literal,
    select,
)

from core import audit
from core.clock import clinic_timezone, clinic_today
from core.database import MAX_ID, UTCDateTime, db, widen_sqlite_page_cache
from inventory.expiry import ExpiryFormatError, effective_expiry, parse_expiry
from inventory.models import (
    LOT_NUMBER_LENGTH,
    QUANTITY_MAX,
    QUANTITY_PLACES,
    SUPPLIER_LENGTH,
    Lot,
    LotStatus,
    Movement,
    MovementKind,
    Product,
    Quantity,
    Storage,
)

REQUIRED_COLUMNS = ("product_id", "lot_number", "expiry_date", "quantity")
OPTIONAL_COLUMNS = ("supplier", "storage", "received_at")
EXPORT_COLUMNS = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS, "id", "status", "effective_expiry")
CHUNK_SIZE = 5000
# A file with thousands of bad rows is reported by its first errors; the count says the rest.
MAX_REPORTED_ERRORS = 100
# A hostile file may spell every expiry differently: remember only so many spellings.
MAX_REMEMBERED_SPELLINGS = 10_000
_STORAGES = {storage.value for storage in Storage}
_DIGITS = re.compile(r"[0-9]+")
_lots = Lot.__table__
_movements = Movement.__table__

# The checked rows of the file being imported (a temporary table: this connection's own, gone
# at its end), with the types of the lots' columns.
_staging = Table(
    "lot_import",
    MetaData(),
    Column("line", Integer, primary_key=True),
    Column("product_id", Integer, nullable=False),
    Column("lot_number", String(LOT_NUMBER_LENGTH), nullable=False),
    Column("expiry_date", Date, nullable=False),
    Column("expiry_month_only", Boolean, nullable=False),
    Column("effective_expiry", Date, nullable=False),
    Column("quantity_on_hand", Quantity, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("supplier", String(SUPPLIER_LENGTH)),
    Column("storage", String(20), nullable=False),
    prefixes=["TEMPORARY"],
)


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
    errors: list[tuple[int, str]] = dataclasses.field(default_factory=list)
    error_count: int = 0

    def error(self, line: int, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append((line, message))

    def refusal(self, *found: tuple[list[tuple[int, str]], int]) -> LotImportError | None:
        """The file's refusal, its first errors in line order, or None when it has none;
        `found` adds errors the whole-file checks found (their first, and their count)."""
        total = self.error_count + sum(count for _, count in found)
        if not total:
            return None
        first = heapq.merge(sorted(self.errors), *(errors for errors, _ in found))
        lines = [f"line {line}: {message}" for line, message in first]
        return LotImportError(lines[:MAX_REPORTED_ERRORS], total)


def import_lots(
    lines: Iterable[bytes], *, now: datetime, source: str, user_id: int | None = None
) -> int:
    """Check every line of a CSV file, then insert its lots, each with its `receive` movement,
    and one audit entry that sums them up; or LotImportError naming every bad line: unreadable
    text or fields, unknown products, expired lots, lots repeated in the file or already on
    the shelf. Never commits.

    Memory stays bounded whatever the file's size: the checked rows go, a chunk at a time, to
    a temporary table, where the checks across rows are SQL and from which the lots and their
    movements are inserted by one statement each."""
    check = _Validation(now=now, today=clinic_today(now))
    reader = csv.reader(_text_lines(lines, check))
    try:
        columns = _read_header(next(reader, None), check)
    except csv.Error as error:
        raise LotImportError([f"line 1: not CSV ({error})"]) from None
    if refusal := check.refusal():
        raise refusal
    widen_sqlite_page_cache()
    connection = db.session.connection()
    connection.exec_driver_sql(f"DROP TABLE IF EXISTS {_staging.name}")
    _staging.create(connection)
    _stage_rows(reader, columns, check)
    if refusal := check.refusal(_repeated_lots(), _lots_on_the_shelf()):
        raise refusal
    count = db.session.scalar(select(func.count()).select_from(_staging))
    if not count:
        raise LotImportError(["line 2: the file has no lots"])
    _insert_staged(reason=f"imported from {source}", user_id=user_id, now=now)
    product_ids = db.session.scalars(select(_staging.c.product_id).distinct()).all()
    _staging.drop(connection)
    audit.record(
        "import",
        "lots",
        changes={"lots": count, "source": source, "product_ids": sorted(product_ids)},
    )
    return count


def _text_lines(lines: Iterable[bytes], check: _Validation) -> Iterator[str]:
    """The file's lines as text: UTF-8, a byte-order mark dropped; a line that is not UTF-8
    is reported and read as empty."""
    for number, data in enumerate(lines, start=1):
        if number == 1:
            data = data.removeprefix(codecs.BOM_UTF8)
        try:
            yield data.decode("utf-8")
        except UnicodeDecodeError as error:
            check.error(
                number,
                f"not UTF-8 text (byte {data[error.start]:#04x} at character "
                f"{error.start + 1}); save the file as UTF-8",
            )
            yield "\n"


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


def _stage_rows(reader, columns: list[str], check: _Validation) -> None:
    parse = _RowParser(check)
    products = _ProductShelfLives()
    chunk: list[dict] = []
    while True:
        try:
            record = next(reader, None)
        except csv.Error as error:
            check.error(reader.line_num, f"not CSV ({error})")
            continue
        if record is None or len(chunk) >= CHUNK_SIZE:
            _stage(chunk, products, check)
            chunk = []
        if record is None:
            return
        if not any(cell.strip() for cell in record):
            continue
        line = reader.line_num
        row = parse(line, dict(zip(columns, record, strict=False)), len(record) - len(columns))
        if row is not None:
            chunk.append(row)


def _stage(chunk: list[dict], products: "_ProductShelfLives", check: _Validation) -> None:
    """Rows of known products, with their last day of use, into the temporary table."""
    products.look_up({row["product_id"] for row in chunk})
    staged = []
    for row in chunk:
        if row["product_id"] not in products.known:
            check.error(row["line"], f"product_id: no product with id {row['product_id']}")
            continue
        row["effective_expiry"] = effective_expiry(
            row["expiry_date"],
            None,
            days_after_opening=products.known[row["product_id"]],
        )
        staged.append(row)
    if staged:
        _insert_many(_staging, staged)


class _ProductShelfLives:
    """Each product's days after opening, looked up once (a file names a few hundred)."""

    def __init__(self):
        self.known: dict[int, int | None] = {}
        self.checked: set[int] = set()

    def look_up(self, ids: set[int]) -> None:
        new = sorted(ids - self.checked)
        for start in range(0, len(new), 500):
            stmt = select(Product.id, Product.days_after_opening).where(
                Product.id.in_(new[start : start + 500])
            )
            self.known.update(db.session.execute(stmt).tuples().all())
        self.checked.update(new)


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
        if any("\x00" in value for value in values.values()):
            self.check.error(line, "a NUL character, which no text may hold")
            return None
        row = {
            "line": line,
            "product_id": self._product_id(line, values.get("product_id", "")),
            "lot_number": self._lot_number(line, unescaped(values.get("lot_number", ""))),
            "quantity_on_hand": self._quantity(line, values.get("quantity", "")),
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
        if not _DIGITS.fullmatch(text):
            self.check.error(line, f"product_id: {text!r} is not a product id")
            return None
        number = int(text)
        if number > MAX_ID:
            self.check.error(line, f"product_id: no product with id {text}")
        return number

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
            if len(self.expiries) < MAX_REMEMBERED_SPELLINGS:
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
        elif amount > QUANTITY_MAX:
            self.check.error(line, f"quantity: more than {QUANTITY_MAX:,} in one lot")
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


def _repeated_lots() -> tuple[list[tuple[int, str]], int]:
    """Lines that repeat a lot of an earlier line (not one already on the shelf, which is
    said so), the first of them and their count."""
    first = (
        func.min(_staging.c.line)
        .over(partition_by=(_staging.c.product_id, _staging.c.lot_number))
        .label("first_line")
    )
    rows = select(_staging.c.line, _staging.c.lot_number, first).subquery()
    repeats = select(rows.c.line, rows.c.lot_number, rows.c.first_line).where(
        rows.c.line > rows.c.first_line
    )
    return _first_and_count(
        repeats,
        lambda row: (row.line, f"lot_number: lot {row.lot_number} repeats line {row.first_line}"),
    )


def _lots_on_the_shelf() -> tuple[list[tuple[int, str]], int]:
    existing = select(_staging.c.line, _staging.c.product_id, _staging.c.lot_number).join(
        _lots,
        and_(
            _lots.c.product_id == _staging.c.product_id,
            _lots.c.lot_number == _staging.c.lot_number,
        ),
    )
    return _first_and_count(
        existing,
        lambda row: (
            row.line,
            f"lot_number: lot {row.lot_number} of product {row.product_id} already exists",
        ),
    )


def _first_and_count(stmt, message) -> tuple[list[tuple[int, str]], int]:
    count = db.session.scalar(select(func.count()).select_from(stmt.subquery()))
    if not count:
        return [], 0
    first = db.session.execute(stmt.order_by("line").limit(MAX_REPORTED_ERRORS))
    return [message(row) for row in first], count


def _insert_staged(*, reason: str, user_id: int | None, now: datetime) -> None:
    """The staged rows as available lots, then the `receive` movement of each, found again
    by (product_id, lot_number) through the lots' unique index: two statements in all."""
    lot_columns = [
        "product_id", "lot_number", "expiry_date", "expiry_month_only", "effective_expiry",
        "quantity_on_hand", "received_at", "supplier", "storage",
    ]  # fmt: skip
    staged = select(
        *(_staging.c[name] for name in lot_columns),
        literal(LotStatus.AVAILABLE.value, String),
    ).order_by(_staging.c.line)
    db.session.execute(insert(_lots).from_select([*lot_columns, "status"], staged))
    new_lots = select(
        _lots.c.id,
        literal(MovementKind.RECEIVE.value, String),
        _lots.c.quantity_on_hand,
        literal(reason, Text),
        literal(user_id, Integer),
        literal(now, UTCDateTime),
    ).join(
        _staging,
        and_(
            _lots.c.product_id == _staging.c.product_id,
            _lots.c.lot_number == _staging.c.lot_number,
        ),
    )
    movement_columns = ["lot_id", "kind", "quantity", "reason", "user_id", "created_at"]
    db.session.execute(insert(_movements).from_select(movement_columns, new_lots))


def _insert_many(table, rows: list[dict]) -> None:
    """The rows into the table in one go, each value converted by its column type's own bind
    processor (where it has one) but without SQLAlchemy building a parameter set per row,
    which costs more than the insert itself at a hundred thousand rows: COPY on PostgreSQL,
    one executemany on SQLite."""
    connection = db.session.connection()
    dialect = connection.dialect
    columns = list(table.c)
    converted = [
        (column.name, process)
        for column in columns
        if (process := column.type.dialect_impl(dialect).bind_processor(dialect))
    ]
    for row in rows:
        for name, process in converted:
            row[name] = process(row[name])
    values_of = operator.itemgetter(*(column.name for column in columns))
    names = ", ".join(column.name for column in columns)
    if dialect.name == "postgresql":
        cursor = connection.connection.dbapi_connection.cursor()
        with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(values_of(row))
        return
    placeholders = ", ".join("?" * len(columns))
    connection.exec_driver_sql(
        f"INSERT INTO {table.name} ({names}) VALUES ({placeholders})",
        [values_of(row) for row in rows],
    )


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

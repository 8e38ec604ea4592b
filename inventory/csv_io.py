"""Lots to and from CSV: an all-or-nothing import that names the line of every bad row, and a
streamed export.

The import checks the whole file before it keeps a lot. It streams the file, a chunk of rows
at a time, into a temporary table (the fields of each row checked in Python, each spelling of a
value once), then inserts the lots and their `receive` movements set-based, all products at
once, with no ORM object or SQLAlchemy parameter set per row: that keeps a million-line file in
bounded memory and a hundred thousand lots in seconds. The lots' unique index is the check that
no lot repeats one of the file or of the shelf; when it refuses, the inserts are undone and the
checks across rows name every such line. Bulk statements bypass the audit log's flush hook, so
the import records one summary entry itself.
"""

import codecs
import csv
import heapq
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
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
from sqlalchemy.exc import IntegrityError

from core import audit
from core.clock import clinic_timezone, clinic_today
from core.database import MAX_ID, UTCDateTime, db, widen_sqlite_page_cache
from core.sites import Site
from inventory.expiry import ExpiryFormatError, parse_expiry
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
# `site` is a site's code: optional while the clinic has one site (or the import names one).
OPTIONAL_COLUMNS = ("supplier", "storage", "received_at", "site")
EXPORT_COLUMNS = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS, "id", "status", "effective_expiry")
CHUNK_SIZE = 5000
# A file with thousands of bad rows is reported by its first errors; the count says the rest.
MAX_REPORTED_ERRORS = 100
# A hostile file may spell every value differently: remember only so many spellings of each.
MAX_REMEMBERED_SPELLINGS = 10_000
_STORAGES = {storage.value for storage in Storage}
_ASCII_DIGITS = frozenset("0123456789")
_lots = Lot.__table__
_movements = Movement.__table__

# The checked rows of the file being imported (a temporary table: this connection's own, gone
# at its end), with the types of the lots' columns.
_staging = Table(
    "lot_import",
    MetaData(),
    Column("line", Integer, primary_key=True, autoincrement=False),
    Column("product_id", Integer, nullable=False),
    Column("lot_number", String(LOT_NUMBER_LENGTH), nullable=False),
    Column("expiry_date", Date, nullable=False),
    Column("expiry_month_only", Boolean, nullable=False),
    Column("quantity_on_hand", Quantity, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("supplier", String(SUPPLIER_LENGTH)),
    Column("storage", String(20), nullable=False),
    Column("site_id", Integer, nullable=False),
    prefixes=["TEMPORARY"],
)


class LotImportError(Exception):
    """The file cannot be imported; `errors` lists each problem with its line number."""

    def __init__(self, errors: list[str], total: int | None = None):
        self.errors = errors
        self.total = total if total is not None else len(errors)
        super().__init__(f"{self.total} error(s) in the file; nothing was imported.")


@dataclass
class _Validation:
    now: datetime
    today: date
    errors: list[tuple[int, str]] = field(default_factory=list)
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
    lines: Iterable[bytes],
    *,
    now: datetime,
    source: str,
    user_id: int | None = None,
    site_id: int | None = None,
    site_ids: Iterable[int] | None = None,
) -> int:
    """Check every line of a CSV file, then insert its lots, each with its `receive` movement,
    and one audit entry that sums them up; or LotImportError naming every bad line: unreadable
    text or fields, unknown products, expired lots, lots repeated in the file or already on
    the site's shelf, sites unknown or not among `site_ids` (the importer's; None: every
    site). A line without a site goes to `site_id`, or the clinic's only site. Never commits.

    Memory stays bounded whatever the file's size: the checked rows go, a chunk at a time, to
    a temporary table, from which the lots and their movements are inserted set-based, and
    where the checks across rows are SQL."""
    check = _Validation(now=now, today=clinic_today(now))
    sites = _ImportSites(site_id, site_ids)
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
    staged = _stage_rows(reader, _RowReader(check, columns, connection.dialect, sites), check)
    if check.error_count:
        raise check.refusal(_repeated_lots(), _lots_on_the_shelf())
    if not staged.lots:
        raise LotImportError(["line 2: the file has no lots"])
    try:
        with db.session.begin_nested():
            _insert_staged(reason=f"imported from {source}", user_id=user_id, now=now)
    except IntegrityError:
        # A lot of the file is already on the shelf, or named twice in the file: which lines.
        if refusal := check.refusal(_repeated_lots(), _lots_on_the_shelf()):
            raise refusal from None
        raise
    _staging.drop(connection)
    audit.record(
        "import",
        "lots",
        changes={"lots": staged.lots, "source": source, "product_ids": sorted(staged.products)},
    )
    return staged.lots


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


@dataclass
class _Staged:
    """What went into the temporary table: how many lots, of which products."""

    lots: int = 0
    products: set[int] = field(default_factory=set)


def _stage_rows(reader, read_row: "_RowReader", check: _Validation) -> _Staged:
    products = _KnownProducts()
    staged = _Staged()
    chunk: list[tuple] = []
    while True:
        try:
            record = next(reader, None)
        except csv.Error as error:
            check.error(reader.line_num, f"not CSV ({error})")
            continue
        if record is None or len(chunk) >= CHUNK_SIZE:
            _stage(chunk, products, check, staged)
            chunk = []
        if record is None:
            return staged
        text = "".join(record)
        if not text or text.isspace():
            continue
        if "\x00" in text:
            check.error(reader.line_num, "a NUL character, which no text may hold")
            continue
        row = read_row(reader.line_num, record)
        if row is not None:
            chunk.append(row)


def _stage(
    chunk: list[tuple], products: "_KnownProducts", check: _Validation, staged: _Staged
) -> None:
    """The rows of known products into the temporary table."""
    named = {row[_PRODUCT] for row in chunk}
    products.look_up(named)
    known = [row for row in chunk if row[_PRODUCT] in products.known]
    if len(known) < len(chunk):
        for row in chunk:
            if row[_PRODUCT] not in products.known:
                check.error(row[_LINE], f"product_id: no product with id {row[_PRODUCT]}")
    if known:
        _insert_many(_staging, known)
        staged.lots += len(known)
        staged.products |= named & products.known


class _KnownProducts:
    """Which of the products a file names exist, each looked up once (a file names a few
    hundred)."""

    def __init__(self):
        self.known: set[int] = set()
        self.checked: set[int] = set()

    def look_up(self, ids: set[int]) -> None:
        new = sorted(ids - self.checked)
        for start in range(0, len(new), 500):
            stmt = select(Product.id).where(Product.id.in_(new[start : start + 500]))
            self.known.update(db.session.scalars(stmt))
        self.checked.update(new)


class _Fault(str):
    """What is wrong with a field, in place of its value."""


class _ImportSites:
    """The sites a file's lines may name by code, and where a line naming none goes."""

    def __init__(self, site_id: int | None, site_ids: Iterable[int] | None):
        every = db.session.execute(select(Site.id, Site.code).order_by(Site.id)).all()
        allowed = None if site_ids is None else set(site_ids)
        self.by_code = {code: id_ for id_, code in every}
        self.allowed = allowed
        if site_id is not None:
            self.default = site_id
        elif len(every) == 1:
            self.default = every[0].id
        else:
            self.default = None

    def read(self, text: str):
        code = text.strip().upper()
        if not code:
            if self.default is None:
                return _Fault("site: missing (the clinic has several sites: name its code)")
            return self.default
        site_id = self.by_code.get(code)
        if site_id is None:
            return _Fault(f"site: no site with code {code}")
        if self.allowed is not None and site_id not in self.allowed:
            return _Fault(f"site: you do not work at {code}")
        return site_id


class _Spellings(dict):
    """What each spelling of a field reads as (its value as the database takes it, or the
    _Fault naming what is wrong with it), worked out once: a hundred thousand lines spell
    their products, dates, quantities, suppliers and storages a few hundred ways."""

    def __init__(self, read: Callable[[str], object]):
        super().__init__()
        self.read = read

    def __missing__(self, text: str):
        value = self.read(text)
        if len(self) < MAX_REMEMBERED_SPELLINGS:
            self[text] = value
        return value


# Where a staged row (a tuple in the temporary table's column order) holds its line and product.
_LINE, _PRODUCT = 0, 1


class _RowReader:
    """Turns one CSV record into the row of the temporary table, or reports each bad field."""

    def __init__(self, check: _Validation, columns: list[str], dialect, sites: _ImportSites):
        self.check = check
        self.width = len(columns)
        # A column the file leaves out reads the blank cell appended to every record.
        self.at = {name: columns.index(name) if name in columns else self.width
                   for name in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)}  # fmt: skip
        bind = _binders(dialect)
        self.product_ids = _Spellings(self._product_id)
        self.expiries = _Spellings(
            lambda text: self._expiry(text, bind["expiry_date"], bind["expiry_month_only"])
        )
        self.quantities = _Spellings(lambda text: self._quantity(text, bind["quantity_on_hand"]))
        self.suppliers = _Spellings(self._supplier)
        self.storages = _Spellings(self._storage)
        self.received = _Spellings(lambda text: self._received_at(text, bind["received_at"]))
        self.sites = _Spellings(sites.read)

    def __call__(self, line: int, record: list[str]) -> tuple | None:
        cells = len(record)
        if cells > self.width:
            self.check.error(line, f"{cells - self.width} cell(s) more than the header names")
            del record[self.width :]
        elif cells < self.width:
            record.extend([""] * (self.width - cells))
        record.append("")
        at = self.at
        fields = (
            self.product_ids[record[at["product_id"]]],
            _lot_number(record[at["lot_number"]]),
            self.expiries[record[at["expiry_date"]]],
            self.quantities[record[at["quantity"]]],
            self.received[record[at["received_at"]]],
            self.suppliers[record[at["supplier"]]],
            self.storages[record[at["storage"]]],
            self.sites[record[at["site"]]],
        )
        if _Fault in map(type, fields):
            for fault in fields:
                if type(fault) is _Fault:
                    self.check.error(line, fault)
            return None
        product_id, lot_number, expiry, quantity, received_at, supplier, storage, site = fields
        # The expiry reads as its day and whether only its month was printed.
        return (
            line, product_id, lot_number, *expiry, quantity, received_at, supplier, storage, site
        )  # fmt: skip

    @staticmethod
    def _product_id(text: str):
        text = text.strip()
        if not text or not _ASCII_DIGITS.issuperset(text):
            return _Fault(f"product_id: {text!r} is not a product id")
        if int(text) > MAX_ID:
            return _Fault(f"product_id: no product with id {text}")
        return int(text)

    def _expiry(self, text: str, bind_day, bind_month_only):
        try:
            day, month_only = parse_expiry(text)
        except ExpiryFormatError as error:
            return _Fault(f"expiry_date: not a date ({error})")
        if day < self.check.today:
            return _Fault(f"expiry_date: {day.isoformat()} is already past (expired lot)")
        return bind_day(day), bind_month_only(month_only)

    @staticmethod
    def _quantity(text: str, bind):
        try:
            amount = Decimal(text.strip())
        except InvalidOperation:
            return _Fault(f"quantity: {text!r} is not a number")
        if not amount.is_finite() or amount <= 0:
            return _Fault(f"quantity: {text!r} must be more than 0")
        if amount > QUANTITY_MAX:
            return _Fault(f"quantity: more than {QUANTITY_MAX:,} in one lot")
        if amount.as_tuple().exponent < -QUANTITY_PLACES:
            return _Fault(f"quantity: at most {QUANTITY_PLACES} decimal places")
        return bind(amount)

    @staticmethod
    def _supplier(text: str):
        text = unescaped(text).strip()
        if len(text) > SUPPLIER_LENGTH:
            return _Fault(f"supplier: longer than {SUPPLIER_LENGTH} characters")
        return text or None

    @staticmethod
    def _storage(text: str):
        text = text.strip().lower() or Storage.ROOM.value
        if text not in _STORAGES:
            return _Fault(f"storage: {text!r} is not one of {', '.join(sorted(_STORAGES))}")
        return text

    def _received_at(self, text: str, bind):
        text = text.strip()
        if not text:
            return bind(self.check.now)
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return _Fault(f"received_at: {text!r} is not an ISO 8601 date or time")
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=clinic_timezone())
        if moment > self.check.now:
            return _Fault("received_at: in the future")
        return bind(moment)


def _lot_number(text: str) -> str:
    """Each lot's own: never worth remembering."""
    text = unescaped(text).strip()
    if not text:
        return _Fault("lot_number: missing")
    if len(text) > LOT_NUMBER_LENGTH:
        return _Fault(f"lot_number: longer than {LOT_NUMBER_LENGTH} characters")
    return text


def _binders(dialect) -> dict[str, Callable]:
    """Each column of the temporary table's conversion of a value into what the driver takes
    (the column type's own bind processor), applied once per spelling instead of per row."""

    def unchanged(value):
        return value

    return {
        column.name: column.type.dialect_impl(dialect).bind_processor(dialect) or unchanged
        for column in _staging.c
    }


def _repeated_lots() -> tuple[list[tuple[int, str]], int]:
    """Lines that repeat a lot of an earlier line (not one already on the shelf, which is
    said so), the first of them and their count."""
    first = (
        func.min(_staging.c.line)
        .over(partition_by=(_staging.c.site_id, _staging.c.product_id, _staging.c.lot_number))
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
            _lots.c.site_id == _staging.c.site_id,
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


_LOT_COLUMNS = ["product_id", "lot_number", "expiry_date", "expiry_month_only",
                "quantity_on_hand", "received_at", "supplier", "storage", "site_id"]  # fmt: skip
_MOVEMENT_COLUMNS = ["lot_id", "kind", "quantity", "reason", "user_id", "created_at"]


def _insert_staged(*, reason: str, user_id: int | None, now: datetime) -> None:
    """The staged rows as available lots, then the `receive` movement of each: two statements
    on SQLite, one on PostgreSQL. The lots go in by last day of use (then line), which keeps
    the lots' indexes that start with it, and those that start with the product then have it,
    filling a page at a time instead of one row in each page: 200,000 lots over 500 products
    go in three to five times faster on SQLite than in the file's order. FEFO's last
    tie-break, the id, still follows the file's lines (ties share a last day)."""
    staged = select(
        *(_staging.c[name] for name in _LOT_COLUMNS),
        # A lot arrives sealed: its last day of use is its expiry date (see effective_expiry).
        _staging.c.expiry_date,
        literal(LotStatus.AVAILABLE.value, String),
    ).order_by(_staging.c.expiry_date, _staging.c.line)
    new_lots = insert(_lots).from_select([*_LOT_COLUMNS, "effective_expiry", "status"], staged)

    def receipts(lots):
        return select(
            lots.c.id,
            literal(MovementKind.RECEIVE.value, String),
            lots.c.quantity_on_hand,
            literal(reason, Text),
            literal(user_id, Integer),
            literal(now, UTCDateTime),
        )

    if db.session.get_bind().dialect.name == "postgresql":
        # The movements take the new lots' ids from the insert itself (a data-modifying CTE).
        inserted = new_lots.returning(_lots.c.id, _lots.c.quantity_on_hand).cte("new_lots")
        db.session.execute(insert(_movements).from_select(_MOVEMENT_COLUMNS, receipts(inserted)))
        return
    # SQLite gives a new row the next id after the highest, and this transaction writes alone
    # (a write of a transaction that read before another one committed fails): the new lots
    # are those past the highest id before the insert.
    before = db.session.scalar(select(func.coalesce(func.max(_lots.c.id), 0)))
    db.session.execute(new_lots)
    new = receipts(_lots).where(_lots.c.id > before).order_by(_lots.c.id)
    db.session.execute(insert(_movements).from_select(_MOVEMENT_COLUMNS, new))


def _insert_many(table, rows: list[tuple]) -> None:
    """Rows, tuples of the driver's values in the table's column order, into the table in one
    go: a binary COPY on PostgreSQL (half the time of a text one: no value is written out as
    text to be parsed again), one executemany on SQLite."""
    connection = db.session.connection()
    dialect = connection.dialect
    names = ", ".join(column.name for column in table.c)
    if dialect.name == "postgresql":
        cursor = connection.connection.dbapi_connection.cursor()
        with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
            # The column types as PostgreSQL names them, without their lengths: VARCHAR(60)
            # is varchar.
            copy.set_types([c.type.compile(dialect).split("(")[0].lower() for c in table.c])
            for row in rows:
                copy.write_row(row)
        return
    placeholders = ", ".join("?" * len(table.c))
    connection.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({placeholders})", rows)


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
            Site.code,
            Lot.id,
            Lot.status,
            Lot.effective_expiry,
        )
        .join(Site, Site.id == Lot.site_id)
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

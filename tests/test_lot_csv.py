"""`flask import lots`, `flask export lots` and `flask inventory verify`."""

import csv
import io
import tracemalloc
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from core.audit import AuditEntry
from core.clock import utcnow
from core.database import db
from inventory.csv_io import CHUNK_SIZE, LotImportError, import_lots, unescaped
from inventory.models import Lot, Movement
from tests import factories

FAR = (date.today() + timedelta(days=3650)).isoformat()
HEADER = "product_id,lot_number,expiry_date,quantity,supplier,storage,received_at\n"


@pytest.fixture
def product():
    return factories.make_product()


def write_csv(tmp_path, text):
    path = tmp_path / "lots.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


def lot_count():
    return db.session.scalar(select(func.count()).select_from(Lot))


def test_import_lots_creates_each_lot_with_its_receive_movement(runner, tmp_path, product):
    path = write_csv(
        tmp_path,
        HEADER
        + f"{product.id},L1,{FAR},10,Acme,refrigerated,2025-01-02T10:00:00+00:00\n"
        + f"{product.id},L2,07/2070,2.5,,,\n",
    )
    result = runner.invoke(args=["import", "lots", path])
    assert result.exit_code == 0, result.output
    assert "Imported 2 lots." in result.output
    first, second = db.session.scalars(
        select(Lot).where(Lot.product_id == product.id).order_by(Lot.lot_number)
    ).all()
    assert (first.quantity_on_hand, first.supplier, first.storage.value) == (
        10,
        "Acme",
        "refrigerated",
    )
    assert (second.expiry_date, second.expiry_month_only) == (date(2070, 7, 31), True)
    assert second.quantity_on_hand == Decimal("2.5")
    ledger = dict(
        db.session.execute(
            select(Movement.lot_id, func.sum(Movement.quantity)).group_by(Movement.lot_id)
        ).all()
    )
    assert (ledger[first.id], ledger[second.id]) == (10, Decimal("2.5"))


def test_import_lots_writes_one_audit_entry_for_the_whole_file(runner, tmp_path, product):
    rows = "".join(f"{product.id},B{n},{FAR},1\n" for n in range(30))
    runner.invoke(args=["import", "lots", write_csv(tmp_path, HEADER + rows)])
    [entry] = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "import")).all()
    assert (entry.entity, entry.username, entry.changes["lots"]) == ("lots", "cli", 30)


def test_a_bad_row_is_reported_with_its_line_number_and_nothing_is_imported(
    runner, tmp_path, product
):
    before = lot_count()
    path = write_csv(
        tmp_path,
        HEADER
        + f"{product.id},OK1,{FAR},1\n"
        + f"{product.id},BAD,31/31/2030,1\n"
        + f"{product.id},OK2,{FAR},1\n",
    )
    result = runner.invoke(args=["import", "lots", path])
    assert result.exit_code != 0
    assert "line 3: expiry_date: not a date" in result.output
    assert "nothing was imported" in result.output
    assert lot_count() == before


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("999999,X,{far},1", "line 2: product_id: no product with id 999999"),
        ("{pid},X,2000-01-31,1", "line 2: expiry_date: 2000-01-31 is already past"),
        ("{pid},X,{far},0", "line 2: quantity: '0' must be more than 0"),
        ("{pid},X,{far},many", "line 2: quantity: 'many' is not a number"),
        ("{pid},,{far},1", "line 2: lot_number: missing"),
        ("{pid},X,{far},1,,attic,", "line 2: storage: 'attic'"),
        ("{pid},X,{far},1,,,2999-01-01", "line 2: received_at: in the future"),
        ("abc,X,{far},1", "line 2: product_id: 'abc' is not a product id"),
    ],
)
def test_each_kind_of_bad_field_is_named(runner, tmp_path, product, row, message):
    line = row.format(pid=product.id, far=FAR)
    result = runner.invoke(args=["import", "lots", write_csv(tmp_path, HEADER + line + "\n")])
    assert result.exit_code != 0
    assert message in result.output


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("99999999999,X,{far},1", "line 2: product_id: no product with id 99999999999"),
        ("{pid},X,{far},99999999999999999999", "line 2: quantity: more than 1,000,000,000"),
        ("{pid},X,{far},1e400", "line 2: quantity: more than 1,000,000,000"),
        ("{pid},X\x00Y,{far},1", "line 2: a NUL character"),
        ("\u00b2,X,{far},1", "line 2: product_id: '\u00b2' is not a product id"),
    ],
)
def test_numbers_too_large_and_characters_no_text_may_hold_are_named_not_tracebacks(
    runner, tmp_path, product, row, message
):
    line = row.format(pid=product.id, far=FAR)
    result = runner.invoke(args=["import", "lots", write_csv(tmp_path, HEADER + line + "\n")])
    assert (result.exit_code == 1 and result.exception is None) or isinstance(
        result.exception, SystemExit
    )
    assert message in result.output


def test_a_file_that_is_not_utf8_names_each_such_line_and_every_other_error(
    runner, tmp_path, product
):
    path = tmp_path / "lots.csv"
    path.write_bytes(
        HEADER.encode()
        + f"{product.id},CAF\u00c9,{FAR},1\n".encode("latin-1")
        + f"{product.id},OK,{FAR},0\n".encode()
    )
    result = runner.invoke(args=["import", "lots", str(path)])
    assert result.exit_code == 1
    assert "line 2: not UTF-8 text (byte 0xc9" in result.output
    assert "line 3: quantity: '0' must be more than 0" in result.output
    assert lot_count() == 0


def test_a_byte_order_mark_and_windows_line_ends_are_read(runner, tmp_path, product):
    path = tmp_path / "lots.csv"
    text = HEADER + f"{product.id},BOM1,{FAR},1\n"
    path.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    result = runner.invoke(args=["import", "lots", str(path)])
    assert result.exit_code == 0, result.output
    assert "Imported 1 lots." in result.output


def test_checking_a_file_holds_a_chunk_of_it_in_memory_not_the_whole(tmp_path, product):
    """Peak memory of checking a file of 4 chunks and of 1 chunk (each refused at its last
    line): the same, give or take, not four times."""

    def peak_of_checking(lines: int) -> int:
        rows = "".join(f"{product.id},M{n},{FAR},1\n" for n in range(lines))
        path = tmp_path / f"lots-{lines}.csv"
        path.write_text(HEADER + rows + f"{product.id},M0,{FAR},1\n")
        tracemalloc.start()
        with path.open("rb") as file, db.session.begin_nested(), pytest.raises(LotImportError):
            import_lots(file, now=utcnow(), source="test")
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak

    one_chunk, four_chunks = peak_of_checking(CHUNK_SIZE), peak_of_checking(4 * CHUNK_SIZE)
    print(f"peak: {one_chunk:,} bytes for one chunk, {four_chunks:,} for four")
    assert four_chunks < 1.5 * one_chunk


def test_a_lot_repeated_in_the_file_is_reported_at_its_second_line(runner, tmp_path, product):
    path = write_csv(
        tmp_path,
        HEADER
        + f"{product.id},DUP,{FAR},1\n{product.id},OTHER,{FAR},1\n{product.id},DUP,{FAR},2\n",
    )
    result = runner.invoke(args=["import", "lots", path])
    assert result.exit_code != 0
    assert "line 4: lot_number: lot DUP repeats line 2" in result.output


def test_a_lot_already_on_the_shelf_is_reported(runner, tmp_path, product):
    factories.make_lot(product, lot_number="SHELF")
    result = runner.invoke(
        args=["import", "lots", write_csv(tmp_path, HEADER + f"{product.id},SHELF,{FAR},1\n")]
    )
    assert result.exit_code != 0
    assert "line 2: lot_number: lot SHELF of product" in result.output
    assert "already exists" in result.output


def test_a_bad_field_a_repeated_lot_and_a_lot_on_the_shelf_are_all_named_at_once(
    runner, tmp_path, product
):
    factories.make_lot(product, lot_number="SHELF")
    path = write_csv(
        tmp_path,
        HEADER
        + f"{product.id},DUP,{FAR},1\n{product.id},SHELF,{FAR},1\n"
        + f"{product.id},DUP,{FAR},1\n{product.id},BAD,{FAR},0\n",
    )
    result = runner.invoke(args=["import", "lots", path])
    assert result.exit_code == 1
    assert "already exists" in result.output
    assert "line 4: lot_number: lot DUP repeats line 2" in result.output
    assert "line 5: quantity: '0' must be more than 0" in result.output
    assert "3 error(s) in the file" in result.output


def test_a_refused_file_leaves_no_lot_even_when_its_repeat_is_found_after_the_inserts(
    tmp_path, product
):
    """The file's lines are all good one by one; its last repeats its first, which only the
    lots' unique index sees: nothing of it stays, however the caller ends the transaction."""
    before = lot_count()
    rows = "".join(f"{product.id},R{n},{FAR},1\n" for n in range(CHUNK_SIZE + 10))
    path = write_csv(tmp_path, HEADER + rows + f"{product.id},R0,{FAR},1\n")
    with open(path, "rb") as file, pytest.raises(LotImportError) as refused:
        import_lots(file, now=utcnow(), source="test")
    assert refused.value.errors == [f"line {CHUNK_SIZE + 12}: lot_number: lot R0 repeats line 2"]
    db.session.commit()
    assert lot_count() == before


def test_lots_of_one_last_day_take_their_ids_in_the_order_of_the_file(runner, tmp_path, product):
    """FEFO's last tie-break is the id: among lots with the same last day (and receipt), the
    first line is handed out first, however the import orders its inserts."""
    days = ["2070-03-31", "2070-01-31", "2070-03-31", "2070-01-31", "2070-03-31"]
    rows = "".join(f"{product.id},T{n},{day},1\n" for n, day in enumerate(days))
    result = runner.invoke(args=["import", "lots", write_csv(tmp_path, HEADER + rows)])
    assert result.exit_code == 0, result.output
    by_id = db.session.execute(
        select(Lot.lot_number, Lot.effective_expiry)
        .where(Lot.product_id == product.id)
        .order_by(Lot.id)
    ).all()
    for day in ("2070-01-31", "2070-03-31"):
        same_day = [number for number, expiry in by_id if expiry.isoformat() == day]
        assert same_day == [f"T{n}" for n, each in enumerate(days) if each == day]


def test_an_import_sends_as_many_statements_for_fifty_products_as_for_one(
    runner, tmp_path, count_queries
):
    """One set of statements for the whole file, not one per product: the check of the
    products named, the chunks into the temporary table, the inserts of lots and movements."""
    products = [factories.make_product(kind="consumable") for _ in range(50)]

    def statements_of_importing(spread_over) -> int:
        rows = "".join(
            f"{spread_over[n % len(spread_over)].id},S{len(spread_over)}-{n},{FAR},1\n"
            for n in range(200)
        )
        path = write_csv(tmp_path, HEADER + rows)
        with count_queries() as counted:
            result = runner.invoke(args=["import", "lots", path])
        assert result.exit_code == 0, result.output
        return counted.count

    assert statements_of_importing(products[:1]) == statements_of_importing(products)


def test_an_import_gives_each_new_lot_one_receive_movement_and_none_to_the_lots_before(
    runner, tmp_path, product
):
    shelved = [factories.make_lot(product, quantity="4") for _ in range(3)]
    movements_before = db.session.scalar(select(func.count()).select_from(Movement))
    rows = "".join(f"{product.id},NEW{n},{FAR},{n + 1}\n" for n in range(5))
    result = runner.invoke(args=["import", "lots", write_csv(tmp_path, HEADER + rows)])
    assert result.exit_code == 0, result.output
    movements = db.session.scalar(select(func.count()).select_from(Movement))
    assert movements == movements_before + 5
    assert runner.invoke(args=["inventory", "verify"]).exit_code == 0
    assert all(db.session.get(Lot, lot.id).quantity_on_hand == 4 for lot in shelved)


def test_an_unknown_or_missing_column_is_reported_on_line_1(runner, tmp_path):
    result = runner.invoke(
        args=["import", "lots", write_csv(tmp_path, "product_id,lot,expiry_date,quantity\n")]
    )
    assert result.exit_code != 0
    assert "line 1: unknown column 'lot'" in result.output
    assert "line 1: missing column 'lot_number'" in result.output


def test_export_lots_writes_every_lot_as_csv(runner, product):
    lot = factories.make_lot(product, quantity="3.25", supplier="Acme")
    result = runner.invoke(args=["export", "lots"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert list(rows[0]) == [
        "product_id", "lot_number", "expiry_date", "quantity", "supplier", "storage",
        "received_at", "site", "id", "status", "effective_expiry",
    ]  # fmt: skip
    [exported] = [row for row in rows if row["id"] == str(lot.id)]
    assert exported["quantity"] == "3.25"
    assert exported["site"] == "MAIN"
    assert exported["supplier"] == "Acme"
    assert exported["status"] == "available"
    assert exported["effective_expiry"] == lot.effective_expiry.isoformat()


def test_an_exported_file_with_its_extra_columns_removed_imports_into_another_product(
    runner, tmp_path, product
):
    factories.make_lot(product, lot_number="RT1", expiry_date=date(2070, 1, 31))
    target = factories.make_product()
    exported = list(csv.DictReader(io.StringIO(runner.invoke(args=["export", "lots"]).output)))
    lines = [HEADER.strip()] + [
        f"{target.id},{row['lot_number']},{row['expiry_date']},{row['quantity']},"
        f"{row['supplier']},{row['storage']},{row['received_at']}"
        for row in exported
        if row["product_id"] == str(product.id)
    ]
    result = runner.invoke(args=["import", "lots", write_csv(tmp_path, "\n".join(lines) + "\n")])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(select(Lot.lot_number).where(Lot.product_id == target.id)) == "RT1"


def test_inventory_verify_passes_when_every_lot_matches_its_ledger(runner):
    factories.make_lot()
    result = runner.invoke(args=["inventory", "verify"])
    assert result.exit_code == 0, result.output
    assert f"{lot_count()} lots and their transfers verified" in result.output


def test_inventory_verify_names_a_lot_that_disagrees_with_its_ledger_and_fails(runner):
    lot = factories.make_lot(quantity="5")
    db.session.execute(update(Lot).where(Lot.id == lot.id).values(quantity_on_hand=4))
    db.session.commit()
    result = runner.invoke(args=["inventory", "verify"])
    assert result.exit_code == 1
    assert f"lot {lot.id} ({lot.lot_number}): quantity on hand 4, ledger sum 5" in result.output


def test_an_exported_text_that_a_spreadsheet_would_run_as_a_formula_starts_with_an_apostrophe(
    runner, product
):
    lot = factories.make_lot(product=product, lot_number="=HYPERLINK(1)", supplier="@evil")
    output = runner.invoke(args=["export", "lots"]).output
    [exported] = [row for row in csv.DictReader(io.StringIO(output)) if row["id"] == str(lot.id)]
    assert (exported["lot_number"], exported["supplier"]) == ("'=HYPERLINK(1)", "'@evil")
    assert unescaped(exported["lot_number"]) == "=HYPERLINK(1)"


# --- sites ------------------------------------------------------------------------------------

SITE_HEADER = HEADER.strip() + ",site\n"


def test_import_site_option_places_the_lines_naming_no_site(runner, tmp_path, product):
    lyon = factories.make_site(code=factories.unique("LYON-"), name="Lyon")
    rows = f"{product.id},AT-LYON,{FAR},2,,,,\n{product.id},AT-MAIN,{FAR},3,,,,MAIN\n"
    path = write_csv(tmp_path, SITE_HEADER + rows)
    refused = runner.invoke(args=["import", "lots", path])
    assert refused.exit_code != 0
    assert "line 2: site: missing (the clinic has several sites: name its code)" in refused.output
    result = runner.invoke(args=["import", "lots", "--site", lyon.code.lower(), path])
    assert result.exit_code == 0, result.output
    placed = dict(
        db.session.execute(
            select(Lot.lot_number, Lot.site_id).where(Lot.product_id == product.id)
        ).all()
    )
    assert placed == {"AT-LYON": lyon.id, "AT-MAIN": factories.clinic_site().id}


def test_import_with_an_unknown_site_code_says_so_and_imports_nothing(runner, tmp_path, product):
    path = write_csv(tmp_path, HEADER + f"{product.id},NOWHERE-1,{FAR},2,,,\n")
    result = runner.invoke(args=["import", "lots", "--site", "NOWHERE", path])
    assert result.exit_code != 0
    assert "No site with the code NOWHERE." in result.output
    assert lot_count() == 0

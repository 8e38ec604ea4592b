"""`flask import lots FILE.csv`, `flask export lots` and `flask inventory verify`.

Commands that write take the SQLite write lock when their transaction begins (as write
requests do), and commit once at their end or not at all.
"""

import csv
import sys

import click
from flask.cli import AppGroup

from core.audit import acting_as
from core.clock import utcnow
from core.database import unit_of_work, writing
from core.sites import site_with_code
from inventory.csv_io import LotImportError, export_rows, import_lots
from inventory.ledger import ledger_mismatches, lot_count
from inventory.transfers import transfer_mismatches

import_cli = AppGroup("import", help="Import data from files.")
export_cli = AppGroup("export", help="Export data as CSV to standard output.")
inventory_cli = AppGroup("inventory", help="Stock ledger checks.")


@import_cli.command("lots")
@click.argument("file", type=click.File("rb"))
@click.option(
    "--site",
    "site_code",
    metavar="CODE",
    help="The site of the lines that name none (default: the clinic's only site).",
)
def import_lots_command(file, site_code):
    """Import lots from a CSV file (columns product_id,lot_number,expiry_date,quantity, then
    optionally supplier,storage,received_at,site (a site code: needed in a chain unless
    --site names one)): every line is checked first, and a single bad line imports nothing."""
    now = utcnow()
    try:
        with writing(), acting_as(None, "cli"), unit_of_work():
            site_id = _site_id(site_code) if site_code is not None else None
            count = import_lots(file, now=now, source=file.name, site_id=site_id)
    except LotImportError as error:
        for message in error.errors:
            click.echo(message, err=True)
        if error.total > len(error.errors):
            click.echo(f"... and {error.total - len(error.errors)} more", err=True)
        raise click.ClickException(str(error)) from None
    click.echo(f"Imported {count} lots.")


def _site_id(code: str) -> int:
    site = site_with_code(code)
    if site is None:
        raise click.ClickException(f"No site with the code {code}.")
    return site.id


@export_cli.command("lots")
def export_lots_command():
    """Every lot as CSV on standard output, streamed."""
    writer = csv.writer(sys.stdout, lineterminator="\n")
    with unit_of_work(commit=False):
        for row in export_rows():
            writer.writerow(row)


@inventory_cli.command("verify")
def verify_command():
    """Check that every lot's quantity on hand is the sum of its ledger movements, and that
    every transfer between sites moved what its lines say (no stock made or lost on the way)."""
    with unit_of_work(commit=False):
        mismatches = ledger_mismatches()
        count = lot_count()
        transfers_wrong = transfer_mismatches()
    for mismatch in mismatches:
        click.echo(
            f"lot {mismatch.lot_id} ({mismatch.lot_number}): quantity on hand "
            f"{mismatch.quantity_on_hand}, ledger sum {mismatch.ledger_sum}",
            err=True,
        )
    for wrong in transfers_wrong:
        where = f"transfer {wrong.transfer_id} line {wrong.line_id}" if wrong.line_id else "ledger"
        click.echo(f"{where}: {wrong.problem}", err=True)
    problems = []
    if mismatches:
        problems.append(f"{len(mismatches)} of {count} lots disagree with the ledger")
    if transfers_wrong:
        problems.append(f"{len(transfers_wrong)} transfer lines or movements disagree")
    if problems:
        raise click.ClickException("; ".join(problems) + ".")
    click.echo(f"{count} lots and their transfers verified")


def register_inventory_cli(app) -> None:
    app.cli.add_command(import_cli)
    app.cli.add_command(export_cli)
    app.cli.add_command(inventory_cli)

"""`flask alerts scan [--as-of DATE]` and `flask alerts deliver`."""

import click
from flask.cli import AppGroup

from core.audit import Actor
from ops.jobs import deliver_job, run_scan_job

alerts_cli = AppGroup("alerts", help="Expiry, stock and recall alerts.")


@alerts_cli.command("scan")
@click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Scan as on this day (YYYY-MM-DD); default today in the clinic.",
)
def scan_command(as_of):
    """Raise the alerts due (idempotent), queue the digests and try to send them."""
    try:
        run = run_scan_job(as_of.date() if as_of else None, actor=Actor(None, "cli"))
    except Exception as error:  # noqa: BLE001 - the run is recorded as failed; say why
        raise click.ClickException(f"Scan failed: {type(error).__name__}: {error}") from None
    counts = ", ".join(f"{kind} {count}" for kind, count in run.counts.items())
    click.echo(f"Scan {run.id} as of {run.as_of.isoformat()}: {counts}.")


@alerts_cli.command("deliver")
def deliver_command():
    """Send the e-mail waiting in the outbox."""
    result = deliver_job()
    click.echo(f"sent {result['sent']}, failed {result['failed']}, queued {result['queued']}")

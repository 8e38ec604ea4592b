"""`flask --app wsgi ...` commands. Each command commits once at its end, or not at all."""

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from clinic.conditions import seed_condition_rules
from clinic.demo import seed_demo_courses, seed_demo_patients
from core.accounts import Role, User, create_user
from core.audit import acting_as
from core.clock import clinic_today, utcnow
from core.database import db, unit_of_work
from core.errors import DomainError
from core.sites import Site, ensure_a_site
from formulary.seed import seed_catalogue, seed_demo_serums
from inventory.demo import seed_demo_stock
from ops.alerts_cli import alerts_cli
from ops.inventory_cli import register_inventory_cli
from ops.scheduler import scheduler_cli

users_cli = AppGroup("users", help="Manage users.")

DEMO_USERS = [
    ("pharmacist", Role.PHARMACIST, "pharmacist-demo-pass", "pharmacist@clinic.example"),
    # A compounded batch is checked by a second pharmacist, never the one who prepared it.
    ("pharmacist2", Role.PHARMACIST, "pharmacist2-demo-pass", "pharmacist2@clinic.example"),
    ("doctor", Role.DOCTOR, "doctor-demo-pass", "doctor@clinic.example"),
    ("admin", Role.ADMIN, "admin-demo-pass1", "admin@clinic.example"),
]


@users_cli.command("create")
@click.option("--username", required=True)
@click.option("--role", required=True, type=click.Choice([role.value for role in Role]))
@click.option("--email", default=None)
@click.option(
    "--site",
    "site_codes",
    multiple=True,
    help="The code of a site they work at (repeat for several); default: the clinic's only "
    "site for a pharmacist or a doctor, every site for an administrator.",
)
@click.option(
    "--password",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="Prompted for when not given (at least 12 characters).",
)
def create_user_command(username, role, email, site_codes, password):
    """Create a user."""
    try:
        with acting_as(None, "cli"), unit_of_work():
            user = create_user(
                username=username,
                role=role,
                password=password,
                email=email,
                site_ids=_site_ids(site_codes),
            )
    except DomainError as error:
        detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in error.errors.items())
        raise click.ClickException(f"{error.message} {detail}".strip()) from None
    click.echo(f"Created {user.role.value} {user.username!r} (id {user.id}).")


@click.command("seed")
@click.option("--demo", is_flag=True, help="Also demo users, patients and lots.")
def seed_command(demo):
    """Load the starter catalogue and rules (idempotent); --demo adds demonstration data."""
    if demo and not current_app.config["DEMO_DATA_ALLOWED"]:
        raise click.ClickException(
            "Demo data is for development and trials: its users' passwords are published."
            " Use FLASK_CONFIG=development."
        )
    try:
        with acting_as(None, "seed"), unit_of_work():
            new_site = ensure_a_site()
            report = seed_catalogue()
            seed_condition_rules()
            if demo:
                for username, role, password, email in DEMO_USERS:
                    if _user_named(username) is None:
                        create_user(username=username, role=role, password=password, email=email)
                # Four eyes hold for the demo too: the pharmacist writes, the admin approves.
                seed_demo_serums(_user_named("pharmacist"), _user_named("admin"), report=report)
                patients_added = seed_demo_patients()
                courses_added = seed_demo_courses(_user_named("doctor"), today=clinic_today())
                lots_added = seed_demo_stock(utcnow())
    except DomainError as error:
        raise click.ClickException(f"Seeding refused: {error.message}") from None
    if new_site is not None:
        click.echo(f"Site: {new_site.name} ({new_site.code}), the clinic's first.")
    click.echo(f"Catalogue: {report.summary()}.")
    for skipped in report.skipped:
        click.echo(f"  left as it is: {skipped}")
    if demo:
        click.echo(
            f"Demo data: {patients_added} patients, {courses_added} courses "
            f"and {lots_added} lots added."
        )
        click.echo("Demo users (username / password):")
        for username, role, password, _ in DEMO_USERS:
            click.echo(f"  {role.value:<11} {username} / {password}")


def _site_ids(codes: tuple[str, ...]) -> list[int]:
    ids = dict(db.session.execute(db.select(Site.code, Site.id).where(Site.code.in_(codes))).all())
    unknown = [code for code in codes if code not in ids]
    if unknown:
        raise click.ClickException(f"No site with the code {', '.join(unknown)}.")
    return [ids[code] for code in codes]


def _user_named(username: str) -> User | None:
    return db.session.scalar(db.select(User).where(User.username == username))


def register_cli(app: Flask) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(seed_command)
    register_inventory_cli(app)
    app.cli.add_command(alerts_cli)
    app.cli.add_command(scheduler_cli)

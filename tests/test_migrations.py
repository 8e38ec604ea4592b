"""The Alembic migrations build the same schema as the models, on SQLite and PostgreSQL."""

import flask_migrate
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app import create_app
from config import database_url as driver_url
from core.database import db


def test_db_upgrade_builds_a_schema_that_matches_the_models(scratch_db):
    app = create_app({"CONFIG": "testing", "SQLALCHEMY_DATABASE_URI": driver_url(scratch_db)})
    with app.app_context():
        flask_migrate.upgrade()
        try:
            with db.engine.connect() as connection:
                assert "users" in inspect(connection).get_table_names()
                context = MigrationContext.configure(
                    connection, opts={"compare_type": True, "render_as_batch": True}
                )
                assert compare_metadata(context, db.metadata) == []
        finally:
            db.engine.dispose()

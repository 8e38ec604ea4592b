"""sites: the clinics of a chain, and who works at which

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 20:00:00

An existing database becomes a chain of one: one site made from the clinic's configured name,
address, phone and time zone, at which every pharmacist and doctor works (administrators work
at every site, as an empty list says). A new database gets the same site, ready for its
first lots.

The site is written from the configuration here rather than by core.sites: a migration does
not import application code, which may change after it was written.

"""

import sqlalchemy as sa
from alembic import op
from flask import current_app

# revision identifiers, used by Alembic.
revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade():
    sites = op.create_table(
        "sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
        sa.UniqueConstraint("code", name=op.f("uq_sites_code")),
    )
    op.create_table(
        "user_sites",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_user_sites_site_id_sites"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_sites_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "site_id", name=op.f("pk_user_sites")),
    )  # fmt: skip
    op.create_index(op.f("ix_user_sites_site_id"), "user_sites", ["site_id"])
    config = current_app.config
    op.bulk_insert(
        sites,
        [
            {
                "code": "MAIN",
                "name": config.get("CLINIC_NAME") or "Main site",
                "address": config.get("CLINIC_ADDRESS") or None,
                "phone": config.get("CLINIC_PHONE") or None,
                "timezone": config.get("CLINIC_TIMEZONE") or "UTC",
            }
        ],
    )
    # The table holds that one site: every pharmacist and doctor works at it.
    op.execute(
        "INSERT INTO user_sites (user_id, site_id)"
        " SELECT users.id, sites.id FROM users CROSS JOIN sites WHERE users.role <> 'admin'"
    )


def downgrade():
    op.drop_index(op.f("ix_user_sites_site_id"), table_name="user_sites")
    op.drop_table("user_sites")
    op.drop_table("sites")

"""stock per site: every lot is on a site's shelves

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 21:00:00

Every existing lot goes to the clinic's first site (the lowest id, the one 0019 made), with
its movements untouched: a chain of one keeps its whole stock. A lot number is then unique per
site and product (the same supplier lot may sit at two sites, once at each), and the FEFO
index leads with the site, as FEFO, usable and low stock are read per site.

Low stock is per product and site: a reorder point per product and site
(`product_site_reorder_points`, the product's own where a site has none); an alert carries
its site (a lot's alerts, its lot's; low stock, the site short), and a low-stock alert is told
once per product and site while it stays short, the forecast's shortfall once per product.

Every course and session goes to the first site too: a session is at a site and consumes that
site's stock.

On SQLite the lots, courses and sessions tables are copied (batch mode) with foreign keys off (migrations/env.py).
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

STANDING = ("uq_alerts_standing_product_id_kind", ["product_id", "kind"],
            "lot_id IS NULL AND NOT resolved")
TOLD_ONCE = [
    ("uq_alerts_low_stock_product_id_site_id", ["product_id", "site_id"],
     "kind = 'low_stock' AND NOT resolved"),
    ("uq_alerts_shortfall_product_id", ["product_id"], "kind = 'shortfall' AND NOT resolved"),
]  # fmt: skip
FEFO = ["product_id", "status", "effective_expiry", "received_at", "quantity_on_hand"]


def upgrade():
    with op.batch_alter_table("lots") as batch:
        batch.add_column(sa.Column("site_id", sa.Integer(), nullable=True))
    op.execute("UPDATE lots SET site_id = (SELECT min(id) FROM sites)")
    with op.batch_alter_table("lots") as batch:
        batch.alter_column("site_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(
            op.f("fk_lots_site_id_sites"), "sites", ["site_id"], ["id"], ondelete="RESTRICT"
        )
        batch.drop_constraint("uq_lots_product_id_lot_number", type_="unique")
        batch.create_unique_constraint(
            op.f("uq_lots_site_id_product_id_lot_number"), ["site_id", "product_id", "lot_number"]
        )
        batch.drop_index("ix_lots_fefo_quantity")
        batch.create_index("ix_lots_fefo_quantity", ["site_id", *FEFO])
    op.create_table(
        "product_site_reorder_points",
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column("reorder_point", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "reorder_point >= 0",
            name=op.f("ck_product_site_reorder_points_reorder_point_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"],
            name=op.f("fk_product_site_reorder_points_product_id_products"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"],
            name=op.f("fk_product_site_reorder_points_site_id_sites"), ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("product_id", "site_id", name=op.f("pk_product_site_reorder_points")),
    )  # fmt: skip
    op.create_index(
        op.f("ix_product_site_reorder_points_site_id"), "product_site_reorder_points", ["site_id"]
    )
    for table in ("courses", "sessions"):
        _put_at_the_first_site(table)
    op.create_index("ix_sessions_site_id_scheduled_date", "sessions", ["site_id", "scheduled_date"])
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("site_id", sa.Integer(), nullable=True))
        batch.drop_index(STANDING[0])
    # Every alert so far is about the one site's stock, but the forecast's clinic-wide one.
    op.execute("UPDATE alerts SET site_id = (SELECT min(id) FROM sites) WHERE kind <> 'shortfall'")
    with op.batch_alter_table("alerts") as batch:
        for name, columns, where in TOLD_ONCE:
            batch.create_index(
                name, columns, unique=True,
                sqlite_where=sa.text(where), postgresql_where=sa.text(where),
            )  # fmt: skip


def _put_at_the_first_site(table: str) -> None:
    with op.batch_alter_table(table) as batch:
        batch.add_column(sa.Column("site_id", sa.Integer(), nullable=True))
    op.execute(f"UPDATE {table} SET site_id = (SELECT min(id) FROM sites)")
    with op.batch_alter_table(table) as batch:
        batch.alter_column("site_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(
            op.f(f"fk_{table}_site_id_sites"), "sites", ["site_id"], ["id"], ondelete="RESTRICT"
        )


def downgrade():
    # One standing low-stock alert per product again: the newest of a product's sites stands.
    op.execute(
        "UPDATE alerts SET resolved = true WHERE kind = 'low_stock' AND NOT resolved"
        " AND id < (SELECT max(newer.id) FROM alerts newer WHERE newer.kind = 'low_stock'"
        " AND newer.product_id = alerts.product_id AND NOT newer.resolved)"
    )
    with op.batch_alter_table("alerts") as batch:
        for name, _, _ in TOLD_ONCE:
            batch.drop_index(name)
        batch.drop_column("site_id")
        name, columns, where = STANDING
        batch.create_index(
            name, columns, unique=True,
            sqlite_where=sa.text(where), postgresql_where=sa.text(where),
        )  # fmt: skip
    op.drop_index("ix_sessions_site_id_scheduled_date", table_name="sessions")
    for table in ("sessions", "courses"):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(f"fk_{table}_site_id_sites", type_="foreignkey")
            batch.drop_column("site_id")
    op.drop_index(
        op.f("ix_product_site_reorder_points_site_id"), table_name="product_site_reorder_points"
    )
    op.drop_table("product_site_reorder_points")
    # Back to one shelf: refused (by the unique constraint) if a lot number is at two sites.
    with op.batch_alter_table("lots") as batch:
        batch.drop_index("ix_lots_fefo_quantity")
        batch.create_index("ix_lots_fefo_quantity", FEFO)
        batch.drop_constraint("uq_lots_site_id_product_id_lot_number", type_="unique")
        batch.create_unique_constraint("uq_lots_product_id_lot_number", ["product_id", "lot_number"])
        batch.drop_constraint("fk_lots_site_id_sites", type_="foreignkey")
        batch.drop_column("site_id")

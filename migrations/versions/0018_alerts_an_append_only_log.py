"""alerts: an append-only log told once on integer keys, with fewer indexes

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 20:00:00

A first scan over a large stock inserts one alert per lot due (180,000 at a million lots), and
each alert paid four foreign-key checks (row triggers on PostgreSQL: most of the scan's time),
a 120-character text key and three overlapping inbox indexes. Now:

- no foreign keys: the domain writes only ids it has just read, and nothing an alert names
  (product, lot, user, scan run) is ever deleted;
- `dedup_key` becomes three partial unique indexes on integer columns, one per way an alert is
  told once (a lot per threshold; a lot once expired, once recalled; a product while it stays
  short), and `resolved` marks a low-stock or shortfall alert whose product recovered (the
  old key's `:cleared:` suffix);
- the inbox keeps `ix_alerts_created_at_id` (0016) and one `(status, kind, created_at, id)`
  index in place of `(status, created_at)` and `(kind, status, created_at)`; what a scan run
  raised is found by its start (the `created_at` of its alerts) in the first, and
  `ix_alerts_scan_run_id` goes.

Every alert is kept; the downgrade writes the keys back from the columns.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

FOREIGN_KEYS = [
    # (name, column, referred table, on delete)
    ("fk_alerts_acknowledged_by_id_users", "acknowledged_by_id", "users", "SET NULL"),
    ("fk_alerts_lot_id_lots", "lot_id", "lots", "RESTRICT"),
    ("fk_alerts_product_id_products", "product_id", "products", "RESTRICT"),
    ("fk_alerts_scan_run_id_scan_runs", "scan_run_id", "scan_runs", "SET NULL"),
]
TOLD_ONCE = [
    # (index, columns, the alerts it holds), as inventory.alerts.models.TOLD_ONCE
    ("uq_alerts_expiring_lot_id_threshold_days", ["lot_id", "threshold_days"],
     "kind = 'expiring'"),
    ("uq_alerts_lot_once_lot_id_kind", ["lot_id", "kind"], "kind IN ('expired', 'recall')"),
    ("uq_alerts_standing_product_id_kind", ["product_id", "kind"],
     "lot_id IS NULL AND NOT resolved"),
]  # fmt: skip
OLD_INBOX = [
    ("ix_alerts_status_created_at", ["status", "created_at"]),
    ("ix_alerts_kind_status_created_at", ["kind", "status", "created_at"]),
]
NEW_INBOX = ("ix_alerts_status_kind_created_at_id", ["status", "kind", "created_at", "id"])
RUN_INDEX = ("ix_alerts_scan_run_id", ["scan_run_id"])
PRODUCT_KINDS = "('low_stock', 'shortfall')"


def _text(column: str) -> str:
    return f"CAST({column} AS VARCHAR)"


# The old key of each alert, from its columns (the downgrade).
OLD_KEY = (
    "CASE"
    f" WHEN kind = 'expiring' THEN 'expiring:' || {_text('lot_id')} || ':'"
    f" || {_text('threshold_days')}"
    f" WHEN kind IN ('expired', 'recall') THEN kind || ':' || {_text('lot_id')}"
    f" WHEN resolved THEN kind || ':' || {_text('product_id')} || ':cleared:' || {_text('id')}"
    f" ELSE kind || ':' || {_text('product_id')} END"
)


def upgrade():
    with op.batch_alter_table("alerts") as batch:
        for name, *_ in FOREIGN_KEYS:
            batch.drop_constraint(name, type_="foreignkey")
        batch.add_column(
            sa.Column("resolved", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    # A product-level alert whose key was released (`low_stock:12:cleared:345`) is resolved;
    # of several standing ones of a product and kind (keys of an older scan), the newest stands.
    op.execute(
        f"UPDATE alerts SET resolved = true WHERE kind IN {PRODUCT_KINDS}"
        " AND (dedup_key LIKE '%:cleared:%' OR id < (SELECT max(newer.id) FROM alerts newer"
        " WHERE newer.kind = alerts.kind AND newer.product_id = alerts.product_id"
        " AND newer.lot_id IS NULL AND newer.dedup_key NOT LIKE '%:cleared:%'))"
    )
    with op.batch_alter_table("alerts") as batch:
        batch.drop_constraint("uq_alerts_dedup_key", type_="unique")
        batch.drop_column("dedup_key")
        for name, _ in [*OLD_INBOX, RUN_INDEX]:
            batch.drop_index(name)
        batch.create_index(*NEW_INBOX)
        for name, columns, where in TOLD_ONCE:
            batch.create_index(
                name,
                columns,
                unique=True,
                sqlite_where=sa.text(where),
                postgresql_where=sa.text(where),
            )


def downgrade():
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("dedup_key", sa.String(length=120), nullable=True))
    op.execute(f"UPDATE alerts SET dedup_key = {OLD_KEY}")
    with op.batch_alter_table("alerts") as batch:
        batch.alter_column("dedup_key", existing_type=sa.String(length=120), nullable=False)
        batch.create_unique_constraint("uq_alerts_dedup_key", ["dedup_key"])
        for name, *_ in TOLD_ONCE:
            batch.drop_index(name)
        batch.drop_index(NEW_INBOX[0])
        for name, columns in [*OLD_INBOX, RUN_INDEX]:
            batch.create_index(name, columns)
        batch.drop_column("resolved")
        for name, column, table, ondelete in FOREIGN_KEYS:
            batch.create_foreign_key(name, table, [column], ["id"], ondelete=ondelete)

"""keyset pagination indexes

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 13:55:00

The long lists (lots by last day of use, alerts and the audit log newest first) page after a
cursor on (their order, id): each single-column index of that order becomes the composite one,
so that a page at any depth is one index range, and no index is added.

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

REPLACED = [
    # (table, old index, old columns, new index, new columns)
    ("lots", "ix_lots_effective_expiry", ["effective_expiry"],
     "ix_lots_effective_expiry_id", ["effective_expiry", "id"]),
    ("alerts", "ix_alerts_created_at", ["created_at"],
     "ix_alerts_created_at_id", ["created_at", "id"]),
    ("audit_log", "ix_audit_log_at", ["at"], "ix_audit_log_at_id", ["at", "id"]),
]  # fmt: skip


def upgrade():
    for table, old, _, new, columns in REPLACED:
        op.drop_index(old, table_name=table)
        op.create_index(new, table, columns)


def downgrade():
    for table, old, old_columns, new, _ in REPLACED:
        op.drop_index(new, table_name=table)
        op.create_index(old, table, old_columns)

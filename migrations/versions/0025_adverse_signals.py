"""adverse signals: an alert told once per lot and vigilance window; sessions by the day
they were performed

Revision ID: 0025
Revises: 0023
Create Date: 2026-12-06 22:00:00

An `adverse_signal` alert (clinic.vigilance) names the first day of the window whose sessions
reached the signal count (`window_start`; its length is the alert's `threshold_days`), and is
told once per lot and window by one more partial unique index of the alerts' TOLD_ONCE
pattern (0018). The side effects per serum, lot and month, and the signal's windows, read the
completed sessions by the day they were performed.

Existing alerts have no window; nothing else changes.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0025"
down_revision = "0023"
branch_labels = None
depends_on = None

# As inventory.alerts.models.TOLD_ONCE.
TOLD_ONCE = ("uq_alerts_adverse_signal_lot_id_window_start", ["lot_id", "window_start"],
             "kind = 'adverse_signal'")  # fmt: skip
PERFORMED = ("ix_sessions_status_performed_on", ["status", "performed_on"])


def upgrade():
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("window_start", sa.Date(), nullable=True))
        name, columns, where = TOLD_ONCE
        batch.create_index(
            name, columns, unique=True,
            sqlite_where=sa.text(where), postgresql_where=sa.text(where),
        )  # fmt: skip
    op.create_index(PERFORMED[0], "sessions", PERFORMED[1])


def downgrade():
    op.drop_index(PERFORMED[0], table_name="sessions")
    # The signals stay in the log, as alerts without their window.
    with op.batch_alter_table("alerts") as batch:
        batch.drop_index(TOLD_ONCE[0])
        batch.drop_column("window_start")

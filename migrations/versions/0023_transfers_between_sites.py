"""transfers between sites: a transfer from one site to another and its lines, each line
pointing at the lot it sends, the lot it arrived as, and its two ledger movements

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 21:45:00

New tables only: every lot and movement stays as it is. The movement kinds `transfer_out` and
`transfer_in` need no change to the movements table (its kind is a plain string column).
Downgrading is refused once a transfer has moved stock: the older code cannot read those
movements, and the ledger needs them.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "transfers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("from_site_id", sa.Integer(), nullable=False),
        sa.Column("to_site_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "shipped",
                "received",
                "cancelled",
                name="transferstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("shipped_by_id", sa.Integer(), nullable=True),
        sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("received_by_id", sa.Integer(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "from_site_id <> to_site_id", name=op.f("ck_transfers_between_two_sites")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_transfers_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["from_site_id"],
            ["sites.id"],
            name=op.f("fk_transfers_from_site_id_sites"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["received_by_id"],
            ["users.id"],
            name=op.f("fk_transfers_received_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["shipped_by_id"],
            ["users.id"],
            name=op.f("fk_transfers_shipped_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["to_site_id"],
            ["sites.id"],
            name=op.f("fk_transfers_to_site_id_sites"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfers")),
    )
    with op.batch_alter_table("transfers", schema=None) as batch_op:
        batch_op.create_index(
            "ix_transfers_from_site_id_status", ["from_site_id", "status"], unique=False
        )
        batch_op.create_index(
            "ix_transfers_to_site_id_status", ["to_site_id", "status"], unique=False
        )

    op.create_table(
        "transfer_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transfer_id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("received_quantity", sa.BigInteger(), nullable=True),
        sa.Column("short_reason", sa.Text(), nullable=True),
        sa.Column("received_lot_id", sa.Integer(), nullable=True),
        sa.Column("shipped_movement_id", sa.Integer(), nullable=True),
        sa.Column("received_movement_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_transfer_lines_quantity_positive")),
        sa.CheckConstraint(
            "received_quantity IS NULL"
            " OR (received_quantity >= 0 AND received_quantity <= quantity)",
            name=op.f("ck_transfer_lines_received_at_most_shipped"),
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["lots.id"], name=op.f("fk_transfer_lines_lot_id_lots"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["received_lot_id"],
            ["lots.id"],
            name=op.f("fk_transfer_lines_received_lot_id_lots"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["received_movement_id"],
            ["movements.id"],
            name=op.f("fk_transfer_lines_received_movement_id_movements"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["shipped_movement_id"],
            ["movements.id"],
            name=op.f("fk_transfer_lines_shipped_movement_id_movements"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["transfer_id"],
            ["transfers.id"],
            name=op.f("fk_transfer_lines_transfer_id_transfers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transfer_lines")),
        sa.UniqueConstraint(
            "received_movement_id", name=op.f("uq_transfer_lines_received_movement_id")
        ),
        sa.UniqueConstraint(
            "shipped_movement_id", name=op.f("uq_transfer_lines_shipped_movement_id")
        ),
        sa.UniqueConstraint("transfer_id", "lot_id", name="uq_transfer_lines_transfer_id_lot_id"),
    )
    with op.batch_alter_table("transfer_lines", schema=None) as batch_op:
        batch_op.create_index("ix_transfer_lines_lot_id", ["lot_id"], unique=False)
        batch_op.create_index(
            "ix_transfer_lines_received_lot_id", ["received_lot_id"], unique=False
        )


def downgrade():
    moved = op.get_bind().scalar(
        sa.text("SELECT count(*) FROM movements WHERE kind IN ('transfer_out', 'transfer_in')")
    )
    if moved:
        raise RuntimeError(
            f"{moved} ledger movements are transfers between sites: the version before 0023 "
            "cannot read them. Restore a backup taken before the upgrade instead."
        )
    with op.batch_alter_table("transfer_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_transfer_lines_received_lot_id")
        batch_op.drop_index("ix_transfer_lines_lot_id")

    op.drop_table("transfer_lines")
    with op.batch_alter_table("transfers", schema=None) as batch_op:
        batch_op.drop_index("ix_transfers_to_site_id_status")
        batch_op.drop_index("ix_transfers_from_site_id_status")

    op.drop_table("transfers")

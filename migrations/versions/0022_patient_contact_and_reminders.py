"""patient contact and reminders: a patient's e-mail, phone, language and consent to be
contacted; the reminders sent about sessions; attachments on outbox messages

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 21:00:00

Existing patients get no contact details, English, and no consent: nobody is written to until a
doctor records the patient's consent.

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column("phone", sa.String(length=40), nullable=True))
        batch_op.add_column(
            sa.Column(
                "language",
                sa.Enum("en", "fr", name="language", native_enum=False, length=5),
                server_default="en",
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column("contact_consent_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("contact_consent_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_patients_contact_consent_by_id_users"),
            "users",
            ["contact_consent_by_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_patients_consent_has_an_email"),
            "(contact_consent_at IS NULL) OR (email IS NOT NULL)",
        )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attachments", sa.JSON(), nullable=True))

    op.create_table(
        "sent_reminders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("day_before", "moved", "cancelled", "aftercare", name="reminderkind",
                    native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("session_date", sa.Date(), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column(
            "language",
            sa.Enum("en", "fr", name="language", native_enum=False, length=5),
            nullable=False,
        ),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"],
                                name=op.f("fk_sent_reminders_session_id_sessions"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["outbox_id"], ["outbox.id"],
                                name=op.f("fk_sent_reminders_outbox_id_outbox"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sent_reminders")),
        sa.UniqueConstraint("session_id", "kind", "session_date",
                            name="uq_sent_reminders_session_kind_date"),
    )  # fmt: skip
    with op.batch_alter_table("sent_reminders", schema=None) as batch_op:
        batch_op.create_index("ix_sent_reminders_session_date", ["session_date"], unique=False)


def downgrade():
    with op.batch_alter_table("sent_reminders", schema=None) as batch_op:
        batch_op.drop_index("ix_sent_reminders_session_date")
    op.drop_table("sent_reminders")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("attachments")
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_patients_consent_has_an_email"), type_="check")
        batch_op.drop_constraint(
            batch_op.f("fk_patients_contact_consent_by_id_users"), type_="foreignkey"
        )
        batch_op.drop_column("contact_consent_by_id")
        batch_op.drop_column("contact_consent_at")
        batch_op.drop_column("language")
        batch_op.drop_column("phone")
        batch_op.drop_column("email")

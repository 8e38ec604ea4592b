"""lots by storage: the lot list's storage filter, sorted by last day of use

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 12:00:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('lots', schema=None) as batch_op:
        batch_op.create_index(
            'ix_lots_storage_effective_expiry', ['storage', 'effective_expiry'], unique=False
        )


def downgrade():
    with op.batch_alter_table('lots', schema=None) as batch_op:
        batch_op.drop_index('ix_lots_storage_effective_expiry')

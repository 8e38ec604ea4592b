"""side effects entered in error; patients by birth date

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 11:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('side_effects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('entered_in_error_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('entered_in_error_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_side_effects_entered_in_error_by_id_users'), 'users', ['entered_in_error_by_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.create_index('ix_patients_birth_date', ['birth_date'], unique=False)


def downgrade():
    with op.batch_alter_table('patients', schema=None) as batch_op:
        batch_op.drop_index('ix_patients_birth_date')

    with op.batch_alter_table('side_effects', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_side_effects_entered_in_error_by_id_users'), type_='foreignkey')
        batch_op.drop_column('entered_in_error_by_id')
        batch_op.drop_column('entered_in_error_at')

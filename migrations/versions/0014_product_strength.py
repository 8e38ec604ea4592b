"""product strength: how much of its substance one unit of a component holds

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 07:30:00.000000

A component product may state its strength (250 mg/mL, 1000 IU/mL, 5 mg/vial), through which
compounding measures a formula's amount out of it.

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.add_column(sa.Column('strength_value', sa.Numeric(precision=18, scale=6), nullable=True))
        batch_op.add_column(sa.Column('strength_unit', sa.String(length=30), nullable=True))
        batch_op.create_check_constraint(
            op.f('ck_products_strength_value_and_unit'), '(strength_value IS NULL) = (strength_unit IS NULL)'
        )
        batch_op.create_check_constraint(
            op.f('ck_products_strength_positive'), 'strength_value IS NULL OR strength_value > 0'
        )
        batch_op.create_check_constraint(
            op.f('ck_products_strength_of_component'), "strength_value IS NULL OR kind = 'component'"
        )


def downgrade():
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_products_strength_of_component'), type_='check')
        batch_op.drop_constraint(op.f('ck_products_strength_positive'), type_='check')
        batch_op.drop_constraint(op.f('ck_products_strength_value_and_unit'), type_='check')
        batch_op.drop_column('strength_unit')
        batch_op.drop_column('strength_value')

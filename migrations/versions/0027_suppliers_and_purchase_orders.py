"""suppliers and purchase orders: suppliers and what each supplies (pack, price, GTIN),
purchase orders and their lines received against; a unit cost on products and lots; an alert
on a late purchase order

Revision ID: 0027
Revises: 0025
Create Date: 2026-12-06 21:44:39.221027

Existing products and lots get no unit cost (not known until their next receipt). The new
columns are added in place (no table copy on SQLite): `lots` may be large.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0027"
down_revision = "0025"
branch_labels = None
depends_on = None

LATE = "kind = 'purchase_order_late'"


def upgrade():
    op.create_table(
        "suppliers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=160), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("lead_time_days", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "lead_time_days >= 0 AND lead_time_days <= 365",
            name=op.f("ck_suppliers_lead_time_days_range"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppliers")),
        sa.UniqueConstraint("name", name=op.f("uq_suppliers_name")),
    )
    op.create_table(
        "purchase_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("supplier_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "submitted",
                "partly_received",
                "received",
                "cancelled",
                name="orderstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submitted_by_id", sa.Integer(), nullable=True),
        sa.Column("expected_on", sa.Date(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status = 'draft' OR status = 'cancelled' OR expected_on IS NOT NULL",
            name=op.f("ck_purchase_orders_submitted_with_an_expected_day"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_purchase_orders_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
            name=op.f("fk_purchase_orders_site_id_sites"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["submitted_by_id"],
            ["users.id"],
            name=op.f("fk_purchase_orders_submitted_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["supplier_id"],
            ["suppliers.id"],
            name=op.f("fk_purchase_orders_supplier_id_suppliers"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_orders")),
    )
    with op.batch_alter_table("purchase_orders", schema=None) as batch_op:
        batch_op.create_index("ix_purchase_orders_site_id_id", ["site_id", "id"], unique=False)
        batch_op.create_index(
            "ix_purchase_orders_status_expected_on", ["status", "expected_on"], unique=False
        )
        batch_op.create_index(
            "ix_purchase_orders_status_site_id_id", ["status", "site_id", "id"], unique=False
        )
        batch_op.create_index("ix_purchase_orders_supplier_id", ["supplier_id"], unique=False)

    op.create_table(
        "purchase_order_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purchase_order_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("received_quantity", sa.BigInteger(), nullable=False),
        sa.Column("unit_price", sa.BigInteger(), nullable=True),
        sa.Column("pack_size", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_purchase_order_lines_quantity_positive")),
        sa.CheckConstraint(
            "received_quantity >= 0",
            name=op.f("ck_purchase_order_lines_received_quantity_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_purchase_order_lines_product_id_products"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["purchase_order_id"],
            ["purchase_orders.id"],
            name=op.f("fk_purchase_order_lines_purchase_order_id_purchase_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_order_lines")),
        sa.UniqueConstraint(
            "purchase_order_id", "product_id", name="uq_purchase_order_lines_product"
        ),
    )
    with op.batch_alter_table("purchase_order_lines", schema=None) as batch_op:
        batch_op.create_index("ix_purchase_order_lines_product_id", ["product_id"], unique=False)

    op.create_table(
        "supplier_products",
        sa.Column("supplier_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("pack_size", sa.BigInteger(), nullable=False),
        sa.Column("unit_price", sa.BigInteger(), nullable=True),
        sa.Column("gtin", sa.String(length=14), nullable=True),
        sa.CheckConstraint("pack_size > 0", name=op.f("ck_supplier_products_pack_size_positive")),
        sa.CheckConstraint(
            "unit_price IS NULL OR unit_price >= 0",
            name=op.f("ck_supplier_products_unit_price_not_negative"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_supplier_products_product_id_products"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["supplier_id"],
            ["suppliers.id"],
            name=op.f("fk_supplier_products_supplier_id_suppliers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("supplier_id", "product_id", name=op.f("pk_supplier_products")),
    )
    with op.batch_alter_table("supplier_products", schema=None) as batch_op:
        batch_op.create_index("ix_supplier_products_product_id", ["product_id"], unique=False)

    op.add_column("alerts", sa.Column("purchase_order_id", sa.Integer(), nullable=True))
    op.create_index(
        "uq_alerts_purchase_order_late_purchase_order_id",
        "alerts",
        ["purchase_order_id"],
        unique=True,
        sqlite_where=sa.text(LATE),
        postgresql_where=sa.text(LATE),
    )
    op.add_column("lots", sa.Column("unit_cost", sa.BigInteger(), nullable=True))
    op.add_column("products", sa.Column("unit_cost", sa.BigInteger(), nullable=True))
    op.create_index("ix_movements_kind_created_at", "movements", ["kind", "created_at"])


def downgrade():
    op.drop_index("ix_movements_kind_created_at", table_name="movements")
    with op.batch_alter_table("products", schema=None) as batch_op:
        batch_op.drop_column("unit_cost")

    with op.batch_alter_table("lots", schema=None) as batch_op:
        batch_op.drop_column("unit_cost")

    # The alert kind goes with its table: a late order's alert would name a kind unknown here.
    op.execute("DELETE FROM alerts WHERE kind = 'purchase_order_late'")
    op.drop_index("uq_alerts_purchase_order_late_purchase_order_id", table_name="alerts")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_column("purchase_order_id")

    with op.batch_alter_table("supplier_products", schema=None) as batch_op:
        batch_op.drop_index("ix_supplier_products_product_id")

    op.drop_table("supplier_products")
    with op.batch_alter_table("purchase_order_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_purchase_order_lines_product_id")

    op.drop_table("purchase_order_lines")
    with op.batch_alter_table("purchase_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_purchase_orders_supplier_id")
        batch_op.drop_index("ix_purchase_orders_status_site_id_id")
        batch_op.drop_index("ix_purchase_orders_status_expected_on")
        batch_op.drop_index("ix_purchase_orders_site_id_id")

    op.drop_table("purchase_orders")
    op.drop_table("suppliers")

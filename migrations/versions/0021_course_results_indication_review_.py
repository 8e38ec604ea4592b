"""course results: the indication and review date of a course, assessments and scalp photos

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 09:00:00

A course treats androgenetic alopecia (every existing course: it was the only indication) or
postpartum hair loss, and is reviewed REVIEW_WEEKS_AFTER_FIRST_SESSION weeks (11 unless
configured) after its first session: existing courses get that date from their start date.
Assessments record a course's results at baseline, at the review and later, with their photos.

The weeks are read from the configuration here rather than from clinic.courses: a migration
does not import application code, which may change after it was written.

"""

import sqlalchemy as sa
from alembic import op
from flask import current_app

# revision identifiers, used by Alembic.
revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("courses", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "indication",
                sa.Enum(
                    "androgenetic_alopecia", "postpartum", name="indication",
                    native_enum=False, length=30,
                ),
                server_default="androgenetic_alopecia",
                nullable=False,
            )
        )  # fmt: skip
        batch_op.add_column(sa.Column("review_date", sa.Date(), nullable=True))
    days = 7 * int(current_app.config.get("REVIEW_WEEKS_AFTER_FIRST_SESSION") or 11)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"UPDATE courses SET review_date = start_date + {days}")
    else:
        op.execute(f"UPDATE courses SET review_date = date(start_date, '+{days} days')")
    with op.batch_alter_table("courses", schema=None) as batch_op:
        batch_op.alter_column("review_date", existing_type=sa.Date(), nullable=False)

    op.create_table(
        "assessments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("baseline", "review", "follow_up", name="assessmentkind",
                    native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("global_assessment", sa.Integer(), nullable=False),
        sa.Column("hair_loss_score", sa.Integer(), nullable=False),
        sa.Column("scalp_health_score", sa.Integer(), nullable=False),
        sa.Column("itching_score", sa.Integer(), nullable=False),
        sa.Column("hair_quality_score", sa.Integer(), nullable=False),
        sa.Column("pull_test_count", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "decision",
            sa.Enum("continue_maintenance", "stop", "change_serum", name="reviewdecision",
                    native_enum=False, length=30),
            nullable=True,
        ),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("global_assessment BETWEEN -3 AND 3",
                           name=op.f("ck_assessments_global_assessment_range")),
        sa.CheckConstraint("kind <> 'baseline' OR global_assessment = 0",
                           name=op.f("ck_assessments_baseline_is_the_reference")),
        sa.CheckConstraint("hair_loss_score BETWEEN 0 AND 10",
                           name=op.f("ck_assessments_hair_loss_score_range")),
        sa.CheckConstraint("scalp_health_score BETWEEN 0 AND 10",
                           name=op.f("ck_assessments_scalp_health_score_range")),
        sa.CheckConstraint("itching_score BETWEEN 0 AND 10",
                           name=op.f("ck_assessments_itching_score_range")),
        sa.CheckConstraint("hair_quality_score BETWEEN 0 AND 10",
                           name=op.f("ck_assessments_hair_quality_score_range")),
        sa.CheckConstraint("pull_test_count >= 0",
                           name=op.f("ck_assessments_pull_test_count_not_negative")),
        sa.CheckConstraint("decision IS NULL OR kind = 'review'",
                           name=op.f("ck_assessments_only_a_review_decides")),
        sa.ForeignKeyConstraint(["course_id"], ["courses.id"],
                                name=op.f("fk_assessments_course_id_courses"),
                                ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["decided_by_id"], ["users.id"],
                                name=op.f("fk_assessments_decided_by_id_users"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["recorded_by_id"], ["users.id"],
                                name=op.f("fk_assessments_recorded_by_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessments")),
    )  # fmt: skip
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.create_index("ix_assessments_course_id_date", ["course_id", "date"], unique=False)
        batch_op.create_index(
            "uq_assessments_one_baseline_per_course", ["course_id"], unique=True,
            sqlite_where=sa.text("kind = 'baseline'"),
            postgresql_where=sa.text("kind = 'baseline'"),
        )  # fmt: skip
        batch_op.create_index(
            "uq_assessments_one_review_per_course", ["course_id"], unique=True,
            sqlite_where=sa.text("kind = 'review'"),
            postgresql_where=sa.text("kind = 'review'"),
        )  # fmt: skip

    op.create_table(
        "assessment_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column(
            "view",
            sa.Enum("vertex", "frontal", "left", "right", name="photoview",
                    native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("media_type", sa.String(length=20), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=True),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("width > 0 AND height > 0",
                           name=op.f("ck_assessment_photos_size_positive")),
        sa.ForeignKeyConstraint(["assessment_id"], ["assessments.id"],
                                name=op.f("fk_assessment_photos_assessment_id_assessments"),
                                ondelete="RESTRICT"),
        sa.ForeignKeyConstraint(["uploaded_by_id"], ["users.id"],
                                name=op.f("fk_assessment_photos_uploaded_by_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assessment_photos")),
        sa.UniqueConstraint("assessment_id", "view",
                            name="uq_assessment_photos_assessment_view"),
    )  # fmt: skip


def downgrade():
    op.drop_table("assessment_photos")
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_assessments_one_review_per_course",
            sqlite_where=sa.text("kind = 'review'"),
            postgresql_where=sa.text("kind = 'review'"),
        )
        batch_op.drop_index(
            "uq_assessments_one_baseline_per_course",
            sqlite_where=sa.text("kind = 'baseline'"),
            postgresql_where=sa.text("kind = 'baseline'"),
        )
        batch_op.drop_index("ix_assessments_course_id_date")
    op.drop_table("assessments")
    with op.batch_alter_table("courses", schema=None) as batch_op:
        batch_op.drop_column("review_date")
        batch_op.drop_column("indication")

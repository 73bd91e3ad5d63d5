"""The open API: bases' tokens (stored hashed) and the completions pushed under a client's external id.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("base_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["base_id"], ["training_base.id"], name=op.f("fk_api_token_base_id_training_base"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["created_by_id"], ["user.id"], name=op.f("fk_api_token_created_by_id_user")),
        sa.ForeignKeyConstraint(["revoked_by_id"], ["user.id"], name=op.f("fk_api_token_revoked_by_id_user"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_token_token_hash")),
    )
    op.create_index(op.f("ix_api_token_base_id"), "api_token", ["base_id"], unique=False)
    op.create_index("uq_api_token_live_name", "api_token", ["base_id", "name"], unique=True,
                    sqlite_where=sa.text("revoked_at IS NULL"), postgresql_where=sa.text("revoked_at IS NULL"))
    op.create_table(
        "api_completion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("base_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("learner_id", sa.Integer(), nullable=False),
        sa.Column("enrollment_id", sa.Integer(), nullable=False),
        sa.Column("hours", sa.Integer(), nullable=False),
        sa.Column("item_digest", sa.String(length=64), nullable=False),
        sa.Column("token_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("hours > 0", name=op.f("ck_api_completion_hours_positive")),
        sa.ForeignKeyConstraint(["base_id"], ["training_base.id"],
                                name=op.f("fk_api_completion_base_id_training_base"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["course_id"], ["course.id"], name=op.f("fk_api_completion_course_id_course")),
        sa.ForeignKeyConstraint(["enrollment_id"], ["enrollment.id"],
                                name=op.f("fk_api_completion_enrollment_id_enrollment")),
        sa.ForeignKeyConstraint(["learner_id"], ["user.id"], name=op.f("fk_api_completion_learner_id_user")),
        sa.ForeignKeyConstraint(["token_id"], ["api_token.id"], name=op.f("fk_api_completion_token_id_api_token"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_completion")),
        sa.UniqueConstraint("base_id", "external_id", name="base_external_id"),
    )
    op.create_index(op.f("ix_api_completion_course_id"), "api_completion", ["course_id"], unique=False)
    op.create_index(op.f("ix_api_completion_learner_id"), "api_completion", ["learner_id"], unique=False)


def downgrade():
    op.drop_index(op.f("ix_api_completion_learner_id"), table_name="api_completion")
    op.drop_index(op.f("ix_api_completion_course_id"), table_name="api_completion")
    op.drop_table("api_completion")
    op.drop_index("uq_api_token_live_name", table_name="api_token")
    op.drop_index(op.f("ix_api_token_base_id"), table_name="api_token")
    op.drop_table("api_token")

"""Repeats of an audited event within a window are counted beside its entry, not written as new entries.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    # Not append-only like audit_log: the counter is the one thing that changes (services.audit).
    op.create_table(
        "audit_repeat",
        sa.Column("entry_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("window_start", sa.DateTime(), nullable=False),
        sa.Column("repeats", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_at", sa.DateTime(), nullable=False),
        # SET NULL, as audit_log.actor_id: an account deleted leaves the entry and its count, naming nobody.
        sa.ForeignKeyConstraint(["actor_id"], ["user.id"], name=op.f("fk_audit_repeat_actor_id_user"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["entry_id"], ["audit_log.id"], name=op.f("fk_audit_repeat_entry_id_audit_log")),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_audit_repeat")),
        # What the upsert's ON CONFLICT names: one entry per actor, action, subject and window.
        sa.UniqueConstraint("actor_id", "action", "subject", "window_start",
                            name="audit_repeat_actor_action_subject_window"),
    )


def downgrade():
    op.drop_table("audit_repeat")

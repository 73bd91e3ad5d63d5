"""The catalog's two statements served by indexes (issue 20, R1′).

- ix_course_start (start_date): the catalog's default order walks it and stops after a page, where it sorted
  every public course (the id that ends the order is in every index).
- ix_course_base_end gains status, after base_id and end_date: the catalog's count of public courses, current
  or all, reads it alone, without a visit to each course's row. The evaluation's per-base lookups by end date
  use it as before.

Downgrade puts the index back as it was and drops the new one.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('course', schema=None) as batch_op:
        batch_op.create_index('ix_course_start', ['start_date'], unique=False)
        batch_op.drop_index('ix_course_base_end')
        batch_op.create_index('ix_course_base_end', ['base_id', 'end_date', 'status'], unique=False)


def downgrade():
    with op.batch_alter_table('course', schema=None) as batch_op:
        batch_op.drop_index('ix_course_base_end')
        batch_op.create_index('ix_course_base_end', ['base_id', 'end_date'], unique=False)
        batch_op.drop_index('ix_course_start')

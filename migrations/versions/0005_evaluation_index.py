"""The annual evaluation's covering index: enrollments by course, status, learner and rating.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('enrollment', schema=None) as batch_op:
        batch_op.create_index('ix_enrollment_course_status_learner', ['course_id', 'status', 'learner_id', 'rating'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('enrollment', schema=None) as batch_op:
        batch_op.drop_index('ix_enrollment_course_status_learner')

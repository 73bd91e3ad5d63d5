"""A completion carries the date the learner completed (issue 14).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


COMPLETED_HAS_DATE = "status != 'completed' OR completed_on IS NOT NULL"
CHECK_NAME = "ck_enrollment_completed_has_date"
# A status no row holds outside this migration: completed rows wear it while their day is added (SQLite).
COMPLETING = "completing"

course = sa.table("course", sa.column("id", sa.Integer), sa.column("end_date", sa.Date))
enrollment = sa.table("enrollment", sa.column("id", sa.Integer), sa.column("course_id", sa.Integer),
                      sa.column("status", sa.String), sa.column("completed_on", sa.Date))
hours_record = sa.table("hours_record", sa.column("year", sa.Integer), sa.column("course_id", sa.Integer),
                        sa.column("enrollment_id", sa.Integer), sa.column("earned_on", sa.Date))


def _date_completions(status: str) -> None:
    """Existing completions meant the course's end: that is the day they are given."""
    op.execute(enrollment.update().where(enrollment.c.status == status).values(
        status="completed",
        completed_on=sa.select(course.c.end_date).where(course.c.id == enrollment.c.course_id).scalar_subquery()))


def upgrade():
    op.add_column("hours_record", sa.Column("earned_on", sa.Date(), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a CHECK only by rebuilding the table, which other tables' foreign keys to enrollment
        # forbid while they hold rows: the constraint comes with the column, which ADD COLUMN accepts (and
        # DROP COLUMN removes with it). ADD COLUMN tests it against every row, so the completed ones step
        # aside under another status until their day is written.
        op.execute(enrollment.update().where(enrollment.c.status == "completed").values(status=COMPLETING))
        op.execute(f"ALTER TABLE enrollment ADD COLUMN completed_on DATE CONSTRAINT {CHECK_NAME} "
                   f"CHECK ({COMPLETED_HAS_DATE})")
        _date_completions(COMPLETING)
    else:
        op.add_column("enrollment", sa.Column("completed_on", sa.Date(), nullable=True))
        _date_completions("completed")
        op.create_check_constraint(CHECK_NAME, "enrollment", COMPLETED_HAS_DATE)

    # A ledger row of a completion keeps its year when it is its day's (it always was: the year the course
    # ended), else it is re-booked to it. Declared hours have no day and keep the year declared.
    of_course = sa.select(course.c.end_date).where(course.c.id == hours_record.c.course_id).scalar_subquery()
    of_enrollment = (sa.select(enrollment.c.completed_on).where(enrollment.c.id == hours_record.c.enrollment_id)
                     .scalar_subquery())
    op.execute(hours_record.update().where(hours_record.c.course_id.is_not(None))
               .values(earned_on=sa.func.coalesce(of_enrollment, of_course)))
    booked = sa.cast(sa.extract("year", hours_record.c.earned_on), sa.Integer)
    op.execute(hours_record.update().where(hours_record.c.earned_on.is_not(None), hours_record.c.year != booked)
               .values(year=booked))

    # The evaluation's covering index gains the day, between the status and the learner.
    op.drop_index("ix_enrollment_course_status_learner", table_name="enrollment")
    op.create_index("ix_enrollment_course_status_completed_on", "enrollment",
                    ["course_id", "status", "completed_on", "learner_id", "rating"], unique=False)


def downgrade():
    # The ledger keeps the years it was booked in (what the notices require); only the days go.
    op.drop_index("ix_enrollment_course_status_completed_on", table_name="enrollment")
    op.create_index("ix_enrollment_course_status_learner", "enrollment",
                    ["course_id", "status", "learner_id", "rating"], unique=False)
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE enrollment DROP COLUMN completed_on")
        op.execute("ALTER TABLE hours_record DROP COLUMN earned_on")
    else:
        op.drop_constraint(CHECK_NAME, "enrollment", type_="check")
        op.drop_column("enrollment", "completed_on")
        op.drop_column("hours_record", "earned_on")

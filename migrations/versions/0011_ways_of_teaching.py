"""How a course is taken decides its enrollment window (issue 14).

course.mode names a way of teaching: face_to_face, blended, online_live or self_paced. Existing rows: offline
becomes face_to_face and blended stays (both enroll until the course starts); online becomes self_paced,
since the demo's and the notices' online courses are learning platforms taken at the learner's pace
(notice 004: 公需科目线上培训 on the bases' platforms), enrolling until the end of the window. A live online
course did not exist before, so none is made. course.enroll_until: a self-paced course's own deadline within
its window (NULL: its end date), for every existing row NULL.

Downgrade: online_live and self_paced go back to online, face_to_face to offline; the deadlines are lost.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


CHECK = "enroll_until IS NULL OR (mode = 'self_paced' AND enroll_until >= start_date AND enroll_until <= end_date)"
CHECK_NAME = "ck_course_enroll_until_in_window"

UPGRADE_MODES = {"offline": "face_to_face", "online": "self_paced"}
DOWNGRADE_MODES = {"face_to_face": "offline", "online_live": "online", "self_paced": "online"}


def _rename_modes(mapping: dict) -> None:
    course = sa.table("course", sa.column("mode", sa.String))
    for old, new in mapping.items():
        op.execute(course.update().where(course.c.mode == old).values(mode=new))


def upgrade():
    _rename_modes(UPGRADE_MODES)
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a CHECK only by rebuilding the table, which would drop the FTS triggers on course
        # (migration 0001): the constraint goes with the column instead, which ADD COLUMN accepts and DROP
        # COLUMN removes with it.
        op.execute(f"ALTER TABLE course ADD COLUMN enroll_until DATE CONSTRAINT {CHECK_NAME} CHECK ({CHECK})")
    else:
        op.add_column("course", sa.Column("enroll_until", sa.Date(), nullable=True))
        op.create_check_constraint(CHECK_NAME, "course", CHECK)


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE course DROP COLUMN enroll_until")
    else:
        op.drop_constraint(CHECK_NAME, "course", type_="check")
        op.drop_column("course", "enroll_until")
    _rename_modes(DOWNGRADE_MODES)

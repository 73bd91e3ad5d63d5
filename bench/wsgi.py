"""The app as gunicorn serves it in the benchmark, plus three routes that exist only here:

- /__floor__ returns a pre-rendered copy of the catalog page, the same bytes without the work: the
  framework's floor (R1);
- /__write_floor__/<course_id> (POST, form field ``learner``) does the durable writes of an enrollment and
  nothing else: one conditional UPDATE of the course's seat counter (a seat if one is free), one INSERT of
  the enrollment row (confirmed or waitlisted), COMMIT, with SQLAlchemy Core and no sign-in, session or
  CSRF token; answers 303 like the real route. The floor of R6 (issue 20): what the real enrollment would
  cost if the web around it were free. Each learner once per course (the partial unique index on live
  enrollments): a pair asked again is refused with 409;
- /__racy__/<course_id> enrolls the signed-in learner the naive way, checking for a free seat in one
  transaction and inserting in another after a short pause. The canary: the harness must see it overbook,
  or it could not see a race in the real enrollment either.
"""

import os
import random
import time
from pathlib import Path

import sqlalchemy as sa
from flask import abort, request
from flask_login import current_user

from app import create_app
from extensions import csrf, db
from models import Course, Enrollment, EnrollmentSource, EnrollmentStatus
from models._common import utcnow

app = create_app()
FLOOR = Path(os.environ["BENCH_FLOOR_FILE"]).read_bytes() if os.environ.get("BENCH_FLOOR_FILE") else b""


@app.route("/__floor__")
def floor():
    return FLOOR, 200, {"Content-Type": "text/html; charset=utf-8"}


COURSE, ENROLLMENT = Course.__table__, Enrollment.__table__
TAKE_SEAT = (sa.update(COURSE)
             .where(COURSE.c.id == sa.bindparam("course"),
                    sa.or_(COURSE.c.capacity.is_(None), COURSE.c.seats_taken < COURSE.c.capacity))
             .values(seats_taken=COURSE.c.seats_taken + 1))


@app.route("/__write_floor__/<int:course_id>", methods=["POST"])
@csrf.exempt
def write_floor(course_id: int):
    learner_id = request.form.get("learner", type=int)
    if learner_id is None:
        abort(400)
    now = utcnow()
    try:
        # On SQLite it begins IMMEDIATE, as a write must (a POST: blueprints.transactions.request_may_write).
        with db.engine.begin() as connection:
            seated = connection.execute(TAKE_SEAT, {"course": course_id}).rowcount == 1
            connection.execute(sa.insert(ENROLLMENT).values(
                course_id=course_id, learner_id=learner_id, source=EnrollmentSource.ONLINE,
                status=EnrollmentStatus.CONFIRMED if seated else EnrollmentStatus.WAITLISTED,
                created_at=now, confirmed_at=now if seated else None))
    except sa.exc.IntegrityError:
        abort(409)
    return "", 303, {"Location": f"/courses/{course_id}"}


@app.route("/__racy__/<int:course_id>", methods=["POST"])
def racy_enroll(course_id: int):
    if not current_user.is_authenticated:
        abort(403)
    capacity = db.session.scalar(sa.select(Course.capacity).where(Course.id == course_id))
    taken = db.session.scalar(sa.select(sa.func.count(Enrollment.id)).where(
        Enrollment.course_id == course_id, Enrollment.status == EnrollmentStatus.CONFIRMED))
    db.session.commit()
    # The window every check-then-insert has, made wide enough to hit every time: several times longer than
    # the rest of the request, so that while one worker waits here the others have read the same count.
    # Uneven, so that the workers do not fall into step and land exactly on the capacity. (A window of 2 to
    # 10 ms was once missed: the count came out at exactly the capacity and the canary failed in CI.)
    time.sleep(random.uniform(0.05, 0.15))
    status = EnrollmentStatus.CONFIRMED if taken < capacity else EnrollmentStatus.WAITLISTED
    db.session.add(Enrollment(course_id=course_id, learner_id=current_user.id, status=status))
    db.session.commit()
    return "", 303, {"Location": "/me/"}

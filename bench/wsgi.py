"""The app as gunicorn serves it in the benchmark, plus two routes that exist only here:

- /__floor__ returns a pre-rendered copy of the catalog page, the same bytes without the work: the
  framework's floor (R1, R6);
- /__racy__/<course_id> enrolls the signed-in learner the naive way, checking for a free seat in one
  transaction and inserting in another after a short pause. The canary: the harness must see it overbook,
  or it could not see a race in the real enrollment either.
"""

import os
import random
import time
from pathlib import Path

import sqlalchemy as sa
from flask import abort
from flask_login import current_user

from app import create_app
from extensions import db
from models import Course, Enrollment, EnrollmentStatus

app = create_app()
FLOOR = Path(os.environ["BENCH_FLOOR_FILE"]).read_bytes() if os.environ.get("BENCH_FLOOR_FILE") else b""


@app.route("/__floor__")
def floor():
    return FLOOR, 200, {"Content-Type": "text/html; charset=utf-8"}


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

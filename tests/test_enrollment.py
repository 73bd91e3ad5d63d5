"""Enrolling: seats, the FIFO waitlist, cancelling, completion and ratings, and the learner's dashboard."""

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from extensions import db
from models import (
    BaseStatus,
    Category,
    Course,
    CourseStatus,
    Enrollment,
    EnrollmentSource,
    EnrollmentStatus,
    HoursRecord,
    HoursSource,
    Notice,
    Role,
    User,
)
from models.enrollment import SEAT_HOLDING
from seeding import demo
from services import completions, enrollment
from services import courses as course_service
from services.errors import DomainError, NotAllowed
from services.infra import clock
from tests.conftest import login, page_queries

CONFIRMED, WAITLISTED = EnrollmentStatus.CONFIRMED, EnrollmentStatus.WAITLISTED
COMPLETED, CANCELLED = EnrollmentStatus.COMPLETED, EnrollmentStatus.CANCELLED


@pytest.fixture
def learners(make_user):
    def make(n, **kw):
        return [make_user(**kw) for _ in range(n)]

    return make


@pytest.fixture
def course(admin_and_base, make_course):
    return make_course(admin_and_base[1], capacity=1)


def at(monkeypatch, day: date) -> None:
    monkeypatch.setattr(clock, "today", lambda: day)


def status_of(enrollment_id: int) -> EnrollmentStatus:
    return db.session.scalar(sa.select(Enrollment.status).where(Enrollment.id == enrollment_id))


def enrollments_of(course_id: int) -> list[tuple[int, EnrollmentStatus]]:
    return db.session.execute(
        sa.select(Enrollment.learner_id, Enrollment.status).where(Enrollment.course_id == course_id)
        .order_by(Enrollment.id)
    ).all()


def seats(course_id: int) -> int:
    """The course's seat counter, checked against the seat-holding enrollments."""
    db.session.expire_all()
    taken = db.session.get(Course, course_id).seats_taken
    held = db.session.scalar(
        sa.select(sa.func.count(Enrollment.id)).where(Enrollment.course_id == course_id,
                                                      Enrollment.status.in_(SEAT_HOLDING))
    )
    assert taken == held, f"seats_taken {taken} but {held} confirmed or completed enrollments"
    return taken


def notices_of(user_id: int) -> list[str]:
    return db.session.execute(sa.select(Notice.message).where(Notice.user_id == user_id)).scalars().all()


def flashes(client) -> list[tuple[str, str]]:
    """The messages flashed since the last call (taken, so the next call starts afresh)."""
    with client.session_transaction() as session:
        return list(session.pop("_flashes", []))


def signed_in(client, user):
    assert login(client, user).status_code == 302
    flashes(client)  # the welcome message
    return client


# --- seats and the waitlist ------------------------------------------------------------------------------

def test_free_seat_confirms(learners, course):
    student, = learners(1)
    result = enrollment.enroll(student, course.id)
    assert result.position is None
    row = db.session.get(Enrollment, result.enrollment.id)
    assert (row.status, row.source, row.learner_id) == (CONFIRMED, EnrollmentSource.ONLINE, student.id)
    assert row.confirmed_at is not None
    assert seats(course.id) == 1


def test_full_course_puts_learners_on_waitlist_in_order(learners, course):
    first, *waiting = learners(4)
    assert enrollment.enroll(first, course.id).position is None
    results = [enrollment.enroll(student, course.id) for student in waiting]
    assert [r.position for r in results] == [1, 2, 3]
    assert [status_of(r.enrollment.id) for r in results] == [WAITLISTED] * 3
    assert [enrollment.waitlist_position(r.enrollment) for r in results] == [1, 2, 3]
    assert seats(course.id) == 1


def test_unlimited_course_never_waitlists(learners, admin_and_base, make_course):
    course = make_course(admin_and_base[1], capacity=None)
    assert [enrollment.enroll(s, course.id).position for s in learners(5)] == [None] * 5
    assert seats(course.id) == 5


def test_cancelling_a_seat_promotes_the_first_waitlisted(learners, course):
    holder, first, second, third = learners(4)
    held = enrollment.enroll(holder, course.id).enrollment
    waiting = [enrollment.enroll(s, course.id).enrollment for s in (first, second, third)]

    enrollment.cancel(holder, held.id)

    assert status_of(held.id) == CANCELLED
    assert db.session.get(Enrollment, held.id).cancelled_at is not None
    promoted = db.session.get(Enrollment, waiting[0].id)
    assert (promoted.status, promoted.confirmed_at is not None) == (CONFIRMED, True)
    assert notices_of(first.id) == [f"您在《{course.title}》的候补已转为正式报名，请按时参加培训。"]
    assert notices_of(second.id) == notices_of(third.id) == notices_of(holder.id) == []
    assert [enrollment.waitlist_position(db.session.get(Enrollment, e.id)) for e in waiting[1:]] == [1, 2]
    assert seats(course.id) == 1


def test_cancelling_a_waitlisted_place_moves_the_others_up_without_a_seat(learners, course):
    holder, first, second, third = learners(4)
    enrollment.enroll(holder, course.id)
    waiting = [enrollment.enroll(s, course.id).enrollment for s in (first, second, third)]
    enrollment.cancel(first, waiting[0].id)
    assert [status_of(e.id) for e in waiting] == [CANCELLED, WAITLISTED, WAITLISTED]
    assert [enrollment.waitlist_position(db.session.get(Enrollment, e.id)) for e in waiting[1:]] == [1, 2]
    assert all(notices_of(s.id) == [] for s in (holder, first, second, third))
    assert seats(course.id) == 1


@pytest.mark.parametrize("capacity", [1, None])
def test_enrolling_twice_is_refused(learners, admin_and_base, make_course, capacity):
    course = make_course(admin_and_base[1], capacity=capacity)
    student, other = learners(2)
    enrollment.enroll(other, course.id)
    enrollment.enroll(student, course.id)  # waitlisted when the capacity is 1
    with pytest.raises(enrollment.AlreadyEnrolled, match="您已报名该课程，无需重复报名"):
        enrollment.enroll(student, course.id)
    expected = CONFIRMED if capacity is None else WAITLISTED
    assert [s for learner_id, s in enrollments_of(course.id) if learner_id == student.id] == [expected]
    assert len(enrollments_of(course.id)) == 2
    seats(course.id)


def test_re_enrolling_after_cancelling_works(learners, course):
    student, = learners(1)
    first = enrollment.enroll(student, course.id).enrollment
    enrollment.cancel(student, first.id)
    assert seats(course.id) == 0
    again = enrollment.enroll(student, course.id)
    assert again.position is None and again.enrollment.id != first.id
    assert enrollments_of(course.id) == [(student.id, CANCELLED), (student.id, CONFIRMED)]
    assert seats(course.id) == 1


def test_cancelling_twice_or_after_start_is_refused(monkeypatch, learners, course):
    student, = learners(1)
    held = enrollment.enroll(student, course.id).enrollment
    today = clock.today()
    at(monkeypatch, course.start_date)
    with pytest.raises(DomainError, match="课程已开始，不能取消报名"):
        enrollment.cancel(student, held.id)
    assert status_of(held.id) == CONFIRMED
    at(monkeypatch, today)
    enrollment.cancel(student, held.id)
    with pytest.raises(DomainError, match="已取消"):
        enrollment.cancel(student, held.id)
    assert seats(course.id) == 0


def course_in_state(state, base, exited_base, make_course, today):
    if state == "exited":
        return make_course(exited_base)
    if state == "started_today":
        return make_course(base, start_date=today)
    if state == "started_yesterday":
        return make_course(base, start_date=today - timedelta(days=1), end_date=today + timedelta(days=1))
    return make_course(base, status=CourseStatus(state))


REFUSALS = [
    ("draft", "该课程未开放报名"),
    ("cancelled", "该课程未开放报名"),
    ("closed", "该课程已结束报名"),
    ("started_today", "课程已开始，不能再报名"),
    ("started_yesterday", "课程已开始，不能再报名"),
    ("exited", "该基地已退出，课程不再接受报名"),
]


@pytest.mark.parametrize(("state", "message"), REFUSALS)
def test_enrolling_in_a_course_that_is_not_open_is_refused(learners, admin_and_base, make_base, make_course,
                                                           state, message):
    course = course_in_state(state, admin_and_base[1], make_base(status=BaseStatus.EXITED), make_course,
                             clock.today())
    student, = learners(1)
    assert enrollment.availability(course).problem == message
    with pytest.raises(DomainError) as raised:
        enrollment.enroll(student, course.id)
    assert raised.value.message == message
    assert enrollments_of(course.id) == []
    assert seats(course.id) == 0


@pytest.mark.parametrize("role", [Role.BASE_ADMIN, Role.REGULATOR, Role.REVIEWER])
def test_only_learners_can_enroll(make_user, course, role):
    with pytest.raises(NotAllowed, match="只有专业技术人员账号可以报名课程"):
        enrollment.enroll(make_user(role), course.id)
    assert enrollments_of(course.id) == []
    assert seats(course.id) == 0


def test_enrolling_in_a_missing_course_is_a_lookup_error(learners):
    with pytest.raises(LookupError):
        enrollment.enroll(learners(1)[0], 999_999)


def test_raising_capacity_promotes_waitlisted_learners(learners, admin_and_base, course):
    admin, _base = admin_and_base
    holder, first, second, third = learners(4)
    enrollment.enroll(holder, course.id)
    waiting = [enrollment.enroll(s, course.id).enrollment for s in (first, second, third)]

    course_service.update_course(admin, db.session.get(Course, course.id), {"capacity": 3})

    assert [status_of(e.id) for e in waiting] == [CONFIRMED, CONFIRMED, WAITLISTED]
    assert len(notices_of(first.id)) == len(notices_of(second.id)) == 1
    assert notices_of(third.id) == []
    assert enrollment.waitlist_position(db.session.get(Enrollment, waiting[2].id)) == 1
    assert seats(course.id) == 3

    course_service.update_course(admin, db.session.get(Course, course.id), {"capacity": None})
    assert status_of(waiting[2].id) == CONFIRMED
    assert seats(course.id) == 4


def test_lowering_capacity_below_seats_taken_is_refused(learners, admin_and_base, make_course):
    admin, base = admin_and_base
    course = make_course(base, capacity=3)
    for student in learners(2):
        enrollment.enroll(student, course.id)
    with pytest.raises(DomainError, match="已有 2 人报名"):
        course_service.update_course(admin, db.session.get(Course, course.id), {"capacity": 1})
    assert seats(course.id) == 2
    assert db.session.get(Course, course.id).capacity == 3


def test_cancelling_the_course_cancels_enrollments_and_notifies(learners, admin_and_base, course):
    admin, _base = admin_and_base
    holder, waiting, gone_before = learners(3)
    enrollment.enroll(holder, course.id)
    enrollment.enroll(waiting, course.id)
    early = enrollment.enroll(gone_before, course.id).enrollment
    enrollment.cancel(gone_before, early.id)

    course_service.change_status(admin, db.session.get(Course, course.id), CourseStatus.CANCELLED, "讲师临时有事")

    assert {s for _lid, s in enrollments_of(course.id)} == {CANCELLED}
    expected = [f"《{course.title}》已被基地取消：讲师临时有事"]
    assert notices_of(holder.id) == expected
    assert notices_of(waiting.id) == expected
    assert notices_of(gone_before.id) == []
    assert seats(course.id) == 0
    assert db.session.get(Course, course.id).status == CourseStatus.CANCELLED


def test_seats_taken_matches_enrollments_after_every_operation(monkeypatch, learners, admin_and_base, make_course):
    admin, base = admin_and_base
    course = make_course(base, capacity=2)
    a, b, c, d, e = learners(5)
    ea = enrollment.enroll(a, course.id).enrollment
    assert seats(course.id) == 1
    eb = enrollment.enroll(b, course.id).enrollment
    assert seats(course.id) == 2
    ec = enrollment.enroll(c, course.id).enrollment
    ed = enrollment.enroll(d, course.id).enrollment
    assert seats(course.id) == 2
    enrollment.cancel(a, ea.id)  # c moves up
    assert seats(course.id) == 2 and status_of(ec.id) == CONFIRMED
    enrollment.cancel(d, ed.id)
    assert seats(course.id) == 2
    with pytest.raises(enrollment.AlreadyEnrolled):
        enrollment.enroll(b, course.id)
    assert seats(course.id) == 2
    ee = enrollment.enroll(e, course.id).enrollment
    course_service.update_course(admin, db.session.get(Course, course.id), {"capacity": 4})
    assert seats(course.id) == 3 and status_of(ee.id) == CONFIRMED
    enrollment.enroll(a, course.id)
    assert seats(course.id) == 4
    at(monkeypatch, course.start_date)
    completions.complete_enrollments(admin, db.session.get(Course, course.id), [eb.id, ec.id],
                                     course.start_date)
    assert seats(course.id) == 4
    course_service.change_status(admin, db.session.get(Course, course.id), CourseStatus.CANCELLED, "场地维修")
    assert seats(course.id) == 2  # the two completed learners keep their place in the record


# --- completion and rating -------------------------------------------------------------------------------

def completed_enrollment(monkeypatch, admin, course, student) -> Enrollment:
    row = enrollment.enroll(student, course.id).enrollment
    at(monkeypatch, course.start_date)
    completions.complete_enrollments(admin, db.session.get(Course, course.id), [row.id], course.start_date)
    return db.session.get(Enrollment, row.id)


def test_rating_is_refused_before_completion(learners, course):
    student, = learners(1)
    row = enrollment.enroll(student, course.id).enrollment
    with pytest.raises(DomainError, match="结业后才能评价课程"):
        enrollment.rate(student, row.id, 5, "很好")
    assert db.session.get(Enrollment, row.id).rating is None


@pytest.mark.parametrize("value", [0, 6, -1])
def test_rating_out_of_range_is_refused(monkeypatch, learners, admin_and_base, course, value):
    student, = learners(1)
    row = completed_enrollment(monkeypatch, admin_and_base[0], course, student)
    with pytest.raises(DomainError, match="评分应为 1 到 5 分"):
        enrollment.rate(student, row.id, value, "")
    assert db.session.get(Enrollment, row.id).rating is None


def test_rating_after_completion_is_saved_and_can_be_changed(monkeypatch, learners, admin_and_base, course):
    student, = learners(1)
    row = completed_enrollment(monkeypatch, admin_and_base[0], course, student)
    enrollment.rate(student, row.id, 3, "  还可以  ")
    enrollment.rate(student, row.id, 4, "讲得清楚")
    saved = db.session.get(Enrollment, row.id)
    assert (saved.rating, saved.rating_comment, saved.rated_at is not None) == (4, "讲得清楚", True)


def test_rating_someone_elses_enrollment_is_a_lookup_error(monkeypatch, learners, admin_and_base, course):
    student, other = learners(2)
    row = completed_enrollment(monkeypatch, admin_and_base[0], course, student)
    with pytest.raises(LookupError):
        enrollment.rate(other, row.id, 1, "")
    with pytest.raises(LookupError):
        enrollment.cancel(other, row.id)
    assert db.session.get(Enrollment, row.id).rating is None


# --- views -----------------------------------------------------------------------------------------------

def test_enroll_view_confirms_then_waitlists(app, learners, course):
    first, second = learners(2)
    one, two = signed_in(app.test_client(), first), signed_in(app.test_client(), second)

    response = one.post(f"/me/courses/{course.id}/enroll")
    assert response.status_code == 302 and response.headers["Location"] == f"/courses/{course.id}"
    assert flashes(one) == [("success", "报名成功，请按时参加培训")]

    two.post(f"/me/courses/{course.id}/enroll")
    assert flashes(two) == [("warning", "名额已满，您已进入候补名单，当前排第 1 位；有名额空出时将自动转为正式报名")]
    assert enrollments_of(course.id) == [(first.id, CONFIRMED), (second.id, WAITLISTED)]
    assert seats(course.id) == 1


def _transactions(engine, block) -> list[list[str]]:
    """The transactions run on SQLite inside ``block``: each the first words of its statements, from its
    BEGIN to its COMMIT or ROLLBACK."""
    runs: list[list[str]] = []

    def note(words: str) -> None:
        if words.startswith("BEGIN") or not runs:
            runs.append([])
        runs[-1].append(words)

    def before(conn, cursor, statement, parameters, context, executemany):
        note(" ".join(statement.split()[:3 if statement.startswith("INSERT") else 2]))

    listeners = [("before_cursor_execute", before), ("commit", lambda conn: note("COMMIT")),
                 ("rollback", lambda conn: note("ROLLBACK"))]
    for name, listener in listeners:
        sa.event.listen(engine, name, listener)
    try:
        block()
    finally:
        for name, listener in listeners:
            sa.event.remove(engine, name, listener)
    return runs


def test_enroll_view_holds_sqlites_write_lock_only_for_the_seat_and_the_row(app, learners, course):
    """Loading the user, the session and the CSRF check begin deferred, beside the writer; the write lock
    is taken once, for the course's read, the seat, the row and the commit (issue 20: under load enrollments
    queued for the lock while another request loaded its user). The waitlist position is read after it."""
    first, second = learners(2)
    one, two = signed_in(app.test_client(), first), signed_in(app.test_client(), second)
    course_id, first_id, second_id = course.id, first.id, second.id
    db.session.remove()
    runs = _transactions(db.engine, lambda: one.post(f"/me/courses/{course_id}/enroll"))
    waited = _transactions(db.engine, lambda: two.post(f"/me/courses/{course_id}/enroll"))
    locking = ["BEGIN IMMEDIATE", "SELECT course.id,", "UPDATE course", "INSERT INTO enrollment", "COMMIT"]
    for run, reads_after in ((runs, 0), (waited, 1)):
        writers = [t for t in run if t[0] == "BEGIN IMMEDIATE"]
        assert writers == [locking]
        before, after = run[:run.index(locking)], run[run.index(locking) + 1:]
        assert [t[0] for t in before] == ["BEGIN"] and before[0][1] == "SELECT user.id,"
        assert [t[0] for t in after] == ["BEGIN"] * reads_after, after
    assert enrollments_of(course_id) == [(first_id, CONFIRMED), (second_id, WAITLISTED)]
    assert seats(course_id) == 1


@pytest.mark.parametrize(("method", "path", "writer"), [
    ("POST", "/me/courses/1/enroll", False),  # writes only in enrollment.enroll's locked unit of work
    ("POST", "/me/enrollments/1/cancel", True),
    ("GET", "/me/", False),
    ("POST", "/no-such-page", True),
])
def test_a_request_that_may_write_begins_its_transactions_as_a_writer(app, method, path, writer):
    from blueprints.transactions import request_may_write

    with app.test_request_context(path, method=method):
        assert request_may_write() is writer


@pytest.mark.parametrize(("state", "message"), REFUSALS)
def test_enroll_view_refuses_with_the_reason(client, learners, admin_and_base, make_base, make_course,
                                             state, message):
    course = course_in_state(state, admin_and_base[1], make_base(status=BaseStatus.EXITED), make_course,
                             clock.today())
    signed_in(client, learners(1)[0])
    response = client.post(f"/me/courses/{course.id}/enroll")
    assert response.status_code == 302
    assert flashes(client) == [("danger", message)]
    assert enrollments_of(course.id) == []
    assert seats(course.id) == 0


def test_a_database_that_gives_up_on_the_transaction_gets_a_busy_page_not_a_500(client, learners, course,
                                                                                 monkeypatch):
    """A deadlock or SQLite's lock held too long is the server's moment, not the user's error: 503 with
    Retry-After and nothing saved. Any other database error is still a server error."""
    import psycopg.errors
    from sqlalchemy.exc import OperationalError

    def gives_up(error):
        def enroll(*_args, **_kwargs):
            db.session.add(Notice(user_id=student_id, message="写了一半"))
            db.session.flush()
            raise OperationalError("UPDATE course SET seats_taken=…", None, error)
        return enroll

    student = learners(1)[0]
    student_id = student.id
    signed_in(client, student)
    for error in (psycopg.errors.DeadlockDetected("deadlock detected"), Exception("database is locked")):
        monkeypatch.setattr(enrollment, "enroll", gives_up(error))
        response = client.post(f"/me/courses/{course.id}/enroll")
        assert response.status_code == 503 and response.headers["Retry-After"] == "1"
        assert "系统繁忙" in response.text
    assert enrollments_of(course.id) == [] and db.session.scalar(sa.select(sa.func.count(Notice.id))) == 0
    monkeypatch.setattr(enrollment, "enroll", gives_up(Exception("no such table: course")))
    with pytest.raises(OperationalError):  # the testing app lets a server error through instead of a 500
        client.post(f"/me/courses/{course.id}/enroll")


def test_enroll_view_twice_says_already_enrolled(client, learners, course):
    signed_in(client, learners(1)[0])
    client.post(f"/me/courses/{course.id}/enroll")
    assert flashes(client) == [("success", "报名成功，请按时参加培训")]
    client.post(f"/me/courses/{course.id}/enroll")
    assert flashes(client) == [("danger", "您已报名该课程，无需重复报名")]
    assert len(enrollments_of(course.id)) == 1


def test_enroll_view_is_for_learners_only(client, login_as, admin_and_base, course):
    assert client.post(f"/me/courses/{course.id}/enroll").status_code == 302  # to sign in
    login_as(admin_and_base[0])
    assert client.post(f"/me/courses/{course.id}/enroll").status_code == 403
    assert enrollments_of(course.id) == []


def test_enroll_view_unknown_course_is_404(client, login_as, learners):
    login_as(learners(1)[0])
    assert client.post("/me/courses/999999/enroll").status_code == 404


def test_cancel_view_cancels_own_enrollment(client, learners, course):
    student, waiting = learners(2)
    held = enrollment.enroll(student, course.id).enrollment
    queued = enrollment.enroll(waiting, course.id).enrollment
    signed_in(client, student)
    response = client.post(f"/me/enrollments/{held.id}/cancel")
    assert response.status_code == 302 and response.headers["Location"] == "/me/"
    assert flashes(client) == [("info", "已取消报名")]
    assert (status_of(held.id), status_of(queued.id)) == (CANCELLED, CONFIRMED)
    assert seats(course.id) == 1


def test_another_learners_enrollment_is_404_on_cancel_and_rate(monkeypatch, client, login_as, learners,
                                                               admin_and_base, make_course, course):
    owner, intruder = learners(2)
    done = completed_enrollment(monkeypatch, admin_and_base[0], course, owner)
    later = make_course(admin_and_base[1])  # starts ten days after the (moved) today
    held = enrollment.enroll(owner, later.id).enrollment
    login_as(intruder)
    for target in (held.id, done.id):
        assert client.post(f"/me/enrollments/{target}/cancel").status_code == 404
        assert client.get(f"/me/enrollments/{target}/rate").status_code == 404
        assert client.post(f"/me/enrollments/{target}/rate", data={"rating": "1"}).status_code == 404
    assert status_of(held.id) == CONFIRMED
    assert db.session.get(Enrollment, done.id).rating is None
    assert client.post("/me/enrollments/999999/cancel").status_code == 404


def test_rate_view_refuses_before_completion(client, login_as, learners, course):
    student, = learners(1)
    row = enrollment.enroll(student, course.id).enrollment
    login_as(student)
    response = client.post(f"/me/enrollments/{row.id}/rate", data={"rating": "5", "comment": "好"})
    assert '<div class="alert alert-danger" role="alert">结业后才能评价课程</div>' in response.text
    assert db.session.get(Enrollment, row.id).rating is None


@pytest.mark.parametrize("value", ["0", "6", "", "abc"])
def test_rate_view_refuses_values_outside_one_to_five(monkeypatch, client, login_as, learners, admin_and_base,
                                                      course, value):
    student, = learners(1)
    row = completed_enrollment(monkeypatch, admin_and_base[0], course, student)
    login_as(student)
    response = client.post(f"/me/enrollments/{row.id}/rate", data={"rating": value})
    assert response.status_code == 200
    assert 'class="invalid-feedback d-block"' in response.text
    # Each radio says it is invalid and points at the message (static/js/form-errors.js focuses the first).
    assert response.text.count('aria-describedby="rating-error"') == 5 and 'id="rating-error"' in response.text
    assert response.text.count('aria-invalid="true"') == 5
    assert db.session.get(Enrollment, row.id).rating is None


def test_ratings_average_is_shown_to_the_base_admin(monkeypatch, app, learners, admin_and_base, make_course):
    admin, base = admin_and_base
    course = make_course(base, capacity=5)
    students = learners(3)
    rows = [enrollment.enroll(s, course.id).enrollment for s in students]
    at(monkeypatch, course.start_date)
    completions.complete_enrollments(admin, db.session.get(Course, course.id), [r.id for r in rows],
                                     course.start_date)
    for student, row, stars in zip(students[:2], rows[:2], ("4", "5"), strict=True):
        learner_client = app.test_client()
        login(learner_client, student)
        response = learner_client.post(f"/me/enrollments/{row.id}/rate", data={"rating": stars, "comment": "不错"})
        assert response.status_code == 302

    admin_client = app.test_client()
    login(admin_client, admin)
    roster = admin_client.get(f"/manage/bases/{base.id}/courses/{course.id}/roster").text
    assert "学员评分 4.5（2 人评价）" in roster
    home = admin_client.get(f"/manage/bases/{base.id}").text
    assert re.search(r'4\.5 <span class="small text-muted">\(2\)</span>', home)


# --- the dashboard ---------------------------------------------------------------------------------------

@pytest.fixture
def guangzhou(app):
    return demo.seed_reference()["440100"]


def progress_lines(html: str, year: int) -> dict[str, tuple[int, int | None, int | None]]:
    """{label: (earned, required, missing or None when met)} from the year's hours card."""
    card = html[html.index(f'id="hours-{year}"'):]
    card = card[: card.index("</div></div>")]
    lines = {}
    for label, body in re.findall(r'data-label="([^"]+)">(.*?)<div class="progress"', card, re.S):
        earned = int(re.search(r'<span class="earned">(\d+)</span>', body).group(1))
        required = re.search(r"</span> / (\d+)", body)
        missing = re.search(r"还差 (\d+) 学时", body)
        lines[label] = (earned, int(required.group(1)) if required else None,
                        int(missing.group(1)) if missing else None)
    return lines


def test_dashboard_shows_hours_missing_days_left_and_waitlist(monkeypatch, client, login_as, make_user, learners,
                                                              admin_and_base, make_course, guangzhou):
    at(monkeypatch, date(2026, 3, 1))
    student = make_user(region_id=guangzhou.id)
    for year, category, amount in ((2026, Category.PUBLIC, 12), (2026, Category.PROFESSIONAL, 20),
                                   (2026, Category.PUBLIC, 6), (2025, Category.ELECTIVE, 18)):
        db.session.add(HoursRecord(learner_id=student.id, year=year, category=category, hours=amount,
                                   source=HoursSource.DECLARATION))
    db.session.commit()
    base = admin_and_base[1]
    full = make_course(base, capacity=1, title="急危重症护理新进展")
    holder, ahead = learners(2)
    enrollment.enroll(holder, full.id)
    enrollment.enroll(ahead, full.id)
    enrollment.enroll(student, full.id)
    enrollment.enroll(student, make_course(base, title="医院感染预防与控制").id)

    page = login_as(student).get("/me/").text

    assert progress_lines(page, 2026) == {
        "公需科目": (18, 30, 12), "专业科目": (20, 42, 22), "选修科目": (0, 18, 18), "合计": (38, 90, 52),
    }
    assert "距 12 月 31 日还有 305 天" in page
    waitlisted = page[page.index('id="waitlisted"'): page.index('id="completed"')]
    assert "急危重症护理新进展" in waitlisted and "候补第 2 位" in waitlisted
    upcoming = page[page.index('id="upcoming"'): page.index('id="waitlisted"')]
    assert "医院感染预防与控制" in upcoming and "急危重症护理新进展" not in upcoming
    assert "2025 年" in page  # last year's record is kept apart
    assert "广东省广州市" in page  # the learner's region, with its province


def test_dashboard_shows_promotion_notice(client, login_as, learners, course):
    holder, waiting = learners(2)
    held = enrollment.enroll(holder, course.id).enrollment
    enrollment.enroll(waiting, course.id)
    enrollment.cancel(holder, held.id)
    page = login_as(waiting).get("/me/").text
    assert f"您在《{course.title}》的候补已转为正式报名" in page
    client.post("/me/notices/read")
    assert "候补已转为正式报名" not in client.get("/me/").text


def dashboard_queries(app, user) -> list[str]:
    browser = app.test_client()
    login(browser, user)
    return page_queries(browser, "/me/")


def test_dashboard_query_count_does_not_grow_with_history(monkeypatch, app, make_user, learners, admin_and_base,
                                                          make_course, guangzhou):
    at(monkeypatch, date(2026, 6, 1))
    base = admin_and_base[1]
    small, big = make_user(region_id=guangzhou.id), make_user(region_id=guangzhou.id)
    other, = learners(1)

    course = make_course(base)
    db.session.add(Enrollment(course_id=course.id, learner_id=small.id, status=CONFIRMED))
    db.session.add(HoursRecord(learner_id=small.id, year=2026, category=Category.PUBLIC, hours=6,
                               source=HoursSource.DECLARATION))
    statuses = (COMPLETED, CONFIRMED, WAITLISTED)
    for n in range(40):
        course = make_course(base, start_date=date(2026, 6, 1) + timedelta(days=n - 20), capacity=1)
        if statuses[n % 3] == WAITLISTED:
            db.session.add(Enrollment(course_id=course.id, learner_id=other.id, status=CONFIRMED))
        db.session.add(Enrollment(course_id=course.id, learner_id=big.id, status=statuses[n % 3],
                                  completed_on=course.end_date if statuses[n % 3] == COMPLETED else None))
        db.session.add(HoursRecord(learner_id=big.id, year=2024 + n % 3, category=list(Category)[n % 3],
                                   hours=1 + n % 7, source=HoursSource.DECLARATION))
    db.session.commit()

    small_id, big_id = small.id, big.id
    few = dashboard_queries(app, db.session.get(User, small_id))
    many = dashboard_queries(app, db.session.get(User, big_id))
    assert len(few) == len(many), "\n".join(many)
    # The user, the hours by year with the rules and the region, the enrollments, the notices.
    assert len(many) <= 4, "\n".join(many)


def test_dashboard_is_for_learners_only(client, login_as, admin_and_base):
    assert client.get("/me/").status_code == 302
    login_as(admin_and_base[0])
    assert client.get("/me/").status_code == 403

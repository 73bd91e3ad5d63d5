"""Ways of teaching decide the enrollment window (issue 14, item 2): a self-paced course enrolls through its
window up to its deadline, a class (face to face or live) until it starts; every page and the API say which."""

import re
from datetime import date, timedelta

import flask_migrate
import pytest
import sqlalchemy as sa

from extensions import db
from models import Category, Course, CourseStatus, Enrollment, EnrollmentStatus, Mode, Role
from services import courses as course_service
from services import enrollment
from services.enrollment import Availability
from services.errors import DomainError
from services.infra import clock
from services.queries import catalog_pages
from tests.conftest import login

# December, as the issue tried it: a two-month public course running into January.
TODAY = date(2026, 12, 6)
CONFIRMED, WAITLISTED = EnrollmentStatus.CONFIRMED, EnrollmentStatus.WAITLISTED


@pytest.fixture(autouse=True)
def december(monkeypatch):
    monkeypatch.setattr(clock, "today", lambda: TODAY)


def at(monkeypatch, day: date) -> None:
    monkeypatch.setattr(clock, "today", lambda: day)


@pytest.fixture
def base(admin_and_base):
    return admin_and_base[1]


@pytest.fixture
def admin(admin_and_base):
    return admin_and_base[0]


@pytest.fixture
def self_paced(base, make_course):
    """An online public course on day 3 of its two months (2026-12-04 to 2027-01-31)."""
    return make_course(base, title="人工智能与健康", category=Category.PUBLIC, mode=Mode.SELF_PACED,
                       place="线上学习平台", capacity=None, start_date=TODAY - timedelta(days=2),
                       end_date=date(2027, 1, 31))


@pytest.fixture
def live(base, make_course):
    return make_course(base, title="直播讲座", category=Category.ELECTIVE, mode=Mode.ONLINE_LIVE, place="线上直播",
                       start_date=TODAY + timedelta(days=3), end_date=TODAY + timedelta(days=3))


def status_of(enrollment_id: int) -> EnrollmentStatus:
    return db.session.scalar(sa.select(Enrollment.status).where(Enrollment.id == enrollment_id))


# --- the service enforces the window ---------------------------------------------------------------------

def test_self_paced_course_accepts_enrollment_on_day_three_of_its_window(make_user, self_paced):
    result = enrollment.enroll(make_user(), self_paced.id)

    assert result.enrollment.status == CONFIRMED and result.position is None


def test_self_paced_course_accepts_enrollment_on_its_deadline_and_refuses_the_day_after(monkeypatch, make_user,
                                                                                        self_paced):
    self_paced.enroll_until = date(2027, 1, 20)
    db.session.commit()
    at(monkeypatch, date(2027, 1, 20))
    assert enrollment.enroll(make_user(), self_paced.id).enrollment.status == CONFIRMED

    at(monkeypatch, date(2027, 1, 21))
    with pytest.raises(DomainError, match="报名已于2027年1月20日截止"):
        enrollment.enroll(make_user(), self_paced.id)
    assert enrollment.availability(self_paced).state == Availability.DEADLINE_PASSED


def test_self_paced_course_without_a_deadline_enrolls_until_its_end_date(monkeypatch, make_user, self_paced):
    at(monkeypatch, self_paced.end_date)
    assert enrollment.enroll(make_user(), self_paced.id).enrollment.status == CONFIRMED

    at(monkeypatch, self_paced.end_date + timedelta(days=1))
    with pytest.raises(DomainError, match="课程已结束"):
        enrollment.enroll(make_user(), self_paced.id)


@pytest.mark.parametrize("mode", [Mode.ONLINE_LIVE, Mode.FACE_TO_FACE, Mode.BLENDED])
def test_a_class_enrolls_until_the_day_before_it_starts(monkeypatch, base, make_course, make_user, mode):
    course = make_course(base, mode=mode, start_date=TODAY + timedelta(days=3), end_date=TODAY + timedelta(days=20))
    at(monkeypatch, course.start_date - timedelta(days=1))
    assert enrollment.enroll(make_user(), course.id).enrollment.status == CONFIRMED

    at(monkeypatch, course.start_date)
    with pytest.raises(DomainError, match="课程已开始，不能再报名"):
        enrollment.enroll(make_user(), course.id)
    assert enrollment.availability(course).state == Availability.STARTED


def test_full_self_paced_course_waitlists_after_it_started(make_user, base, make_course):
    course = make_course(base, mode=Mode.SELF_PACED, capacity=1, start_date=TODAY - timedelta(days=5),
                         end_date=TODAY + timedelta(days=30))
    first, second = make_user(), make_user()

    assert enrollment.enroll(first, course.id).enrollment.status == CONFIRMED
    result = enrollment.enroll(second, course.id)

    assert result.enrollment.status == WAITLISTED and result.position == 1


def test_self_paced_learner_cancels_within_the_window_and_the_waitlist_moves_up(make_user, base, make_course):
    course = make_course(base, mode=Mode.SELF_PACED, capacity=1, start_date=TODAY - timedelta(days=5),
                         end_date=TODAY + timedelta(days=30))
    first, second = make_user(), make_user()
    held = enrollment.enroll(first, course.id).enrollment
    waiting = enrollment.enroll(second, course.id).enrollment

    enrollment.cancel(first, held.id)

    assert status_of(waiting.id) == CONFIRMED


def test_cancelling_after_a_self_paced_deadline_is_refused(monkeypatch, make_user, self_paced):
    learner = make_user()
    held = enrollment.enroll(learner, self_paced.id).enrollment
    at(monkeypatch, self_paced.end_date + timedelta(days=1))

    with pytest.raises(DomainError, match="报名已于2027年1月31日截止，不能取消报名"):
        enrollment.cancel(learner, held.id)
    assert status_of(held.id) == CONFIRMED


def test_nobody_is_promoted_from_the_waitlist_once_the_window_has_closed(monkeypatch, make_user, admin, base,
                                                                         make_course):
    course = make_course(base, mode=Mode.ONLINE_LIVE, place="线上直播", capacity=1,
                         start_date=TODAY + timedelta(days=2), end_date=TODAY + timedelta(days=2))
    enrollment.enroll(make_user(), course.id)
    waiting = enrollment.enroll(make_user(), course.id).enrollment
    at(monkeypatch, course.start_date)

    course_service.update_course(admin, db.session.get(Course, course.id), {"capacity": 2})

    assert status_of(waiting.id) == WAITLISTED


# --- the course rules: a deadline only for a self-paced course, within its window --------------------------

@pytest.mark.parametrize("deadline", [date(2026, 12, 3), date(2027, 2, 1)], ids=["before-start", "after-end"])
def test_a_deadline_outside_the_window_is_refused_on_its_field(admin, self_paced, deadline):
    with pytest.raises(DomainError, match="报名截止日期应在课程起止日期之内") as refused:
        course_service.update_course(admin, self_paced, {"enroll_until": deadline})

    assert refused.value.field == "enroll_until"
    db.session.rollback()
    assert db.session.get(Course, self_paced.id).enroll_until is None


def test_a_deadline_on_a_class_is_refused(admin, live):
    with pytest.raises(DomainError, match="只有线上自学的课程可以设报名截止日期") as refused:
        course_service.update_course(admin, live, {"enroll_until": live.start_date})

    assert refused.value.field == "enroll_until"


def test_a_course_that_stops_being_self_paced_drops_its_deadline(admin, self_paced):
    course_service.update_course(admin, self_paced, {"enroll_until": date(2027, 1, 10)})
    assert db.session.get(Course, self_paced.id).enroll_until == date(2027, 1, 10)

    course_service.update_course(admin, self_paced, {"mode": Mode.FACE_TO_FACE, "place": "培训楼 101",
                                                     "enroll_until": date(2027, 1, 10)})

    assert db.session.get(Course, self_paced.id).enroll_until is None


def test_the_database_refuses_a_deadline_outside_the_window(self_paced):
    with pytest.raises(sa.exc.IntegrityError, match="enroll_until_in_window"):
        db.session.execute(sa.update(Course).where(Course.id == self_paced.id).values(enroll_until=date(2027, 3, 1)))
    db.session.rollback()


def form_of(course: Course, **overrides) -> dict:
    data = {
        "title": course.title, "description": course.description, "category": course.category.value,
        "field": course.field, "hours": str(course.hours), "start_date": course.start_date.isoformat(),
        "end_date": course.end_date.isoformat(), "mode": course.mode.value, "place": course.place,
        "audience": course.audience, "capacity": "" if course.capacity is None else str(course.capacity),
        "fee": str(course.fee), "fee_standard": course.fee_standard, "contact_person": course.contact_person,
        "contact_phone": course.contact_phone, "open_to_city": "y", "project_type": course.project_type.value,
        "enroll_until": course.enroll_until.isoformat() if course.enroll_until else "",
    }
    data.update(overrides)
    return data


def test_the_course_form_shows_a_deadline_outside_the_window_beside_the_field(client, login_as, admin, base,
                                                                              self_paced):
    login_as(admin)
    url = f"/manage/bases/{base.id}/courses/{self_paced.id}/edit"

    response = client.post(url, data=form_of(self_paced, enroll_until="2027-02-15"))

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    field = html[html.index('name="enroll_until"'):]
    assert "报名截止日期应在课程起止日期之内" in field[:600]
    assert db.session.get(Course, self_paced.id).enroll_until is None


def test_the_course_form_saves_a_deadline_within_the_window(client, login_as, admin, base, self_paced):
    login_as(admin)
    url = f"/manage/bases/{base.id}/courses/{self_paced.id}/edit"

    response = client.post(url, data=form_of(self_paced, enroll_until="2027-01-15"))

    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Course, self_paced.id).enroll_until == date(2027, 1, 15)


API_COURSE = {
    "title": "数字经济与数字化转型", "category": "public", "field": "信息", "hours": 30,
    "start_date": "2026-12-01", "end_date": "2027-01-31", "mode": "self_paced", "audience": "全体专业技术人员",
    "contact_person": "李老师", "contact_phone": "028-61234567",
}


def test_api_creates_a_self_paced_course_with_a_deadline_and_shows_its_window(api, token_a):
    created = api.post("/api/v1/base/courses", json={**API_COURSE, "enroll_until": "2027-01-20"}, headers=token_a)

    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert (body["mode"], body["enroll_until"], body["place"]) == ("self_paced", "2027-01-20", "线上")
    assert body["enrollment_deadline"] == "2027-01-20"
    assert body["enrollment_status"] == "unavailable" and body["enrollment_open"] is False  # still a draft


@pytest.mark.parametrize(("extra", "message"), [
    ({"enroll_until": "2027-02-01"}, "报名截止日期应在课程起止日期之内"),
    ({"enroll_until": "2026-12-20", "mode": "online_live"}, "只有线上自学的课程可以设报名截止日期"),
], ids=["outside-window", "not-self-paced"])
def test_api_refuses_a_bad_deadline_with_a_problem_on_the_field(api, token_a, extra, message):
    response = api.post("/api/v1/base/courses", json={**API_COURSE, **extra}, headers=token_a)

    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    errors = response.get_json()["errors"]
    assert errors[0]["field"] == "/enroll_until" and message in errors[0]["message"]
    assert db.session.scalar(sa.select(sa.func.count(Course.id))) == 0


def test_api_patch_outside_the_window_is_a_400_and_changes_nothing(api, token_a, self_paced):
    response = api.patch(f"/api/v1/base/courses/{self_paced.id}", json={"enroll_until": "2027-03-01"},
                         headers=token_a)

    assert response.status_code == 400
    assert response.get_json()["errors"][0]["field"] == "/enroll_until"
    db.session.expire_all()
    assert db.session.get(Course, self_paced.id).enroll_until is None


def test_api_course_shows_the_state_the_pages_show(api, self_paced, live, base, make_course):
    full = make_course(base, title="已满的课", capacity=1, seats_taken=1)

    shown = {c["id"]: c for c in api.get("/api/v1/courses?per_page=100").get_json()["items"]}

    assert shown[self_paced.id]["enrollment_status"] == "open" and shown[self_paced.id]["enrollment_open"]
    assert shown[self_paced.id]["enrollment_deadline"] == "2027-01-31"
    assert shown[live.id]["enrollment_deadline"] == (live.start_date - timedelta(days=1)).isoformat()
    assert shown[full.id]["enrollment_status"] == "waitlist" and shown[full.id]["enrollment_open"]


# --- every page tells the truth, from the one rule ----------------------------------------------------

@pytest.fixture
def cases(base, make_course, make_base, self_paced):
    """One public course in each state a learner meets, by title."""
    soon = TODAY + timedelta(days=5)
    made = {
        "self-paced-day-3": self_paced,
        "self-paced-past-deadline": make_course(
            base, title="截止了的自学课", mode=Mode.SELF_PACED, place="线上", capacity=None,
            start_date=TODAY - timedelta(days=20), end_date=TODAY + timedelta(days=20),
            enroll_until=TODAY - timedelta(days=1)),
        "live-started": make_course(
            base, title="开了课的直播", mode=Mode.ONLINE_LIVE, place="线上直播", capacity=200,
            start_date=TODAY - timedelta(days=1), end_date=TODAY + timedelta(days=2)),
        "face-to-face-open": make_course(base, title="可报名的面授课", capacity=40, seats_taken=3, start_date=soon),
        "full-with-waitlist": make_course(base, title="满员的面授课", capacity=2, seats_taken=2, start_date=soon),
        "plan-pending": make_course(base, title="待批计划的面授课", capacity=40, start_date=soon, plan_status=None),
        "closed": make_course(base, title="结束报名的课", capacity=40, start_date=soon, status=CourseStatus.CLOSED),
    }
    return made


EXPECTED = {
    "self-paced-day-3": ("open", "报名中（截止 2027年1月31日）"),
    "self-paced-past-deadline": ("deadline_passed", "报名已于 2026年12月5日 截止"),
    "live-started": ("started", "已开课"),
    "face-to-face-open": ("open", "报名中（截止 2026年12月10日）"),
    "full-with-waitlist": ("waitlist", "已满（可候补，截止 2026年12月10日）"),
    "plan-pending": ("plan_pending", "办班计划待批准"),
    "closed": ("closed", "已结束报名"),
}


def card_statuses(html: str) -> dict[str, tuple[str, str]]:
    """Each card's title with its enrollment status: the state and the words shown."""
    found = {}
    for card in html.split('class="card course-card')[1:]:
        title = re.search(r'<h\d class="h5 card-title"><a [^>]*>(.*?)</a>', card).group(1)
        state, words = re.search(r'data-availability="([a-z_]+)">(.*?)</span>\s*</li>', card, re.S).groups()
        found[title] = (state, re.sub(r"<[^>]+>", "", words).strip())
    return found


def test_catalog_cards_show_each_course_state_and_seats_only_where_one_can_enroll(client, cases):
    html = client.get("/courses?include_past=y").get_data(as_text=True)
    shown = card_statuses(html)

    for name, course in cases.items():
        state, words = shown[course.title]
        assert state == EXPECTED[name][0], name
        assert words.startswith(EXPECTED[name][1]), (name, words)
        assert ("余" in words) == (name == "face-to-face-open"), (name, words)
    assert shown["开了课的直播"][1] == "已开课"  # 200 seats free, and no green count of them


def test_home_page_shows_the_same_states(client, cases):
    shown = card_statuses(client.get("/").get_data(as_text=True))

    assert shown  # the home page lists the next six courses by start date
    for title, (state, words) in shown.items():
        name = next(n for n, c in cases.items() if c.title == title)
        assert (state, words[: len(EXPECTED[name][1])]) == EXPECTED[name], name


def test_base_page_shows_the_same_states(client, cases, base):
    shown = card_statuses(client.get(f"/bases/{base.id}").get_data(as_text=True))

    assert {title: state for title, (state, _w) in shown.items()} == {
        c.title: EXPECTED[n][0] for n, c in cases.items()}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_course_page_shows_the_state_and_offers_enrollment_only_when_open(app, cases, make_user, name):
    course = cases[name]
    client = app.test_client()
    assert login(client, make_user(Role.LEARNER)).status_code == 302

    html = client.get(f"/courses/{course.id}").get_data(as_text=True)

    state = re.search(r'data-availability="([a-z_]+)"', html).group(1)
    assert state == EXPECTED[name][0]
    button = re.search(r'<button class="btn btn-primary w-100" type="submit">(.*?)</button>', html)
    if state == "open":
        assert button.group(1) == "在线报名"
    elif state == "waitlist":
        assert button.group(1) == "名额已满，加入候补"
    else:
        assert button is None
        assert enrollment.availability(course).problem in html


def test_self_paced_course_page_enrolls_on_day_three(app, self_paced, make_user):
    learner = make_user(Role.LEARNER)
    client = app.test_client()
    assert login(client, learner).status_code == 302

    response = client.post(f"/me/courses/{self_paced.id}/enroll", data={})

    assert response.status_code in (302, 303)
    assert db.session.scalar(sa.select(Enrollment.status).where(Enrollment.learner_id == learner.id)) == CONFIRMED


# --- the catalog's filter agrees with the rule ---------------------------------------------------------

@pytest.mark.parametrize("day_offset", [-30, -1, 0, 1, 40, 70])
def test_enrollable_filter_lists_exactly_the_courses_the_rule_opens(monkeypatch, cases, day_offset):
    day = TODAY + timedelta(days=day_offset)
    at(monkeypatch, day)
    courses = db.session.execute(sa.select(Course)).scalars().all()
    by_rule = {c.id for c in courses if enrollment.availability(c, day).can_enroll}
    with_seat = {c.id for c in courses if enrollment.availability(c, day).state == Availability.OPEN}

    listed = catalog_pages.search_courses(catalog_pages.CourseFilters(enrollable=True, include_past=True), 100).items
    seated = catalog_pages.search_courses(catalog_pages.CourseFilters(has_seats=True, include_past=True), 100).items

    assert {c.id for c in listed} == by_rule
    assert {c.id for c in seated} == with_seat


def test_catalog_form_offers_the_enrollable_filter(client, cases):
    html = client.get("/courses?enrollable=y").get_data(as_text=True)

    assert set(card_statuses(html)) == {"人工智能与健康", "可报名的面授课", "满员的面授课"}


# --- migration 0011 ------------------------------------------------------------------------------------

def test_migration_turns_online_into_self_paced_and_back(app, base, make_course):
    made = {mode: make_course(base, mode=mode, place="某地").id for mode in Mode}
    deadline = db.session.get(Course, made[Mode.SELF_PACED])
    deadline.enroll_until = deadline.start_date
    db.session.commit()
    db.session.close()

    flask_migrate.downgrade(revision="0010")
    old = dict(db.session.execute(sa.text("SELECT id, mode FROM course")).all())
    columns = {c["name"] for c in sa.inspect(db.engine).get_columns("course")}
    db.session.close()
    flask_migrate.upgrade()
    new = dict(db.session.execute(sa.text("SELECT id, mode FROM course")).all())

    assert "enroll_until" not in columns
    assert {mode: old[i] for mode, i in made.items()} == {
        Mode.FACE_TO_FACE: "offline", Mode.BLENDED: "blended", Mode.ONLINE_LIVE: "online", Mode.SELF_PACED: "online"}
    assert {mode: new[i] for mode, i in made.items()} == {
        Mode.FACE_TO_FACE: "face_to_face", Mode.BLENDED: "blended", Mode.ONLINE_LIVE: "self_paced",
        Mode.SELF_PACED: "self_paced"}
    assert db.session.scalar(sa.select(sa.func.count()).where(Course.enroll_until.is_not(None))) == 0


def test_a_waitlisted_learner_may_give_up_the_place_after_the_window_closed(monkeypatch, make_user, base,
                                                                           make_course):
    course = make_course(base, capacity=1, start_date=TODAY + timedelta(days=2), end_date=TODAY + timedelta(days=3))
    enrollment.enroll(make_user(), course.id)
    learner = make_user()
    waiting = enrollment.enroll(learner, course.id).enrollment
    at(monkeypatch, course.start_date)

    enrollment.cancel(learner, waiting.id)

    assert status_of(waiting.id) == EnrollmentStatus.CANCELLED


def test_dashboard_offers_cancelling_a_self_paced_course_until_its_deadline(monkeypatch, app, make_user, self_paced):
    learner = make_user(Role.LEARNER)
    held = enrollment.enroll(learner, self_paced.id).enrollment
    client = app.test_client()
    assert login(client, learner).status_code == 302
    cancel = f"/me/enrollments/{held.id}/cancel"

    assert cancel in client.get("/me/").get_data(as_text=True)  # day 3 of its window
    at(monkeypatch, self_paced.end_date + timedelta(days=1))
    assert cancel not in client.get("/me/").get_data(as_text=True)

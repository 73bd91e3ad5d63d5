"""Base admin views: creating, editing, publishing and cancelling courses, and the base's disclosure."""

import re
from datetime import timedelta
from decimal import Decimal
from io import BytesIO

import pytest
import sqlalchemy as sa
from PIL import Image as PILImage

from extensions import db
from models import AuditLog, BaseStatus, Category, Course, CourseStatus, Image, Mode, Role
from services.infra import clock

# --- helpers --------------------------------------------------------------------------------------------

def cover_jpeg() -> tuple[BytesIO, str]:
    out = BytesIO()
    PILImage.new("RGB", (800, 600), (30, 120, 200)).save(out, "JPEG")
    out.seek(0)
    return out, "cover.jpg"


def new_course_form(**overrides) -> dict:
    start = clock.today() + timedelta(days=10)
    data = {
        "title": "急危重症护理新进展", "description": "重症监护、气道管理与血流动力学监测的护理要点。",
        "category": "professional", "field": "卫生", "hours": "16", "start_date": start.isoformat(),
        "end_date": (start + timedelta(days=1)).isoformat(), "mode": "face_to_face", "place": "培训楼 101",
        "audience": "护理人员", "capacity": "40", "fee": "300", "fee_standard": "每人 300 元（含资料费）",
        "contact_person": "张老师", "contact_phone": "028-61234567", "open_to_city": "y",
    }
    data.update(overrides)
    return data


def edit_form(course: Course, **overrides) -> dict:
    """The course form as the edit page would submit it unchanged, with ``overrides`` typed in."""
    data = {
        "title": course.title, "description": course.description, "category": course.category.value,
        "field": course.field, "hours": str(course.hours), "start_date": course.start_date.isoformat(),
        "end_date": course.end_date.isoformat(), "mode": course.mode.value, "place": course.place,
        "audience": course.audience, "capacity": "" if course.capacity is None else str(course.capacity),
        "fee": str(course.fee), "fee_standard": course.fee_standard, "contact_person": course.contact_person,
        "contact_phone": course.contact_phone,
    }
    if course.open_to_city:
        data["open_to_city"] = "y"
    data.update(overrides)
    return data


def errors_next_to(html: str, name: str) -> list[str]:
    """The error messages the form macro renders after the control named ``name`` (before the next field)."""
    start = html.index(f'name="{name}"')
    tag = html[html.rindex("<", 0, start): html.index(">", start)]
    following = re.search(r'class="form-label"|<button', html[start:])
    segment = html[start: start + following.start()] if following else html[start:]
    errors = re.findall(r'class="invalid-feedback[^"]*">(.*?)</div>', segment, re.S)
    if errors:
        assert "is-invalid" in tag, "the control itself should be marked invalid"
    return errors


def flashed(html: str, category: str = "danger") -> list[str]:
    return re.findall(rf'<div class="alert alert-{category}" role="alert">(.*?)</div>', html, re.S)


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def changes_recorded() -> int:
    """Audit entries of changes (sign-ins and refusals are audited too, and are not changes)."""
    return db.session.scalar(sa.select(sa.func.count(AuditLog.id)).where(~AuditLog.action.startswith("auth.")))


def audit_rows(action: str) -> list[AuditLog]:
    return db.session.execute(sa.select(AuditLog).filter_by(action=action).order_by(AuditLog.id)).scalars().all()


def reload(obj):
    db.session.expire_all()
    return db.session.get(type(obj), obj.id)


# --- the course life cycle -------------------------------------------------------------------------------

def test_course_created_through_the_form_is_a_draft_with_its_fields_and_audit_row(admin_and_base, login_as):
    admin, base = admin_and_base
    client = login_as(admin)
    form = new_course_form()

    response = client.post(f"/manage/bases/{base.id}/courses/new", data={**form, "cover": cover_jpeg()})

    course = db.session.execute(sa.select(Course)).scalar_one()
    assert response.status_code == 302
    assert response.location == f"/manage/bases/{base.id}/courses/{course.id}/edit"
    assert course.status == CourseStatus.DRAFT
    assert course.published_at is None
    assert (course.base_id, course.created_by_id) == (base.id, admin.id)
    assert course.title == form["title"] and course.description == form["description"]
    assert (course.category, course.field, course.mode) == (Category.PROFESSIONAL, "卫生", Mode.FACE_TO_FACE)
    assert (course.hours, course.capacity, course.fee) == (16, 40, Decimal("300"))
    assert course.start_date.isoformat() == form["start_date"] and course.end_date.isoformat() == form["end_date"]
    assert (course.place, course.audience, course.contact_phone) == ("培训楼 101", "护理人员", "028-61234567")
    assert course.open_to_city is True
    assert course.cover is not None and course.cover.content_type == "image/jpeg"
    [entry] = audit_rows("course.create")
    assert (entry.actor_id, entry.object_type, entry.object_id) == (admin.id, "course", course.id)
    assert entry.base_id == base.id
    assert "课程已保存为草稿" in client.get(response.location).get_data(as_text=True)
    # A draft is not public yet.
    assert client.get(f"/courses/{course.id}").status_code == 404


def test_publish_then_unpublish_shows_and_hides_the_course(admin_and_base, login_as, make_course):
    admin, base = admin_and_base
    course = make_course(base, title="院前急救与心肺复苏规范化培训", status=CourseStatus.DRAFT)
    client = login_as(admin)
    status_url = f"/manage/bases/{base.id}/courses/{course.id}/status"

    response = client.post(status_url, data={"status": "published"}, follow_redirects=True)

    assert "课程状态已改为“已发布”" in "".join(flashed(response.get_data(as_text=True), "success"))
    course = reload(course)
    assert course.status == CourseStatus.PUBLISHED and course.published_at is not None
    assert client.get(f"/courses/{course.id}").status_code == 200
    assert "院前急救与心肺复苏规范化培训" in client.get("/courses").get_data(as_text=True)
    assert [row.details for row in audit_rows("course.published")] == [{"status": ["draft", "published"]}]

    client.post(status_url, data={"status": "draft"})

    assert reload(course).status == CourseStatus.DRAFT
    assert client.get(f"/courses/{course.id}").status_code == 404
    assert "院前急救与心肺复苏规范化培训" not in client.get("/courses").get_data(as_text=True)


@pytest.mark.parametrize("reason", ["", "   "])
def test_cancel_without_reason_changes_nothing_and_says_why(admin_and_base, login_as, make_course, reason):
    admin, base = admin_and_base
    course = make_course(base)
    client = login_as(admin)

    response = client.post(
        f"/manage/bases/{base.id}/courses/{course.id}/cancel", data={"reason": reason}, follow_redirects=True
    )

    assert "请填写取消原因" in "".join(flashed(response.get_data(as_text=True)))
    course = reload(course)
    assert course.status == CourseStatus.PUBLISHED and course.cancel_reason == ""
    assert audit_rows("course.cancelled") == []


def test_cancelled_course_keeps_its_reason_and_cannot_be_published_again(admin_and_base, login_as, make_course):
    admin, base = admin_and_base
    course = make_course(base)
    client = login_as(admin)

    client.post(f"/manage/bases/{base.id}/courses/{course.id}/cancel", data={"reason": "报名人数不足"})

    course = reload(course)
    assert course.status == CourseStatus.CANCELLED and course.cancel_reason == "报名人数不足"
    assert client.get(f"/courses/{course.id}").status_code == 404
    [entry] = audit_rows("course.cancelled")
    assert entry.details == {"status": ["published", "cancelled"], "reason": "报名人数不足"}

    for target in ("published", "draft"):
        response = client.post(
            f"/manage/bases/{base.id}/courses/{course.id}/status", data={"status": target}, follow_redirects=True
        )
        assert "不能改为" in "".join(flashed(response.get_data(as_text=True)))
        assert reload(course).status == CourseStatus.CANCELLED
    response = client.post(f"/manage/bases/{base.id}/courses/{course.id}/edit", data=edit_form(course, title="复活"))
    assert "已取消的课程不能修改" in "".join(flashed(response.get_data(as_text=True)))
    assert reload(course).title != "复活"
    assert len(audit_rows("course.published")) == 0 and len(audit_rows("course.update")) == 0


def test_course_that_has_ended_cannot_be_published(admin_and_base, login_as, make_course):
    admin, base = admin_and_base
    today = clock.today()
    course = make_course(
        base, status=CourseStatus.DRAFT, start_date=today - timedelta(days=10), end_date=today - timedelta(days=1)
    )
    client = login_as(admin)

    response = client.post(
        f"/manage/bases/{base.id}/courses/{course.id}/status", data={"status": "published"}, follow_redirects=True
    )

    assert "课程已结束，不能发布" in "".join(flashed(response.get_data(as_text=True)))
    course = reload(course)
    assert course.status == CourseStatus.DRAFT and course.published_at is None
    assert audit_rows("course.published") == []


def test_course_ending_today_can_still_be_published(admin_and_base, login_as, make_course):
    admin, base = admin_and_base
    today = clock.today()
    course = make_course(base, status=CourseStatus.DRAFT, start_date=today - timedelta(days=2), end_date=today)

    login_as(admin).post(f"/manage/bases/{base.id}/courses/{course.id}/status", data={"status": "published"})

    assert reload(course).status == CourseStatus.PUBLISHED


# --- editing -------------------------------------------------------------------------------------------------

def test_edit_records_old_and_new_values_of_the_changed_fields_only(admin_and_base, login_as, make_course):
    admin, base = admin_and_base
    course = make_course(base, title="绿色建材检测与应用", hours=16)
    client = login_as(admin)

    form = edit_form(course, title="绿色建材检测与工程应用", hours="24")

    response = client.post(f"/manage/bases/{base.id}/courses/{course.id}/edit", data=form)

    assert response.status_code == 302
    course = reload(course)
    assert (course.title, course.hours) == ("绿色建材检测与工程应用", 24)
    [entry] = audit_rows("course.update")
    assert entry.details == {"title": ["绿色建材检测与应用", "绿色建材检测与工程应用"], "hours": [16, 24]}
    assert (entry.actor_id, entry.object_id, entry.base_id) == (admin.id, course.id, base.id)


def test_new_cover_on_edit_is_recorded_and_shown(admin_and_base, login_as, make_course):
    admin, base = admin_and_base
    course = make_course(base)
    client = login_as(admin)

    client.post(f"/manage/bases/{base.id}/courses/{course.id}/edit", data={**edit_form(course), "cover": cover_jpeg()})

    course = reload(course)
    assert course.cover is not None
    [entry] = audit_rows("course.update")
    assert entry.details == {"cover_id": [None, course.cover.id]}
    assert f"/media/{course.cover.key}/large" in client.get(f"/courses/{course.id}").get_data(as_text=True)


# --- validation ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"title": "  "}, "title", "请填写课程名称"),
        ({"start_date": "2030-05-10", "end_date": "2030-05-09"}, "end_date", "结束日期不能早于开始日期"),
        ({"hours": "0"}, "hours", "学时应在 1 到 500 之间"),
        ({"contact_phone": "12345"}, "contact_phone", "请填写有效的手机号或带区号的固定电话"),
        ({"contact_phone": "028-6123"}, "contact_phone", "请填写有效的手机号或带区号的固定电话"),
        ({"fee": "-1"}, "fee", "费用应在 0 到 100000 元之间"),
        ({"place": "", "mode": "face_to_face"}, "place", "请填写培训地点"),
        ({"place": " ", "mode": "blended"}, "place", "请填写培训地点"),
    ],
    ids=[
        "empty-title", "end-before-start", "zero-hours", "short-phone", "bad-landline", "negative-fee",
        "offline-without-place", "blended-without-place",
    ],
)
def test_invalid_new_course_shows_chinese_error_next_to_the_field(admin_and_base, login_as, overrides, field, message):
    admin, base = admin_and_base
    client = login_as(admin)

    response = client.post(
        f"/manage/bases/{base.id}/courses/new", data={**new_course_form(**overrides), "cover": cover_jpeg()}
    )

    assert response.status_code == 200
    assert any(message in error for error in errors_next_to(response.get_data(as_text=True), field))
    assert count(Course) == 0 and count(Image) == 0 and changes_recorded() == 0


def test_capacity_below_seats_taken_is_refused_next_to_the_field(admin_and_base, login_as, make_course):
    admin, base = admin_and_base
    course = make_course(base, capacity=50, seats_taken=30)
    client = login_as(admin)

    response = client.post(
        f"/manage/bases/{base.id}/courses/{course.id}/edit", data=edit_form(course, capacity="20", title="改过的名称")
    )

    assert response.status_code == 200
    assert "已有 30 人报名，名额不能少于此数" in errors_next_to(response.get_data(as_text=True), "capacity")
    course = reload(course)
    assert (course.capacity, course.seats_taken) == (50, 30)
    assert course.title != "改过的名称"
    assert audit_rows("course.update") == []


def test_a_course_with_credited_hours_cannot_change_its_category(admin_and_base, login_as, make_course, make_user):
    """The hours already credited were booked under the category: the form says why next to the field."""
    from models import HoursRecord, HoursSource

    admin, base = admin_and_base
    course = make_course(base, category=Category.PROFESSIONAL)
    db.session.add(HoursRecord(learner_id=make_user().id, year=course.end_date.year, category=course.category,
                               hours=course.hours, source=HoursSource.COURSE, course_id=course.id))
    db.session.commit()
    client = login_as(admin)

    response = client.post(f"/manage/bases/{base.id}/courses/{course.id}/edit",
                           data=edit_form(course, category=Category.PUBLIC.value, title="改过的名称"))

    assert response.status_code == 200
    assert "已有 1 人按本课程记了学时，不能再改类别" in errors_next_to(response.get_data(as_text=True), "category")
    course = reload(course)
    assert course.category == Category.PROFESSIONAL and course.title != "改过的名称"


def test_unlimited_capacity_is_allowed_with_seats_taken(admin_and_base, login_as, make_course):
    admin, base = admin_and_base
    course = make_course(base, capacity=50, seats_taken=30)

    login_as(admin).post(f"/manage/bases/{base.id}/courses/{course.id}/edit", data=edit_form(course, capacity=""))

    assert reload(course).capacity is None


def test_invalid_edit_saves_nothing(admin_and_base, login_as, make_course):
    admin, base = admin_and_base
    course = make_course(base, title="原名称", hours=16)
    client = login_as(admin)

    response = client.post(
        f"/manage/bases/{base.id}/courses/{course.id}/edit", data=edit_form(course, title="新名称", hours="0")
    )

    assert response.status_code == 200
    assert "学时应在 1 到 500 之间" in errors_next_to(response.get_data(as_text=True), "hours")
    course = reload(course)
    assert (course.title, course.hours) == ("原名称", 16)
    assert audit_rows("course.update") == []


# --- an exited base ----------------------------------------------------------------------------------------

def test_exited_base_cannot_create_a_course(make_user, make_base, login_as):
    admin = make_user(role=Role.BASE_ADMIN)
    base = make_base(admin=admin, status=BaseStatus.EXITED)
    client = login_as(admin)

    response = client.post(f"/manage/bases/{base.id}/courses/new", data=new_course_form())

    assert response.status_code == 200
    assert any("退出" in message for message in flashed(response.get_data(as_text=True)))
    assert count(Course) == 0 and changes_recorded() == 0


def test_exited_base_cannot_publish_or_edit(make_user, make_base, make_course, login_as):
    admin = make_user(role=Role.BASE_ADMIN)
    base = make_base(admin=admin, status=BaseStatus.EXITED)
    course = make_course(base, title="旧课程", status=CourseStatus.DRAFT)
    client = login_as(admin)

    response = client.post(
        f"/manage/bases/{base.id}/courses/{course.id}/status", data={"status": "published"}, follow_redirects=True
    )
    assert any("退出" in message for message in flashed(response.get_data(as_text=True)))

    response = client.post(f"/manage/bases/{base.id}/courses/{course.id}/edit", data=edit_form(course, title="新课程"))
    assert any("退出" in message for message in flashed(response.get_data(as_text=True)))

    course = reload(course)
    assert (course.status, course.title, course.published_at) == (CourseStatus.DRAFT, "旧课程", None)
    assert changes_recorded() == 0


# --- disclosure ------------------------------------------------------------------------------------------------

DISCLOSURE = {
    "scope": "面向全市护理人员开展继续教育培训。",
    "content": "急危重症护理、医院感染防控。",
    "fee_items": "专业科目每人 300 元。",
    "training_plan": "全年举办培训项目 6 个。",
    "staff": "主任护师 12 人。",
    "rules": "学员考勤与考核办法。",
    "contact_person": "张老师",
    "contact_phone": "028-61234567",
    "address": "成都市青羊区某路 1 号",
    "website": "https://learn.example.cn/",
}


def test_disclosure_is_saved_published_and_audited(admin_and_base, login_as, client):
    admin, base = admin_and_base
    login_as(admin)

    response = client.post(f"/manage/bases/{base.id}/disclosure", data=DISCLOSURE)

    assert response.status_code == 302
    base = reload(base)
    for name, value in DISCLOSURE.items():
        assert getattr(base, name) == value, name
    assert base.disclosure_missing == []
    [entry] = audit_rows("base.disclosure")
    assert (entry.actor_id, entry.object_type, entry.object_id, entry.base_id) == (admin.id, "training_base", base.id,
                                                                                  base.id)
    # contact_person and contact_phone were already these values: they are not reported as changed.
    assert entry.details == {name: ["", value] for name, value in DISCLOSURE.items() if not name.startswith("contact")}
    public = client.get(f"/bases/{base.id}").get_data(as_text=True)
    for name in ("scope", "content", "fee_items", "training_plan", "staff", "rules", "address"):
        assert DISCLOSURE[name] in public, name
    assert 'href="https://learn.example.cn/"' in public


def test_second_disclosure_edit_records_old_and_new_values(admin_and_base, login_as):
    admin, base = admin_and_base
    client = login_as(admin)
    client.post(f"/manage/bases/{base.id}/disclosure", data=DISCLOSURE)

    client.post(f"/manage/bases/{base.id}/disclosure", data={**DISCLOSURE, "scope": "面向全省护理人员。"})

    entries = audit_rows("base.disclosure")
    assert len(entries) == 2
    assert entries[1].details == {"scope": [DISCLOSURE["scope"], "面向全省护理人员。"]}
    assert reload(base).scope == "面向全省护理人员。"


@pytest.mark.parametrize(
    "website",
    ["learn.example.cn", "不是网址", "javascript://example.com/%0Aalert(document.cookie)", "ftp://example.com/"],
    ids=["no-scheme", "not-a-url", "javascript-scheme", "ftp-scheme"],
)
def test_bad_website_is_refused_next_to_the_field(admin_and_base, login_as, website):
    admin, base = admin_and_base
    client = login_as(admin)

    response = client.post(f"/manage/bases/{base.id}/disclosure", data={**DISCLOSURE, "website": website})

    assert response.status_code == 200
    assert "请填写以 http:// 或 https:// 开头的网址" in errors_next_to(response.get_data(as_text=True), "website")
    base = reload(base)
    assert (base.website, base.scope) == ("", "")
    assert audit_rows("base.disclosure") == []


def test_exited_base_disclosure_is_frozen(make_user, make_base, login_as):
    admin = make_user(role=Role.BASE_ADMIN)
    base = make_base(admin=admin, status=BaseStatus.EXITED)

    response = login_as(admin).post(f"/manage/bases/{base.id}/disclosure", data=DISCLOSURE)

    assert response.status_code == 200
    assert any("退出" in message for message in flashed(response.get_data(as_text=True)))
    assert reload(base).scope == ""
    assert audit_rows("base.disclosure") == []


def test_upload_over_the_request_limit_is_a_413_that_leads_back_to_the_form(app, client, admin_and_base, login_as):
    admin, base = admin_and_base
    login_as(admin)
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    url = f"/manage/bases/{base.id}/courses/new"
    response = client.post(url, data={"title": "x" * 10, "cover": (BytesIO(b"\0" * (2 * 1024 * 1024)), "big.jpg")},
                           content_type="multipart/form-data")
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "上传的文件过大（一次最多 1 MB）" in page and f'href="{url}" id="back-to-form"' in page
    assert db.session.scalar(sa.select(sa.func.count(Course.id))) == 0

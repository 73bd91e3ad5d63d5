"""The platform administrator: the role gate of /platform, the national holiday calendar's upload → preview →
confirm (exactly what was previewed, audited with the file's digest and every day's old and new kind, open
deadlines moved and shown first), regulators without the upload, the command that makes an administrator,
and the sign-in that brings them home."""

# ruff: noqa: F811 (tests take the imported fixtures as arguments of the same names)

import hashlib
import re
from datetime import date, datetime, time
from io import BytesIO
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from extensions import db
from models import AuditLog, CalendarDay, CalendarDayKind, Declaration, DeclarationStatus, Role, User
from services import platform_admins, workdays
from services.errors import DomainError, NotAllowed
from tests.conftest import PASSWORD, login

# The world of test_declarations (employers, learners, reviewers, regulators) and its fixtures, by name.
from tests.test_declarations import app_config, approve, declare, flashed, on, regions, signed_in, world  # noqa: F401

CSV_2027 = "date,kind,name\n2027-01-01,holiday,元旦\n2027-02-05,holiday,春节\n2027-02-06,workday,春节\n" + "".join(
    f"2027-02-{d:02d},holiday,春节\n" for d in range(8, 13))
TODAY = date(2026, 12, 28)  # a Monday; 2027's schedule is not loaded yet


@pytest.fixture
def admin(make_user):
    return make_user(Role.PLATFORM_ADMIN, region_id=None, name="平台管理员 孙工")


def count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def days_of(year: int) -> int:
    return count(CalendarDay, CalendarDay.day.between(date(year, 1, 1), date(year, 12, 31)))


def filed_on(day: date, learner, **kw) -> Declaration:
    """A declaration filed on ``day`` (local), its deadline counted from then as the site does."""
    declaration = declare(learner, minutes=100, earned_on=day, **kw)
    declaration.submitted_at = datetime.combine(day, time(2, 0))  # 10:00 in Shanghai
    db.session.commit()
    return declaration


def preview(client, text: str | bytes, filename="holidays-2027.csv"):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return client.post("/platform/calendar", data={"schedule": (BytesIO(data), filename)},
                       content_type="multipart/form-data")


def hidden(html: str, name: str) -> str:
    found = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', html) or re.search(
        rf'<input[^>]*value="([^"]*)"[^>]*name="{name}"', html)
    assert found, f"no hidden {name}"
    return found.group(1)


def confirm_fields(html: str) -> dict:
    return {"payload": hidden(html, "payload"), "digest": hidden(html, "digest")}


def due(declaration_id: int) -> date:
    db.session.expire_all()
    return db.session.get(Declaration, declaration_id).due_on


# --- the role gate ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["learner", "reviewer", "regulator", "province_regulator", "base_admin"])
def test_other_roles_are_refused_the_platform_area(app, world, who):
    client = signed_in(app, getattr(world, who))

    assert client.get("/platform/").status_code == 403
    assert preview(client, CSV_2027).status_code == 403
    assert client.post("/platform/calendar/confirm", data={"payload": "x", "digest": "0" * 64}).status_code == 403
    assert days_of(2027) == 0


def test_anonymous_visitors_are_sent_to_sign_in(app, world, client):
    response = client.get("/platform/")

    assert response.status_code == 302 and urlsplit(response.location).path == "/login"


def test_the_platform_admin_signs_in_to_their_home_listing_regions_regulators_and_the_calendar(app, world, admin,
                                                                                                on):
    on(TODAY)
    client = app.test_client()

    response = login(client, admin)

    assert urlsplit(response.location).path == "/platform/"
    home = client.get("/platform/").get_data(as_text=True)
    assert "平台管理" in home
    regions_table = re.search(r'<table[^>]*id="regions".*?</table>', home, re.S).group(0)
    assert "四川省成都市" in regions_table and "山东省烟台市" in regions_table
    regulators_table = re.search(r'<table[^>]*id="regulators".*?</table>', home, re.S).group(0)
    assert world.province_regulator.email in regulators_table
    assert "2027 年的节假日安排尚未导入" in home
    assert 'href="/platform/"' in home  # the nav shows the platform admin's links


# --- the regulator no longer uploads ----------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["province_regulator", "regulator"])
def test_a_regulator_posting_to_the_old_calendar_route_changes_nothing(app, world, who):
    client = signed_in(app, getattr(world, who))

    response = client.post("/regulator/calendar", data={"schedule": (BytesIO(CSV_2027.encode()), "h.csv")},
                           content_type="multipart/form-data")

    assert response.status_code in (403, 404)
    assert days_of(2027) == 0
    assert count(AuditLog, AuditLog.action.startswith("calendar")) == 0


def test_the_reviews_page_shows_the_years_and_names_the_platform_administrator(app, world, on):
    on(TODAY)

    page = signed_in(app, world.province_regulator).get("/regulator/reviews").get_data(as_text=True)

    assert "2027 年的节假日安排尚未导入" in page
    assert "由平台管理员" in page
    assert 'enctype="multipart/form-data"' not in page  # no upload form left


# --- preview, then confirm --------------------------------------------------------------------------------------

@pytest.fixture
def open_deadlines(world, on):
    """Deadlines around the new year while 2027 is not loaded: two open ones that cross 1 January (a
    holiday in 2027's schedule), one already decided and one already overdue."""
    on(date(2026, 12, 14))
    overdue = filed_on(date(2026, 12, 14), world.colleague, title="已超期")
    on(TODAY)
    chengdu = filed_on(TODAY, world.learner, title="成都的申报")
    yantai = filed_on(TODAY, world.yantai_learner, title="烟台的申报")
    decided = filed_on(TODAY, world.other_learner, title="已审核")
    approve(world.clinic_reviewer, decided)
    assert due(chengdu.id) == date(2027, 1, 4)  # 1 January counted as a working day: no schedule yet
    return {"chengdu": chengdu, "yantai": yantai, "decided": decided, "overdue": overdue}


def test_the_preview_lists_the_days_and_the_deadlines_that_would_move_and_writes_nothing(app, world, admin,
                                                                                        open_deadlines):
    client = signed_in(app, admin)

    response = preview(client, CSV_2027)

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    changes = re.search(r'<table[^>]*id="day-changes".*?</table>', page, re.S).group(0)
    assert changes.count("<tr>") == 1 + 8  # the header and eight days
    assert "2027年1月1日" in changes or "2027-01-01" in changes
    by_region = re.search(r'<table[^>]*id="moved-by-region".*?</table>', page, re.S).group(0)
    assert "四川省成都市</td><td>1" in by_region and "山东省烟台市</td><td>1" in by_region
    sample = re.search(r'<table[^>]*id="moved-sample".*?</table>', page, re.S).group(0)
    assert f"#{open_deadlines['chengdu'].id}" in sample and f"#{open_deadlines['decided'].id}" not in sample
    assert "从提交之日重新计算" in page  # what happens to stored deadlines is said
    assert hashlib.sha256(CSV_2027.encode()).hexdigest() in page
    assert days_of(2027) == 0
    assert due(open_deadlines["chengdu"].id) == date(2027, 1, 4)
    assert count(AuditLog, AuditLog.action == "calendar.load") == 0


def test_confirming_applies_the_days_moves_open_deadlines_only_and_audits_everything(app, world, admin,
                                                                                    open_deadlines):
    client = signed_in(app, admin)
    page = preview(client, "\ufeff" + CSV_2027).get_data(as_text=True)  # a byte-order mark, as Excel writes

    response = client.post("/platform/calendar/confirm", data=confirm_fields(page), follow_redirects=True)

    assert flashed(response.get_data(as_text=True), "success") == [
        "已导入 8 个日期的变更，2 件待审核申报的审核期限随之调整"]
    assert days_of(2027) == 8
    assert workdays.add_working_days(date(2027, 2, 4), 2) == date(2027, 2, 15)
    assert due(open_deadlines["chengdu"].id) == date(2027, 1, 5)
    assert due(open_deadlines["yantai"].id) == date(2027, 1, 5)
    assert due(open_deadlines["decided"].id) == date(2027, 1, 4)  # decided: kept as it was
    assert due(open_deadlines["overdue"].id) == date(2026, 12, 21)  # passed: kept as it was
    (entry,) = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "calendar.load"))
    assert entry.actor_id == admin.id
    assert entry.details["sha256"] == hashlib.sha256(("\ufeff" + CSV_2027).encode()).hexdigest()
    assert "2027-01-01 holiday 元旦" in entry.details["added"] and len(entry.details["added"]) == 8
    assert entry.details["deadlines_moved"] == 2
    assert entry.details["deadlines_by_region"] == {"四川省成都市": 1, "山东省烟台市": 1}
    assert "2027 年的节假日安排尚未导入" not in client.get("/platform/").get_data(as_text=True)


def test_a_changed_day_is_audited_with_its_old_and_new_kind(app, world, admin, on):
    on(TODAY)
    client = signed_in(app, admin)
    first = preview(client, "date,kind,name\n2027-02-06,workday,春节\n").get_data(as_text=True)
    client.post("/platform/calendar/confirm", data=confirm_fields(first))

    again = preview(client, "date,kind,name\n2027-02-06,holiday,春节\n").get_data(as_text=True)
    assert "调休上班" in re.search(r'<table[^>]*id="day-changes".*?</table>', again, re.S).group(0)
    client.post("/platform/calendar/confirm", data=confirm_fields(again))

    entries = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "calendar.load")
                                 .order_by(AuditLog.id)).all()
    assert [e.details["changed"] for e in entries] == [[], ["2027-02-06 workday→holiday 春节"]]
    assert db.session.get(CalendarDay, date(2027, 2, 6)).kind == CalendarDayKind.HOLIDAY


def test_a_confirm_whose_digest_differs_from_the_preview_is_refused(app, world, admin, open_deadlines):
    client = signed_in(app, admin)
    fields = confirm_fields(preview(client, CSV_2027).get_data(as_text=True))

    response = client.post("/platform/calendar/confirm", data={**fields, "digest": "0" * 64},
                           follow_redirects=True)

    assert "摘要不同" in flashed(response.get_data(as_text=True))[0]
    assert days_of(2027) == 0
    assert due(open_deadlines["chengdu"].id) == date(2027, 1, 4)
    assert count(AuditLog, AuditLog.action == "calendar.load") == 0


def test_a_tampered_preview_is_refused(app, world, admin, on):
    on(TODAY)
    client = signed_in(app, admin)
    fields = confirm_fields(preview(client, CSV_2027).get_data(as_text=True))
    other = "date,kind,name\n2027-01-04,holiday,伪造\n"
    forged = fields["payload"].replace(fields["payload"][10:20], "A" * 10)

    for data in ({**fields, "payload": forged},
                 {"payload": fields["payload"], "digest": hashlib.sha256(other.encode()).hexdigest()}):
        response = client.post("/platform/calendar/confirm", data=data, follow_redirects=True)
        assert response.status_code == 200 and flashed(response.get_data(as_text=True))

    assert days_of(2027) == 0
    assert count(AuditLog, AuditLog.action == "calendar.load") == 0


def test_a_confirm_after_the_calendar_changed_since_the_preview_is_refused(app, world, admin, on):
    on(TODAY)
    client = signed_in(app, admin)
    stale = confirm_fields(preview(client, CSV_2027).get_data(as_text=True))
    meanwhile = confirm_fields(preview(client, "date,kind,name\n2027-01-01,holiday,新年\n").get_data(as_text=True))
    client.post("/platform/calendar/confirm", data=meanwhile)

    response = client.post("/platform/calendar/confirm", data=stale, follow_redirects=True)

    assert "预览之后日历已有变动" in flashed(response.get_data(as_text=True))[0]
    assert days_of(2027) == 1
    assert count(AuditLog, AuditLog.action == "calendar.load") == 1


@pytest.mark.parametrize(("text", "message"), [
    ("date,kind,name\n2027-01-01,holiday,元旦\n2027-13-01,holiday,坏日期\n", "第 3 行格式不正确"),
    ("date,kind,name\n2027-01-01,holiday,元旦\n2027-02-06,vacation,春节\n", "第 3 行格式不正确"),
    ("date,kind,name\n2027-01-01,holiday,元旦\n2027-02-08,workday,春节\n", "第 3 行：2027-02-08 是工作日"),
    ("date,kind,name\n2027-01-01,holiday,元旦\n2027-01-01,holiday,元旦\n", "重复"),
    ("day,type\n2027-01-01,holiday\n", "第 2 行格式不正确"),
    ("date,kind,name\n", "文件中没有日期"),
    ("date,kind,name\n2027-01-01,holiday,元旦\n".encode("gbk") + "2027-02-05,holiday,春节\n".encode("gbk"), "UTF-8"),
    ("date,kind,name\n" + "2027-01-01,holiday,元旦\n" * 5000, "文件过大"),
])
def test_a_bad_calendar_file_is_refused_beside_the_field_with_nothing_saved(app, world, admin, text, message):
    response = preview(signed_in(app, admin), text)

    assert response.status_code == 400
    errors = re.findall(r'<div class="invalid-feedback d-block">(.*?)</div>', response.get_data(as_text=True))
    assert len(errors) == 1 and message in errors[0]
    assert days_of(2027) == 0


def test_no_file_is_refused_beside_the_field(app, world, admin):
    response = signed_in(app, admin).post("/platform/calendar", data={}, content_type="multipart/form-data")

    assert response.status_code == 400
    assert "请选择节假日安排 CSV 文件" in response.get_data(as_text=True)


def test_a_file_that_changes_nothing_offers_no_confirm(app, world, admin):
    client = signed_in(app, admin)
    page = preview(client, "date,kind,name\n2026-10-01,holiday,国庆节\n").get_data(as_text=True)

    assert "没有需要导入的变更" in page and 'name="payload"' not in page


def test_only_a_platform_admin_applies_a_schedule_in_the_service(app, world):
    raw = CSV_2027.encode()
    plan = workdays.preview_schedule(raw)

    with pytest.raises(NotAllowed):
        workdays.apply_schedule(world.province_regulator, raw, plan.digest, plan.fingerprint,
                                preview_id=workdays.new_preview_id())

    assert days_of(2027) == 0


# --- the command and the demo account ---------------------------------------------------------------------------

def test_the_command_makes_a_platform_admin_who_can_sign_in(app, runner, monkeypatch):
    monkeypatch.setenv("JIDI_PLATFORM_ADMIN_PASSWORD", PASSWORD)

    result = runner.invoke(args=["create-platform-admin", "Ｏps@Example.cn", "平台运维"])  # a full-width Ｏ

    assert result.exit_code == 0, result.output
    user = db.session.execute(sa.select(User).where(User.email == "ops@example.cn")).scalar_one()
    assert (user.role, user.region_id, user.name) == (Role.PLATFORM_ADMIN, None, "平台运维")
    assert PASSWORD not in result.output
    assert urlsplit(login(app.test_client(), user).location).path == "/platform/"


def test_the_command_prompts_for_the_password_and_refuses_a_taken_email_or_a_short_password(app, runner,
                                                                                           monkeypatch):
    monkeypatch.delenv("JIDI_PLATFORM_ADMIN_PASSWORD", raising=False)
    made = runner.invoke(args=["create-platform-admin", "ops@example.cn", "平台运维"],
                         input=f"{PASSWORD}\n{PASSWORD}\n")
    assert made.exit_code == 0, made.output

    taken = runner.invoke(args=["create-platform-admin", "ops@example.cn", "又一个"], input=f"{PASSWORD}\n{PASSWORD}\n")
    short = runner.invoke(args=["create-platform-admin", "new@example.cn", "短密码"], input="short\nshort\n")

    assert taken.exit_code != 0 and "已有账号" in taken.output
    assert short.exit_code != 0 and "密码至少 8 位" in short.output
    assert count(User, User.role == Role.PLATFORM_ADMIN) == 1


def test_the_service_refuses_a_bad_email(app):
    with pytest.raises(DomainError):
        platform_admins.create_platform_admin("not an email", "某人", PASSWORD)


def test_the_demo_has_a_platform_admin(demo_app):
    from seeding.demo import DEMO_PASSWORD


    user = db.session.execute(sa.select(User).where(User.email == "admin@jidi.demo")).scalar_one()
    assert user.role == Role.PLATFORM_ADMIN and user.region_id is None
    assert user.check_password(DEMO_PASSWORD)


def test_a_pending_declaration_of_a_decided_status_is_never_moved(app, world, admin, open_deadlines):
    """The control for the moved set: status, not only the date, decides."""
    assert db.session.get(Declaration, open_deadlines["decided"].id).status == DeclarationStatus.APPROVED
    plan = workdays.preview_schedule(CSV_2027.encode())
    assert {m.declaration_id for m in plan.moved} == {open_deadlines["chengdu"].id, open_deadlines["yantai"].id}


# --- odd files and forged confirms (a second read of issue 13) ------------------------------------------------

def test_a_file_whose_lines_end_in_cr_only_is_previewed_and_applied(app, world, admin, on):
    """Old Excel for Mac ends lines with CR alone: csv raised on it (a 500), now it is read like CRLF."""
    on(TODAY)
    client = signed_in(app, admin)

    page = preview(client, CSV_2027.replace("\n", "\r"))

    assert page.status_code == 200
    client.post("/platform/calendar/confirm", data=confirm_fields(page.get_data(as_text=True)))
    assert days_of(2027) == 8


@pytest.mark.parametrize("text", [
    'date,kind,name\n2027-01-01,holiday,"元旦\n"x\n',  # a quote closed in the middle of a field
    "date,kind,name\n" + '2027-01-01,holiday,"' + "元" * 140_000 + '"\n',  # beyond csv's field size limit
])
def test_a_file_csv_cannot_read_is_refused_beside_the_field(app, world, admin, text):
    response = preview(signed_in(app, admin), text.encode()[:workdays.MAX_SCHEDULE_BYTES])

    assert response.status_code == 400
    errors = re.findall(r'<div class="invalid-feedback d-block">(.*?)</div>', response.get_data(as_text=True))
    assert len(errors) == 1
    assert days_of(2027) == 0


def test_control_characters_in_a_day_name_are_dropped_before_anything_is_stored(app, world, admin, on):
    """A NUL previewed fine and failed on PostgreSQL at the confirm."""
    on(TODAY)
    client = signed_in(app, admin)
    page = preview(client, "date,kind,name\n2027-01-01,holiday,元\x00旦\x1b\n").get_data(as_text=True)

    client.post("/platform/calendar/confirm", data=confirm_fields(page))

    assert db.session.get(CalendarDay, date(2027, 1, 1)).name == "元旦"


@pytest.mark.parametrize("line_break", ["\r\n", "\n", "\r", "\x85", "\u2028", "\u2029"])
def test_a_day_name_holding_a_line_break_is_refused_beside_the_field(app, world, admin, line_break):
    response = preview(signed_in(app, admin), f'date,kind,name\n2027-01-01,holiday,"元{line_break}旦"\n')

    assert response.status_code == 400
    errors = re.findall(r'<div class="invalid-feedback d-block">(.*?)</div>', response.get_data(as_text=True))
    assert errors == ["第 2 行：名称不能包含换行"]
    assert days_of(2027) == 0


@pytest.mark.parametrize("digest", ["é" * 64, "١" * 64, "A" * 64, "\u3000" * 64])
def test_a_forged_digest_of_other_characters_is_refused_not_a_server_error(app, world, admin, on, digest):
    on(TODAY)
    client = signed_in(app, admin)
    fields = confirm_fields(preview(client, CSV_2027).get_data(as_text=True))

    response = client.post("/platform/calendar/confirm", data={**fields, "digest": digest}, follow_redirects=True)

    assert response.status_code == 200 and flashed(response.get_data(as_text=True), "danger")
    assert days_of(2027) == 0
    assert count(AuditLog, AuditLog.action == "calendar.load") == 0


@pytest.mark.parametrize("digest", ["é" * 64, "0" * 64, "g" * 64])
def test_the_service_refuses_a_digest_that_is_no_sha256(app, world, admin, on, digest):
    on(TODAY)
    raw = CSV_2027.encode()
    plan = workdays.preview_schedule(raw)

    with pytest.raises(DomainError, match="摘要不同"):
        workdays.apply_schedule(admin, raw, digest, plan.fingerprint, preview_id=workdays.new_preview_id())


def test_a_confirm_replayed_after_an_undo_is_refused_though_the_days_are_as_previewed(app, world, admin, on):
    """Loaded, undone, then the same confirm sent again within its hour: the days are again as that preview
    saw them, so only its one-time id, kept in the load's audit entry, tells it was applied."""
    on(TODAY)
    client = signed_in(app, admin)
    first = confirm_fields(preview(client, "date,kind,name\n2027-02-06,workday,春节\n").get_data(as_text=True))
    client.post("/platform/calendar/confirm", data=first)
    holiday = confirm_fields(preview(client, "date,kind,name\n2027-02-06,holiday,春节\n").get_data(as_text=True))
    client.post("/platform/calendar/confirm", data=holiday)
    undo = confirm_fields(preview(client, "date,kind,name\n2027-02-06,workday,春节\n").get_data(as_text=True))
    client.post("/platform/calendar/confirm", data=undo)
    assert count(AuditLog, AuditLog.action == "calendar.load") == 3

    response = client.post("/platform/calendar/confirm", data=holiday, follow_redirects=True)

    assert "此预览已导入过" in flashed(response.get_data(as_text=True))[0]
    assert db.session.get(CalendarDay, date(2027, 2, 6)).kind == CalendarDayKind.WORKDAY
    assert count(AuditLog, AuditLog.action == "calendar.load") == 3


def test_the_digest_travels_signed_with_the_file(app, world, admin, on):
    """The hidden digest is checked against the SHA-256 in the signed payload, not only against the file."""
    on(TODAY)
    client = signed_in(app, admin)
    fields = confirm_fields(preview(client, CSV_2027).get_data(as_text=True))
    from blueprints.platform.routes import _signer

    with app.test_request_context():
        payload = _signer().loads(fields["payload"])
    assert payload["sha256"] == fields["digest"] == hashlib.sha256(CSV_2027.encode()).hexdigest()


def test_the_preview_counts_deadlines_in_a_fixed_number_of_queries_with_each_regions_review_time(
        app, world, admin, regions, on, make_user):
    """Each declaration's review time is its city's value, else its province's (Guangzhou has none of its own),
    read for every region and year at once: a third region costs no query more."""
    from models import Employer, RuleSet
    from tests.conftest import count_queries
    from tests.test_declarations import new_learner

    on(TODAY)
    db.session.execute(sa.update(RuleSet).where(RuleSet.region_id == world.yantai.id, RuleSet.year == 2026)
                       .values(review_working_days=6))
    db.session.execute(sa.update(RuleSet).where(RuleSet.region_id == regions["440000"].id, RuleSet.year == 2026)
                       .values(review_working_days=4))
    db.session.commit()
    chengdu = filed_on(TODAY, world.learner)
    yantai = filed_on(TODAY, world.yantai_learner)
    assert (due(chengdu.id), due(yantai.id)) == (date(2027, 1, 4), date(2027, 1, 5))
    with count_queries(db.engine) as two_regions:
        workdays.preview_schedule(CSV_2027.encode())
    hospital = Employer(name="广州市第一人民医院", region_id=regions["440100"].id)
    db.session.add(hospital)
    db.session.commit()
    guangzhou = filed_on(TODAY, new_learner(regions["440100"], hospital))
    assert due(guangzhou.id) == date(2027, 1, 1)
    colleague = filed_on(TODAY, world.colleague)

    with count_queries(db.engine) as statements:
        plan = workdays.preview_schedule(CSV_2027.encode())

    assert len(statements) == len(two_regions)
    assert {m.declaration_id: m.new_due for m in plan.moved} == {
        chengdu.id: date(2027, 1, 5), colleague.id: date(2027, 1, 5), yantai.id: date(2027, 1, 6),
        guangzhou.id: date(2027, 1, 4)}

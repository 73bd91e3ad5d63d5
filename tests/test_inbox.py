"""The inbox (issue 18, notifications 6, first slice): notices of a declaration's review (each step), a class
plan decision and a confirmed evaluation reach the people concerned and no one else, never with a full ID
number; the /inbox page, the navbar's unread badge (counted with the user's load: no query of its own),
marking read, another's notice (404) and the page's fixed number of queries."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from extensions import db
from models import BaseMembership, ClassPlan, Notice, Role, User
from services import declarations, evaluation, inbox, plans
from tests.conftest import login, page_queries
from tests.test_class_plans import START, at, file_plan, plan_course  # noqa: F401  fixtures shared
from tests.test_evaluation import YEAR, after_the_year, results_by_base  # noqa: F401  fixtures shared
from tests.test_evaluation_confirming import DESIGNATED
from tests.test_sector_review import app_config, file, on, world  # noqa: F401  fixtures shared

FULL_ID_NUMBER = re.compile(r"[0-9]{17}[0-9Xx]|[0-9]{15}")


def notices() -> dict[int, list[str]]:
    """Every notice's message, by its user."""
    db.session.expire_all()
    found: dict[int, list[str]] = {}
    for user_id, message in db.session.execute(sa.select(Notice.user_id, Notice.message).order_by(Notice.id)):
        found.setdefault(user_id, []).append(message)
    return found


def assert_no_full_id_number(found: dict[int, list[str]]) -> None:
    assert not [m for messages in found.values() for m in messages if FULL_ID_NUMBER.search(m)]


def signed_in(app, user):
    client = app.test_client()
    assert login(client, user).status_code == 302
    return client


# --- what the notices carry, and to whom ---------------------------------------------------------------------

def test_a_full_id_number_in_a_message_is_masked(app, make_user):
    learner = make_user()
    inbox.notify(learner.id, "身份证号 11010519491231002X 与 110105491231002 的学员", "/me/")
    db.session.commit()
    (message,) = notices()[learner.id]
    assert message == "身份证号 1101**********002X 与 1101*******1002 的学员"


def test_the_employers_approval_tells_the_learner_alone_with_the_hours(world):  # noqa: F811
    declaration = file(world.gz_accountant, hours_=12)  # Guangdong's accountant: the employer's step alone
    declarations.review(world.gz_reviewer, declaration.id, True, 10, "一篇不符")
    found = notices()
    assert found == {world.gz_accountant.id: [
        f"您申报的“论文发表”（{declaration.year} 年度）已通过单位审核，认定 10 学时（一篇不符）"]}
    assert_no_full_id_number(found)


def test_a_rejection_tells_the_learner_the_reason(world):  # noqa: F811
    declaration = file(world.zz_nurse)
    declarations.review(world.zz_reviewer, declaration.id, False, None, "证明材料不清晰")
    assert notices() == {world.zz_nurse.id: [
        f"您申报的“论文发表”（{declaration.year} 年度）未通过单位审核，理由：证明材料不清晰"]}


def test_both_steps_of_henan_tell_the_learner_each_result(world, on):  # noqa: F811
    declaration = file(world.zz_nurse, hours_=12)
    declarations.review(world.zz_reviewer, declaration.id, True, 10, "两篇中一篇不符")
    declarations.review_as_sector(world.zz_officer, declaration.id, True, 8, "会议学时按规定折算")
    year = declaration.year
    found = notices()
    assert found == {world.zz_nurse.id: [
        f"您申报的“论文发表”（{year} 年度）已通过单位审核（10 学时），待行业主管部门审核",
        f"您申报的“论文发表”（{year} 年度）已通过行业主管部门审核，认定 8 学时（会议学时按规定折算）",
    ]}
    assert_no_full_id_number(found)


def test_the_sectors_rejection_tells_the_learner_the_reason(world):  # noqa: F811
    declaration = file(world.zz_nurse)
    declarations.review(world.zz_reviewer, declaration.id, True, None, "")
    declarations.review_as_sector(world.zz_officer, declaration.id, False, None, "不属于本行业继续教育")
    assert notices()[world.zz_nurse.id][-1].endswith("未通过行业主管部门审核，理由：不属于本行业继续教育")


@pytest.mark.parametrize(("approve", "reason", "said"), [
    (True, "", "的办班计划已获批准"), (False, "场地不符合要求", "的办班计划未获批准，原因：场地不符合要求")])
def test_a_plan_decision_tells_the_bases_admins_and_no_one_else(app, monkeypatch, make_user, admin_and_base,
                                                                 plan_course, regulators, approve, reason, said):  # noqa: F811
    admin, base = admin_and_base
    second_admin, other_admin = make_user(Role.BASE_ADMIN), make_user(Role.BASE_ADMIN)
    db.session.add(BaseMembership(user_id=second_admin.id, base_id=base.id))
    db.session.commit()
    at(monkeypatch, START - timedelta(days=20))
    assert file_plan(app, admin_and_base, plan_course).status_code == 302
    plan = db.session.execute(sa.select(ClassPlan)).scalar_one()
    before = notices()
    plans.decide_plan(regulators["city"], plan.id, approve, reason)
    after = notices()
    new = {user: messages[len(before.get(user, [])):] for user, messages in after.items()}
    expected = f"{base.name}“{plan_course.title}”{said}"
    assert {user: m for user, m in new.items() if m} == {admin.id: [expected], second_admin.id: [expected]}
    assert other_admin.id not in after


def test_a_confirmed_evaluation_tells_each_bases_admins_its_own_outcome(make_user, make_base, city, after_the_year):  # noqa: F811
    admin_x, admin_y, bystander = make_user(Role.BASE_ADMIN), make_user(Role.BASE_ADMIN), make_user(Role.BASE_ADMIN)
    x = make_base(name="基地X", admin=admin_x, created_at=DESIGNATED)
    y = make_base(name="基地Y", admin=admin_y, created_at=DESIGNATED)
    regulator = make_user(Role.REGULATOR, region_id=city.id)
    draft = evaluation.run(regulator, YEAR, city.id)
    evaluation.override(regulator, results_by_base(draft.results)[y.id].id, evaluation.Outcome.RECTIFY, "给予整改期")
    assert notices() == {}
    evaluation.confirm(regulator, draft.id)
    found = notices()
    assert found == {
        admin_x.id: [f"基地X的{YEAR} 年度评估结论已确认：{results_by_base(draft.results)[x.id].final.label}"],
        admin_y.id: [f"基地Y的{YEAR} 年度评估结论已确认：整改（给予整改期）"],
    }
    assert bystander.id not in found and regulator.id not in found


# --- the page, the badge, marking read ----------------------------------------------------------------------

@pytest.fixture
def two_users(app, make_user):
    """A reviewer with three notices (the newest read) and a learner with one."""
    reviewer, learner = make_user(Role.REVIEWER), make_user()
    for n in range(3):
        inbox.notify(reviewer.id, f"第{n + 1}条消息", "/review/")
    inbox.notify(learner.id, "学员的消息", "/me/")
    db.session.commit()
    newest = db.session.scalars(sa.select(Notice).where(Notice.user_id == reviewer.id)
                                .order_by(Notice.id.desc())).first()
    inbox.mark_read(reviewer, [newest.id])
    return reviewer, learner


def badge(html: str) -> str | None:
    found = re.search(r'id="unread-count"[^>]*>(\d+)<', html)
    return found.group(1) if found else None


def test_the_inbox_lists_ones_own_notices_newest_first_with_unread_marked(app, two_users):
    reviewer, _learner = two_users
    html = signed_in(app, reviewer).get("/inbox/").get_data(as_text=True)
    assert re.findall(r"第(\d)条消息", html) == ["3", "2", "1"]
    assert "学员的消息" not in html
    assert html.count('class="badge bg-danger me-1">未读') == 2
    assert 'href="/review/"' in html and "全部标为已读" in html
    assert badge(html) == "2"


def test_every_signed_in_role_sees_the_inbox_entry_and_its_badge(app, make_user, client):
    for role in (Role.LEARNER, Role.BASE_ADMIN, Role.REGULATOR, Role.PLATFORM_ADMIN):
        user = make_user(role)
        inbox.notify(user.id, "一条消息")
        db.session.commit()
        html = signed_in(app, user).get("/").get_data(as_text=True)
        assert 'id="nav-inbox"' in html and badge(html) == "1", role
    assert 'id="nav-inbox"' not in client.get("/").get_data(as_text=True)


def test_marking_one_then_all_read_clears_the_badge(app, two_users):
    reviewer, learner = two_users
    client = signed_in(app, reviewer)
    oldest = db.session.scalars(sa.select(Notice.id).where(Notice.user_id == reviewer.id).order_by(Notice.id)).first()
    html = client.post("/inbox/read", data={"notice": oldest}, follow_redirects=True).get_data(as_text=True)
    assert badge(html) == "1"
    html = client.post("/inbox/read", data={"all": "1"}, follow_redirects=True).get_data(as_text=True)
    assert badge(html) is None and "未读</span>" not in html
    assert inbox.unread_count(reviewer) == 0 and inbox.unread_count(learner) == 1  # the learner's untouched


def test_another_users_notice_is_404_and_stays_unread(app, two_users):
    reviewer, learner = two_users
    theirs = db.session.scalar(sa.select(Notice.id).where(Notice.user_id == learner.id))
    client = signed_in(app, reviewer)
    assert client.post("/inbox/read", data={"notice": theirs}).status_code == 404
    assert inbox.unread_count(learner) == 1 and inbox.unread_count(reviewer) == 2


def test_the_inbox_pages_by_thirty_and_costs_the_same_queries_for_any_number(app, make_user):
    user = make_user()
    user_id = user.id
    client = signed_in(app, user)
    small = page_queries(client, "/inbox/")
    db.session.execute(sa.insert(Notice), [{"user_id": user_id, "message": f"消息{n}", "link": ""}
                                           for n in range(75)])
    db.session.commit()
    large = page_queries(client, "/inbox/")
    # the user's load (with the unread count folded in), the count of notices (for the page numbers) and the
    # page of notices
    assert len(small) == len(large) == 3
    first = client.get("/inbox/").get_data(as_text=True)
    assert first.count("消息") >= 30 and "消息74" in first and "消息44" not in first
    older = re.search(r'rel="next" href="(/inbox/\?cursor=[^"]+)"', first).group(1)
    second = client.get(older).get_data(as_text=True)
    assert "消息44" in second and "消息74" not in second
    last = client.get("/inbox/?page=3").get_data(as_text=True)
    assert re.search(r"消息0\s", last) and "消息15" not in last  # the oldest 15, reached by 末页
    assert "第 3 / 3 页" in last
    user = db.session.get(User, user_id)
    assert len(inbox.page(user).items) == 30 and inbox.page(user).total == 75


def test_the_dashboards_notice_banner_marks_the_inbox_read_too(app, make_user):
    learner = make_user()
    inbox.notify(learner.id, "您已从候补转为正式报名", "/courses/1")
    db.session.commit()
    client = signed_in(app, learner)
    html = client.get("/me/").get_data(as_text=True)
    assert "您已从候补转为正式报名" in html and badge(html) == "1"
    html = client.post("/me/notices/read", follow_redirects=True).get_data(as_text=True)
    assert "您已从候补转为正式报名" not in html and badge(html) is None
    assert "您已从候补转为正式报名" in client.get("/inbox/").get_data(as_text=True)  # kept, read


def test_the_dashboard_shows_five_unread_notices_and_links_to_the_rest(app, make_user):
    """A year of reviews leaves many notices: the dashboard's banner keeps to five and points to the inbox."""
    learner = make_user(Role.LEARNER)
    db.session.add_all([Notice(user_id=learner.id, message=f"第{n}条消息") for n in range(1, 9)])
    db.session.commit()
    client = app.test_client()
    assert login(client, learner).status_code == 302
    page = client.get("/me/").get_data(as_text=True)
    shown = [n for n in range(1, 9) if f"第{n}条消息" in page]
    assert shown == [4, 5, 6, 7, 8]  # the newest five
    assert "还有 3 条未读消息，查看全部" in page and 'href="/inbox/"' in page

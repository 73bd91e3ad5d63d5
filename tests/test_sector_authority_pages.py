"""The sector officer's pages (/sector): the queue (awaiting the authority first, earliest deadline first,
overdue marked) in a fixed number of queries, the review page (another authority's declaration is 404, acting
before the employer is refused beside the form), both steps through the site with the ledger written once, and
the sector's study guide shown on the dashboard of the right learners only."""

import re
from datetime import date

import pytest
import sqlalchemy as sa

from extensions import db
from models import AuditLog, DeclarationStatus, SectorGuide, User
from tests.conftest import count_queries, login, page_queries
from tests.test_sector_review import ORDINARY_DAY, build_world, file, ledger_rows, reload


@pytest.fixture
def app_config(tmp_path):
    return {"EVIDENCE_FOLDER": str(tmp_path / "evidence")}


@pytest.fixture
def on(monkeypatch):
    from services.infra import clock

    def set_day(day: date) -> None:
        monkeypatch.setattr(clock, "today", lambda: day)

    set_day(ORDINARY_DAY)
    return set_day


@pytest.fixture
def world(app, on, make_user):
    return build_world(make_user)


def signed_in(app, user):
    client = app.test_client()
    response = login(client, user)
    assert response.status_code == 302
    client.get(response.location)
    return client


def test_the_queue_lists_the_authority_s_declarations_awaiting_it_first_with_the_overdue_marked(app, world, on):
    waiting_employer = file(world.zz_nurse)
    late = file(world.zz_nurse)
    on(date(2025, 6, 17))
    fresh = file(world.zz_nurse)
    from services import declarations

    declarations.review(world.zz_reviewer, late.id, True, None, "")  # sector due 24 June
    on(date(2025, 6, 20))
    declarations.review(world.zz_reviewer, fresh.id, True, None, "")  # sector due 27 June
    on(date(2025, 6, 25))
    html = signed_in(app, world.zz_officer).get("/sector/").get_data(as_text=True)
    order = [int(i) for i in re.findall(r'<tr class="[^"]*" data-id="(\d+)"', html)]
    assert order == [late.id, fresh.id, waiting_employer.id]
    late_row = html.split(f'data-id="{late.id}"')[1].split("</tr>")[0]
    fresh_row = html.split(f'data-id="{fresh.id}"')[1].split("</tr>")[0]
    assert "已超期" in late_row and "已超期" not in fresh_row
    # another authority's queue holds none of them
    other = signed_in(app, world.henan_officer).get("/sector/").get_data(as_text=True)
    assert "data-id=" not in other and "暂无申报" in other


def test_the_queue_issues_the_same_queries_for_one_declaration_and_many(app, world):
    file(world.zz_nurse)
    nurse_id, reviewer_id = world.zz_nurse.id, world.zz_reviewer.id
    client = signed_in(app, world.zz_officer)
    one = page_queries(client, "/sector/")
    from services import declarations

    nurse, reviewer = db.session.get(User, nurse_id), db.session.get(User, reviewer_id)
    for _ in range(12):
        declarations.review(reviewer, file(nurse).id, True, None, "")
    many = page_queries(client, "/sector/")
    assert len(one) == len(many) <= 6, "\n".join(many)


def test_another_authority_s_declaration_is_404_with_nothing_of_it(app, world):
    declaration = file(world.zz_nurse)
    from services import declarations

    declarations.review(world.zz_reviewer, declaration.id, True, None, "")
    client = signed_in(app, world.henan_officer)
    for response in (client.get(f"/sector/{declaration.id}"),
                     client.post(f"/sector/{declaration.id}", data={"decision": "approve"}),
                     client.get(f"/files/evidence/{reload(declaration.id).evidence[0].key}")):
        assert response.status_code == 404
        assert world.zz_nurse.name not in response.get_data(as_text=True)
    assert reload(declaration.id).status == DeclarationStatus.SECTOR_PENDING


def test_acting_before_the_employer_is_refused_on_the_page_and_nothing_changes(app, world):
    declaration = file(world.zz_nurse)
    client = signed_in(app, world.zz_officer)
    page = client.get(f"/sector/{declaration.id}").get_data(as_text=True)
    assert 'id="awaiting-employer"' in page and "提交审核" not in page
    # its evidence may be opened already (policies.may_see_declaration)
    assert client.get(f"/files/evidence/{declaration.evidence[0].key}").status_code == 200
    response = client.post(f"/sector/{declaration.id}", data={"decision": "approve"})
    assert response.status_code == 400 and "单位尚未审核" in response.get_data(as_text=True)
    assert reload(declaration.id).status == DeclarationStatus.PENDING


def test_henan_both_steps_through_the_site_in_order_and_the_ledger_once(app, world, on):
    declaration = file(world.zz_nurse, hours_=12)
    reviewer, officer = signed_in(app, world.zz_reviewer), signed_in(app, world.zz_officer)
    on(date(2025, 6, 17))
    assert reviewer.post(f"/review/{declaration.id}", data={"decision": "approve", "hours": "12"}).status_code == 302
    assert ledger_rows(declaration.id) == []
    learner_page = signed_in(app, world.zz_nurse).get("/me/declarations").get_data(as_text=True)
    assert "待行业主管部门审核" in learner_page
    steps = [" ".join(step.split()) for step in re.findall(r'<div class="small review-step[^>]*>(.*?)</div>',
                                                           learner_page, re.S)]
    assert steps == ["1. 单位审核：已完成", "2. 行业主管部门审核：审核期限 2025年6月24日"]
    page = officer.get(f"/sector/{declaration.id}").get_data(as_text=True)
    assert 'id="employer-step"' in page and "认定 12 学时" in page
    response = officer.post(f"/sector/{declaration.id}", data={"decision": "approve", "hours": "10", "reason": ""})
    assert response.status_code == 400 and "核减学时时必须填写理由" in response.get_data(as_text=True)
    assert officer.post(f"/sector/{declaration.id}",
                        data={"decision": "approve", "hours": "10", "reason": "部分内容重复"}).status_code == 302
    assert [r.hours for r in ledger_rows(declaration.id)] == [10]
    assert reload(declaration.id).status == DeclarationStatus.APPROVED
    assert officer.post(f"/sector/{declaration.id}", data={"decision": "approve"}).status_code == 400
    assert [r.hours for r in ledger_rows(declaration.id)] == [10]


def test_guangdong_health_staff_go_straight_to_the_sector_on_the_site(app, world):
    declaration = file(world.gz_nurse)
    reviewer = signed_in(app, world.gz_reviewer)
    assert reviewer.post(f"/review/{declaration.id}", data={"decision": "approve"}).status_code == 200
    assert reload(declaration.id).status == DeclarationStatus.SECTOR_PENDING  # the employer has no step here
    officer = signed_in(app, world.gd_officer)
    assert f'data-id="{declaration.id}"' in officer.get("/sector/").get_data(as_text=True)
    assert officer.post(f"/sector/{declaration.id}", data={"decision": "approve"}).status_code == 302
    assert [r.hours for r in ledger_rows(declaration.id)] == [12]


# --- study guides -----------------------------------------------------------------------------------------

def test_a_guide_recommends_only_published_courses_of_the_authority_s_region(app, world, make_base, make_course):
    zz_course = make_course(make_base(region_id=world.zhengzhou.id), title="护理新进展")
    gz_course = make_course(make_base(region_id=world.guangzhou.id), title="广州的课程")
    client = signed_in(app, world.zz_officer)
    found = client.get("/sector/guides/2025?q=护理").get_data(as_text=True)
    assert "护理新进展" in found and "广州的课程" not in found
    refused = client.post("/sector/guides/2025", data={"title": "2025 护理指南", "body": "学习重点",
                                                       "course": [str(zz_course.id)], "course_ids": str(gz_course.id)})
    assert refused.status_code == 400 and f"课程编号 {gz_course.id} 不是本地区基地已发布的课程" in refused.text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(SectorGuide)) == 0
    saved = client.post("/sector/guides/2025", data={"title": "2025 护理指南", "body": "学习重点",
                                                     "course": [str(zz_course.id)]})
    assert saved.status_code == 302
    again = client.post("/sector/guides/2025", data={"title": "2025 护理指南（修订）", "body": "学习重点",
                                                     "course": [str(zz_course.id)]})
    assert again.status_code == 302
    guides = db.session.execute(sa.select(SectorGuide)).scalars().all()
    assert [(g.year, g.title, [c.id for c in g.courses]) for g in guides] == [
        (2025, "2025 护理指南（修订）", [zz_course.id])]
    assert db.session.execute(sa.select(AuditLog.action).where(AuditLog.action.like("sector_guide.%"))
                              .order_by(AuditLog.id)).scalars().all() == ["sector_guide.create", "sector_guide.update"]
    assert client.get("/sector/guides/2019").status_code == 404


def test_the_guide_is_shown_to_the_sector_s_learners_of_the_region_only(app, world, make_base, make_course,
                                                                       make_user):
    course = make_course(make_base(region_id=world.zhengzhou.id), title="护理新进展")
    from services import sector_guides

    sector_guides.save(world.henan_officer, 2025, "河南省卫生行业 2025 学习指南", "全省护理人员必读", [course.id])
    sector_guides.save(world.zz_officer, 2025, "郑州市卫生行业 2025 学习指南", "", [])
    seen = signed_in(app, world.zz_nurse).get("/me/").get_data(as_text=True)
    assert "河南省卫生行业 2025 学习指南" in seen and "郑州市卫生行业 2025 学习指南" in seen and "护理新进展" in seen
    for other in (world.zz_engineer, world.gz_nurse, world.zz_unknown):
        page = signed_in(app, other).get("/me/").get_data(as_text=True)
        assert "学习指南" not in page, other.sector
    last_year = signed_in(app, world.zz_nurse).get("/me/?year=2024").get_data(as_text=True)
    assert "2025 学习指南" not in last_year


def test_the_dashboard_reads_the_guides_in_the_same_statement_as_the_notices(app, world, make_base, make_course):
    from services import sector_guides

    course_id = make_course(make_base(region_id=world.zhengzhou.id)).id
    officer_id = world.zz_officer.id
    client = signed_in(app, world.zz_nurse)
    client.get("/me/")
    db.session.remove()
    with count_queries(db.engine) as before:
        client.get("/me/")
    sector_guides.save(db.session.get(User, officer_id), 2025, "指南", "正文", [course_id])
    db.session.remove()
    with count_queries(db.engine) as after:
        assert "指南" in client.get("/me/").get_data(as_text=True)
    assert len(before) == len(after)

"""The named access rules of services/policies.py: each asked about its owner, another base, another region,
a province over its city and a wrong role; each rule's SQL twin against its predicate over the same world;
and every rule declared with what its refusal answers."""

from datetime import date
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from flask_login import AnonymousUserMixin

from extensions import db
from models import (
    ApiToken,
    BaseApplication,
    BaseStatus,
    BaseType,
    Category,
    Certificate,
    ClassPlan,
    Course,
    CourseStatus,
    Declaration,
    DeclarationKind,
    Employer,
    Employment,
    Enrollment,
    EnrollmentStatus,
    Evaluation,
    JobRecord,
    Region,
    Role,
    SectorAuthority,
    SectorGuide,
    TrainingBase,
    User,
)
from services import policies
from services.errors import NotAllowed

YEAR = 2025


class World(SimpleNamespace):
    pass


@pytest.fixture
def w(app, make_region, make_user, make_base, make_course):
    """Sichuan with Chengdu and Mianyang, Shandong with Yantai; a learner, a reviewer, a base admin and a
    regulator on each side; a province-level base in Chengdu; one of every object for each side."""
    w = World()
    w.sichuan, w.shandong = make_region("四川省"), make_region("山东省")
    w.chengdu, w.mianyang = make_region("成都市", parent=w.sichuan), make_region("绵阳市", parent=w.sichuan)
    w.yantai = make_region("烟台市", parent=w.shandong)
    w.hospital = Employer(name="成都医院", region_id=w.chengdu.id)
    w.clinic = Employer(name="绵阳诊所", region_id=w.mianyang.id)
    db.session.add_all([w.hospital, w.clinic])
    db.session.commit()
    w.learner_a = make_user(Role.LEARNER, region_id=w.chengdu.id, employer_id=w.hospital.id)
    w.learner_b = make_user(Role.LEARNER, region_id=w.mianyang.id, employer_id=w.clinic.id)
    w.reviewer_a = make_user(Role.REVIEWER, region_id=w.chengdu.id, employer_id=w.hospital.id)
    w.reviewer_b = make_user(Role.REVIEWER, region_id=w.mianyang.id, employer_id=w.clinic.id)
    w.reviewer_nowhere = make_user(Role.REVIEWER, region_id=w.chengdu.id)  # no employer chosen
    w.admin_a, w.admin_b, w.admin_p = (make_user(Role.BASE_ADMIN, region_id=w.chengdu.id) for _ in range(3))
    w.reg_chengdu = make_user(Role.REGULATOR, region_id=w.chengdu.id)
    w.reg_mianyang = make_user(Role.REGULATOR, region_id=w.mianyang.id)
    w.reg_sichuan = make_user(Role.REGULATOR, region_id=w.sichuan.id)
    w.reg_yantai = make_user(Role.REGULATOR, region_id=w.yantai.id)
    w.reg_nowhere = make_user(Role.REGULATOR, region_id=None)
    w.platform = make_user(Role.PLATFORM_ADMIN, region_id=None)
    w.base_a = make_base(admin=w.admin_a, region_id=w.chengdu.id)
    w.base_b = make_base(admin=w.admin_b, region_id=w.mianyang.id)
    w.base_p = make_base(admin=w.admin_p, region_id=w.chengdu.id, type=BaseType.PROVINCIAL)
    w.base_y = make_base(region_id=w.yantai.id)
    w.base_gone = make_base(region_id=w.chengdu.id, status=BaseStatus.EXITED)
    w.course_a, w.course_b = make_course(w.base_a), make_course(w.base_b)
    w.course_p = make_course(w.base_p)
    w.draft_a = make_course(w.base_a, status=CourseStatus.DRAFT)
    w.closed_a = make_course(w.base_a, status=CourseStatus.CLOSED)
    w.cancelled_a = make_course(w.base_a, status=CourseStatus.CANCELLED)
    w.course_gone = make_course(w.base_gone)
    w.enrollment_a = Enrollment(course_id=w.course_a.id, learner_id=w.learner_a.id, status=EnrollmentStatus.CONFIRMED)
    w.enrollment_b = Enrollment(course_id=w.course_b.id, learner_id=w.learner_b.id, status=EnrollmentStatus.CONFIRMED)
    w.declaration_a, w.declaration_b = (
        Declaration(learner_id=learner.id, employer_id=learner.employer_id, kind=DeclarationKind.CONFERENCE,
                    category=Category.PROFESSIONAL, title="学术会议", earned_on=date(YEAR, 3, 1), year=YEAR,
                    hours_claimed=4, due_on=date(YEAR, 3, 8))
        for learner in (w.learner_a, w.learner_b))
    w.plan_a, w.plan_b, w.plan_y = (
        ClassPlan(course_id=course.id, start_date=course.start_date, end_date=course.end_date, place="甲楼",
                  teachers="李老师", syllabus="大纲", expected_trainees=30)
        for course in (w.course_a, w.course_b, make_course(w.base_y)))
    w.eval_chengdu, w.eval_sichuan, w.eval_yantai = (
        Evaluation(year=YEAR, region_id=region.id) for region in (w.chengdu, w.sichuan, w.yantai))
    w.cert_a, w.cert_b = (Certificate(code=f"CERT{learner.id:08d}", learner_id=learner.id, year=YEAR, summary={})
                          for learner in (w.learner_a, w.learner_b))
    w.disabled_admin = make_user(Role.BASE_ADMIN, region_id=w.chengdu.id, active=False)
    w.former_admin = make_user(Role.BASE_ADMIN, region_id=w.chengdu.id)
    db.session.add_all([w.enrollment_a, w.enrollment_b, w.declaration_a, w.declaration_b, w.plan_a, w.plan_b, w.plan_y,
                        w.eval_chengdu, w.eval_sichuan, w.eval_yantai, w.cert_a, w.cert_b])
    db.session.commit()
    _sector_authorities(w, make_user)
    w.token_a = _token(w.base_a, w.admin_a, "a")
    w.token_disabled = _token(w.base_a, w.disabled_admin, "disabled", member=True)
    w.token_former = _token(w.base_a, w.former_admin, "former", member=False)  # no longer runs base A
    w.token_b = _token(w.base_b, w.admin_b, "b")
    w.principal_a, w.principal_b = SimpleNamespace(base=w.base_a), SimpleNamespace(base=w.base_b)
    w.anonymous = AnonymousUserMixin()
    return w


def _employer_admin(employer, active: bool = True) -> SimpleNamespace:
    """An employer admin as the rules see one (the world keeps no account of that role)."""
    return SimpleNamespace(is_authenticated=True, active=active, role=Role.EMPLOYER_ADMIN, employer_id=employer.id)


def _sector_authorities(w, make_user) -> None:
    """Chengdu's health commission (declaration A is routed to it, with a guide) and Sichuan's, an officer each."""
    w.health_a = SectorAuthority(region_id=w.chengdu.id, sector="卫生", name="成都卫健委")
    w.health_s = SectorAuthority(region_id=w.sichuan.id, sector="卫生", name="四川卫健委")
    db.session.add_all([w.health_a, w.health_s])
    db.session.flush()
    w.declaration_a.sector_authority_id = w.health_a.id
    w.guide_a = SectorGuide(authority_id=w.health_a.id, year=YEAR, title="指南")
    db.session.add(w.guide_a)
    db.session.commit()
    w.officer_a = make_user(Role.SECTOR_OFFICER, region_id=w.chengdu.id, sector_authority_id=w.health_a.id)
    w.officer_s = make_user(Role.SECTOR_OFFICER, region_id=w.sichuan.id, sector_authority_id=w.health_s.id)


def _token(base, maker, name: str, member: bool = True) -> ApiToken:
    if member and not policies.may_manage_base(maker, base):
        from models import BaseMembership

        db.session.add(BaseMembership(user_id=maker.id, base_id=base.id))
    token = ApiToken(base_id=base.id, name=name, token_hash=f"{base.id}-{name}".ljust(64, "0"), prefix="jidi_x",
                     created_by_id=maker.id)
    db.session.add(token)
    db.session.commit()
    return token


# (rule, what the case is, the arguments from the world, the answer). Every rule has an allowed case and
# the refusals that apply to it: another base, another region, a province over its city, a wrong role.
CASES = [
    # areas
    ("may_enter", "owner", lambda w: (w.learner_a, "learner"), True),
    ("may_enter", "owner", lambda w: (w.platform, "platform"), True),
    ("may_enter", "wrong role", lambda w: (w.admin_a, "learner"), False),
    ("may_enter", "wrong role", lambda w: (w.reg_sichuan, "base_admin"), False),
    ("may_enter", "anonymous", lambda w: (w.anonymous, "learner"), False),
    # the public catalog
    ("is_listed_base", "listed", lambda w: (w.base_a,), True),
    ("is_listed_base", "exited", lambda w: (w.base_gone,), False),
    ("is_public_course", "published", lambda w: (w.course_a,), True),
    ("is_public_course", "closed to enrollment", lambda w: (w.closed_a,), True),
    ("is_public_course", "draft", lambda w: (w.draft_a,), False),
    ("is_public_course", "cancelled", lambda w: (w.cancelled_a,), False),
    ("is_public_course", "exited base", lambda w: (w.course_gone,), False),
    # learners
    ("may_enroll", "owner", lambda w: (w.learner_a,), True),
    ("may_enroll", "wrong role", lambda w: (w.admin_a,), False),
    ("may_enroll", "anonymous", lambda w: (w.anonymous,), False),
    ("may_declare", "owner", lambda w: (w.learner_b,), True),
    ("may_declare", "wrong role", lambda w: (w.reviewer_a,), False),
    ("owns_enrollment", "owner", lambda w: (w.learner_a, w.enrollment_a), True),
    ("owns_enrollment", "another learner", lambda w: (w.learner_b, w.enrollment_a), False),
    ("owns_enrollment", "wrong role", lambda w: (w.admin_a, w.enrollment_a), False),
    ("owns_declaration", "owner", lambda w: (w.learner_a, w.declaration_a), True),
    ("owns_declaration", "another learner", lambda w: (w.learner_a, w.declaration_b), False),
    ("owns_declaration", "wrong role", lambda w: (w.reviewer_a, w.declaration_a), False),
    # reviewers
    ("may_review", "owner", lambda w: (w.reviewer_a, w.declaration_a), True),
    ("may_review", "another employer", lambda w: (w.reviewer_a, w.declaration_b), False),
    ("may_review", "no employer", lambda w: (w.reviewer_nowhere, w.declaration_a), False),
    ("may_review", "wrong role", lambda w: (w.learner_a, w.declaration_a), False),
    ("may_review", "province over city", lambda w: (w.reg_sichuan, w.declaration_a), False),
    ("may_see_declaration", "owner", lambda w: (w.learner_a, w.declaration_a), True),
    ("may_see_declaration", "reviewer", lambda w: (w.reviewer_a, w.declaration_a), True),
    ("may_see_declaration", "regulator", lambda w: (w.reg_chengdu, w.declaration_a), True),
    ("may_see_declaration", "province over city", lambda w: (w.reg_sichuan, w.declaration_b), True),
    ("may_see_declaration", "another learner", lambda w: (w.learner_b, w.declaration_a), False),
    ("may_see_declaration", "another employer", lambda w: (w.reviewer_b, w.declaration_a), False),
    ("may_see_declaration", "other region", lambda w: (w.reg_mianyang, w.declaration_a), False),
    ("may_see_declaration", "other province", lambda w: (w.reg_yantai, w.declaration_a), False),
    ("may_see_declaration", "wrong role", lambda w: (w.admin_a, w.declaration_a), False),
    ("may_see_declaration", "wrong role", lambda w: (w.platform, w.declaration_a), False),
    # base admins
    ("may_manage_base", "owner", lambda w: (w.admin_a, w.base_a), True),
    ("may_manage_base", "other base", lambda w: (w.admin_b, w.base_a), False),
    ("may_manage_base", "wrong role", lambda w: (w.reg_chengdu, w.base_a), False),
    ("may_manage_base", "anonymous", lambda w: (w.anonymous, w.base_a), False),
    ("may_manage_course", "owner", lambda w: (w.admin_a, w.draft_a), True),
    ("may_manage_course", "other base", lambda w: (w.admin_a, w.course_b), False),
    ("may_manage_course", "province-level base of the city", lambda w: (w.admin_a, w.course_p), False),
    ("may_manage_course", "wrong role", lambda w: (w.learner_a, w.course_a), False),
    ("maker_may_act", "owner", lambda w: (w.admin_a, w.base_a), True),
    ("maker_may_act", "other base", lambda w: (w.admin_b, w.base_a), False),
    ("maker_may_act", "disabled", lambda w: (w.disabled_admin, w.base_a), False),
    ("maker_may_act", "wrong role", lambda w: (w.learner_a, w.base_a), False),
    ("token_reaches", "owner", lambda w: (w.principal_a, w.course_a), True),
    ("token_reaches", "other base", lambda w: (w.principal_a, w.course_b), False),
    # employers: their staff's hours, their API tokens
    ("may_see_staff", "owner", lambda w: (w.reviewer_a, w.learner_a), True),
    ("may_see_staff", "employer admin", lambda w: (_employer_admin(w.hospital), w.learner_a), True),
    ("may_see_staff", "another employer", lambda w: (w.reviewer_b, w.learner_a), False),
    ("may_see_staff", "no employer", lambda w: (w.reviewer_nowhere, w.learner_a), False),
    ("may_see_staff", "not a learner", lambda w: (w.reviewer_a, w.reviewer_a), False),
    ("may_see_staff", "wrong role", lambda w: (w.learner_a, w.learner_a), False),
    ("employer_maker_may_act", "owner", lambda w: (_employer_admin(w.hospital), w.hospital), True),
    ("employer_maker_may_act", "another employer", lambda w: (_employer_admin(w.clinic), w.hospital), False),
    ("employer_maker_may_act", "disabled", lambda w: (_employer_admin(w.hospital, active=False), w.hospital), False),
    ("employer_maker_may_act", "wrong role", lambda w: (w.reviewer_a, w.hospital), False),
    ("token_reaches_staff", "owner", lambda w: (SimpleNamespace(employer=w.hospital), w.learner_a), True),
    ("token_reaches_staff", "another employer", lambda w: (SimpleNamespace(employer=w.hospital), w.learner_b), False),
    ("token_reaches_staff", "not a learner", lambda w: (SimpleNamespace(employer=w.hospital), w.reviewer_a), False),
    ("token_reaches_staff", "a base's token", lambda w: (w.principal_a, w.learner_a), False),
    # regulators
    ("in_reach", "owner", lambda w: (w.reg_chengdu, w.chengdu.id), True),
    ("in_reach", "province over city", lambda w: (w.reg_sichuan, w.mianyang.id), True),
    ("in_reach", "city over province", lambda w: (w.reg_chengdu, w.sichuan.id), False),
    ("in_reach", "other region", lambda w: (w.reg_chengdu, w.mianyang.id), False),
    ("in_reach", "other province", lambda w: (w.reg_sichuan, w.yantai.id), False),
    ("in_reach", "no region", lambda w: (w.reg_nowhere, w.chengdu.id), False),
    ("in_reach", "wrong role", lambda w: (w.learner_a, w.chengdu.id), False),
    ("may_oversee_base", "owner", lambda w: (w.reg_chengdu, w.base_a), True),
    ("may_oversee_base", "province over city", lambda w: (w.reg_sichuan, w.base_b), True),
    ("may_oversee_base", "other region", lambda w: (w.reg_mianyang, w.base_a), False),
    ("may_oversee_base", "other province", lambda w: (w.reg_yantai, w.base_a), False),
    ("may_oversee_base", "wrong role", lambda w: (w.admin_a, w.base_a), False),
    ("may_decide_plan", "owner", lambda w: (w.reg_chengdu, w.plan_a), True),
    ("may_decide_plan", "province over city", lambda w: (w.reg_sichuan, w.plan_b), True),
    ("may_decide_plan", "other region", lambda w: (w.reg_chengdu, w.plan_b), False),
    ("may_decide_plan", "other province", lambda w: (w.reg_sichuan, w.plan_y), False),
    ("may_decide_plan", "wrong role", lambda w: (w.admin_a, w.plan_a), False),
    ("may_see_evaluation", "owner", lambda w: (w.reg_chengdu, w.eval_chengdu), True),
    ("may_see_evaluation", "province over city", lambda w: (w.reg_sichuan, w.eval_chengdu), True),
    ("may_see_evaluation", "city over province", lambda w: (w.reg_chengdu, w.eval_sichuan), False),
    ("may_see_evaluation", "other province", lambda w: (w.reg_sichuan, w.eval_yantai), False),
    ("may_see_evaluation", "wrong role", lambda w: (w.platform, w.eval_chengdu), False),
    ("may_follow_job", "requester", lambda w: (w.reg_chengdu, JobRecord(requested_by_id=w.reg_chengdu.id)), True),
    ("may_follow_job", "province over city", lambda w: (w.reg_sichuan, JobRecord(requested_by_id=w.reg_chengdu.id)),
     False),
    ("may_follow_job", "requester gone", lambda w: (w.reg_chengdu, JobRecord(requested_by_id=None)), False),
    ("may_follow_job", "anonymous", lambda w: (AnonymousUserMixin(), JobRecord(requested_by_id=w.reg_chengdu.id)),
     False),
    ("may_revoke_certificate", "owner", lambda w: (w.reg_chengdu, w.cert_a), True),
    ("may_revoke_certificate", "province over city", lambda w: (w.reg_sichuan, w.cert_b), True),
    ("may_revoke_certificate", "other region", lambda w: (w.reg_mianyang, w.cert_a), False),
    ("may_revoke_certificate", "other province", lambda w: (w.reg_yantai, w.cert_a), False),
    ("may_revoke_certificate", "wrong role", lambda w: (w.learner_a, w.cert_a), False),
    ("may_set_region_rules", "owner", lambda w: (w.reg_mianyang,), True),
    ("may_set_region_rules", "no region", lambda w: (w.reg_nowhere,), False),
    ("may_set_region_rules", "wrong role", lambda w: (w.platform,), False),
    ("may_decide_type", "city-level type by a city", lambda w: (w.reg_chengdu, BaseType.CITY), True),
    ("may_decide_type", "province over city", lambda w: (w.reg_sichuan, BaseType.PROVINCIAL), True),
    ("may_decide_type", "province-level type by a city", lambda w: (w.reg_chengdu, BaseType.RURAL_REVITALIZATION),
     False),
    ("may_decide_type", "wrong role", lambda w: (w.admin_p, BaseType.PROVINCIAL), False),
    ("may_govern", "owner", lambda w: (w.reg_chengdu, w.base_a), True),
    ("may_govern", "province over city", lambda w: (w.reg_sichuan, w.base_p), True),
    ("may_govern", "province-level base in the city", lambda w: (w.reg_chengdu, w.base_p), False),
    ("may_set_target", "owner", lambda w: (w.reg_mianyang, BaseType.CITY), True),
    ("may_set_target", "province over city", lambda w: (w.reg_sichuan, BaseType.CITY), True),
    ("may_set_target", "province-level type by a city", lambda w: (w.reg_mianyang, BaseType.PROVINCIAL), False),
    ("may_decide_outcome", "owner", lambda w: (w.reg_chengdu, w.eval_chengdu, w.base_a), True),
    ("may_decide_outcome", "province over city", lambda w: (w.reg_sichuan, w.eval_sichuan, w.base_p), True),
    ("may_decide_outcome", "province-level base in a city's evaluation",
     lambda w: (w.reg_sichuan, w.eval_chengdu, w.base_p), False),
    ("may_decide_outcome", "province-level base by a city", lambda w: (w.reg_chengdu, w.eval_sichuan, w.base_p),
     False),
    ("may_decide_application", "owner", lambda w: (w.reg_chengdu, BaseApplication(region_id=w.chengdu.id,
                                                                                   base_type=BaseType.CITY)), True),
    ("may_decide_application", "province over city",
     lambda w: (w.reg_sichuan, BaseApplication(region_id=w.chengdu.id, base_type=BaseType.PROVINCIAL)), True),
    ("may_decide_application", "province-level type by a city",
     lambda w: (w.reg_chengdu, BaseApplication(region_id=w.chengdu.id, base_type=BaseType.PROVINCIAL)), False),
    ("may_decide_application", "other region",
     lambda w: (w.reg_mianyang, BaseApplication(region_id=w.chengdu.id, base_type=BaseType.CITY)), False),
    ("may_decide_application", "wrong role",
     lambda w: (w.admin_a, BaseApplication(region_id=w.chengdu.id, base_type=BaseType.CITY)), False),
    ("may_oversee_sector_authority", "owner", lambda w: (w.reg_chengdu, _authority(w.chengdu)), True),
    ("may_oversee_sector_authority", "province over city", lambda w: (w.reg_sichuan, _authority(w.mianyang)), True),
    ("may_oversee_sector_authority", "city over province", lambda w: (w.reg_chengdu, _authority(w.sichuan)), False),
    ("may_oversee_sector_authority", "other region", lambda w: (w.reg_mianyang, _authority(w.chengdu)), False),
    ("may_oversee_sector_authority", "other province", lambda w: (w.reg_yantai, _authority(w.chengdu)), False),
    ("may_oversee_sector_authority", "wrong role", lambda w: (w.platform, _authority(w.chengdu)), False),
    # sector officers
    ("may_review_as_sector", "owner", lambda w: (w.officer_a, w.declaration_a), True),
    ("may_review_as_sector", "not routed to it", lambda w: (w.officer_a, w.declaration_b), False),
    ("may_review_as_sector", "another authority", lambda w: (w.officer_s, w.declaration_a), False),
    ("may_review_as_sector", "wrong role", lambda w: (w.reviewer_a, w.declaration_a), False),
    ("may_see_declaration", "sector officer", lambda w: (w.officer_a, w.declaration_a), True),
    ("may_see_declaration", "another authority", lambda w: (w.officer_s, w.declaration_a), False),
    ("may_write_guide", "owner", lambda w: (w.officer_a, w.guide_a), True),
    ("may_write_guide", "another authority", lambda w: (w.officer_s, w.guide_a), False),
    ("may_write_guide", "wrong role", lambda w: (w.admin_a, w.guide_a), False),
    ("may_recommend_course", "owner", lambda w: (w.officer_a, w.course_a), True),
    ("may_recommend_course", "province over city", lambda w: (w.officer_s, w.course_b), True),
    ("may_recommend_course", "other region", lambda w: (w.officer_a, w.course_b), False),
    ("may_recommend_course", "draft", lambda w: (w.officer_a, w.draft_a), False),
    ("may_recommend_course", "exited base", lambda w: (w.officer_a, w.course_gone), False),
    ("may_recommend_course", "wrong role", lambda w: (w.reviewer_a, w.course_a), False),
    # the platform administrator
    ("may_manage_employer", "owner", lambda w: (_employer_admin(w.hospital), w.hospital), True),
    ("may_manage_employer", "other employer", lambda w: (_employer_admin(w.clinic), w.hospital), False),
    ("may_manage_employer", "wrong role", lambda w: (w.reviewer_a, w.hospital), False),
    ("may_decide_claim", "owner", lambda w: (_employer_admin(w.hospital), Employment(employer_id=w.hospital.id)),
     True),
    ("may_decide_claim", "other employer", lambda w: (_employer_admin(w.clinic), Employment(employer_id=w.hospital.id)),
     False),
    ("may_decide_claim", "wrong role", lambda w: (w.reviewer_a, Employment(employer_id=w.hospital.id)), False),
    ("may_manage_reviewer", "owner", lambda w: (_employer_admin(w.hospital), w.reviewer_a), True),
    ("may_manage_reviewer", "other employer", lambda w: (_employer_admin(w.clinic), w.reviewer_a), False),
    ("may_manage_reviewer", "not a reviewer", lambda w: (_employer_admin(w.hospital), w.learner_a), False),
    ("may_decide_employer", "owner", lambda w: (w.reg_chengdu, w.hospital), True),
    ("may_decide_employer", "province over city", lambda w: (w.reg_sichuan, w.clinic), True),
    ("may_decide_employer", "other region", lambda w: (w.reg_mianyang, w.hospital), False),
    ("may_decide_employer", "wrong role", lambda w: (w.reviewer_a, w.hospital), False),
    ("may_keep_calendar", "owner", lambda w: (w.platform,), True),
    ("may_keep_calendar", "wrong role", lambda w: (w.reg_sichuan,), False),
    ("may_administer_platform", "owner", lambda w: (w.platform,), True),
    ("may_administer_platform", "wrong role", lambda w: (w.reg_sichuan,), False),
    ("may_administer_platform", "anonymous", lambda w: (w.anonymous,), False),
]


def _authority(region) -> SectorAuthority:
    """An unsaved sector authority of the region: the rule reads its region only."""
    return SectorAuthority(region_id=region.id, sector="卫生", name="卫生健康委员会")


@pytest.mark.parametrize("name", sorted(policies.RULES))
def test_rule_answers_its_cases(w, name):
    wrong = [f"{case}: {not answer}" for n, case, args, answer in CASES
             if n == name and getattr(policies, name)(*args(w)) is not answer]
    assert wrong == []


def test_every_rule_has_an_allowed_case_and_a_refused_one():
    asked = {name: {answer for n, _case, _args, answer in CASES if n == name} for name in policies.RULES}
    assert {name: answers for name, answers in asked.items() if answers != {True, False}} == {}


def test_every_rule_says_what_it_answers_and_what_a_refusal_is():
    for rule in policies.RULES.values():
        assert "?" in rule.question, rule.name  # a question, answered in the rest of the docstring
        assert rule.refused in (400, 401, 403, 404), rule.name
        assert getattr(policies, rule.name) is rule.test
    # the house rule: a right the user lacks is 403, another's object 404
    assert policies.RULES["may_enter"].refused == 403
    assert {policies.RULES[n].refused for n in ("may_manage_base", "may_manage_course", "owns_enrollment",
                                                "owns_declaration", "may_review", "may_see_declaration",
                                                "may_oversee_base", "may_see_evaluation")} == {404}


def test_every_area_admits_one_role_and_every_role_has_an_area():
    assert {role for roles in policies.AREAS.values() for role in roles} == set(Role)


def test_a_base_admin_s_membership_decides_not_the_role(w):
    """The role is the area gate's: a leftover membership still names the base, which the gate then refuses."""
    w.admin_a.role = Role.LEARNER
    assert policies.may_manage_base(w.admin_a, w.base_a) is True
    assert policies.may_enter(w.admin_a, "base_admin") is False


def test_ensure_may_manage_base_refuses_another_base_s_admin(w):
    policies.ensure_may_manage_base(w.admin_a, w.base_a)
    with pytest.raises(NotAllowed, match="您不是该基地的管理员"):
        policies.ensure_may_manage_base(w.admin_b, w.base_a)


def test_regions_in_reach_lists_a_province_with_its_cities_and_nobody_else_anything(w):
    assert {r.id for r in policies.regions_in_reach(w.reg_sichuan)} == {w.sichuan.id, w.chengdu.id, w.mianyang.id}
    assert [r.id for r in policies.regions_in_reach(w.reg_chengdu)] == [w.chengdu.id]
    assert policies.regions_in_reach(w.reg_nowhere) == [] and policies.regions_in_reach(w.admin_a) == []


# --- each SQL twin selects exactly what its predicate allows -----------------------------------------------------

def _ids(model, clause, *joins) -> set[int]:
    stmt = sa.select(model.id)
    for join in joins:
        stmt = stmt.join(join)
    return set(db.session.scalars(stmt.where(clause)))


def _users() -> list[User]:
    """Every active account. A disabled one is never signed in (the session loader refuses it), so no rule is
    asked about it: its predicates say no (Flask-Login: not authenticated), the SQL twins do not look."""
    return db.session.scalars(sa.select(User).where(User.active.is_(True)).order_by(User.id)).all()


def _all(model) -> list:
    return db.session.scalars(sa.select(model).order_by(model.id)).all()


TWINS = [
    # (predicate, SQL twin, model, joins)
    ("may_manage_base", "managed_bases", TrainingBase, ()),
    ("may_manage_course", "managed_courses", Course, ()),
    ("owns_enrollment", "own_enrollments", Enrollment, ()),
    ("owns_declaration", "own_declarations", Declaration, ()),
    ("may_review", "reviewable_declarations", Declaration, ()),
    ("may_see_staff", "staff_of", User, ()),
    ("may_review_as_sector", "sector_reviewable_declarations", Declaration, ()),
    ("may_recommend_course", "recommendable_courses", Course, (Course.base,)),
    ("may_oversee_base", "bases_in_reach", TrainingBase, ()),
]


@pytest.mark.parametrize(("predicate", "twin", "model", "joins"), TWINS, ids=[t[0] for t in TWINS])
def test_sql_twin_agrees_with_the_predicate_for_every_user(w, predicate, twin, model, joins):
    db.session.expire_all()  # memberships and the like as stored, not as the fixture's objects last saw them
    rows, someone_allowed, someone_refused = _all(model), False, False
    for user in _users():
        allowed = {row.id for row in rows if getattr(policies, predicate)(user, row)}
        assert _ids(model, getattr(policies, twin)(user), *joins) == allowed, (predicate, user)
        someone_allowed, someone_refused = someone_allowed or bool(allowed), someone_refused or len(allowed) < len(rows)
    assert someone_allowed and someone_refused  # the control


def test_region_ids_in_reach_agree_with_in_reach(w):
    db.session.expire_all()
    regions = _all(Region)
    for user in _users():
        allowed = {r.id for r in regions if policies.in_reach(user, r.id)}
        assert set(db.session.scalars(policies.region_ids_in_reach(user))) == allowed, user


def test_public_twins_agree_with_their_predicates(w):
    db.session.expire_all()
    listed = {b.id for b in _all(TrainingBase) if policies.is_listed_base(b)}
    assert _ids(TrainingBase, policies.listed_bases()) == listed and w.base_gone.id not in listed
    public = {c.id for c in _all(Course) if policies.is_public_course(c)}
    assert _ids(Course, policies.public_courses(), Course.base) == public
    assert w.course_a.id in public and w.draft_a.id not in public and w.course_gone.id not in public


def test_tokens_maker_may_act_agrees_with_maker_may_act(w):
    db.session.expire_all()
    tokens = _all(ApiToken)
    allowed = {t.id for t in tokens if policies.maker_may_act(t.created_by, t.base)}
    acting = set(db.session.scalars(sa.select(ApiToken.id).join(User, User.id == ApiToken.created_by_id)
                                    .where(policies.tokens_maker_may_act())))
    assert acting == allowed == {w.token_a.id, w.token_b.id}


def test_courses_token_reaches_agrees_with_token_reaches(w):
    db.session.expire_all()
    courses = _all(Course)
    for principal in (w.principal_a, w.principal_b):
        assert _ids(Course, policies.courses_token_reaches(principal)) == {
            c.id for c in courses if policies.token_reaches(principal, c)}


def test_a_reviewer_without_an_employer_reviews_nothing(w):
    assert policies.employer_reviewed_by(w.reviewer_nowhere) is None
    assert _ids(Declaration, policies.reviewable_declarations(w.reviewer_nowhere)) == set()
    assert policies.employer_reviewed_by(w.learner_a) is None  # a learner has an employer but reviews nothing

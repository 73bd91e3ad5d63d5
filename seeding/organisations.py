"""The organisations of the demo (issue 17): employers in each state with their admins and reviewers, who works
where (confirmed, claimed, refused), sector authorities with officers and a study guide, Henan's two review
steps with declarations at each, and base applications in each state.

Idempotent like the rest of the demo: each part is looked up by its natural key and left alone when it is
there. Employers, claims and authorities are written as rows (the demo's past); what has a use case with
consequences (declarations through their steps, applications through their decision) goes through the
services, so the demo shows what the site does.
"""

from datetime import date, timedelta

import sqlalchemy as sa

from extensions import db
from models import (
    BaseApplication,
    BaseType,
    Category,
    Course,
    CourseStatus,
    DeclarationKind,
    Employer,
    EmployerStatus,
    Employment,
    EmploymentStatus,
    Region,
    Role,
    SectorAuthority,
    TrainingBase,
    User,
)
from models._common import utcnow
from seeding.history import _evidence as evidence_pdf
from services import base_applications, credit_codes, declarations, resident_ids, sector_guides
from services.infra import clock

EMPLOYER_ADMINS = (
    # (e-mail, name, employer): the employer's first admin, who registered it
    ("employer.cd1@jidi.demo", "成都市第一人民医院 人事科 钱主任", "成都市第一人民医院"),
    ("employer.yt@jidi.demo", "烟台市芝罘区人民医院 人事科 孙主任", "烟台市芝罘区人民医院"),
    ("employer.zz@jidi.demo", "郑州市中心医院 人事处 刘处长", "郑州市中心医院"),
)
# Registered on the site and not (or not yet) approved: (name, city, sector, admin e-mail, admin name, reason).
REGISTERED = (
    ("成都锦城数字健康科技有限公司", "510100", "信息技术", "employer.pending@jidi.demo",
     "锦城数字健康 人事 何经理", ""),
    ("成都蓉欣职业培训咨询中心", "510100", "其他", "employer.rejected@jidi.demo", "蓉欣培训 办公室 罗主任",
     "营业执照所载名称与申请名称不一致，且统一社会信用代码与执照不符；请核对后重新提交。"),
)
SECTOR_AUTHORITIES = (
    # (city, sector, name, officer e-mail, officer name)
    ("510100", "卫生", "成都市卫生健康委员会", "sector.cd@jidi.demo", "成都市卫健委 科教处 冯处长"),
    ("410100", "卫生", "郑州市卫生健康委员会", "sector.zz@jidi.demo", "郑州市卫健委 科教处 许处长"),
)


def credit_code(region_code: str, serial: int, kind: str = "12") -> str:
    """A made-up unified social credit code with a valid check character: ``kind`` (12: a public institution,
    91: a company), the region's code, and a serial no real organisation code has (MB…)."""
    body = f"{kind}{region_code}MB{serial:07d}"
    return body + credit_codes.check_character(body)


def seed_organisations(regions: dict[str, Region], password_hash: str) -> None:
    """Everything of issue 17 the demo shows; ``password_hash``: the demo password's."""
    regulators = {u.region_id: u for u in db.session.execute(
        sa.select(User).where(User.role == Role.REGULATOR).order_by(User.id)).scalars()}
    employers = _registered_employers(regions, regulators)
    _admins(employers, password_hash)
    _staff_history()
    _authorities(regions, regulators, password_hash)
    db.session.commit()
    _henan(regions, password_hash)
    _guide()
    _applications(regions)


def _user(email: str, name: str, role: Role, region_id: int | None, password_hash: str, **extra) -> User:
    user = db.session.execute(sa.select(User).filter_by(email=email)).scalar_one_or_none()
    if user is None:
        user = User(email=email, name=name, role=role, region_id=region_id, password_hash=password_hash, **extra)
        db.session.add(user)
        db.session.flush()
    return user


def _registered_employers(regions: dict[str, Region], regulators: dict[int, User]) -> dict[str, Employer]:
    """The demo's known employers get what registration asks (code, sector, contact) and the approval of
    their city's regulator; two more registered on the site: one waits, one was turned down."""
    employers = {e.name: e for e in db.session.execute(sa.select(Employer)).scalars()}
    for serial, employer in enumerate(sorted(employers.values(), key=lambda e: e.id), 1):
        if employer.credit_code is None:
            region = db.session.get(Region, employer.region_id)
            employer.credit_code = credit_code(region.code, serial)
            employer.sector = "农业" if "农业" in employer.name else "卫生"
            employer.contact_name, employer.contact_phone = "人事科", f"1540002{serial:04d}"
            employer.status = EmployerStatus.APPROVED
            regulator = regulators.get(employer.region_id) or regulators.get(region.parent_id)
            employer.decided_by_id = regulator.id if regulator else None
            employer.decided_at = utcnow() - timedelta(days=300)
    for serial, (name, code, sector, _email, contact, reason) in enumerate(REGISTERED, 50):
        if name not in employers:
            region = regions[code]
            employers[name] = Employer(
                name=name, region_id=region.id, credit_code=credit_code(code, serial, "91"), sector=sector,
                contact_name=contact.split()[-1], contact_phone=f"1540002{serial:04d}",
                status=EmployerStatus.REJECTED if reason else EmployerStatus.PENDING,
                applied_at=utcnow() - timedelta(days=3 if not reason else 20),
                decided_by_id=regulators[region.id].id if reason else None,
                decided_at=utcnow() - timedelta(days=15) if reason else None, decision_reason=reason,
            )
            db.session.add(employers[name])
    db.session.flush()
    return employers


def _admins(employers: dict[str, Employer], password_hash: str) -> None:
    for email, name, employer_name in EMPLOYER_ADMINS:
        employer = employers.get(employer_name)
        if employer is not None:
            _user(email, name, Role.EMPLOYER_ADMIN, employer.region_id, password_hash, employer_id=employer.id)
    for name, _code, _sector, email, contact, _reason in REGISTERED:
        employer = employers[name]
        _user(email, contact, Role.EMPLOYER_ADMIN, employer.region_id, password_hash, employer_id=employer.id)


def _staff_history() -> None:
    """Every learner the demo placed with an employer was confirmed by it (as migration 0015 does for the
    learners of a live site); then one learner of the Third Hospital claims the First (waiting for its
    admin), and one claimed the First and was refused."""
    db.session.execute(sa.text(
        "INSERT INTO employment (learner_id, employer_id, status, requested_at, decided_at, reason)"
        " SELECT u.id, u.employer_id, 'confirmed', u.created_at, u.created_at, '' FROM \"user\" u"
        " WHERE u.role = 'learner' AND u.employer_id IS NOT NULL AND NOT EXISTS"
        " (SELECT 1 FROM employment e WHERE e.learner_id = u.id)"))
    first = db.session.execute(sa.select(Employer).filter_by(name="成都市第一人民医院")).scalar_one_or_none()
    third = db.session.execute(sa.select(Employer).filter_by(name="成都市第三人民医院")).scalar_one_or_none()
    if first is None or third is None:
        return
    movers = db.session.execute(
        sa.select(User).where(User.role == Role.LEARNER, User.employer_id == third.id, User.phone.like("154%"))
        .order_by(User.phone.desc()).limit(2)).scalars().all()
    if db.session.scalar(sa.select(sa.func.count(Employment.id)).where(Employment.employer_id == first.id,
                                                                         Employment.status != "confirmed")):
        return
    admin = db.session.execute(sa.select(User).filter_by(email=EMPLOYER_ADMINS[0][0])).scalar_one_or_none()
    for n, learner in enumerate(movers):
        refused = n == 1
        db.session.add(Employment(
            learner_id=learner.id, employer_id=first.id,
            status=EmploymentStatus.REFUSED if refused else EmploymentStatus.PENDING,
            requested_at=utcnow() - timedelta(days=2 + 10 * n),
            decided_by_id=admin.id if refused and admin else None,
            decided_at=utcnow() - timedelta(days=8) if refused else None,
            reason="本院人事系统中查无此人，请确认工作单位后重新申请" if refused else "",
        ))


def _authorities(regions: dict[str, Region], regulators: dict[int, User], password_hash: str) -> None:
    for code, sector, name, email, officer in SECTOR_AUTHORITIES:
        region = regions[code]
        authority = db.session.execute(sa.select(SectorAuthority).filter_by(region_id=region.id, sector=sector)
                                       ).scalar_one_or_none()
        if authority is None:
            regulator = regulators.get(region.id)
            authority = SectorAuthority(region_id=region.id, sector=sector, name=name,
                                        created_by_id=regulator.id if regulator else None)
            db.session.add(authority)
            db.session.flush()
        _user(email, officer, Role.SECTOR_OFFICER, region.id, password_hash, sector_authority_id=authority.id)


# --- Henan: the employer's step, then the sector authority's (notice 002) ----------------------------------

HENAN_LEARNER = ("learner.henan@jidi.demo", "张敏", "15400000002")
HENAN_DECLARATIONS = (
    # (title, organiser, kind, category, amount, how far it has gone: 0 filed, 1 employer approved, 2 both)
    ("河南省护理学会年会", "河南省护理学会", DeclarationKind.CONFERENCE, Category.PROFESSIONAL, {"days": 2}, 2),
    ("静脉治疗护理专科培训", "郑州大学第一附属医院", DeclarationKind.CONFERENCE, Category.PROFESSIONAL,
     {"days": 3}, 1),
    ("医院感染防控专题讲座", "郑州市卫生健康委员会", DeclarationKind.CONFERENCE, Category.PROFESSIONAL,
     {"minutes": 180}, 0),
)


def _henan(regions: dict[str, Region], password_hash: str) -> None:
    """A nurse of Zhengzhou's Central Hospital with a declaration at each step: waiting for the hospital,
    approved by it and waiting for the city's health commission, and approved by both (in her hours)."""
    employer = db.session.execute(sa.select(Employer).filter_by(name="郑州市中心医院")).scalar_one_or_none()
    if employer is None or db.session.execute(sa.select(User.id).filter_by(email=HENAN_LEARNER[0])).first():
        return
    email, name, phone = HENAN_LEARNER
    number = "41010519880612204"
    number += resident_ids.check_character(number)
    learner = _user(email, name, Role.LEARNER, regions["410100"].id, password_hash, phone=phone,
                    id_number_ciphertext=resident_ids.encrypt(number), id_number_hmac=resident_ids.fingerprint(number),
                    id_number_masked=resident_ids.mask(number), employer_id=employer.id,
                    employer_name=employer.name, sector="卫生", professional_title="中级")
    db.session.add(Employment(learner_id=learner.id, employer_id=employer.id, status=EmploymentStatus.CONFIRMED,
                              requested_at=utcnow() - timedelta(days=200), decided_at=utcnow() - timedelta(days=199)))
    db.session.commit()
    reviewer = db.session.execute(sa.select(User).filter_by(email="reviewer.zz@jidi.demo")).scalar_one()
    officer = db.session.execute(sa.select(User).filter_by(email=SECTOR_AUTHORITIES[1][3])).scalar_one()
    today = clock.today()
    for n, (title, organiser, kind, category, amount, progress) in enumerate(HENAN_DECLARATIONS):
        earned_on = max(date(today.year, 1, 2), today - timedelta(days=30 - 10 * n))
        data = {"kind": kind.value, "category": category.value, "title": title, "organiser": organiser,
                "earned_on": earned_on, "minutes": amount.get("minutes"), "days": amount.get("days"), "hours": None}
        declaration = declarations.declare(learner, data, [evidence_pdf()])
        if progress >= 1:
            declarations.review(reviewer, declaration.id, True, None, "")
        if progress >= 2:
            declarations.review_as_sector(officer, declaration.id, True, None, "")


# --- a sector's study guide ---------------------------------------------------------------------------------

GUIDE_TITLE = "卫生健康行业专业技术人员继续教育专业科目学习指南"
GUIDE_BODY = (
    "一、学习重点：医疗质量安全核心制度、院感防控、急危重症救治、合理用药与护理新技术。\n"
    "二、学习要求：专业科目每年不少于规定学时，优先选择市级继续教育基地开设的面授与线上课程。\n"
    "三、学时认定：参加学术会议、专题讲座等可申报学时，由所在单位审核。"
)


def _guide() -> None:
    """Chengdu's health commission publishes this year's guide, recommending the city's health courses."""
    officer = db.session.execute(sa.select(User).filter_by(email=SECTOR_AUTHORITIES[0][3])).scalar_one_or_none()
    if officer is None or sector_guides.of_year(officer, clock.today().year) is not None:
        return
    course_ids = db.session.execute(
        sa.select(Course.id).join(TrainingBase, Course.base_id == TrainingBase.id)
        .where(TrainingBase.region_id == officer.region_id, Course.status == CourseStatus.PUBLISHED,
               Course.category == Category.PROFESSIONAL,
               sa.or_(Course.title.contains("护理"), Course.title.contains("医"), Course.title.contains("健康")))
        .order_by(Course.id).limit(3)).scalars().all()
    sector_guides.save(officer, clock.today().year, GUIDE_TITLE, GUIDE_BODY, course_ids)


# --- base applications, one in each state -------------------------------------------------------------------

APPLICATIONS = (
    # (name, serial, contact, e-mail, phone, what became of it)
    ("成都市技师学院继续教育中心", 71, "赵老师", "apply.approved@jidi.demo", "15400003001", "approved"),
    ("成都锦江职业培训学校", 72, "钱老师", "apply.rejected@jidi.demo", "15400003002", "rejected"),
    ("成都天府数字技能研修院", 73, "孙老师", "apply.submitted@jidi.demo", "15400003003", "submitted"),
    ("成都东城继续教育服务中心", 74, "李老师", "apply.withdrawn@jidi.demo", "15400003004", "withdrawn"),
)
APPROVAL = "经评审，各项条件均满足，同意认定为市级继续教育基地"
REJECTION = "师资队伍以外聘为主，专职教师不足；场地设施证明材料缺失。请补充后于下一批次重新申报。"


def _applications(regions: dict[str, Region]) -> None:
    """Four institutions applied to be Chengdu city-level bases; the city's regulator approved one (its base
    and admin exist), rejected one with the reason, one was withdrawn and one waits."""
    regulator = db.session.execute(sa.select(User).filter_by(email="regulator.chengdu@jidi.demo")).scalar_one()
    chengdu = regions["510100"]
    for name, serial, contact, email, phone, outcome in APPLICATIONS:
        if db.session.execute(sa.select(BaseApplication.id).filter_by(name=name)).first():
            continue
        data = {
            "region_id": chengdu.id, "base_type": BaseType.CITY.value, "name": name,
            "credit_code": credit_code(chengdu.code, serial), "address": f"四川省成都市{name[2:4]}区培训路 {serial} 号",
            "scope": "面向全市专业技术人员的公需科目、专业科目培训",
            "teachers": "专职教师 18 人，兼职教师 30 人（高级职称 20 人）",
            "facilities": "教室 12 间（可容纳 600 人），计算机实训室 2 间，线上学习平台 1 个",
            "management_rules": "教学管理、学员管理、经费管理、考核评估办法各一份（见附件）",
            "contact_name": contact, "contact_phone": phone, "contact_email": email, "password": "Jidi-demo-2026",
        }
        application, token = base_applications.submit(data, [evidence_pdf()])
        met = [key for key, _label in base_applications.CHECKLIST]
        if outcome == "approved":
            base = base_applications.approve(regulator, application.id, APPROVAL, met)
            # The applicant's mobile is the admin's sign-in, not the base's public phone: its admin sets that,
            # as a new base's admin does on its disclosure page.
            base.contact_phone = f"1540003{serial:04d}"
            db.session.commit()
        elif outcome == "rejected":
            base_applications.reject(regulator, application.id, REJECTION, met[:3])
        elif outcome == "withdrawn":
            base_applications.withdraw(token, "本年度暂不申报")

"""The organisations of the demo (issue 17): employers in each state with their admins and reviewers, who works
where (confirmed, claimed, refused), sector authorities with officers and a study guide, Henan's two review
steps with declarations at each, and base applications in each state.

Idempotent like the rest of the demo: each part is looked up by its natural key and left alone when it is
there. Employers, claims and authorities are written as rows (the demo's past); what has a use case with
consequences (declarations through their steps, applications through their decision) goes through the
services, so the demo shows what the site does.
"""

from datetime import timedelta

import sqlalchemy as sa

from extensions import db
from models import (
    Employer,
    EmployerStatus,
    Employment,
    EmploymentStatus,
    Region,
    Role,
    SectorAuthority,
    User,
)
from models._common import utcnow
from services import credit_codes

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

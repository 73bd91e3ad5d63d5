"""A sector authority's study guide of a year (专业科目学习指南, notices 000 and 001): its title, text and the
courses it recommends among the published courses of bases in the authority's region; one per year. The
learners of the sector in that region see it on their dashboard (services.queries.learner_pages)."""

from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.orm import contains_eager, selectinload

from extensions import db
from models import Course, SectorGuide, TrainingBase, User
from services import audit, policies
from services.errors import DomainError, NotAllowed
from services.infra import clock
from services.infra.transaction import unit_of_work

MAX_TITLE, MAX_BODY, MAX_COURSES = 200, 20_000, 50
SEARCH_LIMIT = 30


def years_open(today_year: int | None = None) -> tuple[int, int]:
    """The years a guide may be written for: this one and the next (a guide is published ahead)."""
    year = today_year or clock.today().year
    return year, year + 1


def of_year(officer: User, year: int) -> SectorGuide | None:
    """The officer's authority's guide of ``year`` with its courses, or None. Two queries at most."""
    if policies.authority_of(officer) is None:
        return None
    return db.session.execute(
        sa.select(SectorGuide).where(SectorGuide.authority_id == officer.sector_authority_id,
                                     SectorGuide.year == year)
        .options(selectinload(SectorGuide.courses))
    ).scalar_one_or_none()


def of_authority(officer: User) -> Sequence[SectorGuide]:
    """The officer's authority's guides, latest year first. One query."""
    if policies.authority_of(officer) is None:
        return []
    return db.session.execute(
        sa.select(SectorGuide).where(SectorGuide.authority_id == officer.sector_authority_id)
        .order_by(SectorGuide.year.desc())
    ).scalars().all()


def search_courses(officer: User, text: str) -> Sequence[Course]:
    """Courses the officer may recommend (policies.may_recommend_course) whose title or base's name holds
    ``text`` (all of them, up to the limit, for no text), with their bases. One query."""
    text = (text or "").strip()[:100]
    stmt = (sa.select(Course).join(Course.base).options(contains_eager(Course.base))
            .where(policies.recommendable_courses(officer)))
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(sa.or_(Course.title.ilike(pattern, escape="\\"),
                                 TrainingBase.name.ilike(pattern, escape="\\")))
    return db.session.execute(stmt.order_by(Course.start_date.desc(), Course.id.desc()).limit(SEARCH_LIMIT)) \
        .scalars().all()


def _courses(officer: User, course_ids: Iterable[int]) -> list[Course]:
    """:raise DomainError: on ``course_ids``, an id that is no course the officer may recommend."""
    wanted = list(dict.fromkeys(course_ids))
    if len(wanted) > MAX_COURSES:
        raise DomainError(f"推荐课程最多 {MAX_COURSES} 门", field="course_ids")
    if not wanted:
        return []
    found = {c.id: c for c in db.session.execute(
        sa.select(Course).join(Course.base).options(contains_eager(Course.base))
        .where(Course.id.in_(wanted), policies.recommendable_courses(officer))).scalars()}
    missing = [str(i) for i in wanted if i not in found]
    if missing:
        raise DomainError(f"课程编号 {'、'.join(missing)} 不是本地区基地已发布的课程", field="course_ids")
    return [found[i] for i in wanted]


def save(officer: User, year: int, title: str, body: str, course_ids: Iterable[int]) -> SectorGuide:
    """Write the authority's guide of ``year`` (a new one, or the year's one changed), audited.

    :raise NotAllowed: not a sector officer.
    :raise DomainError: a year not open, no title, too long a text, or a course not recommendable (``field``
        says which).
    """
    if policies.authority_of(officer) is None:
        raise NotAllowed("只有行业主管部门可以发布学习指南")
    first, last = years_open()
    if not first <= year <= last:
        raise DomainError(f"只能编写 {first} 或 {last} 年度的学习指南", field="year")
    title, body = (title or "").strip(), (body or "").strip()
    if not title:
        raise DomainError("请填写指南标题", field="title")
    if len(title) > MAX_TITLE:
        raise DomainError(f"标题最多 {MAX_TITLE} 字", field="title")
    if len(body) > MAX_BODY:
        raise DomainError(f"正文最多 {MAX_BODY} 字", field="body")
    courses = _courses(officer, course_ids)
    guide = of_year(officer, year)
    with unit_of_work():
        created = guide is None
        if guide is None:
            guide = SectorGuide(authority_id=officer.sector_authority_id, year=year, title=title, body=body)
            db.session.add(guide)
        elif not policies.may_write_guide(officer, guide):  # of_year found it by the officer's authority
            raise LookupError(guide.id)
        guide.title, guide.body, guide.updated_by_id = title, body, officer.id
        guide.courses = courses
        db.session.flush()
        audit.record(officer, "sector_guide.create" if created else "sector_guide.update", guide,
                     details={"year": year, "courses": [c.id for c in courses]})
    return guide

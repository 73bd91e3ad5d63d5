"""What a learner's pages read: the dashboard of a year (hours against that year's rules, enrollments,
notices) and the year a course's hours will count in."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased, contains_eager

from extensions import db
from models import (
    Category,
    Course,
    DeclarationCap,
    DeclarationKind,
    Enrollment,
    EnrollmentStatus,
    Mode,
    Notice,
    Region,
    SectorAuthority,
    SectorGuide,
    User,
)
from models.organisation import sector_guide_course
from services import hours, policies, rules
from services.infra import clock

# The years the dashboard's ?year= may ask for, around this one: wide enough for any ledger a learner has
# and for courses published ahead, narrow enough that a made-up year is not a page of nothing.
YEARS_BACK, YEARS_AHEAD = 50, 5


@dataclass
class Dashboard:
    year: int  # the year shown (this one unless the learner picked another)
    this_year: int
    days_left: int | None  # to 31 December of the year shown, when it is this one
    region: Region | None
    current: hours.Progress  # the year shown, against its rule
    history: list[hours.Progress]  # the years before it with hours
    years: list[int] = field(default_factory=list)  # the picker: years with hours or enrollments, and this one
    caps: list = field(default_factory=list)  # the year's caps on declared hours in force in the region
    upcoming: list = field(default_factory=list)  # (enrollment, None)
    waitlisted: list = field(default_factory=list)  # (enrollment, position)
    completed: list = field(default_factory=list)
    notices: list = field(default_factory=list)
    guides: list = field(default_factory=list)  # GuideLine: the year's study guides of the learner's sector

    @property
    def is_past(self) -> bool:
        return self.year < self.this_year

    @property
    def is_future(self) -> bool:
        return self.year > self.this_year


def year_range(today: date | None = None) -> tuple[int, int]:
    """The lowest and highest year the dashboard shows (for blueprints.query.query_int)."""
    year = (today or clock.today()).year
    return year - YEARS_BACK, year + YEARS_AHEAD


def credit_years(course: Course, today: date | None = None) -> list[int]:
    """The years a completion of ``course`` may still count in (notice 003: 以实际完成时间计入当年): a class
    (face to face, blended or live) is completed when it ends, so its end date's year; a self-paced course
    on any day of its window not yet past, so each year from today (or its start) to its end. Empty once
    the course has ended."""
    today = today or clock.today()
    if course.end_date < today:
        return []
    if course.mode == Mode.SELF_PACED:
        return list(range(max(course.start_date, today).year, course.end_date.year + 1))
    return [course.end_date.year]


def _enrollments_statement(one_course: bool) -> sa.Select:
    """The learner's live enrollments with course and base, and waitlist positions (parameters: learner_id,
    and course_id when ``one_course``)."""
    other = aliased(Enrollment)
    position = (
        sa.select(sa.func.count(other.id))
        .where(
            other.course_id == Enrollment.course_id,
            other.status == EnrollmentStatus.WAITLISTED,
            other.id <= Enrollment.id,
        )
        .correlate(Enrollment)
        .scalar_subquery()
    )
    stmt = (
        sa.select(Enrollment, sa.case((Enrollment.status == EnrollmentStatus.WAITLISTED, position), else_=None))
        .join(Enrollment.course)
        .join(Course.base)
        .options(contains_eager(Enrollment.course).contains_eager(Course.base))
        .where(Enrollment.learner_id == sa.bindparam("learner_id"), Enrollment.status != EnrollmentStatus.CANCELLED)
        .order_by(Course.start_date.desc(), Enrollment.id.desc())
    )
    return stmt.where(Enrollment.course_id == sa.bindparam("course_id")) if one_course else stmt


# Built once: building them (and their cache keys) cost more than running them on every dashboard.
_ENROLLMENTS, _ENROLLMENT_IN_COURSE = _enrollments_statement(False), _enrollments_statement(True)


def _enrollments_with_position(learner_id: int, course_id: int | None = None) -> Sequence[sa.Row[Any]]:
    """The learner's live enrollments with course and base, and waitlist positions. One query."""
    if course_id is None:
        return db.session.execute(_ENROLLMENTS, {"learner_id": learner_id}).all()
    return db.session.execute(_ENROLLMENT_IN_COURSE, {"learner_id": learner_id, "course_id": course_id}).all()


def _enrollment_years(enrollment: Enrollment, today: date) -> list[int]:
    """The years a live enrollment's hours may count in. A completion's year needs no reading here: its
    ledger row is in that year, and the ledger's years are offered anyway."""
    if enrollment.status == EnrollmentStatus.COMPLETED:
        return []
    return credit_years(enrollment.course, today) or [enrollment.course.end_date.year]


@dataclass
class NoticeLine:
    message: str
    link: str


@dataclass
class GuideLine:
    """A sector's study guide of the year shown to a learner of the sector, with its recommended courses
    still in the catalog: (course id, title, hours)."""

    id: int
    title: str
    body: str
    authority: str
    courses: list[tuple[int, str, int]] = field(default_factory=list)


def _guide_rows(sector: Any, chain: Any, year: Any) -> list[sa.Select]:
    """The statements (for the dashboard's union) of the year's study guides of the learner's sector by the
    authorities of their region's chain, and of the guides' courses in the catalog."""
    mine = sa.and_(SectorGuide.year == year, SectorAuthority.sector == sector, SectorAuthority.region_id.in_(chain))
    guides = sa.select(
        sa.literal("guide"), SectorGuide.id, SectorGuide.title, SectorGuide.body, sa.null(), sa.null(),
        SectorAuthority.name,
    ).join(SectorAuthority, SectorAuthority.id == SectorGuide.authority_id).where(mine)
    courses = sa.select(
        sa.literal("guide_course"), Course.id, Course.title, sa.null(), Course.hours, SectorGuide.id, sa.null(),
    ).select_from(SectorGuide).join(SectorAuthority, SectorAuthority.id == SectorGuide.authority_id) \
        .join(sector_guide_course, sector_guide_course.c.guide_id == SectorGuide.id) \
        .join(Course, Course.id == sector_guide_course.c.course_id).join(Course.base) \
        .where(mine, policies.public_courses())
    return [guides, courses]


def _notices_and_caps_statement(with_guides: bool) -> sa.CompoundSelect:
    """The union _notices_and_caps reads, with the learner, the year and the region chain (and the sector,
    ``with_guides``) as parameters."""
    year = sa.bindparam("year", type_=sa.Integer)
    chain: sa.BindParameter[list[int]] = sa.bindparam("chain", expanding=True)
    notices = sa.select(
        sa.literal("notice").label("row"), Notice.id.label("id"), Notice.message.label("a"), Notice.link.label("b"),
        sa.null().label("max_hours"), sa.null().label("region_id"), sa.null().label("c"),
    ).where(Notice.user_id == sa.bindparam("learner_id"), Notice.read_at.is_(None))
    caps = sa.select(
        sa.literal("cap"), DeclarationCap.id, sa.cast(DeclarationCap.kind, sa.String),
        sa.cast(DeclarationCap.category, sa.String), DeclarationCap.max_hours, DeclarationCap.region_id, sa.null(),
    ).where(DeclarationCap.region_id.in_(chain), DeclarationCap.year == year)
    guides = _guide_rows(sa.bindparam("sector"), chain, year) if with_guides else []
    return sa.union_all(notices, caps, *guides).order_by(sa.desc("id"))


# Built once: building them (and their cache keys) cost more than running them on every dashboard.
_NOTICES_AND_CAPS = {with_guides: _notices_and_caps_statement(with_guides) for with_guides in (False, True)}


def _notices_and_caps(learner: User, region: Region | None, year: int) -> tuple[list[NoticeLine], list, list]:
    """The learner's unread notices (newest first), the caps on declared hours in force in the region in
    ``year`` (by kind, then category) and the year's study guides of the learner's sector, in one statement:
    short lists beside the hours, read together so that the dashboard keeps to issue 6's four queries now
    that it shows the year's caps and guides. Which cap is in force stays services.rules' to say
    (pick_caps)."""
    chain = rules.chain_ids(region)
    with_guides = bool(learner.sector and chain)
    parameters = {"learner_id": learner.id, "year": year, "chain": chain}
    if with_guides:
        parameters["sector"] = learner.sector
    rows: Sequence[Any] = db.session.execute(_NOTICES_AND_CAPS[with_guides], parameters).all()
    unsaved = [DeclarationCap(kind=DeclarationKind(r.a), category=Category(r.b), max_hours=r.max_hours,
                              region_id=r.region_id, year=year) for r in rows if r.row == "cap"]  # never added
    found = rules.pick_caps(unsaved, chain)
    in_order = [found[key] for key in ((kind, category) for kind in DeclarationKind for category in Category)
                if key in found]
    guides = {r.id: GuideLine(r.id, r.a, r.b, r.c) for r in reversed(rows) if r.row == "guide"}
    for r in reversed(rows):  # by course id
        if r.row == "guide_course" and r.region_id in guides:
            guides[r.region_id].courses.append((r.id, r.a, r.max_hours))
    return [NoticeLine(r.a, r.b) for r in rows if r.row == "notice"], in_order, list(guides.values())


def dashboard(learner: User, year: int | None = None) -> Dashboard:
    """The learner's ``year`` (default this one) at a glance, against the rules of that year. Three queries
    whatever the year and the history's length: hours against the rules (with the learner's region), live
    enrollments, and the unread notices with the year's caps."""
    today = clock.today()
    this_year = today.year
    year = this_year if year is None else year
    ledger = hours.ledger(learner, year)
    board = Dashboard(
        year=year,
        this_year=this_year,
        days_left=(date(year, 12, 31) - today).days if year == this_year else None,
        region=ledger.region,
        current=ledger.years[year],
        history=[ledger.years[y] for y in sorted(ledger.years, reverse=True) if y < year],
    )
    offered = {this_year, *ledger.years}
    for enrollment, position in _enrollments_with_position(learner.id):
        offered.update(_enrollment_years(enrollment, today))
        if enrollment.status == EnrollmentStatus.COMPLETED:
            board.completed.append((enrollment, None))
        elif enrollment.status == EnrollmentStatus.WAITLISTED:
            board.waitlisted.append((enrollment, position))
        else:
            board.upcoming.append((enrollment, None))
    # Listed newest first for the history; what is still to come reads soonest first.
    board.upcoming.sort(key=lambda pair: (pair[0].course.start_date, pair[0].id))
    low, high = year_range(today)
    board.years = sorted((y for y in offered if low <= y <= high), reverse=True)
    board.notices, board.caps, board.guides = _notices_and_caps(learner, ledger.region, year)
    return board


def enrollment_in(learner_id: int, course_id: int) -> tuple[Enrollment, int | None] | None:
    """The learner's live enrollment in one course and its waitlist position, for the course page."""
    rows = _enrollments_with_position(learner_id, course_id)
    return tuple(rows[0]) if rows else None


def own_enrollment(learner: User, enrollment_id: int) -> Enrollment | None:
    """The learner's own enrollment (policies.owns_enrollment), with course and base, else None. One query."""
    return db.session.execute(
        sa.select(Enrollment)
        .join(Enrollment.course)
        .join(Course.base)
        .options(contains_eager(Enrollment.course).contains_eager(Course.base))
        .where(Enrollment.id == enrollment_id, policies.own_enrollments(learner))
    ).scalar_one_or_none()



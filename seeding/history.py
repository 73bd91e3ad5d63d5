"""The demo's history around the day it is seeded: last year complete, this year so far.

Last year: each base's courses with their class plans (approved, a few rejected), enrollments, completions
dated through the year, ratings, declared hours reviewed on time and late (a few rejected), certificates
(one revoked), and the year's evaluations confirmed with a mix of 合格, 整改 and 退出, so that its published
list is out. This year: courses that have run since 1 January with their completions, bases ahead of, on
and behind their targets, a class with a waitlist, reviews pending (one overdue for the demo reviewer). And
Chengdu's evaluation of 2019 keeping exactly the 21 bases of notice 003's annex (its list of that year).

Everything goes through the site's use cases where one can do it on the day it runs: completions through
services.completions.record (the one completion path), class-plan decisions, reviews, ratings, certificates
and evaluations through their services. What a use case refuses to back-date is written directly, with its
dates set explicitly: past courses (a course that has ended cannot be published), their enrollments (the
window has closed), class plans filed before their course (filing is only open in the 30 days before it),
declarations of last year (a learner declares only this year's hours) and an overdue one (its deadline is
counted from the day it is filed); and the decisions' timestamps (a review's, a plan's, an evaluation's),
moved back to the days they would have been taken. The audit log keeps the day of seeding: it is append-only.

Deterministic: no randomness, only arithmetic on row numbers and the day of seeding. Built once per database
(the marker is Chengdu's evaluation of 2019, its first step); run again, it adds nothing.
"""

import calendar
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from io import BytesIO

import sqlalchemy as sa
from werkzeug.datastructures import FileStorage

from extensions import db
from models import (
    BaseMembership,
    BaseStatus,
    BaseStatusChange,
    Category,
    ClassPlan,
    Course,
    CourseStatus,
    Declaration,
    DeclarationKind,
    DeclarationStatus,
    Employer,
    Enrollment,
    EnrollmentSource,
    EnrollmentStatus,
    Evaluation,
    Mode,
    Outcome,
    PlanStatus,
    Region,
    Role,
    TrainingBase,
    User,
)
from models._common import utcnow
from models.course import IN_PERSON_MODES
from services import certificates, completions, declarations, enrollment, evaluation, hours, plans, registry, workdays
from services.courses import refresh_search_tokens
from services.infra import clock, evidence_files

# When the notices' bases were designated, at the latest: the list of notice 003 (May 2019) names bases
# already evaluated, and notice 004 (2020) the province-level bases it counts on. A base designated after a
# year is not evaluated for it (services.evaluation.compute). Keyed by the source column of seed-bases.csv.
DESIGNATED = {"003": datetime(2019, 1, 1), "004": datetime(2020, 1, 1)}
# The year of notice 003 (成人社函〔2019〕200号), whose annex is Chengdu's list of evaluated city-level bases.
NOTICE_003_YEAR = 2019
NOTICE_003_REASON = "成人社函〔2019〕200号附件：经评估合格的市级继续教育基地"

# Made-up learners, by city: how many, the first digits of their made-up phone numbers (the unallocated 154
# segment, see seeding.demo) and their employers (names of seeding.demo.DEMO_EMPLOYERS).
POOLS = {
    "510100": (640, "15402", ("成都市第一人民医院", "成都市第三人民医院", "成都高新区社区卫生服务中心"), "卫生"),
    "370600": (2600, "15405", ("烟台市芝罘区人民医院", "烟台市农业技术推广中心"), "卫生"),
}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超霞平刚桂华玉兰红梅丹莉婷雪琳晨宇浩然欣怡子涵思远嘉佳"
TITLES = ("助理级", "中级", "中级", "副高级", "正高级")  # of models.PROFESSIONAL_TITLES


@dataclass(frozen=True)
class Profile:
    """How a base did last year: trainees as a share of its target, the share of enrolled learners who
    completed, the ratings its learners gave, and whether it ran a class its plan was refused for."""

    trainees: float
    completion: float
    ratings: tuple[int, ...]
    unapproved_class: bool = False
    public_only: bool = False


# Scored by services.evaluation with the regions' rubrics: 合格 at 75 and above with the targets met;
# a missed target proposes 整改 (退出 below 50); a weak base (low completion and ratings, an unapproved class)
# meets its target and still scores under 75.
KEEP = Profile(1.05, 0.88, (5, 4, 5, 3))
MISSED = Profile(0.45, 0.84, (4, 5, 3, 4))
WEAK = Profile(1.1, 0.52, (2, 3, 3, 2), unapproved_class=True)
EXIT = Profile(0.02, 0.48, (2, 3, 1, 2), public_only=True)
# Rows of data/seed-bases.csv; every other base is KEEP. Nobody of Chengdu's list exits: its 2019 list
# (the bases kept then and not exited since) stays the notice's 21.
LAST_YEAR = {6: MISSED, 8: WEAK, 13: MISSED, 15: MISSED, 16: WEAK, 19: MISSED, 22: MISSED, 23: MISSED, 24: EXIT}

# This year's pace: trainees so far against the target pro rata for the days gone.
AHEAD, ON_TARGET, BEHIND, NOTHING_YET = 1.25, 1.02, 0.5, 0.0
THIS_YEAR = {0: AHEAD, 1: NOTHING_YET, 2: AHEAD, 21: ON_TARGET, 22: ON_TARGET, 23: BEHIND}
PACES = (ON_TARGET, BEHIND, AHEAD)

# The demo reviewers' employers (seeding.demo.DEMO_REVIEWERS); the demo learner works at the first.
CD1, CD3, YT = "成都市第一人民医院", "成都市第三人民医院", "烟台市芝罘区人民医院"
PLAN_REFUSED = "师资与课程安排未达到专业科目面授要求，请调整后重新申报"
COMMENTS = {5: "内容实用，案例贴近工作", 4: "讲解清楚，收获较大", 3: "内容一般，希望增加实操", 2: "组织较乱，课时不足",
            1: "与宣传内容不符"}


@dataclass
class World:
    """What the history is built on: the day, the demo's regions, regulators, bases and people."""

    today: date
    regions: dict[str, Region]
    regulators: dict[str, User]
    bases: list[tuple[int, TrainingBase, User]]  # (row of seed-bases.csv, base, its admin)
    learner: User
    pools: dict[str, list[int]] = field(default_factory=dict)  # region code: learner ids
    employers: dict[str, Employer] = field(default_factory=dict)

    @property
    def year(self) -> int:
        return self.today.year


def seed_history(regions: dict[str, Region], learner: User, base_names: list[str], ideas_for,
                 password_hash: str) -> bool:
    """Build the history once; False when it is there already. ``base_names``: the bases of
    data/seed-bases.csv in its order (base n's admin is adminNN@jidi.demo); ``ideas_for(index, name, city)``:
    the course ideas of a base; ``password_hash``: the demo password's, for the made-up learners."""
    chengdu = regions["510100"]
    if db.session.scalar(sa.select(Evaluation.id).where(Evaluation.region_id == chengdu.id,
                                                          Evaluation.year == NOTICE_003_YEAR)):
        return False
    world = _world(regions, learner, base_names)
    _notice_003_list(world)
    _learner_pools(world, password_hash)
    last = world.year - 1
    for index, base, admin in world.bases:
        _run_year(world, index, base, admin, last, ideas_for)
    _declarations_of_last_year(world)
    _evaluate(world, last)
    _certificates(world, last)
    for index, base, admin in world.bases:
        if base.can_publish:
            _run_year(world, index, base, admin, world.year, ideas_for)
    _declarations_of_this_year(world)
    _waitlist(world)
    return True


def _world(regions, learner, base_names: list[str]) -> World:
    regulators = {u.email: u for u in db.session.execute(sa.select(User).where(User.role == Role.REGULATOR)).scalars()}
    by_name = {b.name: b for b in db.session.execute(sa.select(TrainingBase)).scalars()}
    admins = {u.email: u for u in db.session.execute(sa.select(User).where(User.role == Role.BASE_ADMIN)).scalars()}
    bases = []
    for index, name in enumerate(base_names):
        base, admin = by_name.get(name), admins.get(f"admin{index + 1:02d}@jidi.demo")
        if base is not None and admin is not None and db.session.scalar(sa.select(BaseMembership.id).where(
                BaseMembership.base_id == base.id, BaseMembership.user_id == admin.id)):
            bases.append((index, base, admin))
    employers = {e.name: e for e in db.session.execute(sa.select(Employer)).scalars()}
    return World(clock.today(), regions, regulators, bases, learner, employers=employers)


def _utc(day: date, hour: int = 10) -> datetime:
    """``hour`` o'clock on ``day`` in Shanghai, as the naive UTC timestamps are stored."""
    return datetime.combine(day, time(hour), tzinfo=clock.LOCAL_TZ).astimezone(UTC).replace(tzinfo=None)


# --- Chengdu's list of 2019 ---------------------------------------------------------------------------------

def _notice_003_list(world: World) -> None:
    """Chengdu's 2019 evaluation, confirmed keeping the 21 bases of notice 003's annex: the site holds no 2019
    figures, so each is kept by the regulator against the proposal, citing the notice. Bases of the notice
    seeded before they carried their designation date get it (DESIGNATED)."""
    notice_bases = [base.id for index, base, _admin in world.bases if base.region_id == world.regions["510100"].id]
    db.session.execute(sa.update(TrainingBase).where(TrainingBase.id.in_(notice_bases),
                                                     TrainingBase.created_at > DESIGNATED["003"])
                       .values(created_at=DESIGNATED["003"]).execution_options(synchronize_session=False))
    db.session.commit()
    regulator = world.regulators["regulator.chengdu@jidi.demo"]
    run = evaluation.run(regulator, NOTICE_003_YEAR, world.regions["510100"].id)
    for result_id, proposed in [(r.id, r.proposed) for r in run.results]:
        if proposed != Outcome.KEEP:
            evaluation.override(regulator, result_id, Outcome.KEEP, NOTICE_003_REASON)
    evaluation.confirm(regulator, run.id)


# --- people ------------------------------------------------------------------------------------------------

def _name(n: int) -> str:
    given = GIVEN[(n // len(SURNAMES) + n * 7) % len(GIVEN)]
    if n % 4:
        given += GIVEN[(n * 13 + 5) % len(GIVEN)]
    return SURNAMES[n % len(SURNAMES)] + given


def _learner_pools(world: World, password_hash: str) -> None:
    """The made-up learners of each city (phone numbers of the unallocated 154 segment), added by phone
    where missing. They sign in with the demo password, like every demo account."""
    for code, (size, prefix, employer_names, sector) in POOLS.items():
        region = world.regions[code]
        phones = [f"{prefix}{n:06d}" for n in range(1, size + 1)]
        have = set(db.session.execute(sa.select(User.phone).where(User.phone.like(f"{prefix}%"))).scalars())
        employers = [world.employers[name] for name in employer_names]
        rows = []
        for n, phone in enumerate(phones):
            if phone in have:
                continue
            employer = employers[n % len(employers)]
            rows.append({
                "name": _name(n + (0 if code == "510100" else 7919)), "phone": phone, "role": Role.LEARNER,
                "region_id": region.id, "password_hash": password_hash, "employer_id": employer.id,
                "employer_name": employer.name, "sector": "农业" if "农业" in employer.name else sector,
                "professional_title": TITLES[n % len(TITLES)], "created_at": _utc(date(world.year - 2, 3, 1)),
            })
        if rows:
            db.session.execute(sa.insert(User), rows)
        db.session.commit()
        world.pools[code] = list(db.session.execute(
            sa.select(User.id).where(User.phone.in_(phones)).order_by(User.phone)).scalars())


# --- a year of courses at a base ---------------------------------------------------------------------------

@dataclass
class Run:
    """One course of the year and who took it: (learner id, completes) in the order they enrolled."""

    slot: int
    course: Course
    takers: list[tuple[int, bool]] = field(default_factory=list)

    def room(self) -> int | None:
        return None if self.course.capacity is None else self.course.capacity - len(self.takers)


def _run_year(world: World, index: int, base: TrainingBase, admin: User, year: int, ideas_for) -> None:
    """The base's courses of ``year`` (up to yesterday for this year), their class plans, enrollments,
    completions and a few ratings."""
    last_year = year < world.year
    profile = LAST_YEAR.get(index, KEEP)
    target = registry.target_for(base.type, year, base.region)
    target_trainees = target.min_trainees if target else 100
    if last_year:
        # Bases of one profile differ a little: trainees up to 30 % more, completion up to 6 points.
        share = profile.trainees * (1 + (index * 7 % 11) * 0.03)
        trainees, completion = math.ceil(share * target_trainees), profile.completion + (index % 4) * 0.02
    else:
        pace = THIS_YEAR.get(index, PACES[index % len(PACES)])
        if pace == NOTHING_YET:
            return
        elapsed = (world.today - date(year, 1, 1)).days + 1
        so_far = pace * target_trainees * elapsed / (366 if calendar.isleap(year) else 365)
        # A step above the line, so that the projection of "ahead" and "on target" is not rounded below it.
        trainees, completion = math.ceil(so_far) + {AHEAD: 2, ON_TARGET: 1}.get(pace, 0), 0.9
    city = "成都市" if base.region.code == "510100" else "烟台市"
    runs = _courses(world, index, base, admin, year, ideas_for(index, base.name, city), profile if last_year else KEEP)
    if not runs:
        return
    pool = world.pools[base.region.code]
    enrolled = min(len(pool), math.ceil(trainees / completion))
    offset = (index * 97 + year) % len(pool)
    people = [pool[(offset + j) % len(pool)] for j in range(enrolled)]
    _assign(runs, people, trainees, profile.public_only and last_year)
    if base.name == CD1:  # the demo learner's hospital
        _the_demo_learner(world, runs, year)
    _enroll(runs, world.today)
    _complete(world, base, admin, runs, year)
    turn = index % len(profile.ratings)  # which three of them the course's first raters give
    ratings = (profile.ratings[turn:] + profile.ratings[:turn])[:3]
    _rate(runs, ratings if last_year else ratings[:1], keep=world.learner.id)


def _courses(world: World, index: int, base: TrainingBase, admin: User, year: int, ideas, profile) -> list[Run]:
    """Last year's whole programme, or this year's courses that have run (or are running) before today."""
    today, last_year = world.today, year < world.year
    first, elapsed = date(year, 1, 1), (today - date(year, 1, 1)).days
    runs = []
    for slot, idea in enumerate(ideas):
        if slot == 0:
            start, end = first, date(year, 12, 31)  # the year's public-subject platform
        else:
            if profile.public_only:
                continue
            if last_year:
                month = (3, 6, 9)[slot - 1] + index % 3 if slot < 4 else 4 + index % 7  # the elective: spring
                start = date(year, month, 6 + (index * 5 + slot * 3) % 18)
            else:
                start = first + timedelta(days=int((0.2, 0.5, 0.8, 0.35)[slot - 1] * elapsed))
            end = start + timedelta(days=idea.days - 1)
            if not last_year and end >= today:
                start, end = today - timedelta(days=idea.days), today - timedelta(days=1)
                if start < first:
                    continue
        runs.append(Run(slot, _course(base, admin, idea, start, end, slot, index)))
    db.session.flush()
    needing = [run for run in runs if run.course.needs_class_plan]
    # A weak base held one class whose plan was refused (the evaluation counts it against the base).
    decisions = [(run.course, not (profile.unapproved_class and number == 0)) for number, run in enumerate(needing)]
    if last_year and index % 5 == 3 and needing:
        # A second session the regulator refused: the base cancelled it.
        first = needing[0]
        extra = _course(base, admin, ideas[first.slot], first.course.start_date + timedelta(days=35),
                        first.course.end_date + timedelta(days=35), first.slot, index, session="（第二期）")
        db.session.flush()
        decisions.append((extra, False))
    _plans(world, base, admin, decisions)
    if last_year and index % 5 == 3 and needing:
        extra.status, extra.cancel_reason = CourseStatus.CANCELLED, "办班计划未获批准，本期取消"
    db.session.commit()
    return runs


def _course(base, admin, idea, start, end, slot, index, session="") -> Course:  # noqa: PLR0913  every column a back-dated course needs, named
    in_person = idea.mode in IN_PERSON_MODES
    place = {Mode.SELF_PACED: "线上学习平台", Mode.ONLINE_LIVE: "线上直播"}.get(
        idea.mode, f"{base.name}培训楼 {slot + 1}01 教室")
    course = Course(
        base=base, title=idea.title + session, description=idea.description, category=idea.category,
        field=idea.field, hours=idea.hours, start_date=start, end_date=end, mode=idea.mode, place=place,
        audience=idea.audience, capacity=40 + (index * 7 + slot * 13) % 80 if in_person else None,
        fee=0 if idea.category == Category.PUBLIC or not in_person else 300 + 100 * (slot + index % 5),
        contact_person=base.contact_person, contact_phone=base.contact_phone, open_to_city=(index + slot) % 5 != 0,
        created_by_id=admin.id, status=CourseStatus.PUBLISHED,
        published_at=_utc(start - timedelta(days=45 if slot else 20)),
        created_at=_utc(start - timedelta(days=50 if slot else 25)),
    )
    course.fee_standard = "免费" if course.fee == 0 else f"每人 {course.fee:.0f} 元（含资料费）"
    refresh_search_tokens(course, base)
    db.session.add(course)
    return course


def _plans(world: World, base: TrainingBase, admin: User, decisions: list[tuple[Course, bool]]) -> None:
    """Class plans filed 20 days before their courses (written directly: filing is refused once that day has
    passed), decided by the regulator through services.plans (approved or not, as ``decisions`` says), their
    decisions moved back to four days after filing."""
    filed = {}
    for course, _approve in decisions:
        filed[course.id] = ClassPlan(
            course_id=course.id, start_date=course.start_date, end_date=course.end_date, place=course.place,
            teachers="张教授（主任医师）、李老师（副教授）", syllabus="第一天：理论讲授\n第二天：实操演练与考核",
            expected_trainees=course.capacity or 50, filed_by_id=admin.id, status=PlanStatus.PENDING,
            filed_at=_utc(course.start_date - timedelta(days=20)))
        db.session.add(filed[course.id])
        course.plan_status = PlanStatus.PENDING.value
    db.session.commit()
    regulator = world.regulators["regulator.chengdu@jidi.demo" if base.region.code == "510100"
                                 else "regulator.yantai@jidi.demo"]
    for course, approve in decisions:
        plans.decide_plan(regulator, filed[course.id].id, approve, "" if approve else PLAN_REFUSED)
    for plan in filed.values():
        db.session.execute(sa.update(ClassPlan).where(ClassPlan.id == plan.id)
                           .values(decided_at=plan.filed_at + timedelta(days=4)))
    db.session.commit()


def _assign(runs: list[Run], people: list[int], trainees: int, public_only: bool) -> None:
    """Who takes which course: the first ``trainees`` complete, the rest enrolled and did not. Most learners
    study the public subjects online; the others a class while it has seats; one in four a second course."""
    public, others = runs[0], [run for run in runs[1:]]
    for j, learner in enumerate(people):
        completes = j < trainees
        first = public
        if others and not public_only and j % 5 >= 2:
            run = others[j % len(others)]
            first = run if run.room() is None or run.room() > 0 else public
        first.takers.append((learner, completes))
        if completes and others and not public_only and j % 4 == 1:
            second = others[(j + 1) % len(others)]
            if second is not first and (second.room() is None or second.room() > 0):
                second.takers.append((learner, True))


def _the_demo_learner(world: World, runs: list[Run], year: int) -> None:
    """陈晓, a nurse of 成都市第一人民医院: last year its public course and its first class, completed; this year
    its second class completed when it has run, and the public course in progress."""
    learner = world.learner.id
    for run in runs:
        if any(taker == learner for taker, _done in run.takers):
            continue
        if run.slot == 0:
            run.takers.append((learner, year < world.year))
        elif run.slot == (1 if year < world.year else 2) and (run.room() is None or run.room() > 0):
            run.takers.append((learner, True))


def _enroll(runs: list[Run], today: date) -> None:
    """The enrollments of those who did not complete, written directly (the enrollment window of these
    courses has closed), each holding a seat: online before the course began (a self-paced one: on a day of
    its window). Those who completed are added to the roster by their completion (_complete)."""
    rows = []
    for run in runs:
        course = run.course
        for j, (learner, done) in enumerate(run.takers):
            if done:
                continue
            at = _utc(_enrolled_on(course, j, today), 9 + j % 10)
            rows.append({"course_id": course.id, "learner_id": learner, "status": EnrollmentStatus.CONFIRMED,
                         "source": EnrollmentSource.ONLINE, "created_at": at, "confirmed_at": at, "rating_comment": ""})
            course.seats_taken += 1
    if rows:
        db.session.execute(sa.insert(Enrollment), rows)
    db.session.commit()


def _span(course: Course, today: date) -> int:
    """The days of a self-paced course's window that have come."""
    return (min(course.end_date, today) - course.start_date).days + 1


def _enrolled_on(course: Course, j: int, today: date) -> date:
    """A class: before it began; a self-paced course: a day of its first weeks (that have come)."""
    if not course.is_self_paced:
        return course.start_date - timedelta(days=3 + j % 20)
    return course.start_date + timedelta(days=(j * 13) % min(40, _span(course, today)))


def _completed_on(course: Course, j: int, today: date) -> date:
    """A class: its last day; a self-paced course: spread over its window, not before the learner enrolled."""
    if not course.is_self_paced:
        return course.end_date
    span = _span(course, today)
    day = course.start_date + timedelta(days=span - 1 - (j * 37) % span)
    return max(day, _enrolled_on(course, j, today))


def _complete(world: World, base: TrainingBase, admin: User, runs: list[Run], year: int) -> None:
    """The completions, through services.completions.record as a roster file of the base records them
    (adding the learners to the course's roster), each on its day: a class's last day, a self-paced
    learner's own day."""
    claims = []
    for run in runs:
        for j, (learner, done) in enumerate(run.takers):
            if done:
                claims.append(completions.Claim(ref=len(claims) + 1, course_id=run.course.id, learner_id=learner,
                                                completed_on=_completed_on(run.course, j, world.today)))
    if claims:
        completions.record(admin, base.id, claims, completions.ROSTER_FILE)


def _rate(runs: list[Run], ratings: tuple[int, ...], keep: int) -> None:
    """The first few who completed each course rate it (services.enrollment.rate). The raters are let go of
    afterwards: every commit expires what the session holds."""
    for run in runs:
        raters = [learner for learner, done in run.takers if done][:len(ratings)]
        if not raters:
            continue
        ids = dict(db.session.execute(sa.select(Enrollment.learner_id, Enrollment.id).where(
            Enrollment.course_id == run.course.id, Enrollment.learner_id.in_(raters))).all())
        users = {u.id: u for u in db.session.execute(sa.select(User).where(User.id.in_(raters))).scalars()}
        for learner_id, stars in zip(raters, ratings, strict=False):
            enrollment.rate(users[learner_id], ids[learner_id], stars, COMMENTS[stars])
        for user in users.values():
            if user.id != keep:  # the demo learner is held by the caller
                db.session.expunge(user)


# --- evaluation and certificates -------------------------------------------------------------------------

def _evaluate(world: World, year: int) -> None:
    """Last year's evaluations, run and confirmed by Chengdu's and Shandong's regulators as proposed; their
    timestamps (and the status changes they made) moved to 20 January, when such a meeting would be held."""
    taken = _utc(date(year + 1, 1, 20))
    for email, code in (("regulator.chengdu@jidi.demo", "510100"), ("regulator.shandong@jidi.demo", "370000")):
        regulator = world.regulators[email]
        run = evaluation.run(regulator, year, world.regions[code].id)
        evaluation.confirm(regulator, run.id)
        if taken < utcnow():
            db.session.execute(sa.update(Evaluation).where(Evaluation.id == run.id).values(
                run_at=taken, confirmed_at=taken + timedelta(hours=2)))
            db.session.execute(sa.update(BaseStatusChange).where(BaseStatusChange.evaluation_id == run.id).values(
                at=taken + timedelta(hours=2)))
        db.session.commit()
    for _index, base, _admin in world.bases:
        db.session.refresh(base)


def _certificates(world: World, year: int) -> None:
    """Last year's certificates: the demo learner's, and a dozen Chengdu learners whose year was complete;
    the regulator revoked one of them."""
    holders = [world.learner] + [u for u in db.session.execute(
        sa.select(User).where(User.id.in_(world.pools["510100"])).order_by(User.phone).limit(60)).scalars()]
    issued = []
    for learner in holders:
        if len(issued) == 13:
            break
        if certificates.progress_of(learner, year).complete:
            issued.append(certificates.issue(learner, year))
            db.session.commit()
    if len(issued) > 3:
        certificates.revoke(world.regulators["regulator.chengdu@jidi.demo"], issued[3].code,
                            "基地更正了该学员的结业记录，证书所列学时与记录不符，待重新核定")


# --- declared hours ----------------------------------------------------------------------------------------

def _evidence() -> FileStorage:
    """A small made-up PDF as the evidence file, through the upload checks like any other."""
    text = b"BT /F1 14 Tf 60 780 Td (Jidi demo: a made-up evidence file, not a real document.) Tj ET"
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
               b" /Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return FileStorage(stream=BytesIO(bytes(out)), filename="证明材料.pdf", content_type="application/pdf")


@dataclass(frozen=True)
class Filed:
    """A declaration as the demo files it: who (the demo learner, or the n-th learner of an employer), what,
    and how its review went (working days taken, approved hours or None for all, a reason)."""

    employer: str
    who: int | None  # None: the demo learner
    kind: DeclarationKind
    title: str
    organiser: str
    amount: dict
    month: int
    approve: bool = True
    took: int = 3  # working days to the review; over the rule's 5 is late
    hours: int | None = None
    reason: str = ""
    category: Category = Category.PROFESSIONAL


LAST_YEAR_DECLARATIONS = (
    Filed(CD1, None, DeclarationKind.CONFERENCE, "四川省护理学会年度学术会议", "四川省护理学会", {"days": 2}, 5),
    Filed(CD1, 0, DeclarationKind.RESEARCH, "实用新型专利：一种便携式输液监测装置", "国家知识产权局", {"hours": 20}, 3),
    Filed(CD1, 1, DeclarationKind.DEGREE, "在职攻读公共卫生硕士学位", "四川大学华西公共卫生学院", {"hours": 40}, 6,
          hours=30, reason="证明材料载明本年度修读课程折合 30 学时"),
    Filed(CD1, 2, DeclarationKind.CONFERENCE, "医院感染管理专题讲座", "成都市医院感染管理质量控制中心",
          {"minutes": 90}, 9, took=7),
    Filed(CD1, 3, DeclarationKind.ABROAD, "赴新加坡中央医院护理管理研修", "成都市第一人民医院", {"days": 21}, 10,
          approve=False, reason="出国研修未经单位审批备案，不符合成人社函〔2019〕200号三（三）2 的要求"),
    Filed(CD1, 4, DeclarationKind.CONFERENCE, "西部急诊医学论坛", "四川省医学会", {"days": 1}, 11, approve=False, took=8,
          reason="证明材料未加盖主办单位公章，请补充后重新申报"),
    Filed(CD3, 0, DeclarationKind.CONFERENCE, "全国医院药事管理研讨会", "中国医院协会", {"days": 3}, 4),
    Filed(CD3, 1, DeclarationKind.RESEARCH, "论文：基层慢病管理模式研究", "中华全科医学杂志", {"hours": 10}, 7, took=6),
    Filed(CD3, 2, DeclarationKind.DEGREE, "在职攻读护理学本科学历", "成都中医药大学", {"hours": 24}, 9, approve=False,
          reason="学籍证明显示入学时间为次年，本年度不计学时"),
    Filed(YT, 0, DeclarationKind.COMPETITION, "烟台市卫生健康系统护理技能竞赛", "烟台市卫生健康委员会", {"hours": 8}, 6,
          category=Category.PUBLIC),
    Filed(YT, 1, DeclarationKind.SELF_STUDY, "自学《临床检验操作规程》", "烟台市芝罘区人民医院", {"hours": 10}, 8, took=7),
    Filed(YT, 2, DeclarationKind.OTHER, "社区义诊活动", "芝罘区卫生健康局", {"minutes": 240}, 10, approve=False,
          reason="义诊属志愿服务，不属于继续教育学习"),
)
THIS_YEAR_REVIEWED = (
    Filed(CD1, 5, DeclarationKind.CONFERENCE, "成都市护理质量改进研讨会", "成都市护理质量控制中心", {"days": 1}, 0),
    Filed(CD1, 6, DeclarationKind.RESEARCH, "论文：ICU 患者早期活动护理实践", "护理学杂志", {"hours": 12}, 0, took=6),
)
THIS_YEAR_PENDING = (
    Filed(CD1, None, DeclarationKind.CONFERENCE, "华西护理论坛（年会）", "四川大学华西医院", {"days": 1}, 0),
    Filed(CD1, 7, DeclarationKind.DEGREE, "在职护理硕士专业学位课程学习", "成都医学院", {"hours": 30}, 0),
    Filed(CD1, 8, DeclarationKind.CONFERENCE, "老年护理专科培训汇报会", "成都市护理学会", {"minutes": 180}, 0),
    Filed(CD3, 3, DeclarationKind.CONFERENCE, "四川省药学会学术年会", "四川省药学会", {"days": 2}, 0),
    Filed(YT, 3, DeclarationKind.SELF_STUDY, "自学《医疗质量安全核心制度》", "烟台市芝罘区人民医院", {"hours": 6}, 0),
)
OVERDUE = Filed(CD1, 9, DeclarationKind.CONFERENCE, "成都市急诊急救技能培训班", "成都市急救指挥中心", {"days": 2}, 0)


def _employees(world: World, employer_name: str) -> list[User]:
    employer = world.employers[employer_name]
    return db.session.execute(sa.select(User).where(
        User.employer_id == employer.id, User.role == Role.LEARNER, User.phone.like("154%"),
        User.id != world.learner.id).order_by(User.phone).limit(20)).scalars().all()


def _reviewer(employer: Employer) -> User:
    return db.session.execute(sa.select(User).where(User.role == Role.REVIEWER, User.employer_id == employer.id)
                              .order_by(User.id).limit(1)).scalar_one()


def _working_day(day: date) -> date:
    while not workdays.is_workday(day):
        day += timedelta(days=1)
    return day


def _file_directly(world: World, filed: Filed, learner: User, earned_on: date, filed_on: date) -> Declaration:
    """A declaration written as it would have been filed on ``filed_on`` (the declaration form takes only
    this year's hours, dated today), its claimed hours converted by the region's rules as the form does."""
    rule = hours.rule_for(learner.region, earned_on.year)
    claimed = declarations.claimed_hours(filed.kind, filed.amount, rule)
    submitted = _utc(filed_on, 15)
    declaration = Declaration(
        learner_id=learner.id, employer_id=learner.employer_id, kind=filed.kind, category=filed.category,
        title=filed.title, organiser=filed.organiser, earned_on=earned_on, year=earned_on.year,
        minutes=filed.amount.get("minutes"), days=filed.amount.get("days"), hours_claimed=claimed,
        status=DeclarationStatus.PENDING, submitted_at=submitted,
        due_on=workdays.review_deadline(filed_on, rule.review_working_days),
    )
    evidence, _path = evidence_files.store(_evidence())
    evidence.uploaded_at = submitted
    declaration.evidence.append(evidence)
    db.session.add(declaration)
    db.session.commit()
    return declaration


def _review(filed: Filed, declaration: Declaration, filed_on: date) -> None:
    """The employer's reviewer decides through services.declarations.review; the review's time is then moved
    to the working day it took (late when over the rule's working days)."""
    employer = db.session.get(Employer, declaration.employer_id)
    reviewed = declarations.review(_reviewer(employer), declaration.id, filed.approve, filed.hours, filed.reason)
    reviewed.reviewed_at = _utc(workdays.add_working_days(filed_on, filed.took), 16)
    db.session.commit()


def _who(world: World, filed: Filed) -> User:
    return world.learner if filed.who is None else _employees(world, filed.employer)[filed.who]


def _declarations_of_last_year(world: World) -> None:
    year = world.year - 1
    for n, filed in enumerate(LAST_YEAR_DECLARATIONS):
        filed_on = _working_day(date(year, filed.month, 8 + n % 12))
        declaration = _file_directly(world, filed, _who(world, filed), filed_on - timedelta(days=6), filed_on)
        _review(filed, declaration, filed_on)


def _declarations_of_this_year(world: World) -> None:
    """This year's: a few reviewed (when the year is old enough), the rest waiting, filed through
    services.declarations.declare, and one for the demo reviewer past its deadline."""
    today, first = world.today, date(world.year, 1, 1)
    for n, filed in enumerate(THIS_YEAR_REVIEWED):
        filed_on = _working_day(first + timedelta(days=(today - first).days * (n + 1) // 4))
        if workdays.add_working_days(filed_on, filed.took) >= today or filed_on - timedelta(days=4) < first:
            continue
        declaration = _file_directly(world, filed, _who(world, filed), filed_on - timedelta(days=4), filed_on)
        _review(filed, declaration, filed_on)
    for filed in THIS_YEAR_PENDING:
        data = {"kind": filed.kind.value, "category": filed.category.value, "title": filed.title,
                "organiser": filed.organiser, "earned_on": max(first, today - timedelta(days=5)), **filed.amount}
        declarations.declare(_who(world, filed), data, [_evidence()])
    # Filed on the latest day whose deadline has passed by now (earned a few days before, last year's if so).
    learner = _who(world, OVERDUE)
    filed_on = today - timedelta(days=1)
    rule = hours.rule_for(learner.region, world.year)
    while workdays.add_working_days(filed_on, rule.review_working_days) >= today:
        filed_on -= timedelta(days=1)
    _file_directly(world, OVERDUE, learner, filed_on - timedelta(days=3), filed_on)


# --- a waitlist --------------------------------------------------------------------------------------------

def _waitlist(world: World) -> None:
    """A coming class in Chengdu filled through services.enrollment.enroll (the demo learner among the first),
    with three learners on its waitlist."""
    course = db.session.execute(
        sa.select(Course).join(TrainingBase).where(
            TrainingBase.region_id == world.regions["510100"].id, TrainingBase.status != BaseStatus.EXITED,
            Course.status == CourseStatus.PUBLISHED, Course.needs_class_plan,
            Course.plan_status == PlanStatus.APPROVED.value, Course.start_date > world.today,
            Course.capacity.is_not(None), Course.seats_taken == 0)
        .order_by(Course.capacity, Course.id).limit(1)).scalar_one_or_none()
    if course is None:
        return
    course_id, seats = course.id, course.capacity
    takers = [world.learner.id] + world.pools["510100"][-(seats + 3):]
    for learner_id in takers[:seats + 3]:
        enrollment.enroll(db.session.get(User, learner_id), course_id)


"""Recording completions, one way whoever records them: the roster page's "mark completed", a roster file
(services.roster reads the file, then hands its rows here) and the API's batches, each item under the
client's own external id. A learner's own completion of a self-paced course, when the site offers one, is
a claim like these.

A completion names a course, a learner, the hours earned and the day the learner completed, in Asia/Shanghai:
the hours, the trainee and the project count in that day's year (notice 003, 五.二: 以专业技术人员实际完成时间
计入当年有效学时，不得跨年). The day lies within the course's dates and is not after today. Given none, it is
the end of a class (face to face, blended or live online) that has ended; a self-paced course, and a class
that has not ended yet, need each learner's own day.

One rule names a learner, the API's (the stricter of the two the import and the API had): an active learner
account whose name is the one given, found by its phone or by its ID number, and when both are given, both the
same account's. Whatever the reason nobody is found (no such phone or number, another name, two different
people, a disabled account, an account that is not a learner's), the answer is the same: a recorder cannot
tell a registered person from a made-up one by it.

A roster file (not the API, nor the roster page) may also name a trainee who has no account at all: a name, a
valid ID number and a mobile number, neither of them any account's. Such a row creates a walk-in account
(services.walk_ins) in the same unit of work as the completions, so that a refused file creates none.

All or nothing. Every completion is checked first, in a read-only transaction beside the site's writers, and
those wrong in themselves are refused together (``Invalid``). Then, holding the base's lock and its courses'
rows, those that clash with the records are refused together (``Conflict``: already completed, the course's
state, seats), and only a clean set writes. An external id already recorded with the same content is counted
and skipped, so a client that retries a batch records nothing twice.
"""

import json
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeAlias, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import QueryableAttribute

from extensions import db
from models import (
    ApiCompletion,
    Course,
    CourseStatus,
    Enrollment,
    EnrollmentSource,
    EnrollmentStatus,
    HoursRecord,
    HoursSource,
    Role,
    TrainingBase,
    User,
)
from models._common import utcnow
from services import audit, hours, identifiers, resident_ids, walk_ins
from services.actors import Actor
from services.errors import DomainError
from services.infra import clock
from services.infra.bulk import among, insert_rows
from services.infra.locking import locked, reading
from services.infra.transaction import end_reads

CHUNK = 500


# --- what is recorded, by whom ------------------------------------------------------------------------

@dataclass(frozen=True)
class Channel:
    """Who records and how: the sources written, and how a refusal names its place."""

    enrollment_source: EnrollmentSource  # of a learner added to the roster by the completion
    hours_source: HoursSource
    duplicate: str  # a second completion of one learner in one course; {ref}: the first one's place
    already: str  # the learner's completion in the course was recorded before
    # The roster page completes only learners holding a seat; a file or the API may add one to the roster.
    seated_only: bool = False
    # A roster file may name trainees who have no account yet (name, ID number and phone): each gets a walk-in
    # account (services.walk_ins), created with the completions, all or none.
    creates_accounts: bool = False


ROSTER_PAGE = Channel(EnrollmentSource.ONLINE, HoursSource.COURSE, "与所选第 {ref} 项重复",
                      "该学员在本课程的结业已经记录", seated_only=True)
ROSTER_FILE = Channel(EnrollmentSource.IMPORT, HoursSource.IMPORT, "与第 {ref} 行重复",
                      "该学员已记录结业，请勿重复导入", creates_accounts=True)
# The API creates no accounts: only the base's staff, at the desk or with a roster file they upload, register
# people (issue 18); a token's batch names registered learners only, and one it cannot match is refused.
API = Channel(EnrollmentSource.API, HoursSource.API, "与第 {ref} 项是同一学员的同一课程",
              "该学员在本课程的结业已经记录（不是通过这个外部编号）")


@dataclass
class Claim:
    """One completion as its recorder states it. ``ref`` is its place, as the refusals name it: the item's
    index in a batch, the row's number in a file, the enrollment's id on the roster page."""

    ref: int
    course_id: int
    name: str = ""
    phone: str = ""  # in its one spelling (services.identifiers.phone)
    id_number: str = ""  # as given: normalised and checked here
    hours: int | None = None  # None: all the course's hours
    completed_on: date | None = None  # None: see default_completed_on
    external_id: str | None = None
    digest: str = ""  # of the item as the client sent it (API)
    learner_id: int | None = None  # given by the roster page (the enrollment's learner), else matched here
    problem: str = ""  # why its course cannot take completions now (found before the learner was looked for)
    fingerprint: str = ""  # of the ID number, once checked
    new_account: bool = False  # names nobody registered: a walk-in account is created for them (creates_accounts)


@dataclass(frozen=True)
class Refusal:
    ref: int
    field: str  # the claim's field at fault: course_id, name, phone, id_number, hours, completed_on, …
    message: str


class Invalid(DomainError):
    """Claims wrong in themselves; nothing was recorded."""

    def __init__(self, refusals: list[Refusal], unmatched: int = 0):
        super().__init__(f"有 {len(refusals)} 处错误，未记录任何结业")
        self.refusals = refusals
        self.unmatched = unmatched  # how many claims named nobody registered (under that name)


class Conflict(DomainError):
    """Claims that clash with the records; nothing was recorded."""

    def __init__(self, refusals: list[Refusal]):
        super().__init__(f"有 {len(refusals)} 条记录与已有数据冲突，未记录任何结业")
        self.refusals = refusals


@dataclass
class BatchResult:
    received: int
    recorded: int = 0
    already_recorded: int = 0
    added_to_roster: int = 0
    accounts_created: int = 0


# --- the rules of a completion ------------------------------------------------------------------------

def course_problem(course: Course) -> str | None:
    """Why completions cannot be recorded for ``course`` now, or None."""
    if not course.base.can_publish:
        return "该基地已退出，不能再记录结业"
    if course.status not in (CourseStatus.PUBLISHED, CourseStatus.CLOSED):
        return f"课程状态为“{course.status.label}”，不能记录结业"
    if course.start_date > clock.today():
        return "课程尚未开始，不能记录结业"
    return None


def default_completed_on(course: Course, today: date | None = None) -> date | None:
    """The day of a completion recorded without one: the end of a class (face to face, blended, live) that has
    ended; None for a self-paced course (each learner finishes on a day of their own) or a class still running
    (a day must be stated, or a roster sent mid-course would credit hours for a course not yet held)."""
    today = today or clock.today()
    if course.is_self_paced or course.end_date > today:
        return None
    return course.end_date


def suggested_completed_on(course: Course) -> date:
    """The day the roster page's form offers: the default, else today (the course's last day at most)."""
    today = clock.today()
    return default_completed_on(course, today) or min(today, course.end_date)


def completed_on_problem(course: Course, day: date, today: date | None = None) -> str | None:
    """Why ``day`` cannot be the day a learner completed ``course``, or None."""
    if day > (today or clock.today()):
        return "结业日期不能晚于今天"
    if day < course.start_date:
        return f"结业日期不能早于课程开始日期 {course.start_date:%Y-%m-%d}"
    if day > course.end_date:
        return f"结业日期不能晚于课程结束日期 {course.end_date:%Y-%m-%d}"
    return None


def _missing_day(course: Course) -> str:
    if course.is_self_paced:
        return "线上自学课程须填写每位学员的结业日期"
    return "课程尚未结束，须填写结业日期"


def needs_seat(enrollment: "Enrollment | LiveEnrollment | None") -> bool:
    """A completion takes a seat for a learner who holds none: not enrolled, or on the waitlist."""
    return enrollment is None or enrollment.status == EnrollmentStatus.WAITLISTED


_T = TypeVar("_T")
Learner: TypeAlias = tuple[int, str, Role]  # (id, name, role): a plain row (see learners_by)


def chunks(items: Iterable[_T], size: int = CHUNK) -> Iterator[list[_T]]:
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]


def learners_by(column: QueryableAttribute[Any], values: Collection[str]) -> dict[str, Learner]:
    """{value: (id, name, role)} for active accounts whose ``column`` is among ``values`` (a disabled
    account is credited with nothing, as if it were not there); plain rows, not ORM objects, so that nothing
    is reloaded one by one after a transaction boundary. One query, whatever the number of values."""
    if not values:
        return {}
    rows = db.session.execute(sa.select(column, User.id, User.name, User.role).where(
        among(column, values), User.active.is_(True)))
    return {key: (user_id, name, role) for key, user_id, name, role in rows}


def _learner_of(claim: Claim, by_phone: Learner | None, by_id_number: Learner | None) -> tuple[int | None, str]:
    """The id of the learner the claim names, or None, and which field named them ("phone", "id_number" or
    "both": then both must be the same account's). One answer for "nobody", "somebody else's name" and
    "two different people": a recorder may not probe who is registered."""
    if claim.phone and claim.id_number:
        where, learner = "both", by_phone if by_phone == by_id_number else None
    elif claim.phone:
        where, learner = "phone", by_phone
    else:
        where, learner = "id_number", by_id_number
    if learner is None or learner[2] != Role.LEARNER or claim.name.strip() != learner[1]:
        return None, where
    return learner[0], where


def _where(claim: Claim) -> str:
    return "phone" if claim.phone else "id_number"


# --- checking -----------------------------------------------------------------------------------------

def _check(base_id: int, claims: list[Claim], channel: Channel,
           recorded: set[str]) -> tuple[dict[int, Course], list[Refusal], int]:
    """Each claim's course, hours, day and learner, and the refusals; claims whose external id is
    ``recorded`` already are only compared with their earlier sending, later. A fixed number of queries per
    500 claims. Returns (courses by id, refusals, how many claims matched no learner).

    What can be judged without the learner (the course, its state, the hours, the day) is judged first, and
    a claim refused for it is not matched to anybody: the answer to a claim must not depend on whether the
    person it names is registered, or a recorder could test that without recording anything."""
    fresh, refusals = _first_sendings(claims, recorded)
    course_ids = {claim.course_id for claim in fresh}
    courses = {c.id: c for c in db.session.execute(sa.select(Course).where(
        among(Course.id, course_ids), Course.base_id == base_id)).scalars()} if course_ids else {}
    named, fingerprints = _identified(fresh, refusals)
    by_phone = learners_by(User.phone, {c.phone for c in named if c.learner_id is None and c.phone})
    by_hmac = learners_by(User.id_number_hmac, set(fingerprints.values()))
    strangers = _strangers(named, by_phone, by_hmac) if channel.creates_accounts else set()
    today = clock.today()
    unmatched = 0
    pairs: dict[tuple[int, int | str], int] = {}
    new_phones: dict[str, tuple[int, str]] = {}
    for claim in named:
        refusal = _course_refusal(claim, courses.get(claim.course_id), today)
        if refusal is not None:
            refusals.append(refusal)
            continue
        if claim.problem:
            continue  # a conflict for the course, reported as such
        if claim.learner_id is None:
            refusal = _match(claim, by_phone.get(claim.phone), by_hmac.get(claim.fingerprint), strangers, new_phones)
            if refusal is not None:
                refusals.append(refusal)
                unmatched += not claim.new_account
                continue
        # A new account is one person per ID number: two rows with the same number are the same trainee.
        pair = (claim.course_id, claim.learner_id if claim.learner_id is not None else claim.fingerprint)
        if pair in pairs:
            refusals.append(Refusal(claim.ref, _where(claim), channel.duplicate.format(ref=pairs[pair])))
        else:
            pairs[pair] = claim.ref
    return courses, refusals, unmatched


def _match(claim: Claim, by_phone: Learner | None, by_id_number: Learner | None, strangers: set[int],
           new_phones: dict[str, tuple[int, str]]) -> Refusal | None:
    """Set the claim's learner (or mark it ``new_account`` when it names a stranger, see ``_strangers``), or
    say why not. Two strangers with one phone cannot both have it."""
    learner, where = _learner_of(claim, by_phone, by_id_number)
    if learner is not None:
        claim.learner_id = learner
        return None
    if claim.ref in strangers:
        claim.new_account = True
        if len(claim.name.strip()) > walk_ins.MAX_NAME:
            return Refusal(claim.ref, "name", f"姓名不能超过 {walk_ins.MAX_NAME} 个字，无法为其创建账号")
        first, fingerprint = new_phones.setdefault(claim.phone, (claim.ref, claim.fingerprint))
        if fingerprint != claim.fingerprint:  # the same number twice is a repeat, said as such by the caller
            return Refusal(claim.ref, "phone", f"与第 {first} 行的手机号相同，不能为两人创建账号")
        return None
    label = {"phone": "手机号", "id_number": "身份证号", "both": "手机号、身份证号"}[where]
    return Refusal(claim.ref, "phone" if where == "both" else where, f"未找到姓名与{label}都相符的注册学员")


def _strangers(claims: list[Claim], by_phone: dict[str, Learner], by_hmac: dict[str, Learner]) -> set[int]:
    """The refs of the claims that name someone with no account at all: a name, a valid ID number and a mobile
    number, neither of them any account's (of any role, active or not). A fixed number of queries per 500."""
    candidates = [c for c in claims if c.learner_id is None and c.fingerprint and identifiers.is_mobile(c.phone)
                  and c.fingerprint not in by_hmac and c.phone not in by_phone]
    if not candidates:
        return set()
    taken_numbers, taken_phones = taken({c.fingerprint for c in candidates}, {c.phone for c in candidates})
    return {c.ref for c in candidates if c.fingerprint not in taken_numbers and c.phone not in taken_phones}


def taken(fingerprints: Collection[str], phones: Collection[str]) -> tuple[set[str], set[str]]:
    """The ID number fingerprints and the phones among these that some account (any) holds. Two queries."""
    numbers = set(db.session.scalars(sa.select(User.id_number_hmac).where(among(User.id_number_hmac, fingerprints))))
    held = set(db.session.scalars(sa.select(User.phone).where(among(User.phone, phones))))
    return {n for n in numbers if n is not None}, {p for p in held if p is not None}


def _first_sendings(claims: list[Claim], recorded: set[str]) -> tuple[list[Claim], list[Refusal]]:
    """The claims to check, and the refusals of external ids repeated within the batch. A claim whose
    external id is ``recorded`` already is left out: it is compared with its earlier sending, later."""
    refusals: list[Refusal] = []
    seen_external: dict[str, int] = {}
    fresh = []
    for claim in claims:
        if claim.external_id is not None:
            if claim.external_id in seen_external:
                refusals.append(Refusal(claim.ref, "external_id",
                                        f"与第 {seen_external[claim.external_id]} 项的外部编号重复"))
                continue
            seen_external[claim.external_id] = claim.ref
            if claim.external_id in recorded:
                continue
        fresh.append(claim)
    return fresh, refusals


def _identified(claims: list[Claim], refusals: list[Refusal]) -> tuple[list[Claim], dict[int, str]]:
    """The claims that name their learner well enough to be looked for (a learner id, or a name with a phone
    or a valid ID number), and {claim ref: ID number fingerprint}; the others are refused into ``refusals``."""
    fingerprints: dict[int, str] = {}
    named = []
    for claim in claims:
        if claim.learner_id is not None:
            named.append(claim)
            continue
        if not claim.name.strip():
            refusals.append(Refusal(claim.ref, "name", "缺少姓名"))
            continue
        if not claim.phone and not claim.id_number:
            refusals.append(Refusal(claim.ref, "phone", "缺少手机号或身份证号"))
            continue
        if claim.id_number:
            number = resident_ids.normalise(claim.id_number)
            problem = resident_ids.problem(number)
            if problem:
                refusals.append(Refusal(claim.ref, "id_number", problem))
                continue
            fingerprints[claim.ref] = claim.fingerprint = resident_ids.fingerprint(number)
        named.append(claim)
    return named, fingerprints


def _course_refusal(claim: Claim, course: Course | None, today: date) -> Refusal | None:
    """Why the claim is refused for its course, hours or day, or None. Fills in the course's hours and the
    default day where the claim has none, and ``claim.problem`` where the course cannot take completions
    now: a conflict, reported as such later, and nothing more is judged of the claim."""
    if course is None:
        return Refusal(claim.ref, "course_id", "本基地没有该课程")
    if claim.hours is None:
        claim.hours = course.hours
    elif claim.hours > course.hours:
        return Refusal(claim.ref, "hours", f"不能超过课程的 {course.hours} 学时")
    claim.problem = course_problem(course) or ""
    if claim.problem:
        return None
    if claim.completed_on is None:
        claim.completed_on = default_completed_on(course, today)
        problem = _missing_day(course) if claim.completed_on is None else None
    else:
        problem = completed_on_problem(course, claim.completed_on, today)
    return Refusal(claim.ref, "completed_on", problem) if problem else None


# --- recording ----------------------------------------------------------------------------------------

def record(actor: Actor, base_id: int, claims: list[Claim], channel: Channel, *, refused: Sequence[Refusal] = (),
           token_id: int | None = None, via_token: str | None = None) -> BatchResult:
    """Record the claims' completions in the base's courses, all or none; learners not on a course's roster
    are added to it, seats permitting (not by the roster page, which completes its seated learners only), and
    on a channel that ``creates_accounts``, trainees with no account get one first.
    ``refused``: claims the caller already refused while reading them (a file's unreadable hours, say),
    reported with the rest. ``token_id``, ``via_token``: the API token a batch came with (its id, its displayed
    prefix for the audit).

    :raise Invalid: a claim is wrong in itself (unknown course or learner, too many hours, a day outside the
        course's dates or in the future, no day where one is needed, a repeat); nothing recorded.
    :raise Conflict: a claim clashes with the records: its external id was used for something else, the
        learner's completion is already recorded (or, on the roster page, the learner holds no seat), the
        course cannot take completions or lacks seats; nothing recorded.
    """
    # The checks only read; on SQLite they run beside the site's writers, in a transaction of their own
    # (the request's so far, which in a POST holds the write lock, ends first). locked() below writes.
    end_reads()
    with reading():
        earlier = _recorded(base_id, [c.external_id for c in claims if c.external_id is not None])
        courses, refusals, unmatched = _check(base_id, claims, channel, set(earlier))
    refusals = sorted([*refused, *refusals], key=lambda r: (r.ref, r.field))
    if refusals:
        raise Invalid(refusals, unmatched)

    result = BatchResult(received=len(claims) + len(refused))
    actor_id = actor.id
    # One recording per base at a time, so that two copies of the same batch sent together cannot both
    # write; then the courses' rows, in id order, against online enrollments taking seats meanwhile.
    with locked(TrainingBase, base_id) as base:
        locked_courses = {c.id: c for c in db.session.execute(
            sa.select(Course).where(Course.id.in_(list(courses))).order_by(Course.id).with_for_update(key_share=True)
            .execution_options(populate_existing=True)).scalars()}
        strangers = [c for c in claims if c.new_account]
        if strangers:
            result.accounts_created = _create_accounts(actor, base, strangers)
        # Again, now that no other recording of the base can be writing: one may have recorded some meanwhile.
        recorded = _recorded(base_id, [c.external_id for c in claims if c.external_id is not None])
        fresh, conflicts = _against_earlier(claims, recorded, result)
        existing = _live_enrollments(list({c.course_id for c in fresh}),
                                     list({c.learner_id for c in fresh if c.learner_id is not None}))
        by_course = _still_fitting(fresh, locked_courses, existing, channel, conflicts)
        plans = _seat_plans(by_course, locked_courses, existing, conflicts)
        if conflicts:
            conflicts.sort(key=lambda r: (r.ref, r.field))
            raise Conflict(conflicts)
        now = utcnow()
        enrollment_of = _write(by_course, plans, locked_courses, actor_id, channel, now)
        for course_id, course_claims in by_course.items():
            needing = plans[course_id][1]
            result.added_to_roster += len(needing)
            result.recorded += len(course_claims)
            if channel is not API:
                audit.record(actor, "course.import" if channel is ROSTER_FILE else "course.complete",
                             locked_courses[course_id], base_id=base_id, details=_summary(course_claims, needing))
        insert_rows(ApiCompletion, [
            {"base_id": base_id, "external_id": c.external_id, "course_id": c.course_id, "learner_id": c.learner_id,
             "enrollment_id": enrollment_of[(c.course_id, _checked(c)[0])], "hours": c.hours, "item_digest": c.digest,
             "token_id": token_id, "created_at": now}
            for course_claims in by_course.values() for c in course_claims if c.external_id is not None])
        if channel is API:
            audit.record(actor, "api.completions", db.session.get(TrainingBase, base_id), base_id=base_id, details={
                "received": result.received, "recorded": result.recorded,
                "already_recorded": result.already_recorded, "added_to_roster": result.added_to_roster},
                via_token=via_token)
    return result


def _create_accounts(actor: Actor, base: TrainingBase, claims: list[Claim]) -> int:
    """Create the walk-in accounts of the claims that name strangers, in bulk (one insert per 500), each audited
    and invited by text message to claim it (sent after the commit); set each claim's learner.

    :raise Conflict: an account took one of the ID numbers or phones since the check.
    """
    again = taken({c.fingerprint for c in claims}, {c.phone for c in claims})
    if again[0] or again[1]:
        raise Conflict([Refusal(c.ref, "id_number", walk_ins.CONCURRENT) for c in claims])
    region_id = walk_ins.region_for(base)
    people = {c.fingerprint: walk_ins.Person(c.name.strip(), resident_ids.normalise(c.id_number), c.phone,
                                             c.fingerprint) for c in claims}
    now = utcnow()
    created: dict[str, int] = {}
    try:
        for chunk in chunks(list(people.values())):
            rows = db.session.execute(
                sa.insert(User).returning(User.id, User.id_number_hmac),
                [walk_ins.new_account_values(base.id, who, region_id, now) for who in chunk]).tuples()
            created.update((fingerprint or "", user_id) for user_id, fingerprint in rows)
    except IntegrityError:  # registered meanwhile (PostgreSQL: between the check and the insert)
        raise Conflict([Refusal(c.ref, "id_number", walk_ins.CONCURRENT) for c in claims]) from None
    walk_ins.welcome(actor, base, {user_id: people[fingerprint] for fingerprint, user_id in created.items()}, "roster")
    for claim in claims:
        claim.learner_id = created[claim.fingerprint]
    return len(created)


def _against_earlier(claims: list[Claim], recorded: dict[str, str],
                     result: BatchResult) -> tuple[list[Claim], list[Refusal]]:
    """The claims to record now, and the conflicts of the others with what was recorded before; a claim sent
    again as it was is counted in ``result.already_recorded``."""
    conflicts: list[Refusal] = []
    fresh = []
    for claim in claims:
        previous = recorded.get(claim.external_id) if claim.external_id is not None else None
        if previous is not None and previous == claim.digest:
            result.already_recorded += 1
        elif previous is not None:
            conflicts.append(Refusal(claim.ref, "external_id",
                                     "该外部编号已用于另一条结业记录（课程、学员、学时或结业日期不同）"))
        elif claim.problem:
            conflicts.append(Refusal(claim.ref, "course_id", claim.problem))
        elif claim.learner_id is None:  # recorded when checked, gone since (its course deleted)
            conflicts.append(Refusal(claim.ref, "external_id",
                                     "该外部编号的记录已不存在，请去掉 external_id 重复项后重新提交"))
        else:
            fresh.append(claim)
    return fresh, conflicts


def _still_fitting(claims: list[Claim], courses: dict[int, Course], existing: dict, channel: Channel,
                   conflicts: list[Refusal]) -> dict[int, list[Claim]]:
    """The claims by course id that the locked courses and the learners' live enrollments (``existing``)
    still take; the others are refused into ``conflicts``."""
    today = clock.today()
    by_course: dict[int, list[Claim]] = defaultdict(list)
    for claim in claims:
        course = courses[claim.course_id]
        # The course as it is now: edited or closed since the check, its state or dates may refuse.
        problem = course_problem(course) or completed_on_problem(course, _checked(claim)[1], today)
        enrollment = existing.get((claim.course_id, claim.learner_id))
        if problem:
            conflicts.append(Refusal(claim.ref, "course_id", problem))
        elif channel.seated_only and (enrollment is None or enrollment.status != EnrollmentStatus.CONFIRMED):
            conflicts.append(Refusal(claim.ref, "enrollment", "不是“已报名”状态（候补、已取消或已结业）"))
        elif enrollment is not None and enrollment.status == EnrollmentStatus.COMPLETED:
            conflicts.append(Refusal(claim.ref, _where(claim), channel.already))
        else:
            by_course[claim.course_id].append(claim)
    return by_course


def _seat_plans(by_course: dict[int, list[Claim]], courses: dict[int, Course], existing: dict,
                conflicts: list[Refusal]) -> dict[int, tuple[dict, list[int]]]:
    """Per course: its claims' live enrollments by learner id, and the learners who take a seat now. A
    course without seats enough for them refuses each of them into ``conflicts``."""
    plans = {}
    for course_id, course_claims in by_course.items():
        course = courses[course_id]
        enrolled = {c.learner_id: existing[(course_id, c.learner_id)] for c in course_claims
                    if (course_id, c.learner_id) in existing}
        needing = [c for c in course_claims if needs_seat(enrolled.get(c.learner_id))]
        if course.capacity is not None and course.seats_taken + len(needing) > course.capacity:
            message = (f"课程“{course.title}”只剩 {course.capacity - course.seats_taken} 个名额，"
                       f"本次有 {len(needing)} 人未占名额")
            conflicts.extend(Refusal(c.ref, "capacity", message) for c in needing)
        plans[course_id] = (enrolled, [_checked(c)[0] for c in needing])
    return plans


def _checked(claim: Claim) -> tuple[int, date]:
    """The learner and the day of a claim that _check passed: it set both, or refused the claim.

    :raise RuntimeError: a claim that was not checked.
    """
    if claim.learner_id is None or claim.completed_on is None:
        raise RuntimeError(f"claim {claim.ref} was not checked")
    return claim.learner_id, claim.completed_on


def _summary(claims: list[Claim], needing: list[int]) -> dict:
    """What a course's audit entry says of its completions: how many, added to the roster, on which days."""
    days = sorted({_checked(c)[1] for c in claims})
    return {"completed": len(claims), "added": len(needing), "hours": sum(c.hours for c in claims),
            "days": [d.isoformat() for d in days[:10]] + (["…"] if len(days) > 10 else [])}


def _write(by_course: dict[int, list[Claim]], plans: dict[int, tuple[dict, list[int]]], courses: dict[int, Course],
           actor_id: int, channel: Channel, now: datetime) -> dict[tuple[int, int], int]:
    """The bulk writes of every course at once (``plans``: _seat_plans'): the enrollments (_enroll), one ledger
    row per learner and course in the year of the day they completed, and each course's seat counter. A fixed
    number of statements whatever the number of claims: one insert per table, an UPDATE per course taking seats
    and per day of the completed enrollments that existed. Returns {(course id, learner id): enrollment id}."""
    enrollment_of = _enroll(by_course, plans, actor_id, channel, now)
    insert_rows(HoursRecord, [
        {"learner_id": learner_id, "year": hours.credit_year(day), "earned_on": day,
         "category": courses[course_id].category, "hours": c.hours, "source": channel.hours_source,
         "course_id": course_id, "enrollment_id": enrollment_of[(course_id, learner_id)], "note": "",
         "created_by_id": actor_id, "created_at": now}
        for course_id, course_claims in by_course.items() for c in course_claims for learner_id, day in [_checked(c)]
    ])
    for course_id, (_enrolled, needing) in plans.items():
        if needing:
            db.session.execute(
                sa.update(Course).where(Course.id == course_id)
                .values(seats_taken=Course.seats_taken + len(needing))
                .execution_options(synchronize_session=False)
            )
    return enrollment_of


def _enroll(by_course: dict[int, list[Claim]], plans: dict[int, tuple[dict, list[int]]], actor_id: int,
            channel: Channel, now: datetime) -> dict[tuple[int, int], int]:
    """Each claim's enrollment, completed: a new one, in one insert, for a learner who held none; the live one
    (confirmed or waitlisted) updated, one UPDATE per day (a roster's learners mostly share one day). Returns
    {(course id, learner id): enrollment id}."""
    enrollment_of: dict[tuple[int, int], int] = {}
    new_rows = []
    by_day: dict[date, list[int]] = defaultdict(list)
    for course_id, course_claims in by_course.items():
        enrolled = plans[course_id][0]
        for claim in course_claims:
            learner_id, day = _checked(claim)
            enrollment = enrolled.get(learner_id)
            if enrollment is not None:
                enrollment_of[(course_id, learner_id)] = enrollment.id
                by_day[day].append(enrollment.id)
            else:
                new_rows.append({
                    "course_id": course_id, "learner_id": learner_id, "status": EnrollmentStatus.COMPLETED,
                    "source": channel.enrollment_source, "created_at": now, "confirmed_at": now, "completed_at": now,
                    "completed_on": day, "completed_by_id": actor_id, "rating_comment": ""})
    inserted = insert_rows(Enrollment, new_rows,
                           returning=(Enrollment.id, Enrollment.course_id, Enrollment.learner_id))
    enrollment_of.update({(course_id, learner_id): enrollment_id for enrollment_id, course_id, learner_id in inserted})
    for day, ids in by_day.items():
        db.session.execute(
            sa.update(Enrollment).where(among(Enrollment.id, ids))
            .values(status=EnrollmentStatus.COMPLETED, completed_at=now, completed_on=day, completed_by_id=actor_id,
                    confirmed_at=sa.func.coalesce(Enrollment.confirmed_at, now))
            .execution_options(synchronize_session=False)
        )
    return enrollment_of


def _recorded(base_id: int, external_ids: list[str]) -> dict[str, str]:
    """{external id: digest of the item as first sent} already recorded for the base. One query.

    The ids go as one parameter (services.infra.bulk.among): on PostgreSQL, repeated 500-value IN lists
    became a prepared statement whose generic plan compared each row with every value, which took 0.14 s a
    chunk on a freshly filled table (2.8 s for a resent batch of 10,000); the array is probed through the
    unique index, or hashed, whatever the table's statistics say."""
    if not external_ids:
        return {}
    return dict(db.session.execute(
        sa.select(ApiCompletion.external_id, ApiCompletion.item_digest)
        .where(ApiCompletion.base_id == base_id, among(ApiCompletion.external_id, external_ids))).tuples().all())


@dataclass(frozen=True)
class LiveEnrollment:
    """What recording reads of an enrollment that is not cancelled: a plain row, not an ORM object."""

    id: int
    status: EnrollmentStatus


def _live_enrollments(course_ids: list[int], learner_ids: list[int]) -> dict[tuple[int, int], LiveEnrollment]:
    """{(course id, learner id): live enrollment} of these learners in these courses. One query."""
    if not course_ids or not learner_ids:
        return {}
    rows = db.session.execute(sa.select(Enrollment.id, Enrollment.course_id, Enrollment.learner_id, Enrollment.status)
                              .where(among(Enrollment.course_id, course_ids), among(Enrollment.learner_id, learner_ids),
                                     Enrollment.status != EnrollmentStatus.CANCELLED))
    return {(course_id, learner_id): LiveEnrollment(enrollment_id, status)
            for enrollment_id, course_id, learner_id, status in rows}


# --- the roster page ----------------------------------------------------------------------------------

def complete_enrollments(actor: Actor, course: Course, enrollment_ids: list[int], completed_on: date | None) -> int:
    """The roster page's "mark completed": the ticked learners of ``course``, each holding a seat, completed
    on ``completed_on`` (None: default_completed_on) and credited all the course's hours. All or nothing.

    :raise DomainError: nothing ticked; the course cannot take completions; the day is refused (field
        ``completed_on``); a ticked learner is not a confirmed enrollee of the course (waitlisted, cancelled,
        already completed, or another course's).
    """
    ids = sorted(set(enrollment_ids))
    if not ids:
        raise DomainError("请先勾选要记录结业的学员")
    problem = course_problem(course)
    if problem:
        raise DomainError(problem)
    rows = db.session.execute(sa.select(Enrollment.id, Enrollment.learner_id).where(
        Enrollment.id.in_(ids), Enrollment.course_id == course.id)).all()
    if len(rows) != len(ids):
        raise DomainError("所选学员中有人未报名本课程")
    claims = [Claim(ref=enrollment_id, course_id=course.id, learner_id=learner_id, completed_on=completed_on)
              for enrollment_id, learner_id in rows]
    try:
        result = record(actor, course.base_id, claims, ROSTER_PAGE)
    except Invalid as error:  # the day: it is the same for every ticked learner
        raise DomainError(error.refusals[0].message, field="completed_on") from None
    except Conflict as error:
        unseated = [r for r in error.refusals if r.field == "enrollment"]
        if unseated:
            raise DomainError(f"所选学员中有 {len(unseated)} 人不是“已报名”状态（候补、已取消或已结业），"
                              "未做任何记录") from None
        raise DomainError(error.refusals[0].message) from None
    return result.recorded


# --- the API ------------------------------------------------------------------------------------------

def _digests(raw_items: list[dict]) -> list[str]:
    """What identifies each item as sent: course, name, phone, ID number, hours (or none given), and the
    day when one is given (an item sent before days were taken is recognised as it was). A resent item is
    recognised by this, whatever changed since in the records it named (the course's hours, the learner's
    phone); keyed, since it covers ID numbers."""
    return resident_ids.keyed_digests(b"api completion", (
        json.dumps([raw["course_id"], raw["name"].strip(), raw.get("phone", ""),
                    resident_ids.normalise(raw.get("id_number", "")), raw.get("hours"),
                    *([raw["completed_on"]] if raw.get("completed_on") else [])],
                   ensure_ascii=False, separators=(",", ":"))
        for raw in raw_items))


def push(actor: Actor, base: TrainingBase, raw_items: list[dict], token_id: int | None = None, *,
         via_token: str | None = None) -> BatchResult:
    """Record a batch of completions pushed through the API (items as the CompletionBatch schema checked
    them), all or none; see ``record``. A refused batch records nothing but leaves its trace in the audit
    log, in a transaction of its own (counts only, among them the items that matched nobody): a refusal
    lists the items whose person was not found, so a token could otherwise test names and numbers against
    the register unseen.

    :raise Invalid: an item is wrong in itself (the API answers 400 with each field's problem).
    :raise Conflict: an item clashes with the records (409); a refusal's ``ref`` is the item's index.
    """
    digests = _digests(raw_items)
    claims = [
        Claim(ref=index, course_id=raw["course_id"], name=raw["name"].strip(), phone=raw.get("phone", ""),
              id_number=raw.get("id_number", ""), hours=raw.get("hours"),
              completed_on=date.fromisoformat(raw["completed_on"]) if raw.get("completed_on") else None,
              external_id=raw["external_id"], digest=digests[index])
        for index, raw in enumerate(raw_items)
    ]
    try:
        return record(actor, base.id, claims, API, token_id=token_id, via_token=via_token)
    except Invalid as error:
        _refused(actor, base, len(raw_items), via_token, errors=len(error.refusals), unmatched=error.unmatched)
        raise
    except Conflict as error:
        _refused(actor, base, len(raw_items), via_token, conflicts=len(error.refusals))
        raise


def _refused(actor: Actor, base: TrainingBase, received: int, via_token: str | None, **counts: int) -> None:
    audit.record_now(actor, "api.completions_refused", base, base_id=base.id, details={"received": received, **counts},
                     via_token=via_token)


def find(base: TrainingBase, external_id: str) -> sa.Row[Any] | None:
    """(ApiCompletion, learner, course, its hours record or None, the day the learner completed) recorded by
    the base under ``external_id``, or None. One query. The hours record says the year and category the hours
    count in."""
    return db.session.execute(
        sa.select(ApiCompletion, User, Course, HoursRecord, Enrollment.completed_on)
        .join(User, User.id == ApiCompletion.learner_id)
        .join(Course, Course.id == ApiCompletion.course_id)
        .outerjoin(Enrollment, Enrollment.id == ApiCompletion.enrollment_id)
        .outerjoin(HoursRecord, HoursRecord.enrollment_id == ApiCompletion.enrollment_id)
        .where(ApiCompletion.base_id == base.id, ApiCompletion.external_id == external_id)
    ).first()

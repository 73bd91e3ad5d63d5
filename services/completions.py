"""Completions a base pushes through the API, in batches, each under the client's own external id.

A batch is all or nothing: every item is checked first (400 for wrong input, 409 for a clash with what is
recorded), and only a clean batch writes. An external id already recorded with the same content is
counted and skipped, so a client that retries a batch (after a timeout, say) records nothing twice.
"""

import json
from collections import defaultdict
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from extensions import db
from models import (
    ApiCompletion,
    Course,
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
from services import audit, identity, roster
from services.enrollment import completion_problem
from services.errors import DomainError
from services.locking import locked, reading

CHUNK = 500


class BatchInvalid(DomainError):
    """Items that are wrong in themselves: ``errors`` lists {"field": JSON pointer, "message"}."""

    def __init__(self, errors: list[dict], unmatched: int = 0):
        super().__init__(f"有 {len(errors)} 处错误，未记录任何结业")
        self.errors = errors
        self.unmatched = unmatched  # how many items named nobody registered (under that name)


class BatchConflict(DomainError):
    """Items that clash with what is recorded: ``conflicts`` lists {"index", "external_id", "message"}."""

    def __init__(self, conflicts: list[dict]):
        super().__init__(f"有 {len(conflicts)} 条记录与已有数据冲突，未记录任何结业")
        self.conflicts = conflicts


@dataclass
class BatchResult:
    received: int
    recorded: int = 0
    already_recorded: int = 0
    added_to_roster: int = 0


@dataclass
class _Item:
    index: int
    external_id: str
    course_id: int
    digest: str  # of the item as the client sent it
    learner_id: int | None = None
    hours: int | None = None
    problem: str = ""  # why its course cannot take completions now (found before the learner was looked for)


def _digests(raw_items: list[dict]) -> list[str]:
    """What identifies each item as sent: course, name, phone, ID number, hours (or none given). A resent
    item is recognised by this, whatever changed since in the records it named (the course's hours, the
    learner's phone); keyed, since it covers ID numbers."""
    return identity.keyed_digests(b"api completion", (
        json.dumps([raw["course_id"], raw["name"].strip(), raw.get("phone", ""),
                    identity.normalise(raw.get("id_number", "")), raw.get("hours")],
                   ensure_ascii=False, separators=(",", ":"))
        for raw in raw_items))


def _clash(item: _Item, message: str) -> dict:
    return {"index": item.index, "external_id": item.external_id, "message": message}


def _pointer(index: int, name: str) -> str:
    return f"/completions/{index}/{name}"


def _resolve(base: TrainingBase, raw_items: list[dict], digests: list[str], recorded: set[str]):
    """Each item's course and learner, and the field errors; items whose external id is ``recorded``
    already are only checked against their earlier sending, later. A fixed number of queries per 500 items.
    Returns (items, courses by id, errors, how many items matched no learner).

    What can be judged without the learner (the course, its state, the hours) is judged first, and an item
    refused for it is not matched to anybody: the answer to an item must not depend on whether the person
    it names is registered, or a token could test that without recording anything."""
    errors: list[dict] = []
    course_ids = {raw["course_id"] for raw in raw_items if raw["external_id"] not in recorded}
    courses = {c.id: c for chunk in roster.chunks(course_ids, CHUNK) for c in db.session.execute(
        sa.select(Course).where(Course.id.in_(chunk), Course.base_id == base.id)).scalars()}
    phones = {raw["phone"] for raw in raw_items if raw.get("phone")}
    fingerprints: dict[int, str] = {}
    for index, raw in enumerate(raw_items):
        if raw.get("id_number") and raw["external_id"] not in recorded:
            number = identity.normalise(raw["id_number"])
            problem = identity.problem(number)
            if problem:
                errors.append({"field": _pointer(index, "id_number"), "message": problem})
            else:
                fingerprints[index] = identity.fingerprint(number)
    by_phone = roster.learners_by(User.phone, phones)
    by_hmac = roster.learners_by(User.id_number_hmac, set(fingerprints.values()))
    seen_external: dict[str, int] = {}
    items = []
    unmatched = 0
    for index, raw in enumerate(raw_items):
        item = _Item(index, raw["external_id"], raw["course_id"], digests[index])
        items.append(item)
        if item.external_id in seen_external:
            errors.append({"field": _pointer(index, "external_id"),
                           "message": f"与第 {seen_external[item.external_id]} 项的外部编号重复"})
            continue
        seen_external[item.external_id] = index
        if item.external_id in recorded:
            continue
        course = courses.get(item.course_id)
        if course is None:
            errors.append({"field": _pointer(index, "course_id"), "message": "本基地没有该课程"})
            continue
        hours = raw.get("hours", course.hours)
        if hours > course.hours:
            errors.append({"field": _pointer(index, "hours"), "message": f"不能超过课程的 {course.hours} 学时"})
            continue
        item.problem = completion_problem(course) or ""
        if item.problem or (raw.get("id_number") and index not in fingerprints):
            continue  # a conflict for the course, or the ID number's own error, is reported
        learner, where = _learner_of(raw, by_phone.get(raw.get("phone")), by_hmac.get(fingerprints.get(index)))
        if learner is None:
            label = {"phone": "手机号", "id_number": "身份证号", "both": "手机号、身份证号"}[where]
            errors.append({"field": _pointer(index, "phone" if where == "both" else where),
                           "message": f"未找到姓名与{label}都相符的注册学员"})
            unmatched += 1
            continue
        item.learner_id, item.hours = learner, hours
    return items, courses, errors, unmatched


def _learner_of(raw: dict, by_phone, by_id_number) -> tuple[int | None, str]:
    """The id of the learner the item names, or None, and which field named them ("phone", "id_number" or
    "both": then both must be the same account's). One answer for "nobody", "somebody else's name" and
    "two different people": a token may not probe who is registered."""
    if raw.get("phone") and raw.get("id_number"):
        where, learner = "both", by_phone if by_phone == by_id_number else None
    elif raw.get("phone"):
        where, learner = "phone", by_phone
    else:
        where, learner = "id_number", by_id_number
    if learner is None or learner[2] != Role.LEARNER or raw["name"].strip() != learner[1]:
        return None, where
    return learner[0], where


def _recorded(base_id: int, external_ids: list[str]) -> dict[str, str]:
    """{external id: digest of the item as first sent} already recorded for the base.

    On PostgreSQL the ids go as one array parameter in one statement: repeated 500-value IN lists become a
    prepared statement whose generic plan compares each row with every value, which took 0.14 s a chunk
    on a freshly filled table (2.8 s for a resent batch of 10,000); the array is probed through the unique
    index, or hashed, whatever the table's statistics say."""
    columns = (ApiCompletion.external_id, ApiCompletion.item_digest)
    if db.engine.dialect.name == "postgresql":
        ids = sa.bindparam("external_ids", external_ids, type_=postgresql.ARRAY(sa.String))
        statements = [sa.select(*columns).where(ApiCompletion.base_id == base_id,
                                                ApiCompletion.external_id == sa.any_(ids))]
    else:
        statements = [sa.select(*columns).where(ApiCompletion.base_id == base_id, ApiCompletion.external_id.in_(chunk))
                      for chunk in roster.chunks(external_ids, CHUNK)]
    found = {}
    for statement in statements:
        found.update(db.session.execute(statement).tuples().all())
    return found


def _live_enrollments(course_ids, learner_ids) -> dict[tuple[int, int], Enrollment]:
    found = {}
    for chunk in roster.chunks(learner_ids, CHUNK):
        for e in db.session.execute(sa.select(Enrollment).where(
                Enrollment.course_id.in_(course_ids), Enrollment.learner_id.in_(chunk),
                Enrollment.status != EnrollmentStatus.CANCELLED)).scalars():
            found[(e.course_id, e.learner_id)] = e
    return found


def push(actor, base: TrainingBase, raw_items: list[dict], token_id: int | None = None) -> BatchResult:
    """Record a batch of completions (see ``_record``). A refused batch records nothing but leaves its trace
    in the audit log, in a transaction of its own (counts only, among them the items that matched nobody):
    a refusal lists the items whose person was not found, so a token could otherwise test names and
    numbers against the register unseen.

    :raise BatchInvalid, BatchConflict: as ``_record``.
    """
    try:
        return _record(actor, base, raw_items, token_id)
    except BatchInvalid as error:
        _refused(actor, base, len(raw_items), errors=len(error.errors), unmatched=error.unmatched)
        raise
    except BatchConflict as error:
        _refused(actor, base, len(raw_items), conflicts=len(error.conflicts))
        raise


def _refused(actor, base: TrainingBase, received: int, **counts) -> None:
    audit.record_now(actor, "api.completions_refused", base, base_id=base.id, details={"received": received, **counts})


def _record(actor, base: TrainingBase, raw_items: list[dict], token_id: int | None = None) -> BatchResult:
    """Record a batch of completions for the base's courses, all or none.

    Each item names a course of the base, a registered learner by phone or ID number (the name must match
    the account) and the hours earned (default: all the course's). Learners who had not enrolled are added
    to the roster, seats permitting.
    :raise BatchInvalid: an item is wrong in itself (unknown course or learner, too many hours, a repeat).
    :raise BatchConflict: an item clashes with the records: its external id was used for something else,
        the learner's completion is already recorded, the course cannot take completions or lacks seats.
    """
    # The checks only read; on SQLite they run beside the site's writers, in a transaction of their own
    # (the request's so far, which in a POST holds the write lock, ends first). locked() below writes.
    db.session.commit()
    with reading():
        digests = _digests(raw_items)
        earlier = _recorded(base.id, [raw["external_id"] for raw in raw_items])
        items, courses, errors, unmatched = _resolve(base, raw_items, digests, set(earlier))
    pairs: dict[tuple[int, int], int] = {}
    for item in items:
        if item.learner_id is None:
            continue
        pair = (item.course_id, item.learner_id)
        if pair in pairs:
            where = "phone" if raw_items[item.index].get("phone") else "id_number"
            errors.append({"field": _pointer(item.index, where),
                           "message": f"与第 {pairs[pair]} 项是同一学员的同一课程"})
        else:
            pairs[pair] = item.index
    if errors:
        errors.sort(key=lambda e: (int(e["field"].split("/")[2]), e["field"]))
        raise BatchInvalid(errors, unmatched)

    result = BatchResult(received=len(items))
    actor_id, base_id = actor.id, base.id
    # One batch of a base at a time, so that two copies of the same batch sent together cannot both write;
    # then the courses' rows, in id order, against online enrollments taking seats meanwhile.
    with locked(TrainingBase, base_id):
        locked_courses = {c.id: c for c in db.session.execute(
            sa.select(Course).where(Course.id.in_(list(courses))).order_by(Course.id).with_for_update(key_share=True)
            .execution_options(populate_existing=True)).scalars()}
        # Again, now that no other batch of the base can be writing: one may have recorded some meanwhile.
        recorded = _recorded(base_id, [item.external_id for item in items])
        conflicts = []
        fresh = []
        for item in items:
            previous = recorded.get(item.external_id)
            if previous == item.digest:
                result.already_recorded += 1
            elif previous is not None:
                conflicts.append(_clash(item, "该外部编号已用于另一条结业记录（课程、学员或学时不同）"))
            elif item.problem:
                conflicts.append(_clash(item, item.problem))
            elif item.learner_id is None:  # recorded when checked, gone since (its course deleted)
                conflicts.append(_clash(item, "该外部编号的记录已不存在，请去掉 external_id 重复项后重新提交"))
            else:
                fresh.append(item)
        existing = _live_enrollments(list({i.course_id for i in fresh}), list({i.learner_id for i in fresh}))
        by_course: dict[int, list[_Item]] = defaultdict(list)
        for item in fresh:
            problem = completion_problem(locked_courses[item.course_id])
            enrollment = existing.get((item.course_id, item.learner_id))
            if problem:
                conflicts.append(_clash(item, problem))
            elif enrollment is not None and enrollment.status == EnrollmentStatus.COMPLETED:
                conflicts.append(_clash(item, "该学员在本课程的结业已经记录（不是通过这个外部编号）"))
            else:
                by_course[item.course_id].append(item)
        # Per course: its learners' live enrollments, and those who take a seat now.
        plans = {}
        for course_id, course_items in by_course.items():
            course = locked_courses[course_id]
            enrolled = {i.learner_id: existing[(course_id, i.learner_id)] for i in course_items
                        if (course_id, i.learner_id) in existing}
            needing = [i for i in course_items if roster.needs_seat(enrolled.get(i.learner_id))]
            if course.capacity is not None and course.seats_taken + len(needing) > course.capacity:
                message = (f"课程“{course.title}”只剩 {course.capacity - course.seats_taken} 个名额，"
                           f"本批有 {len(needing)} 人未占名额")
                conflicts.extend(_clash(i, message) for i in needing)
            plans[course_id] = (enrolled, [i.learner_id for i in needing])
        if conflicts:
            conflicts.sort(key=lambda c: c["index"])
            raise BatchConflict(conflicts)
        now = utcnow()
        rows = []
        for course_id, course_items in by_course.items():
            enrolled, needing = plans[course_id]
            planned = {i.learner_id: (i.index, i.hours) for i in course_items}
            enrollment_of = roster.apply_completions(
                locked_courses[course_id], planned, enrolled, needing, actor_id,
                enrollment_source=EnrollmentSource.API, hours_source=HoursSource.API)
            result.added_to_roster += len(needing)
            rows.extend({"base_id": base_id, "external_id": i.external_id, "course_id": course_id,
                         "learner_id": i.learner_id, "enrollment_id": enrollment_of[i.learner_id], "hours": i.hours,
                         "item_digest": i.digest, "token_id": token_id, "created_at": now} for i in course_items)
        if rows:
            db.session.execute(sa.insert(ApiCompletion), rows)
        result.recorded = len(rows)
        # The token is named by audit.record itself, as for every change made through the API.
        audit.record(actor, "api.completions", base, base_id=base_id, details={
            "received": result.received, "recorded": result.recorded, "already_recorded": result.already_recorded,
            "added_to_roster": result.added_to_roster})
    return result


def find(base: TrainingBase, external_id: str):
    """(ApiCompletion, learner, course, its hours record or None) recorded by the base under
    ``external_id``, or None. One query. The hours record says the year and category the hours count in."""
    return db.session.execute(
        sa.select(ApiCompletion, User, Course, HoursRecord)
        .join(User, User.id == ApiCompletion.learner_id)
        .join(Course, Course.id == ApiCompletion.course_id)
        .outerjoin(HoursRecord, HoursRecord.enrollment_id == ApiCompletion.enrollment_id)
        .where(ApiCompletion.base_id == base.id, ApiCompletion.external_id == external_id)
    ).first()

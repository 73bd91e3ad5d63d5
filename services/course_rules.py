"""The rules a course's data must meet, once for every way a course is written: the site's course form, the
API, and any other caller of services.courses. The form and the API check only the shape of what they
receive (types, the inputs that must be there) and each show this module's refusals in their own way.

``judge`` takes the fields as Python values (enums, dates, ints, a Decimal fee, text, a bool) and either
returns what to write or raises services.errors.Invalid naming every field at fault with its message.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from extensions import db
from models import FIELDS, Category, Course, HoursRecord, Mode, ProjectType
from models.course import IN_PERSON_MODES
from services import text
from services.errors import Invalid

# The fields a base admin writes, in the order they are judged and the audit log reports them.
EDITABLE_FIELDS = (
    "title", "description", "category", "field", "hours", "start_date", "end_date", "mode", "place",
    "audience", "capacity", "fee", "fee_standard", "contact_person", "contact_phone", "open_to_city", "project_type",
    "enroll_until",
)
# What a new course has for a field it is not given. The other fields must be given.
DEFAULTS = {
    "description": "", "place": "", "capacity": None, "fee": Decimal("0"), "fee_standard": "", "open_to_city": True,
    "project_type": ProjectType.JOB_TRAINING, "enroll_until": None,
}
REQUIRED = tuple(name for name in EDITABLE_FIELDS if name not in DEFAULTS)

# What is said of a field left empty (the form says it too, before it reads the other fields' types).
MISSING = {
    "title": "请填写课程名称", "category": "请选择科目类别", "field": "请选择领域", "hours": "请填写学时",
    "start_date": "请选择开始日期", "end_date": "请选择结束日期", "mode": "请选择培训方式",
    "audience": "请填写培训对象", "fee": "请填写费用，免费填 0", "contact_person": "请填写联系人",
    "contact_phone": "请填写联系电话",
}
# Text fields and their longest value (their columns' sizes).
MAX_LENGTH = {
    "title": 200, "description": 5000, "place": 255, "audience": 255, "fee_standard": 255, "contact_person": 64,
    "contact_phone": 32,
}
CHOICES = {"category": (Category, "科目类别"), "mode": (Mode, "培训方式"), "project_type": (ProjectType, "项目类型")}
ONLINE_PLACE = "线上"  # the place of a course taught wholly online that names none


@dataclass(frozen=True)
class Range:
    """The values a number may take, and what is said of one outside them."""

    low: int
    high: int
    message: str

    def __contains__(self, value: int) -> bool:
        return self.low <= value <= self.high


HOURS = Range(1, 500, "学时应在 1 到 500 之间")
CAPACITY = Range(1, 100_000, "名额应在 1 到 100000 之间")
FEE = Range(0, 100_000, "费用应在 0 到 100000 元之间")

PLACE_NEEDED = "面授或线上线下结合的课程请填写培训地点"
END_BEFORE_START = "结束日期不能早于开始日期"
DEADLINE_NOT_SELF_PACED = "只有线上自学的课程可以设报名截止日期；面授和直播课程报名至开课前一天"


def too_long(limit: int) -> str:
    return f"字段长度不能超过 {limit} 个字符。"


def judge(data: dict, course: Course | None = None) -> dict:
    """Judge ``data`` (any of EDITABLE_FIELDS; other keys are ignored) as part of the course it makes: over
    ``course``'s values for an edit, over DEFAULTS for a new course (``course`` None). Returns what to write:
    the fields given, cleaned (text stripped; an online course with no place is "线上"), every field for a
    new course, and an enrollment deadline dropped because the course stopped being self-paced (the edit that
    changed the way of teaching did not send it: it is dropped rather than refused).

    An edit of a course whose hours are already credited is also judged against that ledger: one query, only
    when its category, dates or hours change, and only once the rest passes.

    :raise Invalid: ``fields`` maps each field at fault to its message.
    """
    given = {name: data[name] for name in EDITABLE_FIELDS if name in data}
    before = DEFAULTS if course is None else {name: getattr(course, name) for name in EDITABLE_FIELDS}
    values = {**before, **given}
    values["open_to_city"] = bool(values.get("open_to_city"))
    problems: dict[str, str] = {}
    _judge_text(values, problems)
    _judge_choices(values, problems)
    _judge_numbers(values, course.seats_taken if course is not None else 0, problems)
    _judge_dates(values, problems)
    dropped = _judge_deadline(values, given, course, problems)
    if not problems and course is not None and course.id is not None:
        _judge_against_ledger(course, values, problems)
    if problems:
        raise Invalid({name: problems[name] for name in EDITABLE_FIELDS if name in problems})
    if course is None:
        return values
    return {name: values[name] for name in given} | ({"enroll_until": None} if dropped else {})


def _judge_text(values: dict, problems: dict) -> None:
    for name, limit in MAX_LENGTH.items():
        values[name] = (values.get(name) or "").strip()
        if name in MISSING and not values[name]:
            problems[name] = MISSING[name]
        elif len(values[name]) > limit:
            problems[name] = too_long(limit)
    if values["contact_phone"] and "contact_phone" not in problems and not text.is_contact_phone(
            values["contact_phone"]):
        problems["contact_phone"] = text.CONTACT_PHONE_MESSAGE


def _judge_choices(values: dict, problems: dict) -> None:
    if values.get("project_type") is None:
        values["project_type"] = ProjectType.JOB_TRAINING
    for name, (kind, label) in CHOICES.items():
        if values.get(name) is None:
            problems[name] = MISSING[name]
            continue
        try:
            values[name] = kind(values[name])
        except ValueError:
            problems[name] = f"请选择列出的{label}"
    if values.get("field") is None:
        problems["field"] = MISSING["field"]
    elif values["field"] not in FIELDS:
        problems["field"] = "请选择列出的领域"
    mode = values.get("mode")
    if "mode" not in problems and "place" not in problems and not values["place"]:
        if mode in IN_PERSON_MODES:
            problems["place"] = PLACE_NEEDED
        else:
            values["place"] = ONLINE_PLACE


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _judge_numbers(values: dict, seats_taken: int, problems: dict) -> None:
    hours, capacity, fee = values.get("hours"), values.get("capacity"), values.get("fee")
    if hours is None:
        problems["hours"] = MISSING["hours"]
    elif not _whole(hours) or hours not in HOURS:
        problems["hours"] = HOURS.message
    if capacity is not None:
        if not _whole(capacity) or capacity not in CAPACITY:
            problems["capacity"] = CAPACITY.message
        elif capacity < seats_taken:
            problems["capacity"] = f"已有 {seats_taken} 人报名，名额不能少于此数"
    if fee is None:
        problems["fee"] = MISSING["fee"]
    elif not (_whole(fee) or (isinstance(fee, Decimal) and fee.is_finite())):
        problems["fee"] = "请填写有效的数字"
    elif fee not in FEE:
        problems["fee"] = FEE.message


def _judge_dates(values: dict, problems: dict) -> None:
    for name in ("start_date", "end_date"):
        if values.get(name) is None:
            problems[name] = MISSING[name]
        elif not isinstance(values[name], date):
            problems[name] = "请填写有效的日期"
    if not problems.keys() & {"start_date", "end_date"} and values["end_date"] < values["start_date"]:
        problems["end_date"] = END_BEFORE_START


def _judge_deadline(values: dict, given: dict, course: Course | None, problems: dict) -> bool:
    """A self-paced course may set its last day of enrollment, within its window; a class (face to face or
    live) enrolls until it starts and sets none. Returns whether a deadline left from before the course
    stopped being self-paced was dropped."""
    until = values.get("enroll_until")
    if until is None or "mode" in problems:
        return False
    if not isinstance(until, date):
        problems["enroll_until"] = "请填写有效的日期"
        return False
    if values["mode"] != Mode.SELF_PACED:
        sent = "enroll_until" in given and (course is None or given["enroll_until"] != course.enroll_until)
        if sent:
            problems["enroll_until"] = DEADLINE_NOT_SELF_PACED
            return False
        values["enroll_until"] = None
        return True
    start, end = values["start_date"], values["end_date"]
    if not problems.keys() & {"start_date", "end_date"} and not start <= until <= end:
        problems["enroll_until"] = (f"报名截止日期应在课程起止日期之内（{start.isoformat()} 至 "
                                    f"{end.isoformat()}）")
    return False


def _judge_against_ledger(course: Course, values: dict, problems: dict) -> None:
    """Hours already credited for the course were booked under its category, on the days learners completed
    (within the course's dates, services.completions), and at most its hours: an edit may not make the
    ledger and the course disagree."""
    category_moved = values["category"] != course.category
    # A narrower window could leave a completion's day outside the course's dates.
    window_cut = values["start_date"] > course.start_date or values["end_date"] < course.end_date
    hours_cut = values["hours"] < course.hours
    if not (category_moved or window_cut or hours_cut):
        return
    credited, most, first_day, last_day = db.session.execute(
        sa.select(sa.func.count(HoursRecord.id), sa.func.max(HoursRecord.hours), sa.func.min(HoursRecord.earned_on),
                  sa.func.max(HoursRecord.earned_on))
        .where(HoursRecord.course_id == course.id)
    ).one()
    if not credited:
        return
    if category_moved:
        problems["category"] = f"已有 {credited} 人按本课程记了学时，不能再改类别"
    if first_day is not None and values["start_date"] > first_day:
        problems["start_date"] = f"已有学员于 {first_day.isoformat()} 结业，开始日期不能晚于这一天"
    if last_day is not None and values["end_date"] < last_day:
        problems["end_date"] = f"已有学员于 {last_day.isoformat()} 结业，结束日期不能早于这一天"
    if values["hours"] < most:
        problems["hours"] = f"已有学员按本课程记了 {most} 学时，课程学时不能少于此数"

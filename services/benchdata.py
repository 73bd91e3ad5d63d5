"""A deterministic data generator for benchmarks: a city (1×) or a province (10×) worth of bases, courses,
learners, enrollments, completions and declared hours, written with bulk inserts through the DB-API.

Realistic skew (a few large bases, many small), learners taking several courses at one base, courses that
end on 31 December or run on 1 January, and planted boundary bases whose evaluation outcome is known:
province-level at 1,999 and 2,000 distinct trainees, rural-revitalization at 2,999 and 3,000, and one with
3 projects instead of 4.
"""

import random
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from extensions import db
from models import (
    BaseType,
    Category,
    Course,
    Enrollment,
    HoursRecord,
    Mode,
    Region,
    RegionLevel,
    Role,
    TrainingBase,
    User,
)
from services import clock, search
from services.errors import DomainError

PROVINCE_CODE, CITY_CODE = "379800", "379801"


@dataclass(frozen=True)
class Tier:
    bases: int
    courses: int
    learners: int
    enrollments: int


TIERS = {
    "1x": Tier(bases=21, courses=2_000, learners=100_000, enrollments=300_000),
    "10x": Tier(bases=99, courses=10_000, learners=1_000_000, enrollments=3_000_000),
    # Small enough for the test suite, still holding the boundary bases.
    "test": Tier(bases=6, courses=60, learners=4_000, enrollments=6_000),
}

# (type, distinct trainees, projects, expected to meet the targets)
BOUNDARY_BASES = (
    (BaseType.PROVINCIAL, 1_999, 4, False),
    (BaseType.PROVINCIAL, 2_000, 4, True),
    (BaseType.RURAL_REVITALIZATION, 2_999, 4, False),
    (BaseType.RURAL_REVITALIZATION, 3_000, 4, True),
    (BaseType.PROVINCIAL, 2_000, 3, False),
)
BOUNDARY_PREFIX = "基准边界基地"

SUBJECTS = ("人工智能与健康", "临床护理质量", "急救技能", "数字经济", "装配式建筑", "设施农业", "网络安全",
            "社区社会工作", "食品安全检验", "跨境电子商务", "大数据分析", "职业道德与能力建设", "5G+智慧城市")
SUFFIXES = ("专题研修班", "培训班", "能力提升班", "高级研修项目", "网络课程")
FIELDS = ("卫生", "信息", "现代农业", "城市规划建设管理", "教育", "社会工作", "食品安全", "商务服务")


def _insert(model, columns: list[str], rows) -> int:
    """Bulk insert tuples through the DB-API executemany (the ORM's per-row work is the slow part)."""
    table = model.__table__
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join(["%s" if db.engine.dialect.name == "postgresql" else "?"] * len(columns))
    sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})'
    count = 0
    batch = []
    connection = db.session.connection().connection  # the DB-API connection of the session's transaction
    cursor = connection.cursor()
    for row in rows:
        batch.append(row)
        if len(batch) == 50_000:
            cursor.executemany(sql, batch)
            count += len(batch)
            batch = []
    if batch:
        cursor.executemany(sql, batch)
        count += len(batch)
    cursor.close()
    return count


def generate(tier_name: str, seed: int = 20261122) -> dict:
    """Write the tier's data; returns what was written. Runs once per database.

    :raise DomainError: unknown tier, or benchmark data already present.
    """
    if tier_name not in TIERS:
        raise DomainError(f"未知的规模：{tier_name}（可选 {', '.join(TIERS)}）")
    if db.session.scalar(sa.select(Region.id).where(Region.code == PROVINCE_CODE)):
        raise DomainError("数据库中已有基准数据，请换一个空数据库")
    tier = TIERS[tier_name]
    rng = random.Random(seed)
    year = clock.today().year
    years = (year - 1, year)

    province = Region(code=PROVINCE_CODE, name="基准省", level=RegionLevel.PROVINCE)
    city = Region(code=CITY_CODE, name="基准市", level=RegionLevel.CITY, parent=province)
    db.session.add_all([province, city])
    db.session.flush()
    created = date(year - 2, 1, 1)

    # Bases: a Zipf-like weight per base (a few large, many small), then the planted boundary bases.
    kinds = [BaseType.PROVINCIAL, BaseType.RURAL_REVITALIZATION] + [BaseType.CITY] * 3
    _insert(TrainingBase, ["name", "type", "status", "region_id", "website", "address", "contact_person",
                           "contact_phone", "scope", "content", "fee_items", "training_plan", "staff", "rules",
                           "created_at", "updated_at"],
            ((f"基准基地{n:03d}", kinds[n % len(kinds)].value, "active", city.id, "", "", "联系人", "028-61234567",
              "培训范围", "培训内容", "收费标准", "年度计划", "师资", "制度", created, created)
             for n in range(tier.bases)))
    _insert(TrainingBase, ["name", "type", "status", "region_id", "website", "address", "contact_person",
                           "contact_phone", "scope", "content", "fee_items", "training_plan", "staff", "rules",
                           "created_at", "updated_at"],
            ((f"{BOUNDARY_PREFIX}{n}", kind.value, "active", city.id, "", "", "联系人", "028-61234567",
              "培训范围", "培训内容", "收费标准", "年度计划", "师资", "制度", created, created)
             for n, (kind, _t, _p, _ok) in enumerate(BOUNDARY_BASES)))
    bases = db.session.execute(
        sa.select(TrainingBase.id, TrainingBase.name).where(TrainingBase.region_id == city.id).order_by(TrainingBase.id)
    ).all()
    regular = [b for b in bases if not b.name.startswith(BOUNDARY_PREFIX)]
    boundary = [b for b in bases if b.name.startswith(BOUNDARY_PREFIX)]
    weights = [1 / (rank + 1) ** 1.1 for rank in range(len(regular))]

    # Courses: spread over two years by base weight; some end on 31 December, some run on 1 January.
    course_plan = []  # (base_id, start, end, category)
    for n in range(tier.courses):
        base = rng.choices(regular, weights=weights)[0]
        y = years[n % 2]
        if n % 50 == 0:
            start = end = date(y, 12, 31)
        elif n % 50 == 1:
            start = end = date(y, 1, 1)
        else:
            start = date(y, 1, 1) + timedelta(days=rng.randrange(0, 360))
            end = min(start + timedelta(days=rng.randrange(0, 4)), date(y, 12, 31))
        course_plan.append((base.id, start, end, (Category.PUBLIC, Category.PROFESSIONAL, Category.ELECTIVE)[n % 3]))
    # The boundary bases' projects: ended this year, before today.
    last_day = max(clock.today() - timedelta(days=1), date(year, 1, 1))
    for base, (_kind, _trainees, projects, _ok) in zip(boundary, BOUNDARY_BASES, strict=True):
        for k in range(projects):
            day = date(year, 1, 1) + timedelta(days=k % max((last_day - date(year, 1, 1)).days, 1))
            course_plan.append((base.id, day, day, Category.PROFESSIONAL))

    # Learners.
    password_hash = generate_password_hash("bench-only", method="pbkdf2:sha256:1")
    first_user = (db.session.scalar(sa.select(sa.func.max(User.id))) or 0) + 1
    _insert(User, ["id", "name", "phone", "password_hash", "role", "region_id", "active", "session_token",
                   "id_number_masked", "employer_name", "sector", "professional_title", "created_at"],
            ((first_user + i, f"学员{i}", f"1{7_000_000_000 + i:010d}"[:11], password_hash, Role.LEARNER.value,
              city.id, True, f"bench{i}", "", "", "", "", created) for i in range(tier.learners)))

    # Enrollments: a learner often takes several courses at one base. Decide them before the courses are
    # written, so that each course's seat counter equals its rows.
    taken: set[tuple[int, int]] = set()
    by_base: dict[int, list[int]] = {}
    for index, (base_id, *_rest) in enumerate(course_plan):
        by_base.setdefault(base_id, []).append(index)
    enrollments: list[tuple[int, int, str]] = []  # (course index, learner id, status)
    regular_ids = [b.id for b in regular]
    boundary_ids = {b.id for b in boundary}
    while len(enrollments) < tier.enrollments:
        learner = first_user + rng.randrange(tier.learners)
        base_id = rng.choices(regular_ids, weights=weights)[0]
        for _ in range(rng.choice((1, 1, 1, 2, 3))):
            course_index = rng.choice(by_base.get(base_id) or [0])
            if (course_index, learner) in taken or course_plan[course_index][0] in boundary_ids:
                continue
            taken.add((course_index, learner))
            start = course_plan[course_index][1]
            status = "completed" if start <= clock.today() and rng.random() < 0.9 else "confirmed"
            enrollments.append((course_index, learner, status))
    # Boundary bases: exactly the planted number of distinct trainees, spread over their projects (a few
    # learners twice, which must count once).
    for base, (_kind, trainees, _projects, _ok) in zip(boundary, BOUNDARY_BASES, strict=True):
        indexes = by_base[base.id]
        for t in range(trainees):
            learner = first_user + t
            enrollments.append((indexes[t % len(indexes)], learner, "completed"))
            if t % 10 == 0 and len(indexes) > 1:
                enrollments.append((indexes[(t + 1) % len(indexes)], learner, "completed"))
    seats = [0] * len(course_plan)
    for course_index, _learner, _status in enrollments:
        seats[course_index] += 1

    first_course = (db.session.scalar(sa.select(sa.func.max(Course.id))) or 0) + 1
    names = [f"{SUBJECTS[i % len(SUBJECTS)]}{SUFFIXES[(i // len(SUBJECTS)) % len(SUFFIXES)]}（第{i}期）"
             for i in range(len(course_plan))]
    base_names = dict((b.id, b.name) for b in bases)
    _insert(Course, ["id", "base_id", "title", "description", "category", "field", "hours", "start_date",
                     "end_date", "mode", "place", "audience", "capacity", "seats_taken", "fee", "fee_standard",
                     "contact_person", "contact_phone", "open_to_city", "status", "cancel_reason", "search_tokens",
                     "project_type", "plan_status", "created_at", "updated_at", "published_at"],
            ((first_course + i, base_id, names[i], "", category.value, FIELDS[i % len(FIELDS)], 8, start, end,
              Mode.ONLINE.value, "线上", "专业技术人员", None, seats[i], 0, "免费", "联系人", "028-61234567", True,
              "published", "", search.index_tokens(names[i], "", base_names[base_id]), "job_training", None,
              created, created, created)
             for i, (base_id, start, end, category) in enumerate(course_plan)))
    first_enrollment = (db.session.scalar(sa.select(sa.func.max(Enrollment.id))) or 0) + 1
    _insert(Enrollment, ["id", "course_id", "learner_id", "status", "source", "created_at", "confirmed_at",
                         "completed_at", "rating", "rating_comment"],
            ((first_enrollment + n, first_course + ci, learner, status, "online", created, created,
              created if status == "completed" else None, (n % 5) + 1 if status == "completed" and n % 7 == 0 else None,
              "") for n, (ci, learner, status) in enumerate(enrollments)))
    # The ledger: one credit per completion, in the course's category, in the year the course ended.
    _insert(HoursRecord, ["learner_id", "year", "category", "hours", "source", "course_id", "enrollment_id", "note",
                          "created_at"],
            ((learner, course_plan[ci][2].year, course_plan[ci][3].value, 8, "course", first_course + ci,
              first_enrollment + n, "", created)
             for n, (ci, learner, status) in enumerate(enrollments) if status == "completed"))
    if db.engine.dialect.name == "postgresql":
        # Rows were written with explicit ids: move the sequences past them.
        for table in ("user", "course", "enrollment"):
            db.session.execute(sa.text(
                f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), (SELECT max(id) FROM \"{table}\"))"))
    db.session.commit()
    return {"bases": len(bases), "courses": len(course_plan), "learners": tier.learners,
            "enrollments": len(enrollments), "boundary_bases": [b.name for b in boundary]}

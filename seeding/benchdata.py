"""A deterministic data generator for benchmarks: a city (1×) or a province (10×) worth of bases, courses,
learners, enrollments, completions and declared hours, written in bulk in seconds.

Realistic skew (a few large bases, many small), learners taking several courses at one base, courses that
end on 31 December or run on 1 January, and planted boundary bases whose evaluation outcome is known:
province-level at 1,999 and 2,000 distinct trainees, rural-revitalization at 2,999 and 3,000, and one with
3 projects instead of 4.

Why it takes seconds (figures in docs/PERFORMANCE.md): the enrollments are drawn with plain arithmetic into
flat integer arrays; rows go to PostgreSQL by binary COPY and to SQLite in multi-row INSERTs whose constant
columns are SQL literals; the bulk tables' secondary indexes (and on PostgreSQL their foreign keys and
UNIQUE constraints) are dropped for the load and made again after it, one sort or one join each instead of
millions of random insertions or trigger queries; and SQLite loads with its foreign-key checks off and,
when nobody else has the database open, a rollback journal instead of the WAL.
"""

import random
import sqlite3
from array import array
from bisect import bisect
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import accumulate, chain, islice

import sqlalchemy as sa
from werkzeug.security import generate_password_hash

from extensions import db
from models import (
    BaseType,
    Category,
    Course,
    Enrollment,
    HoursSource,
    Mode,
    Region,
    RegionLevel,
    Role,
    Target,
    TrainingBase,
    User,
)
from services.errors import DomainError
from services.infra import clock, search

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
# The bench province's targets of the year, the figures of Shandong's 考核要求 (notice 004) that the boundary
# bases straddle: targets are a province's own rows, so the generated province needs its own.
BENCH_TARGETS = {BaseType.PROVINCIAL: (2_000, 4), BaseType.RURAL_REVITALIZATION: (3_000, 4)}

SUBJECTS = ("人工智能与健康", "临床护理质量", "急救技能", "数字经济", "装配式建筑", "设施农业", "网络安全",
            "社区社会工作", "食品安全检验", "跨境电子商务", "大数据分析", "职业道德与能力建设", "5G+智慧城市")
SUFFIXES = ("专题研修班", "培训班", "能力提升班", "高级研修项目", "网络课程")
FIELDS = ("卫生", "信息", "现代农业", "城市规划建设管理", "教育", "社会工作", "食品安全", "商务服务")

# The tables that take millions of rows; their secondary indexes are built after the load.
BULK_TABLES = ("user", "enrollment", "hours_record")
# SQLite, on the load's own connection before its transaction begins (SQLite ignores foreign_keys inside
# one): no foreign-key lookups per row, which cost as much as the inserts themselves (the rows are
# consistent by construction; a test checks it), and a page cache that holds the tables being written.
SQLITE_LOAD_PRAGMAS = {"foreign_keys": "OFF", "cache_size": -262_144}  # 256 MiB
# The index builds get SQLite's default cache back: its sorter holds as much as the page cache in one
# in-memory list, and merging a list that large misses the CPU caches at every step (twice as slow).
SQLITE_INDEX_BUILD_CACHE = -2_000
# PostgreSQL, for the load's transaction only (SET LOCAL): sort each index build in memory.
POSTGRES_LOAD_SETTINGS = {"maintenance_work_mem": "256MB"}

# Every generated course declares this many hours, and each completion credits them.
COURSE_HOURS = 8
# SQLite: rows per INSERT (SQLite takes up to 32,766 parameters a statement).
ROWS_PER_STATEMENT = 100
# How many courses a learner takes at the base drawn for them, equally likely.
GROUP_SIZES = (1, 1, 1, 2, 3)
COMPLETION_RATE = 0.9


def _literal(value) -> str:
    """One of this module's own constants as an SQLite literal (never user input)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int | Decimal):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def _write(cursor, table: str, columns: tuple[str, ...], rows, constants: dict | None = None) -> int:
    """Bulk-write rows (tuples of values for columns) into table; constants hold the columns that are the
    same on every row. Returns the number of rows written.

    PostgreSQL: binary COPY, which spares both sides the text of every value (half the time of a text
    COPY); dates and times come as objects. SQLite: INSERTs of ROWS_PER_STATEMENT rows each (one
    statement per row takes twice as long), with the constants as SQL literals, since binding a parameter
    costs on every row; dates and times come as the text SQLAlchemy stores.
    """
    constants = constants or {}
    names = ", ".join(f'"{c}"' for c in (*columns, *constants))
    count = 0
    if db.engine.dialect.name == "postgresql":
        cursor.execute("SELECT attname, atttypid FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0",
                       (f'"{table}"',))
        types = dict(cursor.fetchall())
        tail = tuple(constants.values())
        with cursor.copy(f'COPY "{table}" ({names}) FROM STDIN (FORMAT BINARY)') as copy:
            copy.set_types([types[c] for c in (*columns, *constants)])
            for row in rows:
                copy.write_row(row + tail)
                count += 1
        return count
    values = "(" + ", ".join(["?"] * len(columns) + [_literal(v) for v in constants.values()]) + ")"
    # bandit B608: table and column names are this module's constants.
    insert = f'INSERT INTO "{table}" ({names}) VALUES '  # nosec B608
    full = insert + ", ".join([values] * ROWS_PER_STATEMENT)
    rows = iter(rows)
    while batch := list(islice(rows, ROWS_PER_STATEMENT)):
        statement = full if len(batch) == ROWS_PER_STATEMENT else insert + ", ".join([values] * len(batch))
        cursor.execute(statement, tuple(chain.from_iterable(batch)))
        count += len(batch)
    return count


@contextmanager
def _load_connection():
    """A connection of its own for the load, in one transaction, with the load settings above. It is
    discarded afterwards, so that they never reach the app's other work: whoever comes next gets a fresh
    connection with the app's own settings.

    SQLite: the load runs with a rollback journal instead of the WAL when nobody else has the database
    open, and the database is put back in WAL mode afterwards, whatever happened. A transaction of a
    gigabyte in WAL mode is written twice, to the WAL and then by the checkpoint into the database (a
    fifth of the time at 10x); with a rollback journal its new pages go straight into the database.
    """
    sqlite = db.engine.dialect.name == "sqlite"
    if sqlite:
        db.engine.dispose()  # the pool's idle connections would hold the database in WAL mode
    with db.engine.connect() as connection:
        driver = connection.connection.driver_connection  # used directly: before SQLAlchemy's BEGIN
        left_wal = False
        try:
            if sqlite:
                left_wal = _leave_wal(driver)
                for name, value in SQLITE_LOAD_PRAGMAS.items():
                    driver.execute(f"PRAGMA {name} = {value}")
            with connection.begin():
                if not sqlite:
                    for name, value in POSTGRES_LOAD_SETTINGS.items():
                        connection.exec_driver_sql(f"SET LOCAL {name} = '{value}'")
                yield connection
        finally:
            try:
                if left_wal:
                    driver.execute("PRAGMA journal_mode = WAL")
            finally:
                connection.invalidate()


def _leave_wal(driver) -> bool:
    """Switch an SQLite database from WAL to a rollback journal; False (and still WAL) when it is not in
    WAL mode or someone else has it open, which the switch needs no waiting for."""
    if driver.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        return False
    timeout = driver.execute("PRAGMA busy_timeout").fetchone()[0]
    driver.execute("PRAGMA busy_timeout = 0")
    try:
        return driver.execute("PRAGMA journal_mode = DELETE").fetchone()[0] == "delete"
    except sqlite3.OperationalError:  # database is locked: another connection has it open
        return False
    finally:
        driver.execute(f"PRAGMA busy_timeout = {timeout}")


@contextmanager
def _indexes_built_after(cursor):
    """Drop the bulk tables' secondary indexes for the load and build them again after it, from the
    definitions the database itself holds, so exactly as the migrations made them: one sort per index
    instead of millions of random B-tree insertions. Primary keys stay, and on SQLite the UNIQUE
    constraints, which belong to the table. On PostgreSQL the foreign keys and the UNIQUE constraints no
    foreign key refers to are dropped and added back the same way: a foreign key added to a full table
    checks every row in one join, where during the load it would run a trigger query per row and key
    (SQLite's are off for the load instead). DDL is transactional on both databases: a failed load rolls
    the indexes and keys back with the rest."""
    if db.engine.dialect.name == "postgresql":
        tables = ([f'"{t}"' for t in BULK_TABLES],)
        # UNIQUE first when they are added back, for any foreign key that needs one.
        cursor.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint c"
            " WHERE conrelid = ANY(%s::regclass[]) AND (contype = 'f' OR contype = 'u' AND NOT EXISTS"
            " (SELECT FROM pg_constraint r WHERE r.contype = 'f' AND r.conindid = c.conindid))"
            " ORDER BY contype DESC, conname", tables)
        constraints = cursor.fetchall()
        cursor.execute(
            "SELECT i.relname, pg_get_indexdef(x.indexrelid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid"
            " WHERE x.indrelid = ANY(%s::regclass[])"
            " AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = x.indexrelid) ORDER BY i.relname", tables)
    else:
        constraints = []
        cursor.execute(
            # bandit B608: the names are this module's constants (_literal).
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"  # nosec B608
            f" AND tbl_name IN ({', '.join(_literal(t) for t in BULK_TABLES)}) ORDER BY name"
        )
    indexes = cursor.fetchall()
    for table, name, _definition in constraints:
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _definition in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    yield
    if db.engine.dialect.name == "sqlite":
        cursor.execute(f"PRAGMA cache_size = {SQLITE_INDEX_BUILD_CACHE}")
    for _name, definition in indexes:
        cursor.execute(definition)
    for table, name, definition in constraints:
        cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')


# Ways of teaching as the notices describe them: public subjects on the bases' learning platforms (self-paced,
# notice 004), electives as live lectures, professional courses half in class (with an approved class plan,
# notice 001), half self-paced online. Capacity stays unlimited, so the figures measure the same work as before.
PLACES = {Mode.SELF_PACED: "线上学习平台", Mode.ONLINE_LIVE: "线上直播", Mode.FACE_TO_FACE: "培训楼教室"}


def _mode_of(index: int, category: Category) -> Mode:
    if category == Category.PUBLIC:
        return Mode.SELF_PACED
    if category == Category.ELECTIVE:
        return Mode.ONLINE_LIVE
    return Mode.FACE_TO_FACE if index % 2 == 0 else Mode.SELF_PACED


def _plan_courses(rng, tier, regular, cumulative, boundary, year) -> list[tuple[int, date, date, Category]]:
    """(base id, start, end, category) per course: spread over two years by base weight; some end on
    31 December, some run on 1 January; then the boundary bases' projects, ended this year before today."""
    total, last = cumulative[-1], len(cumulative) - 1
    plan = []
    for n in range(tier.courses):
        base = regular[bisect(cumulative, rng.random() * total, 0, last)]
        y = (year - 1, year)[n % 2]
        if n % 50 == 0:
            start = end = date(y, 12, 31)
        elif n % 50 == 1:
            start = end = date(y, 1, 1)
        else:
            start = date(y, 1, 1) + timedelta(days=rng.randrange(0, 360))
            end = min(start + timedelta(days=rng.randrange(0, 4)), date(y, 12, 31))
        plan.append((base.id, start, end, (Category.PUBLIC, Category.PROFESSIONAL, Category.ELECTIVE)[n % 3]))
    last_day = max(clock.today() - timedelta(days=1), date(year, 1, 1))
    for base, (_kind, _trainees, projects, _ok) in zip(boundary, BOUNDARY_BASES, strict=True):
        for k in range(projects):
            day = date(year, 1, 1) + timedelta(days=k % max((last_day - date(year, 1, 1)).days, 1))
            plan.append((base.id, day, day, Category.PROFESSIONAL))
    return plan


def _draw_enrollments(rng, tier, plan, pools, regular, cumulative, first_user):  # noqa: PLR0913  generate()'s draws
    """The regular bases' enrollments as three flat arrays (course index, learner id, completed): a learner
    drawn at random takes one to three courses at one base drawn by weight, each at most once. Flat
    integer arrays instead of millions of tuples: nothing for the garbage collector to walk."""
    today = clock.today()
    started = [start <= today for _base, start, _end, _category in plan]
    pools = [pools.get(b.id, []) for b in regular]
    total, last, width = cumulative[-1], len(cumulative) - 1, len(plan)
    courses, learners, completed = array("l"), array("l"), bytearray()
    taken = set()  # learner * width + course index
    left = tier.enrollments
    while left:
        learner = first_user + int(rng.random() * tier.learners)
        pool = pools[bisect(cumulative, rng.random() * total, 0, last)]
        if not pool:
            continue
        for _ in range(GROUP_SIZES[int(rng.random() * len(GROUP_SIZES))]):
            course = pool[int(rng.random() * len(pool))]
            key = learner * width + course
            if key in taken:
                continue
            taken.add(key)
            courses.append(course)
            learners.append(learner)
            completed.append(started[course] and rng.random() < COMPLETION_RATE)
            left -= 1
            if not left:
                break
    return courses, learners, completed


def generate(tier_name: str, seed: int = 20261122) -> dict:
    """Write the tier's data in one transaction of its own; returns what was written. Runs once per
    database. Whatever the session holds is committed first (and on SQLite the engine's idle connections
    are closed, see _load_connection).

    :raise DomainError: unknown tier, or benchmark data already present.
    """
    if tier_name not in TIERS:
        raise DomainError(f"未知的规模：{tier_name}（可选 {', '.join(TIERS)}）")
    tier = TIERS[tier_name]
    db.session.commit()
    with _load_connection() as connection:
        if connection.scalar(sa.select(Region.id).where(Region.code == PROVINCE_CODE)):
            raise DomainError("数据库中已有基准数据，请换一个空数据库")
        cursor = connection.connection.driver_connection.cursor()
        try:
            return _generate(tier, seed, connection, cursor)
        finally:
            cursor.close()


def _generate(tier: Tier, seed: int, connection, cursor) -> dict:
    # bandit B311: deterministic benchmark data from a seed, not a secret.
    rng = random.Random(seed)  # nosec B311
    year = clock.today().year
    postgres = connection.dialect.name == "postgresql"
    province_id = connection.execute(sa.insert(Region).values(
        code=PROVINCE_CODE, name="基准省", level=RegionLevel.PROVINCE)).inserted_primary_key[0]
    city_id = connection.execute(sa.insert(Region).values(
        code=CITY_CODE, name="基准市", level=RegionLevel.CITY, parent_id=province_id)).inserted_primary_key[0]
    connection.execute(sa.insert(Target), [
        {"base_type": kind.value, "year": year, "region_id": province_id, "min_trainees": trainees,
         "min_projects": projects} for kind, (trainees, projects) in BENCH_TARGETS.items()])
    # Dates and times as each bulk path takes them: objects for PostgreSQL's binary COPY, the text that
    # SQLAlchemy itself stores for SQLite.
    created = datetime(year - 2, 1, 1)
    stamp = created if postgres else created.isoformat(" ", "microseconds")
    day = (lambda d: d) if postgres else date.isoformat

    # Bases: a Zipf-like weight per base (a few large, many small), then the planted boundary bases.
    kinds = [BaseType.PROVINCIAL, BaseType.RURAL_REVITALIZATION] + [BaseType.CITY] * 3
    base_rows = [(f"基准基地{n:03d}", kinds[n % len(kinds)].value) for n in range(tier.bases)]
    base_rows += [(f"{BOUNDARY_PREFIX}{n}", kind.value) for n, (kind, _t, _p, _ok) in enumerate(BOUNDARY_BASES)]
    _write(cursor, "training_base", ("name", "type"), base_rows, {
        "status": "active", "region_id": city_id, "website": "", "address": "", "contact_person": "联系人",
        "contact_phone": "028-61234567", "scope": "培训范围", "content": "培训内容", "fee_items": "收费标准",
        "training_plan": "年度计划", "staff": "师资", "rules": "制度", "created_at": stamp, "updated_at": stamp})
    bases = connection.execute(
        sa.select(TrainingBase.id, TrainingBase.name).where(TrainingBase.region_id == city_id).order_by(TrainingBase.id)
    ).all()
    regular = [b for b in bases if not b.name.startswith(BOUNDARY_PREFIX)]
    boundary = [b for b in bases if b.name.startswith(BOUNDARY_PREFIX)]
    cumulative = list(accumulate(1 / (rank + 1) ** 1.1 for rank in range(len(regular))))

    plan = _plan_courses(rng, tier, regular, cumulative, boundary, year)
    pools = {}  # base id: its course indexes
    for index, (base_id, *_rest) in enumerate(plan):
        pools.setdefault(base_id, []).append(index)
    first_user = (connection.scalar(sa.select(sa.func.max(User.id))) or 0) + 1
    # Decided before the courses are written, so that each course's seat counter equals its rows.
    courses, learners, completed = _draw_enrollments(rng, tier, plan, pools, regular, cumulative, first_user)
    # Boundary bases: exactly the planted number of distinct trainees, spread over their projects (a few
    # learners twice, which must count once).
    for base, (_kind, trainees, _projects, _ok) in zip(boundary, BOUNDARY_BASES, strict=True):
        pool = pools[base.id]
        for t in range(trainees):
            taken = [pool[t % len(pool)]] + ([pool[(t + 1) % len(pool)]] if t % 10 == 0 and len(pool) > 1 else [])
            for course in taken:
                courses.append(course)
                learners.append(first_user + t)
                completed.append(True)
    seats = Counter(courses)

    first_course = (connection.scalar(sa.select(sa.func.max(Course.id))) or 0) + 1
    first_enrollment = (connection.scalar(sa.select(sa.func.max(Enrollment.id))) or 0) + 1
    base_names = dict((b.id, b.name) for b in bases)
    titles = [f"{SUBJECTS[i % len(SUBJECTS)]}{SUFFIXES[(i // len(SUBJECTS)) % len(SUFFIXES)]}（第{i}期）"
              for i in range(len(plan))]
    modes = [_mode_of(i, category) for i, (_b, _s, _e, category) in enumerate(plan)]
    _write(cursor, "course", ("id", "base_id", "title", "category", "field", "start_date", "end_date",
                              "seats_taken", "search_tokens", "mode", "place", "plan_status"),
           ((first_course + i, base_id, titles[i], category.value, FIELDS[i % len(FIELDS)], day(start), day(end),
             seats[i], search.index_tokens(titles[i], "", base_names[base_id]), modes[i].value, PLACES[modes[i]],
             "approved" if modes[i] == Mode.FACE_TO_FACE and category == Category.PROFESSIONAL else None)
            for i, (base_id, start, end, category) in enumerate(plan)),
           {"description": "", "hours": COURSE_HOURS,
            "audience": "专业技术人员", "capacity": None, "fee": Decimal(0), "fee_standard": "免费",
            "contact_person": "联系人", "contact_phone": "028-61234567", "open_to_city": True, "status": "published",
            "cancel_reason": "", "project_type": "job_training", "created_at": stamp,
            "updated_at": stamp, "published_at": stamp})

    with _indexes_built_after(cursor):
        # Learners: one cheap hash for all (signing in as one is not what the benchmarks measure).
        _write(cursor, "user", ("id", "name", "phone", "session_token"),
               ((first_user + i, f"学员{i}", str(17_000_000_000 + i), f"bench{i}") for i in range(tier.learners)),
               {"password_hash": generate_password_hash("bench-only", method="pbkdf2:sha256:1"),
                "role": Role.LEARNER.value, "region_id": city_id, "active": True, "created_at": stamp})
        # Each completion's day: a day of its course's window, spread over the learners, never after today
        # (services.completions' rule); its hours, trainee and project count in that day's year.
        today = clock.today()
        spans = [(start, max(min(end, today), start)) for _base, start, end, _category in plan]

        def completed_on(course: int, n: int) -> date:
            start, last = spans[course]
            return start + timedelta(days=n % ((last - start).days + 1))

        enrollments = _write(
            cursor, "enrollment", ("id", "course_id", "learner_id", "status", "completed_at", "completed_on", "rating"),
            ((first_enrollment + n, first_course + course, learner, "completed" if done else "confirmed",
              stamp if done else None, day(completed_on(course, n)) if done else None,
              (n % 5) + 1 if done and n % 7 == 0 else None)
             for n, (course, learner, done) in enumerate(zip(courses, learners, completed, strict=True))),
            {"source": "online", "created_at": stamp, "confirmed_at": stamp})
        # The ledger: one credit per completion, the course's hours in its category, in its day's year.
        categories = [category.value for _base, _start, _end, category in plan]
        ledger = _write(
            cursor, "hours_record", ("learner_id", "year", "earned_on", "category", "course_id", "enrollment_id"),
            ((learner, completed_on(course, n).year, day(completed_on(course, n)), categories[course],
              first_course + course, first_enrollment + n)
             for n, (course, learner, done) in enumerate(zip(courses, learners, completed, strict=True)) if done),
            {"hours": COURSE_HOURS, "source": HoursSource.COURSE.value, "note": "", "created_at": stamp})
    if postgres:
        # Rows were written with explicit ids: move the sequences past them.
        for table in ("user", "course", "enrollment"):
            # bandit B608: three fixed table names.
            move = f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), (SELECT max(id) FROM \"{table}\"))"  # nosec B608
            cursor.execute(move)
    return {"bases": len(bases), "courses": len(plan), "learners": tier.learners, "enrollments": enrollments,
            "hours_records": ledger, "boundary_bases": [b.name for b in boundary]}

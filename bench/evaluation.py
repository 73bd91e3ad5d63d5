"""Benchmark: the annual evaluation of a province against one raw SQL GROUP BY over the same data.

Generates (bulk inserts) a province: BENCH_BASES bases, 10 courses each ending this year, and
BENCH_COMPLETIONS completed enrollments spread with a skew over the bases; then times
services.evaluation.compute() and a bare `COUNT(DISTINCT learner) GROUP BY base` query, side by side,
several times each, and prints the medians and their ratio. SQLite by default; DATABASE_URL for PostgreSQL.
"""

import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.roster_import import _config  # noqa: E402
from extensions import db  # noqa: E402
from models import (  # noqa: E402
    BaseType,
    Category,
    Course,
    CourseStatus,
    Enrollment,
    EnrollmentStatus,
    Mode,
    Region,
    RegionLevel,
    Role,
    TrainingBase,
    User,
)
from services import clock, evaluation  # noqa: E402

BASES = int(os.environ.get("BENCH_BASES", "300"))
COMPLETIONS = int(os.environ.get("BENCH_COMPLETIONS", "1000000"))
LEARNERS = max(COMPLETIONS // 3, 1)
REPEATS = 5
RAW = """
SELECT course.base_id, COUNT(DISTINCT enrollment.learner_id)
FROM enrollment JOIN course ON course.id = enrollment.course_id
WHERE enrollment.status = 'completed' AND course.end_date BETWEEN :start AND :end
GROUP BY course.base_id
"""


def _generate(year: int) -> int:
    rng = random.Random(20261122)
    province = Region(code="379900", name="基准省", level=RegionLevel.PROVINCE)
    city = Region(code="379901", name="基准市", level=RegionLevel.CITY, parent=province)
    db.session.add_all([province, city])
    db.session.flush()
    types = [BaseType.PROVINCIAL, BaseType.RURAL_REVITALIZATION, BaseType.CITY]
    db.session.execute(sa.insert(TrainingBase), [
        {"name": f"基准基地{n}", "type": types[n % 3], "status": "active", "region_id": city.id, "website": "",
         "address": "", "contact_person": "", "contact_phone": "", "scope": "x", "content": "", "fee_items": "",
         "training_plan": "", "staff": "", "rules": "", "created_at": date(year, 1, 1)}
        for n in range(BASES)
    ])
    base_ids = db.session.execute(sa.select(TrainingBase.id).where(TrainingBase.region_id == city.id)).scalars().all()
    day = date(year, 6, 30)
    db.session.execute(sa.insert(Course), [
        {"base_id": base_id, "title": f"课程{base_id}-{k}", "description": "", "category": Category.PROFESSIONAL,
         "field": "卫生", "hours": 8, "start_date": day, "end_date": day, "mode": Mode.ONLINE, "place": "",
         "audience": "", "capacity": None, "seats_taken": 0, "fee": 0, "fee_standard": "", "contact_person": "",
         "contact_phone": "", "open_to_city": True, "status": CourseStatus.PUBLISHED, "cancel_reason": "",
         "search_tokens": "", "project_type": "job_training"}
        for base_id in base_ids for k in range(10)
    ])
    course_ids = db.session.execute(sa.select(Course.id).order_by(Course.id)).scalars().all()
    token = secrets.token_hex(4)
    for start in range(0, LEARNERS, 50_000):
        db.session.execute(sa.insert(User), [
            {"name": f"学员{n}", "phone": f"1{n:010d}", "password_hash": "x", "role": Role.LEARNER,
             "region_id": city.id, "active": True, "session_token": token}
            for n in range(start, min(start + 50_000, LEARNERS))
        ])
    first_learner = db.session.scalar(sa.select(sa.func.min(User.id)).where(User.session_token == token))
    # A few large bases, many small: course choice follows a Pareto-like weighting.
    weights = [1 / (1 + i) ** 0.8 for i in range(len(course_ids))]
    chosen = rng.choices(course_ids, weights=weights, k=COMPLETIONS)
    seen = set()
    batch = []
    for n, course_id in enumerate(chosen):
        learner = first_learner + (n * 7919) % LEARNERS
        if (course_id, learner) in seen:
            continue
        seen.add((course_id, learner))
        batch.append({"course_id": course_id, "learner_id": learner, "status": EnrollmentStatus.COMPLETED,
                      "source": "online", "rating_comment": ""})
        if len(batch) == 50_000:
            db.session.execute(sa.insert(Enrollment), batch)
            batch = []
    if batch:
        db.session.execute(sa.insert(Enrollment), batch)
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("ANALYZE"))
    else:
        db.session.execute(sa.text("ANALYZE"))
    return province.id


def _median(fn) -> float:
    times = []
    for _ in range(REPEATS):
        began = time.perf_counter()
        fn()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> None:
    import flask_migrate

    from app import create_app

    year = clock.today().year
    with tempfile.TemporaryDirectory() as tmp:
        config = _config(Path(tmp))
        schema = config.pop("_schema", None)
        app = create_app(config)
        with app.app_context():
            flask_migrate.upgrade()
            began = time.perf_counter()
            province_id = _generate(year)
            generated = time.perf_counter() - began
            completions = db.session.scalar(sa.select(sa.func.count(Enrollment.id)))
            params = {"start": date(year, 1, 1), "end": date(year, 12, 31)}
            raw = _median(lambda: db.session.execute(sa.text(RAW), params).all())
            full = _median(lambda: evaluation.compute(year, province_id))
            results = evaluation.compute(year, province_id)
            db.session.remove()
            if schema:
                with db.engine.begin() as conn:
                    conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
            db.engine.dispose()
    dialect = "PostgreSQL" if schema else "SQLite"
    print(f"\nAnnual evaluation ({dialect}): {len(results)} bases, {completions:,} completions "
          f"(generated in {generated:.1f} s); medians of {REPEATS} runs")
    print("| what | seconds |")
    print("|---|---:|")
    print(f"| raw COUNT(DISTINCT) GROUP BY | {raw:.3f} |")
    print(f"| evaluation.compute (all figures, scores, outcomes) | {full:.3f} |")
    print(f"| ratio | {full / raw:.2f} |")


if __name__ == "__main__":
    main()

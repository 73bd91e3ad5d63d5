"""R4/R5: the annual evaluation of a generated province against one raw SQL GROUP BY over the same data,
side by side in one process, alternating, and its query count. `bench/run.py` calls measure() for each
tier; run alone (BENCH_TIER=1x|10x, DATABASE_URL for PostgreSQL) it prints just these figures.
"""

import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import Database, fmt  # noqa: E402
from extensions import db  # noqa: E402
from models import Region  # noqa: E402
from seeding import benchdata
from seeding.demo import seed_reference  # noqa: E402
from services import evaluation  # noqa: E402
from services.infra import clock
from tests.conftest import count_queries  # noqa: E402

RAW = """
SELECT course.base_id, COUNT(DISTINCT enrollment.learner_id)
FROM enrollment JOIN course ON course.id = enrollment.course_id
WHERE enrollment.status = 'completed' AND course.end_date BETWEEN :start AND :end
GROUP BY course.base_id
"""


def settle(postgresql: bool) -> None:
    """Bring the freshly loaded tables to the state a running database keeps them in, for both sides alike.

    SQLite: ANALYZE in a transaction that commits (the app's BEGIN hook wraps any statement in one, so an
    "autocommit" ANALYZE was rolled back and the planner ran without statistics). PostgreSQL: VACUUM ANALYZE
    of this schema's tables, as autovacuum does after a bulk insert: statistics, and the visibility map
    without which an index-only scan still reads every row from the table.
    """
    if not postgresql:
        with db.engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))
        return
    with db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in db.metadata.tables:
            conn.execute(sa.text(f'VACUUM ANALYZE "{table}"'))


def measure(year: int, province_id: int, repeats: int = 5) -> dict:
    """Time the raw GROUP BY and evaluation.compute() alternately (drift hits both sides alike); the
    medians, the per-run ratios, the bases evaluated and compute()'s query count. In an app context."""
    params = {"start": date(year, 1, 1), "end": date(year, 12, 31)}
    raw, full = [], []
    for _ in range(repeats):
        began = time.perf_counter()
        db.session.execute(sa.text(RAW), params).all()
        raw.append(time.perf_counter() - began)
        began = time.perf_counter()
        results = evaluation.compute(year, province_id)
        full.append(time.perf_counter() - began)
    with count_queries(db.engine) as statements:
        evaluation.compute(year, province_id)
    db.session.rollback()
    return {"raw": statistics.median(raw), "evaluation": statistics.median(full), "bases": len(results),
            "ratios": [f / r for f, r in zip(full, raw, strict=True)], "queries": len(statements)}


def main() -> None:
    import flask_migrate

    from app import create_app

    tier = os.environ.get("BENCH_TIER", "1x")
    with tempfile.TemporaryDirectory() as tmp, Database(Path(tmp)) as database:
        app = create_app(database.config())
        with app.app_context():
            flask_migrate.upgrade()
            seed_reference()
            benchdata.generate(tier)
            settle(bool(database.schema))
            province = db.session.scalar(sa.select(Region.id).where(Region.code == benchdata.PROVINCE_CODE))
            found = measure(clock.today().year, province)
            db.session.remove()
            db.engine.dispose()
    print(f"\nAnnual evaluation ({database.dialect}, tier {tier}): {found['bases']} bases; raw GROUP BY "
          f"{found['raw']:.3f} s, evaluation {found['evaluation']:.3f} s, R4 {fmt(found['ratios'])}, "
          f"{found['queries']} queries")


if __name__ == "__main__":
    main()

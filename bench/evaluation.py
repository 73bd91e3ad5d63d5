"""Benchmark R4/R5: the annual evaluation of a generated province against one raw SQL GROUP BY over the
same data, side by side in one process, alternating, medians of several runs, and its query count.

The data comes from `services.benchdata` (BENCH_TIER=1x by default, or 10x). SQLite by default;
DATABASE_URL for PostgreSQL, in a private schema dropped afterwards.
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

from bench.roster_import import _config  # noqa: E402
from extensions import db  # noqa: E402
from models import Enrollment, Region  # noqa: E402
from services import benchdata, clock, evaluation  # noqa: E402
from services.demo import seed_reference  # noqa: E402
from tests.conftest import count_queries  # noqa: E402

TIER = os.environ.get("BENCH_TIER", "1x")
REPEATS = 5
RAW = """
SELECT course.base_id, COUNT(DISTINCT enrollment.learner_id)
FROM enrollment JOIN course ON course.id = enrollment.course_id
WHERE enrollment.status = 'completed' AND course.end_date BETWEEN :start AND :end
GROUP BY course.base_id
"""


def _settle(postgresql: bool) -> None:
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
            seed_reference()
            benchdata.generate(TIER)
            generated = time.perf_counter() - began
            _settle(bool(schema))
            province = db.session.scalar(sa.select(Region.id).where(Region.code == benchdata.PROVINCE_CODE))
            completions = db.session.scalar(
                sa.select(sa.func.count(Enrollment.id)).where(Enrollment.status == "completed"))
            params = {"start": date(year, 1, 1), "end": date(year, 12, 31)}
            raw, full = [], []
            for _ in range(REPEATS):  # alternating, so drift hits both sides alike
                began = time.perf_counter()
                db.session.execute(sa.text(RAW), params).all()
                raw.append(time.perf_counter() - began)
                began = time.perf_counter()
                results = evaluation.compute(year, province)
                full.append(time.perf_counter() - began)
            with count_queries(db.engine) as statements:
                evaluation.compute(year, province)
            db.session.remove()
            if schema:
                with db.engine.begin() as conn:
                    conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
            db.engine.dispose()
    dialect = "PostgreSQL" if schema else "SQLite"
    ratios = [f / r for f, r in zip(full, raw, strict=True)]
    print(f"\nAnnual evaluation ({dialect}, tier {TIER}): {len(results)} bases, {completions:,} completions "
          f"(generated in {generated:.1f} s); medians of {REPEATS} alternating runs")
    print("| what | seconds |")
    print("|---|---:|")
    print(f"| raw COUNT(DISTINCT) GROUP BY | {statistics.median(raw):.3f} |")
    print(f"| evaluation.compute (all figures, scores, outcomes) | {statistics.median(full):.3f} |")
    print(f"| R4 ratio, median (range) | {statistics.median(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f}) |")
    print(f"| queries | {len(statements)} |")


if __name__ == "__main__":
    main()

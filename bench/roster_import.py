"""Benchmark: importing a 10,000-row completion roster (CSV and XLSX) into one course.

Run with `make bench` (SQLite in a temporary folder) or with DATABASE_URL set for PostgreSQL, where it
works in a private schema that it drops afterwards. Prints the rows, the seconds and the rows per second.
"""

import csv
import io
import os
import sys
import tempfile
import time
from pathlib import Path

from openpyxl import Workbook

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import flask_migrate  # noqa: E402

from app import create_app  # noqa: E402
from bench.common import Database, base_with_courses, insert_learners  # noqa: E402
from extensions import db  # noqa: E402
from models import (  # noqa: E402
    Course,
    User,
)
from services import roster  # noqa: E402

ROWS = int(os.environ.get("BENCH_ROSTER_ROWS", "10000"))


def _setup(n: int) -> tuple[User, list[Course], list[tuple[str, str]]]:
    admin, base, courses = base_with_courses(2)
    learners = [(name, phone) for name, phone, _number in insert_learners(base.region_id, n)]
    return admin, courses, learners


def _csv(learners) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["姓名", "手机号", "学时"])
    writer.writerows((name, phone, "") for name, phone in learners)
    return out.getvalue().encode("utf-8")


def _xlsx(learners) -> bytes:
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(["姓名", "手机号", "学时"])
    for name, phone in learners:
        sheet.append([name, phone, 16])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, Database(Path(tmp)) as database:
        app = create_app(database.config())
        results = []
        with app.app_context():
            flask_migrate.upgrade()
            admin, courses, learners = _setup(ROWS)
            for label, data, course in (("CSV", _csv(learners), courses[0]), ("XLSX", _xlsx(learners), courses[1])):
                began = time.perf_counter()
                report = roster.import_completions(admin, course, data)
                seconds = time.perf_counter() - began
                assert report.completed == ROWS, report.errors[:5]
                results.append((label, ROWS, seconds))
            db.session.remove()
            db.engine.dispose()
    print(f"\nRoster import ({database.dialect})")
    print("| file | rows | seconds | rows/s |")
    print("|---|---:|---:|---:|")
    for label, rows, seconds in results:
        print(f"| {label} | {rows} | {seconds:.2f} | {rows / seconds:,.0f} |")


if __name__ == "__main__":
    main()

"""Benchmark: importing a 10,000-row completion roster (CSV and XLSX) into one course.

Run with `make bench` (SQLite in a temporary folder) or with DATABASE_URL set for PostgreSQL, where it
works in a private schema that it drops afterwards. Prints the rows, the seconds and the rows per second.
"""

import csv
import io
import os
import secrets
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from openpyxl import Workbook
from werkzeug.security import generate_password_hash

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import flask_migrate  # noqa: E402

from app import create_app  # noqa: E402
from bench.common import Database  # noqa: E402
from extensions import db  # noqa: E402
from models import (  # noqa: E402
    BaseType,
    Category,
    Course,
    CourseStatus,
    Mode,
    Region,
    RegionLevel,
    Role,
    TrainingBase,
    User,
)
from services import clock, roster  # noqa: E402

ROWS = int(os.environ.get("BENCH_ROSTER_ROWS", "10000"))


def _setup(n: int) -> tuple[User, list[Course], list[tuple[str, str]]]:
    region = Region(code="519999", name="基准市", level=RegionLevel.CITY)
    base = TrainingBase(name="基准测试基地", type=BaseType.CITY, region=region)
    admin = User(name="管理员", email="bench-admin@example.com", role=Role.BASE_ADMIN, password_hash="x")
    start = clock.today() - timedelta(days=2)
    courses = [
        Course(base=base, title=f"基准课程{k}", category=Category.PROFESSIONAL, field="卫生", hours=16,
               start_date=start, end_date=start + timedelta(days=1), mode=Mode.OFFLINE, place="教室",
               audience="护士", capacity=None, status=CourseStatus.PUBLISHED, search_tokens="",
               plan_status="approved")
        for k in range(2)
    ]
    db.session.add_all([region, base, admin, *courses])
    db.session.flush()
    password_hash = generate_password_hash("bench", method="pbkdf2:sha256:1")
    learners = [(f"学员{i}", f"13{i:09d}") for i in range(n)]
    db.session.execute(sa.insert(User), [
        {"name": name, "phone": phone, "password_hash": password_hash, "role": Role.LEARNER,
         "region_id": region.id, "active": True, "session_token": secrets.token_hex(8)}
        for name, phone in learners
    ])
    db.session.commit()
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

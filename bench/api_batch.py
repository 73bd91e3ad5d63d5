"""Benchmark: one POST /api/v1/base/completions of 10,000 completions, over HTTP to gunicorn, then the
same batch again (which must record nothing). Half the learners are named by phone, half by ID number.

Run with `make bench-api` (SQLite in a temporary folder) or with DATABASE_URL set for PostgreSQL (a
private schema, dropped afterwards). Prints the body size, the seconds of each call and what it recorded.
"""

import json
import os
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import flask_migrate  # noqa: E402

from app import create_app  # noqa: E402
from bench.common import Database, Gunicorn, base_with_courses, insert_learners  # noqa: E402
from extensions import db  # noqa: E402
from models import (  # noqa: E402
    HoursRecord,
    Mode,
)
from services import api_tokens  # noqa: E402
from services.infra import clock  # noqa: E402

ITEMS = int(os.environ.get("BENCH_API_ITEMS", "10000"))
COURSES = 4


def _setup(n: int) -> tuple[str, dict]:
    """A base with a token, its running courses and ``n`` registered learners; the secret and the batch."""
    admin, base, courses = base_with_courses(COURSES, end_date=clock.today() + timedelta(days=3), mode=Mode.SELF_PACED,
                                             place="线上", plan_status=None)
    items = [
        {"external_id": f"bench-{k:06d}", "course_id": courses[k % COURSES].id, "name": name,
         "completed_on": clock.today().isoformat(), **({"phone": phone} if k % 2 else {"id_number": number})}
        for k, (name, phone, number) in enumerate(insert_learners(base.region_id, n, with_id_numbers=True))
    ]
    _token, secret = api_tokens.create_token(admin, base, "基准")
    return secret, {"completions": items}


def _post(url: str, secret: str, body: bytes) -> tuple[float, int, dict]:
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Authorization": f"Bearer {secret}", "Content-Type": "application/json"})
    began = time.perf_counter()
    with urllib.request.urlopen(request, timeout=300) as response:  # noqa: S310 (a local URL)
        answer = json.loads(response.read())
        return time.perf_counter() - began, response.status, answer


def measure(database: Database, items: int = ITEMS) -> dict:
    """One batch of ``items`` completions over HTTP to gunicorn on ``database`` (entered; migrated here if it
    is not; its bench base and learners made here, so once per database), then the same batch again: the
    seconds, status and counts of each call, the hours records of the batch's courses afterwards, and the
    body's size in bytes. main() prints it; bench/run.py puts it in its table (R9)."""
    app = create_app(database.config())
    with app.app_context():
        flask_migrate.upgrade()
        secret, batch = _setup(items)
        db.session.remove()
        db.engine.dispose()
    body = json.dumps(batch, ensure_ascii=False).encode()
    env = database.env(API_RATE_LIMIT_PER_TOKEN="1000 per minute")
    with Gunicorn(env, database.folder / "gunicorn-api.log") as server:
        url = server.base + "/api/v1/base/completions"
        first = _post(url, secret, body)
        again = _post(url, secret, body)
    with app.app_context():
        courses = {item["course_id"] for item in batch["completions"]}
        credited = db.session.scalar(sa.select(sa.func.count(HoursRecord.id)).where(HoursRecord.course_id.in_(courses)))
        db.session.remove()
        db.engine.dispose()
    calls = {}
    for label, (seconds, status, answer) in (("first", first), ("again", again)):
        calls[label] = {"seconds": seconds, "status": status, "recorded": answer["recorded"],
                        "already_recorded": answer["already_recorded"]}
    return {"items": items, "body_bytes": len(body), "first": calls["first"], "again": calls["again"],
            "credited": credited}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, Database(Path(tmp)) as database:
        found = measure(database)
    print(f"\nCompletion batch over the API ({database.dialect}, gunicorn, {found['items']} items, "
          f"{found['body_bytes'] / 2**20:.1f} MB body)")
    print("| call | status | seconds | recorded | already recorded |")
    print("|---|---:|---:|---:|---:|")
    for label, key in (("first", "first"), ("same batch again", "again")):
        call = found[key]
        print(f"| {label} | {call['status']} | {call['seconds']:.2f} | {call['recorded']} "
              f"| {call['already_recorded']} |")
    print(f"Hours records in the database afterwards: {found['credited']}")
    assert found["first"]["recorded"] == found["items"] and found["again"]["recorded"] == 0
    assert found["credited"] == found["items"]


if __name__ == "__main__":
    main()

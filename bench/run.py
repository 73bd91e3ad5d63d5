"""`make bench`: issue 6's figures R1–R8 in one run, printed as one table and written into
docs/PERFORMANCE.md (its section for the database measured).

For each tier (BENCH_TIERS, default "1x,10x"): a scratch database (SQLite; a private PostgreSQL schema
when DATABASE_URL is set), the generated data, the query counts and the annual evaluation in this process,
then the real app under gunicorn (2 workers, --no-control-socket) and wrk. Every ratio is the median of
BENCH_ROUNDS interleaved rounds (its two sides measured back to back), with its range. The enrollment
load (R6) and its racy canary run on the first tier.
"""

import os
import re
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import flask_migrate  # noqa: E402
from flask import session  # noqa: E402
from flask_login import login_user  # noqa: E402
from flask_wtf.csrf import generate_csrf  # noqa: E402

from app import create_app  # noqa: E402
from bench import evaluation as evaluation_bench  # noqa: E402
from bench.common import ROOT, Database, Gunicorn, fmt, machine, wrk  # noqa: E402
from extensions import db  # noqa: E402
from models import (  # noqa: E402
    BaseMembership,
    Category,
    Course,
    CourseStatus,
    Enrollment,
    EnrollmentStatus,
    Mode,
    Region,
    Role,
    TrainingBase,
    User,
)
from seeding import benchdata
from seeding.demo import seed_reference  # noqa: E402
from services.infra import clock  # noqa: E402
from tests.conftest import IsolatedClient, page_queries  # noqa: E402

TIERS = os.environ.get("BENCH_TIERS", "1x,10x").split(",")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "3"))
DEEP = int(os.environ.get("BENCH_DEEP", "50"))  # the deep catalog page of R8
POPULAR, SEATS, LEARNERS = 20, 50, 4000  # R6: courses, seats in each, learners pressing enroll
CANARIES = 5  # courses the racy enrollment is run on
ENROLL_CONNECTIONS = 64
LUA = Path(__file__).with_name("enroll.lua")
DOC = ROOT / "docs" / "PERFORMANCE.md"


def _signed_in(app, user):
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["_user_id"] = user.get_id()
        sess["_fresh"] = True
    return client


def _next_link(html: str) -> str:
    return re.search(r'rel="next" href="([^"#]+)"', html).group(1).replace("&amp;", "&")


def prepare(app, tier: str) -> dict:
    """Migrate, generate the tier, add what the signed-in pages need; the paths every figure uses."""
    with app.app_context():
        flask_migrate.upgrade()
        began = time.perf_counter()
        seed_reference()
        written = benchdata.generate(tier)
        generated = time.perf_counter() - began
        evaluation_bench.settle(db.engine.dialect.name == "postgresql")
        # The largest base gets an admin; its busiest course of the year is the roster page's.
        course_id, base_id = db.session.execute(
            sa.select(Course.id, Course.base_id).join(Enrollment, Enrollment.course_id == Course.id)
            .group_by(Course.id, Course.base_id).order_by(sa.func.count(Enrollment.id).desc()).limit(1)).one()
        admin = User(name="基准管理员", email="bench-admin@example.com", role=Role.BASE_ADMIN, password_hash="x")
        db.session.add(admin)
        db.session.flush()
        db.session.add(BaseMembership(user_id=admin.id, base_id=base_id))
        learner_id = db.session.scalar(
            sa.select(Enrollment.learner_id).group_by(Enrollment.learner_id)
            .order_by(sa.func.count(Enrollment.id).desc()).limit(1))
        db.session.commit()
        public = "/courses?include_past=y"
        client = app.test_client()
        html = client.get(public).text
        deep = public
        for _ in range(DEEP - 1):
            deep = _next_link(html)
            html = client.get(deep).text
        assert f"第 {DEEP} / " in html, "the deep page is not there"
        return {"generated": generated, "written": written, "admin": admin.id, "learner": learner_id,
                "paths": {"catalog": public, "search": public + "&q=" + quote("护理"), "deep": deep,
                          "course": f"/courses/{course_id}", "dashboard": "/me/",
                          "roster": f"/manage/bases/{base_id}/courses/{course_id}/roster",
                          "compliance": f"/manage/bases/{base_id}/compliance"}}


def query_counts(app, setup: dict) -> dict:
    """R3: SQL statements per page, counted in this process with the identity map empty."""
    paths = setup["paths"]
    app.test_client_class = IsolatedClient  # each request in its own app context, as in production
    with app.app_context():
        admin, learner = db.session.get(User, setup["admin"]), db.session.get(User, setup["learner"])
        anonymous, as_admin, as_learner = app.test_client(), _signed_in(app, admin), _signed_in(app, learner)
        clients = {"dashboard": as_learner, "roster": as_admin, "compliance": as_admin}
        return {name: len(page_queries(clients.get(name, anonymous), paths[name]))
                for name in ("catalog", "search", "deep", "course", "dashboard", "roster", "compliance")}


def evaluation_figures(app, tier: str) -> dict:
    """R4/R5: the evaluation against one raw GROUP BY, alternating, in this process."""
    with app.app_context():
        province = db.session.scalar(sa.select(Region.id).where(Region.code == benchdata.PROVINCE_CODE))
        return evaluation_bench.measure(clock.today().year, province, repeats=5 if tier == "1x" else 3)


def popular_courses(app) -> tuple[list[int], list[int], Path]:
    """R6's stage: 2 × POPULAR fresh courses of SEATS seats at the largest base (the first POPULAR for the
    enrollment, the others for the write floor: returned together, so that the correctness check counts
    both), CANARIES courses of 10 to 14 seats for the canary, and LEARNERS generated learners signed in
    (session cookie, CSRF token and id written to a file)."""
    with app.app_context():
        base = db.session.scalar(sa.select(TrainingBase).order_by(TrainingBase.id).limit(1))
        start = clock.today() + timedelta(days=30)
        courses = [Course(base_id=base.id, title=f"热门课程{n}", category=Category.PROFESSIONAL, field="卫生",
                          hours=8, start_date=start, end_date=start, mode=Mode.SELF_PACED, capacity=SEATS,
                          status=CourseStatus.PUBLISHED, plan_status="approved", search_tokens="")
                   for n in range(2 * POPULAR + CANARIES)]
        for n, course in enumerate(courses[2 * POPULAR:]):
            course.capacity = 10 + n
        db.session.add_all(courses)
        learners = db.session.scalars(sa.select(User).where(User.role == Role.LEARNER).order_by(User.id)
                                      .limit(LEARNERS)).all()
        db.session.commit()
        ids = [c.id for c in courses]
        serializer = app.session_interface.get_signing_serializer(app)
        lines = []
        for learner in learners:
            with app.app_context(), app.test_request_context():  # a fresh g: the CSRF token is cached there
                login_user(learner)
                token = generate_csrf()
                lines.append(f"{serializer.dumps(dict(session))}\t{token}\t{learner.id}")
        sessions = Path(app.config["UPLOAD_FOLDER"]).parent / "sessions.tsv"
        sessions.write_text("\n".join(lines) + "\n")
    return ids[:2 * POPULAR], ids[2 * POPULAR:], sessions


def enrollment_correctness(app, course_ids: list[int]) -> dict:
    """Overbooked courses, seat counters that disagree with the rows, duplicate live enrollments."""
    with app.app_context():
        per_course = db.session.execute(
            sa.select(Course.id, Course.capacity, Course.seats_taken,
                      sa.func.count(Enrollment.id).filter(Enrollment.status == EnrollmentStatus.CONFIRMED),
                      sa.func.count(Enrollment.id))
            .outerjoin(Enrollment, Enrollment.course_id == Course.id)
            .where(Course.id.in_(course_ids)).group_by(Course.id, Course.capacity, Course.seats_taken)).all()
        pairs = (sa.select(Enrollment.course_id, Enrollment.learner_id)
                 .where(Enrollment.course_id.in_(course_ids), Enrollment.status != EnrollmentStatus.CANCELLED)
                 .group_by(Enrollment.course_id, Enrollment.learner_id).having(sa.func.count() > 1).subquery())
        duplicates = db.session.scalar(sa.select(sa.func.count()).select_from(pairs))
    return {"overbooked": sum(1 for _id, cap, _t, confirmed, _n in per_course if confirmed > cap),
            "counter_mismatch": sum(1 for _id, _cap, taken, confirmed, _n in per_course if taken != confirmed),
            "duplicates": duplicates, "rows": sum(n for *_rest, n in per_course),
            "confirmed": sum(c for *_rest, c, _n in per_course)}


def run_tier(tier: str, folder: Path, stage_enrollment: bool) -> dict:
    with Database(folder, tier) as database:
        app = create_app(database.config())
        setup = prepare(app, tier)
        result = {"tier": tier, "dialect": database.dialect, "machine": machine(database),
                  "generated": setup["generated"], "written": setup["written"]}
        result["queries"] = query_counts(app, setup)
        result["evaluation"] = evaluation_figures(app, tier)
        paths = setup["paths"]
        floor_file = folder / f"floor-{tier}.html"
        with app.app_context():
            floor_file.write_bytes(app.test_client().get(paths["catalog"]).data)
        if stage_enrollment:
            popular, canary, sessions = popular_courses(app)
        with app.app_context():
            db.engine.dispose()
        env = database.env(BENCH_FLOOR_FILE=str(floor_file))
        cached_log, live_log = folder / f"gunicorn-cached-{tier}.log", folder / f"gunicorn-live-{tier}.log"
        with Gunicorn({**env, "PAGE_CACHE_SECONDS": "60"}, cached_log) as cached, \
                Gunicorn({**env, "PAGE_CACHE_SECONDS": "0"}, live_log) as live:
            rounds = []
            for _ in range(ROUNDS):  # interleaved: each ratio's two sides measured back to back
                floor = wrk(cached.base + "/__floor__", SECONDS)
                rounds.append({
                    "floor": floor,
                    "cached": wrk(cached.base + paths["catalog"], SECONDS),
                    "catalog": wrk(live.base + paths["catalog"], SECONDS),
                    "search": wrk(live.base + paths["search"], SECONDS),
                    "deep": wrk(live.base + paths["deep"], SECONDS),
                })
            result["http"] = rounds
            if stage_enrollment:
                result["enroll"] = enrollment_load(live, popular, canary, sessions)
        for log in (cached_log, live_log):
            text = log.read_text()
            result.setdefault("server_errors", 0)
            result["server_errors"] += text.count("Traceback") + text.count("database is locked")
        if stage_enrollment:
            app = create_app(database.config())
            result["enroll"]["correct"] = enrollment_correctness(app, popular)
            result["enroll"]["canary"] = enrollment_correctness(app, canary)
            with app.app_context():
                db.engine.dispose()
        return result


def enrollment_load(server: Gunicorn, popular: list[int], canary: list[int], sessions: Path) -> dict:
    """R6: enroll requests on the first POPULAR of ``popular`` under 64 connections, against the write floor
    (bench/wsgi.py: the same UPDATE, INSERT and COMMIT, nothing else) on the others at 64, back to back."""
    enrolled, floored = popular[:POPULAR], popular[POPULAR:]
    # A second of each first, not counted: the workers' first enrollments load what the pages before did not
    # (the flash's translations, the year note's template), and put the first round at half the others.
    warm_floor = wrk(server.base + "/", 1, ENROLL_CONNECTIONS, LUA,
                     [sessions, "/__write_floor__/%d", 0, "field", *floored])
    warm = wrk(server.base + "/", 1, ENROLL_CONNECTIONS, LUA,
               [sessions, "/me/courses/%d/enroll", 0, "session", *enrolled])
    rounds, first, first_floor = [], warm["requests"] + 1000, warm_floor["requests"] + 1000
    for _ in range(ROUNDS):
        floor = wrk(server.base + "/", SECONDS, ENROLL_CONNECTIONS, LUA,
                    [sessions, "/__write_floor__/%d", first_floor, "field", *floored])
        first_floor += floor["requests"] + 1000
        load = wrk(server.base + "/", SECONDS, ENROLL_CONNECTIONS, LUA,
                   [sessions, "/me/courses/%d/enroll", first, "session", *enrolled])
        first += load["requests"] + 1000
        rounds.append({"floor": floor, "load": load})
    # One course at a time: two workers must race for the same course's last seat.
    canary_runs = [wrk(server.base + "/", 1, ENROLL_CONNECTIONS, LUA,
                       [sessions, "/__racy__/%d", 0, "session", course]) for course in canary]
    return {"rounds": rounds, "canary_runs": canary_runs}


def table(results: list[dict]) -> str:
    one = results[0]
    by_tier = {r["tier"]: r for r in results}

    def ratios(result, top, bottom, key="rps"):
        return [r[top][key] / r[bottom][key] for r in result["http"]]

    lines = [f"Machine: {one['machine']}.", "",
             "| figure | " + " | ".join(by_tier) + " | target |",
             "|---|" + "---|" * len(by_tier) + "---|"]

    def row(name, values, target):
        lines.append(f"| {name} | " + " | ".join(values) + f" | {target} |")

    row("data generated (s)", [f"{r['generated']:.1f}" for r in results], "seconds")
    row("R1 catalog ÷ pre-rendered floor, requests/s (page cache hit)",
        [fmt(ratios(r, "cached", "floor")) for r in results], "≥ 0.5")
    row("R1′ the same without the page cache (rendered every time)",
        [fmt(ratios(r, "catalog", "floor")) for r in results], "—")
    if "1x" in by_tier and "10x" in by_tier:
        # Normalised by each run's floor, so that drift between the two tiers' runs cancels.
        for label, side in (("page cache hit", "cached"), ("rendered", "catalog")):
            low = statistics.median(ratios(by_tier["1x"], side, "floor"))
            high = ratios(by_tier["10x"], side, "floor")
            row(f"R2 catalog throughput 10× ÷ 1× ({label}; each ÷ its floor)",
                ["", fmt([h / low for h in high])], "≥ 0.95")
    for page in ("catalog", "search", "deep", "course", "dashboard", "roster", "compliance"):
        label = {"deep": f"page {DEEP}"}.get(page, page)
        row(f"R3 SQL queries: {label}", [str(r["queries"][page]) for r in results], "≤ 4, constant")
    row("R4 evaluation ÷ raw COUNT(DISTINCT) GROUP BY", [fmt(r["evaluation"]["ratios"]) for r in results], "≤ 1.5")
    row("evaluation seconds (raw GROUP BY seconds)",
        [f"{r['evaluation']['evaluation']:.3f} ({r['evaluation']['raw']:.3f})" for r in results], "—")
    if "1x" in by_tier and "10x" in by_tier:
        import math

        exponent = math.log10(by_tier["10x"]["evaluation"]["evaluation"] / by_tier["1x"]["evaluation"]["evaluation"])
        raw = math.log10(by_tier["10x"]["evaluation"]["raw"] / by_tier["1x"]["evaluation"]["raw"])
        row("R5 evaluation scaling exponent 1× → 10× (raw query's)", ["", f"{exponent:.2f} ({raw:.2f})"], "≤ 1.1")
    row("R5 evaluation queries", [str(r["evaluation"]["queries"]) for r in results], "≤ 5")
    for r in results:
        if "enroll" not in r:
            continue
        e = r["enroll"]
        values = [x["load"]["rps"] / x["floor"]["rps"] for x in e["rounds"]]
        sides = [x[side] for x in e["rounds"] for side in ("load", "floor")]
        fivexx = sum(x.get("status_5xx", 0) + x["socket_errors"] for x in sides)
        sent = sum(x["requests"] for x in sides)
        c = e["correct"]
        row(f"R6 enroll ÷ durable-write floor (UPDATE + INSERT + COMMIT in Core) at {ENROLL_CONNECTIONS} "
            f"connections, {POPULAR} courses × {SEATS} seats each ({r['tier']})",
            [fmt(values) if t == r["tier"] else "" for t in by_tier], "≥ 0.6")
        refused = sum(x.get("status_4xx", 0) for x in sides)
        row(f"R6 correctness, enrollment and floor together: requests, 4xx, rows, confirmed, overbooked "
            f"courses, seat counter ≠ rows, duplicates, 5xx + socket errors ({r['tier']})",
            [f"{sent}, {refused}, {c['rows']}, {c['confirmed']}, {c['overbooked']}, {c['counter_mismatch']}, "
             f"{c['duplicates']}, {fivexx}" if t == r["tier"] else "" for t in by_tier], "0 overbooked, 0, 0, 0")
        k = e["canary"]
        row(f"canary: naive check-then-insert on {CANARIES} courses of 10–14 seats: overbooked courses "
            f"({r['tier']})", [f"{k['overbooked']} of {CANARIES}" + ("" if k["overbooked"] else
                                " — the harness is blind") if t == r["tier"] else "" for t in by_tier], "≥ 1")
    row("R7 search (护理) ÷ catalog, requests/s (both rendered)",
        [fmt(ratios(r, "search", "catalog")) for r in results], "≥ 0.9")
    row(f"R8 page {DEEP} ÷ page 1, mean latency (rendered)",
        [fmt(ratios(r, "deep", "catalog", "latency_ms")) for r in results], "≤ 1.2")
    row("server tracebacks or 'database is locked' in the logs", [str(r["server_errors"]) for r in results], "0")
    return "\n".join(lines)


def write_doc(dialect: str, text: str) -> None:
    start, end = f"<!-- bench:{dialect.lower()}:start -->", f"<!-- bench:{dialect.lower()}:end -->"
    doc = DOC.read_text() if DOC.exists() else "# Performance\n"
    block = f"{start}\n{text}\n{end}"
    if start in doc and end in doc:
        doc = doc[:doc.index(start)] + block + doc[doc.index(end) + len(end):]
    else:
        doc = doc.rstrip("\n") + f"\n\n## `make bench` on {dialect}\n\n{block}\n"
    DOC.write_text(doc)


def main() -> None:
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        results = [run_tier(tier, Path(tmp), stage_enrollment=(n == 0)) for n, tier in enumerate(TIERS)]
    dialect = results[0]["dialect"]
    text = (f"Run of {date.today().isoformat()} on {dialect}, tiers {', '.join(TIERS)}; {ROUNDS} interleaved "
            f"rounds of {SECONDS} s per figure; medians (range). Whole run {time.perf_counter() - began:.0f} s.\n\n"
            + table(results))
    print("\n" + text)
    write_doc(dialect, text)
    print(f"\nwritten to {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

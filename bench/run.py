"""`make bench`: issues 6 and 20's figures (R1–R10 and the December rush) in one run, printed as one table
and written into docs/PERFORMANCE.md (its section for the database measured).

For each tier (BENCH_TIERS, default "1x,10x"): a scratch database (SQLite; a private PostgreSQL schema
when DATABASE_URL is set), the generated data, the query counts and the annual evaluation in this process,
then the real app under gunicorn (2 workers, --no-control-socket) and wrk, in two configurations: one app
server with the per-process page cache, and production's, two app servers sharing the page cache in Redis
(BENCH_REDIS_URL; BENCH_PRODUCTION=0 leaves it out). Every ratio is the median of BENCH_ROUNDS interleaved
rounds (its two sides measured back to back), with its range. On the first tier, in each configuration, the
enrollment load (R6) and its racy canary; in production's, the December rush (signed-in learners browsing,
enrolling and declaring at once, bench/december.lua). Then R9: 10,000 completions in one API call.
"""

import json
import math
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
from PIL import Image  # noqa: E402

from app import create_app  # noqa: E402
from bench import api_batch  # noqa: E402
from bench import evaluation as evaluation_bench  # noqa: E402
from bench.common import ROOT, Database, Servers, fmt, machine, wrk  # noqa: E402
from extensions import db  # noqa: E402
from models import (  # noqa: E402
    KIND_UNITS,
    BaseMembership,
    Category,
    Course,
    CourseStatus,
    Declaration,
    Employer,
    EmployerStatus,
    Enrollment,
    EnrollmentStatus,
    Mode,
    Region,
    Role,
    TrainingBase,
    User,
)
from seeding import benchdata  # noqa: E402
from seeding.demo import seed_reference  # noqa: E402
from services import declarations as declaration_service  # noqa: E402
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
DECEMBER_LUA = Path(__file__).with_name("december.lua")
DECEMBER_SECONDS = int(os.environ.get("BENCH_DECEMBER_SECONDS", "20"))
DECEMBER_CONNECTIONS = 64
DECEMBER_TIMEOUT = 10  # seconds: a slower answer is an error (a learner gives up), a faster one a latency
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
PRODUCTION = os.environ.get("BENCH_PRODUCTION", "1") != "0"
API = os.environ.get("BENCH_API", "1") != "0"  # R9
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# (label, app servers, page cache and job store in Redis)
CONFIGS = [("1 server", 1, False)] + ([("2 servers + Redis", 2, True)] if PRODUCTION else [])
DOC = ROOT / "docs" / "PERFORMANCE.md"
RESULTS = ROOT / "artifacts"


def _signed_in(app, user):
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["_user_id"] = user.get_id()
        sess["_fresh"] = True
    return client


def _session_line(app, user) -> str:
    """The user's signed session cookie and CSRF token, "cookie<TAB>token", as a browser holds them after
    signing in."""
    serializer = app.session_interface.get_signing_serializer(app)
    with app.app_context(), app.test_request_context():  # a fresh g: the CSRF token is cached there
        login_user(user)
        token = generate_csrf()
        return f"{serializer.dumps(dict(session))}\t{token}"


def _cookie(line: str) -> dict:
    return {"Cookie": "session=" + line.split("\t", 1)[0]}


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
        cookies = {"learner": _cookie(_session_line(app, db.session.get(User, learner_id))),
                   "admin": _cookie(_session_line(app, admin))}
        return {"generated": generated, "written": written, "admin": admin.id, "learner": learner_id,
                "cookies": cookies,
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
        sessions = Path(app.config["UPLOAD_FOLDER"]).parent / "sessions.tsv"
        if not sessions.exists():  # cookie, CSRF token and id of each learner (the write floor posts the id)
            sessions.write_text("".join(f"{_session_line(app, learner)}\t{learner.id}\n" for learner in learners))
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


def december_stage(app, folder: Path) -> dict:
    """The December rush's stage: the learners of the sessions file confirmed by one employer (declaring
    needs one), a small PNG as evidence, a kind and category their region accepts this year, and fresh
    courses to enroll in (popular_courses())."""
    with app.app_context():
        province = db.session.scalar(sa.select(Region.id).where(Region.code == benchdata.PROVINCE_CODE))
        employer = Employer(name="基准用人单位", region_id=province, status=EmployerStatus.APPROVED)
        db.session.add(employer)
        db.session.flush()
        learner_ids = db.session.scalars(sa.select(User.id).where(User.role == Role.LEARNER).order_by(User.id)
                                         .limit(LEARNERS)).all()
        db.session.execute(sa.update(User).where(User.id.in_(learner_ids)).values(employer_id=employer.id))
        learner = db.session.get(User, learner_ids[0])
        spec = next(k for k in declaration_service.kinds_offered(learner, clock.today().year)
                    if KIND_UNITS[k.kind] == "hours" and k.categories)
        db.session.commit()
        employer_id = employer.id
    evidence = folder / "evidence.png"
    Image.new("RGB", (8, 8), "white").save(evidence)
    courses, _canary, sessions = popular_courses(app)
    return {"courses": courses, "sessions": sessions, "employer": employer_id,
            "args": [sessions, evidence, spec.kind.value, spec.categories[0].value, clock.today().isoformat(),
                     *courses]}


def december_rush(servers: Servers, stage: dict) -> dict:
    """Signed-in learners browsing, enrolling and declaring at once (bench/december.lua) on ``servers``."""
    return wrk(servers.base + "/", DECEMBER_SECONDS, DECEMBER_CONNECTIONS, DECEMBER_LUA, stage["args"],
               servers=servers.spread, timeout=DECEMBER_TIMEOUT)


def declarations_filed(app, employer_id: int) -> int:
    with app.app_context():
        filed = db.session.scalar(sa.select(sa.func.count(Declaration.id))
                                  .where(Declaration.employer_id == employer_id))
        db.session.remove()
        return filed


def http_rounds(cached: Servers, live: Servers, setup: dict) -> list[dict]:
    """Each page against the floor, round after round; ``cached`` serves with the page cache on, ``live``
    with it off."""
    paths, cookies = setup["paths"], setup["cookies"]

    def on(servers: Servers, name: str, cookie: dict | None = None) -> dict:
        found = wrk(servers.base + paths.get(name, name), SECONDS, headers=cookie, servers=servers.spread)
        servers.drain()
        return found

    rounds = []
    for _ in range(ROUNDS):  # interleaved: each ratio's two sides measured back to back
        rounds.append({
            "floor": on(cached, "/__floor__"),
            "cached": on(cached, "catalog"),
            "signed_in": on(live, "catalog", cookies["learner"]),
            "catalog": on(live, "catalog"),
            "search": on(live, "search"),
            "deep": on(live, "deep"),
            "dashboard": on(live, "dashboard", cookies["learner"]),
            "roster": on(live, "roster", cookies["admin"]),
        })
    return rounds


def flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def measure_config(database: Database, config: tuple, setup: dict, floor_file: Path, staged: dict) -> dict:
    """One configuration's HTTP figures; on the first tier its enrollment load, and the December rush."""
    label, count, with_redis = config
    env = database.env(BENCH_FLOOR_FILE=str(floor_file))
    if with_redis:
        flush_redis()
        env = {**env, "REDIS_URL": REDIS_URL, "JIDI_JOBS": "redis"}
    folder = floor_file.parent
    slug = "redis" if with_redis else "one"
    found: dict = {"label": label, "logs": []}
    with Servers({**env, "PAGE_CACHE_SECONDS": "60"}, folder / f"gunicorn-cached-{slug}.log", count) as cached, \
            Servers({**env, "PAGE_CACHE_SECONDS": "0"}, folder / f"gunicorn-live-{slug}.log", count) as live:
        found["logs"] = cached.logs + live.logs
        found["http"] = http_rounds(cached, live, setup)
        if "enroll" in staged:
            found["enroll"] = enrollment_load(live, *staged["enroll"])
            live.drain()
        if "december" in staged:
            found["december"] = december_rush(live, staged["december"])
            live.drain()
    if with_redis:
        flush_redis()
    return found


def run_tier(tier: str, folder: Path, first: bool, postgres_url: str) -> dict:
    with Database(folder, tier, postgres_url) as database:
        app = create_app(database.config())
        setup = prepare(app, tier)
        result = {"tier": tier, "dialect": database.dialect, "machine": machine(database),
                  "generated": setup["generated"], "written": setup["written"]}
        result["queries"] = query_counts(app, setup)
        result["evaluation"] = evaluation_figures(app, tier)
        floor_file = folder / f"floor-{tier}.html"
        with app.app_context():
            floor_file.write_bytes(app.test_client().get(setup["paths"]["catalog"]).data)
        staged: dict = {config: {} for config in CONFIGS}
        if first:
            for config in CONFIGS:
                staged[config]["enroll"] = popular_courses(app)
            if PRODUCTION:
                staged[CONFIGS[-1]]["december"] = december_stage(app, folder)
        with app.app_context():
            db.engine.dispose()
        result["configs"] = [measure_config(database, config, setup, floor_file, staged[config])
                             for config in CONFIGS]
        result["server_errors"] = sum(
            log.read_text().count("Traceback") + log.read_text().count("database is locked")
            for found in result["configs"] for log in found["logs"])
        if first:
            app = create_app(database.config())
            for config, found in zip(CONFIGS, result["configs"], strict=True):
                popular, canary, _sessions = staged[config]["enroll"]
                found["enroll"]["correct"] = enrollment_correctness(app, popular)
                found["enroll"]["canary"] = enrollment_correctness(app, canary)
                if "december" in staged[config]:
                    stage = staged[config]["december"]
                    found["december"]["correct"] = enrollment_correctness(app, stage["courses"])
                    found["december"]["filed"] = declarations_filed(app, stage["employer"])
            with app.app_context():
                db.engine.dispose()
        return result


def enrollment_load(server: Servers, popular: list[int], canary: list[int], sessions: Path) -> dict:
    """R6: enroll requests on the first POPULAR of ``popular`` under 64 connections, against the write floor
    (bench/wsgi.py: the same UPDATE, INSERT and COMMIT, nothing else) on the others at 64, back to back."""
    enrolled, floored = popular[:POPULAR], popular[POPULAR:]
    # A second of each first, not counted: the workers' first enrollments load what the pages before did not
    # (the flash's translations, the year note's template), and put the first round at half the others.
    warm_floor = wrk(server.base + "/", 1, ENROLL_CONNECTIONS, LUA,
                     [sessions, "/__write_floor__/%d", 0, "field", *floored], servers=server.spread)
    warm = wrk(server.base + "/", 1, ENROLL_CONNECTIONS, LUA,
               [sessions, "/me/courses/%d/enroll", 0, "session", *enrolled], servers=server.spread)
    server.drain()
    rounds, first, first_floor = [], warm["requests"] + 1000, warm_floor["requests"] + 1000
    for _ in range(ROUNDS):
        floor = wrk(server.base + "/", SECONDS, ENROLL_CONNECTIONS, LUA,
                    [sessions, "/__write_floor__/%d", first_floor, "field", *floored], servers=server.spread)
        server.drain()
        first_floor += floor["requests"] + 1000
        load = wrk(server.base + "/", SECONDS, ENROLL_CONNECTIONS, LUA,
                   [sessions, "/me/courses/%d/enroll", first, "session", *enrolled], servers=server.spread)
        server.drain()
        first += load["requests"] + 1000
        rounds.append({"floor": floor, "load": load})
    # One course at a time: two workers must race for the same course's last seat.
    canary_runs = [wrk(server.base + "/", 1, ENROLL_CONNECTIONS, LUA,
                       [sessions, "/__racy__/%d", 0, "session", course], servers=server.spread) for course in canary]
    return {"rounds": rounds, "canary_runs": canary_runs}


def table(results: list[dict]) -> str:
    """One column per tier and configuration; figures measured in this process (query counts, the
    evaluation) stand in the tier's first column only."""
    one = results[0]
    columns = [(r, c) for r in results for c in r["configs"]]
    by_tier = {r["tier"]: r for r in results}

    def ratios(config, top, bottom, key="rps"):
        return [r[top][key] / r[bottom][key] for r in config["http"]]

    lines = [f"Machine: {one['machine']}.", "",
             "| figure | " + " | ".join(f"{r['tier']}, {c['label']}" for r, c in columns) + " | target |",
             "|---|" + "---|" * len(columns) + "---|"]

    def row(name, cell, target):
        """``cell(result, config)``: the text of a column, or None for an empty cell."""
        cells = [cell(r, c) for r, c in columns]
        if any(x is not None for x in cells):
            lines.append(f"| {name} | " + " | ".join(x or "" for x in cells) + f" | {target} |")

    def tier_only(value):
        return lambda r, c: value(r) if c is r["configs"][0] else None

    row("data generated (s)", tier_only(lambda r: f"{r['generated']:.1f}"), "seconds")
    row("R1 anonymous catalog ÷ pre-rendered floor, requests/s (page cache hit; R1p with Redis)",
        lambda r, c: fmt(ratios(c, "cached", "floor")), "≥ 0.5; Redis ≥ 0.85")
    row("R1′ catalog for a signed-in learner (rendered every time) ÷ floor",
        lambda r, c: fmt(ratios(c, "signed_in", "floor")), "≥ 0.2")
    row("the anonymous catalog rendered (page cache off) ÷ floor", lambda r, c: fmt(ratios(c, "catalog", "floor")),
        "—")
    scaling_rows(row, by_tier, ratios)
    for page in ("catalog", "search", "deep", "course", "dashboard", "roster", "compliance"):
        label = {"deep": f"page {DEEP}"}.get(page, page)
        row(f"R3 SQL queries: {label}", tier_only(lambda r, page=page: str(r["queries"][page])), "≤ 4, constant")
    row("R4 evaluation ÷ raw COUNT(DISTINCT) GROUP BY", tier_only(lambda r: fmt(r["evaluation"]["ratios"])), "≤ 1.2")
    row("evaluation seconds (raw GROUP BY seconds)",
        tier_only(lambda r: f"{r['evaluation']['evaluation']:.3f} ({r['evaluation']['raw']:.3f})"), "—")
    exponent_row(row, by_tier)
    row("R5 evaluation queries", tier_only(lambda r: str(r["evaluation"]["queries"])), "≤ 5")
    enrollment_rows(row)
    row("R7 search (护理) ÷ catalog, requests/s (both rendered)", lambda r, c: fmt(ratios(c, "search", "catalog")),
        "≥ 0.9")
    row(f"R8 page {DEEP} ÷ page 1, mean latency (rendered)",
        lambda r, c: fmt(ratios(c, "deep", "catalog", "latency_ms")), "≤ 1.2")
    row("R10 the learner's dashboard ÷ floor", lambda r, c: fmt(ratios(c, "dashboard", "floor")), "≥ 0.2")
    row("R10 the roster of the busiest course ÷ floor", lambda r, c: fmt(ratios(c, "roster", "floor")), "≥ 0.2")
    december_rows(row)
    row("server tracebacks or 'database is locked' in the logs", tier_only(lambda r: str(r["server_errors"])), "0")
    return "\n".join(lines)


def scaling_rows(row, by_tier: dict, ratios) -> None:
    """R2: the catalog's throughput at 10× over 1×, each normalised by its run's floor, so that drift between
    the two tiers' runs cancels."""
    if "1x" not in by_tier or "10x" not in by_tier:
        return
    for label, side in (("page cache hit", "cached"), ("rendered", "catalog")):
        def scaled(r, c, side=side):
            if r is not by_tier["10x"]:
                return None
            low = next(x for x in by_tier["1x"]["configs"] if x["label"] == c["label"])
            base = statistics.median(ratios(low, side, "floor"))
            return fmt([h / base for h in ratios(c, side, "floor")])
        row(f"R2 catalog throughput 10× ÷ 1× ({label}; each ÷ its floor)", scaled, "≥ 0.95")


def exponent_row(row, by_tier: dict) -> None:
    """R5: how the evaluation's time grows from 1× to 10×, beside the raw query's."""
    if "1x" not in by_tier or "10x" not in by_tier:
        return

    def exponent(r, c):
        if r is not by_tier["10x"] or c is not r["configs"][0]:
            return None
        low, high = by_tier["1x"]["evaluation"], r["evaluation"]
        return f"{math.log10(high['evaluation'] / low['evaluation']):.2f} ({math.log10(high['raw'] / low['raw']):.2f})"
    row("R5 evaluation scaling exponent 1× → 10× (raw query's)", exponent, "≤ 1.1")


def enrollment_rows(row) -> None:
    def enroll(value):
        return lambda r, c: value(c["enroll"]) if "enroll" in c else None

    def ratio(e):
        return fmt([x["load"]["rps"] / x["floor"]["rps"] for x in e["rounds"]])

    def correctness(e):
        c = e["correct"]
        sides = [x[side] for x in e["rounds"] for side in ("load", "floor")]
        fivexx = sum(x.get("status_5xx", 0) + x["socket_errors"] for x in sides)
        sent = sum(x["requests"] for x in sides)
        refused = sum(x.get("status_4xx", 0) for x in sides)
        return (f"{sent}, {refused}, {c['rows']}, {c['confirmed']}, {c['overbooked']}, {c['counter_mismatch']}, "
                f"{c['duplicates']}, {fivexx}")

    def canary(e):
        k = e["canary"]
        return f"{k['overbooked']} of {CANARIES}" + ("" if k["overbooked"] else " — the harness is blind")

    row(f"R6 enroll ÷ durable-write floor (UPDATE + INSERT + COMMIT in Core) at {ENROLL_CONNECTIONS} connections, "
        f"{POPULAR} courses × {SEATS} seats each", enroll(ratio), "≥ 0.6")
    row("R6 correctness, enrollment and floor together: requests, 4xx, rows, confirmed, overbooked courses, seat "
        "counter ≠ rows, duplicates, 5xx + socket errors", enroll(correctness), "0 overbooked, 0, 0, 0")
    row(f"canary: naive check-then-insert on {CANARIES} courses of 10–14 seats: overbooked courses", enroll(canary),
        "≥ 1")


def december_rows(row) -> None:
    def rush(value):
        return lambda r, c: value(c["december"]) if "december" in c else None

    def latency(d):
        return (f"{d['requests'] / DECEMBER_SECONDS:.0f} requests/s; p50 {d['p50_us'] / 1000:.0f} ms, "
                f"p95 {d['p95_us'] / 1000:.0f} ms, p99 {d['p99_us'] / 1000:.0f} ms")

    def outcome(d):
        c = d["correct"]
        errors = d.get("s5", 0) + d.get("s4", 0) + d["socket_errors"] + d.get("other3", 0)
        return (f"{d['requests']}, {d['sent_enroll']}, {d['sent_declare']}, {d['declared']}, {d['filed']}, "
                f"{c['confirmed']}, {c['overbooked']}, {c['counter_mismatch']}, {c['duplicates']}, {errors}")

    row(f"December rush, {DECEMBER_CONNECTIONS} signed-in connections for {DECEMBER_SECONDS} s (40 % catalog, "
        "10 % search, 15 % course, 15 % dashboard, 15 % enroll, 5 % declare)", rush(latency), "p99 reported")
    row("December rush: requests, enroll sent, declarations sent, declared (303), declarations filed, seats "
        "confirmed, overbooked courses, seat counter ≠ rows, duplicates, errors (4xx, 5xx, socket, sign-in)",
        rush(outcome), "0 overbooked, 0, 0, 0 errors")


def api_row(found: dict) -> str:
    first, again = found["first"], found["again"]
    return (f"R9 one API call of {found['items']:,} completions ({found['body_bytes'] / 2**20:.1f} MB): "
            f"{first['seconds']:.2f} s, {first['recorded']:,} recorded; the same batch again {again['seconds']:.2f} s, "
            f"{again['recorded']} recorded, {again['already_recorded']:,} already recorded (target ≤ 2 s on "
            f"PostgreSQL)")


def write_doc(dialect: str, text: str) -> None:
    start, end = f"<!-- bench:{dialect.lower()}:start -->", f"<!-- bench:{dialect.lower()}:end -->"
    doc = DOC.read_text() if DOC.exists() else "# Performance\n"
    block = f"{start}\n{text}\n{end}"
    if start in doc and end in doc:
        doc = doc[:doc.index(start)] + block + doc[doc.index(end) + len(end):]
    else:
        doc = doc.rstrip("\n") + f"\n\n## `make bench` on {dialect}\n\n{block}\n"
    DOC.write_text(doc)


def run_database(postgres_url: str) -> str:
    """Every tier on one database ("" for SQLite); the section of docs/PERFORMANCE.md it writes."""
    began = time.perf_counter()
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        results = [run_tier(tier, Path(tmp), n == 0, postgres_url) for n, tier in enumerate(TIERS)]
        dialect = results[0]["dialect"]
        RESULTS.mkdir(parents=True, exist_ok=True)  # every number measured, for a second look
        (RESULTS / f"bench-{dialect.lower()}.json").write_text(json.dumps(results, indent=1, default=str))
        api = None
        if API:
            with Database(Path(tmp), "api", postgres_url) as database:
                api = api_batch.measure(database)
    after = os.getloadavg()
    text = (f"Run of {date.today().isoformat()} on {dialect}, tiers {', '.join(TIERS)}; {ROUNDS} interleaved "
            f"rounds of {SECONDS} s per figure; medians (range). Whole run {time.perf_counter() - began:.0f} s; "
            f"load average {load[0]:.1f} at the start, {after[0]:.1f} at the end (1 minute), on "
            f"{os.cpu_count()} cores.\n\n" + table(results) + (f"\n\n{api_row(api)}." if api else ""))
    write_doc(dialect, text)
    return text


def main() -> None:
    """SQLite, then PostgreSQL (BENCH_DATABASES, BENCH_POSTGRES_URL; DATABASE_URL alone measures only it)."""
    if os.environ.get("DATABASE_URL"):
        urls = [os.environ["DATABASE_URL"]]
    else:
        wanted = os.environ.get("BENCH_DATABASES", "sqlite,postgresql").split(",")
        urls = [{"sqlite": "", "postgresql": POSTGRES_URL}[name.strip()] for name in wanted]
    texts = [run_database(url) for url in urls]
    print("\n" + "\n\n".join(texts))
    print(f"\nwritten to {DOC.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

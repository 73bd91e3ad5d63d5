"""What the benchmarks share: a scratch database (SQLite file or a private PostgreSQL schema), the app
under gunicorn, wrk, and medians with their ranges."""

import os
import platform
import re
import secrets
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ID_NUMBER_KEY = "YmVuY2gtb25seS1pZC1udW1iZXIta2V5LTMyYnl0ZXM="


class Database:
    """A scratch database for one benchmark: a SQLite file under ``folder``, or, when DATABASE_URL is set,
    a private schema in that PostgreSQL database, dropped on exit."""

    def __init__(self, folder: Path, name: str = "bench", postgres_url: str | None = None):
        """``postgres_url``: PostgreSQL's, or "" for SQLite; by default DATABASE_URL decides."""
        self.folder = folder
        self.postgres_url = os.environ.get("DATABASE_URL", "") if postgres_url is None else postgres_url
        self.schema = f"jidi_bench_{secrets.token_hex(4)}" if self.postgres_url else None
        self.sqlite_path = None if self.schema else folder / f"{name}.sqlite3"

    @property
    def dialect(self) -> str:
        return "PostgreSQL" if self.schema else "SQLite"

    @property
    def url(self) -> str:
        """The URL a separate process (gunicorn, flask) connects with, search path included."""
        if self.schema:
            separator = "&" if "?" in self.postgres_url else "?"
            return f"{self.postgres_url}{separator}options=-csearch_path%3D{self.schema}"
        return f"sqlite:///{self.sqlite_path}"

    def config(self, **extra) -> dict:
        """Configuration for create_app() in this process."""
        return {"SQLALCHEMY_DATABASE_URI": self.url, "SECRET_KEY": "bench", "ID_NUMBER_KEY": ID_NUMBER_KEY,
                "UPLOAD_FOLDER": str(self.folder / "uploads"), "EVIDENCE_FOLDER": str(self.folder / "evidence"),
                "PAGE_CACHE_SECONDS": 0, **extra}

    def env(self, **extra) -> dict:
        """Environment for the app in another process."""
        return {**os.environ, "DATABASE_URL": self.url, "SECRET_KEY": "bench", "ID_NUMBER_KEY": ID_NUMBER_KEY,
                "JIDI_INSTANCE": str(self.folder), "FLASK_APP": "app", **extra}

    def __enter__(self):
        if self.schema:
            engine = sa.create_engine(self.postgres_url)
            with engine.begin() as conn:
                conn.execute(sa.text(f"CREATE SCHEMA {self.schema}"))
            engine.dispose()
        return self

    def __exit__(self, *exc):
        if self.schema:
            engine = sa.create_engine(self.postgres_url)
            with engine.begin() as conn:
                conn.execute(sa.text(f"DROP SCHEMA {self.schema} CASCADE"))
            engine.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Gunicorn:
    """``bench.wsgi:app`` under gunicorn with 2 sync workers, as the benchmarks measure it."""

    def __init__(self, env: dict, log: Path, workers: int = 2):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env, self.log, self.workers = env, log, workers

    def __enter__(self):
        self.process = subprocess.Popen(
            [str(BIN / "gunicorn"), "--workers", str(self.workers), "--no-control-socket", "--bind",
             f"127.0.0.1:{self.port}", "--timeout", "120", "--error-logfile", "-", "bench.wsgi:app"],
            cwd=ROOT, env=self.env, stdout=self.log.open("w"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if subprocess.run(["curl", "-sf", "-o", "/dev/null", self.base + "/__floor__"]).returncode == 0:
                return self
            time.sleep(0.3)
        raise RuntimeError("gunicorn did not start:\n" + self.log.read_text())

    def __exit__(self, *exc):
        self.process.terminate()
        self.process.wait(timeout=30)


class Servers:
    """``count`` app servers (Gunicorn, ``workers`` each) on one environment, as one group: ``base`` is the
    first one's address (the URL wrk is given), ``spread`` every one's "host:port" for wrk's threads."""

    def __init__(self, env: dict, log: Path, count: int = 1, workers: int = 2):
        self.members = [Gunicorn(env, log.with_name(f"{log.stem}-{n}{log.suffix}"), workers) for n in range(count)]
        self.base = self.members[0].base
        self.spread = [f"127.0.0.1:{m.port}" for m in self.members]
        self.logs = [m.log for m in self.members]

    def __enter__(self):
        started = []
        try:
            for member in self.members:
                started.append(member.__enter__())
        except BaseException:
            for member in started:
                member.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc):
        for member in self.members:
            member.__exit__(*exc)

    def drain(self) -> None:
        """Wait until the requests a finished wrk run left queued are answered. wrk stops counting at its
        deadline, but the sync workers still answer what the listen queue holds, which after a slow page is
        seconds of work that the next figure would otherwise pay for. Requests sent now queue behind it."""
        urls = [f"http://{address}/__floor__" for address in self.spread for _ in range(2 * self.members[0].workers)]
        with ThreadPoolExecutor(len(urls)) as pool:
            list(pool.map(lambda url: urllib.request.urlopen(url, timeout=120).read(), urls))  # noqa: S310


GET_LUA = ROOT / "bench" / "get.lua"


def wrk(url: str, seconds: int, connections: int = 16, script: Path | None = None, args=(), *,  # noqa: PLR0913 (wrk's own)
        headers: dict | None = None, servers: list[str] | None = None, timeout: int = 2) -> dict:
    """Requests per second, mean latency (ms), the 50th/95th/99th percentiles (``p50_us``…) and what a script
    printed as ``key=value``. ``servers`` ("host:port" each): wrk's threads spread over those app servers
    (bench/spread.lua), ``url`` naming the path and the first of them. An answer slower than ``timeout``
    seconds counts as a socket error. A plain GET must answer 2xx."""
    threads = max(2, len(servers or ()))
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", f"--timeout={timeout}s", "--latency",
               "-s", str(script or GET_LUA)]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    command.append(url)
    if args:
        command += ["--", *map(str, args)]
    env = {**os.environ, "BENCH_SERVERS": ",".join(servers or ()), "BENCH_THREADS": str(threads)}
    out = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT, env=env).stdout
    value, unit = re.search(r"Latency\s+([\d.]+)(us|ms|s)", out).groups()
    found = {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "latency_ms": float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit],
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "socket_errors": sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out)),
    }
    found.update({k: int(v) for k, v in re.findall(r"^(\w+)=(\d+)$", out, flags=re.M)})
    if not script and "Non-2xx" in out:
        raise RuntimeError(f"non-2xx answers from {url}:\n{out}")
    return found


def fmt(values: list[float]) -> str:
    """Median and range of a figure measured in several rounds."""
    return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"


def machine(database: Database) -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1)) / 1024 / 1024
    if database.schema:
        engine = sa.create_engine(database.postgres_url)
        with engine.connect() as conn:
            version = "PostgreSQL " + conn.scalar(sa.text("SHOW server_version"))
        engine.dispose()
    else:
        version = f"SQLite {sqlite3.sqlite_version} (WAL)"
    return (f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB, Python {platform.python_version()}, {version}, "
            f"gunicorn 2 sync workers, wrk 2 threads; load generator and database on the same machine")


def base_with_courses(count: int, **course) -> tuple:
    """A city-level base in a region of its own, with an admin (a member of it) and ``count`` published
    courses that started two days ago, added to the session and flushed: (admin, base, courses). ``course``
    overrides the courses' columns."""
    from datetime import timedelta

    from extensions import db
    from models import (
        BaseMembership,
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
    from services.infra import clock

    region = Region(code="519999", name="基准市", level=RegionLevel.CITY)
    base = TrainingBase(name="基准测试基地", type=BaseType.CITY, region=region)
    admin = User(name="管理员", email="bench-admin@example.com", role=Role.BASE_ADMIN, password_hash="x")
    start = clock.today() - timedelta(days=2)
    columns = {"category": Category.PROFESSIONAL, "field": "卫生", "hours": 16, "start_date": start,
               "end_date": start + timedelta(days=1), "mode": Mode.FACE_TO_FACE, "place": "教室", "audience": "护士",
               "capacity": None, "status": CourseStatus.PUBLISHED, "search_tokens": "", "plan_status": "approved",
               **course}
    courses = [Course(base=base, title=f"基准课程{k}", **columns) for k in range(count)]
    db.session.add_all([region, base, admin, *courses])
    db.session.flush()
    db.session.add(BaseMembership(user_id=admin.id, base_id=base.id))
    db.session.flush()
    return admin, base, courses


def made_up_id_number(n: int) -> str:
    """The ``n``-th of a series of valid-looking resident ID numbers that belong to nobody."""
    from services import resident_ids

    first17 = f"510104{19700101 + (n // 1000) * 10000:08d}{n % 1000:03d}"
    return first17 + resident_ids.check_character(first17)


def insert_learners(region_id: int, count: int, with_id_numbers: bool = False) -> list[tuple[str, str, str | None]]:
    """``count`` learner accounts in one statement, committed: (name, phone, ID number or None) of each. With
    ID numbers, their keyed hash and masked form are stored as registration stores them (not the cipher)."""
    from werkzeug.security import generate_password_hash

    from extensions import db
    from models import Role, User
    from services import resident_ids

    password_hash = generate_password_hash("bench", method="pbkdf2:sha256:1")
    learners = [(f"学员{i}", f"13{i:09d}", made_up_id_number(i) if with_id_numbers else None) for i in range(count)]
    db.session.execute(sa.insert(User), [
        {"name": name, "phone": phone, "password_hash": password_hash, "role": Role.LEARNER, "region_id": region_id,
         "active": True, "session_token": secrets.token_hex(8), "id_number_ciphertext": "" if number else None,
         "id_number_hmac": resident_ids.fingerprint(number) if number else None,
         "id_number_masked": resident_ids.mask(number) if number else ""}
        for name, phone, number in learners
    ])
    db.session.commit()
    return learners

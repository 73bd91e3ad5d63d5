"""`make bench-reminders`: issue 18's figure, the December reminders under load. 100,000 learners short of
the year's hours (and a tenth as many with all of them), reminded on a simulated 1 December; a real Huey
consumer (``huey_consumer services.jobs.huey -k thread -w 4``, in a subprocess) fans the notices out and
sends the e-mails to an SMTP server (aiosmtpd) in this process that counts them, until every one arrived.

Run on Redis (RedisHuey, 127.0.0.1:6379, database BENCH_REDIS_DB) and on the SQLite store (SqliteHuey), each
against SQLite and PostgreSQL (a private schema of BENCH_POSTGRES_URL, dropped afterwards; set it empty to
skip PostgreSQL). Reports notices made per second, e-mails delivered per second end to end (from the start of
remind() to the last e-mail received), the wall time, the peak RSS of remind() (its own process) and of the
consumer, duplicates (recipients or Message-IDs received twice: must be 0) and a rerun of remind() that must
make and send nothing; written into docs/PERFORMANCE.md (its section "December reminders (issue 18)").

``python bench/reminders.py --remind 2026-12-01`` is the remind() process: it prints what it made as JSON.
"""

import collections
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

# This process only generates data and counts e-mails: its own queue is in memory (the consumer's and the
# remind() process's are chosen by their environment).
if "--remind" not in sys.argv:
    os.environ["JIDI_JOBS"] = "memory"

import sqlalchemy as sa  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

LEARNERS = int(os.environ.get("BENCH_REMINDERS", "100000"))
WORKERS = int(os.environ.get("BENCH_REMINDER_WORKERS", "4"))
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_DB = int(os.environ.get("BENCH_REDIS_DB", "9"))
QUEUES = os.environ.get("BENCH_QUEUES", "redis,sqlite").split(",")
DIALECTS = [dialect for dialect in os.environ.get("BENCH_DIALECTS", "PostgreSQL,SQLite").split(",")
            if POSTGRES_URL or dialect == "SQLite"]
STALL_SECONDS = 180  # no e-mail for this long: the run has stalled
DAY = date(2026, 12, 1)
_MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)", re.I | re.M)


class CountingMailbox:
    """An aiosmtpd handler that keeps only counts: messages, each recipient, each Message-ID."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.messages = 0
        self.recipients: collections.Counter[str] = collections.Counter()
        self.message_ids: collections.Counter[bytes] = collections.Counter()
        self.last_at = time.perf_counter()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802  (aiosmtpd's hook name)
        self.messages += 1
        self.recipients.update(envelope.rcpt_tos)
        found = _MESSAGE_ID.search(envelope.original_content or envelope.content)
        self.message_ids[found.group(1) if found else b"?"] += 1
        self.last_at = time.perf_counter()
        return "250 Message accepted for delivery"

    @property
    def duplicates(self) -> int:
        return (sum(n - 1 for n in self.recipients.values() if n > 1)
                + sum(n - 1 for n in self.message_ids.values() if n > 1))


def generate(learners: int) -> None:
    """A province requiring 90 hours (30 public, 40 professional) and a city of it; ``learners`` learners with
    an e-mail and 10 public hours (short), and a tenth as many with all their hours. Core bulk inserts."""
    from extensions import db
    from models import Category, HoursRecord, HoursSource, Region, RegionLevel, Role, RuleSet, User
    from models._common import utcnow

    with db.engine.begin() as connection:
        province = connection.execute(sa.insert(Region).values(
            code="529900", name="基准省", level=RegionLevel.PROVINCE)).inserted_primary_key[0]
        city = connection.execute(sa.insert(Region).values(
            code="529901", name="基准市", level=RegionLevel.CITY, parent_id=province)).inserted_primary_key[0]
        connection.execute(sa.insert(RuleSet).values(
            region_id=province, year=DAY.year, total_min=90, public_min=30, professional_min=40, unconfirmed=[]))
        complete = learners // 10
        now = utcnow()
        step = 10_000
        for first in range(0, learners + complete, step):
            rows = [{"name": f"学员{i}", "email": f"r{i}@bench.example", "password_hash": "", "role": Role.LEARNER,
                     "region_id": city, "active": True, "session_token": f"t{i}", "created_at": now}
                    for i in range(first, min(first + step, learners + complete))]
            connection.execute(sa.insert(User), rows)
        ids = connection.scalars(sa.select(User.id).where(User.role == Role.LEARNER).order_by(User.id)).all()
        credits = [(learner_id, Category.PUBLIC, 10) for learner_id in ids[:learners]]
        credits += [(learner_id, category, hours) for learner_id in ids[learners:]
                    for category, hours in ((Category.PUBLIC, 30), (Category.PROFESSIONAL, 60))]
        for first in range(0, len(credits), step):
            connection.execute(sa.insert(HoursRecord), [
                {"learner_id": learner_id, "year": DAY.year, "category": category, "hours": hours,
                 "source": HoursSource.IMPORT, "note": "基准", "created_at": now}
                for learner_id, category, hours in credits[first:first + step]])


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def run_remind(env: dict) -> dict:
    out = subprocess.run([sys.executable, __file__, "--remind", DAY.isoformat()], env=env, capture_output=True,
                         text=True, cwd=Path(__file__).resolve().parent.parent)
    if out.returncode:
        raise RuntimeError(f"remind() failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def wait_for(mailbox: CountingMailbox, expected: int) -> None:
    while mailbox.messages < expected:
        if time.perf_counter() - mailbox.last_at > STALL_SECONDS:
            raise RuntimeError(f"stalled at {mailbox.messages} of {expected} e-mails")
        time.sleep(0.2)


def one_queue(database, queue: str, mailbox: CountingMailbox, smtp_port: int) -> dict:
    """Remind, consume and count on one queue store: the figures of one row of the table."""
    from extensions import db
    from models import Notice, OutboundMessage, OutboxStatus

    with db.engine.begin() as connection:  # a clean slate: the other store's run left its notices
        connection.execute(sa.delete(OutboundMessage))
        connection.execute(sa.delete(Notice))
    folder = database.folder / f"queue-{queue}"
    folder.mkdir(exist_ok=True)
    redis_url = f"redis://127.0.0.1:6379/{REDIS_DB}"
    if queue == "redis":
        import redis

        redis.Redis.from_url(redis_url).flushdb()
    env = database.env(JIDI_JOBS=queue, REDIS_URL=redis_url if queue == "redis" else "", JIDI_INSTANCE=str(folder),
                       MAIL_SERVER="127.0.0.1", MAIL_PORT=str(smtp_port))
    mailbox.reset()
    logs = Path(__file__).resolve().parent.parent / "artifacts" / "bench-reminders"
    logs.mkdir(parents=True, exist_ok=True)
    log = (logs / f"consumer-{database.dialect.lower()}-{queue}.log").open("w")
    # -n: no periodic jobs (the outbox sweep would only add noise to the figures).
    consumer = subprocess.Popen(
        [str(Path(sys.executable).parent / "huey_consumer"), "services.jobs.huey", "-k", "thread", "-w",
         str(WORKERS), "-n"],
        cwd=Path(__file__).resolve().parent.parent, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        load_before = uptime()
        began = time.perf_counter()
        first = run_remind(env)
        wait_for(mailbox, LEARNERS)
        delivered_at = mailbox.last_at
        time.sleep(3)  # anything sent twice would arrive now
        rerun = run_remind(env)
        time.sleep(5)
        rss = peak_rss_mb(consumer.pid)
        load_after = uptime()
    finally:
        consumer.terminate()
        consumer.wait(timeout=60)
        log.close()
    sent = db.session.scalar(sa.select(sa.func.count(OutboundMessage.id))
                             .where(OutboundMessage.status == OutboxStatus.SENT))
    db.session.remove()
    wall = delivered_at - began
    return {"queue": queue, "made": first["made"], "remind_seconds": first["seconds"],
            "remind_rss_mb": first["peak_rss_mb"], "wall": wall, "mails": mailbox.messages,
            "distinct": len(mailbox.recipients), "duplicates": mailbox.duplicates, "sent_rows": sent,
            "consumer_rss_mb": rss, "rerun_made": rerun["made"],
            "rerun_mails": mailbox.messages - LEARNERS, "load_before": load_before, "load_after": load_after}


def one_database(dialect: str, mailbox: CountingMailbox, smtp_port: int) -> tuple[list[dict], float]:
    import flask_migrate

    from app import create_app
    from bench.common import Database
    from extensions import db

    with tempfile.TemporaryDirectory() as tmp, Database(
            Path(tmp), postgres_url=POSTGRES_URL if dialect == "PostgreSQL" else "") as database:
        app = create_app(database.config())
        with app.app_context():
            flask_migrate.upgrade()
            began = time.perf_counter()
            generate(LEARNERS)
            generated = time.perf_counter() - began
            print(f"{dialect}: {LEARNERS + LEARNERS // 10:,} learners generated in {generated:.1f} s", flush=True)
            rows = []
            for queue in QUEUES:
                row = one_queue(database, queue, mailbox, smtp_port)
                print(f"  {queue}: {row}", flush=True)
                rows.append(row)
            db.session.remove()
            db.engine.dispose()
    return rows, generated


def remind_process(day: str) -> None:
    """The remind() of the periodic job, in a process of its own (its peak RSS is its own)."""
    from app import create_app
    from services import deadline_reminders

    app = create_app()
    with app.app_context():
        began = time.perf_counter()
        made = deadline_reminders.remind(date.fromisoformat(day))
        seconds = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"made": made, "seconds": seconds, "peak_rss_mb": peak}))


def table(dialect: str, rows: list[dict], generated: float) -> str:
    lines = [f"### {dialect}", "",
             f"{LEARNERS:,} short learners with an e-mail and {LEARNERS // 10:,} with all their hours "
             f"(generated in {generated:.0f} s); consumer: {WORKERS} threads.", "",
             "| queue store | notices made | remind() s | notices/s | remind() peak RSS | e-mails received "
             "| end to end s | e-mails/s | consumer peak RSS | duplicates | rerun: notices / e-mails |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(
            f"| {'Redis' if r['queue'] == 'redis' else 'SQLite file'} | {r['made']:,} | {r['remind_seconds']:.1f} "
            f"| {r['made'] / r['remind_seconds']:,.0f} | {r['remind_rss_mb']:.0f} MB | {r['mails']:,} "
            f"({r['distinct']:,} recipients) | {r['wall']:.0f} | {r['mails'] / r['wall']:,.0f} "
            f"| {r['consumer_rss_mb']:.0f} MB | {r['duplicates']} | {r['rerun_made']} / {r['rerun_mails']} |")
    lines += ["", "Machine load (`uptime`) before and after each run:", ""]
    lines += [f"- {r['queue']}: `{r['load_before']}` → `{r['load_after']}`" for r in rows]
    return "\n".join(lines)


def machine_line() -> str:
    import platform

    import aiosmtpd
    import huey

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1)) / 1024 / 1024
    return (f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB, Python {platform.python_version()}, Huey "
            f"{huey.__version__}, aiosmtpd {aiosmtpd.__version__}; Redis, PostgreSQL, the consumer, remind() "
            "and the SMTP server on the same machine, shared with other work (the load below)")


def write_doc(text: str) -> None:
    from bench.common import ROOT

    doc_path = ROOT / "docs" / "PERFORMANCE.md"
    start, end = "<!-- bench:reminders:start -->", "<!-- bench:reminders:end -->"
    doc = doc_path.read_text()
    block = f"{start}\n{text}\n{end}"
    if start in doc and end in doc:
        doc = doc[:doc.index(start)] + block + doc[doc.index(end) + len(end):]
    else:
        doc = doc.rstrip("\n") + "\n\n" + block + "\n"
    doc_path.write_text(doc)


def main() -> None:
    from aiosmtpd.controller import Controller

    from bench.common import free_port

    mailbox = CountingMailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    sections: list[str] = []
    try:
        for dialect in DIALECTS:
            rows, generated = one_database(dialect, mailbox, port)
            for row in rows:
                assert row["duplicates"] == 0 and row["rerun_made"] == 0 and row["rerun_mails"] == 0, row
                assert row["mails"] == row["made"] == row["sent_rows"] == LEARNERS, row
            sections.append(table(dialect, rows, generated))
            write_doc(document(sections))  # each database's figures as soon as they are in
    finally:
        controller.stop()
    print("\n" + document(sections))


def document(sections: list[str]) -> str:
    return "\n\n".join([
        "## December reminders (issue 18)",
        f"`make bench-reminders`, {time.strftime('%Y-%m-%d')}: remind() on a simulated 1 December, then a real "
        f"Huey consumer (`huey_consumer services.jobs.huey -k thread -w {WORKERS}`, periodic jobs off) fans the "
        "notices out (500 a job) and sends the e-mails (100 a job, one SMTP connection each) to an aiosmtpd "
        "server in the benchmark's process, until every e-mail arrived. End to end: from the start of remind() "
        "to the last e-mail received. Duplicates: recipients or Message-IDs received more than once. The rerun "
        "is remind() run again on the same day after everything was sent.",
        f"Machine: {machine_line()}.",
        *sections])


if __name__ == "__main__":
    if "--remind" in sys.argv:
        remind_process(sys.argv[sys.argv.index("--remind") + 1])
    else:
        main()

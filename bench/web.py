"""HTTP benchmark: the real app under gunicorn (2 workers) and wrk, on a generated tier.

Prints R1 (catalog ÷ pre-rendered floor), R7 (search ÷ catalog), R8 (deep page latency ÷ first page) as
medians of interleaved rounds with their ranges, and R3 (SQL queries per page). SQLite by default
(a temporary database); BENCH_TIER=1x|10x|test chooses the data.
"""

import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TIER = os.environ.get("BENCH_TIER", "1x")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
KEY = "YmVuY2gtb25seS1pZC1udW1iZXIta2V5LTMyYnl0ZXM="


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wrk(url: str) -> tuple[float, float]:
    """(requests per second, mean latency in ms) from wrk with 2 threads and 16 connections."""
    out = subprocess.run(["wrk", "-t2", "-c16", f"-d{SECONDS}s", "--latency", url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"Latency\s+([\d.]+)(us|ms|s)", out).groups()
    latency = float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
    if "Non-2xx" in out:
        raise RuntimeError(f"non-2xx answers from {url}:\n{out}")
    return rps, latency


def _queries(app, paths: dict) -> dict:
    from extensions import db
    from tests.conftest import count_queries

    counts = {}
    client = app.test_client()
    for name, path in paths.items():
        with app.app_context(), count_queries(db.engine) as statements:
            assert client.get(path).status_code == 200, path
        counts[name] = len(statements)
    return counts


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3", "SECRET_KEY": "bench",
               "ID_NUMBER_KEY": KEY, "JIDI_INSTANCE": tmp, "FLASK_APP": "app"}
        flask = str(Path(sys.executable).with_name("flask"))
        subprocess.run([flask, "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True)
        began = time.perf_counter()
        subprocess.run([flask, "bench-data", "--tier", TIER], env=env, cwd=ROOT, check=True)
        generated = time.perf_counter() - began
        os.environ.update({k: v for k, v in env.items() if k != "FLASK_APP"})
        from app import create_app

        app = create_app()
        deep = 50
        paths = {"catalog": "/courses?include_past=y", "search": "/courses?include_past=y&q=" + quote("护理"),
                 "deep": f"/courses?include_past=y&page={deep}", "course": "/courses/1", "bases": "/bases"}
        queries = _queries(app, paths)
        floor_file = Path(tmp) / "floor.html"
        floor_file.write_bytes(app.test_client().get(paths["catalog"]).data)
        port = _port()
        server = subprocess.Popen(
            [str(Path(sys.executable).with_name("gunicorn")), "--workers", "2", "--bind", f"127.0.0.1:{port}",
             "bench.wsgi:app"], cwd=ROOT, env={**env, "BENCH_FLOOR_FILE": str(floor_file)},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(60):
                try:
                    subprocess.run(["curl", "-sf", base + "/__floor__", "-o", "/dev/null"], check=True)
                    break
                except subprocess.CalledProcessError:
                    time.sleep(0.5)
            r1, r7, r8 = [], [], []
            for _ in range(ROUNDS):  # interleaved: every ratio's two sides measured back to back
                floor_rps, _l = _wrk(base + "/__floor__")
                catalog_rps, first_ms = _wrk(base + paths["catalog"])
                search_rps, _l = _wrk(base + paths["search"])
                _deep_rps, deep_ms = _wrk(base + paths["deep"])
                r1.append(catalog_rps / floor_rps)
                r7.append(search_rps / catalog_rps)
                r8.append(deep_ms / first_ms)
        finally:
            server.terminate()
            server.wait(timeout=30)

    def fmt(values):
        return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"

    print(f"\nHTTP benchmark, tier {TIER} on SQLite (generated in {generated:.1f} s), gunicorn 2 workers, "
          f"wrk 2 threads × 16 connections × {SECONDS} s, {ROUNDS} interleaved rounds")
    print("| figure | median (range) | target |")
    print("|---|---|---|")
    print(f"| R1 catalog ÷ pre-rendered floor, requests/s | {fmt(r1)} | ≥ 0.5 |")
    print(f"| R7 search (护理) ÷ catalog, requests/s | {fmt(r7)} | ≥ 0.9 |")
    print(f"| R8 page {deep} ÷ page 1, mean latency | {fmt(r8)} | ≤ 1.2 |")
    print("| R3 SQL queries per page | " + ", ".join(f"{k} {v}" for k, v in queries.items()) + " | ≤ 4, constant |")


if __name__ == "__main__":
    main()

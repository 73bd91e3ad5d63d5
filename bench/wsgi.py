"""The app as gunicorn serves it in the benchmark, plus one extra route: /__floor__ returns a pre-rendered
copy of the catalog page, the same bytes without the work, to measure the framework's floor (R1)."""

import os
from pathlib import Path

from app import create_app

app = create_app()
FLOOR = Path(os.environ.get("BENCH_FLOOR_FILE", "/nonexistent")).read_bytes() if os.environ.get(
    "BENCH_FLOOR_FILE") else b""


@app.route("/__floor__")
def floor():
    return FLOOR, 200, {"Content-Type": "text/html; charset=utf-8"}

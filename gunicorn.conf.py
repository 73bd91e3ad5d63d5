"""gunicorn's settings for every server it runs from this folder (make serve, the benchmarks): gunicorn reads
./gunicorn.conf.py by itself. The command lines give the workers, the address and the logs."""

import gc


def post_worker_init(worker) -> None:
    """Once the worker has loaded the app, move everything alive (the modules, SQLAlchemy's mappers, the
    compiled schemas, the translations: hundreds of thousands of objects that live as long as the worker)
    out of reach of the cyclic garbage collector. It scanned them all again in each full collection that a
    large request's own objects set off: a 10,000-completion batch, in-process beside 220,000 such objects on
    a loaded machine, spent 1.26 s collecting (1.25 s of its resend), and 0.25 s (0.08 s) with them frozen."""
    gc.freeze()

"""Fixed-window rate limits, shared by every worker through Redis (REDIS_URL); without Redis each process
counts alone, which still slows one client down on a single machine."""

import threading
import time

from flask import current_app

from extensions import redis_client

_local: dict[str, tuple[int, int]] = {}
_lock = threading.Lock()


def hit(key: str, limit: int, window_seconds: int = 60) -> bool:
    """Count one request under ``key``; False once more than ``limit`` came in the current window."""
    window = int(time.time()) // window_seconds
    name = f"jidi:rl:{key}:{window}"
    client = redis_client()
    if client is not None:
        try:
            pipe = client.pipeline()
            pipe.incr(name)
            pipe.expire(name, window_seconds * 2)
            count = pipe.execute()[0]
            return count <= limit
        except Exception:  # noqa: BLE001 - a Redis outage must not take verification down with it
            current_app.logger.warning("rate limit: Redis unavailable, counting in this process")
    with _lock:
        stored_window, count = _local.get(key, (window, 0))
        count = count + 1 if stored_window == window else 1
        _local[key] = (window, count)
        if len(_local) > 10_000:  # forget old clients
            for old in [k for k, (w, _c) in _local.items() if w != window]:
                _local.pop(old, None)
    return count <= limit

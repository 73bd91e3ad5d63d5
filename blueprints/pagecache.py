"""Public pages rendered once and served again to anonymous visitors for a few seconds.

In the December rush most catalog traffic is anonymous and asks for the same few pages; rendering one
costs far more than sending it (docs/PERFORMANCE.md, R1). A page is kept for PAGE_CACHE_SECONDS (0 turns
the cache off) under its path and query parameters (``_key``): in Redis when REDIS_URL is set, so every gunicorn
worker shares it, otherwise in a small per-process store.

With Redis, each process also keeps the pages it has fetched, until the moment their Redis entry expires (stored
in front of the page): a page is rendered once for all the servers, and a hit costs no round trip to Redis
(issue 20: 0.62 of the floor through Redis alone). A page is never served longer than PAGE_CACHE_SECONDS after
it was rendered, whichever process serves it.

Only requests without a session or remember-me cookie use it, and only 200 answers that left the session
untouched are kept: a signed-in user (a base admin checking an edit, a learner seeing their enrollment) and
a visitor with a flashed message always get the live page. Anonymous visitors may see seat counts and
listings up to PAGE_CACHE_SECONDS old; enrollment itself always checks the live figures.

Pieces of pages (``fragments``) are kept in the same store for everyone, signed in or not: each is kept
under a key made of everything it is rendered from, so that an entry can never be out of date, only unused
(FRAGMENT_CACHE_SECONDS; 0 turns them off).
"""

import hashlib
import json
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from functools import wraps

from flask import current_app, make_response, request, session
from flask_babel import get_locale
from markupsafe import Markup

from extensions import redis_client

_local: OrderedDict[str, tuple[float, bytes]] = OrderedDict()  # key: (time.monotonic() it expires at, page)
_lock = threading.Lock()
_EXPIRY = struct.Struct(">d")  # in front of a page in Redis: the time.time() its entry expires at
_pieces: OrderedDict[str, bytes] = OrderedDict()  # fragments (this process's copies with Redis): never stale


def _key() -> str:
    """The entry of this request: a hash of a JSON list of everything a public page is rendered from.

    JSON, not "k=v&…" text, so that no value can pass for a separator (q="a&b=c" was the entry of q=a and
    b=c, and a visitor could fill it with an empty answer). Pairs are ordered by name only: the sort is
    stable, so a name given twice keeps its values in order, since forms read the first. The locale is
    in it should pages ever be served in another language. The host is not: pages link by path only.
    """
    pairs = sorted(request.args.items(multi=True), key=lambda pair: pair[0])
    material = json.dumps([request.script_root, request.path, str(get_locale()), pairs], ensure_ascii=False)
    return "jidi:page:" + hashlib.sha256(material.encode()).hexdigest()


def _anonymous() -> bool:
    config = current_app.config
    names = (config["SESSION_COOKIE_NAME"], config.get("REMEMBER_COOKIE_NAME", "remember_token"))
    return not any(name in request.cookies for name in names)


def _get(key: str) -> bytes | None:
    with _lock:
        found = _local.get(key)
        if found is not None and found[0] < time.monotonic():
            del _local[key]
            found = None
    if found is not None:
        return found[1]
    client = redis_client()
    if client is None:
        return None
    try:
        value = client.get(key)
    except Exception:  # noqa: BLE001 - a Redis outage costs speed, not the page
        current_app.logger.warning("page cache: Redis unavailable")
        return None
    if value is None or len(value) < _EXPIRY.size:
        return None
    (expires_at,) = _EXPIRY.unpack_from(value)
    left = expires_at - time.time()
    if left <= 0:
        return None
    body = value[_EXPIRY.size:]
    _keep(key, body, left)
    return body


def _keep(key: str, body: bytes, seconds: float) -> None:
    """This process's copy, for ``seconds``; the least recently stored go beyond PAGE_CACHE_ENTRIES."""
    with _lock:
        _local[key] = (time.monotonic() + seconds, body)
        _local.move_to_end(key)
        while len(_local) > current_app.config["PAGE_CACHE_ENTRIES"]:
            _local.popitem(last=False)


def _put(key: str, body: bytes, seconds: int) -> None:
    client = redis_client()
    if client is not None:
        try:
            client.set(key, _EXPIRY.pack(time.time() + seconds) + body, ex=seconds)
        except Exception:  # noqa: BLE001
            current_app.logger.warning("page cache: Redis unavailable")
    _keep(key, body, seconds)


def clear() -> None:
    """Forget this process's pages and fragments, or its copies of them (tests; Redis entries expire on
    their own)."""
    with _lock:
        _local.clear()
        _pieces.clear()


def fragment_key(kind: str, material: object) -> str:
    """The entry of a fragment: a hash of the repr of ``material``, which must hold everything the fragment
    is rendered from (its values' reprs tell them apart: dates, decimals, None, strings)."""
    return f"jidi:{kind}:" + hashlib.sha256(repr(material).encode()).hexdigest()


def fragments(keys: list[str], render: Callable[[int], str]) -> list[Markup]:
    """The fragments under ``keys``, each rendered by ``render(index)`` where the store has none (and kept):
    one round trip to Redis for the lot, and one more to keep what was missing."""
    seconds = current_app.config["FRAGMENT_CACHE_SECONDS"]
    if not seconds:
        return [Markup(render(n)) for n in range(len(keys))]
    found = _get_pieces(keys)
    missing = {}
    for n, body in enumerate(found):
        if body is None:
            missing[keys[n]] = found[n] = render(n).encode()
    if missing:
        _put_pieces(missing, seconds)
    return [Markup(body.decode()) for body in found]


def _get_pieces(keys: list[str]) -> list:
    """This process's copies first (a fragment's key is its content: a copy is never stale), then Redis for
    the rest in one round trip, keeping what it had."""
    with _lock:
        found = [_pieces.get(key) for key in keys]
        for key, body in zip(keys, found, strict=True):
            if body is not None:
                _pieces.move_to_end(key)
    wanted = [n for n, body in enumerate(found) if body is None]
    client = redis_client()
    if client is None or not wanted:
        return found
    try:
        fetched = client.mget([keys[n] for n in wanted])
    except Exception:  # noqa: BLE001 - a Redis outage costs speed, not the page
        current_app.logger.warning("page cache: Redis unavailable")
        return found
    had = {}
    for n, body in zip(wanted, fetched, strict=True):
        if body is not None:
            found[n] = had[keys[n]] = body
    _keep_pieces(had)
    return found


def _keep_pieces(pieces: dict[str, bytes]) -> None:
    with _lock:
        _pieces.update(pieces)
        for key in pieces:
            _pieces.move_to_end(key)
        while len(_pieces) > current_app.config["FRAGMENT_CACHE_ENTRIES"]:
            _pieces.popitem(last=False)


def _put_pieces(pieces: dict[str, bytes], seconds: int) -> None:
    client = redis_client()
    if client is not None:
        try:
            with client.pipeline(transaction=False) as pipe:
                for key, body in pieces.items():
                    pipe.set(key, body, ex=seconds)
                pipe.execute()
        except Exception:  # noqa: BLE001
            current_app.logger.warning("page cache: Redis unavailable")
    _keep_pieces(pieces)


def cached_page(view):
    """Serve ``view``'s page from the cache to anonymous visitors (see the module's note)."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        seconds = current_app.config["PAGE_CACHE_SECONDS"]
        if not seconds or request.method != "GET" or not _anonymous():
            return view(*args, **kwargs)
        key = _key()
        body = _get(key)
        if body is not None:
            response = current_app.response_class(body, mimetype="text/html")
            response.headers["X-Page-Cache"] = "hit"
            return response
        response = make_response(view(*args, **kwargs))
        if response.status_code == 200 and not session.modified and response.mimetype == "text/html":
            _put(key, response.get_data(), seconds)
        return response

    return wrapper

"""How a request's transactions begin on SQLite: as writers (BEGIN IMMEDIATE) in a request that may write,
unless its view takes the write lock itself only where it writes (services.infra.locking)."""

from collections.abc import Callable
from typing import TypeVar

from flask import current_app, has_request_context, request

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_MARK = "writes_only_under_own_lock"

View = TypeVar("View", bound=Callable[..., object])


def writes_only_under_own_lock(view: View) -> View:
    """Mark a view whose writes all happen in units of work that take the write lock as they begin
    (services.infra.locking: ``locked()``, ``exclusive()``, ``writing()``). The rest of its request, such as
    loading the signed-in user, begins deferred, beside the writer, instead of holding SQLite's write lock
    from its first read to the end of its last (a queue of enrollments waited there: issue 20).

    Only for a view whose every path writes that way, or not at all: a write made in a deferred transaction
    that has read first cannot wait for the lock in WAL mode and fails at once under load.
    """
    setattr(view, _MARK, True)
    return view


def request_may_write() -> bool:
    """Whether the request under way may write outside a unit of work that locks as it begins: a request
    that is not a GET, HEAD or OPTIONS, unless its view says otherwise (``writes_only_under_own_lock``). On
    SQLite its transactions then begin IMMEDIATE, which the domain cannot tell, since it never reads the
    request."""
    if not has_request_context() or request.method in SAFE_METHODS:
        return False
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    return not getattr(view, _MARK, False)

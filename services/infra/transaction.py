"""One transaction per use case: commit once at the end, or roll back everything (files included)."""

from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app, request

from extensions import db
from services.infra import images


@contextmanager
def unit_of_work(stored_images: list | None = None) -> Iterator[None]:
    """Commit when the block ends; on any error roll back and remove the image files it wrote.

    ``stored_images`` is a list the block appends to after each images.store_image() call.
    """
    stored_images = stored_images if stored_images is not None else []
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.rollback()
        for image in stored_images:
            images.discard_files(image)
        raise


# SQLSTATEs of transactions PostgreSQL abandoned so that others could go on: retrying is the remedy.
TRANSIENT_SQLSTATES = {"40001": "serialization failure", "40P01": "deadlock", "55P03": "lock not available"}


def transient_state(error: BaseException) -> str | None:
    """What made the database give up on the transaction (an OperationalError), if retrying may succeed;
    else None."""
    original = getattr(error, "orig", None)
    state = getattr(original, "sqlstate", None)
    if state in TRANSIENT_SQLSTATES:
        return TRANSIENT_SQLSTATES[state]
    if "database is locked" in str(original):  # SQLite: another writer held the lock past busy_timeout
        return "database is locked"
    return None


def give_up(error: BaseException) -> None:
    """Roll back a transaction the database abandoned (``transient_state``) and note it as a warning: the
    client is answered 503 and asked to send the request again."""
    db.session.rollback()
    current_app.logger.warning("database busy (%s) on %s %s: answered 503", transient_state(error), request.method,
                               request.path)

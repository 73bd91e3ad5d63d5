"""Domain exceptions that views translate into form errors, flashes or HTTP answers."""

from collections.abc import Callable, Sequence
from typing import TypeVar

_T = TypeVar("_T")


class DomainError(Exception):
    """A rule of the domain refused the operation; the message is shown to the user as it is (Chinese)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class Invalid(DomainError):
    """Data that breaks rules of the domain, field by field: ``fields`` maps each field at fault to its message,
    in the order the fields are judged; ``field`` and ``message`` are the first of them. A form shows each
    beside its field, the API lists each as a field error of its 400."""

    def __init__(self, fields: dict[str, str]):
        if not fields:
            raise ValueError("Invalid needs at least one field at fault")
        first, message = next(iter(fields.items()))
        super().__init__(message, field=first)
        self.fields = dict(fields)


class NotAllowed(DomainError):
    """The acting user may not do this (views answer 403, or 404 where existence must not leak)."""


class InvalidTransition(DomainError):
    """A workflow state change that the current state does not allow."""


class ImageRejected(DomainError):
    """An uploaded image that is not a usable JPEG, PNG or WebP."""


# Every fault in one round: a use case that judges several fields records each field's fault in a ``problems``
# dict ({field: message}) instead of stopping at the first, and raises one Invalid with them all, in the order
# its form shows the fields (services.declarations, employers, accounts, annual_reports; course_rules and
# walk_ins fill theirs directly). blueprints.common_forms.judged_too asks such a judge also when the form's
# own validators refused, so that the form's faults and the domain's come back together.

def collect(problems: dict[str, str], check: Callable[[], _T], field: str) -> _T | None:
    """``check()``, or None when it refuses: its fault joins ``problems`` on its own field (DomainError.field),
    else on ``field``, and an Invalid's every fault on theirs; a field already at fault keeps its first message."""
    try:
        return check()
    except Invalid as error:
        for name, message in error.fields.items():
            problems.setdefault(name, message)
        return None
    except DomainError as error:
        problems.setdefault(error.field or field, error.message)
        return None


def in_order(problems: dict[str, str], order: Sequence[str]) -> dict[str, str]:
    """``problems`` in the order a person reads the form (``order``: its fields, top to bottom; others last),
    so that the first, Invalid.field, is the topmost."""
    rank = {name: n for n, name in enumerate(order)}
    return dict(sorted(problems.items(), key=lambda item: rank.get(item[0], len(rank))))

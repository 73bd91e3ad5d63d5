"""Helpers shared by the models: their base class, UTC timestamps and string-backed enum columns."""

import enum
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa

from extensions import db

if TYPE_CHECKING:
    from sqlalchemy.orm import DeclarativeBase

    class Model(DeclarativeBase):
        """What the type checker sees of db.Model, which it cannot take as a base class from an attribute
        (mypy issue 8603): a declarative base, for typed columns and keyword constructors."""

else:
    Model = db.Model

_M = TypeVar("_M", bound=Model)

# Ids are INTEGER columns: 32-bit on PostgreSQL, which refuses a larger value outright (an error, not "no
# row"), so every id a client sends is bounded by this before it reaches a query.
MAX_ID = 2**31 - 1


def utcnow() -> datetime:
    """Naive UTC now, the form every timestamp is stored in (shown in Asia/Shanghai)."""
    return datetime.now(UTC).replace(tzinfo=None)


def enum_column(enum_cls: type[enum.Enum]) -> sa.Enum:
    """An enum stored as its value string (portable, readable in SQL, no native type to migrate)."""
    return sa.Enum(
        enum_cls,
        native_enum=False,
        create_constraint=False,
        length=32,
        values_callable=lambda members: [m.value for m in members],
    )


class LabelledEnum(str, enum.Enum):
    """A str enum whose members carry a Chinese label for the UI."""

    label: str

    # ``label`` has a default only for the type checker, which reads a lookup by value (Category("public"))
    # as a call of this; Enum answers a lookup without it. Every member is declared with its label.
    def __new__(cls, value: str, label: str | None = None) -> "LabelledEnum":
        if label is None:
            raise TypeError(f"{cls.__name__} {value!r}: a member needs a label")
        obj = str.__new__(cls, value)
        obj._value_ = value
        obj.label = label
        return obj

    def __str__(self) -> str:
        # The value, as forms and templates expect (a plain str/Enum mix would give "Class.MEMBER").
        return self._value_

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        return [(m.value, m.label) for m in cls]


def with_defaults(model: type[_M], **values: Any) -> _M:
    """An unsaved instance whose columns hold their declared Python defaults (which SQLAlchemy would only
    apply on INSERT): the stand-in for a rules row a regulator has not written."""
    defaults = {c.key: c.default.arg for c in model.__table__.columns
                if c.default is not None and not callable(c.default.arg)}
    return model(**{**defaults, **values})

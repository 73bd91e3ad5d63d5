"""The audit log: who changed what, and when. Rows are only ever added."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models._common import Model, utcnow


class AuditLog(Model):
    __tablename__ = "audit_log"
    __table_args__ = (sa.Index("ix_audit_log_object", "object_type", "object_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"), index=True)
    action: Mapped[str] = mapped_column(sa.String(64))
    object_type: Mapped[str] = mapped_column(sa.String(32))
    object_id: Mapped[int | None]
    base_id: Mapped[int | None] = mapped_column(sa.ForeignKey("training_base.id", ondelete="SET NULL"), index=True)
    # {"field": [old, new], ...} for changes; free-form details otherwise.
    details: Mapped[dict] = mapped_column(sa.JSON, default=dict)

    actor = relationship("User")
    base = relationship("TrainingBase")
    # Loaded with the entry (services.audit.entries_for joins it): no query per row.
    repeat = relationship("AuditRepeat", uselist=False, viewonly=True)


class AuditRepeat(Model):
    """How often an entry's event happened again within its window: an event a user can repeat at will (a
    refused page, an ID number shown again, an export) is an entry the first time in a window, then a count.

    The log itself stays append-only; only this counter changes (services.audit.record_repeatable)."""

    __tablename__ = "audit_repeat"
    __table_args__ = (sa.UniqueConstraint("actor_id", "action", "subject", "window_start",
                                          name="audit_repeat_actor_action_subject_window"),)

    entry_id: Mapped[int] = mapped_column(sa.ForeignKey("audit_log.id"), primary_key=True, autoincrement=False)
    # As on the entry: an account deleted leaves the entry and its count, naming nobody (None).
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(sa.String(64))
    # What the event was about, as the caller names it: the path of a refused request, "user:12" for an ID
    # number shown, an export and its year.
    subject: Mapped[str] = mapped_column(sa.String(255))
    window_start: Mapped[datetime]
    # Times the event happened again after the entry, within the window; the last of them at last_at.
    repeats: Mapped[int] = mapped_column(default=0, server_default="0")
    last_at: Mapped[datetime]

"""The audit log: who changed what, and when. Rows are only ever added."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models._common import utcnow


class AuditLog(db.Model):
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

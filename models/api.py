"""The open API's credentials (a base's or an employer's tokens) and the completions pushed through it."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models._common import Model, utcnow


class ApiToken(Model):
    """A bearer token that acts for one base, or reads for one employer (its HR system: its staff's hours).
    Only its SHA-256 is kept: the secret is shown once."""

    __tablename__ = "api_token"
    __table_args__ = (
        sa.CheckConstraint("(base_id IS NULL) <> (employer_id IS NULL)", name="one_owner"),
        # Names tell live tokens apart: unique among a base's live tokens, free again once revoked.
        sa.Index("uq_api_token_live_name", "base_id", "name", unique=True,
                 sqlite_where=sa.text("revoked_at IS NULL"), postgresql_where=sa.text("revoked_at IS NULL")),
        sa.Index("uq_api_token_live_employer_name", "employer_id", "name", unique=True,
                 sqlite_where=sa.text("revoked_at IS NULL"), postgresql_where=sa.text("revoked_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    base_id: Mapped[int | None] = mapped_column(sa.ForeignKey("training_base.id", ondelete="CASCADE"), index=True)
    employer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("employer.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    # The secret is 256 random bits, so a fast hash is enough: nobody can guess their way to a match.
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    # The first characters of the secret, shown in the list so that an admin can tell tokens apart.
    prefix: Mapped[str] = mapped_column(sa.String(16))
    # The admin who made it: the token acts with their right to this base, and the audit log names them.
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    # None: valid until revoked. From this moment on the API refuses it, as if revoked.
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))

    base = relationship("TrainingBase")
    employer = relationship("Employer")
    created_by = relationship("User", foreign_keys=[created_by_id])

    @property
    def is_active(self) -> bool:
        """Not revoked (it may still have expired: see is_expired)."""
        return self.revoked_at is None

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= utcnow()

    def __repr__(self) -> str:
        return f"<ApiToken {self.id} base={self.base_id} {self.prefix}>"


class ApiCompletion(Model):
    """A completion a base pushed through the API, under the client's own id for it: the same id sent
    again is recognised, so that a retried batch records nothing twice."""

    __tablename__ = "api_completion"
    __table_args__ = (
        sa.UniqueConstraint("base_id", "external_id", name="base_external_id"),
        sa.CheckConstraint("hours > 0", name="hours_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    base_id: Mapped[int] = mapped_column(sa.ForeignKey("training_base.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(sa.String(64))
    course_id: Mapped[int] = mapped_column(sa.ForeignKey("course.id"), index=True)
    learner_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    enrollment_id: Mapped[int] = mapped_column(sa.ForeignKey("enrollment.id"))
    hours: Mapped[int]
    # A keyed hash of the item as the client sent it (services.completions): a resent item matches it.
    item_digest: Mapped[str] = mapped_column(sa.String(64))
    token_id: Mapped[int | None] = mapped_column(sa.ForeignKey("api_token.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    course = relationship("Course")

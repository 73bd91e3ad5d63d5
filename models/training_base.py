"""Continuing-education bases (继续教育基地) and the admins who run them."""

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models._common import LabelledEnum, Model, enum_column, utcnow

if TYPE_CHECKING:

    pass


class BaseType(LabelledEnum):
    PROVINCIAL = "provincial", "省级继续教育基地"
    RURAL_REVITALIZATION = "rural_revitalization", "省级乡村振兴继续教育基地"
    CITY = "city", "市级继续教育基地"


class BaseStatus(LabelledEnum):
    ACTIVE = "active", "正常"
    RECTIFYING = "rectifying", "整改中"
    EXITED = "exited", "已退出"


# The disclosure fields a base must publish (DOMAIN.md, notices 002 and 004), in page order.
DISCLOSURE_FIELDS = (
    ("scope", "培训范围"),
    ("content", "培训内容"),
    ("fee_items", "收费项目及标准"),
    ("training_plan", "年度培训计划"),
    ("staff", "师资队伍"),
    ("rules", "管理制度"),
)


class TrainingBase(Model):
    __tablename__ = "training_base"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(128), unique=True)
    type: Mapped[BaseType] = mapped_column(enum_column(BaseType), index=True)
    status: Mapped[BaseStatus] = mapped_column(enum_column(BaseStatus), default=BaseStatus.ACTIVE, index=True)
    region_id: Mapped[int] = mapped_column(sa.ForeignKey("region.id"), index=True)
    website: Mapped[str] = mapped_column(sa.String(255), default="")
    address: Mapped[str] = mapped_column(sa.String(255), default="")
    contact_person: Mapped[str] = mapped_column(sa.String(64), default="")
    contact_phone: Mapped[str] = mapped_column(sa.String(32), default="")
    scope: Mapped[str] = mapped_column(sa.Text, default="")
    content: Mapped[str] = mapped_column(sa.Text, default="")
    fee_items: Mapped[str] = mapped_column(sa.Text, default="")
    training_plan: Mapped[str] = mapped_column(sa.Text, default="")
    staff: Mapped[str] = mapped_column(sa.Text, default="")
    rules: Mapped[str] = mapped_column(sa.Text, default="")
    logo_id: Mapped[int | None] = mapped_column(sa.ForeignKey("image.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    region = relationship("Region")
    logo = relationship("Image")
    memberships = relationship("BaseMembership", back_populates="base", cascade="all, delete-orphan")

    @property
    def can_publish(self) -> bool:
        return self.status != BaseStatus.EXITED

    @property
    def disclosure_missing(self) -> list[str]:
        """Labels of the disclosure fields still empty."""
        missing = [label for key, label in DISCLOSURE_FIELDS if not (getattr(self, key) or "").strip()]
        if not self.contact_phone.strip():
            missing.append("联系电话")
        return missing

    def __repr__(self) -> str:
        return f"<TrainingBase {self.id} {self.name}>"


class BaseMembership(Model):
    """A base admin's right to manage one base."""

    __tablename__ = "base_membership"
    __table_args__ = (sa.UniqueConstraint("user_id", "base_id", name="user_base"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    base_id: Mapped[int] = mapped_column(sa.ForeignKey("training_base.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    base = relationship("TrainingBase", back_populates="memberships")
    user = relationship("User", back_populates="memberships")

"""Administrative regions: provinces and the cities below them."""

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models._common import LabelledEnum, Model, enum_column


class RegionLevel(LabelledEnum):
    PROVINCE = "province", "省"
    CITY = "city", "市"


class Region(Model):
    __tablename__ = "region"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(12), unique=True)
    name: Mapped[str] = mapped_column(sa.String(64))
    level: Mapped[RegionLevel] = mapped_column(enum_column(RegionLevel))
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("region.id"), index=True)

    parent: Mapped["Region | None"] = relationship(remote_side=[id])

    @property
    def full_name(self) -> str:
        return f"{self.parent.name}{self.name}" if self.parent else self.name

    def __repr__(self) -> str:
        return f"<Region {self.code} {self.name}>"

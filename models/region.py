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
    def authority(self) -> str:
        """The region's human-resources and social-security authority, the regulator that issues its certificates:
        a province's 厅, a city's 局 (山东省人力资源和社会保障厅, 成都市人力资源和社会保障局)."""
        suffix = "人力资源和社会保障厅" if self.level == RegionLevel.PROVINCE else "人力资源和社会保障局"
        return f"{self.name}{suffix}"

    @property
    def full_name(self) -> str:
        return Region.name_under(self.parent.name if self.parent else None, self.name)

    @staticmethod
    def name_under(parent_name: str | None, name: str) -> str:
        """A region's full name from its own and its parent's (none for a province): 山东省济南市."""
        return f"{parent_name}{name}" if parent_name is not None else name

    def __repr__(self) -> str:
        return f"<Region {self.code} {self.name}>"

"""A base's own figures for a year's official statistics (notice 004, attachments 3 and 4) that the site cannot
count: the special funds spent, the department that carries the work out, and the people trained in the
province's major projects and strategies, in total and from the non-public sector, this year and planned."""

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models._common import Model, utcnow

# 领域 of the major-projects statistics (notice 004, attachment 4), grouped by strategy, in the form's order.
# The official report's layout, so it lives here (as models.course.FIELDS does for attachment 3).
STRATEGIC_FIELDS = (
    ("新旧动能转换十强产业", ("新一代信息技术", "高端装备", "新能源新材料", "现代海洋", "医养健康", "高端化工",
                    "现代高效农业", "文化创意", "精品旅游", "现代金融服务")),
    ("乡村振兴", ("农业科技人才", "农村专业人才", "新型职业农民", "农村乡土人才", "农村创新创业人才", "其他人才")),
    ("海洋强省", ("海洋科技创新", "海洋生态环境保护", "世界一流港口建设", "海洋新兴产业壮大", "海洋传统产业升级",
              "智慧海洋突破", "军民深度融合", "海洋文化振兴", "海洋开放合作", "海洋治理能力提升")),
)
STRATEGIC_FIELD_NAMES = tuple(name for _strategy, names in STRATEGIC_FIELDS for name in names)


class AnnualReport(Model):
    """What a base reports for one year beside what the site counts: 专项经费 and the implementing department
    of the knowledge-update statistics, 投入经费 of the major-projects statistics, a note for each."""

    __tablename__ = "annual_report"
    __table_args__ = (
        sa.UniqueConstraint("base_id", "year", name="base_year"),
        sa.CheckConstraint("knowledge_funding >= 0 AND strategic_funding >= 0", name="funding_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    base_id: Mapped[int] = mapped_column(sa.ForeignKey("training_base.id"))  # led by the unique (base_id, year)
    year: Mapped[int]
    department: Mapped[str] = mapped_column(sa.String(128), default="", server_default="")
    # 万元, as the forms state it.
    knowledge_funding: Mapped[Decimal] = mapped_column(sa.Numeric(12, 2), default=Decimal("0"), server_default="0")
    knowledge_note: Mapped[str] = mapped_column(sa.String(255), default="", server_default="")
    strategic_funding: Mapped[Decimal] = mapped_column(sa.Numeric(12, 2), default=Decimal("0"), server_default="0")
    strategic_note: Mapped[str] = mapped_column(sa.String(255), default="", server_default="")
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    base = relationship("TrainingBase")
    lines = relationship("StrategicTraining", back_populates="report", cascade="all, delete-orphan",
                         order_by="StrategicTraining.id")


class StrategicTraining(Model):
    """People a base trained (and plans to train next year) in one strategic field, of whom from the
    non-public sector (非公有制经济领域). A field without a row is zero throughout."""

    __tablename__ = "strategic_training"
    __table_args__ = (
        sa.UniqueConstraint("report_id", "field", name="report_field"),
        sa.CheckConstraint(
            "trained >= 0 AND trained_non_public >= 0 AND planned >= 0 AND planned_non_public >= 0",
            name="counts_not_negative",
        ),
        sa.CheckConstraint("trained_non_public <= trained AND planned_non_public <= planned",
                           name="non_public_within_total"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    report_id: Mapped[int] = mapped_column(sa.ForeignKey("annual_report.id", ondelete="CASCADE"))
    field: Mapped[str] = mapped_column(sa.String(32))
    trained: Mapped[int] = mapped_column(default=0)
    trained_non_public: Mapped[int] = mapped_column(default=0)
    planned: Mapped[int] = mapped_column(default=0)
    planned_non_public: Mapped[int] = mapped_column(default=0)

    report = relationship("AnnualReport", back_populates="lines")

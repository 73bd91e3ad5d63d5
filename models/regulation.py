"""The regulator's records: base status history, class plans, targets, the rubric and evaluations."""

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models._common import LabelledEnum, Model, enum_column, utcnow
from models.training_base import BaseStatus, BaseType


class BaseStatusChange(Model):
    """Every change of a base's status, with who, when and why. Rows are only ever added."""

    __tablename__ = "base_status_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    base_id: Mapped[int] = mapped_column(sa.ForeignKey("training_base.id"), index=True)
    from_status: Mapped[BaseStatus | None] = mapped_column(enum_column(BaseStatus))
    to_status: Mapped[BaseStatus] = mapped_column(enum_column(BaseStatus))
    reason: Mapped[str] = mapped_column(sa.Text)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    evaluation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("evaluation.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    actor = relationship("User")


class PlanStatus(LabelledEnum):
    PENDING = "pending", "待审核"
    APPROVED = "approved", "已批准"
    REJECTED = "rejected", "已驳回"


class ClassPlan(Model):
    """办班计划: filed by the base for a face-to-face professional course, decided by the regulator."""

    __tablename__ = "class_plan"

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(sa.ForeignKey("course.id"), index=True)
    start_date: Mapped[date]
    end_date: Mapped[date]
    place: Mapped[str] = mapped_column(sa.String(255))
    teachers: Mapped[str] = mapped_column(sa.Text)
    syllabus: Mapped[str] = mapped_column(sa.Text)
    expected_trainees: Mapped[int]
    status: Mapped[PlanStatus] = mapped_column(enum_column(PlanStatus), default=PlanStatus.PENDING, index=True)
    filed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    filed_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str] = mapped_column(sa.Text, default="", server_default="")

    course = relationship("Course")


class Target(Model):
    """Yearly targets for a type of base in a region (a city's own row wins over its province's). There is
    no target for everywhere: each row belongs to the region whose notice (or regulator) sets it."""

    __tablename__ = "target"
    __table_args__ = (
        sa.UniqueConstraint("base_type", "year", "region_id", name="type_year_region"),
        sa.CheckConstraint("min_trainees >= 0 AND min_projects >= 0", name="not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    base_type: Mapped[BaseType] = mapped_column(enum_column(BaseType))
    year: Mapped[int]
    region_id: Mapped[int] = mapped_column(sa.ForeignKey("region.id"))
    min_trainees: Mapped[int]
    min_projects: Mapped[int]
    set_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))


class Outcome(LabelledEnum):
    KEEP = "keep", "合格"
    RECTIFY = "rectify", "整改"
    EXIT = "exit", "退出"


class Rubric(Model):
    """A region's evaluation weights and thresholds from a year on (the latest row not after the year counts),
    and the outcome proposed for a base that missed its target (Henan, notice 002: 退出). A column left None
    is the province's value (services.rules.resolve); ``unconfirmed`` names the columns seeded as defaults
    that no notice states."""

    __tablename__ = "rubric"
    __table_args__ = (sa.UniqueConstraint("region_id", "year", name="rubric_region_year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(sa.ForeignKey("region.id"))
    year: Mapped[int]
    weight_trainees: Mapped[int | None]
    weight_projects: Mapped[int | None]
    weight_completion: Mapped[int | None]
    weight_rating: Mapped[int | None]
    weight_disclosure: Mapped[int | None]
    # Points taken off the score for each course that ran without an approved class plan.
    penalty_per_overdue_plan: Mapped[int | None]
    # A rating of a course nobody rated counts as this (out of 100), neither reward nor punishment.
    unrated_score: Mapped[int | None]
    keep_threshold: Mapped[int | None]
    exit_threshold: Mapped[int | None]
    missed_target_outcome: Mapped[Outcome | None] = mapped_column(enum_column(Outcome))
    unconfirmed: Mapped[list] = mapped_column(sa.JSON, default=list, server_default="[]")


class EvaluationStatus(LabelledEnum):
    DRAFT = "draft", "待确认"
    CONFIRMED = "confirmed", "已确认"


class Evaluation(Model):
    """One annual evaluation of the bases in a region; once confirmed it never changes."""

    __tablename__ = "evaluation"
    __table_args__ = (sa.UniqueConstraint("year", "region_id", name="year_region"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int]
    region_id: Mapped[int] = mapped_column(sa.ForeignKey("region.id"))
    status: Mapped[EvaluationStatus] = mapped_column(enum_column(EvaluationStatus), default=EvaluationStatus.DRAFT)
    run_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    run_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    confirmed_at: Mapped[datetime | None]

    region = relationship("Region")
    results = relationship("EvaluationResult", back_populates="evaluation", cascade="all, delete-orphan",
                           order_by="EvaluationResult.id")


class EvaluationResult(Model):
    """One base's figures, score and outcome in an evaluation."""

    __tablename__ = "evaluation_result"
    __table_args__ = (sa.UniqueConstraint("evaluation_id", "base_id", name="evaluation_base"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(sa.ForeignKey("evaluation.id", ondelete="CASCADE"), index=True)
    base_id: Mapped[int] = mapped_column(sa.ForeignKey("training_base.id"), index=True)
    trainees: Mapped[int]
    projects: Mapped[int]
    completion_rate: Mapped[float | None]
    average_rating: Mapped[float | None]
    disclosure_rate: Mapped[float]
    overdue_plans: Mapped[int]
    target_trainees: Mapped[int | None]
    target_projects: Mapped[int | None]
    score: Mapped[float]
    proposed: Mapped[Outcome] = mapped_column(enum_column(Outcome))
    final: Mapped[Outcome | None] = mapped_column(enum_column(Outcome))
    override_reason: Mapped[str] = mapped_column(sa.Text, default="", server_default="")

    evaluation = relationship("Evaluation", back_populates="results")
    base = relationship("TrainingBase")

    @property
    def missed_target(self) -> bool:
        return (self.target_trainees is not None and self.trainees < self.target_trainees) or (
            self.target_projects is not None and self.projects < self.target_projects
        )

    @property
    def outcome(self) -> Outcome:
        return self.final or self.proposed

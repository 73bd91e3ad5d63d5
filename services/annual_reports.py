"""A base's own figures for the year's official statistics (notice 004, attachments 3 and 4): what the site
cannot count, entered by the base's admin for a year and read by the regulator's exports."""

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TypeVar

import sqlalchemy as sa

from extensions import db
from models import STRATEGIC_FIELD_NAMES, AnnualReport, StrategicTraining, TrainingBase
from services import audit, policies
from services.actors import Actor
from services.errors import DomainError, Invalid, NotAllowed, collect
from services.infra import clock
from services.infra.locking import locked

_T = TypeVar("_T")

MAX_FUNDING = Decimal("9999999999.99")  # Numeric(12, 2), in 万元
MAX_PEOPLE = 10_000_000
COUNTS = ("trained", "trained_non_public", "planned", "planned_non_public")
TEXTS = {"department": 128, "knowledge_note": 255, "strategic_note": 255}
FUNDS = ("knowledge_funding", "strategic_funding")


@dataclass
class Figures:
    """A base's report for a year as the form shows it: stored values, or zeros and blanks where none."""

    year: int
    department: str = ""
    knowledge_funding: Decimal = Decimal("0.00")
    knowledge_note: str = ""
    strategic_funding: Decimal = Decimal("0.00")
    strategic_note: str = ""
    # field → {"trained": n, "trained_non_public": n, "planned": n, "planned_non_public": n}
    strategic: dict[str, dict[str, int]] = field(default_factory=dict)


def year_range() -> tuple[int, int]:
    """The years a base may report: ten back and next year (a plan), as the regulator's exports offer."""
    this_year = clock.today().year
    return this_year - 10, this_year + 1


def figures(base: TrainingBase, year: int) -> Figures:
    """The base's report for ``year`` (zeros where it has entered nothing). Two queries."""
    report = db.session.execute(
        sa.select(AnnualReport).where(AnnualReport.base_id == base.id, AnnualReport.year == year)
    ).scalar_one_or_none()
    found = Figures(year=year, strategic={name: dict.fromkeys(COUNTS, 0) for name in STRATEGIC_FIELD_NAMES})
    if report is None:
        return found
    for name in (*TEXTS, *FUNDS):
        setattr(found, name, getattr(report, name))
    for line in report.lines:
        if line.field in found.strategic:
            found.strategic[line.field] = {key: getattr(line, key) for key in COUNTS}
    return found


def save(actor: Actor, base_id: int, year: int, data: dict) -> AnnualReport:  # noqa: C901  one form: texts, funds and 26 fields of counts, checked then stored under one lock
    """Store the base's figures for ``year``: the texts, funds (万元, two decimals) and, per strategic field,
    the four counts (missing ones are zero). Audited as ``report.set`` with old and new values; a form sent
    again unchanged writes nothing. Under the base's lock, so two admins saving at once leave one report.

    :raise NotAllowed: the actor is not an admin of the base (or there is no such base).
    :raise DomainError: the base has exited; a year outside year_range(); a fund negative, above the column or
        with more than two decimals; a count negative or too large; a non-public count above its total; a text
        too long. The message names the field (``error.field``: the form's name for it).
    """
    low, high = year_range()
    if not low <= year <= high:
        raise DomainError(f"只能填报 {low}—{high} 年度的统计数据", field="year")
    values = _checked(data)
    with locked(TrainingBase, base_id) as base:
        if base is None or not policies.may_manage_base(actor, base):
            raise NotAllowed("您不是该基地的管理员")
        if not base.can_publish:
            raise DomainError("本基地已退出，不能再填报统计数据")
        report = db.session.execute(
            sa.select(AnnualReport).where(AnnualReport.base_id == base.id, AnnualReport.year == year)
        ).scalar_one_or_none()
        before = _as_dict(report) if report is not None else None
        if report is None:
            report = AnnualReport(base_id=base.id, year=year)
            db.session.add(report)
        for name in (*TEXTS, *FUNDS):
            setattr(report, name, values[name])
        stored = {line.field: line for line in report.lines}
        for name, counts in values["strategic"].items():
            line = stored.get(name)
            if not any(counts.values()):
                if line is not None:
                    report.lines.remove(line)  # a field of zeros needs no row
                continue
            if line is None:
                line = StrategicTraining(field=name)
                report.lines.append(line)
            for key, value in counts.items():
                setattr(line, key, value)
        after = _as_dict(report)
        if after == before:
            db.session.rollback()
            return report
        report.updated_by_id = actor.id
        audit.record(actor, "report.set", base, base_id=base.id,
                     details={"year": year, "old": before, "new": after})
    return report


def _checked(data: dict) -> dict:
    """The figures parsed, every one judged: a form of a hundred and more inputs shows each fault beside its
    input in one round (services.errors.collect), not the first alone.

    :raise Invalid: each input at fault, in the form's order (texts, funds, the strategic rows).
    """
    problems: dict[str, str] = {}
    values: dict = {}
    for name, limit in TEXTS.items():
        text = " ".join(str(data.get(name) or "").split())
        if len(text) > limit:
            problems[name] = f"不能超过 {limit} 个字"
        values[name] = text
    for name in FUNDS:
        values[name] = _parsed(problems, _funding, data.get(name), name)
    strategic = data.get("strategic") or {}
    unknown = set(strategic) - set(STRATEGIC_FIELD_NAMES)
    if unknown:
        problems["strategic"] = f"没有“{sorted(unknown)[0]}”这一领域"
    values["strategic"] = {}
    for index, name in enumerate(STRATEGIC_FIELD_NAMES):
        given = strategic.get(name) or {}
        counts = {key: _parsed(problems, _count, given.get(key), f"strategic_{index}_{key}") for key in COUNTS}
        for total, part in (("trained", "trained_non_public"), ("planned", "planned_non_public")):
            of_them, all_of = counts[part], counts[total]
            if of_them is not None and all_of is not None and of_them > all_of:
                problems[f"strategic_{index}_{part}"] = f"{name}：其中非公有制经济领域培训人数不能超过总数"
        values["strategic"][name] = counts
    if problems:
        raise Invalid(problems)
    return values


def _parsed(problems: dict[str, str], parse: Callable[[object, str], _T], raw: object, name: str) -> _T | None:
    """``parse(raw, name)``, or None with its fault in ``problems``."""
    return collect(problems, lambda: parse(raw, name), name)


def _funding(raw: object, name: str) -> Decimal:
    if raw is None or str(raw).strip() == "":
        return Decimal("0.00")
    try:
        amount = Decimal(str(raw).strip())
    except InvalidOperation:
        raise DomainError("请填写金额（万元），如 12.5", field=name) from None
    if not amount.is_finite():
        raise DomainError("请填写金额（万元），如 12.5", field=name)
    if amount < 0:
        raise DomainError("金额不能为负数", field=name)
    # Judged before quantize(), which raises on a number with more digits than the context holds (1e999999).
    if amount > MAX_FUNDING:
        raise DomainError("金额过大，请以万元为单位填写", field=name)
    if amount != amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP):
        raise DomainError("金额最多保留两位小数（万元）", field=name)
    return amount.quantize(Decimal("0.01"))


def _count(raw: object, name: str) -> int:
    if raw is None or str(raw).strip() == "":
        return 0
    try:
        number = int(str(raw).strip())
    except ValueError:
        raise DomainError("请填写整数人数", field=name) from None
    if number < 0:
        raise DomainError("人数不能为负数", field=name)
    if number > MAX_PEOPLE:
        raise DomainError(f"人数不能超过 {MAX_PEOPLE}", field=name)
    return number


def _as_dict(report: AnnualReport) -> dict:
    return {
        **{name: getattr(report, name) for name in TEXTS},
        **{name: str(Decimal(getattr(report, name)).quantize(Decimal("0.01"))) for name in FUNDS},
        "strategic": {line.field: [getattr(line, key) for key in COUNTS] for line in report.lines
                      if any(getattr(line, key) for key in COUNTS)},
    }

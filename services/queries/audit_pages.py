"""The audit log as a regulator reads it (/regulator/audit and its XLSX export): each entry with its action,
fields and values in Chinese (services.audit_labels), the object it is about by name, with what the
regulator may open of it, and people masked. A page is two queries whatever its size: the entries, then
the names of every object they are about (one UNION ALL)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from extensions import db
from models import (
    AuditLog,
    BaseApplication,
    Course,
    Declaration,
    Employer,
    Evaluation,
    Region,
    Role,
    SectorAuthority,
    SectorGuide,
    TrainingBase,
    User,
)
from services import audit, audit_labels, policies
from services.certificates import mask_name


@dataclass(frozen=True)
class Named:
    """What an entry is about: its kind in words, its name, and which page (if any) the regulator may open:
    ``link`` is the object type whose page it is, with ``id`` ("" when there is none to open)."""

    type_label: str
    name: str
    link: str = ""
    id: int | None = None


@dataclass(frozen=True)
class Row:
    id: int
    at: datetime
    actor: str
    actor_role: str
    action: str
    action_label: str
    kind: str
    about: Named
    base: Named | None
    details: list[tuple[str, str]]
    repeats: int
    last_repeat_at: datetime | None


def person(user: User | None) -> str:
    """A person as the log shows them: a learner's name masked (张**), staff by their full name."""
    if user is None:
        return "（系统）"
    return mask_name(user.name) if user.role == Role.LEARNER else user.name


def _names_query(regulator: User, wanted: dict[str, set[int]]) -> sa.CompoundSelect | sa.Select | None:
    """One SELECT of (type, id, name, flag) for the objects in ``wanted``, a part per type present. ``flag``: a
    course the public may open, a user who is a learner (masked), any other object in the regulator's reach."""
    reach = policies.region_ids_in_reach(regulator)

    def part(kind: str, model: Any, name: Any, flag: Any = None) -> sa.Select:
        return (sa.select(sa.literal(kind).label("type"), model.id.label("id"), sa.cast(name, sa.String).label("name"),
                          (sa.literal(0) if flag is None else sa.case((flag, 1), else_=0)).label("flag"))
                .where(model.id.in_(sorted(wanted[kind]))))

    parts = {
        "training_base": lambda: part("training_base", TrainingBase, TrainingBase.name,
                                      TrainingBase.region_id.in_(reach)),
        "course": lambda: part("course", Course, Course.title, policies.public_courses())
        .join(Course.base).join(TrainingBase.region),
        "declaration": lambda: part("declaration", Declaration, Declaration.title),
        "user": lambda: part("user", User, User.name, User.role == Role.LEARNER),
        "evaluation": lambda: part("evaluation", Evaluation, Evaluation.year, Evaluation.region_id.in_(reach)),
        "employer": lambda: part("employer", Employer, Employer.name, Employer.region_id.in_(reach)),
        "sector_authority": lambda: part("sector_authority", SectorAuthority, SectorAuthority.name,
                                         SectorAuthority.region_id.in_(reach)),
        "base_application": lambda: part("base_application", BaseApplication, BaseApplication.name,
                                         BaseApplication.region_id.in_(reach)),
        "sector_guide": lambda: part("sector_guide", SectorGuide, SectorGuide.title),
        "region": lambda: part("region", Region, Region.name),
    }
    selects = [parts[kind]() for kind in sorted(wanted) if kind in parts]
    if not selects:
        return None
    return selects[0] if len(selects) == 1 else sa.union_all(*selects)


# Object types with a regulator page: opened when the object is in the regulator's reach.
REGULATOR_PAGES = ("training_base", "evaluation", "employer", "sector_authority", "base_application")


def _wanted(entries: Sequence[AuditLog]) -> dict[str, set[int]]:
    """Object type → the ids the entries name: what each is about, its base, the objects of its details."""
    wanted: dict[str, set[int]] = {}
    for entry in entries:
        if entry.object_id is not None:
            wanted.setdefault(entry.object_type, set()).add(entry.object_id)
        if entry.base_id is not None:
            wanted.setdefault("training_base", set()).add(entry.base_id)
        for key, value in (entry.details or {}).items():
            if audit_labels.is_reference(key, value):
                wanted.setdefault(audit_labels.REFERENCES[key], set()).add(value)
    return wanted


def names_of(regulator: User, entries: Sequence[AuditLog]) -> dict[tuple[str, int], Named]:
    """What each entry is about, and its base, by name, with the page the regulator may open. One query (none
    for no object)."""
    query = _names_query(regulator, _wanted(entries))
    if query is None:
        return {}
    found = {}
    for row in db.session.execute(query):
        name, link = str(row.name), ""
        if row.type == "user" and row.flag:
            name = mask_name(name)
        elif row.type == "evaluation":
            name = f"{name}年度评估"
        if row.flag and (row.type == "course" or row.type in REGULATOR_PAGES):
            link = row.type
        type_label = audit_labels.object_type_label(row.type)
        found[(row.type, row.id)] = Named(type_label, name, link, row.id if link else None)
    return found


def _about(entry: AuditLog, names: dict[tuple[str, int], Named]) -> Named:
    type_label = audit_labels.object_type_label(entry.object_type)
    if entry.object_id is None:
        return Named(type_label, "—")
    return names.get((entry.object_type, entry.object_id)) or Named(type_label, f"#{entry.object_id}")


def rows_of(regulator: User, entries: Sequence[AuditLog]) -> list[Row]:
    """The entries as the regulator reads them. One query (names_of) besides the entries."""
    names = names_of(regulator, entries)

    def name_of(object_type: str, object_id: int) -> str | None:
        found = names.get((object_type, object_id))
        return found.name if found else None

    return [
        Row(id=e.id, at=e.at, actor=person(e.actor), actor_role=e.actor.role.label if e.actor else "",
            action=e.action, action_label=audit_labels.action_label(e.action), kind=audit_labels.kind_of(e.action),
            about=_about(e, names), base=names.get(("training_base", e.base_id or 0)),
            details=audit_labels.details_lines(e.object_type, e.details, name_of),
            repeats=e.repeat.repeats if e.repeat else 0, last_repeat_at=e.repeat.last_at if e.repeat else None)
        for e in entries
    ]


def audit_page(regulator: User, wanted: audit.AuditFilter, before: int | None,
               size: int = audit.PAGE_SIZE) -> list[Row]:
    """One page of the log, newest first, before the entry ``before``. Two queries."""
    return rows_of(regulator, audit.entries_for(regulator, before=before, wanted=wanted, limit=size))


def bases_to_filter(regulator: User) -> Sequence[tuple[int, str]]:
    """(id, name) of the bases in the regulator's reach, for the base filter. One query."""
    return db.session.execute(
        sa.select(TrainingBase.id, TrainingBase.name).where(policies.bases_in_reach(regulator))
        .order_by(TrainingBase.name)).tuples().all()

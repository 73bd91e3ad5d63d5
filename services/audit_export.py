"""The audit log a regulator reads, as an XLSX workbook of the filtered entries (newest first), itself audited
as an export."""

from datetime import UTC, date, datetime

from models import User
from services import audit
from services.actors import Actor
from services.infra import spreadsheets
from services.infra.clock import LOCAL_TZ
from services.queries import audit_pages

# A workbook holds at most this many entries (the newest of the filter); a longer span is asked for in parts.
EXPORT_LIMIT = 20000
_BATCH = 1000
HEADER = ("编号", "时间（北京时间）", "操作人", "角色", "类别", "操作", "对象类型", "对象", "基地", "详情与结果",
          "此后重复次数")


def _local(at: datetime) -> str:
    return at.replace(tzinfo=UTC).astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S")


def audit_xlsx(regulator: User, wanted: audit.AuditFilter) -> bytes:
    """The entries of ``wanted`` the regulator may read, at most EXPORT_LIMIT, as a workbook; recorded as the
    export "export.audit" (a repeat within the window is a count on its entry). Two queries per thousand
    entries."""
    rows: list[list] = [list(HEADER)]
    before = None
    while len(rows) <= EXPORT_LIMIT:
        page = audit_pages.audit_page(regulator, wanted, before, size=min(_BATCH, EXPORT_LIMIT + 1 - len(rows)))
        rows.extend([
            r.id, _local(r.at), r.actor, r.actor_role, r.kind, r.action_label, r.about.type_label, r.about.name,
            r.base.name if r.base else "", "；".join(f"{label}：{text}" for label, text in r.details), r.repeats,
        ] for r in page)
        if len(page) < _BATCH:
            break
        before = page[-1].id
    _record(regulator, wanted)
    return spreadsheets.xlsx("审计日志", rows)


def _record(actor: Actor, wanted: audit.AuditFilter) -> None:
    filters = {key: value.isoformat() if isinstance(value, date) else value
               for key, value in vars(wanted).items() if value}
    audit.record_repeatable(actor, "export.audit", actor, subject=f"audit {sorted(filters.items())}",
                            details=filters)

"""Base admins' own base: its public disclosure and logo."""

from typing import IO

from models import TrainingBase
from services import audit, policies
from services.actors import Actor
from services.errors import DomainError
from services.infra import images
from services.infra.transaction import unit_of_work

DISCLOSURE_EDITABLE = (
    "scope", "content", "fee_items", "training_plan", "staff", "rules", "contact_person", "contact_phone",
    "address", "website",
)


def update_disclosure(actor: Actor, base: TrainingBase, data: dict,
                      logo_stream: IO[bytes] | None = None) -> TrainingBase:
    """Save the base's public disclosure (and a new logo); the audit log keeps old and new values.

    :raise NotAllowed: the actor does not manage the base.
    :raise DomainError: the base has exited (its disclosure is frozen).
    :raise ImageRejected: the logo is not an acceptable image.
    """
    policies.ensure_may_manage_base(actor, base)
    if not base.can_publish:
        raise DomainError("本基地已退出，公开信息不能再修改")
    with unit_of_work():
        for name in DISCLOSURE_EDITABLE:
            if name in data:
                setattr(base, name, (data[name] or "").strip())
        changes = audit.diff(base, DISCLOSURE_EDITABLE)
        if logo_stream is not None:
            images.replace(base, "logo", logo_stream, actor, changes)
        if changes:  # a form sent again unchanged is no event: it cannot fill the append-only log
            audit.record(actor, "base.disclosure", base, base_id=base.id, details=changes)
    return base

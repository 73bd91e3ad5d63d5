"""API tokens of a base: made and revoked by its admins, checked on every API request.

A token is ``jidi_`` and 43 random URL-safe characters. The site shows it once, at creation, and keeps only
its SHA-256. A token acts for its base with the right of the admin who made it, so it stops working the
moment it is revoked, expires (its lifetime is chosen when it is made), or that admin is disabled or no
longer manages the base.
"""

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager

from extensions import db
from models import ApiToken, TrainingBase, User
from models._common import utcnow
from services import audit, policies
from services.actors import Actor
from services.errors import DomainError
from services.infra.locking import writing
from services.infra.transaction import end_reads, unit_of_work

PREFIX = "jidi_"
NAME_LENGTH = 64
NAME_TAKEN = "已有同名的未吊销令牌（过期的也算），请换一个名称或先吊销旧令牌"
# How many live tokens a base may hold: enough for every system it feeds, few enough to review at a glance.
MAX_ACTIVE_PER_BASE = 20
# last_used_at is a hint for the admin ("unused for months: revoke it?"), so it is written at most this often.
LAST_USED_GRANULARITY = timedelta(minutes=5)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def tokens_of(base: TrainingBase) -> Sequence[tuple[ApiToken, bool]]:
    """The base's tokens, live ones first, newest first, with their makers, each with whether its maker may
    still act for the base (if not, the API refuses it although it was never revoked). One query."""
    return db.session.execute(
        sa.select(ApiToken, policies.tokens_maker_may_act())
        .join(User, User.id == ApiToken.created_by_id)
        .where(ApiToken.base_id == base.id)
        .options(contains_eager(ApiToken.created_by))
        .order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc())
    ).tuples().all()


def create_token(actor: Actor, base: TrainingBase, name: str, lifetime_days: int = 0,
                 allowed_lifetimes: Sequence[int] = (0,)) -> tuple[ApiToken, str]:
    """Make a token for the base, valid for ``lifetime_days`` (0: until revoked), which must be one of
    ``allowed_lifetimes`` (the platform's API_TOKEN_LIFETIME_DAYS); returns the token and its secret, which
    is never available again.

    :raise NotAllowed: the actor does not manage the base.
    :raise DomainError: the base has exited, the name is empty or taken, the lifetime is not offered, or
        the base has too many tokens.
    """
    policies.ensure_may_manage_base(actor, base)
    name = (name or "").strip()
    if lifetime_days not in allowed_lifetimes:
        raise DomainError("请选择列出的有效期", field="lifetime")
    if not base.can_publish:
        raise DomainError("本基地已退出，不能再创建接口令牌")
    if not name:
        raise DomainError("请填写令牌名称", field="name")
    if len(name) > NAME_LENGTH:
        raise DomainError(f"令牌名称不能超过 {NAME_LENGTH} 个字", field="name")
    live = db.session.execute(
        sa.select(ApiToken.name).where(ApiToken.base_id == base.id, ApiToken.revoked_at.is_(None))
    ).scalars().all()
    if name in live:
        raise DomainError(NAME_TAKEN, field="name")
    if len(live) >= MAX_ACTIVE_PER_BASE:
        raise DomainError(f"每个基地最多 {MAX_ACTIVE_PER_BASE} 个未吊销的令牌，请先吊销不用的或已过期的令牌")
    secret = PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    token = ApiToken(base_id=base.id, name=name, token_hash=digest(secret), prefix=secret[:len(PREFIX) + 4],
                     created_by_id=actor.id, created_at=now,
                     expires_at=now + timedelta(days=lifetime_days) if lifetime_days else None)
    try:
        with unit_of_work():
            db.session.add(token)
            db.session.flush()
            audit.record(actor, "api_token.create", token, base_id=base.id,
                         details={"name": name, "prefix": token.prefix, "expires_at": token.expires_at})
    except IntegrityError as error:  # the same name made at the same moment by another request
        raise DomainError(NAME_TAKEN, field="name") from error
    return token, secret


def revoke_token(actor: Actor, base: TrainingBase, token_id: int) -> ApiToken | None:
    """Revoke one of the base's tokens; it is refused from the next request on. None: no such token of
    this base. Revoking a revoked token changes nothing.

    :raise NotAllowed: the actor does not manage the base.
    """
    policies.ensure_may_manage_base(actor, base)
    token = db.session.execute(
        sa.select(ApiToken).where(ApiToken.id == token_id, ApiToken.base_id == base.id)
    ).scalar_one_or_none()
    if token is None or token.revoked_at is not None:
        return token
    with unit_of_work():
        token.revoked_at = utcnow()
        token.revoked_by_id = actor.id
        audit.record(actor, "api_token.revoke", token, base_id=base.id,
                     details={"name": token.name, "prefix": token.prefix})
    return token


@dataclass
class Principal:
    """Who an API request acts as: the token, its base and the admin whose right it carries."""

    token: ApiToken
    base: TrainingBase
    user: User
    # Plain values, read while the rows were loaded: a write ends the token check's transaction before it
    # reads its body, which expires the objects above, and these stay readable without a query.
    token_id: int
    token_prefix: str


def authenticate(secret: str) -> Principal | None:
    """The principal of a live token, or None (unknown, revoked, expired, its maker disabled or no longer
    an admin of the base). One query, plus a write at most every few minutes to note the token's last use."""
    if not secret.startswith(PREFIX) or len(secret) > 100:
        return None
    now = utcnow()
    row = db.session.execute(
        sa.select(ApiToken, TrainingBase, User)
        .join(TrainingBase, TrainingBase.id == ApiToken.base_id)
        .join(User, User.id == ApiToken.created_by_id)
        .where(ApiToken.token_hash == digest(secret), ApiToken.revoked_at.is_(None),
               sa.or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now), policies.tokens_maker_may_act())
    ).first()
    if row is None:
        return None
    token, base, user = row
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_GRANULARITY:
        # A write in a request that may be a GET: its own short transaction, begun as a writer.
        end_reads()
        with writing(), unit_of_work():
            db.session.execute(
                sa.update(ApiToken)
                .where(ApiToken.id == token.id,
                       sa.or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now - LAST_USED_GRANULARITY))
                .values(last_used_at=now).execution_options(synchronize_session=False))
    return Principal(token=token, base=base, user=user, token_id=token.id, token_prefix=token.prefix)

"""API tokens of a base or of an employer: made and revoked by their admins, checked on every API request.

A token is ``jidi_`` and 43 random URL-safe characters. The site shows it once, at creation, and keeps only
its SHA-256. A base's token acts for its base with the right of the admin who made it, so it stops working
the moment it is revoked, expires (its lifetime is chosen when it is made), or that admin is disabled or no
longer manages the base. An employer's token reads for its employer (its staff's hours, for its HR system)
on the same terms: while its maker is an active admin of that employer. The API answers each kind's
operations to that kind alone (blueprints.api.spec): a base's token reads nothing of an employer's, and
the other way round.
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
from models import ApiToken, Employer, EmployerStatus, TrainingBase, User
from models._common import utcnow
from services import audit, policies
from services.actors import Actor
from services.errors import DomainError
from services.infra.locking import writing
from services.infra.transaction import end_reads, unit_of_work

PREFIX = "jidi_"
NAME_LENGTH = 64
NAME_TAKEN = "已有同名的未吊销令牌（过期的也算），请换一个名称或先吊销旧令牌"
# How many live tokens a base (or an employer) may hold: enough for every system it feeds, few enough to
# review at a glance.
MAX_ACTIVE_PER_BASE = 20
MAX_ACTIVE_PER_EMPLOYER = MAX_ACTIVE_PER_BASE
# last_used_at is a hint for the admin ("unused for months: revoke it?"), so it is written at most this often.
LAST_USED_GRANULARITY = timedelta(minutes=5)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _listed(owned: sa.ColumnElement[bool], maker_may_act: sa.ColumnElement[bool]) -> Sequence[tuple[ApiToken, bool]]:
    """The tokens ``owned`` selects, live ones first, newest first, with their makers, each with whether its
    maker may still act (``maker_may_act``, a rule's SQL twin over ApiToken and its maker). One query."""
    return db.session.execute(
        sa.select(ApiToken, maker_may_act)
        .join(User, User.id == ApiToken.created_by_id)
        .where(owned)
        .options(contains_eager(ApiToken.created_by))
        .order_by(ApiToken.revoked_at.is_not(None), ApiToken.id.desc())
    ).tuples().all()


def tokens_of(base: TrainingBase) -> Sequence[tuple[ApiToken, bool]]:
    """The base's tokens with whether each one's maker may still act for the base (if not, the API refuses
    it although it was never revoked). One query."""
    return _listed(ApiToken.base_id == base.id, policies.tokens_maker_may_act())


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
    if lifetime_days not in allowed_lifetimes:
        raise DomainError("请选择列出的有效期", field="lifetime")
    if not base.can_publish:
        raise DomainError("本基地已退出，不能再创建接口令牌")
    return _create(actor, ApiToken.base_id, base.id, name, lifetime_days, MAX_ACTIVE_PER_BASE,
                   f"每个基地最多 {MAX_ACTIVE_PER_BASE} 个未吊销的令牌，请先吊销不用的或已过期的令牌")


def _create(actor: Actor, owner: sa.orm.InstrumentedAttribute, owner_id: int, name: str, lifetime_days: int,
            limit: int, too_many: str) -> tuple[ApiToken, str]:
    """A new token of the base or employer (``owner``: ApiToken.base_id or ApiToken.employer_id), its name
    checked, audited; the caller has checked who acts and the lifetime. :raise DomainError: see callers."""
    name = (name or "").strip()
    if not name:
        raise DomainError("请填写令牌名称", field="name")
    if len(name) > NAME_LENGTH:
        raise DomainError(f"令牌名称不能超过 {NAME_LENGTH} 个字", field="name")
    live = db.session.execute(
        sa.select(ApiToken.name).where(owner == owner_id, ApiToken.revoked_at.is_(None))
    ).scalars().all()
    if name in live:
        raise DomainError(NAME_TAKEN, field="name")
    if len(live) >= limit:
        raise DomainError(too_many)
    secret = PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    token = ApiToken(name=name, token_hash=digest(secret), prefix=secret[:len(PREFIX) + 4],
                     created_by_id=actor.id, created_at=now,
                     expires_at=now + timedelta(days=lifetime_days) if lifetime_days else None)
    setattr(token, owner.key, owner_id)
    details: dict[str, object] = {"name": name, "prefix": token.prefix, "expires_at": token.expires_at}
    if token.employer_id is not None:
        details["employer_id"] = token.employer_id
    try:
        with unit_of_work():
            db.session.add(token)
            db.session.flush()
            audit.record(actor, "api_token.create", token, base_id=token.base_id, details=details)
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


def employer_tokens_of(employer: Employer) -> Sequence[tuple[ApiToken, bool]]:
    """The employer's tokens with whether each one's maker may still read for the employer
    (policies.employer_maker_may_act). One query."""
    return _listed(ApiToken.employer_id == employer.id, policies.employer_tokens_maker_may_act())


def create_employer_token(actor: Actor, employer: Employer, name: str, lifetime_days: int = 0,
                          allowed_lifetimes: Sequence[int] = (0,)) -> tuple[ApiToken, str]:
    """Make a token that reads the employer's staff's hours, as create_token does for a base.

    :raise NotAllowed: the actor is not an active admin of the employer.
    :raise DomainError: the employer is not approved, the name is empty or taken, the lifetime is not
        offered, or the employer has too many tokens.
    """
    policies.ensure_may_keep_employer_tokens(actor, employer)
    if lifetime_days not in allowed_lifetimes:
        raise DomainError("请选择列出的有效期", field="lifetime")
    if employer.status != EmployerStatus.APPROVED:
        raise DomainError("单位通过审核后才能创建接口令牌")
    return _create(actor, ApiToken.employer_id, employer.id, name, lifetime_days, MAX_ACTIVE_PER_EMPLOYER,
                   f"每个单位最多 {MAX_ACTIVE_PER_EMPLOYER} 个未吊销的令牌，请先吊销不用的或已过期的令牌")


def revoke_employer_token(actor: Actor, employer: Employer, token_id: int) -> ApiToken | None:
    """Revoke one of the employer's tokens, as revoke_token does for a base's. None: no such token of this
    employer.

    :raise NotAllowed: the actor is not an active admin of the employer.
    """
    policies.ensure_may_keep_employer_tokens(actor, employer)
    token = db.session.execute(
        sa.select(ApiToken).where(ApiToken.id == token_id, ApiToken.employer_id == employer.id)
    ).scalar_one_or_none()
    if token is None or token.revoked_at is not None:
        return token
    with unit_of_work():
        token.revoked_at = utcnow()
        token.revoked_by_id = actor.id
        audit.record(actor, "api_token.revoke", token,
                     details={"name": token.name, "prefix": token.prefix, "employer_id": employer.id})
    return token


@dataclass
class Principal:
    """Who an API request acts as: the token, its base or its employer (exactly one), and the admin whose
    right it carries."""

    token: ApiToken
    base: TrainingBase | None
    user: User
    # Plain values, read while the rows were loaded: a write ends the token check's transaction before it
    # reads its body, which expires the objects above, and these stay readable without a query.
    token_id: int
    token_prefix: str
    employer: Employer | None = None


def authenticate(secret: str) -> Principal | None:
    """The principal of a live token, or None (unknown, revoked, expired, its maker disabled or no longer
    an admin of the base or of the employer). One query, plus a write at most every few minutes to note the
    token's last use. Which operations a principal may call is the API's to say (a base's or an employer's)."""
    if not secret.startswith(PREFIX) or len(secret) > 100:
        return None
    now = utcnow()
    row = db.session.execute(
        sa.select(ApiToken, TrainingBase, Employer, User)
        .outerjoin(TrainingBase, TrainingBase.id == ApiToken.base_id)
        .outerjoin(Employer, Employer.id == ApiToken.employer_id)
        .join(User, User.id == ApiToken.created_by_id)
        .where(ApiToken.token_hash == digest(secret), ApiToken.revoked_at.is_(None),
               sa.or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now),
               sa.or_(sa.and_(ApiToken.base_id.is_not(None), policies.tokens_maker_may_act()),
                      sa.and_(ApiToken.employer_id.is_not(None), policies.employer_tokens_maker_may_act())))
    ).first()
    if row is None:
        return None
    token, base, employer, user = row
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_GRANULARITY:
        # A write in a request that may be a GET: its own short transaction, begun as a writer.
        end_reads()
        with writing(), unit_of_work():
            db.session.execute(
                sa.update(ApiToken)
                .where(ApiToken.id == token.id,
                       sa.or_(ApiToken.last_used_at.is_(None), ApiToken.last_used_at < now - LAST_USED_GRANULARITY))
                .values(last_used_at=now).execution_options(synchronize_session=False))
    return Principal(token=token, base=base, user=user, token_id=token.id, token_prefix=token.prefix,
                     employer=employer)

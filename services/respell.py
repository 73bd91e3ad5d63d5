"""Identifiers stored before they had one spelling, found and re-spelt once (flask normalise-identifiers).

Before f7af603 and bbec7db an ID number could be stored in another script's digits (its HMAC then differs from
the ASCII number's, which could register again), and a phone or e-mail with full-width or invisible characters
(which sign-in, reading the one spelling, no longer finds). This finds such rows, re-spells them as
services.identifiers and services.auth.normalise_login do today, recomputes the ID number's HMAC and mask,
and reports collisions (two accounts that become one identifier) without merging or changing either.
"""

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import QueryableAttribute

from extensions import db
from models import User
from services import audit, auth, identifiers, resident_ids
from services.infra.transaction import unit_of_work

# Rows read (and ID numbers decrypted) per query: bounded memory whatever the number of accounts.
BATCH = 1000


@dataclass(frozen=True)
class Respelling:
    user_id: int
    field: str  # "email", "phone" or "id_number"
    old_masked: str
    new_masked: str


@dataclass
class RespellReport:
    changed: list[Respelling] = field(default_factory=list)
    # (field, masked new spelling, the accounts that would share it): left as they are, for a person to decide.
    collisions: list[tuple[str, str, list[int]]] = field(default_factory=list)
    # (user id, field, masked): a stored value that is not valid in its one spelling either; left as it is.
    invalid: list[tuple[int, str, str]] = field(default_factory=list)
    id_numbers_read: int = 0
    applied: bool = False


def _mask(name: str, value: str) -> str:
    return resident_ids.mask(value) if name == "id_number" else auth.masked(value)


def _maybe_old(column: QueryableAttribute[Any], digits_only: bool) -> sa.ColumnElement[bool]:
    """A superset of the values normalise_login would change, in SQL: any character outside printable ASCII or
    an upper-case letter (an e-mail), anything but ASCII digits (a phone)."""
    postgres = db.session.get_bind().dialect.name == "postgresql"
    if digits_only:
        return column.op("~")("[^0-9]") if postgres else column.op("GLOB")("*[^0-9]*")
    if postgres:
        return column.op("~")("[^!-~]|[A-Z]")
    return sa.or_(column.op("GLOB")("*[^!-~]*"), column.op("GLOB")("*[A-Z]*"))


def _logins() -> list[tuple[User, str, str, str]]:
    """(user, field, old, new) for every e-mail and phone whose one spelling differs from what is stored."""
    found = []
    for name, respell, digits_only in (("email", auth.normalise_login, False), ("phone", identifiers.phone, True)):
        column = getattr(User, name)
        for user in db.session.scalars(sa.select(User).where(column.is_not(None), _maybe_old(column, digits_only))
                                       .order_by(User.id)):
            old = getattr(user, name)
            new = respell(old)
            if new != old:
                found.append((user, name, old, new))
    return found


def _id_numbers(report: RespellReport) -> list[tuple[User, str, str, str]]:
    """(user, "id_number", old, new) for every stored ID number whose one spelling, or whose HMAC, differs.
    Neither the mask nor the ciphertext proves a number ASCII (the mask keeps its ends only), so every one is
    decrypted, BATCH rows at a time (keyset pagination on the id)."""
    found: list[tuple[User, str, str, str]] = []
    after = 0
    while True:
        batch = db.session.scalars(
            sa.select(User).where(User.id_number_ciphertext.is_not(None), User.id > after)
            .order_by(User.id).limit(BATCH)).all()
        if not batch:
            return found
        for user in batch:
            if user.id_number_ciphertext is None:  # not selected: the query asks for users with one
                continue
            old = resident_ids.decrypt(user.id_number_ciphertext)
            new = resident_ids.normalise(old)
            if new != old or resident_ids.fingerprint(new) != user.id_number_hmac:
                found.append((user, "id_number", old, new))
        report.id_numbers_read += len(batch)
        after = batch[-1].id


def _taken(name: str, values: set[str]) -> dict[str, int]:
    """{value: user id} of the accounts already holding one of ``values`` (ID numbers: by their HMAC)."""
    if not values:
        return {}
    if name == "id_number":
        by_hmac = {resident_ids.fingerprint(v): v for v in values}
        rows = db.session.execute(sa.select(User.id_number_hmac, User.id).where(User.id_number_hmac.in_(by_hmac)))
        return {by_hmac[key]: user_id for key, user_id in rows}
    column = getattr(User, name)
    return {value: user_id for value, user_id in db.session.execute(
        sa.select(column, User.id).where(column.in_(values)))}


def normalise_identifiers(apply: bool = False) -> RespellReport:
    """Find every stored e-mail, phone and ID number not in its one spelling and, with ``apply``, re-spell it:
    the ID number encrypted again with its HMAC and mask. A new spelling that another account holds already,
    or that two old ones share, is a collision: reported, none of those rows changed, nothing merged. Each
    change is audited (resident_ids.respelt, masked, naming the account's region so its regulators see it). One
    transaction; without ``apply`` nothing is written (a dry run).
    """
    report = RespellReport()
    respellings = []
    found = _logins() + _id_numbers(report)
    by_field: dict[str, dict[str, list]] = {}
    for user, name, old, new in found:
        if name == "id_number" and resident_ids.problem(new):
            report.invalid.append((user.id, name, _mask(name, new)))
            continue
        by_field.setdefault(name, {}).setdefault(new, []).append((user, old))
    for name, spellings in by_field.items():
        taken = _taken(name, set(spellings))
        for new, holders in spellings.items():
            others = sorted({taken[new]} - {user.id for user, _old in holders}) if new in taken else []
            if len(holders) > 1 or others:
                report.collisions.append((name, _mask(name, new), sorted([u.id for u, _old in holders] + others)))
                continue
            ((user, old),) = holders
            report.changed.append(Respelling(user.id, name, _mask(name, old), _mask(name, new)))
            respellings.append((user, name, old, new))
    if not apply:
        db.session.rollback()  # a dry run: it only read
        return report
    with unit_of_work():
        for respelling in respellings:
            _respell(*respelling)
    report.applied = True
    return report


def _respell(user: User, name: str, old: str, new: str) -> None:
    if name == "id_number":
        user.id_number_ciphertext = resident_ids.encrypt(new)
        user.id_number_hmac, user.id_number_masked = resident_ids.fingerprint(new), resident_ids.mask(new)
    else:
        setattr(user, name, new)
    audit.record(None, "identity.respelt", user, details={
        "field": name, "old": _mask(name, old), "new": _mask(name, new), "region_id": user.region_id})

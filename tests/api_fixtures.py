"""Fixtures of the API tests (test_api, test_api_postgres), registered for every module by conftest: a
base with a token, another base, started courses, learners with phones and ID numbers."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from extensions import db
from models import Role, User
from services import api_tokens, resident_ids
from services.infra import clock
from tests.api_schema import CheckedClient
from tests.conftest import bulk_learners

TODAY = clock.today()


@pytest.fixture
def api(app):
    app.test_client_class = CheckedClient
    return app.test_client()


@pytest.fixture
def base_a(admin_and_base):
    return admin_and_base[1]


@pytest.fixture
def token_a(admin_and_base):
    admin, base = admin_and_base
    _token, secret = api_tokens.create_token(admin, base, "省平台")
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def base_b(make_user, make_base):
    return make_base(admin=make_user(Role.BASE_ADMIN))


@pytest.fixture
def running(make_course):
    """A course of the base that has started and not ended: completions can be recorded."""

    def make(base, **kw):
        return make_course(base, start_date=kw.pop("start_date", TODAY - timedelta(days=2)),
                           end_date=kw.pop("end_date", TODAY + timedelta(days=5)), **kw)

    return make


_numbers = iter(range(10_000_000, 99_999_999))
_serial = iter(range(1, 10**6))


def id_number() -> str:
    n = next(_serial)
    born = date(1980, 1, 1) + timedelta(days=n // 1000)
    first17 = f"510104{born:%Y%m%d}{n % 1000:03d}"
    return first17 + resident_ids.check_character(first17)


@pytest.fixture
def learner(make_user):
    def make(**kw):
        number = kw.pop("id_number", id_number())
        phone = kw.pop("phone", f"139{next(_numbers):08d}")
        return make_user(Role.LEARNER, phone=phone, id_number_ciphertext=resident_ids.encrypt(number),
                         id_number_hmac=resident_ids.fingerprint(number),
                         id_number_masked=resident_ids.mask(number), **kw)

    return make


def learners_with_phones(n: int) -> list[tuple[int, str, str]]:
    """``n`` learners made in one statement (tests.conftest.bulk_learners): (id, name, phone) of each."""
    ids = bulk_learners(n)
    return db.session.execute(
        sa.select(User.id, User.name, User.phone).where(User.id.in_(ids)).order_by(User.id)).all()

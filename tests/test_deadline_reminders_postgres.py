"""The December reminders on PostgreSQL: the same behaviour (the notices' bulk insert skips a key held already
through PostgreSQL's ON CONFLICT), the same fixed number of queries."""

# ruff: noqa: F811 (tests take the imported fixtures as arguments of the same names)

import pytest

from extensions import db
from tests.test_deadline_reminders import (  # noqa: F401
    rule,
    test_24_december_sends_the_week_reminder_once,
    test_a_closed_or_disabled_account_and_other_roles_get_none,
    test_a_run_alongside_another_skips_the_notices_it_made,
    test_learners_are_taken_in_batches,
    test_on_1_december_the_short_learner_gets_one_notice_one_mail_and_a_text_and_a_rerun_sends_none,
    test_the_numbers_are_right_by_category,
    test_the_queries_are_as_many_for_50_learners_as_for_10,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def app(pg_app):
    assert db.engine.dialect.name == "postgresql"
    return pg_app

"""The enrollment window on PostgreSQL: migration 0011 both ways, the deadline's CHECK, the catalog's SQL
filter against the rule, and a self-paced course taking a learner on day 3."""

import pytest

from tests.test_enrollment_window import (  # noqa: F401 - fixtures and tests, run here on PostgreSQL
    admin,
    base,
    cases,
    december,
    self_paced,
    test_api_refuses_a_bad_deadline_with_a_problem_on_the_field,
    test_enrollable_filter_lists_exactly_the_courses_the_rule_opens,
    test_migration_turns_online_into_self_paced_and_back,
    test_self_paced_course_accepts_enrollment_on_day_three_of_its_window,
    test_the_database_refuses_a_deadline_outside_the_window,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def app(pg_app):
    """Every fixture built on ``app`` (factories, client) uses PostgreSQL in this module."""
    return pg_app

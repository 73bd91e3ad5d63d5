"""Learners' area: the dashboard, enrolling, cancelling, rating. Another learner's records answer 404."""

from flask import Blueprint

from blueprints.access import require_area
from services.queries import learner_pages

bp = Blueprint("learner", __name__, url_prefix="/me")
bp.before_request(require_area("learner"))
# The year a course's hours will count in, which the course page states before a learner enrolls.
bp.add_app_template_global(learner_pages.credit_years, "credit_years")

from blueprints.learner import routes  # noqa: E402,F401

"""Learners' area: the dashboard, enrolling, cancelling, rating. Another learner's records answer 404."""

from flask import Blueprint

from blueprints.access import require_role
from models import Role

bp = Blueprint("learner", __name__, url_prefix="/me")
bp.before_request(require_role(Role.LEARNER))

from blueprints.learner import routes  # noqa: E402,F401

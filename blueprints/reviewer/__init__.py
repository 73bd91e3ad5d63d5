"""Reviewers' area: their employer's declarations, to approve or reject within the deadline."""

from flask import Blueprint

from blueprints.access import require_area

bp = Blueprint("reviewer", __name__, url_prefix="/review")
bp.before_request(require_area("reviewer"))

from blueprints.reviewer import routes  # noqa: E402,F401

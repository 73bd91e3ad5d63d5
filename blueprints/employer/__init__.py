"""Employers' area (/employer): the employer's admins run its registration, its reviewers, who works there
(confirming or refusing learners' claims), its staff's progress and its API tokens. Reviewing declarations
is the reviewer area's, which admits employer admins too."""

from flask import Blueprint

from blueprints.access import require_area

bp = Blueprint("employer", __name__, url_prefix="/employer")
bp.before_request(require_area("employer"))

from blueprints.employer import routes, tokens  # noqa: E402,F401

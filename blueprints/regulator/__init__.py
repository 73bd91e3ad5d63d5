"""Regulators' area: the base registry, class plans, targets, the annual evaluation and exports.

A regulator sees the bases of their region (a province regulator, every city below it); anything
outside answers 404.
"""

from flask import Blueprint

from blueprints.access import require_area

bp = Blueprint("regulator", __name__, url_prefix="/regulator")
bp.before_request(require_area("regulator"))

from blueprints.regulator import routes  # noqa: E402,F401

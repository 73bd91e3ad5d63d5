"""Sector authorities' area (/sector): the sector's review step for declared hours, and its study guides."""

from flask import Blueprint

from blueprints.access import require_area

bp = Blueprint("sector", __name__, url_prefix="/sector")
bp.before_request(require_area("sector"))

from blueprints.sector import routes  # noqa: E402,F401

"""Platform administrators' area: what is national rather than any region's (the holiday calendar; regions
and regulators, which it creates and disables)."""

from flask import Blueprint

from blueprints.access import require_area

bp = Blueprint("platform", __name__, url_prefix="/platform")
bp.before_request(require_area("platform"))

from blueprints.platform import routes  # noqa: E402,F401

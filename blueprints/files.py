"""Private files: declaration evidence, served only as downloads to those who may see it."""

from flask import Blueprint, abort, send_file
from flask_login import current_user, login_required

from blueprints.downloads import content_disposition
from services import policies
from services.infra import evidence_files

bp = Blueprint("files", __name__, url_prefix="/files")


@bp.route("/evidence/<key>")
@login_required
def evidence_file(key: str):
    row = evidence_files.by_key(key)
    if row is None or not policies.may_see_declaration(current_user, row.declaration):
        abort(404)
    response = send_file(evidence_files.path_of(row), mimetype=row.content_type, as_attachment=True, max_age=0)
    # The uploader's name for the file, as one header line whatever it holds.
    response.headers["Content-Disposition"] = content_disposition(row.filename)
    # Never rendered from this origin: a download, not sniffed, sandboxed if a browser opens it anyway.
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response.headers["Cache-Control"] = "private, no-store"
    return response

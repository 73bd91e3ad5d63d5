"""Role gates for blueprints: anonymous users go to sign in, users of another role get 403."""

from flask import abort, request
from flask_login import current_user

from extensions import login_manager
from services import audit


def require_role(*roles):
    """A before_request hook admitting only signed-in users with one of ``roles``."""

    def gate():
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if current_user.role not in roles:
            # Counted per route, not per path: ids in a path are endless, the site's routes are not, so one
            # account writes at most one entry per gated route and window however it varies the ids. The
            # entry keeps the first path; the regulator sees how often and when last it was refused again.
            audit.record_repeatable(current_user, "auth.denied", current_user,
                                    subject=f"{request.method} {getattr(request.url_rule, 'rule', request.path)}",
                                    details={"result": "403", "path": request.path[:200], "method": request.method})
            abort(403)
        return None

    return gate

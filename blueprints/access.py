"""Area gates for blueprints: anonymous users go to sign in, users of another role get 403
(services.policies.may_enter); and the rules templates read to show or hide what a user may use."""

from flask import Flask, abort, request
from flask_login import current_user

from extensions import login_manager
from services import audit, policies


def require_area(area: str):
    """A before_request hook admitting only signed-in users who may enter ``area`` (policies.AREAS)."""
    if area not in policies.AREAS:
        raise ValueError(f"unknown area {area!r}")

    def gate():
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not policies.may_enter(current_user, area):
            # Counted per route, not per path: ids in a path are endless, the site's routes are not, so one
            # account writes at most one entry per gated route and window however it varies the ids. The
            # entry keeps the first path; the regulator sees how often and when last it was refused again.
            audit.record_repeatable(current_user, "auth.denied", current_user,
                                    subject=f"{request.method} {getattr(request.url_rule, 'rule', request.path)}",
                                    details={"result": "403", "path": request.path[:200], "method": request.method})
            abort(403)
        return None

    gate.area = area  # read by tests/test_access_matrix.py: which area's rule guards a blueprint
    return gate


def register_template_rules(app: Flask) -> None:
    """The rules that decide what a page shows (a menu entry, a button), under their own names."""
    for name in ("may_enter", "may_enroll"):
        app.add_template_global(getattr(policies, name), name)

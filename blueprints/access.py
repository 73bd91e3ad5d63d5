"""Area gates for blueprints: anonymous users go to sign in, users of another role get 403
(services.policies.may_enter); and the rules templates read to show or hide what a user may use."""

from flask import Flask, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
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


# What a user held at the password change may still reach: the change itself, signing out, the page's own
# styles and icons, and the health check. The API is asked with a token, not the session: not held.
OPEN_WHILE_HELD = frozenset({"auth.change_password", "auth.logout", "static", "vendor.static", "favicon",
                             "healthz"})


def require_own_password():
    """A before_request hook for the whole app: a signed-in user whose password someone else chose
    (policies.must_change_password) is sent to change it from every other page, with the reason."""
    if request.endpoint is None or request.endpoint in OPEN_WHILE_HELD or request.blueprint == "api":
        return None
    if not policies.must_change_password(current_user):
        return None
    flash(_("首次登录请修改初始密码"), "warning")
    return redirect(url_for("auth.change_password"))


def register_template_rules(app: Flask) -> None:
    """The rules that decide what a page shows (a menu entry, a button), under their own names."""
    for name in ("may_enter", "may_enroll"):
        app.add_template_global(getattr(policies, name), name)

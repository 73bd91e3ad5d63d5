"""Inbox views: the list of one's notices, and marking them read."""

from flask import abort, redirect, render_template, request, url_for
from flask_login import current_user

from blueprints.common_forms import ActionForm
from blueprints.inbox import bp
from blueprints.query import form_ids, query_int
from services import inbox
from services.infra import paging


@bp.route("/")
def index():
    try:
        page = inbox.page(current_user, request.args.get("cursor"), query_int("page", 1))
    except paging.PageOutOfReach:
        abort(404)
    return render_template("inbox/index.html", notices=page.items, page=page, action_form=ActionForm())


@bp.route("/read", methods=["POST"])
def read():
    """Mark the posted notices read (``notice``, repeatable), or all of them (``all``); another's → 404."""
    if ActionForm().validate_on_submit():
        ids = form_ids("notice")
        try:
            inbox.mark_read(current_user, "all" if request.form.get("all") else ids)
        except LookupError:
            abort(404)
    return redirect(url_for(".index"))

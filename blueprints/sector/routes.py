"""Sector officer views: the queue of declarations routed to the authority, their review, and the sector's
study guides."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from blueprints.common_forms import field_error
from blueprints.query import form_ids
from blueprints.sector import bp
from blueprints.sector.forms import GuideForm, SectorReviewForm
from services import declarations, sector_guides
from services.errors import DomainError


@bp.route("/")
def index():
    return render_template("sector/index.html", authority=current_user.sector_authority,
                           declarations=declarations.sector_queue(current_user),
                           overdue=declarations.is_sector_overdue)


@bp.route("/<int:declaration_id>", methods=["GET", "POST"])
def review(declaration_id: int):
    """:raise 404: no such declaration, or not one routed to the officer's authority."""
    declaration = declarations.for_sector(current_user, declaration_id)
    if declaration is None:
        abort(404)
    form = SectorReviewForm(hours=declaration.employer_hours or declaration.hours_claimed)
    status = 200
    if form.validate_on_submit():
        try:
            declarations.review_as_sector(current_user, declaration.id, form.decision.data == "approve",
                                          form.hours.data, form.reason.data)
        except LookupError:
            abort(404)
        except DomainError as error:
            field_error(form, error, "reason")
            status = 400
        else:
            flash(_("审核已完成"), "success")
            return redirect(url_for(".index"))
    elif form.is_submitted():
        status = 400
    return render_template("sector/review.html", declaration=declaration, form=form,
                           overdue=declarations.is_sector_overdue(declaration)), status


@bp.route("/guides")
def guides():
    first, last = sector_guides.years_open()
    return render_template("sector/guides.html", guides=sector_guides.of_authority(current_user),
                           years=range(first, last + 1))


@bp.route("/guides/<int:year>", methods=["GET", "POST"])
def guide(year: int):
    """The authority's guide of ``year``: written or changed; ``?q=`` searches the courses to recommend."""
    first, last = sector_guides.years_open()
    if not first <= year <= last:
        abort(404)
    found = sector_guides.of_year(current_user, year)
    form = GuideForm(obj=found)
    chosen = [c.id for c in found.courses] if found else []
    status = 200
    if form.validate_on_submit():
        chosen = form_ids("course")
        try:
            sector_guides.save(current_user, year, form.title.data, form.body.data or "", chosen + form.ids())
        except DomainError as error:
            field_error(form, error, "course_ids")
            status = 400
        else:
            flash(_("已保存 %(y)s 年度学习指南", y=year), "success")
            return redirect(url_for(".guide", year=year))
    elif form.is_submitted():
        status = 400
    query = (request.args.get("q") or "")[:100]
    results = sector_guides.search_courses(current_user, query)
    current = list(found.courses) if found else []
    return render_template("sector/guide.html", year=year, form=form, guide=found, current=current,
                           results=[c for c in results if c.id not in {x.id for x in current}],
                           chosen=set(chosen), query=query), status

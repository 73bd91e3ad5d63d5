"""Public pages: home, course search, course page, base directory, base disclosure page, images."""

import time

from flask import abort, current_app, make_response, render_template, request, send_file
from flask_login import current_user

from blueprints.catalog import bp, fragments
from blueprints.catalog.forms import CatalogSearchForm
from blueprints.certificate_lookups import lookup_limit
from blueprints.common_forms import ActionForm
from blueprints.pagecache import cached_page
from models import BaseType
from services import annual_reports, certificates, enrollment, evaluation, policies
from services.infra import clock, images, paging
from services.queries import catalog_pages, learner_pages


@bp.route("/")
@cached_page
def index():
    form = CatalogSearchForm(request.args)
    return render_template("catalog/index.html", form=form, courses=catalog_pages.latest_courses())


@bp.route("/courses")
@cached_page
def courses():
    form = CatalogSearchForm(request.args)
    options = catalog_pages.filter_options()
    form.set_options(options["regions"], options["bases"])
    form.validate()
    try:
        page = catalog_pages.search_courses(form.filters(), current_app.config["CATALOG_PAGE_SIZE"],
                                            None if form.cursor.errors else form.cursor.data, form.jump(),
                                            cards=True)
    except paging.PageOutOfReach:
        abort(404)
    return render_template("catalog/courses.html", page=page, filter_form=fragments.filter_form(form),
                           cards=fragments.course_cards(page.items, level=2))


@bp.route("/courses/<int:course_id>")
@cached_page
def course_detail(course_id: int):
    course = catalog_pages.get_public_course(course_id)
    if course is None and current_user.is_authenticated:
        course = catalog_pages.get_cancelled_course_of(course_id, current_user.id)
    if course is None:
        abort(404)
    mine = None
    if policies.may_enroll(current_user):
        mine = learner_pages.enrollment_in(current_user.id, course.id)
    return render_template(
        "catalog/course.html", course=course, base=course.base, mine=mine,
        window=enrollment.availability(course), action_form=ActionForm(),
    )


@bp.route("/bases")
@cached_page
def bases():
    return render_template("catalog/bases.html", grouped=catalog_pages.list_bases_by_type(), types=list(BaseType))


@bp.route("/bases/<int:base_id>")
@cached_page
def base_detail(base_id: int):
    found = catalog_pages.get_public_base(base_id)
    if found is None:
        abort(404)
    base, courses = found
    return render_template("catalog/base.html", base=base, courses=courses)


@bp.route("/media/<key>/<variant>")
def media(key: str, variant: str):
    found = images.image_file(key, variant)
    if found is None:
        abort(404)
    path, content_type = found
    response = send_file(path, mimetype=content_type, max_age=86400 * 30)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.route("/list")
@bp.route("/list/<int:year>")
@cached_page
def published_list(year: int | None = None):
    years = evaluation.published_years()
    this_year = clock.today().year
    if year is None:
        year = years[0] if years else this_year
    elif year not in years and not annual_reports.year_range()[0] <= year <= this_year:
        abort(404)  # a year before the platform's data (/list/1900) or ahead has no list to show, not even empty
    return render_template("catalog/published_list.html", year=year, years=years,
                           grouped=evaluation.published_list(year), types=list(BaseType))


def _too_many_lookups(limit):
    response = make_response(render_template("errors/error.html", code=429, title="查询过于频繁",
                                             message="请稍后再试。"), 429)
    response.headers["Retry-After"] = str(max(int(limit.reset_at - time.time()), 1))
    return response


@bp.route("/verify", methods=["GET"])
@bp.route("/verify/<code>")
# The same budget as the API's certificate operation: guessing codes there does not start a fresh count.
@lookup_limit(on_breach=_too_many_lookups)
def verify(code: str | None = None):
    code = code or request.args.get("code", "").strip()
    if not code:
        return render_template("catalog/verify.html", certificate=None, code="")
    certificate = certificates.find(code)
    if certificate is None:
        return render_template("catalog/verify.html", certificate=None, code=code, not_found=True), 404
    return render_template("catalog/verify.html", certificate=certificate, code=certificate.code)

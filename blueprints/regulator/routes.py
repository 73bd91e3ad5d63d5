"""Regulator views: thin, one service call each; anything outside the regulator's region is 404."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from blueprints import downloads
from blueprints.common_forms import field_error
from blueprints.query import query_int
from blueprints.regulator import bp
from blueprints.regulator.forms import (
    ApplicationDecisionForm,
    AuditFilterForm,
    ConfirmEvaluationForm,
    DesignateForm,
    EmployerDecisionForm,
    ExportJobForm,
    OfficerForm,
    OverrideForm,
    PlanDecisionForm,
    RevokeForm,
    RunEvaluationForm,
    SectorAuthorityForm,
    StatusChangeForm,
    TargetForm,
    rules_form_class,
)
from models import SECTORS, BaseStatus, BaseType, JobRecord, JobStatus, Outcome, RegionLevel
from services import (
    audit,
    background,
    base_applications,
    employers,
    evaluation,
    exports,
    long_work,
    plans,
    policies,
    registry,
    rule_edits,
    sector_authorities,
    target_edits,
    workdays,
)
from services import audit_export as audit_export_service
from services import certificates as certificate_service
from services import declarations as declaration_service
from services.errors import DomainError, NotAllowed
from services.infra import clock
from services.queries import audit_pages, regulator_pages
from services.roster import mask_phone


def _load_base(base_id: int):
    """:raise 404: no such base, or not in the current user's reach (policies.may_oversee_base)."""
    base = regulator_pages.base_in_scope(current_user, base_id)
    if base is None:
        abort(404)
    return base


def _year_arg() -> int:
    return query_int("year", 2000, 2100, default=clock.today().year)


@bp.route("/")
def index():
    # Last year by default: the running year can only be a trial (试算), never confirmed.
    run_form = RunEvaluationForm(year=clock.today().year - 1)
    regions = policies.regions_in_reach(current_user)
    run_form.region.choices = [(r.id, r.full_name) for r in regions]
    evaluations = evaluation.evaluations_of(current_user)
    this_year = clock.today().year
    return render_template(
        "regulator/index.html", bases=regulator_pages.bases_overview(current_user),
        plans=plans.pending_plans(current_user),
        evaluations=evaluations, trials={e.id for e in evaluations if evaluation.is_trial(e)}, run_form=run_form,
        year=this_year, regions=regions, export_years=range(this_year + 1, this_year - 6, -1),
        export_job_form=ExportJobForm(), provinces=[r for r in regions if r.level == RegionLevel.PROVINCE],
        jobs=background.recent_jobs(current_user),
    )


@bp.route("/bases/new", methods=["GET", "POST"])
def designate():
    form = DesignateForm()
    form.type.choices = [(t.value, t.label) for t in registry.designatable_types(current_user)]
    form.region.choices = [(r.id, r.full_name) for r in policies.regions_in_reach(current_user)]
    if form.validate_on_submit():
        data = {"name": form.name.data, "type": form.type.data, "region_id": form.region.data,
                "admin_emails": form.emails()}
        try:
            base, passwords = registry.designate_base(current_user, data)
        except NotAllowed:
            abort(404)
        except DomainError as error:
            field_error(form, error, "name")
        else:
            flash(_("已认定基地：%(name)s", name=base.name), "success")
            for email, password in passwords.items():
                flash(_("新建管理员账号 %(email)s 的初始密码：%(pw)s（只显示这一次，请转交管理员；首次登录须修改）",
                        email=email, pw=password), "warning")
            return redirect(url_for(".base", base_id=base.id))
    return render_template("regulator/designate.html", form=form)


def _status_form(base) -> StatusChangeForm:
    form = StatusChangeForm()
    form.status.choices = [(s.value, s.label) for s in registry.status_choices(base)]
    return form


def _base_page(base, form):
    return render_template("regulator/base.html", base=base, form=form, history=registry.history(base),
                           compliance=evaluation.compliance(base), governs=policies.may_govern(current_user, base))


@bp.route("/bases/<int:base_id>")
def base(base_id: int):
    base = _load_base(base_id)
    return _base_page(base, _status_form(base))


@bp.route("/bases/<int:base_id>/status", methods=["POST"])
def base_status(base_id: int):
    base = _load_base(base_id)
    # Any status passes the form: the service refuses the current one and a base the regulator does not govern.
    form = StatusChangeForm()
    if form.validate_on_submit():
        try:
            registry.change_status(current_user, base.id, BaseStatus(form.status.data), form.reason.data)
        except DomainError as error:
            field_error(form, error, "reason")
        else:
            flash(_("基地状态已改为“%(label)s”", label=BaseStatus(form.status.data).label), "success")
            return redirect(url_for(".base", base_id=base.id))
    form.status.choices = [(s.value, s.label) for s in registry.status_choices(base)]
    return _base_page(base, form), 400


@bp.route("/plans/<int:plan_id>/decide", methods=["POST"])
def decide_plan(plan_id: int):
    form = PlanDecisionForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        plan = plans.decide_plan(current_user, plan_id, form.decision.data == "approve", form.reason.data or "")
    except LookupError:
        abort(404)
    except DomainError as error:
        flash(error.message, "danger")
    else:
        # The status label already reads 已批准 / 已驳回.
        flash(_("办班计划“%(title)s”%(label)s", title=plan.course.title, label=plan.status.label), "success")
    # No #fragment: the flash renders at the top of the page, and a jump to the list would scroll it away
    # (the decided plan has left the list anyway).
    return redirect(url_for(".index"))


@bp.route("/targets", methods=["GET", "POST"])
def targets():
    """The targets in force for a year; a new one is previewed (what changes for whom), then confirmed."""
    form = TargetForm(year=_year_arg()) if request.method == "GET" else TargetForm()
    # A city's regulator is offered the city-level type alone: the province sets the province-level ones.
    settable = [t for t in BaseType if policies.may_set_target(current_user, t)]
    form.base_type.choices = [(t.value, t.label) for t in settable]
    # Any known type passes the form, so that a forged province-level one meets the service's refusal.
    form.base_type.validate_choice = False
    preview, status = None, 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit() and form.base_type.data in {t.value for t in BaseType}:
            args = (current_user, BaseType(form.base_type.data), form.year.data, form.min_trainees.data,
                    form.min_projects.data)
            try:
                if form.action.data == "save":
                    seen = (target_edits.Figures(form.seen_trainees.data, form.seen_projects.data)
                            if form.seen_trainees.data is not None and form.seen_projects.data is not None else None)
                    target_edits.save(*args, seen=seen)
                    flash(_("已保存 %(y)s 年度%(t)s的目标：培训人数 %(n)s，培训项目 %(p)s", y=form.year.data,
                            t=BaseType(form.base_type.data).label, n=form.min_trainees.data,
                            p=form.min_projects.data), "success")
                    return redirect(url_for(".targets", year=form.year.data))
                preview, status = target_edits.preview(*args), 200
            except rule_edits.RulesRefused as refused:
                field_error(form, refused)
            except DomainError as error:  # a stale preview: flashed above the table of what is stored now
                field_error(form, error)
        elif form.base_type.data not in {t.value for t in BaseType}:
            form.base_type.errors = [*form.base_type.errors, _("请选择列出的基地类型")]
    year = form.year.data or clock.today().year
    targets = registry.targets_of_year(year)
    rows = [(t, registry.pick_target(targets, t, current_user.region)) for t in BaseType]
    return render_template("regulator/targets.html", form=form, rows=rows, year=year, settable=settable,
                           preview=preview), status


def _rules_form_data(found) -> dict:
    values = {key: getattr(value, "value", value) for key, value in found.own_values().items()}
    return {**values, "year": found.year, "confirm": []}


@bp.route("/rules", methods=["GET", "POST"])
def rules():
    """The region's rules for a year: shown (GET), previewed with who each change touches, then saved."""
    form_class = rules_form_class()
    preview, status = None, 200
    if request.method == "GET":
        year = _year_arg()
        found = rule_edits.page(current_user, year)
        form = form_class(data=_rules_form_data(found))
    else:
        form = form_class()
        valid = form.validate_on_submit()
        year = form.year.data or clock.today().year
        if valid:
            data = {key: form[key].data for key in rule_edits.EDITABLE}
            try:
                if form.action.data == "save":
                    saved = rule_edits.save(current_user, year, data, form.confirm.data or [],
                                            seen=form.seen.data or None, previewed=form.previewed.data or None)
                    flash(_("已保存 %(y)s 年度的规则（%(n)s 项修改）", y=year, n=len(saved)) if saved
                          else _("没有修改"), "success" if saved else "info")
                    return redirect(url_for(".rules", year=year))
                preview = rule_edits.preview(current_user, year, data, form.confirm.data or [])
            except rule_edits.RulesRefused as refused:
                field_error(form, refused)
                status = 400
            except rule_edits.StalePreview as error:  # shown above the values stored now: preview again
                field_error(form, error, "year")
                status = 409
            except DomainError as error:
                field_error(form, error, "year")
                status = 400
        else:
            status = 400
        found = rule_edits.page(current_user, year)
    return render_template("regulator/rules.html", form=form, page=found, year=year, preview=preview), status


def _valid_in_reach(form) -> bool:
    """A form of the overview asking for work on a region: the regions offered are those in the regulator's
    reach; when it does not validate, its errors are flashed (the overview shows them) and False returned."""
    form.region.choices = [(r.id, r.full_name) for r in policies.regions_in_reach(current_user)]
    if form.validate_on_submit():
        return True
    for errors in form.errors.values():
        for message in errors:
            flash(message, "danger")
    return False


@bp.route("/evaluations", methods=["POST"])
def run_evaluation():
    form = RunEvaluationForm()
    if not _valid_in_reach(form):
        return redirect(url_for(".index"))
    try:
        # A city's evaluation is made at once; a province's is a job, followed on its page (services.long_work).
        result = long_work.evaluate(current_user, form.year.data, form.region.data)
    except NotAllowed:
        abort(404)
    except DomainError as error:
        flash(error.message, "danger")
        return redirect(url_for(".index"))
    if isinstance(result, JobRecord):
        return redirect(url_for(".job", job_id=result.id))
    return redirect(url_for(".evaluation_page", evaluation_id=result.id))


def _evaluation_page(found, confirm_form=None):
    return render_template(
        "regulator/evaluation.html", evaluation=found, confirm_form=confirm_form or ConfirmEvaluationForm(),
        override_form=OverrideForm(),
        outcomes=list(Outcome), trial=evaluation.is_trial(found),
        decided={r.id for r in found.results if policies.may_decide_outcome(current_user, found, r.base)},
        by_province=evaluation.decided_by_province(found))


@bp.route("/evaluations/<int:evaluation_id>")
def evaluation_page(evaluation_id: int):
    found = evaluation.get(current_user, evaluation_id)
    if found is None:
        abort(404)
    return _evaluation_page(found)


@bp.route("/evaluations/results/<int:result_id>/override", methods=["POST"])
def override(result_id: int):
    form = OverrideForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        result = evaluation.override(current_user, result_id, Outcome(form.outcome.data), form.reason.data or "")
    except LookupError:
        abort(404)
    except NotAllowed as error:
        # A base the evaluation does not decide: the page offers no form for it, so this POST was forged.
        flash(error.message, "danger")
        return _evaluation_page(evaluation.evaluation_of_result(current_user, result_id)), 400
    except DomainError as error:
        flash(error.message, "danger")
        return redirect(request.referrer or url_for(".index"))
    flash(_("已将“%(name)s”的结论调整为“%(label)s”", name=result.base.name, label=result.outcome.label), "success")
    return redirect(url_for(".evaluation_page", evaluation_id=result.evaluation_id))


@bp.route("/evaluations/<int:evaluation_id>/confirm", methods=["POST"])
def confirm(evaluation_id: int):
    form = ConfirmEvaluationForm()
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            abort(400)
        found = evaluation.get(current_user, evaluation_id)
        if found is None:
            abort(404)
        return _evaluation_page(found, form), 400
    try:
        evaluation.confirm(current_user, evaluation_id)
    except LookupError:
        abort(404)
    except DomainError as error:
        flash(error.message, "danger")
    else:
        flash(_("评估结论已确认并生效"), "success")
    return redirect(url_for(".evaluation_page", evaluation_id=evaluation_id))


@bp.route("/evaluations/<int:evaluation_id>.xlsx")
def evaluation_export(evaluation_id: int):
    found = evaluation.get(current_user, evaluation_id)
    if found is None:
        abort(404)
    return downloads.xlsx(exports.evaluation_table(current_user, found), f"{found.year}年度基地评估.xlsx")


# The official tables (notice 004, exports.TABLES): each for the year and the region (within the regulator's
# reach) picked on the overview page; a region outside it is a 404. Made while the request waits, which a
# city's tables allow; a province's may also be asked for as a job (export_job below) and taken from its page.
def _export(kind: str):
    year = _year_arg()
    try:
        data, name = exports.table(current_user, kind, year, query_int("region", 1))
    except LookupError:
        abort(404)
    return downloads.xlsx(data, name)


@bp.route("/exports/catalog.xlsx")
def export_catalog():
    return _export("catalog")


@bp.route("/exports/knowledge-update.xlsx")
def export_knowledge():
    return _export("knowledge")


@bp.route("/exports/strategic.xlsx")
def export_strategic():
    return _export("strategic")


@bp.route("/exports/jobs", methods=["POST"])
def export_job():
    form = ExportJobForm()
    if not _valid_in_reach(form):
        return redirect(url_for(".index"))
    try:
        job = long_work.export(current_user, form.kind.data, form.year.data, form.region.data)
    except LookupError:
        abort(404)
    return redirect(url_for(".job", job_id=job.id))


def _load_job(job_id: int) -> JobRecord:
    """:raise 404: no such job, or one asked for by someone else (policies.may_follow_job)."""
    job = background.job_of(current_user, job_id)
    if job is None:
        abort(404)
    return job


@bp.route("/jobs/<int:job_id>")
def job(job_id: int):
    found = _load_job(job_id)
    result = background.result_of(found)
    return render_template(
        "regulator/job.html", job=found, params=background.params_of(found), result=result,
        finished=found.status in background.FINISHED, done=found.status == JobStatus.DONE,
        file_kept=bool(result.get("file")) and background.file_of(current_user, found.id) is not None)


@bp.route("/jobs/<int:job_id>/file")
def job_file(job_id: int):
    found = background.file_of(current_user, job_id)
    if found is None:
        abort(404)
    path, name = found
    return downloads.xlsx(path.read_bytes(), name)


@bp.route("/reviews")
def reviews():
    # The holiday calendar is national and kept by the platform administrator: regulators see its years.
    years = workdays.years_loaded()
    return render_template("regulator/reviews.html", overdue=declaration_service.overdue_by_employer(current_user),
                           sector_overdue=declaration_service.overdue_by_sector(current_user),
                           revoke_form=RevokeForm(), years=years,
                           missing=workdays.years_missing(clock.today(), years))


@bp.route("/certificates/revoke", methods=["POST"])
def revoke_certificate():
    form = RevokeForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for message in errors:
                flash(message, "danger")
        return redirect(url_for(".reviews"))
    try:
        certificate_service.revoke(current_user, form.code.data, form.reason.data)
    except LookupError:
        abort(404)
    except DomainError as error:
        flash(error.message, "danger")
    else:
        flash(_("证书 %(code)s 已撤销", code=form.code.data.strip().upper()), "success")
    return redirect(url_for(".reviews"))


def _sectors_page(form: SectorAuthorityForm | None = None, status: int = 200):
    form = form or SectorAuthorityForm(formdata=None)
    form.region.choices = [(r.id, r.full_name) for r in policies.regions_in_reach(current_user)]
    form.sector.choices = [(s, s) for s in SECTORS]
    return render_template("regulator/sectors.html", rows=sector_authorities.of_region(current_user),
                           form=form), status


@bp.route("/sectors", methods=["GET", "POST"])
def sectors():
    """The sector authorities of the regions in reach, and the form that creates one with its first officer."""
    form = SectorAuthorityForm()
    if not form.is_submitted():
        return _sectors_page()
    if form.validate():
        try:
            found = sector_authorities.create(current_user, form.region.data, form.sector.data, form.name.data,
                                              form.officer_data())
        except LookupError:
            abort(404)
        except DomainError as error:
            field_error(form, error, "name")
        else:
            flash(_("已新建%(sector)s行业主管部门：%(name)s。请将初始密码线下转交其工作人员。", sector=found.sector,
                    name=found.name), "success")
            return redirect(url_for(".sector_authority", authority_id=found.id))
    return _sectors_page(form, 400)


def _load_authority(authority_id: int):
    """:raise 404: no such authority, or another region's (policies.may_oversee_sector_authority)."""
    try:
        return sector_authorities.authority(current_user, authority_id)
    except LookupError:
        abort(404)


@bp.route("/sectors/<int:authority_id>", methods=["GET", "POST"])
def sector_authority(authority_id: int):
    """A sector authority's officers, and the form that adds one."""
    found = _load_authority(authority_id)
    form, status = OfficerForm(), 200
    if form.is_submitted():
        status = 400
        if form.validate():
            try:
                officer = sector_authorities.add_officer(current_user, found.id, form.officer_data())
            except LookupError:
                abort(404)
            except DomainError as error:
                field_error(form, error, "email")
            else:
                flash(_("已为 %(name)s 新建账号：%(officer)s", name=found.name, officer=officer.email), "success")
                return redirect(url_for(".sector_authority", authority_id=found.id))
    else:
        form = OfficerForm(formdata=None)
    return render_template("regulator/sector_authority.html", authority=found,
                           officers=sector_authorities.officers(current_user, found), form=form,
                           mask_phone=mask_phone), status


def _audit_form() -> AuditFilterForm:
    form = AuditFilterForm(request.args)
    form.set_bases(audit_pages.bases_to_filter(current_user))
    form.validate()
    return form


@bp.route("/audit")
def audit_log():
    """The audit log of the region, newest first, read-only: filtered by the query string, paged by ``before``."""
    form = _audit_form()
    rows = audit_pages.audit_page(current_user, form.filters(), query_int("before", 1))
    return render_template("regulator/audit.html", rows=rows, form=form, query=form.query(),
                           page_size=audit.PAGE_SIZE)


@bp.route("/audit.xlsx")
def audit_export():
    """The filtered log as a workbook (audited as an export)."""
    form = _audit_form()
    return downloads.xlsx(audit_export_service.audit_xlsx(current_user, form.filters()),
                          f"审计日志{clock.today().isoformat()}.xlsx")


# --- base applications (基地申报) ----------------------------------------------------------------------------

@bp.route("/applications")
def applications():
    return render_template("regulator/applications.html", applications=base_applications.decidable_by(current_user))


def _load_application(application_id: int):
    """:raise 404: no such application, or not the current user's to decide (policies.may_decide_application)."""
    try:
        return base_applications.for_regulator(current_user, application_id)
    except LookupError:
        abort(404)


def _application_page(application, form, status: int = 200):
    if not form.is_submitted():
        form.checklist.data = [key for key, met in (application.checklist or {}).items() if met]
    return render_template("regulator/application.html", application=application, form=form,
                           checklist=base_applications.CHECKLIST), status


@bp.route("/applications/<int:application_id>", methods=["GET", "POST"])
def application(application_id: int):
    found = _load_application(application_id)
    form = ApplicationDecisionForm()
    if not form.validate_on_submit():
        return _application_page(found, form, 400 if form.is_submitted() else 200)
    met, reason = form.checklist.data or [], form.reason.data or ""
    try:
        if form.decision.data == "approve":
            base = base_applications.approve(current_user, found.id, reason, met)
            flash(_("已批准，基地“%(name)s”及其管理员账号已开通", name=base.name), "success")
        elif form.decision.data == "reject":
            base_applications.reject(current_user, found.id, reason, met)
            flash(_("已驳回申报"), "success")
        else:
            base_applications.save_checklist(current_user, found.id, met)
            flash(_("评审清单已保存"), "success")
    except LookupError:
        abort(404)
    except DomainError as error:
        field_error(form, error, "decision")
        return _application_page(_load_application(application_id), form, 400)
    return redirect(url_for(".application", application_id=found.id))


@bp.route("/applications/<int:application_id>/files/<int:file_id>")
def application_file(application_id: int, file_id: int):
    found = _load_application(application_id)
    try:
        row, path = base_applications.file_of(found, file_id)
    except LookupError:
        abort(404)
    return downloads.private_file(path, row.filename, row.content_type)


@bp.route("/employers")
def employers_list():
    return render_template("regulator/employers.html", employers=employers.for_regulator(current_user))


@bp.route("/employers/<int:employer_id>", methods=["GET", "POST"])
def employer(employer_id: int):
    try:
        found = employers.in_reach(current_user, employer_id)
    except LookupError:
        abort(404)
    form = EmployerDecisionForm()
    if form.validate_on_submit():
        try:
            employers.decide(current_user, found.id, form.decision.data == "approve", form.reason.data)
        except LookupError:
            abort(404)
        except DomainError as error:
            field_error(form, error)  # a reason beside its field; a decision already taken as a flash
        else:
            flash(_("已通过该单位的注册") if form.decision.data == "approve" else _("已不予通过，单位将看到原因"),
                  "success")
            return redirect(url_for(".employers_list"))
    status = 400 if form.is_submitted() else 200
    return render_template("regulator/employer.html", employer=found, form=form,
                           admins=employers.admins_of(found)), status

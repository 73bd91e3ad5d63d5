"""The access matrix: every route of ``app.url_map`` for every principal against a declared table, object-level
probes of another principal's records by id (404 and none of their data in the body), and extra form fields
(``role``, ``base_id``, ``hours``, ``learner_id``, ``status``) ignored by the forms that could carry them.

The table names the rule of services/policies.py that decides each route beyond its area's gate (``by``): a test
checks that every route is guarded by its area's gate or a declared rule, and another that the table's answer
for each principal is the one the named rules give about the world's objects."""

import inspect
from datetime import date, datetime, timedelta
from io import BytesIO
from urllib.parse import urlsplit

import openpyxl
import pytest
import sqlalchemy as sa
from flask_login import AnonymousUserMixin
from PIL import Image as PILImage
from werkzeug.datastructures import FileStorage

from extensions import db
from models import (
    ApiToken,
    Attendance,
    BaseApplication,
    Category,
    ClassPlan,
    Course,
    CourseStatus,
    Declaration,
    DeclarationStatus,
    Employer,
    Employment,
    EmploymentStatus,
    Enrollment,
    EnrollmentStatus,
    HoursRecord,
    HoursSource,
    Mode,
    PlanStatus,
    Role,
    SectorAuthority,
    User,
)
from seeding.demo import seed_reference
from services import accounts, api_tokens, certificates, declarations, enrollment, evaluation, policies, resident_ids
from services.infra import clock, images
from tests.conftest import PASSWORD, employ, login
from tests.test_access import VALID_COURSE

TODAY = date(2025, 6, 16)
YEAR = 2025
DESIGNATED = datetime(2024, 3, 1)  # before the evaluated year, so that the evaluation counts the bases

ANON, LA, LB, AA, AB = "anonymous", "learner_a", "learner_b", "admin_a", "admin_b"
REVIEWER, REG_OTHER, REG, DISABLED = "reviewer", "regulator_other", "regulator", "disabled"
PLATFORM, EMP_ADMIN, SECTOR = "platform_admin", "employer_admin", "sector_officer"
PRINCIPALS = [ANON, LA, LB, AA, AB, REVIEWER, EMP_ADMIN, SECTOR, REG_OTHER, REG, PLATFORM, DISABLED]
SIGNED_IN = set(PRINCIPALS) - {ANON}
ROLE_OF = {LA: Role.LEARNER, LB: Role.LEARNER, AA: Role.BASE_ADMIN, AB: Role.BASE_ADMIN, REVIEWER: Role.REVIEWER,
           EMP_ADMIN: Role.EMPLOYER_ADMIN, SECTOR: Role.SECTOR_OFFICER,
           REG_OTHER: Role.REGULATOR, REG: Role.REGULATOR, PLATFORM: Role.PLATFORM_ADMIN, DISABLED: Role.LEARNER}
LEARNERS, ADMINS, REGULATORS = {LA, LB}, {AA, AB}, {REG, REG_OTHER}
# The reviewer reviews for learner A's employer; the employer admin runs learner B's (and reviews its own).
REVIEWERS = {REVIEWER, EMP_ADMIN}


def public(**extra):
    """Open to everyone, signed in or not."""
    return {"public": True, **extra}


def gated(role_members: set, allow: set, post=None, **extra):
    """Behind a role gate: ``allow`` succeed; the other members of the role get 404 (another's object);
    other signed-in principals get 403; anonymous visitors and the disabled account are sent to sign in."""
    return {"public": False, "members": role_members, "allow": allow, "post": post, **extra}


def fixed(status: int, **extra):
    """The same answer for every principal, signed in or not."""
    return {"public": False, "fixed": status, "post": lambda w: {}, **extra}


def signed_in_only(post=None):
    return {"public": False, "members": SIGNED_IN - {DISABLED}, "allow": SIGNED_IN - {DISABLED}, "post": post}


def by(rule: str, subject=None) -> dict:
    """The named rule of services.policies that decides the route beyond its area's gate, and the world's
    object it is asked about (test_the_table_agrees_with_the_named_rules asks it for every principal)."""
    return {"rule": rule, "subject": subject}


# The objects the rules are asked about: the world's params name A's records.
BASE, COURSE = by("may_manage_base", lambda w: w.base_a), by("may_manage_course", lambda w: w.course_a)
OVERSEEN, EVALUATION = by("may_oversee_base", lambda w: w.base_a), by("may_see_evaluation", lambda w: w.evaluation)
# A base's API operations take a live token of a maker who still runs the base; a session is not one (401).
TOKEN = by("maker_may_act")




def _application(w) -> dict:
    """A base application waiting in Chengdu (a city-level base: Chengdu's regulator decides it), made on first
    use; the params of its routes."""
    from services import base_applications  # here, so that the shared import line stays as it was

    if not hasattr(w, "application_params"):
        application, token = base_applications.submit({
            "region_id": w.chengdu.id, "base_type": "city", "name": "矩阵申报学院", "credit_code": "91350100M000100Y43",
            "address": "成都市", "scope": "范围", "teachers": "师资", "facilities": "场地", "management_rules": "制度",
            "contact_name": "申报人", "contact_phone": "13912340001", "contact_email": "matrix-apply@test.example",
            "password": PASSWORD}, [FileStorage(BytesIO(_pdf()), "申报书.pdf")])
        w.application_params = {"application_id": application.id, "token": token, "file_id": application.files[0].id}
    return w.application_params


def _walk_in(w) -> User:
    """A trainee base A registered at the desk, made on first use."""
    from services import walk_ins  # here, so that the shared import line stays as it was

    if not hasattr(w, "walk_in"):
        w.walk_in, _created = walk_ins.register_walk_in(w.users[AA], w.base_a, "矩阵现场学员", "110101199003071233",
                                                        "13912340077")
    return w.walk_in

def _job(w) -> dict:
    """A done background job of the Chengdu regulator (a table made as a file), made on first use; the params
    of its routes."""
    from services import long_work  # here, so that the shared import line stays as it was
    from services.infra.queue import run_queued

    if not hasattr(w, "job_params"):
        job = long_work.export(w.users[REG], "catalog", YEAR, w.chengdu.id)
        run_queued()
        w.job_params = {"job_id": job.id}
    return w.job_params


def _job_record(w):
    from models import JobRecord

    return db.session.get(JobRecord, _job(w)["job_id"])


APPLICATION = by("may_decide_application",
                 lambda w: db.session.get(BaseApplication, _application(w)["application_id"]))


# Every rule of the URL map but the static files. A route missing here fails test_every_route_is_declared.
# POST bodies are callables of the world, so that they can name its objects.
TABLE = {
    # public catalog
    "/": public(), "/courses": public(),
    "/courses/<int:course_id>": public(**by("is_public_course", lambda w: w.course_a)),
    "/bases": public(), "/bases/<int:base_id>": public(**by("is_listed_base", lambda w: w.base_a)),
    "/list": public(), "/list/<int:year>": public(), "/verify": public(),
    "/verify/<code>": public(), "/favicon.ico": public(),
    "/media/<key>/<variant>": public(params=lambda w: {"key": w.cover_key}),  # <key> is the evidence's elsewhere
    "/login": public(), "/register": public(), "/register/employer": public(), "/healthz": public(),
    "/privacy": public(),
    # signing out is no access decision: everyone may, the signed-out are sent to sign in
    "/logout": public(any=True),
    "/account/password": signed_in_only(post=lambda w: {}),
    # a forgotten password (a code or a link) and a walk-in account claimed: for anyone; one's own phone or
    # e-mail changed with a code sent to the new one: anyone signed in
    "/forgot": public(), "/claim": public(), "/forgot/code": public(),
    "/reset/<token>": public(params=lambda w: {"token": "no-such-token"}),
    "/account/contact": signed_in_only(post=lambda w: {}),
    "/account/contact/confirm": signed_in_only(post=lambda w: {}),
    # a learner's own profile, under /account beside the password: the learners' gate, asked by the view
    "/account/profile": gated(LEARNERS, LEARNERS, post=lambda w: {}, denied=403,
                              **by("may_enter", lambda w: "learner")),
    # a learner closes their own account (an empty form is 400 and closes nothing): the learners' gate, as above
    "/account/close": gated(LEARNERS, LEARNERS, post=lambda w: {}, denied=403, **by("may_enter", lambda w: "learner")),
    "/inbox/": signed_in_only(), "/inbox/read": signed_in_only(post=lambda w: {}),
    # each person's choice of e-mail and SMS per kind of notice, beside the profile: every signed-in role
    "/account/notifications": signed_in_only(post=lambda w: {}),
    # private files: the learner, their employer's reviewer, a regulator over the learner
    "/files/evidence/<key>": {"public": False, "members": SIGNED_IN - {DISABLED}, "allow": {LA, REVIEWER, SECTOR, REG},
                              "post": None, "denied": 404,
                              **by("may_see_declaration", lambda w: w.declaration_a)},
    # learners
    "/me/": gated(LEARNERS, LEARNERS),
    "/me/certificates": gated(LEARNERS, LEARNERS),
    "/me/certificates/<int:year>.pdf": gated(LEARNERS, LEARNERS),
    "/me/registration-form": gated(LEARNERS, LEARNERS),
    "/me/registration-form/<int:year>.<fmt>": gated(LEARNERS, LEARNERS),
    "/me/declarations": gated(LEARNERS, LEARNERS),
    "/me/data.json": gated(LEARNERS, LEARNERS),
    "/me/declarations/new": gated(LEARNERS, LEARNERS, post=lambda w: {}),
    "/me/declarations/<int:declaration_id>/edit": gated(LEARNERS, {LA}, post=lambda w: {},
                                                        **by("owns_declaration", lambda w: w.declaration_a)),
    "/me/courses/<int:course_id>/enroll": gated(LEARNERS, LEARNERS, post=lambda w: {}),
    "/me/employer": gated(LEARNERS, LEARNERS, post=lambda w: {"employer": w.hospital.id}),
    "/me/employer/withdraw": gated(LEARNERS, LEARNERS, post=lambda w: {}),
    "/me/notices/read": gated(LEARNERS, LEARNERS, post=lambda w: {}),
    "/me/enrollments/<int:enrollment_id>/rate": gated(LEARNERS, {LA}, post=lambda w: {"rating": "5", "comment": "好"},
                                                      **by("owns_enrollment", lambda w: w.enrollment_a)),
    "/me/enrollments/<int:enrollment_id>/calendar.ics": gated(LEARNERS, {LA},
                                                              **by("owns_enrollment", lambda w: w.enrollment_a)),
    "/me/enrollments/<int:enrollment_id>/cancel": gated(LEARNERS, {LA}, post=lambda w: {},
                                                        **by("owns_enrollment", lambda w: w.enrollment_a)),
    # reviewers
    "/review/": gated(REVIEWERS, REVIEWERS),
    "/review/<int:declaration_id>": gated(REVIEWERS, {REVIEWER}, post=lambda w: {"decision": "approve"},
                                          **by("may_review", lambda w: w.declaration_a)),
    "/review/<int:declaration_id>/id-number": gated(REVIEWERS, {REVIEWER}, post=lambda w: {},
                                                    **by("may_review", lambda w: w.declaration_a)),
    # batch review and the staff page: each of the employer's own (an empty batch is refused by its service)
    "/review/batch": gated(REVIEWERS, REVIEWERS, post=lambda w: {}),
    "/review/staff": gated(REVIEWERS, REVIEWERS), "/review/staff.xlsx": gated(REVIEWERS, REVIEWERS),
    # employer admins
    "/employer/": gated({EMP_ADMIN}, {EMP_ADMIN}),
    "/employer/registration": gated({EMP_ADMIN}, {EMP_ADMIN}, post=lambda w: {}),
    "/employer/reviewers": gated({EMP_ADMIN}, {EMP_ADMIN}, post=lambda w: {}),
    "/employer/claims": gated({EMP_ADMIN}, {EMP_ADMIN}),
    "/employer/staff": gated({EMP_ADMIN}, {EMP_ADMIN}),
    # the world's objects are employer A's (the hospital's): its reviewer, learner A's employment
    "/employer/reviewers/<int:user_id>/active": gated(
        {EMP_ADMIN}, set(), post=lambda w: {"active": "0"}, params=lambda w: {"user_id": w.users[REVIEWER].id},
        **by("may_manage_reviewer", lambda w: w.users[REVIEWER])),
    "/employer/claims/<int:employment_id>/confirm": gated(
        {EMP_ADMIN}, set(), post=lambda w: {}, params=lambda w: {"employment_id": _employment_of(w, LA).id},
        **by("may_decide_claim", lambda w: _employment_of(w, LA))),
    "/employer/claims/<int:employment_id>/refuse": gated(
        {EMP_ADMIN}, set(), post=lambda w: {"reason": "矩阵拒绝"},
        params=lambda w: {"employment_id": _employment_of(w, LA).id},
        **by("may_decide_claim", lambda w: _employment_of(w, LA))),
    "/employer/tokens": gated({EMP_ADMIN}, {EMP_ADMIN}, post=lambda w: {"name": "矩阵令牌"}),
    "/employer/tokens/<int:token_id>/revoke": gated({EMP_ADMIN}, {EMP_ADMIN}, post=lambda w: {},
                                                    params=lambda w: {"token_id": w.employer_token.id}),
    # sector officers
    "/sector/": gated({SECTOR}, {SECTOR}),
    # declaration A is routed to the officer's authority (its second step, after the employer's)
    "/sector/<int:declaration_id>": gated({SECTOR}, {SECTOR}, post=lambda w: {"decision": "approve"},
                                          **by("may_review_as_sector", lambda w: w.declaration_a)),
    "/sector/guides": gated({SECTOR}, {SECTOR}),
    "/sector/guides/<int:year>": gated({SECTOR}, {SECTOR}, post=lambda w: {}),
    # base admins
    "/manage/": gated(ADMINS, ADMINS),
    "/manage/bases/<int:base_id>": gated(ADMINS, {AA}, **BASE),
    "/manage/bases/<int:base_id>/compliance": gated(ADMINS, {AA}, **BASE),
    "/manage/bases/<int:base_id>/statistics": gated(ADMINS, {AA}, post=lambda w: {"year": str(YEAR)}, **BASE),
    "/manage/bases/<int:base_id>/api-tokens": gated(ADMINS, {AA}, post=lambda w: {"name": "矩阵令牌"}, **BASE),
    "/manage/bases/<int:base_id>/api-tokens/<int:token_id>/revoke": gated(ADMINS, {AA}, post=lambda w: {},
                                                                              **BASE),
    "/manage/bases/<int:base_id>/disclosure": gated(ADMINS, {AA}, post=lambda w: {"scope": "矩阵写入"},
                                                            **BASE),
    "/manage/bases/<int:base_id>/courses/new": gated(ADMINS, {AA}, post=lambda w: VALID_COURSE, **BASE),
    "/manage/bases/<int:base_id>/courses/<int:course_id>/edit": gated(ADMINS, {AA}, post=lambda w: VALID_COURSE,
                                                                      **COURSE),
    "/manage/bases/<int:base_id>/courses/<int:course_id>/plan": gated(ADMINS, {AA}, post=lambda w: {}, **COURSE),
    "/manage/bases/<int:base_id>/courses/<int:course_id>/roster": gated(ADMINS, {AA}, **COURSE),
    "/manage/bases/<int:base_id>/courses/<int:course_id>/roster.xlsx": gated(ADMINS, {AA}, **COURSE),
    "/manage/bases/<int:base_id>/courses/<int:course_id>/roster/template.xlsx": gated(ADMINS, {AA}, **COURSE),
    "/manage/bases/<int:base_id>/courses/<int:course_id>/roster/<int:enrollment_id>/id-number": gated(
        ADMINS, {AA}, post=lambda w: {}, **COURSE),
    "/manage/bases/<int:base_id>/courses/<int:course_id>/roster/attendance": gated(
        ADMINS, {AA}, post=lambda w: {"day": w.course_a.start_date.isoformat(), "present": str(w.enrollment_a.id)},
        **COURSE),
    "/manage/bases/<int:base_id>/courses/<int:course_id>/roster/complete": gated(
        ADMINS, {AA}, post=lambda w: {"enrollment": str(w.enrollment_a.id)}, **COURSE),
    "/manage/bases/<int:base_id>/courses/<int:course_id>/roster/import": gated(ADMINS, {AA}, post=lambda w: {},
                                                                               **COURSE),
    # walk-in trainees (services.walk_ins): the desk on the roster page, the base's list and the invitation again
    "/manage/bases/<int:base_id>/courses/<int:course_id>/roster/walk-in": gated(ADMINS, {AA}, post=lambda w: {},
                                                                                **COURSE),
    "/manage/bases/<int:base_id>/walk-ins": gated(ADMINS, {AA}, **BASE),
    "/manage/bases/<int:base_id>/walk-ins/<int:user_id>/invite": gated(
        ADMINS, {AA}, post=lambda w: {}, params=lambda w: {"user_id": _walk_in(w).id}, **BASE),
    "/manage/bases/<int:base_id>/courses/<int:course_id>/status": gated(ADMINS, {AA},
                                                                        post=lambda w: {"status": "draft"}, **COURSE),
    "/manage/bases/<int:base_id>/courses/<int:course_id>/cancel": gated(ADMINS, {AA}, **COURSE,
                                                                        post=lambda w: {"reason": "矩阵取消"}),
    # regulators
    "/regulator/": gated(REGULATORS, REGULATORS),
    "/regulator/reviews": gated(REGULATORS, REGULATORS),
    "/regulator/audit": gated(REGULATORS, REGULATORS),
    "/regulator/audit.xlsx": gated(REGULATORS, REGULATORS),
    "/regulator/targets": gated(REGULATORS, REGULATORS, post=lambda w: {}),
    "/regulator/rules": gated(REGULATORS, REGULATORS, post=lambda w: {}),
    "/regulator/bases/new": gated(REGULATORS, REGULATORS, post=lambda w: {}),
    "/regulator/exports/catalog.xlsx": gated(REGULATORS, REGULATORS),
    "/regulator/employers": gated(REGULATORS, REGULATORS),
    # the hospital is approved already: a decision is refused beside the form (400), nothing changes
    "/regulator/employers/<int:employer_id>": gated(REGULATORS, {REG}, post=lambda w: {"decision": "approve"},
                                                    params=lambda w: {"employer_id": w.hospital.id},
                                                    **by("may_decide_employer", lambda w: w.hospital)),
    "/regulator/exports/knowledge-update.xlsx": gated(REGULATORS, REGULATORS),
    "/regulator/exports/strategic.xlsx": gated(REGULATORS, REGULATORS),
    # long work as jobs: asked for by any regulator (an empty form: a flash and a redirect), followed and its
    # file taken by the one who asked for it only
    "/regulator/exports/jobs": gated(REGULATORS, REGULATORS, post=lambda w: {}),
    "/regulator/jobs/<int:job_id>": gated(REGULATORS, {REG}, params=_job, **by("may_follow_job", _job_record)),
    "/regulator/jobs/<int:job_id>/file": gated(REGULATORS, {REG}, params=_job, **by("may_follow_job", _job_record)),
    # refused for an out-of-scope region by the form's choices: a flash and a redirect to their own index
    "/regulator/evaluations": gated(REGULATORS, REGULATORS,
                                    post=lambda w: {"year": str(YEAR), "region": str(w.chengdu.id)}),
    "/regulator/bases/<int:base_id>": gated(REGULATORS, {REG}, **OVERSEEN),
    "/regulator/bases/<int:base_id>/status": gated(REGULATORS, {REG},
                                                   post=lambda w: {"status": "rectifying", "reason": "矩阵整改"},
                                                   **OVERSEEN),
    "/regulator/plans/<int:plan_id>/decide": gated(REGULATORS, {REG}, post=lambda w: {"decision": "approve"},
                                                   **by("may_decide_plan", lambda w: w.plan)),
    "/regulator/evaluations/<int:evaluation_id>": gated(REGULATORS, {REG}, **EVALUATION),
    "/regulator/evaluations/<int:evaluation_id>.xlsx": gated(REGULATORS, {REG}, **EVALUATION),
    "/regulator/evaluations/results/<int:result_id>/override": gated(
        REGULATORS, {REG}, post=lambda w: {"outcome": "rectify", "reason": "矩阵调整"},
        **by("may_see_evaluation", lambda w: w.result.evaluation)),
    "/regulator/evaluations/<int:evaluation_id>/confirm": gated(REGULATORS, {REG}, post=lambda w: {"confirmed": "y"},
                                                                 **EVALUATION),
    # sector authorities: created for a region in reach (an empty form is 400); another region's is 404
    "/regulator/sectors": gated(REGULATORS, REGULATORS, post=lambda w: {}),
    "/regulator/sectors/<int:authority_id>": gated(REGULATORS, {REG}, post=lambda w: {},
                                                   params=lambda w: {"authority_id": w.health.id},
                                                   **by("may_oversee_sector_authority", lambda w: w.health)),
    "/regulator/certificates/revoke": gated(REGULATORS, {REG},
                                            post=lambda w: {"code": w.certificate_a.code, "reason": "矩阵撤销"},
                                            **by("may_revoke_certificate", lambda w: w.certificate_a)),
    # base applications: the applicant's pages open with the secret link; the regulator deciding the type there
    "/apply/": public(), "/apply/<token>": public(params=lambda w: _application(w)),
    "/apply/<token>/withdraw": public(params=lambda w: _application(w)),
    "/apply/<token>/files/<int:file_id>": public(params=lambda w: _application(w)),
    "/regulator/applications": gated(REGULATORS, REGULATORS),
    "/regulator/applications/<int:application_id>": gated(REGULATORS, {REG}, post=lambda w: {}, params=_application,
                                                          **APPLICATION),
    "/regulator/applications/<int:application_id>/files/<int:file_id>": gated(REGULATORS, {REG}, params=_application,
                                                                              **APPLICATION),
    # the platform administrator: the national holiday calendar (an empty upload or confirm is refused by
    # its form); every other role is 403 here, and the platform administrator is 403 in every other area
    "/platform/": gated({PLATFORM}, {PLATFORM}),
    "/platform/calendar": gated({PLATFORM}, {PLATFORM}, post=lambda w: {}),
    "/platform/calendar/confirm": gated({PLATFORM}, {PLATFORM}, post=lambda w: {}),
    "/platform/calendar/template.csv": gated({PLATFORM}, {PLATFORM}),
    # regions and regulator accounts: the platform administrator's alone (an empty form is 400)
    "/platform/regions": gated({PLATFORM}, {PLATFORM}, post=lambda w: {}),
    "/platform/regulators": gated({PLATFORM}, {PLATFORM}, post=lambda w: {}),
    "/platform/regulators/<int:user_id>/active": gated({PLATFORM}, {PLATFORM}, post=lambda w: {},
                                                       params=lambda w: {"user_id": w.users[REG].id}),
    # background jobs: the outbox's failures, sent again (a row that is not failed is a notice, not an error)
    "/platform/jobs": gated({PLATFORM}, {PLATFORM}),
    "/platform/jobs/messages/resend": gated({PLATFORM}, {PLATFORM}, post=lambda w: {}),
    "/platform/jobs/messages/<int:message_id>/resend": gated({PLATFORM}, {PLATFORM}, post=lambda w: {},
                                                             params=lambda w: {"message_id": 0}),
    # the open API: its public operations answer everyone; a base's operations take its token and nothing
    # else, so a signed-in session (whatever its role) is 401 there. test_api covers the tokens themselves.
    "/api/v1/openapi.json": public(), "/api/v1/courses": public(),
    "/api/v1/courses/<int:course_id>": public(**by("is_public_course", lambda w: w.course_a)),
    "/api/v1/bases": public(), "/api/v1/bases/<int:base_id>": public(**by("is_listed_base", lambda w: w.base_a)),
    "/api/v1/certificates/<code>": public(),
    # the world's evaluation is still a draft: no year's list is published, to anyone
    "/api/v1/published-lists/<int:year>": fixed(404),
    "/api/v1/base": fixed(401, **TOKEN), "/api/v1/base/compliance": fixed(401, **TOKEN),
    "/api/v1/base/courses": fixed(401, **TOKEN), "/api/v1/base/courses/<int:course_id>": fixed(401, **TOKEN),
    "/api/v1/base/courses/<int:course_id>/roster": fixed(401, **TOKEN), "/api/v1/base/completions": fixed(401, **TOKEN),
    "/api/v1/base/completions/<external_id>": fixed(401, params=lambda w: {"external_id": "ext-1"}, **TOKEN),
    # an employer's operations take its token (test_employer_api covers it), nothing else
    "/api/v1/employer/staff": fixed(401, **by("employer_maker_may_act")),
}
# Side effects last: cancellations and sign-out must not change what the routes before them see.
LAST = ["/manage/bases/<int:base_id>/courses/<int:course_id>/cancel", "/me/enrollments/<int:enrollment_id>/cancel",
        "/regulator/evaluations/<int:evaluation_id>/confirm", "/logout"]


def _employment_of(w, principal: str) -> Employment:
    """The learner's confirmed employment (tests.conftest.employ)."""
    return db.session.execute(sa.select(Employment).where(
        Employment.learner_id == w.users[principal].id, Employment.status == EmploymentStatus.CONFIRMED)).scalar_one()


def routes(app):
    """(rule, methods) of every rule but the static files, in the order they are walked."""
    found = [(rule.rule, sorted(rule.methods - {"HEAD", "OPTIONS"})) for rule in app.url_map.iter_rules()
             if rule.endpoint != "static" and not rule.endpoint.endswith(".static")]
    return sorted(found, key=lambda item: (item[0] in LAST, LAST.index(item[0]) if item[0] in LAST else 0, item[0]))


# --- the world -------------------------------------------------------------------------------------------------

class World:
    pass


def _id_number(n: int) -> str:
    first17 = f"510104{1950 + n}0915{n:03d}"  # a birth date of each their own
    return first17 + resident_ids.check_character(first17)


def _learner(region, employer, n: int, name: str) -> User:
    learner = accounts.register_learner({
        "consent": accounts.PRIVACY_NOTICE_VERSION,
        "name": name, "phone": f"1371234{n:04d}", "email": f"matrix{n}@test.example", "password": PASSWORD,
        "id_number": _id_number(n), "region_id": region.id,
    })
    employ(learner, employer)
    return learner


def _png() -> bytes:
    out = BytesIO()
    PILImage.new("RGB", (64, 48), (250, 240, 200)).save(out, "PNG")
    return out.getvalue()


def _pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"


def _declare(learner, title: str) -> Declaration:
    data = {"kind": "conference", "category": None, "title": title, "organiser": "成都市医学会",
            "earned_on": TODAY, "minutes": 90, "days": None, "hours": None}
    evidence = FileStorage(BytesIO(_pdf()), "证明.pdf", content_type="application/pdf")
    return declarations.declare(learner, data, [evidence])


@pytest.fixture
def app_config(tmp_path):
    return {"EVIDENCE_FOLDER": str(tmp_path / "evidence"), "VERIFY_RATE_LIMIT": "10000 per minute"}


@pytest.fixture
def world(app, monkeypatch, make_user, make_base, make_course):
    """Base A and learner A with one of everything (and the same for B), and a user per principal."""
    monkeypatch.setattr(clock, "today", lambda: TODAY)
    regions = seed_reference()
    w = World()
    w.chengdu, w.yantai = regions["510100"], regions["370600"]
    w.hospital = Employer(name="矩阵甲医院", region_id=w.chengdu.id)
    w.clinic = Employer(name="矩阵乙诊所", region_id=w.chengdu.id)
    w.health = SectorAuthority(region_id=w.chengdu.id, sector="卫生", name="矩阵市卫生健康委员会")
    db.session.add_all([w.hospital, w.clinic, w.health])
    db.session.commit()
    w.users = {
        LA: _learner(w.chengdu, w.hospital, 1, "甲学员欧阳锋"),
        LB: _learner(w.chengdu, w.clinic, 2, "乙学员慕容复"),
        AA: make_user(Role.BASE_ADMIN, region_id=w.chengdu.id),
        AB: make_user(Role.BASE_ADMIN, region_id=w.chengdu.id),
        REVIEWER: make_user(Role.REVIEWER, employer_id=w.hospital.id, region_id=w.chengdu.id),
        EMP_ADMIN: make_user(Role.EMPLOYER_ADMIN, employer_id=w.clinic.id, region_id=w.chengdu.id),
        SECTOR: make_user(Role.SECTOR_OFFICER, sector_authority_id=w.health.id, region_id=w.chengdu.id),
        REG_OTHER: make_user(Role.REGULATOR, region_id=w.yantai.id),
        REG: make_user(Role.REGULATOR, region_id=w.chengdu.id),
        PLATFORM: make_user(Role.PLATFORM_ADMIN, region_id=None),
        DISABLED: make_user(Role.LEARNER, region_id=w.chengdu.id),
    }
    w.base_a = make_base(name="甲基地", admin=w.users[AA], region_id=w.chengdu.id, created_at=DESIGNATED)
    w.base_b = make_base(name="乙基地", admin=w.users[AB], region_id=w.chengdu.id, created_at=DESIGNATED)
    w.course_a = make_course(w.base_a, title="甲基地的课程", mode=Mode.FACE_TO_FACE)
    w.course_b = make_course(w.base_b, title="乙基地的课程", mode=Mode.FACE_TO_FACE)
    w.course_a.cover = images.store_image(BytesIO(_png()))
    w.base_a.logo = images.store_image(BytesIO(_png()))
    db.session.commit()
    w.cover_key = w.course_a.cover.key
    planned = make_course(w.base_a, title="甲基地待审课程", plan_status="pending")
    w.plan = ClassPlan(course_id=planned.id, start_date=planned.start_date, end_date=planned.end_date, place="甲楼",
                       teachers="李老师", syllabus="大纲", expected_trainees=30, status=PlanStatus.PENDING,
                       filed_by_id=w.users[AA].id)
    db.session.add(w.plan)
    db.session.commit()
    enrollment.enroll(w.users[LA], w.course_a.id)
    enrollment.enroll(w.users[LB], w.course_b.id)
    w.enrollment_a = _enrollment(w.users[LA], w.course_a)
    w.enrollment_b = _enrollment(w.users[LB], w.course_b)
    w.declaration_a = _declare(w.users[LA], "甲学员的学术会议")
    w.declaration_b = _declare(w.users[LB], "乙学员的学术会议")
    w.evidence_a, w.evidence_b = w.declaration_a.evidence[0].key, w.declaration_b.evidence[0].key
    w.declaration_a.sector_authority_id = w.health.id  # as if filed where the sector reviews after the employer
    for learner in (w.users[LA], w.users[LB]):
        db.session.add(HoursRecord(learner_id=learner.id, year=YEAR, category=Category.PUBLIC, hours=30,
                                   source=HoursSource.IMPORT, note="人工智能与健康"))
    db.session.commit()
    w.certificate_a = certificates.issue(w.users[LA], YEAR)
    w.certificate_b = certificates.issue(w.users[LB], YEAR)
    w.token_a, _secret = api_tokens.create_token(w.users[AA], w.base_a, "甲基地的令牌")
    w.token_b, _secret = api_tokens.create_token(w.users[AB], w.base_b, "乙基地的令牌")
    w.employer_token, _secret = api_tokens.create_employer_token(w.users[EMP_ADMIN], w.clinic, "乙诊所的令牌")
    w.evaluation = evaluation.run(w.users[REG], YEAR, w.chengdu.id)
    w.result = next(r for r in w.evaluation.results if r.base_id == w.base_a.id)
    w.params = {
        "base_id": w.base_a.id, "course_id": w.course_a.id, "enrollment_id": w.enrollment_a.id,
        "declaration_id": w.declaration_a.id, "key": w.evidence_a, "year": YEAR, "fmt": "pdf",
        "evaluation_id": w.evaluation.id, "result_id": w.result.id, "plan_id": w.plan.id,
        "code": w.certificate_a.code, "variant": "thumb", "token_id": w.token_a.id,
    }
    return w


def _enrollment(learner, course) -> Enrollment:
    return db.session.execute(
        sa.select(Enrollment).where(Enrollment.learner_id == learner.id, Enrollment.course_id == course.id)
    ).scalar_one()


def client_of(app, world, principal):
    """A client of its own for the principal; the disabled account signed in before it was disabled."""
    client = app.test_client()
    if principal == ANON:
        return client
    user = world.users[principal]
    response = login(client, user)
    assert response.status_code == 302, f"{principal} could not sign in"
    if principal == DISABLED:
        db.session.get(User, user.id).active = False
        db.session.commit()
    return client


def fill(rule: str, params: dict) -> str:
    url = rule
    for name, value in params.items():
        for converter in ("", "int:"):
            url = url.replace(f"<{converter}{name}>", str(value))
    assert "<" not in url, f"no value for a parameter of {rule}"
    return url


def to_sign_in(response) -> bool:
    return response.status_code == 302 and urlsplit(response.location).path == "/login"


def expected(spec: dict, principal: str) -> str:
    """'ok', 'login', 403 or 404."""
    if spec.get("any"):
        return "any"
    if "fixed" in spec:
        return spec["fixed"]
    if spec["public"]:
        return "ok"
    if principal in (ANON, DISABLED):
        return "login"
    if principal in spec["allow"]:
        return "ok"
    if principal in spec["members"]:
        return spec.get("denied", 404)
    return spec.get("denied", 403)


def check(response, want) -> str | None:
    """None when the answer is what the table says, else what went wrong."""
    status = response.status_code
    if status >= 500:
        return f"server error {status}"
    if want == "ok":
        # 400 is a form refused on its own content (an empty body), not an access decision.
        if status in (200, 400) or (300 <= status < 400 and not to_sign_in(response)):
            return None
        return f"expected success, got {status} {response.location or ''}"
    if want == "any":
        return None
    if want == "login":
        # the disabled account may also meet the object check first (another's evidence is 404)
        return None if to_sign_in(response) or status in (403, 404) else f"expected a refusal, got {status}"
    return None if status == want else f"expected {want}, got {status} {response.location or ''}"


# --- the matrix ---------------------------------------------------------------------------------------------

TALLY = {"checks": 0, "unexpected_successes": 0, "principals": set(), "routes": set()}


def test_every_route_is_declared(app):
    undeclared = [rule for rule, _ in routes(app) if rule not in TABLE]
    assert undeclared == [], f"routes missing from the access table: {undeclared}"


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_every_route_answers_each_principal_as_declared(app, world, principal):
    client = client_of(app, world, principal)
    wrong, checks = [], 0
    for rule, methods in routes(app):
        spec = TABLE[rule]
        url = fill(rule, {**world.params, **spec.get("params", lambda w: {})(world)})
        want = expected(spec, principal)
        calls = []
        if "GET" in methods:
            calls.append(("GET", None))
        if "POST" in methods:
            post = spec.get("post")
            calls.append(("POST", post(world) if post else {}))
        for method, data in calls:
            response = client.get(url) if method == "GET" else client.post(url, data=data)
            checks += 1
            problem = check(response, want)
            if problem:
                wrong.append(f"{method} {url}: {problem}")
            if want not in ("ok", "any") and response.status_code < 400 and not to_sign_in(response):
                TALLY["unexpected_successes"] += 1
    TALLY["checks"] += checks
    TALLY["principals"].add(principal)
    TALLY["routes"].update(rule for rule, _ in routes(app))
    assert wrong == [], f"{principal}:\n" + "\n".join(wrong)
    print(f"\naccess matrix, {principal}: {len(routes(app))} routes, {checks} requests, 0 unexpected")


# --- the table and the named rules ----------------------------------------------------------------------------

def _area(app, rule: str) -> str | None:
    """The area whose gate stands before the route: its blueprint's name, when that is one of policies.AREAS."""
    endpoint = next(r.endpoint for r in app.url_map.iter_rules() if r.rule == rule)
    blueprint = endpoint.rpartition(".")[0]
    return blueprint if blueprint in policies.AREAS else None


def _ask(name: str, user, subject) -> bool:
    """The named rule's answer about ``subject`` for ``user`` (a rule of the public catalog takes no user)."""
    test = policies.RULES[name].test
    return test(subject) if len(inspect.signature(test).parameters) == 1 else test(user, subject)


def test_every_route_is_guarded_by_a_declared_rule(app):
    """Each route not open to everyone stands behind its area's gate (policies.may_enter, for the area's role
    alone), is decided by a rule of policies.RULES, or is open to anyone signed in; and what a refusal by its
    rule answers is what the table expects of those it refuses."""
    problems = []
    for rule, _methods in routes(app):
        spec, area = TABLE[rule], _area(app, rule)
        named = spec.get("rule")
        if named is not None and named not in policies.RULES:
            problems.append(f"{rule}: {named} is no rule of services.policies")
            continue
        if area is not None:
            gates = [f for f in app.before_request_funcs.get(area, []) if getattr(f, "area", None) == area]
            if not gates:
                problems.append(f"{rule}: no gate of the {area} area")
            if {ROLE_OF[p] for p in spec.get("members", ())} != set(policies.AREAS[area]):
                problems.append(f"{rule}: the table's members are not the {area} area's role")
        guarded = (spec["public"] or spec.get("any") or area is not None or named is not None
                   or spec.get("allow") == SIGNED_IN - {DISABLED} or spec.get("fixed") not in (None, 401, 403))
        if not guarded:
            problems.append(f"{rule}: guarded by no declared rule")
        if named is not None:
            refused = spec.get("fixed") or (404 if spec["public"] else spec.get("denied", 404))
            if policies.RULES[named].refused != refused:
                problems.append(f"{rule}: {named} refuses with {policies.RULES[named].refused}, the table {refused}")
    assert problems == []


def test_the_table_agrees_with_the_named_rules(app, world):
    """What the table expects of each principal on each route is what the named rules answer for them about
    the world's objects: the area's gate first (its refusal 403), then the route's rule (its refusal, 404)."""
    db.session.expire_all()
    wrong, asked = [], 0
    for rule, _methods in routes(app):
        spec, area = TABLE[rule], _area(app, rule)
        if spec.get("any") or "fixed" in spec:
            continue
        named = spec.get("rule")
        for principal in PRINCIPALS:
            if principal in (ANON, DISABLED) and not spec["public"]:
                continue  # sent to sign in before any rule is asked
            user = world.users.get(principal, AnonymousUserMixin())
            answer = "ok"
            if area is not None and not policies.may_enter(user, area):
                answer = policies.RULES["may_enter"].refused
            elif named is not None and not _ask(named, user, spec["subject"](world)):
                answer = policies.RULES[named].refused
            asked += 1
            if answer != expected(spec, principal):
                wrong.append(f"{principal} {rule}: the rules say {answer}, the table {expected(spec, principal)}")
    assert wrong == []
    assert asked > len(TABLE)  # the control: every route was asked about for several principals


# --- object-level probes ---------------------------------------------------------------------------------------

def traces(user) -> list[str]:
    """What of a learner must never reach someone else's page: name, phone, e-mail, ID number fragments."""
    full = resident_ids.decrypt(user.id_number_ciphertext)
    return [user.name, user.phone, user.email, full, full[6:14], full[-6:]]


def foreign_objects(w, owner: str) -> dict:
    """The URLs of the records of ``owner``'s side (A or B) that nobody on the other side may open."""
    side = "a" if owner == LA else "b"
    base, course = getattr(w, f"base_{side}"), getattr(w, f"course_{side}")
    enrollment_, declaration = getattr(w, f"enrollment_{side}"), getattr(w, f"declaration_{side}")
    token = getattr(w, f"token_{side}")
    employer, employment_ = (w.hospital if side == "a" else w.clinic), _employment_of(w, owner)
    roster = f"/manage/bases/{base.id}/courses/{course.id}/roster"
    # the base id of the prober's own base with the other base's course: still the other base's roster
    return {
        "learner": [("GET", f"/me/enrollments/{enrollment_.id}/rate"),
                    ("POST", f"/me/enrollments/{enrollment_.id}/rate"),
                    ("GET", f"/me/declarations/{declaration.id}/edit"),
                    ("POST", f"/me/declarations/{declaration.id}/edit"),
                    ("GET", f"/files/evidence/{getattr(w, f'evidence_{side}')}"),
                    ("POST", f"/me/enrollments/{enrollment_.id}/cancel")],
        "admin": [("GET", roster), ("GET", roster + ".xlsx"), ("GET", roster + "/attendance"),
                  ("POST", f"{roster}/{enrollment_.id}/id-number"),
                  ("GET", roster + "/import"), ("POST", roster + "/complete"),
                  ("GET", f"/manage/bases/{base.id}"),
                  ("GET", f"/manage/bases/{base.id}/api-tokens"), ("POST", f"/manage/bases/{base.id}/api-tokens"),
                  ("POST", f"/manage/bases/{base.id}/api-tokens/{token.id}/revoke"),
                  ("GET", f"/files/evidence/{getattr(w, f'evidence_{side}')}")],
        "own_base_other_course": [("GET", f"/manage/bases/{{own}}/courses/{course.id}/roster"),
                                  ("GET", f"/manage/bases/{{own}}/courses/{course.id}/roster.xlsx"),
                                  ("POST", f"/manage/bases/{{own}}/courses/{{own_course}}/roster/{enrollment_.id}"
                                           "/id-number"),
                                  ("POST", f"/manage/bases/{{own}}/api-tokens/{token.id}/revoke")],
        "reviewer": [("GET", f"/review/{declaration.id}"), ("POST", f"/review/{declaration.id}"),
                     ("POST", f"/review/{declaration.id}/id-number"),
                     ("GET", f"/files/evidence/{getattr(w, f'evidence_{side}')}")],
        "sector": [("GET", f"/sector/{declaration.id}"), ("POST", f"/sector/{declaration.id}"),
                   ("GET", f"/files/evidence/{getattr(w, f'evidence_{side}')}")],
        "regulator": [("GET", f"/files/evidence/{getattr(w, f'evidence_{side}')}"),
                      ("GET", f"/regulator/bases/{base.id}"),
                      ("GET", f"/regulator/employers/{employer.id}"), ("POST", f"/regulator/employers/{employer.id}")],
        "employer": [("POST", f"/employer/claims/{employment_.id}/confirm"),
                     ("POST", f"/employer/claims/{employment_.id}/refuse")],
    }


PROBES = [
    # (prober, owner of the records, kind of probe)
    (LA, LB, "learner"), (LB, LA, "learner"),
    (AA, LB, "admin"), (AB, LA, "admin"), (AA, LB, "own_base_other_course"), (AB, LA, "own_base_other_course"),
    (REVIEWER, LB, "reviewer"),  # the reviewer reviews for A's employer, not B's
    (EMP_ADMIN, LA, "reviewer"),  # the employer admin reviews for B's employer, not A's
    (EMP_ADMIN, LA, "employer"),  # nor decides claims on A's
    (SECTOR, LB, "sector"),  # only A's declaration is routed to the officer's authority
    (REG_OTHER, LA, "regulator"), (REG_OTHER, LB, "regulator"),
]


@pytest.mark.parametrize(("prober", "owner", "kind"), PROBES, ids=[f"{p}-{o}-{k}" for p, o, k in PROBES])
def test_other_principals_records_are_404_with_none_of_their_data(app, world, prober, owner, kind):
    client = client_of(app, world, prober)
    own_base = {AA: world.base_a.id, AB: world.base_b.id}.get(prober)
    own_course = {AA: world.course_a.id, AB: world.course_b.id}.get(prober)
    secrets_ = traces(world.users[owner])
    before = _state(world)
    for method, url in foreign_objects(world, owner)[kind]:
        url = url.replace("{own}", str(own_base)).replace("{own_course}", str(own_course))
        response = client.get(url) if method == "GET" else client.post(url, data={"rating": "5", "title": "改"})
        assert response.status_code == 404, f"{prober} {method} {url}: {response.status_code}"
        body = response.get_data(as_text=True)
        leaked = [s for s in secrets_ if s and s in body]
        assert leaked == [], f"{prober} {method} {url} shows {leaked}"
    assert _state(world) == before


def _state(w) -> dict:
    db.session.expire_all()
    return {
        "enrollments": sorted(db.session.execute(sa.select(Enrollment.id, Enrollment.status)).all()),
        "declarations": sorted(db.session.execute(
            sa.select(Declaration.id, Declaration.status, Declaration.title, Declaration.hours_claimed)).all()),
        "api_tokens": sorted(db.session.execute(sa.select(ApiToken.id, ApiToken.name, ApiToken.revoked_at)).all()),
        "employments": sorted(db.session.execute(sa.select(Employment.id, Employment.status)).all()),
        "employers": sorted(db.session.execute(sa.select(Employer.id, Employer.status)).all()),
    }


@pytest.mark.parametrize("prober", [LA, LB])
def test_a_learner_sees_only_their_own_certificate(app, world, prober):
    client = client_of(app, world, prober)
    other = LB if prober == LA else LA
    theirs = world.certificate_b if other == LB else world.certificate_a
    for url in ("/me/certificates", "/me/", "/me/declarations", "/me/data.json"):
        body = client.get(url).get_data(as_text=True)
        assert theirs.code not in body
        assert [s for s in traces(world.users[other]) if s in body] == [], url
    pdf = client.get(f"/me/certificates/{YEAR}.pdf")
    assert pdf.status_code == 200 and theirs.code.encode() not in pdf.data
    book = openpyxl.load_workbook(BytesIO(client.get(f"/me/registration-form/{YEAR}.xlsx").data))
    cells = " ".join(str(c.value) for sheet in book for row in sheet.iter_rows() for c in row if c.value is not None)
    assert world.users[prober].name in cells  # the control: it is their own form
    assert [s for s in traces(world.users[other]) if s in cells] == []


def test_audit_log_of_another_region_shows_nothing_of_base_a_or_its_learners(app, world):
    reveal = f"/manage/bases/{world.base_a.id}/courses/{world.course_a.id}/roster/{world.enrollment_a.id}/id-number"
    assert client_of(app, world, AA).post(reveal).status_code == 200  # an audited reveal in base A
    client_of(app, world, LA).get("/me/data.json")  # an audited export by learner A

    own = client_of(app, world, REG).get("/regulator/audit").get_data(as_text=True)
    other = client_of(app, world, REG_OTHER).get("/regulator/audit").get_data(as_text=True)

    assert "甲基地" in own  # the control: the region's own regulator reads it
    assert "甲基地" not in other and "乙基地" not in other
    assert [s for s in traces(world.users[LA]) + traces(world.users[LB]) if s in other] == []


def test_regulator_of_another_region_cannot_revoke_or_run_evaluation_for_it(app, world):
    client = client_of(app, world, REG_OTHER)

    revoked = client.post("/regulator/certificates/revoke", data={"code": world.certificate_a.code, "reason": "越权"})
    ran = client.post("/regulator/evaluations", data={"year": str(YEAR), "region": str(world.chengdu.id)})

    assert revoked.status_code == 404
    assert urlsplit(ran.location).path == "/regulator/"
    db.session.expire_all()
    assert certificates.current(world.users[LA].id, YEAR).code == world.certificate_a.code


def test_roster_actions_ignore_enrollments_of_another_base(app, world, make_course):
    """Completion and attendance take enrollment ids from the form: another base's ids change nothing."""
    ran = {side: make_course(base, title=f"{base.name}已开课程", start_date=TODAY - timedelta(days=3),
                             end_date=TODAY - timedelta(days=2))
           for side, base in (("a", world.base_a), ("b", world.base_b))}
    seats = {}
    for side, learner in (("a", world.users[LA]), ("b", world.users[LB])):
        seats[side] = Enrollment(course_id=ran[side].id, learner_id=learner.id, status=EnrollmentStatus.CONFIRMED)
        db.session.add(seats[side])
    db.session.commit()
    client = client_of(app, world, AA)
    roster = f"/manage/bases/{world.base_a.id}/courses/{ran['a'].id}/roster"
    foreign = str(seats["b"].id)

    completed = client.post(roster + "/complete", data={"enrollment": [foreign, str(seats["a"].id)]})
    client.post(roster + "/attendance", data={"day": ran["a"].start_date.isoformat(), "present": [foreign]})

    assert completed.status_code == 302
    db.session.expire_all()
    assert db.session.get(Enrollment, seats["b"].id).status == EnrollmentStatus.CONFIRMED
    assert db.session.get(Enrollment, seats["a"].id).status == EnrollmentStatus.CONFIRMED  # all or nothing
    assert db.session.scalar(sa.select(sa.func.count(Attendance.id))
                             .where(Attendance.enrollment_id == seats["b"].id)) == 0
    assert db.session.scalar(sa.select(sa.func.count(HoursRecord.id))
                             .where(HoursRecord.learner_id == world.users[LB].id)) == 1  # the fixture's 30 hours
    # the control: the base's own learner alone is completed
    client.post(roster + "/complete", data={"enrollment": str(seats["a"].id)})
    db.session.expire_all()
    assert db.session.get(Enrollment, seats["a"].id).status == EnrollmentStatus.COMPLETED


@pytest.mark.parametrize("principal", [ANON, LA, AB, REVIEWER, REG_OTHER])
def test_a_draft_course_is_404_on_the_public_page_with_nothing_of_it(app, world, make_course, principal):
    draft = make_course(world.base_a, title="甲基地未发布的草稿课程", status=CourseStatus.DRAFT)
    client = client_of(app, world, principal)

    response = client.get(f"/courses/{draft.id}")

    assert response.status_code == 404
    assert "未发布的草稿" not in response.get_data(as_text=True)


def test_saving_a_course_or_disclosure_without_a_new_image_keeps_the_stored_one(app, world):
    """Found by the matrix: the form built from the object held its stored Image, taken for an upload (500)."""
    client = client_of(app, world, AA)
    cover, logo = world.course_a.cover_id, world.base_a.logo_id
    manage = f"/manage/bases/{world.base_a.id}"

    edited = client.post(f"{manage}/courses/{world.course_a.id}/edit", data={**VALID_COURSE, "title": "改名"})
    disclosed = client.post(f"{manage}/disclosure", data={"scope": "新的培训范围"})

    assert (edited.status_code, disclosed.status_code) == (302, 302)
    db.session.expire_all()
    course, base = db.session.get(Course, world.course_a.id), db.session.get(type(world.base_a), world.base_a.id)
    assert (course.title, course.cover_id) == ("改名", cover)
    assert (base.scope, base.logo_id) == ("新的培训范围", logo)


# --- extra form fields are ignored ------------------------------------------------------------------------------

EXTRA = {"role": "regulator", "base_id": "0", "learner_id": "0", "status": "approved", "hours_approved": "200",
         "employer_id": "0", "region_id": "0", "active": "0"}


def test_registration_ignores_role_and_base_fields(app, world, client):
    data = {"name": "新学员", "phone": "13712349999", "email": "new-matrix@test.example",
            "password": "Str0ng-pass-2026", "confirm": "Str0ng-pass-2026", "id_number": _id_number(9),
            "region": str(world.chengdu.id),
            "employer_name": "某医院", "sector": "卫生", "professional_title": "中级", "consent": "y",
            **EXTRA, "base_id": str(world.base_a.id)}

    response = client.post("/register", data=data)

    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    user = db.session.execute(sa.select(User).where(User.phone == "13712349999")).scalar_one()
    assert (user.role, user.region_id, user.employer_id, user.active) == (Role.LEARNER, world.chengdu.id, None, True)
    assert user.memberships == []


def test_course_forms_ignore_base_and_status_fields(app, world):
    client = client_of(app, world, AA)
    extra = {**EXTRA, "base_id": str(world.base_b.id), "status": "published", "learner_id": str(world.users[LA].id)}
    url = f"/manage/bases/{world.base_a.id}/courses"

    assert client.post(f"{url}/new", data={**VALID_COURSE, **extra}).status_code == 302
    assert client.post(f"{url}/{world.course_a.id}/edit",
                       data={**VALID_COURSE, **extra, "status": "cancelled"}).status_code == 302

    db.session.expire_all()
    new = db.session.execute(sa.select(Course).where(Course.title == VALID_COURSE["title"],
                                                     Course.id != world.course_a.id)).scalar_one()
    edited = db.session.get(Course, world.course_a.id)
    assert (new.base_id, new.status) == (world.base_a.id, CourseStatus.DRAFT)
    assert (edited.base_id, edited.status) == (world.base_a.id, CourseStatus.PUBLISHED)
    assert db.session.scalar(sa.select(sa.func.count(Course.id)).where(Course.base_id == world.base_b.id)) == 1


def test_declaration_forms_ignore_learner_status_and_hours_fields(app, world):
    client = client_of(app, world, LA)
    learner_b = world.users[LB]
    # "hours" beside "minutes" is refused outright (one unit only: tests/test_form_truth.py); hours_claimed is
    # no field of the form and is ignored.
    extra = {**EXTRA, "learner_id": str(learner_b.id), "hours_claimed": "200",
             "employer_id": str(world.clinic.id)}
    form = {"kind": "conference", "category": "professional", "title": "多字段申报", "organiser": "医学会",
            "earned_on": TODAY.isoformat(), "minutes": "90", "days": ""}

    created = client.post("/me/declarations/new",
                          data={**form, **extra, "files": [(BytesIO(_pdf()), "证明.pdf")]})
    edited = client.post(f"/me/declarations/{world.declaration_a.id}/edit", data={**form, **extra,
                                                                               "title": "改过的申报"})

    assert created.status_code == 302 and edited.status_code == 302
    db.session.expire_all()
    for declaration in (db.session.execute(sa.select(Declaration).where(Declaration.title == "多字段申报"))
                        .scalar_one(), db.session.get(Declaration, world.declaration_a.id)):
        assert declaration.learner_id == world.users[LA].id
        assert declaration.employer_id == world.hospital.id
        assert declaration.status == DeclarationStatus.PENDING
        assert declaration.hours_claimed == 2  # 90 minutes, whatever "hours_claimed" says
    assert db.session.scalar(sa.select(sa.func.count(Declaration.id))
                             .where(Declaration.learner_id == learner_b.id)) == 1


def test_profile_form_ignores_role_and_other_learner_fields(app, world):
    client = client_of(app, world, LA)
    learner_b = world.users[LB]

    response = client.post("/me/employer", data={**EXTRA, "employer": str(world.clinic.id),
                                                 "learner_id": str(learner_b.id)})

    assert response.status_code == 302
    db.session.expire_all()
    me, other = db.session.get(User, world.users[LA].id), db.session.get(User, learner_b.id)
    # a claim on the clinic, waiting for it: the confirmed employer stays until the clinic confirms
    assert (me.role, me.region_id, me.active, me.employer_id) == (Role.LEARNER, world.chengdu.id, True,
                                                                  world.hospital.id)
    claims = db.session.execute(sa.select(Employment.learner_id, Employment.employer_id)
                                .where(Employment.status == EmploymentStatus.PENDING)).all()
    assert claims == [(me.id, world.clinic.id)]
    assert other.employer_id == world.clinic.id and other.role == Role.LEARNER
    assert me.memberships == []


def test_review_form_ignores_learner_and_status_fields(app, world):
    client = client_of(app, world, REVIEWER)

    response = client.post(f"/review/{world.declaration_a.id}", data={
        **EXTRA, "decision": "approve", "hours": "", "reason": "", "learner_id": str(world.users[LB].id)})

    assert response.status_code == 302
    db.session.expire_all()
    a, b = db.session.get(Declaration, world.declaration_a.id), db.session.get(Declaration, world.declaration_b.id)
    # the employer's approval sends A on to the sector authority it is routed to (the world's)
    assert a.status == DeclarationStatus.SECTOR_PENDING and a.learner_id == world.users[LA].id
    assert b.status == DeclarationStatus.PENDING


def test_matrix_figures(app):
    """Prints the figures for docs/SECURITY.md when the matrix ran in the same session."""
    if TALLY["checks"]:
        print(f"\naccess matrix: {len(TALLY['routes'])} routes x {len(TALLY['principals'])} principals, "
              f"{TALLY['checks']} requests, {TALLY['unexpected_successes']} unexpected successes")
    assert TALLY["unexpected_successes"] == 0

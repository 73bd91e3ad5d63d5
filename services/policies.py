"""Who may see or change which object: the site's access rules, each named once, for views, the API,
services, templates and the access-matrix test alike.

Every request meets two layers (the house rule of ../shared/STYLE.md):

- an area's gate, ``may_enter``: a signed-in user of another role gets **403** (blueprints.access);
- an object's rule: a user of the right role asking for another learner's, employer's, base's or region's
  object gets **404**, as if it did not exist, and nothing of it leaks.

Each rule is a small predicate over loaded objects, declared with what a refusal answers (``RULES``). Where
pages load or list by a rule, its SQL twin stands beside it (``managed_bases`` for ``may_manage_base``…) and
tests/test_policies.py checks that the two agree. Services that check before acting call the same
predicates and raise NotAllowed or LookupError, which views answer 404 (the API: a 404 problem).

Rules about an object's state (an exited base is read-only, a cancelled course is final, a confirmed year's
rules are frozen) are not access rules: they stay with their models and services.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa

from extensions import db
from models import (
    ApiToken,
    BaseApplication,
    BaseMembership,
    BaseStatus,
    BaseType,
    Certificate,
    ClassPlan,
    Course,
    CourseStatus,
    Declaration,
    Employer,
    Employment,
    Enrollment,
    Evaluation,
    JobRecord,
    Region,
    RegionLevel,
    Role,
    SectorAuthority,
    SectorGuide,
    TrainingBase,
    User,
)
from services.errors import NotAllowed

Test = TypeVar("Test", bound=Callable[..., bool])


@dataclass(frozen=True)
class Rule:
    name: str
    # What a refusal answers: 403 (a signed-in user without the right), 404 (another's object: as if it did
    # not exist), 400 (the page offers no control for it; a forged request is refused beside its field), 401
    # (the API's token is refused).
    refused: int
    question: str
    test: Callable[..., bool]


RULES: dict[str, Rule] = {}


def rule(refused: int) -> Callable[[Test], Test]:
    """Declare the predicate below as a named rule whose refusal answers ``refused``."""

    def declare(test: Test) -> Test:
        RULES[test.__name__] = Rule(test.__name__, refused, (test.__doc__ or "").strip().splitlines()[0], test)
        return test

    return declare


def has_role(user: Any, role: Role) -> bool:
    """Signed in with ``role`` (the anonymous user has no role)."""
    return bool(user.is_authenticated) and user.role == role


# --- areas ------------------------------------------------------------------------------------------------

# The signed-in areas, by blueprint name, and the role each admits.
AREAS: dict[str, tuple[Role, ...]] = {
    "learner": (Role.LEARNER,),
    "base_admin": (Role.BASE_ADMIN,),
    # An employer's admins review too: a small employer may have no other reviewer.
    "reviewer": (Role.REVIEWER, Role.EMPLOYER_ADMIN),
    "employer": (Role.EMPLOYER_ADMIN,),
    "sector": (Role.SECTOR_OFFICER,),
    "regulator": (Role.REGULATOR,),
    "platform": (Role.PLATFORM_ADMIN,),
}


@rule(refused=403)
def may_enter(user: Any, area: str) -> bool:
    """May the user enter the area (its pages, its menu entry)? Its roles' users alone."""
    return any(has_role(user, role) for role in AREAS[area])


def must_change_password(user: Any) -> bool:
    """Is the signed-in user held at the password change? Yes while their password is one someone else
    chose and handed over (``User.must_change_password``). Not a rule of ``RULES``: it refuses nothing, it
    sends the user to replace the password first (blueprints.access.require_own_password)."""
    return bool(user.is_authenticated) and bool(user.must_change_password)


# --- the public catalog -----------------------------------------------------------------------------------

# The states in which a course is shown to the public: published, or published with enrollment closed.
PUBLIC_STATUSES = (CourseStatus.PUBLISHED, CourseStatus.CLOSED)


@rule(refused=404)
def is_listed_base(base: TrainingBase) -> bool:
    """Is the base in the public directory, for anyone? Every base but an exited one."""
    return base.status != BaseStatus.EXITED


def listed_bases() -> sa.ColumnElement[bool]:
    """is_listed_base as SQL on TrainingBase."""
    return TrainingBase.status != BaseStatus.EXITED


@rule(refused=404)
def is_public_course(course: Course) -> bool:
    """May anyone see the course in the catalog? Published (or closed to enrollment) by a listed base."""
    return course.status in PUBLIC_STATUSES and is_listed_base(course.base)


def public_courses() -> sa.ColumnElement[bool]:
    """is_public_course as SQL on Course joined to its TrainingBase."""
    return sa.and_(Course.status.in_(PUBLIC_STATUSES), listed_bases())


# --- learners: their own records --------------------------------------------------------------------------

@rule(refused=403)
def may_enroll(user: Any) -> bool:
    """May the user enroll in courses (the course page's button)? Learners only."""
    return has_role(user, Role.LEARNER)


@rule(refused=403)
def may_declare(user: Any) -> bool:
    """May the user declare hours earned elsewhere? Learners only."""
    return has_role(user, Role.LEARNER)


@rule(refused=404)
def owns_enrollment(user: Any, enrollment: Enrollment) -> bool:
    """May the user cancel or rate the enrollment? Their own only."""
    return enrollment.learner_id == user.id


def own_enrollments(user: Any) -> sa.ColumnElement[bool]:
    """owns_enrollment as SQL on Enrollment."""
    return Enrollment.learner_id == user.id


@rule(refused=404)
def owns_declaration(user: Any, declaration: Declaration) -> bool:
    """May the user see and edit the declaration as its declarant? Their own only."""
    return declaration.learner_id == user.id


def own_declarations(user: Any) -> sa.ColumnElement[bool]:
    """owns_declaration as SQL on Declaration."""
    return Declaration.learner_id == user.id


# --- reviewers: their employer's declarations -------------------------------------------------------------

def employer_reviewed_by(user: Any) -> int | None:
    """The employer whose declarations the user reviews: a reviewer's or an employer admin's own; None for
    anyone else."""
    return user.employer_id if has_role(user, Role.REVIEWER) or has_role(user, Role.EMPLOYER_ADMIN) else None


@rule(refused=404)
def may_review(user: Any, declaration: Declaration) -> bool:
    """May the user review the declaration (and see its declarant's full ID number)? A reviewer of its
    employer."""
    employer_id = employer_reviewed_by(user)
    return employer_id is not None and declaration.employer_id == employer_id


def reviewable_declarations(user: Any) -> sa.ColumnElement[bool]:
    """may_review as SQL on Declaration."""
    employer_id = employer_reviewed_by(user)
    return sa.false() if employer_id is None else Declaration.employer_id == employer_id


# --- sector authorities: the declarations routed to them, their study guides ---------------------------------

def authority_of(user: Any) -> int | None:
    """The sector authority a sector officer acts for; None for anyone else."""
    return user.sector_authority_id if has_role(user, Role.SECTOR_OFFICER) else None


@rule(refused=404)
def may_review_as_sector(user: Any, declaration: Declaration) -> bool:
    """May the user review the declaration as its sector authority (and see it at the employer's step)? An
    officer of the authority it was routed to when filed."""
    authority_id = authority_of(user)
    return authority_id is not None and declaration.sector_authority_id == authority_id


def sector_reviewable_declarations(user: Any) -> sa.ColumnElement[bool]:
    """may_review_as_sector as SQL on Declaration."""
    authority_id = authority_of(user)
    return sa.false() if authority_id is None else Declaration.sector_authority_id == authority_id


@rule(refused=404)
def may_write_guide(user: Any, guide: SectorGuide) -> bool:
    """May the user write or change the study guide? An officer of its sector authority."""
    authority_id = authority_of(user)
    return authority_id is not None and guide.authority_id == authority_id


@rule(refused=400)
def may_recommend_course(user: Any, course: Course) -> bool:
    """May the user recommend the course in their sector's study guide? A public course of a base in their
    authority's region (or a city under it). The page offers no other; a forged id is refused beside the
    field."""
    authority = user.sector_authority if authority_of(user) is not None else None
    if authority is None or not is_public_course(course):
        return False
    region = course.base.region
    return course.base.region_id == authority.region_id or (region is not None
                                                            and region.parent_id == authority.region_id)


def recommendable_courses(user: Any) -> sa.ColumnElement[bool]:
    """may_recommend_course as SQL on Course joined to its TrainingBase."""
    authority = user.sector_authority if authority_of(user) is not None else None
    if authority is None:
        return sa.false()
    return sa.and_(public_courses(), TrainingBase.region_id.in_(region_ids(authority.region_id)))


@rule(refused=404)
def may_see_declaration(user: Any, declaration: Declaration) -> bool:
    """May the user open the declaration's evidence? Its declarant, a reviewer (or admin) of its employer,
    the sector officer it was routed to, a regulator with the declarant's region in reach."""
    if has_role(user, Role.LEARNER):
        return owns_declaration(user, declaration)
    if has_role(user, Role.REVIEWER) or has_role(user, Role.EMPLOYER_ADMIN):
        return may_review(user, declaration)
    if has_role(user, Role.SECTOR_OFFICER):
        return may_review_as_sector(user, declaration)
    if has_role(user, Role.REGULATOR):
        return in_reach(user, declaration.learner.region_id)
    return False


# --- employer admins: their employer, its reviewers and who claims to work there -------------------------------

@rule(refused=404)
def may_manage_employer(user: Any, employer: Employer) -> bool:
    """May the user run the employer (its registration, reviewers, staff, claims)? Its admins."""
    return has_role(user, Role.EMPLOYER_ADMIN) and user.employer_id is not None and employer.id == user.employer_id


@rule(refused=404)
def may_decide_claim(user: Any, employment: Employment) -> bool:
    """May the user confirm or refuse a learner's claim to work for an employer? An admin of that employer."""
    return has_role(user, Role.EMPLOYER_ADMIN) and user.employer_id is not None \
        and employment.employer_id == user.employer_id


def claims_decided_by(user: Any) -> sa.ColumnElement[bool]:
    """may_decide_claim as SQL on Employment."""
    if not has_role(user, Role.EMPLOYER_ADMIN) or user.employer_id is None:
        return sa.false()
    return Employment.employer_id == user.employer_id


@rule(refused=404)
def may_manage_reviewer(user: Any, reviewer: User) -> bool:
    """May the user deactivate or reactivate the reviewer account? An admin of the reviewer's employer."""
    return has_role(user, Role.EMPLOYER_ADMIN) and user.employer_id is not None \
        and reviewer.role == Role.REVIEWER and reviewer.employer_id == user.employer_id


def managed_reviewers(user: Any) -> sa.ColumnElement[bool]:
    """may_manage_reviewer as SQL on User."""
    if not has_role(user, Role.EMPLOYER_ADMIN) or user.employer_id is None:
        return sa.false()
    return sa.and_(User.role == Role.REVIEWER, User.employer_id == user.employer_id)


@rule(refused=404)
def may_see_staff(user: Any, learner: User) -> bool:
    """May the user see the learner's hours as one of the employer's staff (the staff page, its export)? A
    reviewer or admin of the employer that confirmed the learner."""
    employer_id = employer_reviewed_by(user)
    return employer_id is not None and learner.role == Role.LEARNER and learner.employer_id == employer_id


def staff_of(user: Any) -> sa.ColumnElement[bool]:
    """may_see_staff as SQL on User."""
    employer_id = employer_reviewed_by(user)
    return sa.false() if employer_id is None else sa.and_(User.role == Role.LEARNER, User.employer_id == employer_id)


@rule(refused=401)
def employer_maker_may_act(user: Any, employer: Employer) -> bool:
    """May the user keep the employer's API tokens, and may a token they made still read for it? While they
    are an active admin of that employer (a revoked or expired token is refused anyway)."""
    return bool(user.active) and user.role == Role.EMPLOYER_ADMIN and user.employer_id == employer.id


def employer_tokens_maker_may_act() -> sa.ColumnElement[bool]:
    """employer_maker_may_act as SQL on ApiToken, with User joined as the token's maker."""
    return sa.and_(User.active.is_(True), User.role == Role.EMPLOYER_ADMIN, User.employer_id == ApiToken.employer_id)


@rule(refused=404)
def token_reaches_staff(principal: Any, learner: User) -> bool:
    """Does an employer's API token reach the learner's hours? Its own employer's confirmed staff only."""
    employer = getattr(principal, "employer", None)
    return employer is not None and learner.role == Role.LEARNER and learner.employer_id == employer.id


def staff_token_reaches(principal: Any) -> sa.ColumnElement[bool]:
    """token_reaches_staff as SQL on User."""
    employer = getattr(principal, "employer", None)
    return sa.false() if employer is None else sa.and_(User.role == Role.LEARNER, User.employer_id == employer.id)


def ensure_may_keep_employer_tokens(actor: Any, employer: Employer) -> None:
    """employer_maker_may_act, for a service about to act. :raise NotAllowed: not an admin of the employer."""
    if not (getattr(actor, "is_authenticated", False) and employer_maker_may_act(actor, employer)):
        raise NotAllowed("您不是该单位的管理员")


# --- base admins: their bases and everything in them ------------------------------------------------------

@rule(refused=404)
def may_manage_base(user: Any, base: TrainingBase) -> bool:
    """May the user run the base (its disclosure, courses, rosters, class plans, API tokens, compliance)?
    Its admins: a membership of the base. The role is the area gate's to check, not this rule's."""
    return bool(user.is_authenticated) and any(m.user_id == user.id for m in base.memberships)


def managed_bases(user: Any) -> sa.ColumnElement[bool]:
    """may_manage_base as SQL on TrainingBase."""
    return TrainingBase.id.in_(sa.select(BaseMembership.base_id).where(BaseMembership.user_id == user.id))


@rule(refused=404)
def may_manage_course(user: Any, course: Course) -> bool:
    """May the user edit the course, change its status, file its class plan, keep its roster? An admin of its
    base."""
    return may_manage_base(user, course.base)


def managed_courses(user: Any) -> sa.ColumnElement[bool]:
    """may_manage_course as SQL on Course."""
    return courses_managed_by(user.id)


def courses_managed_by(user_id: Any) -> sa.ColumnElement[bool]:
    """may_manage_course as SQL on Course, for the user ``user_id`` (an id, or a bind parameter of a
    statement built once)."""
    return Course.base_id.in_(sa.select(BaseMembership.base_id).where(BaseMembership.user_id == user_id))


def ensure_may_manage_base(actor: Any, base: TrainingBase) -> None:
    """may_manage_base, for a service about to act. :raise NotAllowed: the actor is not an admin of the base."""
    if not may_manage_base(actor, base):
        raise NotAllowed("您不是该基地的管理员")


@rule(refused=401)
def maker_may_act(user: Any, base: TrainingBase) -> bool:
    """May an API token made by the user still act for its base? While its maker is an active base admin
    of it (a revoked or expired token is refused anyway)."""
    return bool(user.active) and user.role == Role.BASE_ADMIN and may_manage_base(user, base)


def tokens_maker_may_act() -> sa.ColumnElement[bool]:
    """maker_may_act as SQL on ApiToken, with User joined as the token's maker."""
    return sa.and_(
        User.active.is_(True), User.role == Role.BASE_ADMIN,
        sa.exists().where(BaseMembership.base_id == ApiToken.base_id, BaseMembership.user_id == ApiToken.created_by_id),
    )


@rule(refused=404)
def token_reaches(principal: Any, course: Course) -> bool:
    """Does an API token reach the course (its roster, its completions)? Its own base's only, even when its
    maker runs another base too."""
    return course.base_id == principal.base.id


def courses_token_reaches(principal: Any) -> sa.ColumnElement[bool]:
    """token_reaches as SQL on Course."""
    return Course.base_id == principal.base.id


# --- regulators: their region and, for a province, its cities -----------------------------------------------

def region_ids(region_id: int | None) -> sa.Select:
    """A subquery of the region's id and its cities' ids."""
    return sa.select(Region.id).where(sa.or_(Region.id == region_id, Region.parent_id == region_id))


def _has_reach(user: Any) -> bool:
    return has_role(user, Role.REGULATOR) and user.region_id is not None


def regions_in_reach(user: Any) -> Sequence[Region]:
    """The regions a regulator oversees: their own and the cities below it (by level, then code). One query;
    none (and no query) for anyone else."""
    if not _has_reach(user):
        return []
    return db.session.execute(
        sa.select(Region).where(Region.id.in_(region_ids(user.region_id))).order_by(Region.level, Region.code)
    ).scalars().all()


def region_ids_in_reach(user: Any) -> sa.Select:
    """regions_in_reach as a subquery of ids, for ``column.in_(…)``."""
    return region_ids(user.region_id) if _has_reach(user) else sa.select(Region.id).where(sa.false())


@rule(refused=404)
def in_reach(user: Any, region_id: int | None) -> bool:
    """Does the region lie in the user's reach (its bases, learners, employers, evaluations, audit log)? A
    regulator's own region and, for a province's, its cities."""
    return region_id is not None and any(r.id == region_id for r in regions_in_reach(user))


@rule(refused=404)
def may_oversee_base(user: Any, base: TrainingBase) -> bool:
    """May the user see the base in the registry (and its class plans, figures, history)? A regulator with its
    region in reach."""
    return in_reach(user, base.region_id)


def bases_in_reach(user: Any) -> sa.ColumnElement[bool]:
    """may_oversee_base as SQL on TrainingBase."""
    if not _has_reach(user):
        return sa.false()
    return TrainingBase.region_id.in_(region_ids(user.region_id))


@rule(refused=404)
def may_decide_employer(user: Any, employer: Employer) -> bool:
    """May the user see an employer's registration and approve or reject it? A regulator with its region in
    reach."""
    return in_reach(user, employer.region_id)


def employers_in_reach(user: Any) -> sa.ColumnElement[bool]:
    """may_decide_employer as SQL on Employer."""
    if not _has_reach(user):
        return sa.false()
    return Employer.region_id.in_(region_ids(user.region_id))


@rule(refused=404)
def may_decide_plan(user: Any, plan: ClassPlan) -> bool:
    """May the user approve or reject the class plan? A regulator overseeing its course's base."""
    return may_oversee_base(user, plan.course.base)


@rule(refused=404)
def may_see_evaluation(user: Any, evaluation: Evaluation) -> bool:
    """May the user see, run again, override or confirm the evaluation? A regulator with its region in reach."""
    return in_reach(user, evaluation.region_id)


@rule(refused=404)
def may_follow_job(user: Any, job: JobRecord) -> bool:
    """May the user follow a background job and take its file? The one who asked for it, while signed in."""
    return bool(user.is_authenticated) and job.requested_by_id is not None and job.requested_by_id == user.id


@rule(refused=404)
def may_revoke_certificate(user: Any, certificate: Certificate) -> bool:
    """May the user revoke the certificate? A regulator with its learner's region in reach."""
    return has_role(user, Role.REGULATOR) and in_reach(user, certificate.learner.region_id)


@rule(refused=403)
def may_set_region_rules(user: Any) -> bool:
    """May the user set their region's rules and targets? A regulator of a region (for that region only)."""
    return _has_reach(user)


@rule(refused=404)
def may_oversee_sector_authority(user: Any, authority: SectorAuthority) -> bool:
    """May the user see the sector authority and add officers to it? A regulator with its region in reach."""
    return in_reach(user, authority.region_id)


def sector_authorities_in_reach(user: Any) -> sa.ColumnElement[bool]:
    """may_oversee_sector_authority as SQL on SectorAuthority."""
    return SectorAuthority.region_id.in_(region_ids_in_reach(user))


# The province-level types are the province's alone: it designates them, decides their status and sets
# their targets (a city may not lower them for the province-level bases on its territory); CITY bases'
# targets are their city's, with the province's as default.
PROVINCE_SET_TYPES = frozenset({BaseType.PROVINCIAL, BaseType.RURAL_REVITALIZATION})


def is_province_regulator(user: Any) -> bool:
    return has_role(user, Role.REGULATOR) and user.region is not None and user.region.level == RegionLevel.PROVINCE


@rule(refused=400)
def may_decide_type(user: Any, base_type: BaseType) -> bool:
    """May the user designate bases of the type, decide their status and set their targets? The one rule
    behind all three: a province-level type by a province's regulator only, a city-level one by any."""
    return base_type not in PROVINCE_SET_TYPES or is_province_regulator(user)


def region_decides_type(region: Region | None, base_type: BaseType) -> bool:
    """may_decide_type for a region's evaluation rather than for a person: a province's evaluation decides
    any type, a city's the city-level bases only. An evaluation is one row per year and region that the
    province's and the city's regulators both may run and confirm, so what it decides follows its region."""
    return base_type not in PROVINCE_SET_TYPES or (region is not None and region.level == RegionLevel.PROVINCE)


@rule(refused=400)
def may_govern(user: Any, base: TrainingBase) -> bool:
    """May the user (who oversees the base) change its status? A province-level base's status is its
    province's, as its designation was."""
    return may_decide_type(user, base.type)


@rule(refused=400)
def may_set_target(user: Any, base_type: BaseType) -> bool:
    """May the user set their region's targets of the type? A province's regulator any type (for CITY bases
    that is the province-wide default, which a city's own row overrides), a city's regulator only CITY."""
    return may_decide_type(user, base_type)


@rule(refused=400)
def may_decide_outcome(user: Any, evaluation: Evaluation, base: TrainingBase) -> bool:
    """May the user override or confirm the base's outcome in the evaluation? Where the evaluation decides
    the base (a province-level base only in its province's) and the user governs it."""
    return region_decides_type(evaluation.region, base.type) and may_govern(user, base)


@rule(refused=404)
def may_decide_application(user: Any, application: BaseApplication) -> bool:
    """May the user review and decide the base application (and open its attachments)? A regulator with its
    region in reach who decides bases of its type (may_decide_type): a province-level one, its province's."""
    return in_reach(user, application.region_id) and may_decide_type(user, application.base_type)


def decidable_applications(user: Any) -> sa.ColumnElement[bool]:
    """may_decide_application as SQL on BaseApplication."""
    if not _has_reach(user):
        return sa.false()
    in_region = BaseApplication.region_id.in_(region_ids(user.region_id))
    if is_province_regulator(user):
        return in_region
    return sa.and_(in_region, BaseApplication.base_type.not_in(list(PROVINCE_SET_TYPES)))


# --- the platform administrator ---------------------------------------------------------------------------

@rule(refused=403)
def may_keep_calendar(user: Any) -> bool:
    """May the user load the national holiday calendar? The platform administrator only."""
    return has_role(user, Role.PLATFORM_ADMIN)


@rule(refused=403)
def may_administer_platform(user: Any) -> bool:
    """May the user create regions and regulator accounts, and disable or enable a regulator? The platform
    administrator only."""
    return has_role(user, Role.PLATFORM_ADMIN)

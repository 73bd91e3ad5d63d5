"""The data model. Importing this package registers every table on db.metadata."""

from models.annual_report import STRATEGIC_FIELD_NAMES, STRATEGIC_FIELDS, AnnualReport, StrategicTraining
from models.api import ApiCompletion, ApiToken
from models.audit import AuditLog, AuditRepeat
from models.course import FIELDS, Category, Course, CourseStatus, Mode, ProjectType
from models.declaration import (
    KIND_UNITS,
    CalendarDay,
    CalendarDayKind,
    Certificate,
    CertificateStatus,
    Declaration,
    DeclarationCap,
    DeclarationKind,
    DeclarationKindRule,
    DeclarationStatus,
    Evidence,
)
from models.enrollment import Attendance, Enrollment, EnrollmentSource, EnrollmentStatus
from models.hours import HoursRecord, HoursSource, Notice, RuleSet
from models.image import Image
from models.messaging import (
    AccountCode,
    Channel,
    CodePurpose,
    JobRecord,
    JobStatus,
    NoticeKind,
    NoticePreference,
    OutboundMessage,
    OutboxStatus,
)
from models.organisation import (
    SECTORS,
    ApplicationStatus,
    BaseApplication,
    BaseApplicationEvent,
    BaseApplicationFile,
    Employer,
    EmployerStatus,
    Employment,
    EmploymentStatus,
    SectorAuthority,
    SectorGuide,
)
from models.region import Region, RegionLevel
from models.regulation import (
    BaseStatusChange,
    ClassPlan,
    Evaluation,
    EvaluationResult,
    EvaluationStatus,
    Outcome,
    PlanStatus,
    Rubric,
    Target,
)
from models.training_base import BaseMembership, BaseStatus, BaseType, TrainingBase
from models.user import PROFESSIONAL_TITLES, Role, User

__all__ = [
    "AnnualReport", "STRATEGIC_FIELDS", "STRATEGIC_FIELD_NAMES", "StrategicTraining",
    "ApiCompletion", "ApiToken",
    "FIELDS", "Attendance", "AuditLog", "AuditRepeat", "BaseMembership", "BaseStatus", "BaseType", "Category", "Course",
    "CourseStatus", "Enrollment", "EnrollmentSource", "EnrollmentStatus", "HoursRecord", "HoursSource", "Image",
    "Mode", "Notice", "Region", "RegionLevel", "Role", "RuleSet", "TrainingBase", "User", "BaseStatusChange",
    "ClassPlan", "Evaluation", "EvaluationResult", "EvaluationStatus", "Outcome", "PlanStatus", "ProjectType",
    "Rubric", "Target", "CalendarDay", "CalendarDayKind", "Certificate", "CertificateStatus", "Declaration",
    "DeclarationCap", "DeclarationKind", "DeclarationKindRule", "KIND_UNITS", "DeclarationStatus", "Employer",
    "Evidence", "SECTORS", "ApplicationStatus", "BaseApplication", "BaseApplicationEvent", "BaseApplicationFile",
    "AccountCode", "Channel", "CodePurpose", "JobRecord", "JobStatus", "NoticeKind", "NoticePreference",
    "OutboundMessage", "OutboxStatus",
    "PROFESSIONAL_TITLES", "EmployerStatus", "Employment", "EmploymentStatus", "SectorAuthority", "SectorGuide",
]
